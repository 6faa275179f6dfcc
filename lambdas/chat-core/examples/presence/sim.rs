//! The simulated AWS both sides run on: chat-core's memory ports behind
//! DynamoDB's latency and billing, SQS with delays, the Management API behind
//! the account's throttle, and Lambda running the chat function (one
//! invocation per WebSocket event) and the notify function (an event source
//! mapping over the queue). Time is tokio's paused clock.
//!
//! Read and write units are billed as DynamoDB bills them: an item's size is
//! its attribute names' bytes plus its values' (a number: one byte per two
//! significant digits, plus one; a map: 3 bytes, plus one per element), from
//! the items `src/aws.rs` writes. A read is rounded up to 4 KB (at least one
//! unit, even when nothing is found), half for eventually consistent reads; a
//! Query or Scan is billed on the total size it read, a 1 MB page at a time; a
//! write is rounded up to 1 KB, twice for a transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::event::{Identity, RequestContext, SqsEvent, SqsRecord, WebSocketEvent};
use chat_core::limits::{Admission, Bucket, Rate};
use chat_core::memory::{MemoryLedger, MemoryMessages, MemoryPresence, MemoryStore};
use chat_core::ports::{
    Change, ChatMessage, Connection, ConnectionStore, Digest, DigestWindow, Format, Ledger, Member, MessageStore,
    Notifier, PortError, PortResult, Poster, Presence, Progress, Put, ScanPage, Window,
};
use chat_core::presence::{BUCKET_SECONDS, DIGEST_NAMES, bucket, live_from};
use chat_core::{Ports, Settings};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::time::Instant;

use crate::before;

/// A DynamoDB item call (GetItem, PutItem, UpdateItem, DeleteItem).
const CALL: Duration = Duration::from_millis(5);
/// A Query, or a page of a Scan.
const QUERY: Duration = Duration::from_millis(10);
/// SendMessage, or one round of SendMessageBatch (8 calls at once).
const SQS: Duration = Duration::from_millis(10);
/// A post to a connection.
const POST: Duration = Duration::from_millis(20);
/// A 429 is answered at once.
const THROTTLED: Duration = Duration::from_millis(5);
/// A new notify instance's first invocation starts this late.
const COLD_START: Duration = Duration::from_millis(120);
/// The notify function's timeout.
const TIMEOUT: Duration = Duration::from_secs(10);
/// A record the notify function reported failed comes back after this.
const VISIBILITY: Duration = Duration::from_secs(60);
const MAX_RECEIVES: u32 = 5;
/// The before page's `refreshList` debounce, `WELCOME_WAIT_MS` and `HEARTBEAT_MS`.
const DEBOUNCE: Duration = Duration::from_millis(100);
const WELCOME_WAIT: Duration = Duration::from_secs(5);
const HEARTBEAT: Duration = Duration::from_secs(300);
/// The hour the benchmark prices: keepalives stop at its end.
const HOUR: f64 = 3600.0;

/// API Gateway's account throttle on the Management API, posts a second.
pub const ACCOUNT_RATE: f64 = 10_000.0;
const BURST: f64 = 5_000.0;
/// API Gateway refuses a larger message (413).
pub const MAX_FRAME: usize = 128 * 1024;
/// API Gateway bills WebSocket messages in 32 KB increments.
pub const BILLING_CHUNK: usize = 32 * 1024;
/// Both functions' memory (stack.yaml's default, 256 MB).
pub const MEMORY_GB: f64 = 0.25;
/// A DynamoDB Scan page holds at most 1 MB.
const SCAN_PAGE_BYTES: usize = 1 << 20;

/// A DynamoDB table the chat reads.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Connections = 0,
    Presence = 1,
    History = 2,
    Ledger = 3,
}

/// What a frame posted to a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Welcome = 0,
    History = 1,
    /// `joined`, `left`, `renamed`, the `presence` digest (compat: the host's
    /// message).
    Presence = 2,
    List = 3,
    Message = 4,
    /// Acks and error frames.
    Other = 5,
}

/// What a run used, in the units AWS bills. Counts are `f64` so that a
/// representative call can be multiplied by how often the model makes it.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub reads: [f64; 4],
    pub writes: [f64; 4],
    pub sqs: f64,
    pub chat: f64,
    pub chat_gb_s: f64,
    pub notify: f64,
    /// Queue records the notify function handled.
    pub records: f64,
    pub notify_gb_s: f64,
    /// Posts API Gateway took (past the throttle), by [`Kind`].
    pub posts: [f64; 6],
    /// Messages billed for those posts, in 32 KB increments.
    pub billed: f64,
    /// Posts answered 429 by the throttle.
    pub throttled: f64,
    /// Posts refused for their size (413).
    pub refused: f64,
    /// Frames clients sent that reached the chat function.
    pub inbound: f64,
    /// `list` requests among them.
    pub lists: f64,
    /// Digest windows opened (each sends one digest to everyone).
    pub digests: f64,
    /// The largest frame posted (or refused), in bytes.
    pub largest: usize,
}

