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

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select, TransactWriteItem};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures::StreamExt;
use tracing::warn;

use crate::ROOM_INDEX;
use crate::history::{ID_END, dedupe_scope, repeats};
use crate::limits::{Admission, Bucket, Rate};
use crate::ports::{
    Change, ChatMessage, Connection, ConnectionStore, Digest, DigestWindow, Format, Ledger, Member, MessageStore,
    Notifier, PortError, PortResult, Poster, Presence, Progress, Put, ScanPage, Window,
};
use crate::presence::{BUCKET_SECONDS, DIGEST_NAMES, bucket, live_from};

/// How long a table's `ItemCount` is trusted before `DescribeTable` is asked
/// again. DynamoDB itself refreshes it about every six hours.
const ESTIMATE_TTL: Duration = Duration::from_secs(60);

/// The connections table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    ttl_attribute: String,
    page_size: Option<i32>,
    estimate: std::sync::Arc<Mutex<Option<(Instant, u64)>>>,
}

impl DynamoStore {
    /// The table `table`, whose TTL attribute is `ttl_attribute` (`expiresAt` by default in stack.yaml).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, ttl_attribute: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            ttl_attribute: ttl_attribute.into(),
            page_size: None,
            estimate: Default::default(),
        }
    }

    /// At most `rows` rows per Scan or Query page, instead of DynamoDB's 1 MB pages.
    pub fn with_page_size(mut self, rows: i32) -> Self {
        self.page_size = Some(rows);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn failed(&self, operation: &str, error: impl std::error::Error) -> PortError {
        PortError::Failed(format!("DynamoDB {operation} on table `{}`: {}", self.table, DisplayErrorContext(error)))
    }

    fn item(&self, c: &Connection) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            ("connectionId".to_string(), AttributeValue::S(c.connection_id.clone())),
            ("name".to_string(), AttributeValue::S(c.name.clone())),
            ("format".to_string(), AttributeValue::S(format_name(c.format).to_string())),
            ("connectedAt".to_string(), AttributeValue::N(c.connected_at.to_string())),
            (self.ttl_attribute.clone(), AttributeValue::N(c.expires_at.to_string())),
        ]);
        if let Some(room) = &c.room {
            item.insert("room".to_string(), AttributeValue::S(room.clone()));
        }
        if let Some(sub) = &c.sub {
            item.insert("sub".to_string(), AttributeValue::S(sub.clone()));
        }
        item
    }

    /// A row back into a connection. Rows written by hand may lack fields;
    /// only one without a `connectionId` is unusable.
    fn connection(&self, item: &HashMap<String, AttributeValue>) -> Option<Connection> {
        let s = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned();
        let n = |key: &str| item.get(key).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
        let Some(connection_id) = s("connectionId") else {
            warn!(table = %self.table, "skipping a row without a connectionId");
            return None;
        };
        Some(Connection {
            name: s("name").unwrap_or_else(|| connection_id.clone()),
            sub: s("sub"),
            format: if s("format").as_deref() == Some("json") { Format::Json } else { Format::Compat },
            room: s("room"),
            connected_at: n("connectedAt").unwrap_or_default(),
            expires_at: n(&self.ttl_attribute).unwrap_or_default(),
            connection_id,
        })
    }

    fn key(connection_id: &str) -> (String, AttributeValue) {
        ("connectionId".to_string(), AttributeValue::S(connection_id.to_string()))
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Compat => "compat",
        Format::Json => "json",
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn put(&self, connection: &Connection) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.item(connection)))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> PortResult<Option<Connection>> {
        let (k, v) = Self::key(connection_id);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(k, v)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        Ok(out.item.as_ref().and_then(|item| self.connection(item)))
    }

    async fn delete(&self, connection_id: &str) -> PortResult<Option<Connection>> {
        let (k, v) = Self::key(connection_id);
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(k, v)
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.failed("DeleteItem", e))?;
        Ok(out.attributes.as_ref().and_then(|item| self.connection(item)))
    }

    async fn all(&self) -> PortResult<Vec<Connection>> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .set_limit(self.page_size)
            .into_paginator()
            .send();
        let mut rows = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("Scan", e))?;
            rows.extend(page.items().iter().filter_map(|item| self.connection(item)));
        }
        Ok(rows)
    }

    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ROOM_INDEX)
            .key_condition_expression("#room = :room")
            .expression_attribute_names("#room", "room")
            .expression_attribute_values(":room", AttributeValue::S(room.to_string()))
            .set_limit(self.page_size)
            .into_paginator()
            .send();
        let mut rows = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed(&format!("Query on index `{ROOM_INDEX}`"), e))?;
            rows.extend(page.items().iter().filter_map(|item| self.connection(item)));
        }
        Ok(rows)
    }
    async fn estimate(&self) -> PortResult<u64> {
        let cached = *self.estimate.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, count)) = cached
            && at.elapsed() < ESTIMATE_TTL
        {
            return Ok(count);
        }
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| self.failed("DescribeTable", e))?;
        let count = described.table().and_then(|t| t.item_count()).unwrap_or_default().max(0) as u64;
        *self.estimate.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), count));
        Ok(count)
    }

    /// Eventually consistent, at half the read units of a consistent scan:
    /// a row written in the last second may be missed, and every connection
    /// gets its welcome a second after `$connect` anyway.
    async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
        let mut scan = self
            .client
            .scan()
            .table_name(&self.table)
            .select(Select::AllAttributes)
            .limit(page.limit.clamp(1, i32::MAX as usize) as i32);
        if page.of > 1 {
            scan = scan.segment(page.segment as i32).total_segments(page.of as i32);
        }
        if let Some(after) = page.after {
            let (k, v) = Self::key(after);
            scan = scan.exclusive_start_key(k, v);
        }
        let out = scan.send().await.map_err(|e| self.failed("Scan", e))?;
        let rows = out.items().iter().filter_map(|item| self.connection(item)).collect();
        let next = out.last_evaluated_key().and_then(|k| k.get("connectionId")).and_then(|v| v.as_s().ok()).cloned();
        Ok((rows, next))
    }

    /// A conditional UpdateItem of `typingAt` on the row.
    async fn mark_typing(&self, connection_id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
        let (k, v) = Self::key(connection_id);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(k, v)
            .update_expression("SET #typing = :now")
            .condition_expression("attribute_exists(#id) AND (attribute_not_exists(#typing) OR #typing <= :cutoff)")
            .expression_attribute_names("#typing", "typingAt")
            .expression_attribute_names("#id", "connectionId")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":cutoff", AttributeValue::N((now - every_ms).to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(self.failed("UpdateItem", e)),
        }
    }
}

