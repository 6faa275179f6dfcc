//! Lambda event source mappings are deleted asynchronously: after
//! `DeleteEventSourceMapping` the mapping stays, in `State: Deleting`, until
//! Lambda has stopped polling (Lambda API Reference,
//! EventSourceMappingConfiguration `State`; DeleteEventSourceMapping: "When
//! you delete an event source mapping, it enters a Deleting state and might
//! not be completely deleted for several seconds"). Meanwhile it is listed
//! and read, and a new mapping of the same queue and function is refused with
//! 409 `ResourceConflictException`. terraform-provider-aws waits for the
//! delete to finish (`internal/service/lambda/event_source_mapping.go`,
//! `waitEventSourceMappingDeleted`). moto deletes at once.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::Value;

use super::call::{Call, Request};
use super::iam::function_name;
use super::wire::{self, Reply};
use super::{World, within};

#[derive(Debug, Default)]
pub struct State {
    /// Every mapping moto answered with, by UUID: what a deleting one shows.
    seen: HashMap<String, Value>,
    /// Deleted mappings, by UUID: when, and what they were.
    deleting: HashMap<String, (Instant, Value)>,
}

fn uuid_of(request: &Request) -> Option<String> {
    // /2015-03-31/event-source-mappings/{uuid}
    let segments = request.segments();
    (segments.get(1).map(String::as_str) == Some("event-source-mappings")).then(|| segments.get(2).cloned())?
}

/// The query parameter `name` of a request.
fn query(request: &Request, name: &str) -> Option<String> {
    request
        .query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
}

/// Whether mapping `m` is of `function` (a name or an ARN).
fn of_function(m: &Value, function: &str) -> bool {
    m["FunctionArn"].as_str().is_some_and(|arn| function_name(arn) == function_name(function))
}

/// The mappings still deleting, shown as Lambda shows them.
fn still_deleting(world: &World, now: Instant) -> Vec<Value> {
    let window = world.window(world.behaviours.mapping_deleting_ms);
    world
        .mapping
        .deleting
        .values()
        .filter(|(at, _)| within(Some(at), window, now))
        .map(|(_, m)| {
            let mut m = m.clone();
            m["State"] = Value::String("Deleting".into());
            m["StateTransitionReason"] = Value::String("USER_INITIATED".into());
            m
        })
        .collect()
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    if call.service != "lambda" || world.behaviours.mapping_deleting_ms.is_none() {
        return None;
    }
    let deleting = still_deleting(world, now);
    match call.operation.as_str() {
        "GetEventSourceMapping" => {
            let uuid = uuid_of(request)?;
            let m = deleting.into_iter().find(|m| m["UUID"] == uuid.as_str())?;
            Some(Reply::ok_json(&m))
        }
        "CreateEventSourceMapping" => {
            let function = request.json_str("FunctionName")?;
            let source = request.json_str("EventSourceArn")?;
            let m =
                deleting.into_iter().find(|m| of_function(m, &function) && m["EventSourceArn"] == source.as_str())?;
            let message = format!(
                "An event source mapping with SQS arn (\" {source} \") and function (\" {} \") already exists. \
                 Please update or delete the existing mapping with UUID {}",
                function_name(&function),
                m["UUID"].as_str().unwrap_or_default()
            );
            Some(wire::rest_json_error(409, "ResourceConflictException", &message))
        }
        _ => None,
    }
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if call.service != "lambda" || !reply.is_success() || world.behaviours.mapping_deleting_ms.is_none() {
        return;
    }
    match call.operation.as_str() {
        "CreateEventSourceMapping" | "GetEventSourceMapping" | "UpdateEventSourceMapping" => {
            if let Some(m) = reply.json().filter(|m| m["UUID"].is_string()) {
                world.mapping.seen.insert(m["UUID"].as_str().unwrap_or_default().to_string(), m);
            }
        }
        "DeleteEventSourceMapping" => {
            let Some(uuid) = uuid_of(request) else { return };
            let m = reply.json().filter(|m| m["UUID"].is_string()).or_else(|| world.mapping.seen.get(&uuid).cloned());
            if let Some(m) = m {
                world.mapping.deleting.insert(uuid, (now, m));
            }
        }
        "ListEventSourceMappings" => {
            let Some(mut body) = reply.json() else { return };
            if let Some(Value::Array(listed)) = body.get("EventSourceMappings") {
                for m in listed.iter().filter(|m| m["UUID"].is_string()) {
                    world.mapping.seen.insert(m["UUID"].as_str().unwrap_or_default().to_string(), m.clone());
                }
            }
            let function = query(request, "FunctionName");
            let source = query(request, "EventSourceArn");
            let extra: Vec<Value> = still_deleting(world, now)
                .into_iter()
                .filter(|m| function.as_deref().is_none_or(|f| of_function(m, f)))
                .filter(|m| source.as_deref().is_none_or(|s| m["EventSourceArn"] == s))
                .collect();
            if extra.is_empty() {
                return;
            }
            if let Some(Value::Array(listed)) = body.get_mut("EventSourceMappings") {
                listed.extend(extra);
            } else {
                body["EventSourceMappings"] = Value::Array(extra);
            }
            reply.set_json(&body);
        }
        _ => {}
    }
}
