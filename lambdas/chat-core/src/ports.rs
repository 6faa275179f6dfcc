//! The ports the handlers are written over, and the data they carry.
//!
//! - [`ConnectionStore`]: the connections table (DynamoDB on AWS, memory in `wschat dev`);
//! - [`Notifier`]: the notification queue (SQS, or an in-process queue);
//! - [`Poster`]: the API Gateway Management API, which delivers to one connection;
//! - [`Ledger`]: what each queue record has delivered, so that a record SQS
//!   delivers again posts nothing twice;
//! - [`MessageStore`]: the chat's history, the messages table (DynamoDB on
//!   AWS, memory in `wschat dev`), see [`crate::history`];
//! - [`Presence`]: how many are online, and the digests of joins and leaves,
//!   the presence table (DynamoDB on AWS, memory in `wschat dev`), see
//!   [`crate::presence`].

use std::collections::HashSet;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::limits::{Admission, Bucket, Rate};

/// How a connection wants its frames: each action in its sample's own shape,
/// or everything in the JSON envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Compat,
    Json,
}

/// One row of the connections table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub connection_id: String,
    pub name: String,
    /// The signed-in identity (the token's `sub`, from the authorizer); then
    /// the name is the token's too, and cannot be changed.
    pub sub: Option<String>,
    pub format: Format,
    /// Present only while the connection is in a room.
    pub room: Option<String>,
    /// Epoch milliseconds.
    pub connected_at: i64,
    /// Epoch seconds (the TTL attribute).
    pub expires_at: i64,
}

impl Connection {
    /// A row as `$connect` writes it for a guest: not signed in, in no room,
    /// and no TTL yet (`expires_at` 0).
    pub fn new(connection_id: impl Into<String>, name: impl Into<String>, format: Format, connected_at: i64) -> Self {
        Connection {
            connection_id: connection_id.into(),
            name: name.into(),
            sub: None,
            format,
            room: None,
            connected_at,
            expires_at: 0,
        }
    }
}

/// A failure of a port. `Gone` is not an error of the port: the connection no
/// longer exists (API Gateway's 410). `Refused` is final: trying again cannot
/// help (API Gateway's 400, 403 or 413). `Failed` may pass (a 429, a 5xx, a
/// timeout).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("connection is gone")]
    Gone,
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

pub type PortResult<T> = Result<T, PortError>;

/// The connections table.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Creates or replaces the row.
    async fn put(&self, connection: &Connection) -> PortResult<()>;
    async fn get(&self, connection_id: &str) -> PortResult<Option<Connection>>;
    /// Deletes the row and returns what it held, if anything.
    async fn delete(&self, connection_id: &str) -> PortResult<Option<Connection>>;
    /// Every connection (a paginated scan).
    async fn all(&self) -> PortResult<Vec<Connection>>;
    /// The members of one room (the `room-index` GSI).
    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>>;
    /// About how many rows the table holds, without reading them (DynamoDB's
    /// `ItemCount`, which it refreshes about every six hours).
    async fn estimate(&self) -> PortResult<u64>;
    /// One page of a parallel scan: at most `limit` rows of segment `segment`
    /// of `of`, after the row `after`, and the key to go on from if the
    /// segment holds more.
    async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)>;
    /// Marks the connection as typing at `now` (epoch ms), unless it was
    /// marked less than `every_ms` before: returns whether it was marked.
    /// Atomic (DynamoDB: a conditional UpdateItem of `typingAt` on the row),
    /// so that the throttle holds across Lambda invocations. A connection
    /// without a row is not marked.
    async fn mark_typing(&self, connection_id: &str, now: i64, every_ms: i64) -> PortResult<bool>;
}

/// Where a page of a parallel scan starts, and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanPage<'a> {
    pub segment: u32,
    /// Segments in all, 1..=1,000,000 (DynamoDB's `TotalSegments`).
    pub of: u32,
    /// The last connection id of the previous page.
    pub after: Option<&'a str>,
    pub limit: usize,
}

/// The notification queue.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Enqueues one message body, delivered after `delay_seconds`.
    async fn send(&self, body: String, delay_seconds: u32) -> PortResult<()>;

    /// Enqueues several bodies (SQS: `SendMessageBatch`, ten at a time). All
    /// are sent, or it fails; a failure may leave some sent.
    async fn send_many(&self, messages: Vec<(String, u32)>) -> PortResult<()> {
        let sends = messages.into_iter().map(|(body, delay)| self.send(body, delay));
        futures::future::try_join_all(sends).await.map(|_| ())
    }
}

/// The API Gateway Management API.
#[async_trait]
pub trait Poster: Send + Sync {
    /// Delivers one frame to one connection; `Err(PortError::Gone)` on 410.
    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()>;
    /// Closes a connection (`DELETE @connections/{id}`); a gone one is `Ok`.
    async fn close(&self, connection_id: &str) -> PortResult<()>;
}

/// What a ledger holds about one queue record (a notice or a shard of one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Every recipient was handled: posted, gone, dropped or handed on.
    pub done: bool,
    /// The connections posted to so far, if not done.
    pub delivered: HashSet<String>,
}

/// The delivery ledger: a DynamoDB table on AWS, memory in `wschat dev`.
/// Keys are a notice id and a shard, `{notice}#{shard}`.
#[async_trait]
pub trait Ledger: Send + Sync {
    async fn read(&self, key: &str) -> PortResult<Progress>;
    /// Adds `delivered` to what `key` delivered (part `part`, from 1).
    async fn record(&self, key: &str, part: u32, delivered: &[String]) -> PortResult<()>;
    /// Marks `key` done.
    async fn finish(&self, key: &str) -> PortResult<()>;
}

