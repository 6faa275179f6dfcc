//! The one place that builds AWS configuration and hands out clients.
//!
//! Every client shares one `SdkConfig` from the standard credential chain
//! (environment, profiles, SSO), with the endpoint override applied to all of
//! them, bounded retries with backoff, and a [`CallLog`] interceptor that
//! counts every API call, so that deploy can report them and tests can prove
//! that a no-op redeploy mutates nothing. The API Gateway client also keeps
//! API Gateway's one-writer rule ([`api_writes`]).

mod api_writes;
mod calls;
mod tags;

pub use api_writes::OneWriterPerApi as ApiWrites;
pub use calls::{Call, CallLog};
pub use tags::{
    Tagged, acm_tags, cloudfront_tags, cloudwatch_tags, dynamodb_tags, from_cloudfront, iam_tags, retag, sns_tags,
};

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::diff::{Tags, tag_changes, tags_to_map};
use crate::progress::Task;

/// Where to send AWS calls and as whom. Empty fields fall back to the standard chain.
///
/// With the `clap` feature it is the global flags `--region`, `--profile` and
/// `--endpoint-url` (`#[command(flatten)]`), as cargo-lambda's `RemoteConfig` is.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
// Flattened into the binary's flags: its doc comment must not become `wschat --help`'s text.
#[cfg_attr(feature = "clap", command(about = None, long_about = None))]
pub struct AwsTarget {
    /// AWS region; overrides stack.yaml's `region` and the AWS config.
    #[cfg_attr(feature = "clap", arg(long, global = true, value_name = "REGION"))]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config to take credentials and region from.
    #[cfg_attr(feature = "clap", arg(long, global = true, value_name = "NAME"))]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (moto, LocalStack) instead of AWS.
    #[cfg_attr(feature = "clap", arg(long, global = true, value_name = "URL", env = "WSCHAT_ENDPOINT_URL"))]
    pub endpoint_url: Option<String>,
    /// Fixed credentials instead of the chain (tests against moto).
    #[cfg_attr(feature = "clap", arg(skip))]
    pub credentials: Option<aws_credential_types::Credentials>,
}

impl AwsTarget {
    /// Where a command for `stack` reaches AWS: these flags, with
    /// stack.yaml's `region` when `--region` is not given.
    pub fn for_stack(&self, stack: &wschat_stack::Stack) -> AwsTarget {
        AwsTarget { region: self.region.clone().or_else(|| stack.region.clone()), ..self.clone() }
    }
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

/// A client of the SDK crate `$sdk` over the one shared configuration, each
/// of its calls counted by `calls`; the `.setting(value)`s after the crate
/// are what that service needs beyond it.
macro_rules! client {
    ($aws:expr, $sdk:ident $(.$setting:ident($($value:expr),*))*) => {{
        let conf = $sdk::config::Builder::from(&$aws.config)
            $(.$setting($($value),*))*
            .interceptor($aws.calls.clone())
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

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
        client!(self, aws_sdk_cloudwatchlogs)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        client!(self, aws_sdk_sts)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        client!(self, aws_sdk_iam)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        client!(self, aws_sdk_dynamodb)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        client!(self, aws_sdk_sqs)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        client!(self, aws_sdk_lambda)
    }

    /// API Gateway v2, keeping its one-writer rule: writes to one API go one
    /// at a time, and a `ConflictException` is retried with backoff.
    pub fn apigatewayv2(&self) -> aws_sdk_apigatewayv2::Client {
        client!(
            self,
            aws_sdk_apigatewayv2
                .http_client(self.api_writes.clone())
                .retry_classifier(api_writes::ConflictRetry)
                .retry_config(RetryConfig::standard().with_max_attempts(API_GATEWAY_MAX_ATTEMPTS))
        )
    }

    /// The Management API of one deployed API: `https://{id}.execute-api.{region}.amazonaws.com/{stage}`.
    /// With an endpoint override, the override's root (moto 404s on a stage path).
    pub fn apigatewaymanagement(&self, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
        let endpoint = self.endpoint_url().unwrap_or(endpoint);
        client!(self, aws_sdk_apigatewaymanagement.endpoint_url(endpoint))
    }

    /// S3, path-style when the endpoint is overridden (emulators have no
    /// wildcard DNS for virtual-hosted buckets).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        client!(self, aws_sdk_s3.force_path_style(self.endpoint_overridden))
    }

    /// ACM in the stack's region (the API Gateway domain's certificate).
    pub fn acm(&self) -> aws_sdk_acm::Client {
        self.acm_in(self.region())
    }

    /// ACM in `region`: CloudFront takes certificates from us-east-1 only.
    pub fn acm_in(&self, region: &str) -> aws_sdk_acm::Client {
        client!(self, aws_sdk_acm.region(Region::new(region.to_string())))
    }

    /// The Resource Groups Tagging API in `region`: finds the stack's ACM
    /// certificates by their tags in one call, however many the account has.
    pub fn tagging_in(&self, region: &str) -> aws_sdk_resourcegroupstagging::Client {
        client!(self, aws_sdk_resourcegroupstagging.region(Region::new(region.to_string())))
    }

    /// Route 53 (global; the SDK signs for us-east-1).
    pub fn route53(&self) -> aws_sdk_route53::Client {
        client!(self, aws_sdk_route53)
    }

    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        client!(self, aws_sdk_cloudfront)
    }

    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        client!(self, aws_sdk_cloudwatch)
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        client!(self, aws_sdk_sns)
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

/// An AWS call that failed, for people: what was being done, AWS's error code
/// and message, and what to do about the common ones. The SDK's error stays
/// its [`source`](std::error::Error::source), for code that needs more.
#[derive(Debug)]
pub struct AwsError {
    line: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// An error as one line for people: its contexts, down to the first
/// [`AwsError`], which already says what AWS said (its source, the SDK's
/// error, would only say it again).
pub fn report(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        parts.push(cause.to_string());
        if cause.is::<AwsError>() {
            break;
        }
    }
    parts.join(": ")
}

/// Turns an SDK error into an [`AwsError`] that says what was being done.
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
            let line = match hint {
                Some(hint) => format!("{}: {detail}; {hint}", doing()),
                None => format!("{}: {detail}", doing()),
            };
            anyhow::Error::new(AwsError { line, source: Box::new(err) })
        })
    }
}

