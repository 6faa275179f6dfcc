//! The notification queue of `wschat dev`, and its consumer, which hands
//! batches to chat-core's `handle_sqs` as the `notify` Lambda's event source
//! mapping would.
//!
//! The in-process queue keeps SQS's semantics where the chat depends on them:
//! a message's delay (the welcome waits for `$connect` to return), batches of
//! up to the consumer's `batch`, and redelivery of the messages a batch
//! reports as failed after the visibility timeout, up to `max_receive_count`
//! receives (then it is dropped and logged, where SQS would move it to the
//! dead-letter queue).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::event::{SqsEvent, SqsRecord};
use chat_core::ports::{Notifier, PortError, PortResult};
use tokio::sync::mpsc;
use tracing::{error, warn};

use super::gateway::Gateway;
use super::{new_id, now_millis};
use crate::stack::Stack;

/// The queue's settings from stack.yaml.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Messages per batch: the consuming function's `batch`.
    pub batch: usize,
    pub visibility_timeout: Duration,
    pub max_receive_count: u32,
    /// The records' `eventSourceARN`.
    pub arn: String,
    pub region: String,
}

impl QueueSettings {
    pub fn new(stack: &Stack, arn: String, region: String) -> QueueSettings {
        let batch = stack.functions.values().find(|f| f.queue.as_deref() == Some(stack.queue.name.as_str()));
        QueueSettings {
            batch: batch.map_or(10, |f| f.batch.max(1) as usize),
            visibility_timeout: Duration::from_secs(stack.queue.visibility_timeout.max(0) as u64),
            max_receive_count: stack.queue.max_receive_count.max(1) as u32,
            arn,
            region,
        }
    }

    /// One record of an SQS event, as Lambda's event source mapping builds it.
    pub fn record(&self, message: Received<'_>) -> SqsRecord {
        SqsRecord {
            message_id: message.message_id.to_string(),
            receipt_handle: message.receipt_handle.to_string(),
            body: message.body.to_string(),
            attributes: [
                ("ApproximateReceiveCount", message.receives.to_string()),
                ("SentTimestamp", message.sent_at.to_string()),
                ("SenderId", "wschat-dev".to_string()),
                ("ApproximateFirstReceiveTimestamp", now_millis().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            event_source: "aws:sqs".into(),
            event_source_arn: self.arn.clone(),
            aws_region: self.region.clone(),
        }
    }
}

/// What a record is built from.
pub struct Received<'a> {
    pub message_id: &'a str,
    pub receipt_handle: &'a str,
    pub body: &'a str,
    pub receives: u32,
    /// Epoch milliseconds.
    pub sent_at: i64,
}

/// One message in the in-process queue.
#[derive(Debug)]
pub struct Queued {
    message_id: String,
    body: String,
    receives: u32,
    sent_at: i64,
}

/// The in-process queue: the [`Notifier`] the handlers send to.
pub struct MemoryQueue {
    tx: mpsc::UnboundedSender<Queued>,
}

impl MemoryQueue {
    pub fn new() -> (Arc<MemoryQueue>, mpsc::UnboundedReceiver<Queued>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Arc::new(MemoryQueue { tx }), rx)
    }

    /// Makes a message visible to the consumer after `delay`.
    fn enqueue(&self, message: Queued, delay: Duration) -> PortResult<()> {
        if delay.is_zero() {
            return self.tx.send(message).map_err(|_| PortError::Failed("the in-process queue has stopped".into()));
        }
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(message);
        });
        Ok(())
    }
}

#[async_trait]
impl Notifier for MemoryQueue {
    async fn send(&self, body: String, delay_seconds: u32) -> PortResult<()> {
        let message = Queued { message_id: new_id(), body, receives: 0, sent_at: now_millis() };
        self.enqueue(message, Duration::from_secs(delay_seconds.min(900).into()))
    }
}

/// Takes batches off the in-process queue and hands them to the notify handler.
pub async fn consume_memory(
    queue: Arc<MemoryQueue>,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    settings: QueueSettings,
    gateway: Arc<Gateway>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < settings.batch {
            match rx.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        let records = batch
            .iter_mut()
            .map(|m| {
                m.receives += 1;
                settings.record(Received {
                    message_id: &m.message_id,
                    receipt_handle: &m.message_id,
                    body: &m.body,
                    receives: m.receives,
                    sent_at: m.sent_at,
                })
            })
            .collect();
        let response = gateway.notify(SqsEvent { records }).await;
        let failed: HashSet<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        for message in batch.into_iter().filter(|m| failed.contains(&m.message_id)) {
            if message.receives >= settings.max_receive_count {
                error!(
                    "queue message {} failed {} times; dropping it (SQS would move it to the dead-letter queue)",
                    message.message_id, message.receives
                );
            } else {
                warn!(
                    "queue message {} failed; delivering it again in {} s",
                    message.message_id,
                    settings.visibility_timeout.as_secs()
                );
                let _ = queue.enqueue(message, settings.visibility_timeout);
            }
        }
    }
}

/// Long-polls the SQS queue and hands each batch to the notify handler, as
/// Lambda's event source mapping does: the messages of a batch that are not
/// reported as failed are deleted; the failed ones reappear after the
/// visibility timeout, and the queue's redrive policy moves them to the
/// dead-letter queue after `max_receive_count` receives.
pub async fn consume_sqs(sqs: aws_sdk_sqs::Client, queue_url: String, settings: QueueSettings, gateway: Arc<Gateway>) {
    use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
    fn attribute<T: std::str::FromStr + Default>(
        m: &aws_sdk_sqs::types::Message,
        name: MessageSystemAttributeName,
    ) -> T {
        m.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok()).unwrap_or_default()
    }
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(settings.batch.min(10) as i32)
            .wait_time_seconds(2)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                warn!("receiving from SQS queue {queue_url}: {}", aws_sdk_sqs::error::DisplayErrorContext(e));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let records = messages
            .iter()
            .map(|m| {
                settings.record(Received {
                    message_id: m.message_id().unwrap_or_default(),
                    receipt_handle: m.receipt_handle().unwrap_or_default(),
                    body: m.body().unwrap_or_default(),
                    receives: attribute(m, MessageSystemAttributeName::ApproximateReceiveCount),
                    sent_at: attribute(m, MessageSystemAttributeName::SentTimestamp),
                })
            })
            .collect();
        let response = gateway.notify(SqsEvent { records }).await;
        let failed: HashSet<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.contains(m.message_id().unwrap_or_default()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .build()
                    .ok()
            })
            .collect();
        if !failed.is_empty() {
            warn!("{} queue messages failed; SQS delivers them again after the visibility timeout", failed.len());
        }
        if done.is_empty() {
            continue;
        }
        if let Err(e) = sqs.delete_message_batch().queue_url(&queue_url).set_entries(Some(done)).send().await {
            warn!(
                "deleting handled messages from SQS queue {queue_url}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delayed_messages_arrive_after_their_delay() {
        let (queue, mut rx) = MemoryQueue::new();
        queue.send("later".into(), 1).await.unwrap();
        queue.send("now".into(), 0).await.unwrap();
        assert_eq!(rx.recv().await.unwrap().body, "now");
        let started = tokio::time::Instant::now();
        assert_eq!(rx.recv().await.unwrap().body, "later");
        assert!(started.elapsed() >= Duration::from_secs(1));
    }
}