impl Tally {
    pub fn since(&self, earlier: &Tally) -> Tally {
        self.combine(earlier, -1.0)
    }

    pub fn scaled(&self, k: f64) -> Tally {
        self.clone().map(k)
    }

    pub fn add(&mut self, other: &Tally) {
        *self = self.combine(other, 1.0);
    }

    pub fn reads_total(&self) -> f64 {
        self.reads.iter().sum()
    }

    pub fn writes_total(&self) -> f64 {
        self.writes.iter().sum()
    }

    pub fn posts_total(&self) -> f64 {
        self.posts.iter().sum::<f64>() + self.refused
    }

    fn combine(&self, other: &Tally, sign: f64) -> Tally {
        let pair = |a: &[f64], b: &[f64], out: &mut [f64]| {
            for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
                *o = a + sign * b;
            }
        };
        let mut t = Tally::default();
        pair(&self.reads, &other.reads, &mut t.reads);
        pair(&self.writes, &other.writes, &mut t.writes);
        pair(&self.posts, &other.posts, &mut t.posts);
        t.sqs = self.sqs + sign * other.sqs;
        t.chat = self.chat + sign * other.chat;
        t.chat_gb_s = self.chat_gb_s + sign * other.chat_gb_s;
        t.notify = self.notify + sign * other.notify;
        t.records = self.records + sign * other.records;
        t.notify_gb_s = self.notify_gb_s + sign * other.notify_gb_s;
        t.billed = self.billed + sign * other.billed;
        t.throttled = self.throttled + sign * other.throttled;
        t.refused = self.refused + sign * other.refused;
        t.inbound = self.inbound + sign * other.inbound;
        t.lists = self.lists + sign * other.lists;
        t.digests = self.digests + sign * other.digests;
        t.largest = self.largest.max(other.largest);
        t
    }

    fn map(mut self, k: f64) -> Tally {
        for x in self.reads.iter_mut().chain(&mut self.writes).chain(&mut self.posts) {
            *x *= k;
        }
        for x in [
            &mut self.sqs,
            &mut self.chat,
            &mut self.chat_gb_s,
            &mut self.notify,
            &mut self.records,
            &mut self.notify_gb_s,
            &mut self.billed,
            &mut self.throttled,
            &mut self.refused,
            &mut self.inbound,
            &mut self.lists,
            &mut self.digests,
        ] {
            *x *= k;
        }
        self
    }
}

type Meter = Arc<Mutex<Tally>>;

fn meter(meter: &Meter, f: impl FnOnce(&mut Tally)) {
    f(&mut meter.lock().unwrap());
}

// ------------------------------------------------------------ item sizes

/// The bytes of a DynamoDB number.
pub fn number_bytes(value: i64) -> usize {
    let digits = value.unsigned_abs().to_string();
    digits.trim_end_matches('0').len().max(1).div_ceil(2) + 1
}

fn s(name: &str, value: &str) -> usize {
    name.len() + value.len()
}

fn n(name: &str, value: i64) -> usize {
    name.len() + number_bytes(value)
}

/// A row of the connections table (`DynamoStore::item`).
pub fn row_bytes(c: &Connection) -> usize {
    let format = match c.format {
        Format::Compat => "compat",
        Format::Json => "json",
    };
    s("connectionId", &c.connection_id)
        + s("name", &c.name)
        + s("format", format)
        + n("connectedAt", c.connected_at)
        + n("expiresAt", c.expires_at)
        + c.room.as_deref().map_or(0, |r| s("room", r))
        + c.sub.as_deref().map_or(0, |sub| s("sub", sub))
}

/// An item of the messages table (`DynamoMessages::item`).
fn message_bytes(m: &ChatMessage) -> usize {
    s("conversation", &m.conversation)
        + s("id", &m.id)
        + s("action", &m.action)
        + s("from", &m.from)
        + s("connectionId", &m.connection_id)
        + s("text", &m.text)
        + n("timestamp", m.timestamp)
        + n("expiresAt", m.expires_at)
        + m.sub.as_deref().map_or(0, |sub| s("sub", sub))
        + m.client_id.as_deref().map_or(0, |c| s("clientId", c))
}

/// A message's de-duplication record.
fn dedupe_bytes(m: &ChatMessage) -> usize {
    let client_id = m.client_id.as_deref().unwrap_or_default();
    s("conversation", &m.conversation)
        + s("id", &format!("dedupe#{client_id}"))
        + s("messageId", &m.id)
        + n("timestamp", m.timestamp)
        + n("expiresAt", m.expires_at)
}

/// A count bucket of the presence table.
fn bucket_bytes(minute: i64, count: i64) -> usize {
    s("key", "online") + n("part", minute) + n("n", count) + n("expiresAt", minute + BUCKET_SECONDS + 3600)
}