/// The messages table in DynamoDB (see the module's docs for its items).
#[derive(Debug, Clone)]
pub struct DynamoMessages {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// The sort key prefix of de-duplication records.
const DEDUPE: &str = "dedupe#";

impl DynamoMessages {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoMessages { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn failed(&self, operation: &str, error: impl std::error::Error) -> PortError {
        PortError::Failed(format!("DynamoDB {operation} on table `{}`: {}", self.table, DisplayErrorContext(error)))
    }

    fn item(m: &ChatMessage) -> HashMap<String, AttributeValue> {
        let s = |v: &str| AttributeValue::S(v.to_string());
        let mut item = HashMap::from([
            ("conversation".to_string(), s(&m.conversation)),
            ("id".to_string(), s(&m.id)),
            ("action".to_string(), s(&m.action)),
            ("from".to_string(), s(&m.from)),
            ("connectionId".to_string(), s(&m.connection_id)),
            ("text".to_string(), s(&m.text)),
            ("timestamp".to_string(), AttributeValue::N(m.timestamp.to_string())),
            ("expiresAt".to_string(), AttributeValue::N(m.expires_at.to_string())),
        ]);
        if let Some(sub) = &m.sub {
            item.insert("sub".to_string(), s(sub));
        }
        if let Some(client_id) = &m.client_id {
            item.insert("clientId".to_string(), s(client_id));
        }
        item
    }

    fn message(item: &HashMap<String, AttributeValue>) -> Option<ChatMessage> {
        let s = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned();
        let n = |key: &str| item.get(key).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
        Some(ChatMessage {
            conversation: s("conversation")?,
            id: s("id")?,
            action: s("action").unwrap_or_default(),
            from: s("from").unwrap_or_default(),
            sub: s("sub"),
            connection_id: s("connectionId").unwrap_or_default(),
            text: s("text").unwrap_or_default(),
            timestamp: n("timestamp").unwrap_or_default(),
            client_id: s("clientId"),
            expires_at: n("expiresAt").unwrap_or_default(),
        })
    }

