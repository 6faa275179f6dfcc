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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use async_trait::async_trait;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chat_core::auth::{FixedKeys, KeySource, Verifier};
use chat_core::event::{
    AuthorizerEvent, PolicyDocument, SqsBatchResponse, SqsEvent, WebSocketEvent, WebSocketResponse,
};
use chat_core::oidc::OidcKeys;
use chat_core::ports::{ConnectionStore, MessageStore, Notifier, PortError, PortResult, Poster, Presence};
use chat_core::{Ports, Settings, now_millis};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tracing::{debug, error, info, warn};

use super::models::{self, Model};
use super::new_id;
use super::queue::QueueSettings;
use wschat_stack::Stack;

/// API Gateway's largest frame a client may send.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// API Gateway's largest message (frames of one fragmented message together),
/// and its largest PostToConnection payload.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
/// Each socket's read and write buffer. Small buffers keep an idle
/// connection cheap: 1,000 connections take about 34 MiB with 8 KiB, 154 MiB
/// with tungstenite's default 128 KiB.
const BUFFER_BYTES: usize = 8 * 1024;
/// Frames that may wait for one client; past that, posts are refused (429),
/// as API Gateway refuses them when a client's buffer is full.
const OUTGOING_FRAMES: usize = 1024;
/// How long a closing socket waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

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

/// The stage's route throttling: a token bucket per route key, shared by
/// every connection of the stage, at the route's own `throttle` (the stage's
/// `RouteSettings`) or else `api.throttle` (its `DefaultRouteSettings`).
///
/// "API Gateway throttles requests to your API using the token bucket
/// algorithm, where a token counts for a request" (API Gateway developer
/// guide, "Protect your WebSocket APIs in API Gateway"), and route-level
/// throttling sets limits "for a specific stage or for individual routes"
/// (same page). The stage's default is not one bucket for the stage: "Per-API,
/// per-stage throttling limits are applied at the API method level for a
/// stage" (developer guide, "Throttle requests to your REST APIs", "How
/// throttling limit settings are applied"): each route has its own bucket
/// at the default limits, so a flood on `typing` throttles `typing` alone.
/// `$connect` is one of the requests: a stage whose throttling is 0 refuses
/// every connection with 429 (hashicorp/terraform-provider-aws#14742, a
/// WebSocket stage; terraform-aws-modules/terraform-aws-apigateway-v2#8).
/// `$disconnect` is not counted: nothing can refuse a closed connection.
#[derive(Debug)]
pub struct Throttles {
    buckets: HashMap<String, Throttle>,
}

impl Throttles {
    /// A full bucket for `$connect` and for each route of the stack but `$disconnect`.
    pub fn new(api: &wschat_stack::Api) -> Throttles {
        let keys = api.routes.keys().map(String::as_str).chain(["$connect"]).filter(|key| *key != "$disconnect");
        let buckets = keys
            .map(|key| {
                let throttle = api.throttle_of(key);
                (key.to_string(), Throttle::new(throttle.rate, throttle.burst))
            })
            .collect();
        Throttles { buckets }
    }

    /// Takes a token of route `key`'s bucket for a request arriving now;
    /// `false` when it is throttled.
    fn admit(&self, key: &str) -> bool {
        self.buckets.get(key).is_none_or(Throttle::admit)
    }
}

