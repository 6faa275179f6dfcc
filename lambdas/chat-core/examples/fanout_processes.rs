//! Real-process fan-out benchmark: the `notify` bootstrap, as eight real
//! processes behind test-support's Lambda Runtime API, delivering one
//! broadcast to 4,000 connections on the wall clock; the paused-clock
//! benchmark beside it is `--example fanout`.
//!
//! ```sh
//! cargo run --release -p chat-core --example fanout_processes
//! cargo run --release -p chat-core --example fanout_processes -- --connections 1000 --runs 3 --trace
//! ```
//!
//! It builds `notify` first (`cargo build --release -p notify`; `--bootstrap
//! PATH` runs another build instead) and starts its own moto server. What runs
//! (every figure is a flag):
//! - **DynamoDB and SQS**: moto, with the connections table (`room-index`
//!   included), the delivery ledger and the presence table as `wschat deploy`
//!   creates them, and the notification queue (visibility timeout 60 s, the
//!   shipped default). `--connections` rows (4,000), all connected long ago.
//! - **Lambda**: `--processes` (8) `notify` processes, started and warm
//!   before the broadcast, each with its own Runtime API; the mapping's
//!   maximum concurrency is that many (`WSCHAT_MAX_CONCURRENCY`). Each process
//!   has a poller that plays the event source mapping: it long-polls the
//!   queue for up to `--batch` (10) records, hands them to its process as one
//!   SQS event with a deadline `--timeout` (10 s) on, and deletes the records
//!   the answer does not list in `batchItemFailures`; the others, and every
//!   record of an invocation that fails or outlives its timeout, come back
//!   when their visibility timeout ends. (Lambda's pollers long-poll and hand
//!   a function whatever one receive returns, up to the batch size: all the
//!   shards of a notice can share one invocation.)
//! - **API Gateway's Management API**: `POST /{stage}/@connections/{id}`
//!   served here. Every post of the account shares one token bucket of
//!   `--account-rate` (2,000) posts a second with a burst of half a second's
//!   worth (API Gateway's default account throttle is 10,000 a second with a
//!   burst of 5,000); a post above it is answered at once with 429
//!   `LimitExceededException`. A post takes `--post-latency-ms` (100 ms).
//!   `--failing` (5%) of the connections have their first `--fail-times` (3)
//!   posts answered 500. Every successful post is counted per connection.
//! - **The fan-out's settings**: `WSCHAT_POST_RATE` is `--post-share` (95%)
//!   of the account's rate; shard size and batch size as the flags say, the
//!   rest the defaults.
//!
//! The completion is the time from enqueueing the notice (built with
//! [`Notice`], as the chat function builds a message to everyone) to the
//! last successful post; the floor is the connections over the account's
//! rate. Duplicates and losses are counted per connection at the simulated
//! gateway, after the queue has drained. `--trace` prints each invocation
//! (its process, records, start and end) and the successful posts per 100 ms
//! on stderr, and what the processes' metrics lines counted beside what the
//! gateway saw; the processes' JSON logs are kept under
//! `$CARGO_TARGET_DIR/fanout-processes/`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_sqs::types::QueueAttributeName;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chat_core::aws::DynamoStore;
use chat_core::config::vars;
use chat_core::event::{SqsBatchResponse, SqsEvent, SqsRecord};
use chat_core::limits::TokenBucket;
use chat_core::notice::{Notice, Target};
use chat_core::ports::{Connection, ConnectionStore};
use chat_core::protocol::Payload;
use futures::StreamExt;
use test_support::Moto;
use test_support::runtime_api::RuntimeApi;

#[path = "fanout/population.rs"]
mod population;

#[derive(Debug, Clone)]
struct Args {
    connections: usize,
    processes: usize,
    batch: usize,
    account_rate: f64,
    post_share: f64,
    post_latency: Duration,
    failing: f64,
    fail_times: u32,
    shard_size: Option<usize>,
    fanout_concurrency: Option<usize>,
    timeout: Duration,
    visibility: u32,
    runs: usize,
    bootstrap: Option<PathBuf>,
    trace: bool,
    moto_switch: Duration,
}

