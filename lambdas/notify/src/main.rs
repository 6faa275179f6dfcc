//! The `notify` Lambda function: consumes the notification queue and fans
//! each notice out through the Management API, sharding large ones across
//! the queue and reporting the records to deliver again
//! (`ReportBatchItemFailures`). The logic is all in chat-core.

use chat_core::config::Config;
use chat_core::event::{SqsBatchResponse, SqsEvent};
use chat_core::lambda::Adapters;
use chat_core::metrics::Metrics;
use chat_core::{Ports, handle_sqs, lambda};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda::init_logging();
    let config = Config::from_env().inspect_err(|e| tracing::error!(error = %e, "reading the configuration"))?;
    let endpoint = config
        .require_management_endpoint()
        .inspect_err(|e| tracing::error!(error = %e, "reading the configuration"))?;
    let sdk = lambda::sdk_config().await;
    // Without the queue no notice can be sharded or retried: every send fails
    // and the record goes back to SQS. The presence table gives the count and
    // the digests: a gone connection is counted out, and a digest is rendered
    // when it is delivered.
    let adapters =
        Adapters::new(&sdk, &config).inspect_err(|e| tracing::error!(error = %e, "reading the configuration"))?;
    let poster = lambda::fanout_poster(&sdk, endpoint, config.settings.post_timeout);
    let settings = &config.settings;
    let config = &config;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (adapters, poster) = (&adapters, &poster);
        async move {
            let metrics = Metrics::new();
            // The fan-out reads no history.
            let ports = Ports {
                store: adapters.store.as_ref(),
                notifier: adapters.notifier.as_ref(),
                poster,
                ledger: adapters.ledger.as_ref(),
                messages: None,
                presence: adapters.presence.as_deref(),
                metrics: Some(&metrics),
            };
            let deadline = lambda::deadline(event.context.deadline);
            let response = handle_sqs(ports, settings, &event.payload, Some(deadline)).await;
            lambda::emit_metrics(&metrics, config, "notify", &event.context.request_id);
            Ok::<SqsBatchResponse, Error>(response)
        }
    }))
    .await
}