    /// The message a de-duplication record names, if the record is there.
    async fn seen(&self, conversation: &str, scope: &str) -> PortResult<Option<ChatMessage>> {
        let get = |id: String| {
            self.client
                .get_item()
                .table_name(&self.table)
                .key("conversation", AttributeValue::S(conversation.to_string()))
                .key("id", AttributeValue::S(id))
                .consistent_read(true)
                .send()
        };
        let record = get(format!("{DEDUPE}{scope}")).await.map_err(|e| self.failed("GetItem", e))?;
        let Some(id) = record.item().and_then(|item| item.get("messageId")?.as_s().ok().cloned()) else {
            return Ok(None);
        };
        let first = get(id).await.map_err(|e| self.failed("GetItem", e))?;
        Ok(first.item().and_then(Self::message))
    }
}

#[async_trait]
impl MessageStore for DynamoMessages {
    async fn put(&self, message: &ChatMessage) -> PortResult<Put> {
        let new = |item| {
            aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", "id")
                .build()
                .expect("table and item are set")
        };
        // A record past its expiry that the TTL has not removed yet counts for nothing.
        let record = |item| {
            aws_sdk_dynamodb::types::Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#id) OR #expires <= :now")
                .expression_attribute_names("#id", "id")
                .expression_attribute_names("#expires", "expiresAt")
                .expression_attribute_values(":now", AttributeValue::N((message.timestamp / 1000).to_string()))
                .build()
                .expect("table and item are set")
        };
        let Some(client_id) = &message.client_id else {
            let item = Self::item(message);
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| self.failed("PutItem", e))?;
            return Ok(Put::Stored);
        };
        let s = |v: &str| AttributeValue::S(v.to_string());
        let scope = dedupe_scope(message);
        let dedupe = HashMap::from([
            ("conversation".to_string(), s(&message.conversation)),
            ("id".to_string(), s(&format!("{DEDUPE}{scope}"))),
            ("messageId".to_string(), s(&message.id)),
            ("timestamp".to_string(), AttributeValue::N(message.timestamp.to_string())),
            ("expiresAt".to_string(), AttributeValue::N(message.expires_at.to_string())),
        ]);
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(new(Self::item(message))).build())
            .transact_items(TransactWriteItem::builder().put(record(dedupe)).build())
            .send()
            .await;
        let error = match sent {
            Ok(_) => return Ok(Put::Stored),
            Err(e) => e,
        };
        // The record's condition failed: the clientId was seen before.
        let duplicate = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                .cancellation_reasons()
                .get(1)
                .is_some_and(|reason| reason.code() == Some("ConditionalCheckFailed")),
            _ => false,
        };
        if !duplicate {
            return Err(self.failed("TransactWriteItems", error));
        }
        match self.seen(&message.conversation, &scope).await? {
            Some(first) if repeats(&first, message) => Ok(Put::Duplicate { id: first.id, timestamp: first.timestamp }),
            Some(_) => Ok(Put::Conflict),
            // Its TTL removed it between the two calls.
            None => Err(PortError::Failed(format!(
                "the de-duplication record of clientId `{client_id}` in `{}` vanished; try again",
                message.conversation
            ))),
        }
    }

    async fn page(
        &self,
        conversation: &str,
        window: Window<'_>,
        limit: usize,
        now: i64,
    ) -> PortResult<(Vec<ChatMessage>, bool)> {
        // BETWEEN is inclusive: the `since` message itself is dropped below.
        let (condition, end, since, forward) = match window {
            Window::Latest => ("#c = :c AND #id < :end", ID_END, None, false),
            Window::Before(id) => ("#c = :c AND #id < :end", id, None, false),
            Window::Since(id) => ("#c = :c AND #id BETWEEN :since AND :end", ID_END, Some(id), true),
        };
        let want = limit + 1;
        let mut taken = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .expression_attribute_names("#c", "conversation")
                .expression_attribute_names("#id", "id")
                .expression_attribute_values(":c", AttributeValue::S(conversation.to_string()))
                .expression_attribute_values(":end", AttributeValue::S(end.to_string()))
                // Expired, not yet removed: DynamoDB's TTL works within days.
                .filter_expression("#expires > :now")
                .expression_attribute_names("#expires", "expiresAt")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .scan_index_forward(forward)
                .consistent_read(true)
                .limit((want + 1).min(i32::MAX as usize) as i32)
                .set_exclusive_start_key(start);
            if let Some(since) = since {
                query = query.expression_attribute_values(":since", AttributeValue::S(since.to_string()));
            }
            let out = query.send().await.map_err(|e| self.failed("Query", e))?;
            taken.extend(out.items().iter().filter_map(Self::message).filter(|m| Some(m.id.as_str()) != since));
            start = out.last_evaluated_key;
            if taken.len() >= want || start.is_none() {
                break;
            }
        }
        let more = taken.len() > limit;
        taken.truncate(limit);
        if !forward {
            taken.reverse();
        }
        Ok((taken, more))
    }
}

