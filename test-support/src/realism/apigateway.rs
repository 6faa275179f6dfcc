//! API Gateway v2: one writer per API, and AutoDeploy's deployments.
//!
//! - **One writer.** API Gateway refuses a write to an API while another
//!   write to it is in flight: 409 `ConflictException`, "Unable to complete
//!   operation due to concurrent modification. Please try again later."
//!   terraform-provider-aws retries exactly that on every apigatewayv2 call
//!   (`internal/service/apigatewayv2/service_package.go`, PR #29735; issues
//!   #37897 and #40575 are deploys that failed on it).
//! - **AutoDeploy.** A stage with `AutoDeploy` is deployed by API Gateway
//!   itself a moment after a change to its API: until then the stage still
//!   serves the previous deployment. `GetStage`'s `DeploymentId` names the live
//!   one and `LastDeploymentStatusMessage` says how the last attempt went
//!   ("Successfully deployed stage with deployment ID 'dty748'", awscli's
//!   `get-stages` example); `GetDeployment` gives its `CreatedDate` and
//!   `DeploymentStatus` (PENDING, DEPLOYED or FAILED) (API Gateway v2
//!   reference). moto has no deployments at all, so the proxy keeps them, and
//!   answers `GetDeployment(s)` itself. A deployment is made (and dated) when
//!   API Gateway gets to it, after the last change of a burst, so it holds
//!   every change before it. What AWS says while one is pending is not
//!   documented: the stage shows the previous deployment.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::World;
use super::call::{Call, Request};
use super::wire::{self, Reply};

pub const CONFLICT_MESSAGE: &str =
    "Unable to complete operation due to concurrent modification. Please try again later.";

/// `LastDeploymentStatusMessage` after a successful automatic deployment.
pub fn deployed_message(id: &str) -> String {
    format!("Successfully deployed stage with deployment ID '{id}'")
}

/// Why a deployment fails while the API has no route: the text of
/// `CreateDeployment`'s `BadRequestException` in that case (the text AutoDeploy
/// reports is not documented).
pub const NO_ROUTES_MESSAGE: &str = "Unable to deploy API because no routes exist in this API";

#[derive(Debug, Default)]
pub struct State {
    /// Writes in flight, by API id.
    pub writers: HashMap<String, usize>,
    /// AutoDeploy stages, by (API id, stage name).
    stages: HashMap<(String, String), Stage>,
    deployments: HashMap<String, Deployment>,
    /// Routes of the APIs created through the proxy.
    routes: HashMap<String, usize>,
    counter: u64,
}

#[derive(Debug)]
struct Stage {
    /// The deployment the stage serves.
    live: Option<String>,
    message: Option<String>,
    /// When API Gateway will make the next deployment.
    pending: Option<Instant>,
    updated: SystemTime,
}

#[derive(Debug, Clone)]
struct Deployment {
    api: String,
    status: &'static str,
    message: String,
    created: SystemTime,
}

pub fn conflict() -> Reply {
    wire::rest_json_error(409, "ConflictException", CONFLICT_MESSAGE)
}

/// The API id a call writes to, if it writes to one (`CreateApi` writes to
/// none; tagging the API or one of its stages writes to it).
pub fn written_api(call: &Call, request: &Request) -> Option<String> {
    if call.service != "apigateway" || request.method == http::Method::GET {
        return None;
    }
    let segments = request.segments();
    match segments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["v2", "apis", id, ..] => Some(id.to_string()),
        // arn:aws:apigateway:us-east-1::/apis/{id}[/stages/{name}]
        ["v2", "tags", ref arn @ ..] => {
            let arn = arn.join("/");
            arn.split("/apis/").nth(1).and_then(|rest| rest.split('/').next()).map(str::to_string)
        }
        _ => None,
    }
}

/// Answers what moto cannot: `GetDeployment` and `GetDeployments` of the
/// deployments the proxy made.
pub fn answer(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    world.behaviours.auto_deploy_ms?;
    if call.service != "apigateway" {
        return None;
    }
    let segments = request.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    settle(&mut world.api, now);
    let state = &world.api;
    match (call.operation.as_str(), &s[..]) {
        ("GetDeployment", ["v2", "apis", _, "deployments", id]) => Some(match state.deployments.get(*id) {
            Some(d) => Reply::ok_json(&deployment_json(id, d)),
            None => wire::rest_json_error(
                404,
                "NotFoundException",
                &format!("Invalid Deployment identifier specified {id}"),
            ),
        }),
        ("GetDeployments", ["v2", "apis", api, "deployments"]) => {
            let items: Vec<Value> =
                state.deployments.iter().filter(|(_, d)| d.api == *api).map(|(id, d)| deployment_json(id, d)).collect();
            Some(Reply::ok_json(&serde_json::json!({ "items": items })))
        }
        _ => None,
    }
}

