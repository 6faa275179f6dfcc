//! Fan-out benchmark: chat-core's real `handle_sqs` delivering one broadcast
//! to 1,000 ... 1,000,000 connections over simulated AWS, beside the
//! fan-out as it was before sharding ([`baseline`]).
//!
//! ```sh
//! cargo run --release -p chat-core --example fanout
//! cargo run --release -p chat-core --example fanout -- --sizes 1000,100000 --shard-size 200
//! cargo run --release -p chat-core --example fanout -- --stale-item-count
//! # the shape of the real-process benchmark (`--example fanout_processes`)
//! cargo run --release -p chat-core --example fanout -- --sizes 4000 --post-rate 1900 --max-concurrency 8 \
//!     --account-rate 2000 --post-latency-ms 100
//! ```
//!
//! `--stale-item-count` measures how a broadcast is sized instead: the table
//! reports an `ItemCount` of 0, as DynamoDB can for hours after a table
//! fills up (it refreshes the count about every six hours), with and
//! without the presence count to size by, beside a fresh `ItemCount`; no
//! connection is gone (a gone one would be announced as left with a count).
//!
//! The simulation (every figure below is a flag):
//! - **API Gateway's Management API**: a post takes 20 ms (`--post-latency-ms`);
//!   every post of the account shares one token bucket of 10,000 requests per
//!   second with a burst of 5,000 (API Gateway's default account throttle;
//!   `--account-rate`, with a burst of half a second of it), and a post
//!   above it is answered at once with 429 `LimitExceededException`. 1% of
//!   the connections are gone (410); 5% of the other posts fail with a 500,
//!   at random (seeded).
//! - **Lambda and SQS**: an event source mapping that starts five concurrent
//!   invocations when messages arrive and adds five a second (300 a minute),
//!   up to the maximum concurrency; batches of up to 10 records; a new
//!   instance's first invocation starts 120 ms late (a cold start); an
//!   invocation that outlives its timeout (10 s) is killed and its batch
//!   comes back after the visibility timeout (60 s), as do the records it
//!   reports failed; a record received 5 times goes to the dead-letter queue.
//!   A message is picked up within a poll (20 ms) of becoming visible.
//!   `SendMessage` takes 10 ms, `SendMessageBatch` 10 ms per call, 8 calls at
//!   once.
//! - **DynamoDB**: the connections in chat-core's `MemoryStore` (which splits
//!   parallel scans as DynamoDB does, by a hash of the key); a Scan page or a
//!   Query takes 10 ms, any other call 5 ms. Read units are counted as
//!   DynamoDB bills them: 4 KB per unit, half a unit for eventually
//!   consistent reads, for items of 80 bytes.
//!
//! Time is tokio's paused clock: the simulated latencies are exact, and the
//! host's cores do not stand in for a hundred Lambda instances. The wall
//! time of each run is printed too. Each broadcast's completion is the time
//! from its enqueueing to the last successful post; the floor is the
//! connections divided by the account's rate. Duplicates and losses are
//! counted per recipient at the simulated gateway.
//!
//! The cost column prices a broadcast at us-east-1's list prices: API
//! Gateway $1.00 per million messages (every post), Lambda $0.20 per million
//! invocations and $0.0000166667 per GB-second, DynamoDB $0.125 per million
//! read units and $0.625 per million write units (every ledger call counted
//! as a write, an upper bound), SQS $0.40 per million requests (the sends,
//! and a receive and a delete per invocation).

mod baseline;
mod population;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::event::{SqsEvent, SqsRecord};
use chat_core::limits::TokenBucket;
use chat_core::memory::{MemoryLedger, MemoryPresence, MemoryStore};
use chat_core::notice::{Notice, Target};
use chat_core::ports::{
    Connection, ConnectionStore, Ledger, Notifier, PortError, PortResult, Poster, Progress, ScanPage,
};
use chat_core::protocol::Payload;
use chat_core::{Ports, Settings};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