/// One route's token bucket: `burst` tokens, refilled at `rate` tokens a
/// second, one token a request.
#[derive(Debug)]
pub struct Throttle {
    rate: f64,
    burst: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Throttle {
    /// A full bucket.
    pub fn new(rate: f64, burst: i32) -> Throttle {
        let burst = f64::from(burst.max(0));
        Throttle { rate: rate.max(0.0), burst, bucket: Mutex::new(Bucket { tokens: burst, at: Instant::now() }) }
    }

    /// Takes a token for a request arriving now; `false` when it is throttled.
    fn admit(&self) -> bool {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now.max(bucket.at);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Where sign-in's keys come from: the local issuer of `--issuer local`, or
/// the stack's issuer over HTTPS, as the authorizer function reads them.
pub enum Keys {
    Local(FixedKeys),
    Issuer(Box<OidcKeys>),
}

#[async_trait]
impl KeySource for Keys {
    async fn fetch(&self) -> Result<JwkSet, String> {
        match self {
            Keys::Local(keys) => keys.fetch().await,
            Keys::Issuer(keys) => keys.fetch().await,
        }
    }
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
    /// Becomes `true` when the server shuts down: every connection closes.
    pub shutdown: watch::Receiver<bool>,
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
    /// The delivery ledger is in memory even with `--aws-store`: it only has
    /// to outlive redeliveries, which `dev` makes itself.
    ledger: chat_core::memory::MemoryLedger,
    pub(super) connections: Connections,
    shutdown: watch::Receiver<bool>,
    tracker: Tracker,
}

impl Gateway {
    /// A gateway for the stack's stage and routes, with no connection yet.
    pub fn new(setup: Setup<'_>) -> Result<Gateway> {
        let stack = setup.stack;
        let history = stack.chat.history.unwrap_or_default();
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
                post_rate: stack.post_rate("local").max(1) as u32,
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
            ledger: chat_core::memory::MemoryLedger::new(),
            connections: Connections::default(),
            shutdown: setup.shutdown,
            tracker: Tracker::new(),
        })
    }

    fn ports(&self) -> Ports<'_> {
        Ports {
            store: self.store.as_ref(),
            notifier: self.notifier.as_ref(),
            poster: &self.connections,
            ledger: &self.ledger,
            messages: self.messages.as_deref(),
            presence: Some(self.presence.as_ref()),
        }
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
        let parsed: WebSocketEvent = match serde_json::from_value(event) {
            Ok(parsed) => parsed,
            Err(e) => {
                error!("building a WebSocket event: {e}");
                return Err(Unanswered::Failed);
            }
        };
        let what = format!("{} {}", parsed.request_context.route_key, parsed.request_context.connection_id);
        let gateway = self.clone();
        let mut run =
            tokio::spawn(async move { chat_core::handle_websocket(gateway.ports(), &gateway.settings, &parsed).await });
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

    /// Runs the notify handler on one batch of queue messages.
    pub async fn notify(self: &Arc<Self>, event: SqsEvent) -> SqsBatchResponse {
        debug!("event {}", serde_json::to_string(&event).unwrap_or_default());
        let gateway = self.clone();
        let ids: Vec<String> = event.records.iter().map(|r| r.message_id.clone()).collect();
        let run =
            tokio::spawn(async move { chat_core::handle_sqs(gateway.ports(), &gateway.settings, &event, None).await });
        match run.await {
            Ok(response) => response,
            Err(e) => {
                error!("the notify handler failed: {e}");
                SqsBatchResponse {
                    batch_item_failures: ids
                        .into_iter()
                        .map(|item_identifier| chat_core::event::BatchItemFailure { item_identifier })
                        .collect(),
                }
            }
        }
    }

    /// The `requestContext` every event shares.
    fn context(
        &self,
        id: &str,
        connected_at: i64,
        route_key: &str,
        event_type: &str,
    ) -> serde_json::Map<String, Value> {
        let now = now_millis();
        let request_id = new_id();
        let context = json!({
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "requestId": request_id,
            "domainName": self.domain,
            "connectionId": id,
            "apiId": API_ID,
        });
        match context {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object"),
        }
    }

    fn connect_event(&self, link: &Link, id: &str, query: &[(String, String)], headers: &HeaderMap) -> Value {
        let mut context = self.context(id, link.connected_at, "$connect", "CONNECT");
        context.insert("identity".into(), link.identity());
        let mut event = json!({
            "headers": single(headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))),
            "multiValueHeaders": multi(headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))),
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if !query.is_empty() {
            let pairs = || query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            event["queryStringParameters"] = single(pairs());
            event["multiValueQueryStringParameters"] = multi(pairs());
        }
        event
    }

    /// What API Gateway does before `$connect` with a REQUEST authorizer whose
    /// identity source is `route.request.querystring.token`: the context that
    /// becomes the `$connect` event's `requestContext.authorizer`, or the
    /// response that refuses the upgrade.
    async fn authorize(&self, verifier: &Verifier<Keys>, id: &str, connect: &Value) -> Result<Value, Response> {
        // "These parameters are used to perform runtime validation for
        // Lambda-based authorizers by verifying all of the identity-related
        // request parameters are present in the request, not null, and
        // non-empty. Only when this is true does the authorizer invoke the
        // authorizer Lambda function. Otherwise, it returns a 401 Unauthorized
        // response without calling the Lambda function." (API Gateway V2 API
        // Reference, CreateAuthorizer, IdentitySource.)
        let token = connect["queryStringParameters"]["token"].as_str().unwrap_or_default();
        if token.is_empty() {
            info!("authorize  {id} (no ?token=) -> 401; the authorizer is not called");
            return Err(unauthorized());
        }
        // The authorizer's event: the upgrade request's headers, query string
        // and context, and the method ARN (API Gateway developer guide,
        // "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers").
        let mut request = connect.clone();
        request["type"] = json!("REQUEST");
        request["methodArn"] = json!(self.method_arn);
        request["stageVariables"] = json!({});
        let request: AuthorizerEvent = match serde_json::from_value(request) {
            Ok(request) => request,
            Err(e) => {
                error!("building the authorizer's event: {e}");
                return Err(
                    (StatusCode::INTERNAL_SERVER_ERROR, r#"{"message": "Internal server error"}"#).into_response()
                );
            }
        };
        let started = Instant::now();
        let answer = match chat_core::auth::authorize(verifier, &request).await {
            Ok(answer) => chat_core::auth::check_ban(self.presence.as_ref(), &answer.principal_id, now_millis())
                .await
                .map(|()| answer),
            Err(refusal) => Err(refusal),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(refusal) => {
                info!("authorize  {id} -> 401: {refusal}");
                return Err(unauthorized());
            }
        };
        if !allows(&answer.policy_document, &self.method_arn) {
            info!("authorize  {id} -> 403: the policy does not allow execute-api:Invoke on {}", self.method_arn);
            return Err(aws_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden"));
        }
        info!("authorize  {id} -> allowed {}", answer.principal_id);
        // API Gateway passes the context on, with the principal and the
        // authorizer's time in milliseconds beside it (the developer guide's
        // `$connect` event with a Lambda authorizer).
        let mut context: serde_json::Map<String, Value> =
            answer.context.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        context.insert("principalId".into(), json!(answer.principal_id));
        context.insert("integrationLatency".into(), json!(started.elapsed().as_millis() as u64));
        Ok(Value::Object(context))
    }

    fn message_event(&self, link: &Link, id: &str, route_key: &str, data: &[u8], binary: bool) -> Value {
        let mut context = self.context(id, link.connected_at, route_key, "MESSAGE");
        context.insert("messageId".into(), json!(new_id()));
        context.insert("identity".into(), json!({ "sourceIp": link.source_ip }));
        let body = match binary {
            true => base64::engine::general_purpose::STANDARD.encode(data),
            false => String::from_utf8_lossy(data).into_owned(),
        };
        json!({ "requestContext": context, "body": body, "isBase64Encoded": binary })
    }

    fn disconnect_event(&self, link: &Link, id: &str, code: u16, reason: &str) -> Value {
        let mut context = self.context(id, link.connected_at, "$disconnect", "DISCONNECT");
        context.insert("disconnectStatusCode".into(), json!(code));
        context.insert("disconnectReason".into(), json!(reason));
        context.insert("identity".into(), json!({ "sourceIp": link.source_ip }));
        json!({
            "headers": { "Host": self.domain },
            "multiValueHeaders": { "Host": [self.domain] },
            "requestContext": context,
            "isBase64Encoded": false,
        })
    }

    /// One frame from a client: route it, throttle it on its route's
    /// bucket, check its model and run the route's handler.
    async fn message(self: &Arc<Self>, id: &str, link: &Link, data: &[u8], binary: bool) {
        let Some(route) = self.routes.select(data, binary) else {
            // No route and no `$default`: API Gateway answers the client itself.
            info!("route      {id} (no route, no $default) -> Forbidden");
            let _ = self.connections.deliver(id, gateway_frame("Forbidden", id).as_bytes());
            return;
        };
        if let Some(throttles) = &self.throttles
            && !throttles.admit(&route)
        {
            // API Gateway refuses the frame itself: the function never runs.
            info!("throttle   {id} {route} -> {TOO_MANY_REQUESTS}");
            let _ = self.connections.deliver(id, gateway_frame(TOO_MANY_REQUESTS, id).as_bytes());
            return;
        }
        if let Some(body) = self.routes.mocks.get(&route) {
            // API Gateway answers itself: the MOCK integration's `$default`
            // integration response, sent back by the route's route response.
            info!("route      {id} {route} -> MOCK");
            let _ = self.connections.deliver(id, body.as_bytes());
            return;
        }
        if let Some(model) = self.routes.models.get(&route)
            && let Err(refusal) = model.check_body(data)
        {
            // API Gateway refuses the frame itself: the function never runs.
            info!("model      {id} {route} -> Invalid request body: {refusal}");
            let _ = self.connections.deliver(id, gateway_frame("Invalid request body", id).as_bytes());
            return;
        }
        let event = self.message_event(link, id, &route, data, binary);
        let message = match self.invoke(event).await {
            Ok(response) => {
                info!("route      {id} {route} -> {}", response.status_code);
                return;
            }
            Err(Unanswered::Failed) => INTERNAL_SERVER_ERROR,
            Err(Unanswered::TimedOut) => ENDPOINT_TIMED_OUT,
        };
        info!("route      {id} {route} -> {message}");
        let _ = self.connections.deliver(id, gateway_frame(message, id).as_bytes());
    }

    /// A connection closed: it can receive nothing more, and `$disconnect` runs.
    async fn disconnected(self: &Arc<Self>, id: &str, link: &Link, code: u16, reason: &str) {
        self.connections.remove(id);
        if self.routes.has("$disconnect") {
            let outcome = match self.invoke(self.disconnect_event(link, id, code, reason)).await {
                Ok(response) => response.status_code.to_string(),
                Err(Unanswered::Failed) => INTERNAL_SERVER_ERROR.into(),
                Err(Unanswered::TimedOut) => ENDPOINT_TIMED_OUT.into(),
            };
            info!("disconnect {id} {code} {reason:?} -> {outcome}");
        } else {
            info!("disconnect {id} {code} {reason:?}");
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

/// The messages of frames API Gateway sends a client itself.
const TOO_MANY_REQUESTS: &str = "Too Many Requests";
const INTERNAL_SERVER_ERROR: &str = "Internal server error";
const ENDPOINT_TIMED_OUT: &str = "Endpoint request timed out";

/// A frame API Gateway sends the caller itself, byte for byte (spacing
/// included) in the shape AWS documents for a model's refusal: `{"message":
/// "Invalid request body", "connectionId":"ABCD1=234", "requestId":"EFGH="}`
/// (API Gateway developer guide, "Request validation for WebSocket APIs").
///
/// The other messages take the same shape: `Internal server error` for a
/// failed integration, `Forbidden` for a frame with no route, and two that
/// AWS documents no frame for: a throttled frame and an integration timeout.
/// Their messages are the bodies API Gateway gives those errors over HTTP:
/// `{"message":"Too Many Requests"}` with 429 (pulumi/pulumi-aws#2363) and
/// `{"message":"Endpoint request timed out"}` with 504 (the INTEGRATION_TIMEOUT
/// gateway response); WebSocket clients in public code recognise the timeout
/// as a frame with that `message` and a `connectionId`.
fn gateway_frame(message: &str, connection_id: &str) -> String {
    format!(r#"{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{}"}}"#, new_id())
}

/// The `apiId` of every event: there is one API.
const API_ID: &str = "wschatdev";

/// The account of the authorizer's `methodArn`.
const ACCOUNT_ID: &str = "000000000000";

/// API Gateway's refusal of an upgrade its authorizer did not allow: 401 and
/// the body of its UNAUTHORIZED gateway response, `{"message":"Unauthorized"}`
/// (REST APIs document it under "Gateway response types"; an authorizer
/// failing with `Unauthorized` gives exactly that, auth0-samples/
/// jwt-rsa-aws-custom-authorizer#6). WebSocket APIs have no gateway responses
/// to change it with (re:Post, "is it possible to return 401 error from web
/// socket api gateway lambda authorizer"). The error type and request id ride
/// in the headers API Gateway gives its own errors.
fn unauthorized() -> Response {
    aws_error(StatusCode::UNAUTHORIZED, "UnauthorizedException", "Unauthorized")
}

/// An error API Gateway answers an upgrade with: `{"message":..}`, its type
/// in `x-amzn-ErrorType` and a request id.
fn aws_error(status: StatusCode, kind: &'static str, message: &str) -> Response {
    let mut response = gateway_error(status, message);
    response.headers_mut().insert(header::HeaderName::from_static("x-amzn-errortype"), HeaderValue::from_static(kind));
    response
}

/// [`aws_error`] without an error type.
fn gateway_error(status: StatusCode, message: &str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "application/json".to_string()),
        (header::HeaderName::from_static("x-amzn-requestid"), request_uuid()),
    ];
    (status, headers, json!({ "message": message }).to_string()).into_response()
}

/// A request id in the UUID form of `x-amzn-RequestId`.
fn request_uuid() -> String {
    let hex = hex::encode(rand::random::<[u8; 16]>());
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Whether an authorizer's policy allows `execute-api:Invoke` on `arn`: an
/// Allow statement matches it and no Deny does (IAM's `*` wildcards).
fn allows(policy: &PolicyDocument, arn: &str) -> bool {
    let matching = |effect: &str| {
        policy.statement.iter().any(|s| {
            s.effect.eq_ignore_ascii_case(effect)
                && wildcard(&s.action.to_ascii_lowercase(), "execute-api:invoke")
                && wildcard(&s.resource, arn)
        })
    };
    matching("Allow") && !matching("Deny")
}

/// `pattern` against `text`, where `*` is any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else { return false };
            (0..=tail.len()).filter(|&i| tail.is_char_boundary(i)).any(|i| wildcard(rest, &tail[i..]))
        }
    }
}

/// An event for the log, with the `token` query parameter left out: it is a credential.
fn without_token(event: &Value) -> Value {
    let mut shown = event.clone();
    for key in ["queryStringParameters", "multiValueQueryStringParameters"] {
        if let Some(token) = shown.get_mut(key).and_then(|q| q.get_mut("token")) {
            *token = Value::String("(a token)".into());
        }
    }
    shown
}

/// The query string for the log, with the token left out: it is a credential.
fn loggable_query(query: &[(String, String)]) -> String {
    let shown = |(k, v): &(String, String)| if k == "token" { format!("{k}=(a token)") } else { format!("{k}={v}") };
    query.iter().map(shown).collect::<Vec<_>>().join("&")
}

/// `requestTime` in API Gateway's form: `22/Nov/2024:08:00:00 +0000`, the
/// fields of the HTTP date (`Fri, 22 Nov 2024 08:00:00 GMT`) in another order.
fn request_time(millis: i64) -> String {
    let http_date = DateTime::from_millis(millis).fmt(Format::HttpDate).unwrap_or_default();
    match http_date.split_whitespace().collect::<Vec<_>>()[..] {
        [_weekday, day, month, year, time, "GMT"] => format!("{day}/{month}/{year}:{time} +0000"),
        _ => String::new(),
    }
}

/// `{"k":"v"}`, the last value winning, as API Gateway's single-value maps.
fn single<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(pairs.map(|(k, v)| (k.to_string(), json!(v))).collect())
}

