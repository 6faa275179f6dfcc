//! API Gateway's one-writer rule, answered where every call passes: the HTTP
//! client of the API Gateway v2 SDK client.
//!
//! API Gateway refuses a write to an API while another write to that API is
//! in flight, with 409 `ConflictException`: "Unable to complete operation due
//! to concurrent modification. Please try again later." The SDK's standard
//! retry does not retry it (it retries the throttling codes and 500, 502, 503
//! and 504 only). terraform-provider-aws retries it on every apigatewayv2
//! call (`internal/service/apigatewayv2/service_package.go`; PR #29735,
//! issues #37897 and #40575 are deploys that failed on it).
//!
//! So wschat does both: [`OneWriterPerApi`] sends writes to one API one at a
//! time (reads and other APIs' writes still run at once), which keeps its own
//! deploy clear of the rule; and [`ConflictRetry`] retries a 409 with the
//! SDK's backoff, for writers wschat does not control (a second deploy, the
//! console).
//!
//! The client also remembers when API Gateway took the last write to each
//! API, by API Gateway's own clock (the reply's `Date`), so that deploy can
//! tell a stage deployment made after it from an older one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::retry::ErrorKind;

/// The id of the API a request writes to: any method but GET on
/// `/v2/apis/{id}/...`, and tagging `arn:...:/apis/{id}[/stages/...]`.
/// `CreateApi` writes to no existing API.
pub fn written_api(method: &str, path: &str) -> Option<String> {
    if method == "GET" || method == "HEAD" {
        return None;
    }
    let path = path.split('?').next().unwrap_or(path);
    if let Some(rest) = path.strip_prefix("/v2/apis/") {
        return rest.split('/').next().filter(|id| !id.is_empty()).map(str::to_string);
    }
    let arn = path.strip_prefix("/v2/tags/")?;
    let arn = percent_encoding::percent_decode_str(arn).decode_utf8_lossy();
    arn.split("/apis/").nth(1).and_then(|rest| rest.split('/').next()).map(str::to_string)
}

type Locks = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;
type Written = Arc<Mutex<HashMap<String, SystemTime>>>;

/// Whether a write changes what a deployment of the API holds (its routes,
/// integrations, models, authorizers or settings), or makes a stage that
/// AutoDeploy then deploys; tags and stage settings are not deployed.
fn deploys(method: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let Some(rest) = path.strip_prefix("/v2/apis/") else { return false };
    let mut parts = rest.split('/').skip(1);
    match parts.next() {
        None | Some("") => method == "PATCH",
        Some("stages") => method == "POST",
        Some("deployments") => false,
        Some(_) => true,
    }
}

/// An HTTP client that holds each API's writes to one in flight.
#[derive(Debug, Clone)]
pub struct OneWriterPerApi {
    inner: SharedHttpClient,
    locks: Locks,
    written: Written,
}

impl OneWriterPerApi {
    pub fn new(inner: SharedHttpClient) -> OneWriterPerApi {
        OneWriterPerApi { inner, locks: Arc::default(), written: Arc::default() }
    }

    /// When API Gateway took this client's last successful write to what
    /// `api` deploys (routes, integrations, models, a new stage), by its clock
    /// (whole seconds), if there was one.
    pub fn last_write(&self, api: &str) -> Option<SystemTime> {
        self.written.lock().expect("API write times poisoned").get(api).copied()
    }
}

