//! The handlers: one WebSocket event, or one batch of queued notifications.

use crate::event::{SqsBatchResponse, SqsEvent, WebSocketEvent, WebSocketResponse};
use crate::ports::{ConnectionStore, Notifier, Poster};

/// Settings from stack.yaml (through environment variables on Lambda).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Posts in flight at once during a fan-out.
    pub fanout_concurrency: usize,
    /// Seconds before the welcome and the join notice are delivered.
    pub welcome_delay: u32,
}

/// The ports one invocation works through.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub store: &'a dyn ConnectionStore,
    pub notifier: &'a dyn Notifier,
    pub poster: &'a dyn Poster,
}

/// Handles one WebSocket event: `$connect`, `$disconnect`, an action or `$default`.
pub async fn handle_websocket(_ports: Ports<'_>, _settings: &Settings, _event: &WebSocketEvent) -> WebSocketResponse {
    todo!("issue 3: the handlers")
}

/// Handles one batch from the notification queue: fans each message out and
/// reports the messages to retry.
pub async fn handle_sqs(_ports: Ports<'_>, _settings: &Settings, _event: &SqsEvent) -> SqsBatchResponse {
    todo!("issue 3: the fan-out")
}
