//! The WebSocket endpoint, with API Gateway's semantics:
//!
//! - with sign-in, the REQUEST authorizer runs first, as API Gateway runs it
//!   with identity source `route.request.querystring.token`: no token, or a
//!   token it refuses, is 401 at the upgrade, and `$connect` never runs;
//! - `$connect` runs before the upgrade, with the query string and headers
//!   (and the authorizer's context); a status outside 2xx refuses the upgrade
//!   with that status, and the `Sec-WebSocket-Protocol` it answers is the
//!   handshake's subprotocol;
//! - each frame is routed by the stack's route selection expression
//!   (`$request.body.action`), falling back to `$default` for frames that are
//!   not JSON, binary, or name no route;
//! - each route key (`$connect` too) has a token bucket of its own, at the
//!   route's `throttle` or else the stage's default (`api.throttle`), shared
//!   by every connection: a `$connect` over its bucket is 429 at the
//!   upgrade, a frame over its route's bucket gets API Gateway's `Too Many
//!   Requests` frame instead of the handler, and the connection stays open;
//! - a frame that does not match its route's model (the route's JSON schema)
//!   gets API Gateway's `Invalid request body` frame instead of the handler;
//! - a frame on a mock route (`{ mock: '<body>' }`) is answered with the body
//!   by the gateway itself, as API Gateway answers it through the route's
//!   MOCK integration, its `$default` integration response and route
//!   response: no handler runs (its route's throttle still counts it);
//! - a handler that runs past the integration timeout (29 s) is answered for:
//!   `$connect` with 504 at the upgrade, a frame with API Gateway's
//!   `Endpoint request timed out` frame; its late result is dropped;
//! - `$disconnect` runs once the connection is closed, by either side, with
//!   the close code and reason;
//! - frames past 32 KiB and messages past 128 KiB close the connection with
//!   1009; connections close (1001) after the idle timeout and the maximum
//!   lifetime.
//!
//! The route handlers run in-process: every event is the JSON API Gateway
//! would send to the Lambda, read by chat-core's own `handle_websocket`.

mod authorizer;
mod connections;
mod events;
mod responses;
mod routes;
mod session;
mod throttle;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chat_core::auth::Verifier;
use chat_core::event::{SqsBatchResponse, SqsEvent, WebSocketEvent, WebSocketResponse};
use chat_core::metrics::Metrics;
use chat_core::ports::{ConnectionStore, MessageStore, Notifier, Presence};
use chat_core::{Ports, Settings};
use serde_json::Value;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::queue::QueueSettings;
use connections::{Connections, Tracker};
use events::{ACCOUNT_ID, API_ID, without_token};
use routes::Routes;
use wschat_stack::Stack;

pub use authorizer::Keys;
pub(crate) use connections::Undelivered;
pub use session::upgrade;
pub use throttle::Throttles;

/// API Gateway's largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// API Gateway's largest message (frames of one fragmented message together),
/// and its largest PostToConnection payload.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// API Gateway's connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Closes a connection that sent no frame for this long (API Gateway: 10 minutes).
    pub idle: Duration,
    /// Closes every connection this long after it opened (API Gateway: 2 hours).
    pub lifetime: Duration,
    /// How long a route's handler may run before API Gateway answers for it
    /// (29 s, API Gateway's fixed maximum for WebSocket integrations).
    pub integration: Duration,
}

/// What a [`Gateway`] is built from.
pub struct Setup<'a> {
    pub stack: &'a Stack,
    /// `host:port`, the events' `domainName`.
    pub domain: String,
    /// The region of the authorizer's `methodArn`.
    pub region: String,
    /// With sign-in: the authorizer's verifier.
    pub sign_in: Option<Verifier<Keys>>,
    pub limits: Limits,
    /// The routes' throttles; `None` lets every request through.
    pub throttles: Option<Throttles>,
    pub store: Arc<dyn ConnectionStore>,
    pub notifier: Arc<dyn Notifier>,
    /// The history; `None` with `chat.history: false`.
    pub messages: Option<Arc<dyn MessageStore>>,
    /// The count online and the presence digests.
    pub presence: Arc<dyn Presence>,
    /// With `--metrics`: the namespace of the metrics each handler call prints.
    pub metrics: Option<String>,
    /// Becomes `true` when the server shuts down: every connection closes.
    pub shutdown: watch::Receiver<bool>,
    /// The functions that run as processes (crates other than the shipped ones).
    pub functions: Arc<crate::functions::Functions>,
}