/// `{"k":["v1","v2"]}`.
fn multi<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if let Value::Array(values) = map.entry(k.to_string()).or_insert_with(|| json!([])) {
            values.push(json!(v));
        }
    }
    Value::Object(map)
}

/// The stack's route keys, its route selection expression, its route models
/// and its mock routes.
struct Routes {
    keys: BTreeSet<String>,
    /// The path into the body that selects the route: `["action"]` for `$request.body.action`.
    selection: Vec<String>,
    /// Route key -> the model its frames must match.
    models: BTreeMap<String, Model>,
    /// Route key -> the body the gateway answers a mock route's frames with.
    mocks: BTreeMap<String, String>,
}

impl Routes {
    fn new(stack: &Stack) -> Result<Routes> {
        let Some(path) = stack.api.route_selection.strip_prefix("$request.body.") else {
            anyhow::bail!("api.route_selection `{}` is not `$request.body.<field>`", stack.api.route_selection);
        };
        let loaded = models::load(stack)?;
        for skipped in &loaded.skipped {
            warn!(
                "schema `{}` of route `{}`: {}; wschat dev does not validate `{}` (API Gateway will)",
                skipped.file.display(),
                skipped.route,
                skipped.error,
                skipped.route
            );
        }
        Ok(Routes {
            keys: stack.api.routes.keys().cloned().collect(),
            selection: path.split('.').map(str::to_string).collect(),
            models: loaded.models,
            mocks: stack.api.routes.iter().filter_map(|(k, r)| Some((k.clone(), r.mock()?.to_string()))).collect(),
        })
    }

