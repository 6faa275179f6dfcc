//! What Lambda's SQS event source mapping does around the notify function:
//! one long poll for a batch, with the system attributes an SQS event
//! carries, and, after the invocation, the deletion of every record the
//! function did not report failed (`ReportBatchItemFailures`; the others
//! come back when their visibility timeout ends). `wschat dev --aws-store`
//! plays the mapping with these, and so does the real-process fan-out
//! benchmark.

use super::*;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};

/// One long poll of `queue_url`: up to `max` messages (SQS hands at most
/// 10), waiting up to `wait_seconds` for the first, each with every system
/// attribute (`ApproximateReceiveCount`, `SentTimestamp`...).
pub async fn receive_batch(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: usize,
    wait_seconds: i32,
) -> Result<Vec<Message>, String> {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max.clamp(1, 10) as i32)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await;
    match received {
        Ok(out) => Ok(out.messages.unwrap_or_default()),
        Err(e) => Err(format!("receiving from SQS queue {queue_url}: {}", DisplayErrorContext(e))),
    }
}

/// Deletes the messages of a batch whose ids are not in `failed`, in one
/// `DeleteMessageBatch` (a batch is at most 10); nothing when every one failed.
/// A message SQS did not delete is an error too: SQS API Reference,
/// DeleteMessageBatch: "you should check for batch errors even when the call
/// returns an HTTP status code of 200" (each in `Failed`, with its code; an
/// expired receipt handle is `ReceiptHandleIsInvalid`).
pub async fn delete_done(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    batch: &[Message],
    failed: &HashSet<String>,
) -> Result<(), String> {
    let done: Vec<DeleteMessageBatchRequestEntry> = batch
        .iter()
        .enumerate()
        .filter(|(_, m)| !failed.contains(m.message_id().unwrap_or_default()))
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(m.receipt_handle()?).build().ok()
        })
        .collect();
    if done.is_empty() {
        return Ok(());
    }
    match sqs.delete_message_batch().queue_url(queue_url).set_entries(Some(done)).send().await {
        Ok(out) if out.failed().is_empty() => Ok(()),
        Ok(out) => {
            let codes: Vec<&str> = out.failed().iter().map(|f| f.code()).collect();
            Err(format!(
                "SQS queue {queue_url} kept {} handled messages ({}); they are delivered again",
                codes.len(),
                codes.join(", ")
            ))
        }
        Err(e) => Err(format!("deleting handled messages from SQS queue {queue_url}: {}", DisplayErrorContext(e))),
    }
}
