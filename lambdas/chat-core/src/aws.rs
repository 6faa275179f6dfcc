//! The AWS adapters of the ports (feature `aws`): DynamoDB for the
//! [`ConnectionStore`], SQS for the [`Notifier`], and the API Gateway
//! Management API for the [`Poster`].
//!
//! Each takes a ready SDK client, so the caller decides the configuration
//! (region, credentials, `AWS_ENDPOINT_URL`, retries).
//!
//! A row of the connections table (protocol.md, "Data"):
//!
//! | attribute | type | |
//! |---|---|---|
//! | `connectionId` | S | partition key |
//! | `name` | S | display name |
//! | `format` | S | `compat` or `json` |
//! | `room` | S | only while in a room; the `room-index` GSI's partition key |
//! | `connectedAt` | N | epoch milliseconds |
//! | the TTL attribute (`expiresAt`) | N | epoch seconds |

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use tracing::warn;

use crate::ROOM_INDEX;
use crate::ports::{Connection, ConnectionStore, Format, Notifier, PortError, PortResult, Poster};

/// The connections table in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    ttl_attribute: String,
    page_size: Option<i32>,
}

impl DynamoStore {
    /// The table `table`, whose TTL attribute is `ttl_attribute` (`expiresAt` by default in stack.yaml).
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, ttl_attribute: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into(), ttl_attribute: ttl_attribute.into(), page_size: None }
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
}

/// The API Gateway Management API of one stage. 410 Gone (the SDK's
/// `GoneException`) is [`PortError::Gone`].
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
                let gone = e.as_service_error().is_some_and(|s| s.is_gone_exception())
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 410);
                if gone {
                    Err(PortError::Gone)
                } else {
                    Err(PortError::Failed(format!(
                        "posting to connection `{connection_id}`: {}",
                        DisplayErrorContext(e)
                    )))
                }
            }
        }
    }
}