    fn has(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// The route of a frame: the selected key when the stack has it, else
    /// `$default` when the stack has that, else none.
    fn select(&self, data: &[u8], binary: bool) -> Option<String> {
        let selected = (!binary)
            .then(|| serde_json::from_slice::<Value>(data).ok())
            .flatten()
            .and_then(|body| self.selection.iter().try_fold(body, |v, key| v.get(key).cloned()))
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|key| !key.starts_with('$') && self.has(key));
        selected.or_else(|| self.has("$default").then(|| "$default".to_string()))
    }
}

/// One open connection, as the Management API sees it.
#[derive(Debug)]
pub(super) struct Link {
    /// Frames on their way to the socket.
    tx: mpsc::Sender<Message>,
    /// DeleteConnection: the socket closes.
    deleted: Notify,
    /// Epoch milliseconds.
    pub connected_at: i64,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// Epoch milliseconds of the last frame from the client.
    last_active: AtomicI64,
}

impl Link {
    /// `requestContext.identity` of `$connect`, and GetConnection's `identity`.
    pub fn identity(&self) -> Value {
        let mut identity = json!({ "sourceIp": self.source_ip });
        if let Some(agent) = &self.user_agent {
            identity["userAgent"] = json!(agent);
        }
        identity
    }

    /// Epoch milliseconds of the last frame from the client.
    pub fn last_active_at(&self) -> i64 {
        self.last_active.load(Ordering::Relaxed)
    }
}