/// The presence table in DynamoDB (see the module's docs for its items).
#[derive(Debug, Clone)]
pub struct DynamoPresence {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// The partition of the count's buckets.
const ONLINE: &str = "online";
/// How long an item outlives the minute or window it is about.
const PRESENCE_TTL_SECONDS: i64 = 60 * 60;

impl DynamoPresence {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoPresence { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn failed(&self, operation: &str, error: impl std::error::Error) -> PortError {
        PortError::Failed(format!("DynamoDB {operation} on table `{}`: {}", self.table, DisplayErrorContext(error)))
    }

    /// `ADD n` to the bucket of the minute `connection`'s row expires in.
    async fn add(&self, connection: &Connection, n: i64) -> PortResult<()> {
        let minute = bucket(connection.expires_at);
        self.client
            .update_item()
            .table_name(&self.table)
            .key("key", AttributeValue::S(ONLINE.to_string()))
            .key("part", AttributeValue::N(minute.to_string()))
            .update_expression("ADD #n :n SET #expires = :expires")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((minute + BUCKET_SECONDS + PRESENCE_TTL_SECONDS).to_string()),
            )
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        Ok(())
    }

    fn window_key(window: DigestWindow) -> [(String, AttributeValue); 2] {
        [
            ("key".to_string(), AttributeValue::S(format!("digest#{}", window.seconds))),
            ("part".to_string(), AttributeValue::N(window.index.to_string())),
        ]
    }
}

/// The attribute of the `n`-th name (from 1) of a digest's joins or leaves.
fn slot(change: Change, n: u64) -> String {
    match change {
        Change::Joined => format!("j{n}"),
        Change::Left => format!("l{n}"),
    }
}

#[async_trait]
impl Presence for DynamoPresence {
    async fn arrive(&self, connection: &Connection) -> PortResult<()> {
        self.add(connection, 1).await
    }

    async fn depart(&self, connection: &Connection) -> PortResult<()> {
        self.add(connection, -1).await
    }

