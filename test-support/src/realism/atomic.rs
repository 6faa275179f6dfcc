//! Writes that AWS applies atomically and moto's threaded server may
//! interleave: the proxy holds one lock per key while such a write is at
//! moto (`atomic_items`: DynamoDB single-item writes, per table;
//! `atomic_record_changes`: Route 53 change batches, per hosted zone).

use super::Behaviours;
use super::call::{Call, Request};

/// The lock a write must hold at moto, if the behaviours ask for one.
pub fn lock(behaviours: &Behaviours, call: &Call, request: &Request) -> Option<String> {
    let item = item_write(call, request).filter(|_| behaviours.atomic_items);
    item.or_else(|| record_change(call, request).filter(|_| behaviours.atomic_record_changes))
}

/// The table a DynamoDB item write is to (`PutItem`, `UpdateItem`,
/// `DeleteItem`; a transaction's first table).
fn item_write(call: &Call, request: &Request) -> Option<String> {
    if call.service != "dynamodb" {
        return None;
    }
    match call.operation.as_str() {
        "PutItem" | "UpdateItem" | "DeleteItem" => request.json_str("TableName"),
        "TransactWriteItems" => {
            let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
            let first = body.get("TransactItems")?.get(0)?.as_object()?.values().next()?;
            first.get("TableName")?.as_str().map(str::to_string)
        }
        _ => None,
    }
}

/// The hosted zone a Route 53 ChangeResourceRecordSets changes
/// (`POST /2013-04-01/hostedzone/{Id}/rrset`), as a lock's key.
fn record_change(call: &Call, request: &Request) -> Option<String> {
    if call.service != "route53" || call.operation != "ChangeResourceRecordSets" {
        return None;
    }
    let segments = request.segments();
    let at = segments.iter().position(|s| s == "hostedzone")?;
    segments.get(at + 1).map(|zone| format!("route53 {zone}"))
}