/// What the simulated AWS does.
#[derive(Debug, Clone)]
struct Model {
    post_latency: Duration,
    account_rate: f64,
    burst: f64,
    failure: f64,
    /// One connection in this many is gone.
    gone_every: usize,
    max_concurrency: usize,
    batch: usize,
    timeout: Duration,
    cold_start: Duration,
    visibility: Duration,
    max_receives: u32,
    memory_gb: f64,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            post_latency: Duration::from_millis(20),
            account_rate: 10_000.0,
            burst: 5_000.0,
            failure: 0.05,
            gone_every: 100,
            max_concurrency: 10,
            batch: 10,
            timeout: Duration::from_secs(10),
            cold_start: Duration::from_millis(120),
            visibility: Duration::from_secs(60),
            max_receives: 5,
            memory_gb: 0.25,
        }
    }
}

const ROW_BYTES: f64 = 80.0;
const SCAN_LATENCY: Duration = Duration::from_millis(10);
const CALL_LATENCY: Duration = Duration::from_millis(5);
const SQS_LATENCY: Duration = Duration::from_millis(10);
const POLL: Duration = Duration::from_millis(20);

fn index_of(connection_id: &str) -> usize {
    connection_id[1..8].parse().expect("a simulated connection id")
}

/// The connections table, with DynamoDB's latency and read units.
struct SimStore {
    rows: MemoryStore,
    read_units: Mutex<f64>,
}

impl SimStore {
    async fn filled(n: usize) -> SimStore {
        let rows = MemoryStore::new();
        for i in 0..n {
            rows.put(&population::connection(i)).await.unwrap();
        }
        SimStore { rows, read_units: Mutex::new(0.0) }
    }

    fn read(&self, rows: usize, consistent: bool) {
        let units = (rows as f64 * ROW_BYTES / 4096.0).ceil().max(1.0) * if consistent { 1.0 } else { 0.5 };
        *self.read_units.lock().unwrap() += units;
    }
}

#[async_trait]
impl ConnectionStore for SimStore {
    async fn put(&self, c: &Connection) -> PortResult<()> {
        tokio::time::sleep(CALL_LATENCY).await;
        self.rows.put(c).await
    }
    async fn get(&self, id: &str) -> PortResult<Option<Connection>> {
        tokio::time::sleep(CALL_LATENCY).await;
        self.read(1, true);
        self.rows.get(id).await
    }
    async fn delete(&self, id: &str) -> PortResult<Option<Connection>> {
        tokio::time::sleep(CALL_LATENCY).await;
        self.rows.delete(id).await
    }
    /// A consistent scan in pages of 1 MB, one after another.
    async fn all(&self) -> PortResult<Vec<Connection>> {
        let rows = self.rows.all().await?;
        let per_page = (1_048_576.0 / ROW_BYTES) as usize;
        for page in rows.chunks(per_page) {
            tokio::time::sleep(SCAN_LATENCY).await;
            self.read(page.len(), true);
        }
        Ok(rows)
    }
    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        tokio::time::sleep(SCAN_LATENCY).await;
        let rows = self.rows.in_room(room).await?;
        self.read(rows.len(), false);
        Ok(rows)
    }
    async fn estimate(&self) -> PortResult<u64> {
        tokio::time::sleep(CALL_LATENCY).await;
        self.rows.estimate().await
    }
    async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
        tokio::time::sleep(SCAN_LATENCY).await;
        let out = self.rows.scan_page(page).await?;
        self.read(out.0.len(), false);
        Ok(out)
    }
    async fn mark_typing(&self, id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
        tokio::time::sleep(CALL_LATENCY).await;
        self.rows.mark_typing(id, now, every_ms).await
    }
}

/// The delivery ledger table, with DynamoDB's latency.
#[derive(Default)]
struct SimLedger {
    inner: MemoryLedger,
    reads: AtomicU64,
    writes: AtomicU64,
}

#[async_trait]
impl Ledger for SimLedger {
    async fn read(&self, key: &str) -> PortResult<Progress> {
        tokio::time::sleep(SCAN_LATENCY).await;
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read(key).await
    }
    async fn record(&self, key: &str, part: u32, delivered: &[String]) -> PortResult<()> {
        tokio::time::sleep(CALL_LATENCY).await;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.record(key, part, delivered).await
    }
    async fn finish(&self, key: &str) -> PortResult<()> {
        tokio::time::sleep(CALL_LATENCY).await;
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.finish(key).await
    }
}