/// The local API Gateway: the stack's routes, the open connections and the
/// ports the handlers run over.
pub struct Gateway {
    stage: String,
    domain: String,
    /// `$connect`'s ARN, as the authorizer gets it.
    method_arn: String,
    sign_in: Option<Verifier<Keys>>,
    routes: Routes,
    limits: Limits,
    throttles: Option<Throttles>,
    settings: Settings,
    store: Arc<dyn ConnectionStore>,
    notifier: Arc<dyn Notifier>,
    messages: Option<Arc<dyn MessageStore>>,
    presence: Arc<dyn Presence>,
    metrics: Option<String>,
    /// The delivery ledger is in memory even with `--aws-store`: it only has
    /// to outlive redeliveries, which `dev` makes itself.
    ledger: chat_core::memory::MemoryLedger,
    pub(super) connections: Connections,
    shutdown: watch::Receiver<bool>,
    tracker: Tracker,
    functions: Arc<crate::functions::Functions>,
    /// Route key -> the function of its integration.
    route_functions: std::collections::BTreeMap<String, String>,
    /// The queue's consumer.
    consumer: Option<String>,
}

impl Gateway {
    /// A gateway for the stack's stage and routes, with no connection yet.
    pub fn new(setup: Setup<'_>) -> Result<Gateway> {
        let stack = setup.stack;
        let history = stack.chat.history.unwrap_or_default();
        let paced = setup.throttles.is_some();
        Ok(Gateway {
            stage: stack.api_stage().to_string(),
            domain: setup.domain,
            method_arn: format!(
                "arn:aws:execute-api:{}:{ACCOUNT_ID}:{API_ID}/{}/$connect",
                setup.region,
                stack.api_stage()
            ),
            sign_in: setup.sign_in,
            routes: Routes::new(stack)?,
            limits: setup.limits,
            throttles: setup.throttles,
            settings: Settings {
                fanout_concurrency: stack.chat.fanout_concurrency.max(1) as usize,
                welcome_delay: stack.chat.welcome_delay.max(0) as u32,
                shard_size: stack.chat.shard_size.max(1) as usize,
                // The fan-out paces itself under the account's Management API
                // throttle, which dev has not: --no-throttle (no `throttles`)
                // lifts that pace too.
                post_rate: if paced {
                    stack.post_rate("local").max(1) as u32
                } else {
                    chat_core::config::MAX_POST_RATE
                },
                max_concurrency: stack.chat.max_concurrency.max(1) as u32,
                batch_size: QueueSettings::consumer_batch(stack) as u32,
                // Without a history (no `messages` port) these go unused.
                history_messages: history.messages.max(1) as usize,
                history_days: history.days.max(1) as u32,
                presence: stack.chat.presence.max(0) as u32,
                limits: stack.chat.limits(),
                ..Settings::default()
            },
            store: setup.store,
            notifier: setup.notifier,
            messages: setup.messages,
            presence: setup.presence,
            metrics: setup.metrics,
            ledger: chat_core::memory::MemoryLedger::new(),
            connections: Connections::default(),
            shutdown: setup.shutdown,
            tracker: Tracker::new(),
            functions: setup.functions,
            route_functions: stack
                .api
                .routes
                .iter()
                .filter_map(|(key, route)| Some((key.clone(), route.function()?.to_string())))
                .collect(),
            consumer: stack.functions.iter().find(|(_, f)| f.queue.is_some()).map(|(name, _)| name.clone()),
        })
    }

    fn ports<'a>(&'a self, metrics: &'a Metrics) -> Ports<'a> {
        Ports {
            store: self.store.as_ref(),
            notifier: self.notifier.as_ref(),
            poster: &self.connections,
            ledger: &self.ledger,
            messages: self.messages.as_deref(),
            presence: Some(self.presence.as_ref()),
            metrics: self.metrics.as_ref().map(|_| metrics),
        }
    }

    /// With `--metrics`, prints what one handler call counted on stderr, as
    /// the function would on its log (`chat_core::metrics`).
    fn print_metrics(&self, metrics: &Metrics, function: &str) {
        if let Some(namespace) = &self.metrics
            && let Some(document) = metrics.take_emf(namespace, function, chat_core::now_millis())
        {
            eprintln!("{document}");
        }
    }

    /// Answers one call of a process to dev's tables and queue ([`crate::ports`]).
    pub async fn serve_port(&self, call: chat_core::remote::Call) -> chat_core::remote::Reply {
        let metrics = Metrics::new();
        chat_core::remote::serve(&self.ports(&metrics), call).await
    }

    /// How many connections are open now.
    pub fn open_connections(&self) -> usize {
        self.connections.len()
    }

    /// Resolves once every connection has closed and run its `$disconnect`.
    /// New connections are refused from the first call on.
    pub async fn closed(&self) {
        self.tracker.wait().await
    }

