//! A minimal Lambda Runtime API, for running a function's `bootstrap` as a
//! real process: the artifact test (a zipped bootstrap against moto) and the
//! real-process fan-out benchmark (eight `notify` processes fed by a
//! simulated event source mapping).
//!
//! It serves the endpoints a custom runtime calls (Lambda Developer Guide,
//! "Using the Lambda runtime API for custom runtimes"): `GET
//! /2018-06-01/runtime/invocation/next`, which hands out the next event with
//! its request id and deadline in headers and otherwise waits, as an idle
//! sandbox does; `POST .../invocation/{id}/response` and `.../error`; and
//! `POST .../init/error`. One [`RuntimeApi`] serves one process, as each
//! sandbox has its own; [`RuntimeApi::invoke`] hands it an event and waits
//! for its answer.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// How one invocation ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The path the bootstrap posted its result to, under
    /// `/2018-06-01/runtime/`: `invocation/{id}/response`,
    /// `invocation/{id}/error`, or `init/error` if it failed before it asked
    /// for an event.
    pub path: String,
    pub body: String,
    /// When `/next` handed the event out (the request's arrival for an init error).
    pub handed_at: Instant,
    /// When the result came.
    pub answered_at: Instant,
}

impl Outcome {
    /// The function returned normally.
    pub fn is_response(&self) -> bool {
        self.path.ends_with("/response")
    }

    /// From handing the event out to the result.
    pub fn took(&self) -> Duration {
        self.answered_at - self.handed_at
    }
}

struct Pending {
    event: Value,
    timeout: Duration,
    reply: oneshot::Sender<Outcome>,
    handed_at: Option<Instant>,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<VecDeque<Pending>>,
    arrived: Notify,
    in_flight: Mutex<HashMap<String, Pending>>,
    nexts: Mutex<Vec<Instant>>,
    sequence: AtomicU64,
    /// An init error that came before any event: it answers every invocation.
    init_error: Mutex<Option<Outcome>>,
}

/// The Runtime API of one sandbox, on a free port of 127.0.0.1; the server
/// stops when it is dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", axum::routing::get(next_invocation))
            .route("/2018-06-01/runtime/{*path}", axum::routing::post(result))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the Runtime API");
        let address = listener.local_addr().expect("the Runtime API's address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RuntimeApi { address, shared, server }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Starts `bootstrap` as Lambda does: a clean environment with the
    /// runtime's own variables (`function` as its name, 256 MB), then `env`;
    /// its stdout (the function's logs) goes to `stdout`. The child is
    /// killed when dropped.
    pub fn spawn(
        &self,
        bootstrap: &Path,
        function: &str,
        env: &[(&str, String)],
        stdout: Stdio,
    ) -> tokio::process::Child {
        tokio::process::Command::new(bootstrap)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bootstrap.display()))
    }

    /// Hands `event` to the process's next `/next` with a deadline `timeout`
    /// after that, and waits for its result. `None` if none came within
    /// `wait` (a process that died, or hangs).
    pub async fn invoke(&self, event: Value, timeout: Duration, wait: Duration) -> Option<Outcome> {
        if let Some(failed) = self.shared.init_error.lock().unwrap().clone() {
            return Some(failed);
        }
        let (reply, answer) = oneshot::channel();
        self.shared.waiting.lock().unwrap().push_back(Pending { event, timeout, reply, handed_at: None });
        self.shared.arrived.notify_waiters();
        tokio::time::timeout(wait, answer).await.ok().and_then(Result::ok)
    }

    /// When each `/next` came: the first one ends the cold start's init.
    pub fn nexts(&self) -> Vec<Instant> {
        self.shared.nexts.lock().unwrap().clone()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next_invocation(State(shared): State<Arc<Shared>>) -> Response {
    shared.nexts.lock().unwrap().push(Instant::now());
    let mut pending = loop {
        let arrived = shared.arrived.notified();
        if let Some(pending) = shared.waiting.lock().unwrap().pop_front() {
            break pending;
        }
        arrived.await;
    };
    let now = Instant::now();
    pending.handed_at = Some(now);
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + pending.timeout;
    let id = format!("8476a536-e9f4-11e8-9739-{:012x}", shared.sequence.fetch_add(1, Ordering::Relaxed));
    let headers = [
        ("lambda-runtime-aws-request-id", id.clone()),
        ("lambda-runtime-deadline-ms", deadline.as_millis().to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:wschat-dev".into()),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".into(),
        ),
    ];
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(name, value.parse().unwrap());
    }
    let body = pending.event.to_string();
    shared.in_flight.lock().unwrap().insert(id, pending);
    (StatusCode::OK, map, body).into_response()
}

async fn result(State(shared): State<Arc<Shared>>, UrlPath(path): UrlPath<String>, body: Bytes) -> StatusCode {
    let answered_at = Instant::now();
    let pending = match path.strip_prefix("invocation/").and_then(|rest| rest.split_once('/')) {
        Some((id, _)) => shared.in_flight.lock().unwrap().remove(id),
        // An init error answers the first event waiting.
        None => shared.waiting.lock().unwrap().pop_front(),
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let Some(pending) = pending else {
        if path == "init/error" {
            let outcome = Outcome { path, body, handed_at: answered_at, answered_at };
            *shared.init_error.lock().unwrap() = Some(outcome);
            return StatusCode::ACCEPTED;
        }
        // Lambda's answer to a result for an invocation it does not know (one that timed out).
        return StatusCode::GONE;
    };
    let handed_at = pending.handed_at.unwrap_or(answered_at);
    let _ = pending.reply.send(Outcome { path, body, handed_at, answered_at });
    StatusCode::ACCEPTED
}