struct Message {
    id: String,
    body: String,
    receives: u32,
}

/// The notification queue.
#[derive(Default)]
struct SimQueue {
    due: Mutex<BTreeMap<(Instant, u64), Message>>,
    sequence: AtomicU64,
    calls: AtomicU64,
    dead: AtomicU64,
}

impl SimQueue {
    fn put(&self, body: String, receives: u32, at: Instant) {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        self.due.lock().unwrap().insert((at, n), Message { id: format!("m{n}"), body, receives });
    }

    fn take(&self, max: usize) -> Vec<Message> {
        let now = Instant::now();
        let mut due = self.due.lock().unwrap();
        let mut batch = Vec::new();
        while batch.len() < max && due.first_key_value().is_some_and(|(&(at, _), _)| at <= now) {
            batch.push(due.pop_first().unwrap().1);
        }
        batch
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.lock().unwrap().first_key_value().map(|(&(at, _), _)| at)
    }
}

#[async_trait]
impl Notifier for SimQueue {
    async fn send(&self, body: String, delay: u32) -> PortResult<()> {
        tokio::time::sleep(SQS_LATENCY).await;
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.put(body, 0, Instant::now() + Duration::from_secs(delay.into()));
        Ok(())
    }
    async fn send_many(&self, messages: Vec<(String, u32)>) -> PortResult<()> {
        let calls = messages.len().div_ceil(10);
        tokio::time::sleep(SQS_LATENCY * calls.div_ceil(8) as u32).await;
        self.calls.fetch_add(calls as u64, Ordering::Relaxed);
        let now = Instant::now();
        for (body, delay) in messages {
            self.put(body, 0, now + Duration::from_secs(delay.into()));
        }
        Ok(())
    }
}

/// The Management API behind API Gateway's account throttle.
struct SimPoster {
    model: Model,
    bucket: Mutex<TokenBucket<Instant>>,
    rng: Mutex<rand::rngs::StdRng>,
    received: Mutex<Vec<u8>>,
    posts: AtomicU64,
    throttled: AtomicU64,
    last_delivery: Mutex<Option<Instant>>,
    /// Successful posts per second since the start (`FANOUT_TRACE=1` prints them).
    per_second: Mutex<Vec<u32>>,
    start: Instant,
}

impl SimPoster {
    fn new(model: &Model, connections: usize) -> SimPoster {
        SimPoster {
            model: model.clone(),
            bucket: Mutex::new(TokenBucket::full(model.account_rate, model.burst, Instant::now())),
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(12)),
            received: Mutex::new(vec![0; connections]),
            posts: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            last_delivery: Mutex::new(None),
            per_second: Mutex::new(Vec::new()),
            start: Instant::now(),
        }
    }

    fn gone(&self, index: usize) -> bool {
        index % self.model.gone_every == self.model.gone_every / 3
    }

    /// Takes a token from the account's bucket, if one is left.
    fn admit(&self) -> bool {
        self.bucket.lock().unwrap().take(Instant::now())
    }
}

#[async_trait]
impl Poster for SimPoster {
    async fn close(&self, _connection_id: &str) -> PortResult<()> {
        Ok(())
    }

    async fn post(&self, connection_id: &str, _data: &[u8]) -> PortResult<()> {
        self.posts.fetch_add(1, Ordering::Relaxed);
        if !self.admit() {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(5)).await;
            return Err(PortError::Failed("429 LimitExceededException".into()));
        }
        tokio::time::sleep(self.model.post_latency).await;
        let index = index_of(connection_id);
        if self.gone(index) {
            return Err(PortError::Gone);
        }
        if self.rng.lock().unwrap().random::<f64>() < self.model.failure {
            return Err(PortError::Failed("500 InternalServerErrorException".into()));
        }
        self.received.lock().unwrap()[index] += 1;
        *self.last_delivery.lock().unwrap() = Some(Instant::now());
        let second = (Instant::now() - self.start).as_secs() as usize;
        let mut per_second = self.per_second.lock().unwrap();
        if per_second.len() <= second {
            per_second.resize(second + 1, 0);
        }
        per_second[second] += 1;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Code {
    Sharded,
    Baseline,
}

/// What a broadcast to everyone is sized by.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sizing {
    /// `ItemCount` as it is.
    Fresh,
    /// `ItemCount` 0, and no presence count.
    Stale,
    /// `ItemCount` 0, and the presence count.
    StaleWithCount,
}

