//! The one place that builds AWS configuration and hands out clients.
//!
//! Every client shares one `SdkConfig` from the standard credential chain
//! (environment, profiles, SSO), with the endpoint override applied to all of
//! them, bounded retries with backoff, and a [`CallLog`] interceptor that
//! counts every API call, so that deploy can report them and tests can prove
//! that a no-op redeploy mutates nothing. The API Gateway client also keeps
//! API Gateway's one-writer rule ([`api_writes`]).

mod api_writes;

pub use api_writes::OneWriterPerApi as ApiWrites;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Where to send AWS calls and as whom. Empty fields fall back to the standard chain.
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Fixed credentials instead of the chain (tests against moto).
    pub credentials: Option<aws_credential_types::Credentials>,
}

/// Shared SDK configuration, plus the log of calls made through it.
#[derive(Clone, Debug)]
pub struct Aws {
    config: SdkConfig,
    endpoint_overridden: bool,
    calls: CallLog,
    /// The API Gateway client's HTTP client: one write to an API at a time.
    api_writes: api_writes::OneWriterPerApi,
}

/// Attempts per call (the first plus retries with exponential backoff).
/// API Gateway's control-plane limits throttle bursts; five attempts ride them out.
const MAX_ATTEMPTS: u32 = 5;

/// Attempts per API Gateway call: a `ConflictException` from another writer
/// (a second deploy, the console) may need a few rounds of backoff, as
/// terraform-provider-aws gives it (its default is 25 attempts).
const API_GATEWAY_MAX_ATTEMPTS: u32 = 10;

impl Aws {
    /// Loads the configuration. Needs a region from the target, the
    /// environment or the profile.
    pub async fn load(target: &AwsTarget) -> Result<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(120))
                    .build(),
            );
        if let Some(region) = &target.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &target.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &target.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = &target.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let config = loader.load().await;
        if config.region().is_none() {
            anyhow::bail!(
                "no AWS region: set `region` in stack.yaml, pass --region, or set AWS_REGION (or a region in your AWS profile)"
            );
        }
        let endpoint_overridden = config.endpoint_url().is_some();
        let api_writes = api_writes::OneWriterPerApi::new(config.http_client().unwrap_or_else(default_https_client));
        Ok(Aws { config, endpoint_overridden, calls: CallLog::default(), api_writes })
    }

    pub fn region(&self) -> &str {
        self.config.region().map(Region::as_ref).unwrap_or("us-east-1")
    }

    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The endpoint override, when there is one (moto, LocalStack).
    pub fn endpoint_url(&self) -> Option<&str> {
        self.config.endpoint_url()
    }

    /// The API Gateway client's view of its writes (when each API was last written).
    pub fn api_writes(&self) -> &ApiWrites {
        &self.api_writes
    }

    /// Every call made through this configuration's clients so far.
    pub fn calls(&self) -> &CallLog {
        &self.calls
    }

    /// The account id of the caller, from `sts:GetCallerIdentity`.
    pub async fn account_id(&self) -> Result<String> {
        Ok(self.account().await?.id)
    }

    /// The caller's account and partition (`aws`, `aws-cn`, `aws-us-gov`), from `sts:GetCallerIdentity`.
    pub async fn account(&self) -> Result<Account> {
        let who = self.sts().get_caller_identity().send().await.map_err(|err| {
            // Missing credentials and an unreachable endpoint both fail before a
            // request is answered; only the second is a network problem.
            let unreachable = match &err {
                SdkError::TimeoutError(_) => true,
                SdkError::DispatchFailure(d) => d.is_io() || d.is_timeout(),
                _ => false,
            };
            let hint = if unreachable {
                "AWS could not be reached; check the network, --region and --endpoint-url"
            } else {
                "check your AWS credentials: `aws sts get-caller-identity` should work"
            };
            anyhow::Error::new(err).context(format!("asking STS who the caller is ({hint})"))
        })?;
        let id = who.account.context("STS returned no account id")?;
        // arn:{partition}:sts::{account}:...
        let partition = who.arn.as_deref().and_then(|arn| arn.split(':').nth(1)).unwrap_or("aws").to_string();
        Ok(Account { id, partition })
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        let conf = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config).interceptor(self.calls.clone()).build();
        aws_sdk_cloudwatchlogs::Client::from_conf(conf)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::config::Builder::from(&self.config).interceptor(self.calls.clone()).build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::config::Builder::from(&self.config).interceptor(self.calls.clone()).build();
        aws_sdk_iam::Client::from_conf(conf)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.config).interceptor(self.calls.clone()).build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        let conf = aws_sdk_sqs::config::Builder::from(&self.config).interceptor(self.calls.clone()).build();
        aws_sdk_sqs::Client::from_conf(conf)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        let conf = aws_sdk_lambda::config::Builder::from(&self.config).interceptor(self.calls.clone()).build();
        aws_sdk_lambda::Client::from_conf(conf)
    }

    /// API Gateway v2, keeping its one-writer rule: writes to one API go one
    /// at a time, and a `ConflictException` is retried with backoff.
    pub fn apigatewayv2(&self) -> aws_sdk_apigatewayv2::Client {
        let conf = aws_sdk_apigatewayv2::config::Builder::from(&self.config)
            .http_client(self.api_writes.clone())
            .retry_classifier(api_writes::ConflictRetry)
            .retry_config(RetryConfig::standard().with_max_attempts(API_GATEWAY_MAX_ATTEMPTS))
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_apigatewayv2::Client::from_conf(conf)
    }

    /// The Management API of one deployed API: `https://{id}.execute-api.{region}.amazonaws.com/{stage}`.
    /// With an endpoint override, the override's root (moto 404s on a stage path).
    pub fn apigatewaymanagement(&self, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
        let endpoint = self.endpoint_url().unwrap_or(endpoint);
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(&self.config)
            .endpoint_url(endpoint)
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(conf)
    }

    /// S3, path-style when the endpoint is overridden (emulators have no
    /// wildcard DNS for virtual-hosted buckets).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.endpoint_overridden)
            .interceptor(self.calls.clone())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        let conf = aws_sdk_cloudfront::config::Builder::from(&self.config).interceptor(self.calls.clone()).build();
        aws_sdk_cloudfront::Client::from_conf(conf)
    }
}

