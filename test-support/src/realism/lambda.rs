//! Lambda function states (Lambda Developer Guide, "Lambda function states"):
//! a new function is `Pending` for a while, an update leaves
//! `LastUpdateStatus: InProgress` for a while, and any update meanwhile gets
//! 409 `ResourceConflictException` ("The operation cannot be performed at this
//! time. ..."). An update can end `Failed`: "Lambda aborts the update and the
//! function's previous code and configuration remain available", and it takes
//! a new update.
//! terraform-provider-aws waits for both (`internal/service/lambda/function.go`:
//! `waitFunctionCreated`, `waitFunctionUpdated`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::call::{Call, Request};
use super::iam::function_name;
use super::wire::{self, Reply};
use super::{World, within};

pub const FAILED_REASON: &str = "The update failed: the realism proxy was told to fail it.";

#[derive(Debug, Default)]
pub struct State {
    functions: HashMap<String, Function>,
}

#[derive(Debug, Default)]
struct Function {
    created: Option<Instant>,
    updated: Option<Instant>,
    /// The last update ends Failed.
    fails: bool,
}

impl Function {
    fn pending(&self, window: Option<Duration>, now: Instant) -> bool {
        within(self.created.as_ref(), window, now)
    }

    fn updating(&self, window: Option<Duration>, now: Instant) -> bool {
        within(self.updated.as_ref(), window, now)
    }
}

fn path_function(request: &Request) -> Option<String> {
    // /2015-03-31/functions/{name}[/configuration|/code]
    let segments = request.segments();
    (segments.get(1).map(String::as_str) == Some("functions")).then(|| segments.get(2).map(|n| function_name(n)))?
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    if call.service != "lambda"
        || !matches!(call.operation.as_str(), "UpdateFunctionCode" | "UpdateFunctionConfiguration")
    {
        return None;
    }
    let name = path_function(request)?;
    let function = world.lambda.functions.get(&name)?;
    let arn = format!("arn:aws:lambda:{}:{}:function:{name}", crate::REGION, crate::ACCOUNT_ID);
    let message = if function.pending(world.window(world.behaviours.function_pending_ms), now) {
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
            .to_string()
    } else if function.updating(world.window(world.behaviours.function_updating_ms), now) {
        format!("The operation cannot be performed at this time. An update is in progress for resource: {arn}")
    } else {
        return None;
    };
    Some(wire::rest_json_error(409, "ResourceConflictException", &message))
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if call.service != "lambda" || !reply.is_success() {
        return;
    }
    let pending = world.window(world.behaviours.function_pending_ms);
    let updating = world.window(world.behaviours.function_updating_ms);
    match call.operation.as_str() {
        "CreateFunction" => {
            if let Some(name) = request.json_str("FunctionName") {
                let function = Function { created: Some(now), ..Function::default() };
                world.lambda.functions.insert(function_name(&name), function);
            }
        }
        "DeleteFunction" => {
            if let Some(name) = path_function(request) {
                world.lambda.functions.remove(&name);
            }
        }
        "UpdateFunctionCode" | "UpdateFunctionConfiguration" => {
            let Some(name) = path_function(request) else { return };
            let failing = &mut world.behaviours.failing_updates;
            let fails = failing.iter().position(|f| *f == name).map(|i| failing.remove(i)).is_some();
            let function = world.lambda.functions.entry(name).or_default();
            function.updated = Some(now);
            function.fails = fails;
        }
        "GetFunction" | "GetFunctionConfiguration" => {
            let Some(name) = path_function(request) else { return };
            let Some(function) = world.lambda.functions.get(&name) else { return };
            let Some(mut body) = reply.json() else { return };
            let config = if call.operation == "GetFunction" { body.get_mut("Configuration") } else { Some(&mut body) };
            if let Some(Value::Object(config)) = config {
                let mut set = |k: &str, v: &str| {
                    config.insert(k.to_string(), Value::String(v.to_string()));
                };
                // What Lambda shows, from its create and update responses:
                // no LastUpdateStatus while Pending, then `Successful`; an
                // update's reason says "created" too.
                if function.pending(pending, now) {
                    set("State", "Pending");
                    set("StateReason", "The function is being created.");
                    set("StateReasonCode", "Creating");
                    for field in ["LastUpdateStatus", "LastUpdateStatusReason", "LastUpdateStatusReasonCode"] {
                        config.remove(field);
                    }
                } else if function.updating(updating, now) {
                    set("LastUpdateStatus", "InProgress");
                    set("LastUpdateStatusReason", "The function is being created.");
                    set("LastUpdateStatusReasonCode", "Creating");
                } else if function.fails && function.updated.is_some() {
                    set("LastUpdateStatus", "Failed");
                    set("LastUpdateStatusReason", FAILED_REASON);
                    set("LastUpdateStatusReasonCode", "InternalError");
                }
            }
            reply.set_json(&body);
        }
        _ => {}
    }
}