/// AWS's codes for "there is no such thing", across the services wschat uses
/// (moto's DynamoDB says `ResourceNotFound`; S3's HEAD has no body, so `NotFound`).
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NotFoundException",
    "NotFound",
    "NoSuchEntity",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchBucketPolicy",
    "NoSuchDistribution",
    "NoSuchOriginAccessControl",
    "NoSuchHostedZone",
];

/// Whether AWS answered that the thing does not exist.
pub fn is_not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code).is_some_and(|code| NOT_FOUND.contains(&code))
}

/// "Not found" on a read and "gone" on a delete, once for every call.
pub trait Missing<T, E, R> {
    /// `Ok(None)` where AWS says the thing does not exist.
    fn or_missing(self) -> std::result::Result<Option<T>, SdkError<E, R>>;
    /// `Ok(())` where the thing to delete is gone already.
    fn or_gone(self) -> std::result::Result<(), SdkError<E, R>>;
}

impl<T, E: ProvideErrorMetadata, R> Missing<T, E, R> for std::result::Result<T, SdkError<E, R>> {
    fn or_missing(self) -> std::result::Result<Option<T>, SdkError<E, R>> {
        match self {
            Ok(found) => Ok(Some(found)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn or_gone(self) -> std::result::Result<(), SdkError<E, R>> {
        self.or_missing().map(drop)
    }
}

/// What a sent call's outcome means, said where it is sent, each error
/// saying what was being done: [`done`](Sent::done) takes any error as one,
/// [`found`](Sent::found) takes "not found" as `None` (a read), and
/// [`gone`](Sent::gone) takes it as success (a delete).
pub trait Sent<T, E, R>: Future<Output = std::result::Result<T, SdkError<E, R>>> + Sized
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn done(self, doing: impl FnOnce() -> String) -> impl Future<Output = Result<T>> {
        async move { self.await.aws_context(doing) }
    }

    fn found(self, doing: impl FnOnce() -> String) -> impl Future<Output = Result<Option<T>>> {
        async move { self.await.or_missing().aws_context(doing) }
    }

    fn gone(self, doing: impl FnOnce() -> String) -> impl Future<Output = Result<()>> {
        async move { self.await.or_gone().aws_context(doing) }
    }
}

impl<F, T, E, R> Sent<T, E, R> for F
where
    F: Future<Output = std::result::Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
}

/// Keeps the SDK from retrying a 500 from a listing that some endpoints do
/// not implement (moto answers GetModels and GetRouteResponses so): there it
/// means "not implemented", and a retry only waits before the same answer.
/// Throttling is still retried. Set it on the call with
/// [`not_implemented_unretried`], and tell the answer with
/// [`is_not_implemented`] (or list with [`paginate_if_implemented`]).
#[derive(Debug)]
pub struct NotImplemented;

impl ClassifyRetry for NotImplemented {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.response() {
            Some(r) if r.status().as_u16() == 500 => RetryAction::RetryForbidden,
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "wschat::ListingNotImplemented"
    }
}

/// An API Gateway v2 listing call that some endpoints do not implement, with
/// the [`NotImplemented`] classifier set (for [`paginate_if_implemented`]).
pub fn not_implemented_unretried<T, E, B>(
    call: aws_sdk_apigatewayv2::client::customize::CustomizableOperation<T, E, B>,
) -> aws_sdk_apigatewayv2::client::customize::CustomizableOperation<T, E, B> {
    call.config_override(aws_sdk_apigatewayv2::config::Builder::default().retry_classifier(NotImplemented))
}

/// Whether a listing failed with a server error: the endpoint does not
/// implement it (see [`NotImplemented`]).
pub fn is_not_implemented<E>(err: &SdkError<E, HttpResponse>) -> bool {
    err.raw_response().is_some_and(|r| r.status().is_server_error())
}

/// Keeps one operation under a documented request rate, per region, across
/// the tasks of this process: each call waits for its turn, `1/per_second`
/// after the one before. (AWS counts per account and region, so another
/// process may still be throttled; the SDK's retries ride that out.)
pub struct Pace {
    gap: Duration,
    next: std::sync::Mutex<std::collections::BTreeMap<String, tokio::time::Instant>>,
}

impl Pace {
    pub const fn per_second(per_second: u64) -> Pace {
        Pace {
            gap: Duration::from_millis(1000 / per_second),
            next: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    /// Waits until a call in `region` keeps to the rate.
    pub async fn turn(&self, region: &str) {
        let now = tokio::time::Instant::now();
        let at = {
            let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let at = next.get(region).map_or(now, |n| (*n).max(now));
            next.insert(region.to_string(), at + self.gap);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Every item of a listing, from all its pages (an SDK paginator's
/// `.items().send()`), in order; the first error ends it.
pub async fn every<T, E>(items: PaginationStream<Result<T, E>>) -> Result<Vec<T>, E> {
    items.collect().await
}

/// Every page of a listing the SDK has no paginator for (API Gateway v2). `page` gets the next token and
/// returns one page's items and the token after it.
pub async fn paginate<T, F, Fut>(mut page: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let (items, next) = page(token).await?;
        all.extend(items);
        match next {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(all),
        }
    }
}

/// [`paginate`] for a listing some endpoints do not implement (see
/// [`NotImplemented`], which `page` sets on its call): `None` where the
/// endpoint answers that it does not implement it; `doing` says what failed.
pub async fn paginate_if_implemented<T, E, F, Fut>(doing: impl Fn() -> String, mut page: F) -> Result<Option<Vec<T>>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = std::result::Result<(Vec<T>, Option<String>), SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let implemented = std::sync::atomic::AtomicBool::new(true);
    let all = paginate(|token| {
        let sent = page(token);
        let (implemented, doing) = (&implemented, &doing);
        async move {
            match sent.await {
                Err(e) if is_not_implemented(&e) => {
                    implemented.store(false, std::sync::atomic::Ordering::Relaxed);
                    Ok((Vec::new(), None))
                }
                other => other.aws_context(doing),
            }
        }
    })
    .await?;
    Ok(implemented.into_inner().then_some(all))
}

/// Polls `check` until it returns `Some`, for at most `limit`: quickly at
/// first (emulators and fast AWS paths answer at once), then backing off to
/// a few seconds between tries. From the first miss on, `task` shows `what`.
pub async fn poll<T, F, Fut>(task: &Task, what: &str, limit: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    let mut delay = Duration::from_millis(200);
    loop {
        if let Some(done) = check().await? {
            return Ok(done);
        }
        task.waiting_unless_said(what);
        if Instant::now() + delay > deadline {
            anyhow::bail!("{what}: still not done after {} s; run the command again to continue", limit.as_secs());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(5));
    }
}

/// How long an IAM change may take to reach other services. AWS says
/// seconds; in practice 5–15 s, occasionally more.
pub const IAM_PROPAGATION_LIMIT: Duration = Duration::from_secs(120);

/// Runs `call` again while `propagating` says its error means an IAM change
/// has not reached the service yet (a new role, a new policy), backing off,
/// for at most [`IAM_PROPAGATION_LIMIT`]; `task` shows `why` meanwhile.
pub async fn retry_while_iam_propagates<T, E, F, Fut>(
    task: &Task,
    why: &str,
    call: F,
    propagating: impl Fn(&E) -> bool,
) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    retry_while(task, why, IAM_PROPAGATION_LIMIT, call, propagating).await
}

/// Runs `call` again while `passing` says its error is one that goes away
/// by itself (IAM propagation, a name AWS still holds), backing off from 1 s
/// to 8 s, for at most `limit`; `task` shows `why` meanwhile. The last
/// answer is returned as it came: the caller says what a lasting one means.
pub async fn retry_while<T, E, F, Fut>(
    task: &Task,
    why: &str,
    limit: Duration,
    mut call: F,
    passing: impl Fn(&E) -> bool,
) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        match call().await {
            Err(e) if passing(&e) && started.elapsed() < limit => {
                task.waiting(why);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            other => return other,
        }
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
        // CloudFront: another distribution, maybe of another account, has the
        // alias (CreateDistribution/UpdateDistribution errors, 409). Only its
        // owner can free the name; terraform-provider-aws does not retry it either.
        "CNAMEAlreadyExists" => {
            "another CloudFront distribution (perhaps of another account) has this alias; remove it there, or change domain.name"
        }
        "LimitExceededException" | "ServiceQuotaExceededException" => {
            "an account quota was reached; raise it in Service Quotas or delete unused resources"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
