//! What DynamoDB bills: item sizes, read and write units, and the tally of a run.

use super::*;

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

    pub(super) fn combine(&self, other: &Tally, sign: f64) -> Tally {
        let mut t = self.clone();
        let mut other = other.clone();
        for (x, y) in t.counts_mut().zip(other.counts_mut()) {
            *x += sign * *y;
        }
        t.largest = self.largest.max(other.largest);
        t
    }

    pub(super) fn map(mut self, k: f64) -> Tally {
        for x in self.counts_mut() {
            *x *= k;
        }
        self
    }

    /// Every count that adds up and scales, in one list so that a new field
    /// is combined and scaled alike (`largest` is a maximum, so not among them).
    fn counts_mut(&mut self) -> impl Iterator<Item = &mut f64> {
        let scalars = [
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
        ];
        self.reads.iter_mut().chain(&mut self.writes).chain(&mut self.posts).chain(scalars)
    }
}

pub(super) type Meter = Arc<Mutex<Tally>>;

pub(super) fn meter(meter: &Meter, f: impl FnOnce(&mut Tally)) {
    f(&mut meter.lock().unwrap());
}

// ------------------------------------------------------------ item sizes

/// The bytes of a DynamoDB number.
pub fn number_bytes(value: i64) -> usize {
    let digits = value.unsigned_abs().to_string();
    digits.trim_end_matches('0').len().max(1).div_ceil(2) + 1
}

pub(super) fn s(name: &str, value: &str) -> usize {
    name.len() + value.len()
}

pub(super) fn n(name: &str, value: i64) -> usize {
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
pub(super) fn message_bytes(m: &ChatMessage) -> usize {
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
pub(super) fn dedupe_bytes(m: &ChatMessage) -> usize {
    let client_id = m.client_id.as_deref().unwrap_or_default();
    s("conversation", &m.conversation)
        + s("id", &format!("dedupe#{client_id}"))
        + s("messageId", &m.id)
        + n("timestamp", m.timestamp)
        + n("expiresAt", m.expires_at)
}

/// A count bucket of the presence table.
pub(super) fn bucket_bytes(minute: i64, count: i64) -> usize {
    s("key", "online") + n("part", minute) + n("n", count) + n("expiresAt", minute + BUCKET_SECONDS + 3600)
}

/// A digest item of the presence table, names and all.
pub(super) fn digest_bytes(window: DigestWindow, d: &Digest) -> usize {
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
pub(super) fn ledger_bytes(key: &str, part: u32, delivered: &[String]) -> usize {
    let ids: usize = delivered.iter().map(String::len).sum();
    s("shard", key)
        + n("part", part.into())
        + n("expiresAt", 1_764_700_000)
        + if delivered.is_empty() { 0 } else { "delivered".len() + ids }
}

pub(super) fn read_units(bytes: usize, consistent: bool) -> f64 {
    (bytes.max(1) as f64 / 4096.0).ceil() * if consistent { 1.0 } else { 0.5 }
}

pub(super) fn write_units(bytes: usize) -> f64 {
    (bytes.max(1) as f64 / 1024.0).ceil()
}

// ------------------------------------------------------------ the tables
