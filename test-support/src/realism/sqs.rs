//! SQS: "After you delete a queue, you must wait at least 60 seconds before
//! creating a queue with the same name" (SQS API Reference, `CreateQueue`);
//! sooner, `CreateQueue` fails with `QueueDeletedRecently`.
//! terraform-provider-aws retries it on create (`internal/service/sqs/queue.go`).

use std::collections::HashMap;
use std::time::Instant;

use super::call::{Call, Request};
use super::wire::{self, Reply};
use super::{World, within};

pub const DELETED_RECENTLY: &str =
    "You must wait 60 seconds after deleting a queue before you can create another with the same name.";

#[derive(Debug, Default)]
pub struct State {
    /// When each queue name was last deleted.
    deleted: HashMap<String, Instant>,
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    let window = world.window(world.behaviours.queue_name_reuse_ms)?;
    if call.service != "sqs" || call.operation != "CreateQueue" {
        return None;
    }
    let name = request.json_str("QueueName")?;
    within(world.sqs.deleted.get(&name), Some(window), now).then(|| {
        wire::sqs_error(400, "QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", DELETED_RECENTLY)
    })
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if call.service == "sqs" && call.operation == "DeleteQueue" && reply.is_success() {
        let url = request.json_str("QueueUrl").unwrap_or_default();
        if let Some(name) = url.rsplit('/').next() {
            world.sqs.deleted.insert(name.to_string(), now);
        }
    }
}