/// A digest item of the presence table, names and all.
fn digest_bytes(window: DigestWindow, d: &Digest) -> usize {
    let member = |slot: String, m: &Member| slot.len() + 3 + 2 + s("id", &m.connection_id) + s("name", &m.name);
    let named: usize = d.joined.iter().enumerate().map(|(i, m)| member(format!("j{}", i + 1), m)).sum::<usize>()
        + d.left.iter().enumerate().map(|(i, m)| member(format!("l{}", i + 1), m)).sum::<usize>();
    let counted = |name: &str, v: u64| if v > 0 { n(name, v as i64) } else { 0 };
    s("key", &format!("digest#{}", window.seconds))
        + n("part", window.index)
        + n("events", (d.joined_count + d.left_count) as i64)
        + counted("joined", d.joined_count)
        + counted("left", d.left_count)
        + n("expiresAt", window.end_ms() / 1000 + 3600)
        + named
}

/// A part of the delivery ledger (`DynamoLedger::put`).
fn ledger_bytes(key: &str, part: u32, delivered: &[String]) -> usize {
    let ids: usize = delivered.iter().map(String::len).sum();
    s("shard", key)
        + n("part", part.into())
        + n("expiresAt", 1_764_700_000)
        + if delivered.is_empty() { 0 } else { "delivered".len() + ids }
}

fn read_units(bytes: usize, consistent: bool) -> f64 {
    (bytes.max(1) as f64 / 4096.0).ceil() * if consistent { 1.0 } else { 0.5 }
}

fn write_units(bytes: usize) -> f64 {
    (bytes.max(1) as f64 / 1024.0).ceil()
}

// ------------------------------------------------------------ the tables

/// The connections table.
pub struct SimStore {
    pub rows: MemoryStore,
    meter: Meter,
}

impl SimStore {
    fn read(&self, units: f64) {
        meter(&self.meter, |t| t.reads[Table::Connections as usize] += units);
    }

    fn write(&self, units: f64) {
        meter(&self.meter, |t| t.writes[Table::Connections as usize] += units);
    }
}

#[async_trait]
impl ConnectionStore for SimStore {
    async fn put(&self, c: &Connection) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        self.write(write_units(row_bytes(c)));
        self.rows.put(c).await
    }
    async fn get(&self, id: &str) -> PortResult<Option<Connection>> {
        tokio::time::sleep(CALL).await;
        let row = self.rows.get(id).await?;
        self.read(read_units(row.as_ref().map_or(1, row_bytes), true));
        Ok(row)
    }
    async fn delete(&self, id: &str) -> PortResult<Option<Connection>> {
        tokio::time::sleep(CALL).await;
        let row = self.rows.delete(id).await?;
        self.write(write_units(row.as_ref().map_or(1, row_bytes)));
        Ok(row)
    }
    /// A consistent Scan, 1 MB a page, one page after another.
    async fn all(&self) -> PortResult<Vec<Connection>> {
        let rows = self.rows.all().await?;
        let mut page = 0;
        for row in &rows {
            let bytes = row_bytes(row);
            if page + bytes > SCAN_PAGE_BYTES {
                tokio::time::sleep(QUERY).await;
                self.read(read_units(page, true));
                page = 0;
            }
            page += bytes;
        }
        tokio::time::sleep(QUERY).await;
        self.read(read_units(page, true));
        Ok(rows)
    }
    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        tokio::time::sleep(QUERY).await;
        let rows = self.rows.in_room(room).await?;
        self.read(read_units(rows.iter().map(row_bytes).sum(), false));
        Ok(rows)
    }
    /// DescribeTable's `ItemCount`: no read units.
    async fn estimate(&self) -> PortResult<u64> {
        tokio::time::sleep(CALL).await;
        self.rows.estimate().await
    }
    /// An eventually consistent Scan page.
    async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
        tokio::time::sleep(QUERY).await;
        let out = self.rows.scan_page(page).await?;
        self.read(read_units(out.0.iter().map(row_bytes).sum(), false));
        Ok(out)
    }
    async fn mark_typing(&self, id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
        tokio::time::sleep(CALL).await;
        self.write(1.0);
        self.rows.mark_typing(id, now, every_ms).await
    }
}

/// The messages table (the chat's history).
pub struct SimMessages {
    pub inner: MemoryMessages,
    meter: Meter,
}

#[async_trait]
impl MessageStore for SimMessages {
    async fn put(&self, m: &ChatMessage) -> PortResult<Put> {
        tokio::time::sleep(CALL).await;
        // With a clientId: a transaction of the message and its record, billed twice.
        let units = match m.client_id {
            Some(_) => 2.0 * (write_units(message_bytes(m)) + write_units(dedupe_bytes(m))),
            None => write_units(message_bytes(m)),
        };
        meter(&self.meter, |t| t.writes[Table::History as usize] += units);
        self.inner.put(m).await
    }
    /// A consistent Query for `limit + 2` items, as `DynamoMessages::page`
    /// asks (its filter on `expiresAt` reads them all the same).
    async fn page(
        &self,
        conversation: &str,
        window: Window<'_>,
        limit: usize,
        now: i64,
    ) -> PortResult<(Vec<ChatMessage>, bool)> {
        tokio::time::sleep(QUERY).await;
        let (mut read, _) = self.inner.page(conversation, window, limit + 2, now).await?;
        let units = read_units(read.iter().map(message_bytes).sum(), true);
        meter(&self.meter, |t| t.reads[Table::History as usize] += units);
        let more = read.len() > limit;
        match window {
            Window::Since(_) => read.truncate(limit),
            _ => {
                let extra = read.len().saturating_sub(limit);
                read.drain(..extra);
            }
        }
        Ok((read, more))
    }
}

