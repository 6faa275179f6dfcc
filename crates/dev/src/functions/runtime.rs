//! The Lambda Runtime API one function's process talks to, as a sandbox's
//! (Lambda Developer Guide, "Using the Lambda runtime API for custom
//! runtimes"): `GET /2018-06-01/runtime/invocation/next` hands out the next
//! event with its request id, deadline and function ARN in headers, and
//! otherwise waits, as an idle sandbox does; `POST
//! .../invocation/{id}/response` and `.../error` answer it; `POST
//! .../init/error` reports a start that failed.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::{Notify, oneshot};

/// How an invocation ended, as the process said it.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `.../response`: what the handler returned.
    Response(String),
    /// `.../error`, `init/error`, or the process died with the event: Lambda's
    /// error document, or why.
    Error(String),
}

struct Pending {
    event: String,
    deadline: Duration,
    reply: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<VecDeque<Pending>>,
    arrived: Notify,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    sequence: AtomicU64,
    /// `/next` calls so far: a process that exits before its first never started.
    nexts: AtomicU64,
    /// `/next` calls waiting for an event now: processes with nothing to do.
    idle: AtomicU64,
    arn: String,
}

/// One function's Runtime API on a free port of 127.0.0.1; it stops when dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(arn: String) -> std::io::Result<RuntimeApi> {
        let shared = Arc::new(Shared { arn, ..Shared::default() });
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", axum::routing::get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{outcome}", axum::routing::post(answer))
            .route("/2018-06-01/runtime/init/error", axum::routing::post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi { address, shared, server })
    }

    /// `host:port`: `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Queues `event` for the next `/next` at once, with a deadline `timeout`
    /// away; the answer comes later (however long: the caller bounds it).
    pub fn enqueue(&self, event: String, timeout: Duration) -> impl Future<Output = Answer> + use<> {
        let (reply, answer) = oneshot::channel();
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + timeout;
        self.shared.waiting.lock().unwrap().push_back(Pending { event, deadline, reply });
        self.shared.arrived.notify_one();
        async move { answer.await.unwrap_or_else(|_| Answer::Error("the function's process ended".into())) }
    }

    /// Answers every invocation handed out and not answered: the process
    /// that had them is gone.
    pub fn fail_in_flight(&self, why: &str) {
        for (_, reply) in self.shared.in_flight.lock().unwrap().drain() {
            let _ = reply.send(Answer::Error(why.to_string()));
        }
    }

    /// Answers every invocation still waiting for a process: the function
    /// cannot start (Lambda answers each with the init error).
    pub fn fail_waiting(&self, why: &str) {
        for pending in self.shared.waiting.lock().unwrap().drain(..) {
            let _ = pending.reply.send(Answer::Error(why.to_string()));
        }
    }

    /// Nothing waits for this API's process, and it holds nothing.
    pub fn is_idle(&self) -> bool {
        self.shared.waiting.lock().unwrap().is_empty() && self.shared.in_flight.lock().unwrap().is_empty()
    }

    /// Processes waiting for an event now.
    pub fn idle(&self) -> u64 {
        self.shared.idle.load(Ordering::Relaxed)
    }

    /// Events no process has taken yet.
    pub fn queued(&self) -> u64 {
        self.shared.waiting.lock().unwrap().len() as u64
    }

    /// `/next` calls so far.
    pub fn nexts(&self) -> u64 {
        self.shared.nexts.load(Ordering::Relaxed)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Counts a `/next` as idle while it waits, however it ends.
struct Idle<'a>(&'a AtomicU64);

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.nexts.fetch_add(1, Ordering::Relaxed);
    shared.idle.fetch_add(1, Ordering::Relaxed);
    let idle = Idle(&shared.idle);
    let pending = loop {
        let arrived = shared.arrived.notified();
        if let Some(pending) = shared.waiting.lock().unwrap().pop_front() {
            break pending;
        }
        arrived.await;
    };
    drop(idle);
    let id =
        format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), shared.sequence.fetch_add(1, Ordering::Relaxed));
    let mut headers = HeaderMap::new();
    let values = [
        ("lambda-runtime-aws-request-id", id.clone()),
        ("lambda-runtime-deadline-ms", pending.deadline.as_millis().to_string()),
        ("lambda-runtime-invoked-function-arn", shared.arn.clone()),
        ("lambda-runtime-trace-id", format!("Root=1-00000000-{id}")),
    ];
    for (name, value) in values {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    shared.in_flight.lock().unwrap().insert(id, pending.reply);
    (StatusCode::OK, headers, pending.event).into_response()
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    Path((id, outcome)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let Some(reply) = shared.in_flight.lock().unwrap().remove(&id) else {
        // Lambda's answer for an invocation it no longer knows.
        return StatusCode::GONE;
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let _ = reply.send(if outcome == "response" { Answer::Response(body) } else { Answer::Error(body) });
    StatusCode::ACCEPTED
}

/// A start that failed answers the first event waiting: Lambda reports an
/// init error as the invocation's error.
async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    if let Some(pending) = shared.waiting.lock().unwrap().pop_front() {
        let _ = pending.reply.send(Answer::Error(String::from_utf8_lossy(&body).into_owned()));
    }
    StatusCode::ACCEPTED
}