impl Sizing {
    fn label(self) -> &'static str {
        match self {
            Sizing::Fresh => "",
            Sizing::Stale => ", ItemCount 0",
            Sizing::StaleWithCount => ", ItemCount 0 + online count",
        }
    }
}

/// What one broadcast cost.
struct Run {
    completion: Duration,
    posts: u64,
    throttled: u64,
    invocations: u64,
    gb_seconds: f64,
    read_units: f64,
    ledger_calls: u64,
    sqs_calls: u64,
    duplicates: usize,
    losses: usize,
    dead_letters: u64,
    wall: std::time::Duration,
}

async fn broadcast(connections: usize, code: Code, sizing: Sizing, model: &Model, settings: &Settings) -> Run {
    let wall = std::time::Instant::now();
    let store = SimStore::filled(connections).await;
    let ledger = SimLedger::default();
    let queue = SimQueue::default();
    let poster = SimPoster::new(model, connections);
    let presence = MemoryPresence::default();
    if sizing != Sizing::Fresh {
        store.rows.lag_item_count(Some(0));
    }
    if sizing == Sizing::StaleWithCount {
        let expires_at = chat_core::now_millis() / 1000 + chat_core::CONNECTION_TTL_SECONDS;
        for row in store.rows.all().await.unwrap() {
            chat_core::ports::Presence::arrive(&presence, &Connection { expires_at, ..row }).await.unwrap();
        }
    }
    let counted = (sizing == Sizing::StaleWithCount).then_some(&presence as &dyn chat_core::ports::Presence);
    let ports = Ports {
        store: &store,
        notifier: &queue,
        poster: &poster,
        ledger: &ledger,
        messages: None,
        presence: counted,
        metrics: None,
    };
    let timeout = match code {
        // Lambda's longest: the one invocation needs every second of it.
        Code::Baseline => Duration::from_secs(900),
        Code::Sharded => model.timeout,
    };

    let start = Instant::now();
    let payload =
        Payload { compat: "hello everyone".into(), json: r#"{"type":"message","text":"hello everyone"}"#.into() };
    queue.put(Notice::new(Target::All, None, payload).to_body(), 0, start);

    let mut running = FuturesUnordered::new();
    let (mut instances, mut idle, mut invocations, mut busy) = (0u64, 0u64, 0u64, Duration::ZERO);
    loop {
        let elapsed = (Instant::now() - start).as_secs_f64();
        let allowed = model.max_concurrency.min(5 + 5 * elapsed as usize);
        while running.len() < allowed {
            let batch = queue.take(model.batch);
            if batch.is_empty() {
                break;
            }
            let cold = if idle > 0 {
                idle -= 1;
                false
            } else {
                instances += 1;
                true
            };
            invocations += 1;
            if std::env::var_os("FANOUT_TRACE").is_some() && invocations <= 20 {
                eprintln!("{:.3} s: invocation {invocations} of {} records, cold {cold}", elapsed, batch.len());
            }
            running.push(invoke(ports, settings, code, batch, cold, model.cold_start, timeout));
        }
        if running.is_empty() && queue.next_due().is_none() {
            break;
        }
        // Lambda's pollers long-poll the queue: with room for an invocation,
        // a message is picked up within a poll (20 ms) of arriving.
        let mut wake = None;
        if running.len() < allowed {
            let poll = Instant::now() + POLL;
            wake = Some(queue.next_due().map_or(poll, |due| due.max(Instant::now()).min(poll)));
        } else if allowed < model.max_concurrency {
            wake = Some(start + Duration::from_secs(elapsed as u64 + 1));
        }
        let wake = wake.unwrap_or(Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            Some((batch, failed, took)) = running.next(), if !running.is_empty() => {
                idle += 1;
                busy += took;
                for message in batch {
                    if !failed.contains(&message.id) {
                        continue;
                    }
                    if message.receives + 1 >= model.max_receives {
                        queue.dead.fetch_add(1, Ordering::Relaxed);
                    } else {
                        queue.put(message.body, message.receives + 1, Instant::now() + model.visibility);
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }

    let received = poster.received.lock().unwrap().clone();
    let (mut duplicates, mut losses) = (0, 0);
    for (index, n) in received.iter().enumerate() {
        if poster.gone(index) {
            continue;
        }
        match n {
            0 => losses += 1,
            n => duplicates += usize::from(*n) - 1,
        }
    }
    let last = poster.last_delivery.lock().unwrap().unwrap_or(start);
    if std::env::var_os("FANOUT_TRACE").is_some() {
        eprintln!("{n} {code:?}: posts per second {:?}", poster.per_second.lock().unwrap(), n = connections);
    }
    let _ = instances;
    Run {
        completion: last - start,
        posts: poster.posts.load(Ordering::Relaxed),
        throttled: poster.throttled.load(Ordering::Relaxed),
        invocations,
        gb_seconds: busy.as_secs_f64() * model.memory_gb,
        read_units: *store.read_units.lock().unwrap(),
        ledger_calls: ledger.reads.load(Ordering::Relaxed) + ledger.writes.load(Ordering::Relaxed),
        sqs_calls: queue.calls.load(Ordering::Relaxed),
        duplicates,
        losses,
        dead_letters: queue.dead.load(Ordering::Relaxed),
        wall: wall.elapsed(),
    }
}

impl Run {
    /// US dollars, at the list prices in this file's header.
    fn cost(&self) -> f64 {
        let api_gateway = self.posts as f64 * 1.0e-6;
        let lambda = self.invocations as f64 * 0.2e-6 + self.gb_seconds * 0.000_016_666_7;
        let dynamodb = self.read_units * 0.125e-6 + self.ledger_calls as f64 * 0.625e-6;
        let sqs = (self.sqs_calls + 2 * self.invocations) as f64 * 0.4e-6;
        api_gateway + lambda + dynamodb + sqs
    }
}

/// One invocation: the batch, the ids of the records to deliver again (all
/// of them if it was killed), and how long it ran.
async fn invoke(
    ports: Ports<'_>,
    settings: &Settings,
    code: Code,
    batch: Vec<Message>,
    cold: bool,
    cold_start: Duration,
    timeout: Duration,
) -> (Vec<Message>, Vec<String>, Duration) {
    let began = Instant::now();
    if cold {
        tokio::time::sleep(cold_start).await;
    }
    let records = batch
        .iter()
        .map(|m| SqsRecord { message_id: m.id.clone(), body: m.body.clone(), ..SqsRecord::default() })
        .collect();
    let event = SqsEvent { records };
    let deadline = began + timeout;
    let handled = match code {
        Code::Sharded => {
            tokio::time::timeout_at(deadline, chat_core::handle_sqs(ports, settings, &event, Some(deadline))).await
        }
        Code::Baseline => tokio::time::timeout_at(deadline, baseline::handle_sqs(ports, settings, &event)).await,
    };
    let failed = match handled {
        Ok(response) => response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect(),
        Err(_) => batch.iter().map(|m| m.id.clone()).collect(),
    };
    (batch, failed, Instant::now() - began)
}

struct Args {
    sizes: Vec<usize>,
    shard_size: usize,
    post_rate: u32,
    max_concurrency: usize,
    baseline_failures_up_to: usize,
    stale_item_count: bool,
    /// The account's throttle (the burst is half a second of it), and a post's latency.
    account_rate: Option<f64>,
    post_latency: Option<Duration>,
}

fn args() -> Args {
    let defaults = Settings::default();
    let mut args = Args {
        sizes: vec![1_000, 10_000, 100_000, 1_000_000],
        shard_size: defaults.shard_size,
        post_rate: defaults.post_rate,
        max_concurrency: defaults.max_concurrency as usize,
        baseline_failures_up_to: 10_000,
        stale_item_count: false,
        account_rate: None,
        post_latency: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => args.sizes = value().split(',').map(|s| s.parse().expect("a size")).collect(),
            "--shard-size" => args.shard_size = value().parse().expect("a shard size"),
            "--post-rate" => args.post_rate = value().parse().expect("a rate"),
            "--max-concurrency" => args.max_concurrency = value().parse().expect("a concurrency"),
            "--baseline-failures-up-to" => args.baseline_failures_up_to = value().parse().expect("a size"),
            "--stale-item-count" => args.stale_item_count = true,
            "--account-rate" => args.account_rate = Some(value().parse().expect("posts a second")),
            "--post-latency-ms" => {
                args.post_latency = Some(Duration::from_millis(value().parse().expect("milliseconds")));
            }
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let args = args();
    let defaults = Model::default();
    let account_rate = args.account_rate.unwrap_or(defaults.account_rate);
    let shape = Model {
        account_rate,
        burst: args.account_rate.map_or(defaults.burst, |rate| rate / 2.0),
        post_latency: args.post_latency.unwrap_or(defaults.post_latency),
        ..defaults
    };
    let clean = Model { failure: 0.0, ..shape.clone() };
    let faulty = Model { max_concurrency: args.max_concurrency, ..shape.clone() };
    let clean_sharded = Model { max_concurrency: args.max_concurrency, ..clean.clone() };
    let sharded = Settings {
        shard_size: args.shard_size,
        post_rate: args.post_rate,
        max_concurrency: args.max_concurrency as u32,
        batch_size: faulty.batch as u32,
        ..Settings::default()
    };
    let baseline = Settings::default();
    eprintln!(
        "settings: shard_size {}, post_rate {}/s, max_concurrency {}, batch {}, fanout_concurrency {}; \
         account {}/s (burst {}), post {} ms, Lambda timeout {} s (baseline: 900 s)",
        sharded.shard_size,
        sharded.post_rate,
        sharded.max_concurrency,
        sharded.batch_size,
        sharded.fanout_concurrency,
        faulty.account_rate,
        faulty.burst,
        faulty.post_latency.as_millis(),
        faulty.timeout.as_secs()
    );
    println!(
        "| connections | fan-out | 5% failures | completion | floor | ratio | posts/s | posts | 429s | invocations | GB-s | read units | ledger calls | SQS calls | cost | duplicates | losses | DLQ | wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in &args.sizes {
        let mut runs = Vec::new();
        if args.stale_item_count {
            let present = Model { gone_every: usize::MAX, ..clean_sharded.clone() };
            for sizing in [Sizing::Fresh, Sizing::Stale, Sizing::StaleWithCount] {
                runs.push((Code::Sharded, sizing, false, present.clone(), sharded.clone()));
            }
        } else {
            runs.push((Code::Sharded, Sizing::Fresh, true, faulty.clone(), sharded.clone()));
            runs.push((Code::Sharded, Sizing::Fresh, false, clean_sharded.clone(), sharded.clone()));
            runs.push((Code::Baseline, Sizing::Fresh, false, clean.clone(), baseline.clone()));
            if n <= args.baseline_failures_up_to {
                runs.push((Code::Baseline, Sizing::Fresh, true, shape.clone(), baseline.clone()));
            }
        }
        for (code, sizing, failures, model, settings) in runs {
            let run = broadcast(n, code, sizing, &model, &settings).await;
            let floor = n as f64 / model.account_rate;
            let completion = run.completion.as_secs_f64();
            println!(
                "| {n} | {}{} | {} | {completion:.2} s | {floor:.2} s | {:.2} | {:.0} | {} | {} | {} | {:.2} | {:.0} | {} | {} | ${:.4} | {} | {} | {} | {:.1} s |",
                if code == Code::Sharded { "sharded" } else { "before" },
                sizing.label(),
                if failures { "yes" } else { "no" },
                completion / floor,
                run.posts as f64 / completion.max(1e-9),
                run.posts,
                run.throttled,
                run.invocations,
                run.gb_seconds,
                run.read_units,
                run.ledger_calls,
                run.sqs_calls,
                run.cost(),
                run.duplicates,
                run.losses,
                run.dead_letters,
                run.wall.as_secs_f64(),
            );
        }
    }
}
