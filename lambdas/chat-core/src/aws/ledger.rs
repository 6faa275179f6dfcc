//! The delivery ledger in DynamoDB.

use super::*;

/// The delivery ledger in DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// How long a ledger entry is kept: longer than SQS keeps retrying a
/// message (five receives a visibility timeout apart, by default).
pub(super) const LEDGER_TTL_SECONDS: i64 = 24 * 60 * 60;

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
