//! The AWS adapters of the ports (feature `aws`): DynamoDB for the
//! [`ConnectionStore`] and the [`Ledger`], SQS for the [`Notifier`], and the
//! API Gateway Management API for the [`Poster`].
//!
//! Each takes a ready SDK client, so the caller decides the configuration
//! (region, credentials, `AWS_ENDPOINT_URL`, retries).
//!
//! A row of the connections table (docs/protocol.md, "Data"):
//!
//! | attribute | type | |
//! |---|---|---|
//! | `connectionId` | S | partition key |
//! | `name` | S | display name |
//! | `format` | S | `compat` or `json` |
//! | `room` | S | only while in a room; the `room-index` GSI's partition key |
//! | `connectedAt` | N | epoch milliseconds |
//! | the TTL attribute (`expiresAt`) | N | epoch seconds |
//!
//! An item of the delivery ledger table (`{name}-{stage}-deliveries`):
//!
//! | attribute | type | |
//! |---|---|---|
//! | `shard` | S | partition key: `{notice id}#{shard}` |
//! | `part` | N | sort key: 0 marks the record done; 1, 2... list what was posted |
//! | `delivered` | SS | the connections a part posted to |
//! | `expiresAt` | N | epoch seconds, a day on: the TTL removes the item |
//!
//! An item of the messages table (`{name}-{stage}-messages`, docs/chat-history.md):
//!
//! | attribute | type | |
//! |---|---|---|
//! | `conversation` | S | partition key: `everyone`, `room:<code>` or `dm:<a>:<b>` |
//! | `id` | S | sort key: the message id, `<13-digit epoch ms>-<8 hex>` |
//! | `from`, `sub`?, `connectionId`, `text`, `action` | S | the sender's name, sign-in and connection, the text, the route key |
//! | `timestamp` | N | epoch milliseconds |
//! | `clientId` | S | optional: the sender's id for it |
//! | `expiresAt` | N | epoch seconds, `chat.history.days` on: the TTL removes the item |
//!
//! Items of the presence table (`{name}-{stage}-presence`, docs/presence.md):
//!
//! | `key` (S, hash) | `part` (N, range) | attributes |
//! |---|---|---|
//! | `online` | the minute rows expire in (epoch s) | `n`: connections counted in it |
//! | `digest#<seconds>` | the window's index | `events`, `joined`, `left` (N); `j1`..`j10`, `l1`..`l10` (M: `id`, `name`) |
//!
//! | `limit#<who>` (`conn:<id>` or `sub:<sub>`) | 0 | `messagesAt`, `framesAt` (N, epoch ms: each rate bucket's time), `strikes` (N) |
//! | `ban#<who>` (`sub:<sub>` or `ip:<address>`) | 0 | `until` (N, epoch ms) |
//!
//! All carry `expiresAt`, an hour after they stop mattering.
//!
//! A message with a `clientId` has a de-duplication record beside it, written
//! in the same transaction: sort key `dedupe#<clientId>` (above every message
//! id), `messageId`, `timestamp` and `expiresAt`. The transaction's condition
//! that the record is new is what makes a resend post nothing.

mod ledger;
mod mapping;
mod messages;
mod notifier;
mod poster;
mod presence;
mod store;

pub use ledger::*;
pub use mapping::*;
pub use messages::*;
pub use notifier::*;
pub use poster::*;
pub use presence::*;
pub use store::*;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select, TransactWriteItem};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use futures::StreamExt;
use tracing::warn;

use crate::ROOM_INDEX;
use crate::history::{ID_END, dedupe_scope, repeats};
use crate::limits::{Admission, Bucket, Rate};
use crate::ports::{
    Change, ChatMessage, Connection, ConnectionStore, Digest, DigestWindow, Format, Ledger, Member, MessageStore,
    Notifier, Page, PortError, PortResult, Poster, Presence, Progress, Put, ScanPage, Window,
};
use crate::presence::{BUCKET_SECONDS, DIGEST_NAMES, bucket, live_from};

/// How long a table's `ItemCount` is trusted before `DescribeTable` is asked
/// again. DynamoDB itself refreshes it about every six hours.
const ESTIMATE_TTL: Duration = Duration::from_secs(60);