    /// One Query of the buckets still to come: at most 181 items of a few
    /// dozen bytes, eventually consistent (half a read unit per 4 KB).
    async fn count(&self, now: i64) -> PortResult<u64> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#key = :online AND #part >= :from")
            .expression_attribute_names("#key", "key")
            .expression_attribute_names("#part", "part")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":online", AttributeValue::S(ONLINE.to_string()))
            .expression_attribute_values(":from", AttributeValue::N(live_from(now).to_string()))
            .projection_expression("#n")
            .into_paginator()
            .send();
        let mut sum: i64 = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.failed("Query", e))?;
            sum += page.items().iter().filter_map(|item| item.get("n")?.as_n().ok()?.parse::<i64>().ok()).sum::<i64>();
        }
        Ok(sum.max(0) as u64)
    }

    /// One UpdateItem that counts the event and returns the window's counts,
    /// and, for the first [`DIGEST_NAMES`] of each kind, one that names it.
    async fn note(&self, window: DigestWindow, change: Change, who: &Member) -> PortResult<bool> {
        let counted = match change {
            Change::Joined => "joined",
            Change::Left => "left",
        };
        let expires = window.end_ms() / 1000 + PRESENCE_TTL_SECONDS;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::window_key(window).into()))
            .update_expression("ADD #events :one, #counted :one SET #expires = :expires")
            .expression_attribute_names("#events", "events")
            .expression_attribute_names("#counted", counted)
            .expression_attribute_names("#expires", "expiresAt")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        let number = |name: &str| {
            out.attributes().and_then(|a| a.get(name)?.as_n().ok()?.parse::<u64>().ok()).unwrap_or_default()
        };
        let (events, nth) = (number("events"), number(counted));
        if (1..=DIGEST_NAMES as u64).contains(&nth) {
            let member = HashMap::from([
                ("id".to_string(), AttributeValue::S(who.connection_id.clone())),
                ("name".to_string(), AttributeValue::S(who.name.clone())),
            ]);
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::window_key(window).into()))
                .update_expression("SET #slot = :who")
                .expression_attribute_names("#slot", slot(change, nth))
                .expression_attribute_values(":who", AttributeValue::M(member))
                .send()
                .await
                .map_err(|e| self.failed("UpdateItem", e))?;
        }
        Ok(events == 1)
    }

    async fn digest(&self, window: DigestWindow) -> PortResult<Digest> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::window_key(window).into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        let item = out.item.unwrap_or_default();
        let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()?.parse::<u64>().ok()).unwrap_or_default();
        let names = |change: Change| -> Vec<Member> {
            (1..=DIGEST_NAMES as u64)
                .filter_map(|n| {
                    let member = item.get(&slot(change, n))?.as_m().ok()?;
                    let text = |key: &str| member.get(key)?.as_s().ok().cloned();
                    Some(Member { connection_id: text("id")?, name: text("name")? })
                })
                .collect()
        };
        Ok(Digest {
            joined: names(Change::Joined),
            left: names(Change::Left),
            joined_count: number("joined"),
            left_count: number("left"),
        })
    }

    /// GCRA in conditional writes, without a read: a bucket at rest (its
    /// time past: full) restarts from now and clears the strikes; a running
    /// one moves on by an interval if that keeps it within its tolerance. A
    /// bucket's time only grows, so when the first condition fails the
    /// second is decided on a time that is still ahead of now, whatever runs
    /// at once. Both failing is a refusal, which counts a strike.
    async fn admit(&self, who: &str, bucket: Bucket, rate: Rate, now: i64) -> PortResult<Admission> {
        let key = || {
            HashMap::from([
                ("key".to_string(), AttributeValue::S(format!("limit#{who}"))),
                ("part".to_string(), AttributeValue::N("0".into())),
            ])
        };
        let n = |v: i64| AttributeValue::N(v.to_string());
        // Kept an hour past the last time it could matter.
        let expires = (now + rate.tolerance_ms() + rate.interval_ms()) / 1000 + PRESENCE_TTL_SECONDS;
        // DynamoDB refuses a name or value the expressions do not use.
        let names = |update: &str| {
            let mut names = HashMap::from([
                ("#at".to_string(), bucket.attribute().to_string()),
                ("#expires".to_string(), "expiresAt".to_string()),
            ]);
            if update.contains("#strikes") {
                names.insert("#strikes".to_string(), "strikes".to_string());
            }
            names
        };
        let values = |pairs: &[(&str, i64)]| {
            let expires = [(":expires", expires)];
            pairs.iter().chain(&expires).map(|(name, value)| (name.to_string(), n(*value))).collect::<HashMap<_, _>>()
        };
        let attempts = [
            // At rest (full): restart from now, and forgive the strikes.
            (
                "SET #at = :next, #strikes = :zero, #expires = :expires",
                "attribute_not_exists(#at) OR #at <= :now",
                values(&[(":next", now + rate.interval_ms()), (":zero", 0), (":now", now)]),
            ),
            // Running: one interval on, within the tolerance; the strikes stay.
            (
                "SET #at = #at + :interval, #expires = :expires",
                "#at > :now AND #at <= :latest",
                values(&[(":interval", rate.interval_ms()), (":now", now), (":latest", now + rate.tolerance_ms())]),
            ),
        ];
        for (update, condition, values) in attempts {
            let sent = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key()))
                .update_expression(update)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names(update)))
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(Admission::Admitted),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(self.failed("UpdateItem", e)),
            }
        }
        let struck = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key()))
            .update_expression("ADD #strikes :one")
            .expression_attribute_names("#strikes", "strikes")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| self.failed("UpdateItem", e))?;
        let number = |name: &str| struck.attributes().and_then(|a| a.get(name)?.as_n().ok()?.parse::<i64>().ok());
        let strikes = number("strikes").unwrap_or(1).clamp(1, i64::from(u32::MAX)) as u32;
        let retry_after_ms = number(bucket.attribute()).map_or(0, |at| (at - now - rate.tolerance_ms()).max(0));
        Ok(Admission::Refused { strikes, retry_after_ms })
    }

    async fn ban(&self, who: &str, until: i64) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("key", AttributeValue::S(format!("ban#{who}")))
            .item("part", AttributeValue::N("0".into()))
            .item("until", AttributeValue::N(until.to_string()))
            .item("expiresAt", AttributeValue::N((until / 1000 + PRESENCE_TTL_SECONDS).to_string()))
            .send()
            .await
            .map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }

    async fn banned(&self, who: &str, now: i64) -> PortResult<Option<i64>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("key", AttributeValue::S(format!("ban#{who}")))
            .key("part", AttributeValue::N("0".into()))
            // Eventually consistent, half a read unit at every `$connect`: a
            // ban is written as the flooder is closed, a second or more before
            // it can connect again.
            .consistent_read(false)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        let until = out.item().and_then(|i| i.get("until")?.as_n().ok()?.parse::<i64>().ok());
        Ok(until.filter(|until| *until > now))
    }
}