/// Why a post did not reach its connection.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Undelivered {
    /// 410: no such connection, or it closed.
    Gone,
    /// 413: past API Gateway's 128 KiB.
    TooLarge,
    /// 429: the client is not reading; [`OUTGOING_FRAMES`] frames wait already.
    Full,
}

/// The open connections by id. Posting to one that is not here is 410 Gone.
#[derive(Debug, Default)]
pub(super) struct Connections {
    open: Mutex<HashMap<String, Arc<Link>>>,
}

impl Connections {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Link>>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, id: &str, link: Arc<Link>) {
        self.open().insert(id.to_string(), link);
    }

    fn remove(&self, id: &str) -> Option<Arc<Link>> {
        self.open().remove(id)
    }

    fn len(&self) -> usize {
        self.open().len()
    }

    /// The open connection `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Link>> {
        self.open().get(id).cloned()
    }

    /// Queues one frame for a connection: text when `data` is UTF-8, binary otherwise.
    pub fn deliver(&self, id: &str, data: &[u8]) -> Result<(), Undelivered> {
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(Undelivered::TooLarge);
        }
        let link = self.get(id).ok_or(Undelivered::Gone)?;
        let frame = match std::str::from_utf8(data) {
            Ok(text) => Message::text(text),
            Err(_) => Message::binary(Bytes::copy_from_slice(data)),
        };
        link.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Undelivered::Full,
            mpsc::error::TrySendError::Closed(_) => Undelivered::Gone,
        })?;
        info!("post       {id} {} bytes", data.len());
        Ok(())
    }

    /// Closes a connection (DeleteConnection). It stops receiving at once.
    pub fn delete(&self, id: &str) -> Result<(), Undelivered> {
        let link = self.remove(id).ok_or(Undelivered::Gone)?;
        link.deleted.notify_one();
        Ok(())
    }
}

/// The handlers' Management API: posts go straight to the sockets of this process.
#[async_trait]
impl Poster for Connections {
    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()> {
        self.deliver(connection_id, data).map_err(|e| match e {
            Undelivered::Gone => PortError::Gone,
            Undelivered::TooLarge => PortError::Failed(format!(
                "posting to connection `{connection_id}`: {} bytes is past the {MAX_MESSAGE_BYTES}-byte limit (413)",
                data.len()
            )),
            Undelivered::Full => PortError::Failed(format!(
                "posting to connection `{connection_id}`: {OUTGOING_FRAMES} frames wait for the client already (429)"
            )),
        })
    }

    async fn close(&self, connection_id: &str) -> PortResult<()> {
        // A connection that is gone already is closed: DeleteConnection's 410.
        let _ = self.delete(connection_id);
        Ok(())
    }
}

/// Counts the connections that have not finished closing; waiting drops the
/// original token, so it resolves when the last connection's is dropped.
struct Tracker {
    token: Mutex<Option<mpsc::Sender<()>>>,
    done: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

impl Tracker {
    fn new() -> Tracker {
        let (tx, rx) = mpsc::channel(1);
        Tracker { token: Mutex::new(Some(tx)), done: tokio::sync::Mutex::new(rx) }
    }

