//! What the two Lambda binaries share (feature `lambda`): JSON logs, the SDK
//! configuration, and the adapters built from [`Config`]. The binaries
//! themselves only wire these into `lambda_runtime`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
use tracing_subscriber::EnvFilter;

use async_trait::async_trait;

use crate::aws::{DynamoLedger, DynamoMessages, DynamoPresence, DynamoStore, ManagementPoster, SqsNotifier};
use crate::config::{Config, vars};
use crate::event::RequestContext;
use crate::ports::{ConnectionStore, Ledger, MessageStore, NoLedger, Notifier, PortError, PortResult, Presence};

/// Logs as one JSON object per line on stdout, the form CloudWatch indexes.
/// The level comes from `AWS_LAMBDA_LOG_LEVEL` (Lambda's logging controls),
/// else `RUST_LOG`, else INFO.
pub fn init_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_default();
    let filter = match level.to_ascii_lowercase().as_str() {
        "" => "info".to_string(),
        // Lambda knows FATAL; tracing's most severe level is ERROR.
        "fatal" => "error".to_string(),
        other => other.to_string(),
    };
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stdout)
        .init();
}

/// The standard SDK configuration: Lambda's role credentials and region, and
/// `AWS_ENDPOINT_URL` when set.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The tables and the queue a function runs over: DynamoDB and SQS, or,
/// when `WSCHAT_DEV_PORTS` is set (by `wschat dev --processes`), dev's own
/// over HTTP ([`crate::remote`]).
pub struct Adapters {
    pub store: Box<dyn ConnectionStore>,
    /// Without `WSCHAT_QUEUE_URL`, every send fails ([`NoQueue`]).
    pub notifier: Box<dyn Notifier>,
    /// Without `WSCHAT_DELIVERIES_TABLE`, nothing is remembered ([`NoLedger`]).
    pub ledger: Box<dyn Ledger>,
    /// The messages table, or none when `WSCHAT_MESSAGES_TABLE` is unset
    /// (the history is off: nothing is stored, and `history` is refused).
    pub messages: Option<Box<dyn MessageStore>>,
    /// The presence table, or none when `WSCHAT_PRESENCE_TABLE` is unset (no
    /// count, and every join and leave announced one by one).
    pub presence: Option<Box<dyn Presence>>,
}

impl Adapters {
    pub fn new(sdk: &SdkConfig, config: &Config) -> Result<Adapters, String> {
        if let Some(remote) = crate::remote::Remote::from_env() {
            let remote = remote?;
            return Ok(Adapters {
                store: Box::new(remote.clone()),
                notifier: Box::new(remote.clone()),
                ledger: Box::new(remote.clone()),
                messages: config.messages_table.as_ref().map(|_| Box::new(remote.clone()) as Box<dyn MessageStore>),
                presence: config.presence_table.as_ref().map(|_| Box::new(remote) as Box<dyn Presence>),
            });
        }
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let notifier: Box<dyn Notifier> = match &config.queue_url {
            Some(url) => Box::new(SqsNotifier::new(aws_sdk_sqs::Client::new(sdk), url)),
            None => Box::new(NoQueue),
        };
        let ledger: Box<dyn Ledger> = match &config.deliveries_table {
            Some(table) => Box::new(DynamoLedger::new(dynamo.clone(), table)),
            None => {
                tracing::warn!("{} is not set: a redelivered notice posts again", vars::DELIVERIES_TABLE);
                Box::new(NoLedger)
            }
        };
        Ok(Adapters {
            store: Box::new(DynamoStore::new(dynamo.clone(), &config.table, &config.ttl_attribute)),
            notifier,
            ledger,
            messages: config.messages_table.as_ref().map(|t| Box::new(DynamoMessages::new(dynamo.clone(), t)) as _),
            presence: config.presence_table.as_ref().map(|t| Box::new(DynamoPresence::new(dynamo, t)) as _),
        })
    }
}

/// Writes what an invocation counted as one embedded-metric-format line on
/// stdout, the function's log, where CloudWatch Logs extracts the metrics
/// (no AWS call; [`crate::metrics`]). `function` is the function's role;
/// `request_id` the invocation's, which the document carries.
pub fn emit_metrics(metrics: &crate::metrics::Metrics, config: &Config, function: &str, request_id: &str) {
    let now = crate::now_millis();
    if let Some(document) = metrics.take_emf_of(&config.metrics_namespace, function, now, Some(request_id)) {
        println!("{document}");
    }
}

