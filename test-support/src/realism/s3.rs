//! S3: a bucket name is busy for a while after the bucket is deleted;
//! `CreateBucket` of it meanwhile gets 409 `OperationAborted`, "A conflicting
//! conditional operation is currently in progress against this resource.
//! Please try again." (S3 error codes; terraform-provider-aws retries
//! CreateBucket on it, `internal/service/s3/bucket.go`).

use std::collections::HashMap;
use std::time::Instant;

use super::call::{Call, Request};
use super::wire::{self, Reply};
use super::{World, within};

pub const OPERATION_ABORTED: &str =
    "A conflicting conditional operation is currently in progress against this resource. Please try again.";

#[derive(Debug, Default)]
pub struct State {
    /// When each bucket name was last deleted.
    deleted: HashMap<String, Instant>,
}

fn bucket(request: &Request) -> Option<String> {
    request.segments().first().cloned()
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    let window = world.window(world.behaviours.bucket_name_reuse_ms)?;
    if call.service != "s3" || call.operation != "CreateBucket" {
        return None;
    }
    let name = bucket(request)?;
    within(world.s3.deleted.get(&name), Some(window), now)
        .then(|| wire::s3_error(409, "OperationAborted", OPERATION_ABORTED))
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if call.service == "s3"
        && call.operation == "DeleteBucket"
        && reply.is_success()
        && let Some(name) = bucket(request)
    {
        world.s3.deleted.insert(name, now);
    }
}