    /// A token held for one connection's life; `None` once shutting down.
    fn token(&self) -> Option<mpsc::Sender<()>> {
        self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    async fn wait(&self) {
        self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let _ = self.done.lock().await.recv().await;
    }
}

/// `GET /{stage}`: `$connect`, then the upgrade and the connection's life.
pub async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    mut ws: WebSocketUpgrade,
) -> Response {
    let Some(token) = gateway.tracker.token().filter(|_| !*gateway.shutdown.borrow()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the gateway is shutting down").into_response();
    };
    let id = new_id();
    // Throttled before the authorizer and `$connect`: 429 with `{"message":
    // "Too Many Requests"}`, as a stage throttled to 0 answers every upgrade
    // (hashicorp/terraform-provider-aws#14742; the body: pulumi/pulumi-aws#2363).
    // The error type is the one API Gateway's 429s carry elsewhere; no source
    // shows the headers of this one.
    if let Some(throttles) = &gateway.throttles
        && !throttles.admit("$connect")
    {
        info!("throttle   {id} $connect -> 429; $connect is not run");
        return aws_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", TOO_MANY_REQUESTS);
    }
    let now = now_millis();
    let (tx, rx) = mpsc::channel(OUTGOING_FRAMES);
    let link = Arc::new(Link {
        tx,
        deleted: Notify::new(),
        connected_at: now,
        source_ip: peer.ip().to_string(),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
        last_active: AtomicI64::new(now),
    });
    let query_text = loggable_query(&query);
    let mut event = gateway.connect_event(&link, &id, &query, &headers);
    if let Some(verifier) = &gateway.sign_in {
        match gateway.authorize(verifier, &id, &event).await {
            Ok(context) => event["requestContext"]["authorizer"] = context,
            Err(refused) => return refused,
        }
    }
    if gateway.routes.has("$connect") {
        let response = match gateway.invoke(event).await {
            Ok(response) => response,
            Err(Unanswered::Failed) => {
                info!("connect    {id} ?{query_text} -> 502 {INTERNAL_SERVER_ERROR}");
                return (StatusCode::BAD_GATEWAY, INTERNAL_SERVER_ERROR).into_response();
            }
            Err(Unanswered::TimedOut) => {
                // API Gateway's INTEGRATION_TIMEOUT answer, 504 (REST API
                // gateway response types; WebSocket APIs have no gateway
                // responses to change it with).
                info!("connect    {id} ?{query_text} -> 504 {ENDPOINT_TIMED_OUT}");
                return gateway_error(StatusCode::GATEWAY_TIMEOUT, ENDPOINT_TIMED_OUT);
            }
        };
        if !(200..300).contains(&response.status_code) {
            info!("connect    {id} ?{query_text} -> {} refused", response.status_code);
            let status = StatusCode::from_u16(response.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, response.body.unwrap_or_default()).into_response();
        }
        info!("connect    {id} ?{query_text} -> {}", response.status_code);
        // API Gateway completes the handshake with the subprotocol `$connect`
        // names, and with none when it names none, whatever the client
        // offered (browsers then drop the connection: localstack#6521).
        let chosen = response.headers.iter().flatten().find(|(k, _)| k.eq_ignore_ascii_case("Sec-WebSocket-Protocol"));
        if let Some(protocol) = chosen.and_then(|(_, v)| HeaderValue::from_str(v).ok()) {
            ws.set_selected_protocol(protocol);
        }
    } else {
        info!("connect    {id} ?{query_text}");
    }
    // Open before the 101: posts made from now on wait in the channel.
    gateway.connections.insert(&id, link.clone());
    let failed = (gateway.clone(), id.clone(), link.clone(), token.clone());
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |e| {
            let (gateway, id, link, token) = failed;
            tokio::spawn(async move {
                warn!("upgrading connection {id}: {e}");
                gateway.disconnected(&id, &link, 1006, "").await;
                drop(token);
            });
        })
        .on_upgrade(move |socket| async move {
            session(&gateway, &id, &link, rx, socket).await;
            drop(token);
        })
}

