//! The `chat` Lambda function: every WebSocket route of the API (`$connect`,
//! `$disconnect`, `$default` and each action of the protocol). The logic is
//! all in chat-core; this only builds the adapters once per cold start (the
//! messages table's only while `WSCHAT_MESSAGES_TABLE` is set, the presence
//! table's while `WSCHAT_PRESENCE_TABLE` is) and
//! hands each event to [`chat_core::handle_websocket`].

use chat_core::config::Config;
use chat_core::event::{WebSocketEvent, WebSocketResponse};
use chat_core::lambda::Adapters;
use chat_core::metrics::Metrics;
use chat_core::{Ports, handle_websocket, lambda};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda::init_logging();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "reading the configuration"))?;
    config.require_queue_url().inspect_err(|e| tracing::error!(error = %e, "reading the configuration"))?;
    let sdk = lambda::sdk_config().await;
    let adapters =
        Adapters::new(&sdk, &config).inspect_err(|e| tracing::error!(error = %e, "reading the configuration"))?;
    let posters = lambda::Posters::new(sdk, config.clone());
    let settings = &config.settings;
    let config = &config;
    lambda_runtime::run(service_fn(|event: LambdaEvent<WebSocketEvent>| {
        let (adapters, posters) = (&adapters, &posters);
        async move {
            let poster = posters.for_event(&event.payload.request_context);
            let metrics = Metrics::new();
            // The chat records no deliveries: the ledger is the fan-out's.
            let ports = Ports {
                messages: adapters.messages.as_deref(),
                presence: adapters.presence.as_deref(),
                metrics: Some(&metrics),
                ..Ports::new(adapters.store.as_ref(), adapters.notifier.as_ref(), poster.as_ref())
            };
            let response = handle_websocket(ports, settings, &event.payload).await;
            lambda::emit_metrics(&metrics, config, "chat", &event.context.request_id);
            Ok::<WebSocketResponse, Error>(response)
        }
    }))
    .await
}