/// The delivery ledger in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// How long a ledger entry is kept: longer than SQS keeps retrying a
/// message (five receives a visibility timeout apart, by default).
const LEDGER_TTL_SECONDS: i64 = 24 * 60 * 60;

impl DynamoLedger {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoLedger { client, table: table.into() }
    }

    fn failed(&self, operation: &str, error: impl std::error::Error) -> PortError {
        PortError::Failed(format!("DynamoDB {operation} on table `{}`: {}", self.table, DisplayErrorContext(error)))
    }

    async fn put(&self, key: &str, part: u32, delivered: &[String]) -> PortResult<()> {
        let expires = crate::now_millis() / 1000 + LEDGER_TTL_SECONDS;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("shard", AttributeValue::S(key.to_string()))
            .item("part", AttributeValue::N(part.to_string()))
            .item("expiresAt", AttributeValue::N(expires.to_string()));
        if !delivered.is_empty() {
            put = put.item("delivered", AttributeValue::Ss(delivered.to_vec()));
        }
        put.send().await.map_err(|e| self.failed("PutItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn read(&self, key: &str) -> PortResult<Progress> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#shard = :shard")
            .expression_attribute_names("#shard", "shard")
            .expression_attribute_values(":shard", AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut progress = Progress { done: false, delivered: HashSet::new() };
        while let Some(page) = pages.next().await {
            for item in page.map_err(|e| self.failed("Query", e))?.items() {
                if item.get("part").and_then(|p| p.as_n().ok()).map(String::as_str) == Some("0") {
                    progress.done = true;
                }
                if let Some(Ok(ids)) = item.get("delivered").map(|d| d.as_ss()) {
                    progress.delivered.extend(ids.iter().cloned());
                }
            }
        }
        if progress.done {
            progress.delivered.clear();
        }
        Ok(progress)
    }

    async fn record(&self, key: &str, part: u32, delivered: &[String]) -> PortResult<()> {
        self.put(key, part.max(1), delivered).await
    }

    async fn finish(&self, key: &str) -> PortResult<()> {
        self.put(key, 0, &[]).await
    }
}

/// The notification queue in SQS.
#[derive(Debug, Clone)]
pub struct SqsNotifier {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsNotifier {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsNotifier { client, queue_url: queue_url.into() }
    }
}

#[async_trait]
impl Notifier for SqsNotifier {
    async fn send(&self, body: String, delay_seconds: u32) -> PortResult<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds.min(900) as i32)
            .send()
            .await
            .map_err(|e| {
                PortError::Failed(format!("SQS SendMessage to `{}`: {}", self.queue_url, DisplayErrorContext(e)))
            })?;
        Ok(())
    }
    /// `SendMessageBatch`: ten messages a call, and at most 256 KiB a call
    /// (SendMessageBatch's limit on the sum of its bodies), calls in parallel.
    /// Entries SQS reports failed are sent once more, one by one.
    async fn send_many(&self, messages: Vec<(String, u32)>) -> PortResult<()> {
        let mut batches: Vec<Vec<(String, u32)>> = Vec::new();
        let mut bytes = 0;
        for message in messages {
            match batches.last_mut() {
                Some(batch) if batch.len() < 10 && bytes + message.0.len() <= BATCH_BYTES => {
                    bytes += message.0.len();
                    batch.push(message);
                }
                _ => {
                    bytes = message.0.len();
                    batches.push(vec![message]);
                }
            }
        }
        let sent: Vec<PortResult<()>> =
            futures::stream::iter(batches).map(|batch| self.send_batch(batch)).buffer_unordered(8).collect().await;
        sent.into_iter().collect()
    }
}