fn args() -> Args {
    let mut args = Args {
        connections: 4_000,
        processes: 8,
        batch: 10,
        account_rate: 2_000.0,
        post_share: 0.95,
        post_latency: Duration::from_millis(100),
        failing: 0.05,
        fail_times: 3,
        shard_size: None,
        fanout_concurrency: None,
        timeout: Duration::from_secs(10),
        visibility: 60,
        runs: 1,
        bootstrap: None,
        trace: false,
        moto_switch: Duration::from_millis(50),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--connections" => args.connections = value().parse().expect("a count"),
            "--processes" => args.processes = value().parse().expect("a count"),
            "--batch" => args.batch = value().parse().expect("a batch size"),
            "--account-rate" => args.account_rate = value().parse().expect("posts a second"),
            "--post-share" => args.post_share = value().parse().expect("a fraction"),
            "--post-latency-ms" => args.post_latency = Duration::from_millis(value().parse().expect("milliseconds")),
            "--failing" => args.failing = value().parse().expect("a fraction"),
            "--fail-times" => args.fail_times = value().parse().expect("a count"),
            "--shard-size" => args.shard_size = Some(value().parse().expect("a shard size")),
            "--fanout-concurrency" => args.fanout_concurrency = Some(value().parse().expect("a count")),
            "--timeout" => args.timeout = Duration::from_secs(value().parse().expect("seconds")),
            "--visibility" => args.visibility = value().parse().expect("seconds"),
            "--runs" => args.runs = value().parse().expect("a count"),
            "--bootstrap" => args.bootstrap = Some(value().into()),
            "--trace" => args.trace = true,
            "--moto-switch-ms" => args.moto_switch = Duration::from_millis(value().parse().expect("milliseconds")),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn index_of(connection_id: &str) -> Option<usize> {
    connection_id.get(1..8)?.parse().ok()
}

/// The simulated Management API: the account's token bucket, the latency,
/// the failing connections, and what was delivered.
struct Gateway {
    args: Args,
    start: Instant,
    bucket: Mutex<TokenBucket<Instant>>,
    posts: AtomicU64,
    throttled: AtomicU64,
    failed: AtomicU64,
    /// Posts answered 500 so far, per connection.
    failures: Vec<AtomicU64>,
    delivered: Vec<AtomicU64>,
    last_delivery: Mutex<Option<Instant>>,
    /// Successful posts per 100 ms since `start`.
    per_tick: Mutex<Vec<u32>>,
}

impl Gateway {
    fn new(args: &Args) -> Gateway {
        let n = args.connections;
        Gateway {
            args: args.clone(),
            start: Instant::now(),
            bucket: Mutex::new(TokenBucket::full(args.account_rate, args.account_rate / 2.0, Instant::now())),
            posts: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            failures: (0..n).map(|_| AtomicU64::new(0)).collect(),
            delivered: (0..n).map(|_| AtomicU64::new(0)).collect(),
            last_delivery: Mutex::new(None),
            per_tick: Mutex::new(Vec::new()),
        }
    }

    /// Whether connection `index` fails its first posts: a fixed spread of
    /// `failing` of them.
    fn failing(&self, index: usize) -> bool {
        (index.wrapping_mul(7919) % 10_000) < (self.args.failing * 10_000.0) as usize
    }

    fn admit(&self) -> bool {
        self.bucket.lock().unwrap().take(Instant::now())
    }
}

fn error(status: StatusCode, kind: &'static str, message: &'static str) -> axum::response::Response {
    (
        status,
        [("x-amzn-ErrorType", kind), ("content-type", "application/json")],
        format!(r#"{{"message":"{message}"}}"#),
    )
        .into_response()
}

async fn post(
    State(gateway): State<Arc<Gateway>>,
    UrlPath((_stage, id)): UrlPath<(String, String)>,
    _body: Bytes,
) -> axum::response::Response {
    gateway.posts.fetch_add(1, Ordering::Relaxed);
    if !gateway.admit() {
        gateway.throttled.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException", "Rate exceeded");
    }
    tokio::time::sleep(gateway.args.post_latency).await;
    let Some(index) = index_of(&id).filter(|i| *i < gateway.args.connections) else {
        return error(StatusCode::GONE, "GoneException", "Gone");
    };
    if gateway.failing(index)
        && gateway.failures[index].fetch_add(1, Ordering::Relaxed) < u64::from(gateway.args.fail_times)
    {
        gateway.failed.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerErrorException", "Internal server error");
    }
    gateway.delivered[index].fetch_add(1, Ordering::Relaxed);
    let now = Instant::now();
    *gateway.last_delivery.lock().unwrap() = Some(now);
    let tick = ((now - gateway.start).as_millis() / 100) as usize;
    let mut per_tick = gateway.per_tick.lock().unwrap();
    if per_tick.len() <= tick {
        per_tick.resize(tick + 1, 0);
    }
    per_tick[tick] += 1;
    StatusCode::OK.into_response()
}

/// Serves `gateway`; returns the stage's endpoint.
async fn serve(gateway: Arc<Gateway>) -> String {
    let app = axum::Router::new().route("/{stage}/@connections/{id}", axum::routing::post(post)).with_state(gateway);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}/prod")
}

/// `notify`, built in release (`cargo build --release -p notify`).
fn build_notify() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "-p", "notify"])
        .current_dir(test_support::workspace_root())
        .status()
        .expect("running cargo build -p notify");
    assert!(status.success(), "cargo build --release -p notify failed");
    test_support::target_dir().join("release").join("notify")
}