/// The invocation's deadline, which Lambda's context gives in epoch
/// milliseconds, on tokio's clock.
pub fn deadline(epoch_millis: u64) -> tokio::time::Instant {
    let left = epoch_millis.saturating_sub(crate::now_millis().max(0) as u64);
    tokio::time::Instant::now() + std::time::Duration::from_millis(left)
}

/// The notifier of a function that has no queue configured: every send fails.
pub struct NoQueue;

#[async_trait]
impl Notifier for NoQueue {
    async fn send(&self, _body: String, _delay_seconds: u32) -> PortResult<()> {
        Err(PortError::Failed(format!("no notification queue: {} is not set", vars::QUEUE_URL)))
    }
}

/// A Management API poster for one endpoint, with the SDK's retries (those
/// of `sdk`: the standard three attempts unless configured otherwise). The
/// endpoint replaces `AWS_ENDPOINT_URL` for this client: the Management API
/// lives on the stage's own URL. Each post, retries included, ends within
/// `timeout`.
pub fn management_poster(sdk: &SdkConfig, endpoint: &str, timeout: std::time::Duration) -> ManagementPoster {
    poster(aws_sdk_apigatewaymanagement::config::Builder::from(sdk), endpoint, timeout)
}

/// The fan-out's poster: [`management_poster`] with one attempt a post, so
/// that every try is the fan-out's own, paced and counted (its tries in
/// place, then the queue).
///
/// The SDK's standard retries suit a single call and hurt a paced fan-out.
/// Without `AWS_NEW_RETRIES_2026` (aws-config 1.13,
/// `default_provider/retry_config.rs`), a 5xx is retried after a jittered
/// `random(0..1) * 1 s * 2^(attempt - 1)`, up to 3 attempts
/// (`RetryConfig::standard` in aws-smithy-types 1.9, `retry.rs`;
/// `calculate_backoff` in aws-smithy-runtime 1.16,
/// `client/retries/strategy/standard.rs`), so one post that fails twice holds
/// its slot for up to 3 s, beyond `post_timeout`; the retries bypass the
/// fan-out's pace, so a burst of failures pushes the account over its
/// throttle; and they draw on a retry quota of 500 tokens, 10 a retry of a
/// transient error (`TokenBucket::default`, aws-smithy-runtime's
/// `client/retries/token_bucket.rs`) shared by the process's clients of the
/// service, which 50 retries empty, after which a post fails at its first
/// error. (The cross-SDK "retries 2026" change lowers the base to 50 ms; see
/// aws-sdk-go-v2#3400.)
pub fn fanout_poster(sdk: &SdkConfig, endpoint: &str, timeout: std::time::Duration) -> ManagementPoster {
    let once = aws_config::retry::RetryConfig::standard().with_max_attempts(1);
    poster(aws_sdk_apigatewaymanagement::config::Builder::from(sdk).retry_config(once), endpoint, timeout)
}

fn poster(
    builder: aws_sdk_apigatewaymanagement::config::Builder,
    endpoint: &str,
    timeout: std::time::Duration,
) -> ManagementPoster {
    let timeouts = aws_config::timeout::TimeoutConfig::builder().operation_timeout(timeout).build();
    let conf = builder.endpoint_url(endpoint).timeout_config(timeouts).build();
    ManagementPoster::new(aws_sdk_apigatewaymanagement::Client::from_conf(conf))
}

/// Posters by endpoint, built once per endpoint and kept across invocations
/// (one API can be reached through several domain names).
pub struct Posters {
    sdk: SdkConfig,
    config: Config,
    built: Mutex<HashMap<String, Arc<ManagementPoster>>>,
}

impl Posters {
    pub fn new(sdk: SdkConfig, config: Config) -> Posters {
        Posters { sdk, config, built: Mutex::default() }
    }

    /// The poster for the API an event came from.
    pub fn for_event(&self, context: &RequestContext) -> Arc<ManagementPoster> {
        let endpoint = self.config.management_endpoint_for(&context.domain_name, &context.stage);
        let mut built = self.built.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let timeout = self.config.settings.post_timeout;
        built.entry(endpoint).or_insert_with_key(|e| Arc::new(management_poster(&self.sdk, e, timeout))).clone()
    }
}