/// The presence table: chat-core's `MemoryPresence`, with the items'
/// sizes kept beside it.
pub struct SimPresence {
    inner: MemoryPresence,
    buckets: Mutex<BTreeMap<i64, i64>>,
    meter: Meter,
}

impl SimPresence {
    async fn add(&self, c: &Connection, by: i64) {
        tokio::time::sleep(CALL).await;
        let minute = bucket(c.expires_at);
        let count = {
            let mut buckets = self.buckets.lock().unwrap();
            let n = buckets.entry(minute).or_default();
            *n += by;
            *n
        };
        let units = write_units(bucket_bytes(minute, count));
        meter(&self.meter, |t| t.writes[Table::Presence as usize] += units);
    }
}

#[async_trait]
impl Presence for SimPresence {
    async fn arrive(&self, c: &Connection) -> PortResult<()> {
        self.add(c, 1).await;
        self.inner.arrive(c).await
    }
    async fn depart(&self, c: &Connection) -> PortResult<()> {
        self.add(c, -1).await;
        self.inner.depart(c).await
    }
    /// An eventually consistent Query of the buckets still to come.
    async fn count(&self, now: i64) -> PortResult<u64> {
        tokio::time::sleep(QUERY).await;
        let bytes: usize =
            self.buckets.lock().unwrap().range(live_from(now)..).map(|(m, n)| bucket_bytes(*m, *n)).sum();
        meter(&self.meter, |t| t.reads[Table::Presence as usize] += read_units(bytes, false));
        self.inner.count(now).await
    }
    /// One UpdateItem, and a second that names the first ten of each kind.
    async fn note(&self, window: DigestWindow, change: Change, who: &Member) -> PortResult<bool> {
        tokio::time::sleep(CALL).await;
        let first = self.inner.note(window, change, who).await?;
        let digest = self.inner.digest(window).await?;
        let nth = match change {
            Change::Joined => digest.joined_count,
            Change::Left => digest.left_count,
        };
        let units = write_units(digest_bytes(window, &digest));
        let named = nth <= DIGEST_NAMES as u64;
        if named {
            tokio::time::sleep(CALL).await;
        }
        meter(&self.meter, |t| {
            t.writes[Table::Presence as usize] += if named { 2.0 * units } else { units };
            t.digests += f64::from(u8::from(first));
        });
        Ok(first)
    }
    /// A consistent GetItem.
    async fn digest(&self, window: DigestWindow) -> PortResult<Digest> {
        tokio::time::sleep(CALL).await;
        let digest = self.inner.digest(window).await?;
        let units = read_units(digest_bytes(window, &digest), true);
        meter(&self.meter, |t| t.reads[Table::Presence as usize] += units);
        Ok(digest)
    }
    /// Conditional UpdateItems of an item well under 1 KB: one when the
    /// frame is admitted at the first try (a bucket full or new, as every
    /// bucket in this crowd is), three when it is refused (two failed
    /// conditions, which DynamoDB bills too, and the strike).
    async fn admit(&self, who: &str, bucket: Bucket, rate: Rate, now: i64) -> PortResult<Admission> {
        tokio::time::sleep(CALL).await;
        let admission = self.inner.admit(who, bucket, rate, now).await?;
        let units = match admission {
            Admission::Admitted => 1.0,
            Admission::Refused { .. } => 3.0,
        };
        meter(&self.meter, |t| t.writes[Table::Presence as usize] += units);
        Ok(admission)
    }
    async fn ban(&self, who: &str, until: i64) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        meter(&self.meter, |t| t.writes[Table::Presence as usize] += 1.0);
        self.inner.ban(who, until).await
    }
    /// A consistent GetItem of the ban item (absent: still one read unit).
    async fn banned(&self, who: &str, now: i64) -> PortResult<Option<i64>> {
        tokio::time::sleep(CALL).await;
        meter(&self.meter, |t| t.reads[Table::Presence as usize] += read_units(1, true));
        self.inner.banned(who, now).await
    }
}

/// The delivery ledger.
pub struct SimLedger {
    inner: MemoryLedger,
    bytes: Mutex<HashMap<String, usize>>,
    meter: Meter,
}

impl SimLedger {
    fn put(&self, key: &str, part: u32, delivered: &[String]) {
        let size = ledger_bytes(key, part, delivered);
        *self.bytes.lock().unwrap().entry(key.to_string()).or_default() += size;
        meter(&self.meter, |t| t.writes[Table::Ledger as usize] += write_units(size));
    }
}

