//! IAM propagation: a new role, or a role's new policy, takes seconds (and
//! sometimes minutes) to reach Lambda.
//!
//! - `CreateFunction`, and `UpdateFunctionConfiguration` that changes the
//!   role, soon after the role was created: `InvalidParameterValueException`
//!   with either message Lambda uses for it. terraform-provider-aws retries
//!   both (`internal/service/lambda/function.go`, `retryFunctionOp`, for its
//!   IAM propagation timeout of 2 minutes).
//! - `CreateEventSourceMapping` soon after the consumer's role policy was
//!   written: "The provided execution role does not have permissions to call
//!   ReceiveMessage on SQS", which terraform-provider-aws retries too
//!   (`internal/service/lambda/event_source_mapping.go`).
//!
//! IAM says changes are eventually consistent and "may take time to become
//! visible" (IAM User Guide, troubleshooting, "Changes that I make are not
//! always immediately visible").

use std::collections::HashMap;
use std::time::Instant;

use super::call::{Call, Request};
use super::wire::{self, Reply};
use super::{World, within};

pub const ROLE_NOT_ASSUMABLE: &str = "The role defined for the function cannot be assumed by Lambda.";
pub const KMS_GRANT: &str = "Lambda was unable to configure access to your environment variables because the KMS key \
     is invalid for CreateGrant. Please check your KMS key settings. KMS Exception: InvalidArnException KMS Message: \
     ARN does not refer to a valid principal: ";
pub const NO_RECEIVE_PERMISSION: &str =
    "The provided execution role does not have permissions to call ReceiveMessage on SQS";

#[derive(Debug, Default)]
pub struct State {
    /// When each role was created.
    roles: HashMap<String, Instant>,
    /// When each role's inline policy was last written.
    policies: HashMap<String, Instant>,
    /// Each function's role name.
    functions: HashMap<String, String>,
    /// Alternates between Lambda's two messages for a role it cannot use yet.
    refusals: usize,
}

/// `arn:aws:iam::123456789012:role/path/name` -> `name`.
fn role_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

/// A function name from a path segment or body field that may be an ARN.
pub fn function_name(name: &str) -> String {
    if name.starts_with("arn:") { name.split(':').nth(6).unwrap_or(name).to_string() } else { name.to_string() }
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    let window = world.window(world.behaviours.iam_propagation_ms)?;
    if call.service != "lambda" {
        return None;
    }
    let state = &mut world.iam;
    let young = |state: &State, role: &str| within(state.roles.get(role), Some(window), now);
    match call.operation.as_str() {
        "CreateFunction" => {
            let role = role_name(&request.json_str("Role")?);
            young(state, &role).then(|| role_refusal(state, &role))
        }
        "UpdateFunctionConfiguration" => {
            let role = role_name(&request.json_str("Role")?);
            let function = function_name(request.segments().get(2)?);
            let changes = state.functions.get(&function) != Some(&role);
            (changes && young(state, &role)).then(|| role_refusal(state, &role))
        }
        "CreateEventSourceMapping" => {
            let function = function_name(&request.json_str("FunctionName")?);
            let role = state.functions.get(&function)?;
            let fresh = young(state, role) || within(state.policies.get(role), Some(window), now);
            fresh.then(|| wire::rest_json_error(400, "InvalidParameterValueException", NO_RECEIVE_PERMISSION))
        }
        _ => None,
    }
}

fn role_refusal(state: &mut State, role: &str) -> Reply {
    state.refusals += 1;
    let message = if state.refusals % 2 == 1 { ROLE_NOT_ASSUMABLE.to_string() } else { format!("{KMS_GRANT}{role}") };
    wire::rest_json_error(400, "InvalidParameterValueException", &message)
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if !reply.is_success() {
        return;
    }
    let state = &mut world.iam;
    match (call.service.as_str(), call.operation.as_str()) {
        ("iam", "CreateRole") => {
            if let Some(role) = request.form("RoleName") {
                state.roles.insert(role, now);
            }
        }
        ("iam", "PutRolePolicy") => {
            if let Some(role) = request.form("RoleName") {
                state.policies.insert(role, now);
            }
        }
        ("iam", "DeleteRole") => {
            if let Some(role) = request.form("RoleName") {
                state.roles.remove(&role);
                state.policies.remove(&role);
            }
        }
        ("lambda", "CreateFunction") => {
            if let (Some(function), Some(role)) = (request.json_str("FunctionName"), request.json_str("Role")) {
                state.functions.insert(function_name(&function), role_name(&role));
            }
        }
        ("lambda", "UpdateFunctionConfiguration") => {
            if let (Some(function), Some(role)) = (request.segments().get(2), request.json_str("Role")) {
                state.functions.insert(function_name(function), role_name(&role));
            }
        }
        _ => {}
    }
}
