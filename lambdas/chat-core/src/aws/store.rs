//! The connections table in DynamoDB.

use super::*;

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

pub(super) fn format_name(format: Format) -> &'static str {
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