#[async_trait]
impl Ledger for SimLedger {
    /// A consistent Query of the record's parts.
    async fn read(&self, key: &str) -> PortResult<Progress> {
        tokio::time::sleep(QUERY).await;
        let bytes = self.bytes.lock().unwrap().get(key).copied().unwrap_or_default();
        meter(&self.meter, |t| t.reads[Table::Ledger as usize] += read_units(bytes, true));
        self.inner.read(key).await
    }
    async fn record(&self, key: &str, part: u32, delivered: &[String]) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        self.put(key, part.max(1), delivered);
        self.inner.record(key, part, delivered).await
    }
    async fn finish(&self, key: &str) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        self.put(key, 0, &[]);
        self.inner.finish(key).await
    }
}

// ------------------------------------------------------------ SQS

pub struct Message {
    id: String,
    pub body: String,
    receives: u32,
}

/// The notification queue: messages by when they become visible.
pub struct SimQueue {
    due: Mutex<BTreeMap<(Instant, u64), Message>>,
    sequence: Mutex<u64>,
    meter: Meter,
}

impl SimQueue {
    pub fn put(&self, body: String, receives: u32, at: Instant) {
        let n = {
            let mut sequence = self.sequence.lock().unwrap();
            *sequence += 1;
            *sequence
        };
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

    /// Every message, delivered or not, in the order they were sent.
    pub fn take_all(&self) -> Vec<Message> {
        let mut all: Vec<((Instant, u64), Message)> =
            std::mem::take(&mut *self.due.lock().unwrap()).into_iter().collect();
        all.sort_by_key(|((_, n), _)| *n);
        all.into_iter().map(|(_, m)| m).collect()
    }
}

#[async_trait]
impl Notifier for SimQueue {
    async fn send(&self, body: String, delay: u32) -> PortResult<()> {
        tokio::time::sleep(SQS).await;
        meter(&self.meter, |t| t.sqs += 1.0);
        self.put(body, 0, Instant::now() + Duration::from_secs(delay.into()));
        Ok(())
    }
    async fn send_many(&self, messages: Vec<(String, u32)>) -> PortResult<()> {
        let calls = messages.len().div_ceil(10);
        tokio::time::sleep(SQS * calls.div_ceil(8) as u32).await;
        meter(&self.meter, |t| t.sqs += calls as f64);
        let now = Instant::now();
        for (body, delay) in messages {
            self.put(body, 0, now + Duration::from_secs(delay.into()));
        }
        Ok(())
    }
}

// ------------------------------------------------------------ API Gateway

/// The Management API behind the account's throttle (10,000 posts a second,
/// a burst of 5,000): a post above it is answered 429 at once; a frame over
/// 128 KB is refused (413). Nothing else fails.
pub struct SimPoster {
    bucket: Mutex<(f64, Instant)>,
    meter: Meter,
    start: Instant,
    /// Presence posts in each second since the start.
    pub presence_per_second: Mutex<Vec<u32>>,
    /// Whether the pages react to what they receive.
    pages: Pages,
    /// What JSON pages received that they react to: welcomes and presence frames.
    received: Mutex<Vec<(String, Kind)>>,
    /// When the last frame of each chat message (by its `msg#n` marker) was delivered.
    pub message_delivered: Mutex<BTreeMap<u32, Instant>>,
}

impl SimPoster {
    fn admit(&self) -> bool {
        let mut bucket = self.bucket.lock().unwrap();
        let now = Instant::now();
        let refill = (now - bucket.1).as_secs_f64() * ACCOUNT_RATE;
        bucket.0 = (bucket.0 + refill).min(BURST);
        bucket.1 = now;
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            true
        } else {
            false
        }
    }

