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

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::event::{SqsEvent, SqsRecord};
use chat_core::ports::{Notifier, PortResult};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{error, warn};

use super::gateway::Gateway;
use super::new_id;
use chat_core::now_millis;
use wschat_stack::Stack;

/// How many batches Lambda's event source mapping hands out at once when
/// messages wait: Lambda "consumes messages in batches, starting at five
/// concurrent batches with five functions at a time" (AWS Compute Blog,
/// "Understanding how AWS Lambda scales with Amazon SQS standard queues"),
/// then adds up to 300 a minute (AWS Knowledge Center, "Why isn't my Lambda
/// function with an Amazon SQS event source optimally scaling?"), at most
/// the mapping's `ScalingConfig.MaximumConcurrency`. dev stays at five:
/// enough that one slow batch (a paced digest) does not hold up the others,
/// as a single consumer did.
pub const POLLERS: usize = 5;

/// The queue's settings from stack.yaml.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Messages per batch: the consuming function's `batch`.
    pub batch: usize,
    /// Batches handed out at once: [`POLLERS`], at most the mapping's
    /// maximum concurrency (`chat.max_concurrency`).
    pub pollers: usize,
    pub visibility_timeout: Duration,
    pub max_receive_count: u32,
    /// The records' `eventSourceARN`.
    pub arn: String,
    pub region: String,
}

impl QueueSettings {
    /// The settings of the stack's queue, whose records name `arn` and `region`.
    pub fn new(stack: &Stack, arn: String, region: String) -> QueueSettings {
        QueueSettings {
            batch: QueueSettings::consumer_batch(stack),
            pollers: POLLERS.min(stack.chat.max_concurrency.max(1) as usize),
            visibility_timeout: Duration::from_secs(stack.queue.visibility_timeout.max(0) as u64),
            max_receive_count: stack.queue.max_receive_count.max(1) as u32,
            arn,
            region,
        }
    }

    /// Messages per batch: the `batch` of the function that consumes the queue.
    pub fn consumer_batch(stack: &Stack) -> usize {
        let consumer = stack.functions.values().find(|f| f.queue.as_deref() == Some(stack.queue.name.as_str()));
        consumer.map_or(10, |f| f.batch.max(1) as usize)
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

/// The in-process queue: the [`Notifier`] the handlers send to. Messages wait
/// in order of the time they become visible.
#[derive(Default)]
pub struct MemoryQueue {
    pending: Mutex<Pending>,
    wake: Notify,
}

#[derive(Default)]
struct Pending {
    /// By visibility time, then by order of sending.
    due: BTreeMap<(Instant, u64), Queued>,
    sent: u64,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Arc<MemoryQueue> {
        Arc::new(MemoryQueue::default())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes a message visible to the consumer after `delay`.
    fn enqueue(&self, message: Queued, delay: Duration) {
        let mut pending = self.pending();
        pending.sent += 1;
        let key = (Instant::now() + delay, pending.sent);
        pending.due.insert(key, message);
        drop(pending);
        self.wake.notify_one();
    }

    /// Up to `max` messages that are visible now, oldest first; or, when none
    /// is, the time the next one becomes visible.
    fn take(&self, max: usize) -> Result<Vec<Queued>, Option<Instant>> {
        let now = Instant::now();
        let mut pending = self.pending();
        let mut batch = Vec::new();
        while batch.len() < max {
            match pending.due.first_key_value() {
                Some((&(due, _), _)) if due <= now => batch.push(pending.due.pop_first().expect("a first entry").1),
                _ => break,
            }
        }
        if batch.is_empty() { Err(pending.due.first_key_value().map(|(&(due, _), _)| due)) } else { Ok(batch) }
    }

    /// The next batch: waits until at least one message is visible.
    async fn receive(&self, max: usize) -> Vec<Queued> {
        loop {
            match self.take(max) {
                Ok(batch) => return batch,
                Err(Some(due)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = self.wake.notified() => {}
                    }
                }
                Err(None) => self.wake.notified().await,
            }
        }
    }
}

#[async_trait]
impl Notifier for MemoryQueue {
    async fn send(&self, body: String, delay_seconds: u32) -> PortResult<()> {
        let message = Queued { message_id: new_id(), body, receives: 0, sent_at: now_millis() };
        self.enqueue(message, Duration::from_secs(delay_seconds.min(900).into()));
        Ok(())
    }
}

/// One poller of the in-process queue: takes a batch, hands it to the notify
/// handler, and takes the next once it has been handled. [`Consumer::run`]
/// runs [`QueueSettings::pollers`] of them.
///
/// [`Consumer::run`]: crate::backend::Consumer::run
pub async fn consume_memory(queue: Arc<MemoryQueue>, settings: QueueSettings, gateway: Arc<Gateway>) {
    loop {
        let batch = queue.receive(settings.batch).await;
        handle_batch(&queue, &settings, &gateway, batch).await;
    }
}

/// Hands one batch to the notify handler; its failed messages are delivered
/// again after the visibility timeout, up to `max_receive_count` receives.
async fn handle_batch(queue: &MemoryQueue, settings: &QueueSettings, gateway: &Arc<Gateway>, mut batch: Vec<Queued>) {
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
            queue.enqueue(message, settings.visibility_timeout);
        }
    }
}

/// One poller of the SQS queue: long-polls it and hands each batch to the
/// notify handler, as Lambda's event source mapping does: the messages of a batch that are not
/// reported as failed are deleted; the failed ones reappear after the
/// visibility timeout, and the queue's redrive policy moves them to the
/// dead-letter queue after `max_receive_count` receives.
pub async fn consume_sqs(sqs: aws_sdk_sqs::Client, queue_url: String, settings: QueueSettings, gateway: Arc<Gateway>) {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    fn attribute<T: std::str::FromStr + Default>(
        m: &aws_sdk_sqs::types::Message,
        name: MessageSystemAttributeName,
    ) -> T {
        m.attributes().and_then(|a| a.get(&name)).and_then(|v| v.parse().ok()).unwrap_or_default()
    }
    loop {
        let messages = match chat_core::aws::receive_batch(&sqs, &queue_url, settings.batch, 2).await {
            Ok(messages) => messages,
            Err(e) => {
                warn!("{e}");
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
        if !failed.is_empty() {
            warn!("{} queue messages failed; SQS delivers them again after the visibility timeout", failed.len());
        }
        if let Err(e) = chat_core::aws::delete_done(&sqs, &queue_url, &messages, &failed).await {
            warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delayed_messages_arrive_after_their_delay_in_one_batch() {
        let queue = MemoryQueue::new();
        let started = Instant::now();
        queue.send("later".into(), 1).await.unwrap();
        queue.send("later too".into(), 1).await.unwrap();
        queue.send("now".into(), 0).await.unwrap();
        let bodies = |batch: Vec<Queued>| batch.into_iter().map(|m| m.body).collect::<Vec<_>>();
        assert_eq!(bodies(queue.receive(10).await), ["now"]);
        assert_eq!(bodies(queue.receive(10).await), ["later", "later too"]);
        assert!(started.elapsed() >= Duration::from_secs(1));
    }

    #[tokio::test]
    async fn batches_hold_at_most_the_batch_size() {
        let queue = MemoryQueue::new();
        for i in 0..5 {
            queue.send(i.to_string(), 0).await.unwrap();
        }
        assert_eq!(queue.receive(3).await.len(), 3);
        assert_eq!(queue.receive(3).await.len(), 2);
    }
}
