//! An AWS realism layer: an HTTP proxy between the SDK clients and moto that
//! answers the way AWS does where moto is more forgiving.
//!
//! Tests (and `scripts/bench-deploy`) point `--endpoint-url` at
//! [`Realism::endpoint`]. Every request is forwarded to moto unless a behaviour
//! refuses it first with the error AWS would send; replies may be changed on
//! the way back (a Lambda function still `Pending`, a table still `CREATING`).
//! Each behaviour is set per test in [`Behaviours`], and cites its AWS source in
//! its module. The proxy counts calls, mutating calls and calls in flight
//! ([`Stats`]), keeps an ordered log of them ([`Record`]), and can freeze
//! after the Nth mutating call, so that a test can kill the client there
//! ([`Realism::freeze_after`]).
//!
//! The proxy runs on a thread and runtime of its own, so it serves tests that
//! block on a child process as well as async ones.

mod acm;
mod apigateway;
mod atomic;
mod behaviours;
pub mod call;
mod cloudfront;
mod cloudwatch;
mod consistency;
mod dynamodb;
mod iam;
pub mod iam_actions;
mod lambda;
mod mapping;
mod route53;
mod s3;
mod sns;
mod sqs;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use behaviours::Behaviours;
use call::{Call, Request};
use wire::Reply;

/// What the proxy has seen since it started (or since [`Realism::reset_stats`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub calls: usize,
    pub mutating: usize,
    /// Calls that reached moto (the others were refused by a behaviour).
    pub forwarded: usize,
    /// Mutating calls that reached moto: the ones that changed something.
    pub forwarded_mutating: usize,
    /// The most calls in flight at once.
    pub max_in_flight: usize,
    /// The most writes in flight at once to one API Gateway API.
    pub max_api_writes_in_flight: usize,
    /// Calls refused, by the error sent (`ConflictException`, `Throttling`...).
    pub refused: BTreeMap<String, usize>,
    /// Calls by operation.
    pub operations: BTreeMap<String, usize>,
}

/// One call, in the order calls arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub service: String,
    pub operation: String,
    pub mutating: bool,
    /// The status sent back; 0 while the call is in flight or held.
    pub status: u16,
    /// The error a behaviour answered with instead of forwarding.
    pub refused: Option<String>,
}

/// When to stop answering, as if the client were killed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freeze {
    /// After the Nth mutating call that reached moto.
    AfterMutations(usize),
    /// After the first mutating call of this operation reached moto.
    AfterOperation(String),
}

/// The state every behaviour reads and writes, behind one lock.
#[derive(Default)]
struct World {
    behaviours: Behaviours,
    stats: Stats,
    log: Vec<Record>,
    /// Counts resets of the stats and the log.
    generation: u64,
    in_flight: usize,
    rng: u64,
    freeze: Option<Freeze>,
    mutations_forwarded: usize,
    /// Operations called so far (for `throttle_first_calls`).
    called: std::collections::HashSet<String>,
    api: apigateway::State,
    acm: acm::State,
    cloudfront: cloudfront::State,
    route53: route53::State,
    iam: iam::State,
    lambda: lambda::State,
    mapping: mapping::State,
    sqs: sqs::State,
    s3: s3::State,
    sns: sns::State,
    dynamodb: dynamodb::State,
    seen: consistency::State,
}

impl World {
    fn reset(&mut self) {
        self.stats = Stats::default();
        self.log.clear();
        self.generation += 1;
    }

    /// A number in [0, 1) from the seeded generator (xorshift64*).
    fn random(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn window(&self, ms: Option<u64>) -> Option<Duration> {
        ms.map(Duration::from_millis)
    }
}

struct Shared {
    world: Mutex<World>,
    /// `true` while frozen.
    frozen: watch::Sender<bool>,
    moto: String,
    client: Client<HttpConnector, Full<Bytes>>,
    /// With `atomic_items` (and `atomic_record_changes`): one lock per table
    /// (and hosted zone), held while a write to it is at moto.
    tables: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().expect("realism state poisoned")
    }
}