/// How a connection ended.
enum Ending {
    /// The client sent a close frame.
    Client(u16, String),
    /// The gateway closes: timeouts, DeleteConnection, shutdown, limits.
    Gateway(u16, &'static str),
    /// The TCP connection went away without a close frame.
    Lost,
}

/// One connection's life: frames in, frames out, and the limits.
async fn session(
    gateway: &Arc<Gateway>,
    id: &str,
    link: &Link,
    mut outgoing: mpsc::Receiver<Message>,
    mut socket: WebSocket,
) {
    let mut shutdown = gateway.shutdown.clone();
    let end_of_life = Instant::now() + gateway.limits.lifetime;
    let mut idle_until = Instant::now() + gateway.limits.idle;
    let ending = loop {
        if *shutdown.borrow_and_update() {
            break Ending::Gateway(1001, "Going away");
        }
        tokio::select! {
            _ = shutdown.changed() => break Ending::Gateway(1001, "Going away"),
            () = tokio::time::sleep_until(idle_until) => break Ending::Gateway(1001, "Going away"),
            () = tokio::time::sleep_until(end_of_life) => break Ending::Gateway(1001, "Going away"),
            () = link.deleted.notified() => {
                // What was posted before the delete is delivered first, as
                // API Gateway delivers a post it answered 200 (the chat
                // posts why it closes a connection, then closes it).
                while let Ok(frame) = outgoing.try_recv() {
                    if socket.send(frame).await.is_err() {
                        break;
                    }
                }
                break Ending::Gateway(1000, "");
            }
            out = outgoing.recv() => match out {
                Some(frame) => {
                    if socket.send(frame).await.is_err() {
                        break Ending::Lost;
                    }
                }
                None => break Ending::Gateway(1011, ""),
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    idle_until = Instant::now() + gateway.limits.idle;
                    link.last_active.store(now_millis(), Ordering::Relaxed);
                    gateway.message(id, link, text.as_bytes(), false).await;
                }
                Some(Ok(Message::Binary(data))) => {
                    idle_until = Instant::now() + gateway.limits.idle;
                    link.last_active.store(now_millis(), Ordering::Relaxed);
                    gateway.message(id, link, &data, true).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    break match frame {
                        Some(CloseFrame { code, reason }) => Ending::Client(code, reason.as_str().to_string()),
                        None => Ending::Client(1005, String::new()),
                    };
                }
                Some(Err(e)) => break ending_of(e),
                None => break Ending::Lost,
            },
        }
    };
    // From here on, posts to this connection are 410 Gone.
    gateway.connections.remove(id);
    let (code, reason) = match &ending {
        Ending::Client(code, reason) => {
            // Reading on sends the close reply the socket queued.
            let _ = tokio::time::timeout(CLOSE_WAIT, socket.recv()).await;
            (*code, reason.clone())
        }
        Ending::Gateway(code, reason) => {
            let close = CloseFrame { code: *code, reason: (*reason).into() };
            if socket.send(Message::Close(Some(close))).await.is_ok() {
                // Wait for the client's close frame (the closing handshake);
                // past a read error, give it a moment to read ours before the
                // socket drops.
                let handshake = async {
                    loop {
                        match socket.recv().await {
                            Some(Ok(Message::Close(_))) | None => break,
                            Some(Ok(_)) => {}
                            Some(Err(_)) => {
                                tokio::time::sleep(CLOSE_WAIT / 4).await;
                                break;
                            }
                        }
                    }
                };
                let _ = tokio::time::timeout(CLOSE_WAIT, handshake).await;
            }
            (*code, reason.to_string())
        }
        Ending::Lost => (1006, String::new()),
    };
    drop(socket);
    gateway.disconnected(id, link, code, &reason).await;
}