/// The tables and queue, as `wschat deploy` creates them.
struct Resources {
    table: String,
    ledger: String,
    presence: String,
    queue_url: String,
}

async fn create(sdk: &aws_config::SdkConfig, run: usize, visibility: u32) -> Resources {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    let attribute =
        |name: &str, kind| AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().unwrap();
    let table = format!("bench{run}-connections");
    test_support::aws::create_connections_table(&ddb, &table, chat_core::ROOM_INDEX).await;
    let mut keyed = Vec::new();
    for (kind, hash) in [("deliveries", "shard"), ("presence", "key")] {
        let name = format!("bench{run}-{kind}");
        ddb.create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(hash, ScalarAttributeType::S))
            .attribute_definitions(attribute("part", ScalarAttributeType::N))
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key("part", KeyType::Range))
            .send()
            .await
            .unwrap_or_else(|e| panic!("creating the {kind} table: {e}"));
        keyed.push(name);
    }
    let queue_url = aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(format!("bench{run}-notifications"))
        .attributes(QueueAttributeName::VisibilityTimeout, visibility.to_string())
        .send()
        .await
        .expect("creating the queue")
        .queue_url
        .unwrap();
    let presence = keyed.pop().unwrap();
    let ledger = keyed.pop().unwrap();
    Resources { table, ledger, presence, queue_url }
}

/// One invocation, for `--trace` and the counts.
struct Invoked {
    process: usize,
    records: usize,
    began: Duration,
    took: Duration,
    failed: usize,
    answered: bool,
}

/// What the pollers share.
struct Mapping {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    args: Args,
    start: Instant,
    running: AtomicUsize,
    invoked: Mutex<Vec<Invoked>>,
    stop: tokio::sync::watch::Receiver<bool>,
}

/// One poller of the event source mapping, feeding one process.
async fn poll(mapping: Arc<Mapping>, process: usize, api: RuntimeApi) {
    let arn = "arn:aws:sqs:us-east-1:123456789012:notifications";
    while !*mapping.stop.borrow() {
        let received = chat_core::aws::receive_batch(&mapping.sqs, &mapping.queue_url, mapping.args.batch, 1).await;
        let Ok(messages) = received.inspect_err(|e| eprintln!("{e}")) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if messages.is_empty() {
            continue;
        }
        mapping.running.fetch_add(1, Ordering::SeqCst);
        let records: Vec<SqsRecord> = messages
            .iter()
            .map(|m| SqsRecord {
                message_id: m.message_id().unwrap_or_default().to_string(),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
                body: m.body().unwrap_or_default().to_string(),
                attributes: m
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), v.clone())).collect())
                    .unwrap_or_default(),
                event_source: "aws:sqs".into(),
                event_source_arn: arn.into(),
                aws_region: test_support::REGION.into(),
            })
            .collect();
        let event = serde_json::to_value(SqsEvent { records }).unwrap();
        let began = mapping.start.elapsed();
        let outcome = api.invoke(event, mapping.args.timeout, mapping.args.timeout + Duration::from_secs(2)).await;
        let took = mapping.start.elapsed() - began;
        let failed: Option<HashSet<String>> = outcome.as_ref().filter(|o| o.is_response()).and_then(|o| {
            let response: SqsBatchResponse = serde_json::from_str(&o.body).ok()?;
            Some(response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect())
        });
        let answered = failed.is_some();
        // An invocation that failed or timed out fails its whole batch.
        let failed =
            failed.unwrap_or_else(|| messages.iter().map(|m| m.message_id().unwrap_or_default().to_string()).collect());
        if let Err(e) = chat_core::aws::delete_done(&mapping.sqs, &mapping.queue_url, &messages, &failed).await {
            eprintln!("{e}");
        }
        mapping.invoked.lock().unwrap().push(Invoked {
            process,
            records: messages.len(),
            began,
            took,
            failed: failed.len(),
            answered,
        });
        mapping.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Messages the queue holds, visible, in flight or delayed.
