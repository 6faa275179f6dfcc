//! The messages table (the history) in DynamoDB.

use super::*;

/// The messages table in DynamoDB (see the module's docs for its items).
#[derive(Debug, Clone)]
pub struct DynamoMessages {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// The sort key prefix of de-duplication records.
pub(super) const DEDUPE: &str = "dedupe#";

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

    async fn page(&self, conversation: &str, window: Window<'_>, limit: usize, now: i64) -> PortResult<Page> {
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