/// A read error: a frame or message past the limits is 1009, anything else a lost connection.
fn ending_of(error: axum::Error) -> Ending {
    let inner = error.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(e)) => {
            debug!("closing with 1009: {e}");
            Ending::Gateway(1009, "Message too big")
        }
        Some(tungstenite::Error::Utf8(_)) => Ending::Gateway(1007, "Invalid frame payload data"),
        Some(tungstenite::Error::Protocol(e)) => {
            debug!("closing with 1002: {e}");
            Ending::Gateway(1002, "Protocol error")
        }
        _ => {
            debug!("reading a frame: {inner}");
            Ending::Lost
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_is_api_gateways_format() {
        assert_eq!(request_time(1_732_262_400_012), "22/Nov/2024:08:00:00 +0000");
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(request_time(951_782_400_000 - 1000), "28/Feb/2000:23:59:59 +0000");
        assert_eq!(request_time(951_782_400_000 + 86_400_000), "01/Mar/2000:00:00:00 +0000");
        assert_eq!(request_time(1_796_138_033_999), "01/Dec/2026:15:13:53 +0000");
    }

    #[test]
    fn the_throttle_is_a_token_bucket_of_burst_tokens_refilled_at_the_rate() {
        let throttle = Throttle::new(2.0, 3);
        let start = throttle.bucket.lock().unwrap().at;
        let at = |ms: u64| start + Duration::from_millis(ms);
        // A full bucket: the burst passes, the next request is throttled.
        assert_eq!((0..4).map(|_| throttle.admit_at(at(0))).collect::<Vec<_>>(), [true, true, true, false]);
        // Two tokens a second: one more after 0.5 s, not before.
        assert!(!throttle.admit_at(at(499)));
        assert!(throttle.admit_at(at(500)));
        assert!(!throttle.admit_at(at(500)));
        // Idle time fills the bucket up to the burst, no further.
        assert_eq!((0..4).map(|_| throttle.admit_at(at(60_000))).collect::<Vec<_>>(), [true, true, true, false]);
        // A burst of 0 lets nothing through, as a stage throttled to 0.
        let closed = Throttle::new(100.0, 0);
        assert!(!closed.admit_at(start + Duration::from_secs(10)));
    }

    #[test]
    fn each_route_key_has_a_bucket_of_its_own_at_its_throttle_or_the_stages_default() {
        let mut api = wschat_stack::Api {
            routes: wschat_stack::default_routes("chat"),
            throttle: wschat_stack::Throttle { rate: 0.001, burst: 2 },
            ..wschat_stack::Api::default()
        };
        api.routes.insert("typing".into(), wschat_stack::Route::on("chat").throttled(0.001, 3));
        let throttles = Throttles::new(&api);
        let taken = |key: &str| (0..1000).take_while(|_| throttles.admit(key)).count();
        // `typing`'s own burst, then nothing: the others are untouched.
        assert_eq!(taken("typing"), 3);
        assert_eq!(taken("$default"), 2, "the stage's default, a bucket of its own");
        assert_eq!(taken("createRoom"), 2, "and another");
        assert_eq!(taken("send"), 100, "the shipped throttle of send");
        assert_eq!(taken("$connect"), 500, "API Gateway's new connections a second");
        // `$disconnect` is never throttled, nor a key without a route.
        assert_eq!((taken("$disconnect"), taken("nothing")), (1000, 1000));
    }

    #[test]
    fn gateway_frames_take_the_shape_aws_documents_for_invalid_request_body() {
        let frame = gateway_frame("Too Many Requests", "ABCD1=234");
        let (head, request_id) = frame.rsplit_once(r#""requestId":""#).unwrap();
        assert_eq!(head, r#"{"message": "Too Many Requests", "connectionId":"ABCD1=234", "#);
        assert!(request_id.len() == 18 && request_id.ends_with(r#"="}"#), "{frame}");
    }

    fn routes(keys: &[&str]) -> Routes {
        Routes {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            selection: vec!["action".into()],
            models: BTreeMap::new(),
            mocks: BTreeMap::new(),
        }
    }

    #[test]
    fn frames_route_by_their_action_else_default() {
        let r = routes(&["$connect", "$default", "send"]);
        assert_eq!(r.select(br#"{"action":"send","text":"hi"}"#, false).as_deref(), Some("send"));
        assert_eq!(r.select(br#"{"action":"list"}"#, false).as_deref(), Some("$default"));
        assert_eq!(r.select(br#"{"action":"$connect"}"#, false).as_deref(), Some("$default"));
        assert_eq!(r.select(br#"{"action":7}"#, false).as_deref(), Some("$default"));
        assert_eq!(r.select(b"hello", false).as_deref(), Some("$default"));
        assert_eq!(r.select(br#"{"action":"send"}"#, true).as_deref(), Some("$default"));
        assert_eq!(routes(&["send"]).select(b"hello", false), None);
        let nested = Routes {
            keys: ["go".to_string()].into(),
            selection: vec!["a".into(), "b".into()],
            models: BTreeMap::new(),
            mocks: BTreeMap::new(),
        };
        assert_eq!(nested.select(br#"{"a":{"b":"go"}}"#, false).as_deref(), Some("go"));
    }

    #[test]
    fn a_policy_allows_invoke_on_the_method_arn_unless_denied() {
        let arn = "arn:aws:execute-api:us-east-1:000000000000:wschatdev/dev/$connect";
        let statement = |effect: &str, action: &str, resource: &str| chat_core::event::PolicyStatement {
            action: action.into(),
            effect: effect.into(),
            resource: resource.into(),
        };
        let policy = |statement| PolicyDocument { version: "2012-10-17".into(), statement };
        assert!(allows(&policy(vec![statement("Allow", "execute-api:Invoke", arn)]), arn));
        assert!(allows(&policy(vec![statement("Allow", "execute-api:*", "arn:aws:execute-api:*:*:wschatdev/*")]), arn));
        assert!(!allows(
            &policy(vec![statement("Allow", "execute-api:Invoke", "arn:aws:execute-api:*:*:other/*")]),
            arn
        ));
        assert!(!allows(&policy(vec![statement("Deny", "execute-api:Invoke", arn)]), arn));
        assert!(!allows(
            &policy(vec![statement("Allow", "*", "*"), statement("Deny", "execute-api:Invoke", "*/$connect")]),
            arn
        ));
        assert!(!allows(&policy(vec![]), arn));
    }

    #[test]
    fn tokens_stay_out_of_the_log() {
        let query = [("format".to_string(), "json".to_string()), ("token".to_string(), "eyJ.secret.sig".to_string())];
        assert_eq!(loggable_query(&query), "format=json&token=(a token)");
        let event = json!({"queryStringParameters": {"token": "eyJ.secret.sig", "format": "json"},
            "multiValueQueryStringParameters": {"token": ["eyJ.secret.sig"]}, "body": null});
        let shown = without_token(&event).to_string();
        assert!(!shown.contains("secret") && shown.contains("(a token)") && shown.contains("json"), "{shown}");
    }

    #[tokio::test]
    async fn posts_to_unknown_or_closed_connections_are_gone() {
        let connections = Connections::default();
        assert_eq!(connections.deliver("nope=", b"hi"), Err(Undelivered::Gone));
        let (tx, mut rx) = mpsc::channel(2);
        let link = Arc::new(Link {
            tx,
            deleted: Notify::new(),
            connected_at: 1,
            source_ip: "127.0.0.1".into(),
            user_agent: None,
            last_active: 1.into(),
        });
        connections.insert("a=", link);
        assert_eq!(connections.deliver("a=", b"hi"), Ok(()));
        assert!(matches!(rx.try_recv(), Ok(Message::Text(t)) if t.as_str() == "hi"));
        assert_eq!(connections.deliver("a=", &[0xff]), Ok(()));
        assert!(matches!(rx.try_recv(), Ok(Message::Binary(_))));
        assert_eq!(connections.deliver("a=", &vec![b'x'; MAX_MESSAGE_BYTES + 1]), Err(Undelivered::TooLarge));
        // A client that does not read fills its buffer: 429, not 410.
        assert_eq!(connections.deliver("a=", b"1"), Ok(()));
        assert_eq!(connections.deliver("a=", b"2"), Ok(()));
        assert_eq!(connections.deliver("a=", b"3"), Err(Undelivered::Full));
        let link = connections.get("a=").unwrap();
        assert_eq!(connections.delete("a="), Ok(()));
        tokio::time::timeout(Duration::from_secs(1), link.deleted.notified()).await.expect("the session is told");
        assert_eq!(connections.deliver("a=", b"hi"), Err(Undelivered::Gone));
        assert_eq!(connections.delete("a="), Err(Undelivered::Gone));
    }
}
