//! The simulated AWS both sides run on: chat-core's memory ports behind
//! DynamoDB's latency and billing, SQS with delays, the Management API behind
//! the account's throttle, and Lambda running the chat function (one
//! invocation per WebSocket event) and the notify function (an event source
//! mapping over the queue). Time is tokio's paused clock.
//!
//! Read and write units are billed as DynamoDB bills them: an item's size is
//! its attribute names' bytes plus its values' (a number: one byte per two
//! significant digits, plus one; a map: 3 bytes, plus one per element), from
//! the items `src/aws/` writes. A read is rounded up to 4 KB (at least one
//! unit, even when nothing is found), half for eventually consistent reads; a
//! Query or Scan is billed on the total size it read, a 1 MB page at a time; a
//! write is rounded up to 1 KB, twice for a transaction.

mod billing;
mod people;
mod ports;

pub use billing::*;
pub use people::*;
pub use ports::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::event::{Identity, RequestContext, SqsEvent, SqsRecord, WebSocketEvent};
use chat_core::limits::TokenBucket;
use chat_core::limits::{Admission, Bucket, Rate};
use chat_core::memory::{MemoryLedger, MemoryMessages, MemoryPresence, MemoryStore};
use chat_core::ports::{
    Change, ChatMessage, Connection, ConnectionStore, Digest, DigestWindow, Format, Ledger, Member, MessageStore,
    Notifier, Page, PortError, PortResult, Poster, Presence, Progress, Put, ScanPage, Window,
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