/// A running proxy in front of one moto server; stops when dropped.
pub struct Realism {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Realism {
    /// Starts a proxy on a free port in front of `moto_endpoint` (`http://127.0.0.1:PORT`).
    pub fn start(moto_endpoint: &str, behaviours: Behaviours) -> Realism {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the realism proxy");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the proxy's address");
        let (frozen, _) = watch::channel(false);
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let shared = Arc::new(Shared {
            world: Mutex::new(World { rng: behaviours.seed.max(1), behaviours, ..World::default() }),
            frozen,
            moto: moto_endpoint.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(connector),
            tables: Mutex::default(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("aws-realism".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("the realism runtime");
                runtime.block_on(serve(serving, listener, stopped));
            })
            .expect("spawning the realism thread");
        Realism { shared, addr, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url` and SDK clients.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Environment for a child process that should talk to AWS through this
    /// proxy: moto's test credentials with this endpoint.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = crate::moto_env();
        env.push(("AWS_ENDPOINT_URL", self.endpoint()));
        env
    }

    pub fn behaviours(&self) -> Behaviours {
        self.shared.world().behaviours.clone()
    }

    /// Changes the behaviours from the next call on; what the proxy learnt
    /// (roles created, queues deleted...) is kept.
    pub fn set(&self, behaviours: Behaviours) {
        let mut world = self.shared.world();
        world.rng = behaviours.seed.max(1);
        world.behaviours = behaviours;
    }

    /// Changes some behaviours.
    pub fn update(&self, change: impl FnOnce(&mut Behaviours)) {
        change(&mut self.shared.world().behaviours);
    }

    pub fn stats(&self) -> Stats {
        self.shared.world().stats.clone()
    }

    /// Every call so far, in the order they arrived.
    pub fn log(&self) -> Vec<Record> {
        self.shared.world().log.clone()
    }

    /// The operations of the log, in order (`CreateRoute`, `GetStage`...).
    pub fn operations(&self) -> Vec<String> {
        self.log().into_iter().map(|r| r.operation).collect()
    }

    /// Forgets the counts and the log (not what the behaviours learnt).
    pub fn reset_stats(&self) {
        self.shared.world().reset();
    }

    /// Freezes when `freeze` happens: from then on no call is answered and
    /// none reaches moto, as if the client had been killed right there.
    /// Calls already at moto finish there, as they would on AWS.
    pub fn freeze_after(&self, freeze: Freeze) {
        let mut world = self.shared.world();
        world.freeze = Some(freeze);
        world.mutations_forwarded = 0;
    }

    /// Waits until the proxy froze; `false` if `timeout` passed first.
    pub async fn frozen(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.frozen.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|f| *f)).await.is_ok_and(|r| r.is_ok())
    }

    /// Answers again. Calls held while frozen are answered 503 and never
    /// reach moto: their client is gone.
    pub fn thaw(&self) {
        let mut world = self.shared.world();
        world.freeze = None;
        self.shared.frozen.send_replace(false);
    }
}

impl Drop for Realism {
    fn drop(&mut self) {
        self.thaw();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(shared: Arc<Shared>, listener: std::net::TcpListener, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => continue,
            },
            _ = &mut stop => return,
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

type Body = Full<Bytes>;
use wire::into_response;

async fn handle(shared: Arc<Shared>, req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return into_response(wire::rest_json_error(400, "BadRequest", "unreadable body")),
    };
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: parts.headers,
        body,
    };
    if request.path.starts_with("/realism/") {
        return into_response(admin(&shared, &request));
    }
    // A task of its own: a call whose client goes away (killed) still
    // finishes at moto and is learnt from, as AWS finishes a request whose
    // caller vanished.
    let answered = tokio::spawn(async move { answer(&shared, request).await }).await;
    into_response(
        answered.unwrap_or_else(|e| wire::rest_json_error(500, "InternalFailure", &format!("realism proxy: {e}"))),
    )
}

/// Counts a call while it is in flight.
struct InFlight<'a> {
    shared: &'a Shared,
    index: usize,
    generation: u64,
    api_write: Option<String>,
}

impl InFlight<'_> {
    fn done(&self, status: u16, refused: Option<&str>) {
        let mut world = self.shared.world();
        // The log was reset since the call came in: it is not in it.
        if world.generation != self.generation {
            return;
        }
        let record = &mut world.log[self.index];
        record.status = status;
        if let Some(code) = refused {
            record.refused = Some(code.to_string());
            *world.stats.refused.entry(code.to_string()).or_default() += 1;
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut world = self.shared.world();
        world.in_flight -= 1;
        if let Some(api) = &self.api_write
            && let Some(writers) = world.api.writers.get_mut(api)
        {
            *writers -= 1;
        }
    }
}

async fn answer(shared: &Shared, request: Request) -> Reply {
    let call = Call::of(&request);
    let mutating = call.is_mutating();
    let (guard, latency) = {
        let mut world = shared.world();
        world.stats.calls += 1;
        if mutating {
            world.stats.mutating += 1;
        }
        *world.stats.operations.entry(call.operation.clone()).or_default() += 1;
        world.in_flight += 1;
        world.stats.max_in_flight = world.stats.max_in_flight.max(world.in_flight);
        world.log.push(Record {
            service: call.service.clone(),
            operation: call.operation.clone(),
            mutating,
            status: 0,
            refused: None,
        });
        let index = world.log.len() - 1;
        let generation = world.generation;
        (InFlight { shared, index, generation, api_write: None }, Duration::from_millis(world.behaviours.latency_ms))
    };
    let mut guard = guard;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if hold_while_frozen(shared).await {
        guard.done(503, Some("frozen"));
        return wire::rest_json_error(503, "ServiceUnavailable", "the realism proxy is frozen");
    }

    // Behaviours that refuse a call before it reaches moto.
    let refusal = {
        let mut world = shared.world();
        let now = Instant::now();
        refuse(&mut world, &call, &request, now).or_else(|| {
            let api = apigateway::written_api(&call, &request)?;
            let writers = world.api.writers.get(&api).copied().unwrap_or(0);
            let foreign = world.behaviours.foreign_writer_fraction;
            let foreign = foreign > 0.0 && world.random() < foreign;
            if world.behaviours.one_writer_per_api && (writers > 0 || foreign) {
                return Some(apigateway::conflict());
            }
            world.api.writers.insert(api.clone(), writers + 1);
            world.stats.max_api_writes_in_flight = world.stats.max_api_writes_in_flight.max(writers + 1);
            guard.api_write = Some(api);
            None
        })
    };
    if let Some(reply) = refusal {
        // A success is the proxy answering for AWS (GetDeployment), not a refusal.
        let code = (!reply.is_success()).then(|| refusal_code(&reply));
        guard.done(reply.status.as_u16(), code.as_deref());
        return reply;
    }
    if guard.api_write.is_some() {
        let hold = shared.world().behaviours.api_write_ms;
        tokio::time::sleep(Duration::from_millis(hold)).await;
    }

    // What moto lacks or gets wrong, answered from moto's own reads.
    let table = atomic::lock(&shared.world().behaviours, &call, &request);
    let held = match table {
        Some(table) => {
            let lock = shared.tables.lock().expect("table locks").entry(table).or_default().clone();
            Some(lock.lock_owned().await)
        }
        None => None,
    };
    let (route_settings_name_routes, cloudwatch_rules) = {
        let b = &shared.world().behaviours;
        (b.route_settings_name_routes, b.cloudwatch_rules)
    };
    let forwarded = match apigateway::completed(&call, route_settings_name_routes) {
        Some(completion) => apigateway::complete(shared, &request, completion).await,
        None if cloudwatch::keeps_alarm_state(&call, cloudwatch_rules) => cloudwatch::put_alarm(shared, &request).await,
        None => forward(shared, &request).await,
    };
    drop(held);
    let mut reply = match forwarded {
        Ok(reply) => reply,
        Err(e) => {
            guard.done(502, Some("moto unreachable"));
            return wire::rest_json_error(502, "BadGateway", &format!("forwarding to moto: {e}"));
        }
    };
    {
        let mut world = shared.world();
        world.stats.forwarded += 1;
        let now = Instant::now();
        learn(&mut world, &call, &request, &mut reply, now);
        if mutating {
            world.stats.forwarded_mutating += 1;
            world.mutations_forwarded += 1;
        }
        let freeze_now = mutating
            && match &world.freeze {
                Some(Freeze::AfterMutations(n)) => world.mutations_forwarded >= *n,
                Some(Freeze::AfterOperation(op)) => call.operation == *op,
                None => false,
            };
        // Under the lock, and once: a second call that completes at the same
        // moment must not freeze the proxy again after the test thawed it.
        if freeze_now {
            world.freeze = None;
            shared.frozen.send_replace(true);
        }
    }
    // It reached moto: recorded as moto answered, whether or not its client
    // is there to hear it.
    guard.done(reply.status.as_u16(), None);
    if hold_while_frozen(shared).await {
        return wire::rest_json_error(503, "ServiceUnavailable", "the realism proxy is frozen");
    }
    reply
}

/// Waits while the proxy is frozen; `true` if it was.
async fn hold_while_frozen(shared: &Shared) -> bool {
    let mut rx = shared.frozen.subscribe();
    if !*rx.borrow_and_update() {
        return false;
    }
    let _ = rx.wait_for(|f| !*f).await;
    true
}

/// The first behaviour that refuses the call, with AWS's error.
fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    let first = world.called.insert(call.operation.clone());
    let fraction = world.behaviours.throttle_fraction;
    if (first && world.behaviours.throttle_first_calls) || (fraction > 0.0 && world.random() < fraction) {
        return Some(wire::throttled(&call.service));
    }
    iam::refuse(world, call, request, now)
        .or_else(|| lambda::refuse(world, call, request, now))
        .or_else(|| mapping::refuse(world, call, request, now))
        .or_else(|| sqs::refuse(world, call, request, now))
        .or_else(|| s3::refuse(world, call, request, now))
        .or_else(|| dynamodb::refuse(world, call, request, now))
        .or_else(|| acm::refuse(world, call, request, now))
        .or_else(|| cloudfront::refuse(world, call, request, now))
        .or_else(|| route53::refuse(world, call, request, now))
        .or_else(|| cloudwatch::refuse(world, call, request, now))
        .or_else(|| sns::refuse(world, call, request, now))
        .or_else(|| consistency::refuse(world, call, request, now))
        .or_else(|| apigateway::answer(world, call, request, now))
}

/// What every behaviour learns from a forwarded call, and how it changes it.
fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    iam::learn(world, call, request, reply, now);
    lambda::learn(world, call, request, reply, now);
    mapping::learn(world, call, request, reply, now);
    sqs::learn(world, call, request, reply, now);
    s3::learn(world, call, request, reply, now);
    dynamodb::learn(world, call, request, reply, now);
    acm::learn(world, call, request, reply, now);
    cloudfront::learn(world, call, request, reply, now);
    route53::learn(world, call, request, reply, now);
    sns::learn(world, call, request, reply, now);
    apigateway::learn(world, call, request, reply, now);
    consistency::learn(world, call, request, reply, now);
}

/// The error code of a refusal, for the stats.
fn refusal_code(reply: &Reply) -> String {
    if let Some(code) = reply.headers.get("x-amzn-query-error").and_then(|v| v.to_str().ok()) {
        return code.split(';').next().unwrap_or(code).to_string();
    }
    if let Some(code) = reply.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok()) {
        return code.to_string();
    }
    if let Some(kind) = reply.json_str("__type") {
        return kind.rsplit('#').next().unwrap_or(&kind).to_string();
    }
    let text = String::from_utf8_lossy(&reply.body);
    text.split("<Code>").nth(1).and_then(|c| c.split('<').next()).unwrap_or("error").to_string()
}

async fn forward(shared: &Shared, request: &Request) -> Result<Reply, String> {
    let uri = if request.query.is_empty() {
        format!("{}{}", shared.moto, request.path)
    } else {
        format!("{}{}?{}", shared.moto, request.path, request.query)
    };
    let mut builder = hyper::Request::builder().method(request.method.clone()).uri(uri);
    // moto builds URLs (SQS queue URLs) from the Host it is sent: moto's
    // own, so that they are the same through the proxy as without it, the way
    // AWS's are the same from anywhere.
    let host = shared.moto.trim_start_matches("http://");
    for (name, value) in &request.headers {
        if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING && name != http::header::HOST
        {
            builder = builder.header(name, value);
        }
    }
    builder = builder.header(http::header::HOST, host);
    let outgoing = builder.body(Full::new(request.body.clone())).map_err(|e| e.to_string())?;
    let response = shared.client.request(outgoing).await.map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let mut headers = parts.headers;
    for hop in [http::header::CONTENT_LENGTH, http::header::TRANSFER_ENCODING, http::header::CONNECTION] {
        headers.remove(hop);
    }
    Ok(Reply { status: parts.status, headers, body })
}

/// `/realism/...`: the proxy's own endpoints, for scripts: `GET /realism/stats`,
/// `GET|POST /realism/behaviours` (a [`Behaviours`] document),
/// `GET /realism/behaviours/aws` ([`Behaviours::aws`]), `POST /realism/reset`.
fn admin(shared: &Shared, request: &Request) -> Reply {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/realism/stats") => {
            let stats = shared.world().stats.clone();
            Reply::ok_json(&serde_json::to_value(stats).expect("stats serialize"))
        }
        ("GET", "/realism/behaviours/aws") => {
            Reply::ok_json(&serde_json::to_value(Behaviours::aws()).expect("behaviours serialize"))
        }
        ("GET", "/realism/behaviours") => {
            let behaviours = shared.world().behaviours.clone();
            Reply::ok_json(&serde_json::to_value(behaviours).expect("behaviours serialize"))
        }
        ("POST", "/realism/behaviours") => match serde_json::from_slice::<Behaviours>(&request.body) {
            Ok(behaviours) => {
                let mut world = shared.world();
                world.rng = behaviours.seed.max(1);
                world.behaviours = behaviours;
                Reply::ok_json(&serde_json::json!({}))
            }
            Err(e) => wire::rest_json_error(400, "BadRequest", &format!("behaviours: {e}")),
        },
        ("POST", "/realism/reset") => {
            shared.world().reset();
            Reply::ok_json(&serde_json::json!({}))
        }
        _ => wire::rest_json_error(404, "NotFound", "unknown realism endpoint"),
    }
}

/// Whether `since` is less than `window` ago.
fn within(since: Option<&Instant>, window: Option<Duration>, now: Instant) -> bool {
    match (since, window) {
        (Some(at), Some(window)) => now.saturating_duration_since(*at) < window,
        _ => false,
    }
}