    fn take_received(&self) -> Vec<(String, Kind)> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

/// What a frame is, from its first bytes.
pub fn kind_of(frame: &[u8]) -> Kind {
    if let Some(rest) = frame.strip_prefix(b"{\"type\":\"") {
        let end = rest.iter().position(|&b| b == b'"').unwrap_or(0);
        return match &rest[..end] {
            b"welcome" => Kind::Welcome,
            b"history" => Kind::History,
            b"joined" | b"left" | b"renamed" | b"presence" => Kind::Presence,
            b"list" => Kind::List,
            b"message" => Kind::Message,
            _ => Kind::Other,
        };
    }
    if frame.starts_with(b"Welcome! ") {
        Kind::Welcome
    } else if frame.starts_with(b"connections: ") {
        Kind::List
    } else if frame.starts_with(b"{\"action\":\"message\",\"from\":\"#host\"") {
        Kind::Presence
    } else if frame.windows(4).any(|w| w == b"msg#") {
        Kind::Message
    } else {
        Kind::Other
    }
}

/// The `n` of a chat message's `msg#n` marker.
fn marker(frame: &[u8]) -> Option<u32> {
    let at = frame.windows(4).position(|w| w == b"msg#")? + 4;
    let digits: String = frame[at..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
    digits.parse().ok()
}

#[async_trait]
impl Poster for SimPoster {
    /// Nobody floods here: only a flooder is closed.
    async fn close(&self, _connection_id: &str) -> PortResult<()> {
        tokio::time::sleep(POST).await;
        Ok(())
    }

    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()> {
        if !self.admit() {
            meter(&self.meter, |t| t.throttled += 1.0);
            tokio::time::sleep(THROTTLED).await;
            return Err(PortError::Failed("429 LimitExceededException".into()));
        }
        tokio::time::sleep(POST).await;
        let kind = kind_of(data);
        if data.len() > MAX_FRAME {
            meter(&self.meter, |t| {
                t.refused += 1.0;
                t.largest = t.largest.max(data.len());
            });
            return Err(PortError::Refused("413 PayloadTooLargeException".into()));
        }
        meter(&self.meter, |t| {
            t.posts[kind as usize] += 1.0;
            t.billed += data.len().div_ceil(BILLING_CHUNK).max(1) as f64;
            t.largest = t.largest.max(data.len());
        });
        let now = Instant::now();
        if self.pages != Pages::Passive && matches!(kind, Kind::Welcome | Kind::Presence) && data.starts_with(b"{") {
            self.received.lock().unwrap().push((connection_id.to_string(), kind));
        }
        match kind {
            Kind::Presence => {
                let second = (now - self.start).as_secs() as usize;
                let mut per_second = self.presence_per_second.lock().unwrap();
                if per_second.len() <= second {
                    per_second.resize(second + 1, 0);
                }
                per_second[second] += 1;
            }
            Kind::Message => {
                if let Some(n) = marker(data) {
                    self.message_delivered.lock().unwrap().insert(n, now);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

// ------------------------------------------------------------ the crowd

/// Which code handles the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// f84f0a9's handlers ([`before`]), no presence table.
    Before,
    /// chat-core's handlers, with the presence table.
    After,
}

/// How the JSON pages behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// They send only what the schedule says.
    Passive,
    /// docs/presence.md's page: `list` when the welcome arrives (its pings
    /// are counted, not run).
    After,
    /// f84f0a9's `wwwroot/app.js`: `list` when the welcome arrives or 5 s
    /// after connecting (`WELCOME_WAIT_MS`), 100 ms after the last
    /// `joined`/`left` (`refreshList`), and every 5 minutes (`HEARTBEAT_MS`)
    /// until the hour ends.
    Before,
}

/// Something a person (or their page) does.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Connect(usize),
    List(usize),
    /// Person, and the chat message's number.
    Send(usize, u32),
    Leave(usize),
    /// A before page's timers: the debounce's `list`, going online without
    /// a welcome, the keepalive.
    Refresh(usize),
    Online(usize),
    Heartbeat(usize),
}

/// The events to run, by when.
pub type Schedule = BTreeMap<(Instant, u64), Event>;

/// A connection id of API Gateway's length (16 characters).
pub fn connection_id(person: usize) -> String {
    format!("C{person:014}=")
}

pub fn person_of(connection_id: &str) -> usize {
    connection_id[1..15].parse().expect("a simulated connection id")
}

/// Half the crowd uses the page (JSON), half wscat (compat).
pub fn is_json(person: usize) -> bool {
    person % 2 == 1
}

/// Everyone connects from an address of their own, as API Gateway reports it.
fn source_ip(person: usize) -> String {
    format!("10.{}.{}.{}", person >> 16 & 255, person >> 8 & 255, person & 255)
}

/// A display name as long as the chat's anonymous ones (16 characters).
pub fn name(person: usize) -> String {
    format!("Anonymous-{person:06}")
}

/// Everything one run owns.
pub struct Sim {
    pub start: Instant,
    /// Epoch ms at `start`.
    pub epoch0: i64,
    pub store: SimStore,
    pub messages: SimMessages,
    pub presence: SimPresence,
    pub ledger: SimLedger,
    pub queue: SimQueue,
    pub poster: SimPoster,
    meter: Meter,
    /// Notify instances that are warm and idle.
    idle: Mutex<usize>,
}

impl Sim {
    pub fn new(epoch0: i64, pages: Pages) -> Sim {
        let meter: Meter = Arc::default();
        let start = Instant::now();
        Sim {
            start,
            epoch0,
            store: SimStore { rows: MemoryStore::new(), meter: meter.clone() },
            messages: SimMessages { inner: MemoryMessages::new(), meter: meter.clone() },
            presence: SimPresence { inner: MemoryPresence::new(), buckets: Mutex::default(), meter: meter.clone() },
            ledger: SimLedger { inner: MemoryLedger::new(), bytes: Mutex::default(), meter: meter.clone() },
            queue: SimQueue { due: Mutex::default(), sequence: Mutex::default(), meter: meter.clone() },
            poster: SimPoster {
                bucket: Mutex::new((BURST, start)),
                meter: meter.clone(),
                start,
                presence_per_second: Mutex::default(),
                pages,
                received: Mutex::default(),
                message_delivered: Mutex::default(),
            },
            meter,
            idle: Mutex::new(0),
        }
    }

    pub fn ports(&self, side: Side) -> Ports<'_> {
        Ports {
            store: &self.store,
            notifier: &self.queue,
            poster: &self.poster,
            ledger: &self.ledger,
            messages: Some(&self.messages),
            presence: match side {
                Side::Before => None,
                Side::After => Some(&self.presence),
            },
        }
    }

    pub fn tally(&self) -> Tally {
        self.meter.lock().unwrap().clone()
    }

    /// Epoch milliseconds at `at`.
    pub fn epoch(&self, at: Instant) -> i64 {
        self.epoch0 + (at - self.start).as_millis() as i64
    }

    /// The instant `seconds` after the start.
    pub fn at(&self, seconds: f64) -> Instant {
        self.start + Duration::from_secs_f64(seconds)
    }

    /// The row `$connect` writes for `person`, had it connected at `at`.
    pub fn row(&self, person: usize, at: Instant) -> Connection {
        let connected_at = self.epoch(at);
        Connection {
            connection_id: connection_id(person),
            name: name(person),
            sub: None,
            format: if is_json(person) { Format::Json } else { Format::Compat },
            room: None,
            connected_at,
            expires_at: connected_at / 1000 + chat_core::CONNECTION_TTL_SECONDS,
        }
    }

    fn websocket_event(&self, event: Event) -> WebSocketEvent {
        let now = self.epoch(Instant::now());
        let (person, route, body) = match event {
            Event::Connect(p) => (p, "$connect", None),
            Event::Leave(p) => (p, "$disconnect", None),
            Event::List(p) => (p, "list", Some(r#"{"action":"list"}"#.to_string())),
            Event::Send(p, n) if is_json(p) => (
                p,
                "send",
                Some(format!(
                    r#"{{"action":"send","text":"msg#{n} has anyone tried the new build?","clientId":"c{p}-{n}"}}"#
                )),
            ),
            Event::Send(p, n) => {
                (p, "sendmessage", Some(format!(r#"{{"action":"sendmessage","data":"msg#{n} works for me"}}"#)))
            }
            Event::Refresh(_) | Event::Online(_) | Event::Heartbeat(_) => unreachable!("a page's own timer"),
        };
        let event_type = match route {
            "$connect" => "CONNECT",
            "$disconnect" => "DISCONNECT",
            _ => "MESSAGE",
        };
        let query = matches!(event, Event::Connect(_)).then(|| {
            let format = if is_json(person) { "json" } else { "compat" };
            [("username".to_string(), name(person)), ("format".to_string(), format.to_string())].into()
        });
        WebSocketEvent {
            request_context: RequestContext {
                route_key: route.into(),
                event_type: event_type.into(),
                connection_id: connection_id(person),
                connected_at: if matches!(event, Event::Connect(_)) { now } else { 0 },
                request_time_epoch: now,
                identity: Some(Identity { source_ip: source_ip(person), user_agent: None }),
                ..RequestContext::default()
            },
            body,
            query_string_parameters: query,
            ..WebSocketEvent::default()
        }
    }
}

/// One invocation of the chat function.
async fn chat_call(sim: &Sim, side: Side, settings: &Settings, event: Event) {
    let began = Instant::now();
    let ws = sim.websocket_event(event);
    match side {
        Side::Before => drop(before::handle_websocket(sim.ports(side), settings, &ws).await),
        Side::After => drop(chat_core::handle_websocket(sim.ports(side), settings, &ws).await),
    }
    let took = (Instant::now() - began).as_secs_f64();
    meter(&sim.meter, |t| {
        t.chat += 1.0;
        t.chat_gb_s += took * MEMORY_GB;
        if matches!(event, Event::List(_) | Event::Send(..)) {
            t.inbound += 1.0;
        }
        if matches!(event, Event::List(_)) {
            t.lists += 1.0;
        }
    });
}

/// One invocation of the notify function: the batch, and the ids of the
/// records SQS delivers again (all of them if it was killed).
async fn notify_call(sim: &Sim, side: Side, settings: &Settings, batch: Vec<Message>) -> (Vec<Message>, Vec<String>) {
    let began = Instant::now();
    let cold = {
        let mut idle = sim.idle.lock().unwrap();
        let cold = *idle == 0;
        *idle = idle.saturating_sub(1);
        cold
    };
    if cold {
        tokio::time::sleep(COLD_START).await;
    }
    let records = batch
        .iter()
        .map(|m| SqsRecord { message_id: m.id.clone(), body: m.body.clone(), ..SqsRecord::default() })
        .collect();
    let event = SqsEvent { records };
    let deadline = began + TIMEOUT;
    let handled =
        tokio::time::timeout_at(deadline, chat_core::handle_sqs(sim.ports(side), settings, &event, Some(deadline)))
            .await;
    let failed = match handled {
        Ok(response) => response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect(),
        Err(_) => batch.iter().map(|m| m.id.clone()).collect(),
    };
    let took = (Instant::now() - began).as_secs_f64();
    meter(&sim.meter, |t| {
        t.notify += 1.0;
        t.records += batch.len() as f64;
        t.notify_gb_s += took * MEMORY_GB;
        // The mapping's ReceiveMessage and DeleteMessageBatch.
        t.sqs += 2.0;
    });
    *sim.idle.lock().unwrap() += 1;
    (batch, failed)
}

/// What the before pages hold: who is online (welcomed, or 5 s on), who
/// left, and each page's pending debounce.
#[derive(Default)]
struct PageState {
    online: HashMap<usize, bool>,
    gone: HashMap<usize, bool>,
    refresh: HashMap<usize, Instant>,
}

/// Runs `schedule`, and (when `deliver`) the notify function over the queue,
/// until nothing is left to do. The pages add their own `list`s (and
/// timers) to the schedule as they receive frames ([`Pages`]).
pub async fn run(sim: &Sim, side: Side, settings: &Settings, mut schedule: Schedule, deliver: bool) {
    let mut sequence = u64::MAX / 2;
    let mut next = || {
        sequence += 1;
        sequence
    };
    let mut pages = PageState::default();
    let mut calls = FuturesUnordered::new();
    let mut running = FuturesUnordered::new();
    let max_concurrency = settings.max_concurrency.max(1) as usize;
    let hour_end = sim.at(HOUR);
    loop {
        let now = Instant::now();
        for (id, kind) in sim.poster.take_received() {
            let person = person_of(&id);
            match (sim.poster.pages, kind) {
                (Pages::After, Kind::Welcome) => {
                    schedule.insert((now, next()), Event::List(person));
                }
                (Pages::Before, Kind::Welcome) => {
                    schedule.insert((now, next()), Event::Online(person));
                }
                (Pages::Before, Kind::Presence) => {
                    let due = now + DEBOUNCE;
                    pages.refresh.insert(person, due);
                    schedule.insert((due, next()), Event::Refresh(person));
                }
                _ => {}
            }
        }
        while let Some(entry) = schedule.first_entry() {
            let at = entry.key().0;
            if at > now {
                break;
            }
            let event = entry.remove();
            let list = match event {
                Event::Refresh(p) => pages.refresh.get(&p) == Some(&at),
                Event::Online(p) => {
                    let was = pages.online.insert(p, true).unwrap_or_default();
                    if !was {
                        schedule.insert((at + HEARTBEAT, next()), Event::Heartbeat(p));
                    }
                    !was
                }
                Event::Heartbeat(p) => {
                    let alive = !pages.gone.contains_key(&p) && at < hour_end;
                    if alive {
                        schedule.insert((at + HEARTBEAT, next()), Event::Heartbeat(p));
                    }
                    alive
                }
                Event::Connect(p) | Event::Leave(p) => {
                    if sim.poster.pages == Pages::Before && is_json(p) {
                        match event {
                            Event::Connect(_) => drop(schedule.insert((at + WELCOME_WAIT, next()), Event::Online(p))),
                            _ => drop(pages.gone.insert(p, true)),
                        }
                    }
                    calls.push(chat_call(sim, side, settings, event));
                    continue;
                }
                Event::List(_) | Event::Send(..) => {
                    calls.push(chat_call(sim, side, settings, event));
                    continue;
                }
            };
            if list {
                let p = match event {
                    Event::Refresh(p) | Event::Online(p) | Event::Heartbeat(p) => p,
                    _ => unreachable!(),
                };
                calls.push(chat_call(sim, side, settings, Event::List(p)));
            }
        }
        while deliver && running.len() < max_concurrency {
            let batch = sim.queue.take(settings.batch_size.max(1) as usize);
            if batch.is_empty() {
                break;
            }
            running.push(notify_call(sim, side, settings, batch));
        }
        let queued = if deliver { sim.queue.next_due() } else { None };
        if calls.is_empty() && running.is_empty() && schedule.is_empty() && queued.is_none() {
            return;
        }
        let mut wake = schedule.first_key_value().map(|(&(at, _), _)| at);
        if running.len() < max_concurrency
            && let Some(due) = queued
        {
            wake = Some(wake.map_or(due, |w| w.min(due)));
        }
        let wake = wake.unwrap_or(now + Duration::from_secs(3600)).max(now);
        tokio::select! {
            // In order, not at random: the same run every time.
            biased;
            Some(()) = calls.next(), if !calls.is_empty() => {}
            Some((batch, failed)) = running.next(), if !running.is_empty() => {
                for message in batch {
                    if !failed.contains(&message.id) {
                        continue;
                    }
                    if message.receives + 1 < MAX_RECEIVES {
                        sim.queue.put(message.body, message.receives + 1, Instant::now() + VISIBILITY);
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}