fn deployment_json(id: &str, d: &Deployment) -> Value {
    serde_json::json!({
        "autoDeployed": true,
        "createdDate": timestamp(d.created),
        "deploymentId": id,
        "deploymentStatus": d.status,
        "deploymentStatusMessage": d.message,
    })
}

fn timestamp(at: SystemTime) -> String {
    aws_smithy_types::DateTime::from(at)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("a representable time")
}

/// Makes the deployments that are due.
fn settle(state: &mut State, now: Instant) {
    let routes = &state.routes;
    for ((api, _), stage) in state.stages.iter_mut() {
        match stage.pending {
            Some(due) if due <= now => stage.pending = None,
            _ => continue,
        }
        state.counter += 1;
        let id = format!("d{:05}", state.counter);
        let created = SystemTime::now();
        stage.updated = created;
        let (status, message) = if routes.get(api) == Some(&0) {
            ("FAILED", NO_ROUTES_MESSAGE.to_string())
        } else {
            stage.live = Some(id.clone());
            ("DEPLOYED", deployed_message(&id))
        };
        stage.message = Some(message.clone());
        state.deployments.insert(id, Deployment { api: api.clone(), status, message, created });
    }
}

/// Learns from a forwarded call: routes, stages and the changes that make
/// AutoDeploy deploy again; and shows deployments in `GetStage(s)`.
pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    let Some(delay) = world.window(world.behaviours.auto_deploy_ms) else { return };
    if call.service != "apigateway" || !reply.is_success() {
        return;
    }
    let segments = request.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let state = &mut world.api;
    match (call.operation.as_str(), &s[..]) {
        ("CreateApi", _) => {
            if let Some(id) = reply.json_str("apiId") {
                state.routes.insert(id, 0);
            }
        }
        ("DeleteApi", ["v2", "apis", api]) => {
            state.stages.retain(|(a, _), _| a != api);
            state.routes.remove(*api);
        }
        ("CreateStage", ["v2", "apis", api, "stages"]) => {
            let body = request.json().unwrap_or_default();
            if body.get("autoDeploy").and_then(Value::as_bool) == Some(true)
                && let Some(name) = body.get("stageName").and_then(Value::as_str)
            {
                let stage = Stage { live: None, message: None, pending: None, updated: SystemTime::now() };
                state.stages.insert((api.to_string(), name.to_string()), stage);
                redeploy(state, api, now + delay);
            }
        }
        ("DeleteStage", ["v2", "apis", api, "stages", name]) => {
            state.stages.remove(&(api.to_string(), name.to_string()));
        }
        ("GetStage", ["v2", "apis", api, "stages", name]) => {
            settle(state, now);
            if let Some(mut body) = reply.json() {
                show(state, api, name, &mut body);
                reply.set_json(&body);
            }
        }
        ("GetStages", ["v2", "apis", api, "stages"]) => {
            settle(state, now);
            if let Some(mut body) = reply.json() {
                for item in body.get_mut("items").and_then(Value::as_array_mut).into_iter().flatten() {
                    let name = item.get("stageName").and_then(Value::as_str).unwrap_or_default().to_string();
                    show(state, api, &name, item);
                }
                reply.set_json(&body);
            }
        }
        (op, ["v2", "apis", api, kind, ..]) if op != "GetRoutes" && request.method != http::Method::GET => {
            if let Some(routes) = state.routes.get_mut(*api) {
                match (op, *kind) {
                    ("CreateRoute", "routes") => *routes += 1,
                    ("DeleteRoute", "routes") => *routes = routes.saturating_sub(1),
                    _ => {}
                }
            }
            if *kind != "stages" && *kind != "deployments" {
                redeploy(state, api, now + delay);
            }
        }
        ("UpdateApi", ["v2", "apis", api]) => redeploy(state, api, now + delay),
        _ => {}
    }
}

/// A change to `api`: API Gateway deploys every AutoDeploy stage of it at
/// `due` (a later change pushes that back: the deployment is made as the API
/// is then).
fn redeploy(state: &mut State, api: &str, due: Instant) {
    for ((a, _), stage) in state.stages.iter_mut() {
        if a == api {
            stage.pending = Some(due);
        }
    }
}

/// Puts the stage's deployment fields into a `GetStage` body.
fn show(state: &State, api: &str, name: &str, body: &mut Value) {
    let Some(stage) = state.stages.get(&(api.to_string(), name.to_string())) else { return };
    let Some(fields) = body.as_object_mut() else { return };
    match &stage.live {
        Some(id) => fields.insert("deploymentId".into(), Value::String(id.clone())),
        None => fields.remove("deploymentId"),
    };
    if let Some(message) = &stage.message {
        fields.insert("lastDeploymentStatusMessage".into(), Value::String(message.clone()));
    }
    fields.insert("lastUpdatedDate".into(), Value::String(timestamp(stage.updated)));
}