/// SendMessageBatch's limit on the sum of a call's bodies.
const BATCH_BYTES: usize = 262_144;

impl SqsNotifier {
    async fn send_batch(&self, batch: Vec<(String, u32)>) -> PortResult<()> {
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, (body, delay))| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds((*delay).min(900) as i32)
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
            PortError::Failed(format!("SQS SendMessageBatch to `{}`: {}", self.queue_url, DisplayErrorContext(e)))
        })?;
        for failed in out.failed() {
            let Some((body, delay)) = failed.id().parse::<usize>().ok().and_then(|i| batch.get(i)) else { continue };
            warn!(queue = %self.queue_url, code = failed.code(), "SendMessageBatch refused an entry; sending it alone");
            self.send(body.clone(), *delay).await?;
        }
        Ok(())
    }
}

/// The API Gateway Management API of one stage. 410 Gone (the SDK's
/// `GoneException`) is [`PortError::Gone`]; 400, 403 (`ForbiddenException`)
/// and 413 (`PayloadTooLargeException`) are [`PortError::Refused`], which
/// no retry can change (API reference, PostToConnection, "Errors"); 429
/// (`LimitExceededException`: the account's throttle, or the client's
/// buffer is full), 5xx and timeouts are [`PortError::Failed`].
#[derive(Debug, Clone)]
pub struct ManagementPoster {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementPoster {
    /// `client` must already point at the stage's endpoint,
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub fn new(client: aws_sdk_apigatewaymanagement::Client) -> Self {
        ManagementPoster { client }
    }
}

#[async_trait]
impl Poster for ManagementPoster {
    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()> {
        match self.client.post_to_connection().connection_id(connection_id).data(Blob::new(data)).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                // The typed check covers API Gateway; the status covers any
                // gateway that answers a bare 410 (the protocol's meaning is the same).
                let status = e.raw_response().map(|r| r.status().as_u16());
                let service = e.as_service_error();
                let gone = service.is_some_and(|s| s.is_gone_exception()) || status == Some(410);
                let refused = service.is_some_and(|s| s.is_forbidden_exception() || s.is_payload_too_large_exception())
                    || matches!(status, Some(400 | 403 | 413));
                let what = || format!("posting to connection `{connection_id}`: {}", DisplayErrorContext(&e));
                if gone {
                    Err(PortError::Gone)
                } else if refused {
                    Err(PortError::Refused(what()))
                } else {
                    Err(PortError::Failed(what()))
                }
            }
        }
    }

    /// `DeleteConnection`. API reference, DeleteConnection, "Errors":
    /// 410 `GoneException` (the connection is already closed: done), 403
    /// `ForbiddenException` (the role lacks `DELETE` on `@connections`: no
    /// retry helps), 429 `LimitExceededException` (may pass).
    async fn close(&self, connection_id: &str) -> PortResult<()> {
        match self.client.delete_connection().connection_id(connection_id).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let service = e.as_service_error();
                let what = || format!("closing connection `{connection_id}`: {}", DisplayErrorContext(&e));
                if service.is_some_and(|s| s.is_gone_exception()) || status == Some(410) {
                    Ok(())
                } else if service.is_some_and(|s| s.is_forbidden_exception()) || status == Some(403) {
                    Err(PortError::Refused(what()))
                } else {
                    Err(PortError::Failed(what()))
                }
            }
        }
    }
}
