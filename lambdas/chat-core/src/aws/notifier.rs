//! The notification queue in SQS.

use super::*;

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
pub(super) const BATCH_BYTES: usize = 262_144;

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