    /// Runs the route handler on one event, as the Lambda integration would,
    /// for at most the integration timeout. A handler that panics is a failed
    /// invocation; one that runs past the timeout keeps running, as a Lambda
    /// function does after API Gateway stopped waiting, and its result is
    /// logged and dropped.
    async fn invoke(self: &Arc<Self>, event: Value) -> Result<WebSocketResponse, Unanswered> {
        debug!("event {}", without_token(&event));
        let route = event["requestContext"]["routeKey"].as_str().unwrap_or_default();
        if let Some(function) = self.route_functions.get(route).and_then(|f| self.functions.get(f)).cloned() {
            return self.invoke_process(&function, event).await;
        }
        let parsed: WebSocketEvent = match serde_json::from_value(event) {
            Ok(parsed) => parsed,
            Err(e) => {
                error!("building a WebSocket event: {e}");
                return Err(Unanswered::Failed);
            }
        };
        let what = format!("{} {}", parsed.request_context.route_key, parsed.request_context.connection_id);
        let gateway = self.clone();
        let mut run = tokio::spawn(async move {
            let metrics = Metrics::new();
            let response = chat_core::handle_websocket(gateway.ports(&metrics), &gateway.settings, &parsed).await;
            gateway.print_metrics(&metrics, "chat");
            response
        });
        let response = match tokio::time::timeout(self.limits.integration, &mut run).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                error!("the route handler of {what} failed: {e}");
                return Err(Unanswered::Failed);
            }
            Err(_) => {
                let limit = self.limits.integration;
                warn!("the route handler of {what} ran past the integration timeout ({limit:?})");
                tokio::spawn(async move {
                    match run.await {
                        Ok(late) => {
                            info!("late       {what} -> {} dropped: API Gateway stopped waiting", late.status_code)
                        }
                        Err(e) => error!("the route handler of {what} failed after the timeout: {e}"),
                    }
                });
                return Err(Unanswered::TimedOut);
            }
        };
        debug!("response {}", serde_json::to_string(&response).unwrap_or_default());
        Ok(response)
    }

    /// Runs a route's function that is a process on one event, as the
    /// Lambda integration would, for at most the integration timeout: an
    /// error, or a process that exits, is a failed invocation.
    async fn invoke_process(
        self: &Arc<Self>,
        function: &Arc<crate::functions::Function>,
        event: Value,
    ) -> Result<WebSocketResponse, Unanswered> {
        let call = function.invoke(event.to_string());
        match tokio::time::timeout(self.limits.integration, call).await {
            Ok(crate::functions::runtime::Answer::Response(body)) => {
                // A proxy integration's answer; anything else is a 200 with that body.
                Ok(serde_json::from_str(&body).unwrap_or(WebSocketResponse {
                    status_code: 200,
                    headers: None,
                    body: Some(body),
                }))
            }
            Ok(crate::functions::runtime::Answer::Error(error)) => {
                error!("function `{}` failed: {error}", function.name);
                Err(Unanswered::Failed)
            }
            Err(_) => {
                warn!("function `{}` ran past the integration timeout ({:?})", function.name, self.limits.integration);
                Err(Unanswered::TimedOut)
            }
        }
    }

    /// Runs the notify handler on one batch of queue messages.
    pub async fn notify(self: &Arc<Self>, event: SqsEvent) -> SqsBatchResponse {
        debug!("event {}", serde_json::to_string(&event).unwrap_or_default());
        let gateway = self.clone();
        let ids: Vec<String> = event.records.iter().map(|r| r.message_id.clone()).collect();
        let failed = |ids: Vec<String>| SqsBatchResponse {
            batch_item_failures: ids
                .into_iter()
                .map(|item_identifier| chat_core::event::BatchItemFailure { item_identifier })
                .collect(),
        };
        if let Some(function) = self.consumer.as_ref().and_then(|f| self.functions.get(f)).cloned() {
            let body = serde_json::to_string(&event).unwrap_or_default();
            return match function.invoke(body).await {
                crate::functions::runtime::Answer::Response(body) => {
                    serde_json::from_str(&body).unwrap_or(SqsBatchResponse { batch_item_failures: Vec::new() })
                }
                crate::functions::runtime::Answer::Error(error) => {
                    error!("function `{}` failed: {error}", function.name);
                    failed(ids)
                }
            };
        }
        let run = tokio::spawn(async move {
            let metrics = Metrics::new();
            let response = chat_core::handle_sqs(gateway.ports(&metrics), &gateway.settings, &event, None).await;
            gateway.print_metrics(&metrics, "notify");
            response
        });
        match run.await {
            Ok(response) => response,
            Err(e) => {
                error!("the notify handler failed: {e}");
                failed(ids)
            }
        }
    }
}

/// Why an integration gave API Gateway no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unanswered {
    /// The handler failed (a Lambda error).
    Failed,
    /// The handler ran past [`Limits::integration`].
    TimedOut,
}