impl HttpClient for OneWriterPerApi {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            inner: self.inner.http_connector(settings, components),
            locks: self.locks.clone(),
            written: self.written.clone(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    inner: SharedHttpConnector,
    locks: Locks,
    written: Written,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let uri = request.uri().to_string();
        let path = uri.find("://").map_or(uri.as_str(), |i| {
            let rest = &uri[i + 3..];
            rest.find('/').map_or("/", |p| &rest[p..])
        });
        let Some(api) = written_api(request.method(), path) else { return self.inner.call(request) };
        let deploys = deploys(request.method(), path);
        let lock = self.locks.lock().expect("API write locks poisoned").entry(api.clone()).or_default().clone();
        let (inner, written) = (self.inner.clone(), self.written.clone());
        HttpConnectorFuture::new(async move {
            let _writing = lock.lock_owned().await;
            let response = inner.call(request).await?;
            let date = response.headers().get("date").and_then(|d| {
                let at = aws_smithy_types::DateTime::from_str(d, aws_smithy_types::date_time::Format::HttpDate).ok()?;
                SystemTime::try_from(at).ok()
            });
            if let Some(date) = date.filter(|_| deploys && response.status().is_success()) {
                let mut written = written.lock().expect("API write times poisoned");
                let last = written.entry(api).or_insert(date);
                *last = (*last).max(date);
            }
            Ok(response)
        })
    }
}

/// Retries API Gateway's 409 `ConflictException` as the SDK retries throttling:
/// with backoff, within the client's attempts.
#[derive(Debug, Default)]
pub struct ConflictRetry;

impl ClassifyRetry for ConflictRetry {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else { return RetryAction::NoActionIndicated };
        // restJson1 names the error in `x-amzn-ErrorType` (`ConflictException`
        // or `ConflictException:http://internal.amazon.com/...`), or only in
        // the body; 409 ConflictException also means "already exists" for
        // some calls, so the message decides, as in terraform-provider-aws
        // (PR #40840 matches it on the message alone).
        let message = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        let typed = response.headers().get("x-amzn-errortype").is_some_and(|t| t.starts_with("ConflictException"));
        let conflict = response.status().as_u16() == 409
            && (message.contains("concurrent modification")
                || message.contains("try again later")
                || (message.is_empty() && typed));
        if conflict { RetryAction::retryable_error(ErrorKind::ThrottlingError) } else { RetryAction::NoActionIndicated }
    }

    fn name(&self) -> &'static str {
        "wschat::ConflictRetry"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_name_their_api_and_reads_do_not() {
        assert_eq!(written_api("POST", "/v2/apis/abc123/routes").as_deref(), Some("abc123"));
        assert_eq!(written_api("PATCH", "/v2/apis/abc123/stages/dev").as_deref(), Some("abc123"));
        assert_eq!(written_api("DELETE", "/v2/apis/abc123").as_deref(), Some("abc123"));
        assert_eq!(written_api("GET", "/v2/apis/abc123/routes"), None);
        assert_eq!(written_api("POST", "/v2/apis"), None);
        // A mock route's parts are writes to its API like any other.
        assert_eq!(written_api("POST", "/v2/apis/abc123/routes/r1/routeresponses").as_deref(), Some("abc123"));
        let response = "/v2/apis/abc123/integrations/i1/integrationresponses/ir1";
        assert_eq!(written_api("PATCH", response).as_deref(), Some("abc123"));
        assert_eq!(written_api("GET", "/v2/apis/abc123/routes/r1/routeresponses"), None);
        let tag = "/v2/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Fapis%2Fabc123%2Fstages%2Fdev";
        assert_eq!(written_api("POST", tag).as_deref(), Some("abc123"));
    }

    #[test]
    fn only_changes_to_what_a_deployment_holds_need_a_deployment() {
        assert!(deploys("POST", "/v2/apis/abc/routes"));
        assert!(deploys("DELETE", "/v2/apis/abc/integrations/i1"));
        assert!(deploys("POST", "/v2/apis/abc/integrations/i1/integrationresponses"));
        assert!(deploys("DELETE", "/v2/apis/abc/routes/r1/routeresponses/rr1"));
        assert!(deploys("PATCH", "/v2/apis/abc"));
        assert!(deploys("POST", "/v2/apis/abc/stages"));
        assert!(!deploys("PATCH", "/v2/apis/abc/stages/dev"));
        assert!(!deploys("DELETE", "/v2/apis/abc"));
        assert!(!deploys("POST", "/v2/tags/arn%3Aaws%3Aapigateway%3Aus-east-1%3A%3A%2Fapis%2Fabc"));
    }
}