/// The HTTPS client the SDK would pick by default (hyper 1 with rustls and
/// aws-lc, and the proxy settings of the environment), built here so that
/// the API Gateway client can wrap it.
fn default_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig, tls};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Who the calls run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub partition: String,
}

/// Turns an SDK error into one line for people: what was being done, AWS's
/// error code and message, and what to do about the common ones.
pub trait AwsContext<T> {
    fn aws_context(self, doing: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E, R> AwsContext<T> for std::result::Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn aws_context(self, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|err| {
            let detail = match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => DisplayErrorContext(&err).to_string(),
            };
            let hint = match &err {
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                    Some("AWS could not be reached; check the network, --region and --endpoint-url")
                }
                _ => err.code().and_then(hint_for_code),
            };
            match hint {
                Some(hint) => anyhow::anyhow!("{}: {detail}; {hint}", doing()),
                None => anyhow::anyhow!("{}: {detail}", doing()),
            }
        })
    }
}

/// What to do about the error codes every service shares.
fn hint_for_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
            "the caller's IAM permissions do not allow this call; grant it, or use another --profile"
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "the AWS session expired; log in again (e.g. `aws sso login`) and re-run"
        }
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch" => {
            "the AWS credentials are not valid for this account or region; check them and --region"
        }
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            "AWS throttled the calls; wait a minute and re-run (deploy converges from where it stopped)"
        }
        "LimitExceededException" | "ServiceQuotaExceededException" => {
            "an account quota was reached; raise it in Service Quotas or delete unused resources"
        }
        _ => return None,
    })
}

/// One API call, as the interceptor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The SDK's service name, e.g. `DynamoDB`, `Lambda`, `ApiGatewayV2`.
    pub service: String,
    /// The operation, e.g. `CreateTable`.
    pub operation: String,
}

impl Call {
    /// Whether the call can change something: anything but Get*, List*,
    /// Describe* and Head* (and the read-only `Query`, `Scan`, `ReceiveMessage`).
    pub fn is_mutating(&self) -> bool {
        let op = self.operation.as_str();
        !["Get", "List", "Describe", "Head"].iter().any(|p| op.starts_with(p))
            && !matches!(op, "Query" | "Scan" | "BatchGetItem" | "ReceiveMessage")
    }
}

/// Counts API calls: an SDK interceptor shared by every client of one [`Aws`].
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl CallLog {
    /// Every call so far, in the order they started.
    pub fn all(&self) -> Vec<Call> {
        self.calls.lock().expect("call log poisoned").clone()
    }

    pub fn total(&self) -> usize {
        self.calls.lock().expect("call log poisoned").len()
    }

    pub fn mutating(&self) -> Vec<Call> {
        self.all().into_iter().filter(Call::is_mutating).collect()
    }

    /// How many mutating calls of each operation were made, by operation name.
    pub fn mutating_by_operation(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for call in self.mutating() {
            *counts.entry(call.operation).or_insert(0) += 1;
        }
        counts
    }

    /// How many calls of `operation` (e.g. `PutObject`) were made.
    pub fn count(&self, operation: &str) -> usize {
        self.calls.lock().expect("call log poisoned").iter().filter(|c| c.operation == operation).count()
    }

    fn record(&self, cfg: &ConfigBag) -> Call {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        Call { service, operation }
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "wschat::CallLog"
    }

    // Not `read_before_execution`: client interceptors run that before the
    // operation's configuration (and so its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call = self.record(cfg);
        self.calls.lock().expect("call log poisoned").push(call);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: &str) -> Call {
        Call { service: "X".into(), operation: op.into() }
    }

    #[test]
    fn reads_are_not_mutating() {
        for op in ["GetFunction", "ListTags", "DescribeTable", "HeadObject", "GetCallerIdentity"] {
            assert!(!call(op).is_mutating(), "{op}");
        }
        for op in ["CreateTable", "PutObject", "DeleteRoute", "UpdateFunctionCode", "TagResource", "AddPermission"] {
            assert!(call(op).is_mutating(), "{op}");
        }
    }
}