/// No ledger: nothing is remembered, so a redelivered record posts again.
/// For functions that never consume the queue, and deployments without the
/// ledger table.
pub struct NoLedger;

#[async_trait]
impl Ledger for NoLedger {
    async fn read(&self, _key: &str) -> PortResult<Progress> {
        Ok(Progress::default())
    }
    async fn record(&self, _key: &str, _part: u32, _delivered: &[String]) -> PortResult<()> {
        Ok(())
    }
    async fn finish(&self, _key: &str) -> PortResult<()> {
        Ok(())
    }
}

/// One stored chat message: an item of the messages table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `everyone`, `room:<code>` or `dm:<a>:<b>` ([`crate::history::Conversation`]).
    pub conversation: String,
    /// `<13-digit epoch ms>-<8 hex>`, chosen by the server; sorts by time.
    pub id: String,
    /// The route key it came in on (`send`, `sendMessage`, `chat`...).
    pub action: String,
    /// The sender's display name then.
    pub from: String,
    pub sub: Option<String>,
    /// The sender's connection.
    pub connection_id: String,
    pub text: String,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The sender's own id for it, the key of de-duplication.
    pub client_id: Option<String>,
    /// Epoch seconds (the TTL attribute).
    pub expires_at: i64,
}

/// What [`MessageStore::put`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Put {
    Stored,
    /// The sender already sent this message with this `clientId`: nothing
    /// was written, and this is the earlier message's id and timestamp.
    Duplicate {
        id: String,
        timestamp: i64,
    },
    /// The sender's `clientId` names another message (another text or
    /// action): nothing was written. An idempotency key belongs to one
    /// request (the IETF Idempotency-Key draft answers such a reuse with 422).
    Conflict,
}

/// Which messages of a conversation [`MessageStore::page`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window<'a> {
    /// The newest.
    Latest,
    /// The newest of those older than this id.
    Before(&'a str),
    /// The oldest of those newer than this id.
    Since(&'a str),
}

/// Messages of a conversation, oldest first, and whether more lie beyond them.
pub type Page = (Vec<ChatMessage>, bool);

/// The chat's history: the messages table.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores a message, unless its sender already sent one with its
    /// `client_id` in the conversation ([`crate::history::dedupe_scope`]).
    /// Atomic: the message and its de-duplication record are written
    /// together or not at all. A record past its expiry counts for nothing.
    async fn put(&self, message: &ChatMessage) -> PortResult<Put>;
    /// At most `limit` messages of `window`, oldest first, and whether more
    /// lie beyond them (older for `Latest` and `Before`, newer for `Since`).
    /// Messages expired at `now` (epoch seconds) are left out: DynamoDB's
    /// TTL takes days to remove them.
    async fn page(&self, conversation: &str, window: Window<'_>, limit: usize, now: i64) -> PortResult<Page>;
}

/// Someone in a presence frame or a list: a connection and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub connection_id: String,
    pub name: String,
}

impl Member {
    pub fn of(connection: &Connection) -> Member {
        Member { connection_id: connection.connection_id.clone(), name: connection.name.clone() }
    }
}

/// A join or a leave, as a digest gathers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Joined,
    Left,
}

/// One window of the presence digest: `index` counts windows of `seconds`
/// from the epoch, so the window starts at `index * seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestWindow {
    pub seconds: u32,
    pub index: i64,
}

impl DigestWindow {
    /// When the window ends, in epoch milliseconds.
    pub fn end_ms(&self) -> i64 {
        (self.index + 1) * i64::from(self.seconds) * 1000
    }
}

/// What a digest window gathered: the first few who joined and who left
/// (at most [`crate::presence::DIGEST_NAMES`] of each), and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub joined: Vec<Member>,
    pub left: Vec<Member>,
    pub joined_count: u64,
    pub left_count: u64,
}

/// The presence table: who is online, counted without reading the
/// connections, the digests of joins and leaves, and who may send how much
/// ([`crate::limits`]): the rate buckets and the bans.
#[async_trait]
pub trait Presence: Send + Sync {
    /// Counts a connection whose row `$connect` has just written.
    async fn arrive(&self, connection: &Connection) -> PortResult<()>;
    /// Stops counting a connection whose row was just deleted (by this caller).
    async fn depart(&self, connection: &Connection) -> PortResult<()>;
    /// How many connections are online at `now` (epoch ms): those counted
    /// whose rows have not expired.
    async fn count(&self, now: i64) -> PortResult<u64>;
    /// Notes a join or a leave in a digest window; `true` when it is the
    /// window's first event, whose caller enqueues the digest.
    async fn note(&self, window: DigestWindow, change: Change, who: &Member) -> PortResult<bool>;
    /// What a window gathered.
    async fn digest(&self, window: DigestWindow) -> PortResult<Digest>;
    /// Admits one frame against `who`'s `bucket` at `rate` at `now` (epoch
    /// ms), or refuses it and counts a strike; a frame that finds its bucket
    /// full (the client paused) clears the strikes. Atomic (DynamoDB: conditional writes), so that the limit
    /// holds across Lambda invocations.
    async fn admit(&self, who: &str, bucket: Bucket, rate: Rate, now: i64) -> PortResult<Admission>;
    /// Refuses `who` (`sub:<sub>` or `ip:<address>`) at `$connect` until `until` (epoch ms).
    async fn ban(&self, who: &str, until: i64) -> PortResult<()>;
    /// Until when `who` is refused, if it is at `now`.
    async fn banned(&self, who: &str, now: i64) -> PortResult<Option<i64>>;
}