async fn queued(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> u64 {
    let attributes = test_support::aws::queue_attributes(sqs, queue_url).await;
    ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
        .iter()
        .filter_map(|name| attributes.get(*name)?.parse::<u64>().ok())
        .sum()
}

struct Run {
    completion: Duration,
    posts: u64,
    throttled: u64,
    failed: u64,
    invocations: usize,
    records: usize,
    duplicates: u64,
    losses: usize,
    wall: Duration,
}

async fn broadcast(args: &Args, bootstrap: &Path, moto: &Moto, run: usize) -> Run {
    let wall = Instant::now();
    let sdk = test_support::aws::sdk_config(&moto.endpoint()).await;
    let resources = create(&sdk, run, args.visibility).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &resources.table, "expiresAt");
    let expires_at = chat_core::now_millis() / 1000 + chat_core::CONNECTION_TTL_SECONDS;
    futures::stream::iter(0..args.connections)
        .map(|i| {
            let connection = Connection { expires_at, ..population::connection(i) };
            let store = &store;
            async move { store.put(&connection).await.expect("writing a connection") }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;

    let gateway = Arc::new(Gateway::new(args));
    let endpoint = serve(gateway.clone()).await;
    let mut env = moto.env();
    env.extend([
        (vars::TABLE, resources.table.clone()),
        (vars::QUEUE_URL, resources.queue_url.clone()),
        (vars::MANAGEMENT_ENDPOINT, endpoint),
        (vars::DELIVERIES_TABLE, resources.ledger.clone()),
        (vars::PRESENCE_TABLE, resources.presence.clone()),
        (vars::POST_RATE, ((args.account_rate * args.post_share).floor() as u32).to_string()),
        (vars::MAX_CONCURRENCY, args.processes.max(2).to_string()),
        (vars::BATCH_SIZE, args.batch.to_string()),
    ]);
    if let Some(size) = args.shard_size {
        env.push((vars::SHARD_SIZE, size.to_string()));
    }
    if let Some(n) = args.fanout_concurrency {
        env.push((vars::FANOUT_CONCURRENCY, n.to_string()));
    }
    let logs = test_support::target_dir().join("fanout-processes");
    std::fs::create_dir_all(&logs).unwrap();
    let mut children = Vec::new();
    let mut apis = Vec::new();
    for process in 0..args.processes {
        let api = RuntimeApi::start().await;
        let log = std::fs::File::create(logs.join(format!("run{run}-notify{process}.log"))).unwrap();
        children.push(api.spawn(bootstrap, "wschat-bench-notify", &env, log.into()));
        apis.push(api);
    }
    // Warm: every process has asked for its first event.
    let ready = Instant::now() + Duration::from_secs(30);
    while apis.iter().any(|api| api.nexts().is_empty()) {
        assert!(Instant::now() < ready, "a notify process did not start within 30 s; see {}", logs.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let mapping = Arc::new(Mapping {
        sqs: sqs.clone(),
        queue_url: resources.queue_url.clone(),
        args: args.clone(),
        start,
        running: AtomicUsize::new(0),
        invoked: Mutex::default(),
        stop: stopped,
    });
    let pollers: Vec<_> =
        apis.into_iter().enumerate().map(|(process, api)| tokio::spawn(poll(mapping.clone(), process, api))).collect();
    let payload =
        Payload { compat: "hello everyone".into(), json: r#"{"type":"message","text":"hello everyone"}"#.into() };
    let start = Instant::now();
    sqs.send_message()
        .queue_url(&resources.queue_url)
        .message_body(Notice::new(Target::All, None, payload).at(chat_core::now_millis()).to_body())
        .send()
        .await
        .expect("enqueueing the notice");

    // Until everyone has it and the queue is empty, or a minute more than
    // the slowest plausible delivery.
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let everyone = gateway.delivered.iter().all(|n| n.load(Ordering::Relaxed) > 0);
        if everyone
            && mapping.running.load(Ordering::SeqCst) == 0
            && queued(&sqs, &resources.queue_url).await == 0
            && mapping.running.load(Ordering::SeqCst) == 0
        {
            break;
        }
        if Instant::now() > give_up {
            eprintln!("gave up waiting for the broadcast after 120 s");
            break;
        }
    }
    stop.send(true).unwrap();
    for poller in pollers {
        let _ = poller.await;
    }
    for mut child in children {
        let _ = child.kill().await;
    }

    let last = gateway.last_delivery.lock().unwrap().unwrap_or(start);
    let (mut duplicates, mut losses) = (0, 0);
    for n in &gateway.delivered {
        match n.load(Ordering::Relaxed) {
            0 => losses += 1,
            n => duplicates += n - 1,
        }
    }
    let invoked = std::mem::take(&mut *mapping.invoked.lock().unwrap());
    if args.trace {
        for i in &invoked {
            eprintln!(
                "process {}: {} records, {:.3} s to {:.3} s{}{}",
                i.process,
                i.records,
                i.began.as_secs_f64(),
                (i.began + i.took).as_secs_f64(),
                if i.failed > 0 { format!(", {} reported failed", i.failed) } else { String::new() },
                if i.answered { "" } else { ", no answer" },
            );
        }
        let offset = ((start - gateway.start).as_millis() / 100) as usize;
        let ticks = gateway.per_tick.lock().unwrap().clone();
        eprintln!("successful posts per 100 ms from the enqueue: {:?}", ticks.get(offset..).unwrap_or_default());
        // What the processes counted (their metrics lines), beside what the gateway saw.
        let docs: Vec<serde_json::Value> = (0..args.processes)
            .filter_map(|process| std::fs::read_to_string(logs.join(format!("run{run}-notify{process}.log"))).ok())
            .flat_map(|log| {
                log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect::<Vec<serde_json::Value>>()
            })
            .filter(|doc: &serde_json::Value| doc["_aws"].is_object())
            .collect();
        let sum = |name: &str| docs.iter().filter_map(|d| d[name].as_f64()).sum::<f64>();
        let mut delivery: Vec<f64> =
            docs.iter().filter_map(|d| d["DeliveryMs"].as_array()).flatten().filter_map(|v| v.as_f64()).collect();
        delivery.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((delivery.len() as f64 * q) as usize).min(delivery.len().saturating_sub(1));
            delivery.get(i).copied().unwrap_or(f64::NAN)
        };
        eprintln!(
            "metrics: {} posts (the gateway delivered {}), {} retried (it answered {} 500s), delivery p50 {:.0} ms, p99 {:.0} ms",
            sum("Posts"),
            gateway.delivered.iter().map(|n| n.load(Ordering::Relaxed)).sum::<u64>(),
            sum("Retried"),
            gateway.failed.load(Ordering::Relaxed),
            at(0.5),
            at(0.99),
        );
    }
    Run {
        completion: last.saturating_duration_since(start),
        posts: gateway.posts.load(Ordering::Relaxed),
        throttled: gateway.throttled.load(Ordering::Relaxed),
        failed: gateway.failed.load(Ordering::Relaxed),
        invocations: invoked.len(),
        records: invoked.iter().map(|i| i.records).sum(),
        duplicates,
        losses,
        wall: wall.elapsed(),
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let bootstrap = args.bootstrap.clone().unwrap_or_else(build_notify);
    // moto serves the segments' pages one after another, as DynamoDB serves
    // them side by side, instead of all of them at the end (see
    // test-support/moto/server.py).
    let switch = args.moto_switch.as_secs_f64().to_string();
    let moto = Moto::start_with(&[("WSCHAT_MOTO_SWITCH_INTERVAL", &switch)]);
    let post_rate = (args.account_rate * args.post_share).floor();
    eprintln!(
        "{} notify processes ({}), batch {}, post_rate {post_rate}/s; account {}/s, post {} ms, {}% of connections fail {} times",
        args.processes,
        bootstrap.display(),
        args.batch,
        args.account_rate,
        args.post_latency.as_millis(),
        args.failing * 100.0,
        args.fail_times
    );
    println!(
        "| connections | processes | completion | floor | ratio | posts | 429s | 500s | invocations | records | duplicates | losses | wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for run in 0..args.runs {
        let r = broadcast(&args, &bootstrap, &moto, run).await;
        let floor = args.connections as f64 / args.account_rate;
        let completion = r.completion.as_secs_f64();
        println!(
            "| {} | {} | {completion:.2} s | {floor:.2} s | {:.2} | {} | {} | {} | {} | {} | {} | {} | {:.1} s |",
            args.connections,
            args.processes,
            completion / floor,
            r.posts,
            r.throttled,
            r.failed,
            r.invocations,
            r.records,
            r.duplicates,
            r.losses,
            r.wall.as_secs_f64(),
        );
    }
}
