//! DynamoDB (API Reference, `CreateTable`, `UpdateTimeToLive`):
//!
//! - a new table is `CREATING` until it is `ACTIVE`, and its indexes with it;
//!   meanwhile `UpdateTable`, `UpdateTimeToLive` and `DeleteTable` get
//!   `ResourceInUseException`;
//! - "It can take up to one hour for the change to fully process. Any
//!   additional UpdateTimeToLive calls for the same table during this one hour
//!   duration result in a ValidationException."

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;

use super::call::{Call, Request};
use super::wire::{self, Reply};
use super::{World, within};

pub const TTL_TOO_SOON: &str = "Time to live has been modified multiple times within a fixed interval";

#[derive(Debug, Default)]
pub struct State {
    tables: HashMap<String, Table>,
}

#[derive(Debug, Default)]
struct Table {
    created: Option<Instant>,
    ttl_changed: Option<Instant>,
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    if call.service != "dynamodb" {
        return None;
    }
    let op = call.operation.as_str();
    if !matches!(op, "UpdateTable" | "UpdateTimeToLive" | "DeleteTable") {
        return None;
    }
    let name = request.json_str("TableName")?;
    let table = world.dynamodb.tables.get(&name)?;
    if within(table.created.as_ref(), world.window(world.behaviours.table_creating_ms), now) {
        return Some(wire::aws_json_error(
            400,
            "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
            &format!("Attempt to change a resource which is still in use: Table is being created: {name}"),
        ));
    }
    if op == "UpdateTimeToLive"
        && within(table.ttl_changed.as_ref(), world.window(world.behaviours.ttl_change_interval_ms), now)
    {
        return Some(wire::aws_json_error(400, "com.amazon.coral.validate#ValidationException", TTL_TOO_SOON));
    }
    None
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if call.service != "dynamodb" || !reply.is_success() {
        return;
    }
    let Some(name) = request.json_str("TableName") else { return };
    let creating = world.window(world.behaviours.table_creating_ms);
    let tables = &mut world.dynamodb.tables;
    match call.operation.as_str() {
        "CreateTable" => {
            tables.insert(name, Table { created: Some(now), ttl_changed: None });
        }
        "DeleteTable" => {
            tables.remove(&name);
        }
        "UpdateTimeToLive" => tables.entry(name).or_default().ttl_changed = Some(now),
        "DescribeTable" => {
            let Some(table) = tables.get(&name) else { return };
            if !within(table.created.as_ref(), creating, now) {
                return;
            }
            let Some(mut body) = reply.json() else { return };
            if let Some(description) = body.get_mut("Table").and_then(Value::as_object_mut) {
                description.insert("TableStatus".into(), "CREATING".into());
                for index in
                    description.get_mut("GlobalSecondaryIndexes").and_then(Value::as_array_mut).into_iter().flatten()
                {
                    index["IndexStatus"] = "CREATING".into();
                }
            }
            reply.set_json(&body);
        }
        _ => {}
    }
}
