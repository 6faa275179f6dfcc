//! API Gateway v2: one writer per API, and AutoDeploy's deployments.
//!
//! - **Domain names, one change per 30 s.** CreateDomainName,
//!   UpdateDomainName and DeleteDomainName take "1 request every 30 seconds
//!   per account", a quota that cannot be raised ("Amazon API Gateway
//!   quotas", the table for creating, deploying and managing an API); a call
//!   sooner is 429 `TooManyRequestsException` (AWS Knowledge Center, "Why
//!   do I get an error when I delete a custom domain name": back off and
//!   retry). `domain_write_ms` is the window here.
//! - **One writer.** API Gateway refuses a write to an API while another
//!   write to it (to anything under `/v2/apis/{apiId}`: its routes,
//!   integrations and their responses too) is in flight: 409 `ConflictException`, "Unable to complete
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
//! - **Route responses.** moto keeps route responses (Create, Get and
//!   DeleteRouteResponse) but cannot list them: GetRouteResponses
//!   (`GET /v2/apis/{apiId}/routes/{routeId}/routeresponses`, API Gateway v2
//!   API reference, "RouteResponses") answers 500. The proxy remembers the
//!   route responses made through it, and answers the listing as AWS does:
//!   404 `NotFoundException` for a route that does not exist, else `items`,
//!   each read back from moto with GetRouteResponse. And "you can only
//!   define the $default route response for WebSocket APIs" (developer
//!   guide, "Set up route responses for WebSocket APIs"), once per route:
//!   another key is 400 `BadRequestException` ("The request is not valid"),
//!   a second `$default` 409 `ConflictException` ("would cause a conflict
//!   with the current state of a service resource"), both among
//!   CreateRouteResponse's errors in the API reference. AWS's texts for these
//!   are not documented; the conflict's follows the one AWS gives a second
//!   route of a key ("Route with key $default already exists for this API",
//!   serverless/serverless#6507). moto takes both.
//! - **Deleting what is gone.** DeleteIntegrationResponse and
//!   DeleteRouteResponse answer 404 `NotFoundException` for a response that
//!   does not exist (API reference, "IntegrationResponse" and
//!   "RouteResponse", DELETE); moto answers the first with a 500 (a
//!   `KeyError`) and the second with 200. The proxy reads the response first
//!   and answers moto's 404 when it is gone.
//! - **Stage updates.** moto has no UpdateStage (500) and no
//!   DeleteRouteSettings (no such path: 404 without an error type). The proxy
//!   does both on moto's own stage, which moto replaces when a stage of the
//!   same name is created again: it reads the stage, applies the change and
//!   creates it anew, so a read straight from moto sees it. UpdateStage
//!   changes what its body names: `autoDeploy`, the fields of
//!   `defaultRouteSettings` it gives, and per route key the fields of
//!   `routeSettings` it gives, keeping the other keys; terraform-provider-aws
//!   relies on that, sending the routes it keeps after clearing the others
//!   with DeleteRouteSettings (`internal/service/apigatewayv2/stage.go`).
//!   DeleteRouteSettings (`DELETE /v2/apis/{apiId}/stages/{stageName}/routesettings/{routeKey}`)
//!   answers 204, or 404 `NotFoundException` for a stage or a route key
//!   without settings (API reference, "RouteSettings"; terraform takes the
//!   404 as done).
//!   UpdateStage merges (go-to-k/cdkd PR #1577 probed AWS: an UpdateStage
//!   that omits a member keeps it, and "`DeleteRouteSettings` clears exactly
//!   one route key").
//! - **Route settings name routes.** An entry of a stage's `RouteSettings`
//!   whose key is not a route key of the API is refused, in CreateStage and
//!   UpdateStage, with 404 `NotFoundException`, "Unable to find Route by key
//!   GET /some-route within the provided RouteSettings"
//!   (terraform-aws-modules/terraform-aws-apigateway-v2 PR #80, a CreateStage;
//!   serverless-api-gateway-throttling PR #34). Deleting a route leaves its
//!   entry behind, and an UpdateStage is then refused for it even when its
//!   body does not name it: the entries the stage would hold are checked
//!   (serverless-api-gateway-throttling issue #33: after a route was renamed,
//!   "it failed because API Gateway expected it to include /world throttling
//!   settings"). moto takes any key, and keeps entries of deleted routes too.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::call::{Call, Request};
use super::wire::{self, Reply};
use super::{World, within};

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
    /// The route responses made through the proxy, by (API id, route id):
    /// (id, key) of each.
    route_responses: HashMap<(String, String), Vec<(String, String)>>,
    /// When the last domain name change was let through.
    last_domain_write: Option<Instant>,
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
/// deployments the proxy made; and refuses a route response AWS refuses.
pub fn answer(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    if let Some(refusal) = domain_write(world, call, now) {
        return Some(refusal);
    }
    if let Some(refusal) = one_route_response(world, call, request) {
        return Some(refusal);
    }
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

/// A domain name change within `domain_write_ms` of the last one let through: 429.
fn domain_write(world: &mut World, call: &Call, now: Instant) -> Option<Reply> {
    let window = world.window(world.behaviours.domain_write_ms)?;
    let writes = ["CreateDomainName", "UpdateDomainName", "DeleteDomainName"];
    if call.service != "apigateway" || !writes.contains(&call.operation.as_str()) {
        return None;
    }
    if within(world.api.last_domain_write.as_ref(), Some(window), now) {
        return Some(wire::rest_json_error(429, "TooManyRequestsException", "Too Many Requests"));
    }
    world.api.last_domain_write = Some(now);
    None
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

/// Learns from a forwarded call: route responses, routes, stages and the
/// changes that make AutoDeploy deploy again; and shows deployments in
/// `GetStage(s)`.
pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    learn_route_responses(&mut world.api, call, request, reply);
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

/// The one route response key of a WebSocket route.
const ROUTE_RESPONSE_KEY: &str = "$default";

/// CreateRouteResponse with another key than `$default`, or on a route that
/// has its `$default` already: AWS's refusals (see the module's doc).
fn one_route_response(world: &World, call: &Call, request: &Request) -> Option<Reply> {
    if !world.behaviours.one_route_response || call.service != "apigateway" || call.operation != "CreateRouteResponse" {
        return None;
    }
    let segments = request.segments();
    let ["v2", "apis", api, "routes", route, "routeresponses"] =
        segments.iter().map(String::as_str).collect::<Vec<_>>()[..]
    else {
        return None;
    };
    let key = request.json_str("routeResponseKey").unwrap_or_default();
    if key != ROUTE_RESPONSE_KEY {
        return Some(wire::rest_json_error(
            400,
            "BadRequestException",
            &format!("Route response key {key} is not supported for WebSocket APIs: only $default is"),
        ));
    }
    let existing = world.api.route_responses.get(&(api.to_string(), route.to_string()));
    existing.is_some_and(|responses| responses.iter().any(|(_, k)| k == ROUTE_RESPONSE_KEY)).then(|| {
        wire::rest_json_error(
            409,
            "ConflictException",
            &format!("Route response with key {ROUTE_RESPONSE_KEY} already exists for this route"),
        )
    })
}

/// Keeps [`State::route_responses`] as moto's are: made, rekeyed, deleted,
/// and gone with their route or API.
fn learn_route_responses(state: &mut State, call: &Call, request: &Request, reply: &Reply) {
    if call.service != "apigateway" || !reply.is_success() {
        return;
    }
    let segments = request.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let of = |api: &str, route: &str| (api.to_string(), route.to_string());
    match (call.operation.as_str(), &s[..]) {
        ("CreateRouteResponse", ["v2", "apis", api, "routes", route, "routeresponses"]) => {
            if let Some(id) = reply.json_str("routeResponseId") {
                let key = request.json_str("routeResponseKey").unwrap_or_default();
                state.route_responses.entry(of(api, route)).or_default().push((id, key));
            }
        }
        ("UpdateRouteResponse", ["v2", "apis", api, "routes", route, "routeresponses", id]) => {
            if let Some(key) = request.json_str("routeResponseKey")
                && let Some(responses) = state.route_responses.get_mut(&of(api, route))
            {
                for (_, k) in responses.iter_mut().filter(|(known, _)| known == id) {
                    *k = key.clone();
                }
            }
        }
        ("DeleteRouteResponse", ["v2", "apis", api, "routes", route, "routeresponses", id]) => {
            if let Some(responses) = state.route_responses.get_mut(&of(api, route)) {
                responses.retain(|(known, _)| known != id);
            }
        }
        ("DeleteRoute", ["v2", "apis", api, "routes", route]) => {
            state.route_responses.remove(&of(api, route));
        }
        ("DeleteApi", ["v2", "apis", api]) => state.route_responses.retain(|(a, _), _| a != api),
        _ => {}
    }
}

/// A call moto lacks or gets wrong, that the proxy completes from moto's own reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// GetRouteResponses: moto has no listing.
    ListRouteResponses,
    /// DeleteIntegrationResponse and DeleteRouteResponse: 404 when it is gone.
    DeleteIfThere,
    /// CreateStage, when route settings must name routes: checked, then forwarded.
    CreateStage,
    /// UpdateStage: moto has none.
    UpdateStage,
    /// DeleteRouteSettings: moto has none.
    DeleteRouteSettings,
}

/// Whether the proxy completes `call` instead of forwarding it as it is;
/// `route_settings_name_routes` is [`super::Behaviours::route_settings_name_routes`].
pub fn completed(call: &Call, route_settings_name_routes: bool) -> Option<Completion> {
    if call.service != "apigateway" {
        return None;
    }
    match call.operation.as_str() {
        "GetRouteResponses" => Some(Completion::ListRouteResponses),
        "DeleteIntegrationResponse" | "DeleteRouteResponse" => Some(Completion::DeleteIfThere),
        "CreateStage" if route_settings_name_routes => Some(Completion::CreateStage),
        "UpdateStage" => Some(Completion::UpdateStage),
        "DeleteRouteSettings" => Some(Completion::DeleteRouteSettings),
        _ => None,
    }
}

/// `request`, sent to moto as a POST of `body` to `path`.
async fn post(shared: &super::Shared, request: &Request, path: String, body: &Value) -> Result<Reply, String> {
    let mut headers = request.headers.clone();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    let post =
        Request { method: http::Method::POST, path, query: String::new(), headers, body: body.to_string().into() };
    super::forward(shared, &post).await
}

/// The route settings' keys that are not route keys of `api` (when the
/// behaviour is on): AWS's 404, else `None`.
async fn unknown_route_key(
    shared: &super::Shared,
    request: &Request,
    api: &str,
    settings: Option<&Value>,
) -> Result<Option<Reply>, String> {
    let Some(keys) = settings.and_then(Value::as_object).filter(|keys| !keys.is_empty()) else { return Ok(None) };
    if !shared.world().behaviours.route_settings_name_routes {
        return Ok(None);
    }
    let routes = read(shared, request, format!("/v2/apis/{api}/routes")).await?;
    if !routes.is_success() {
        return Ok(Some(routes));
    }
    let body = routes.json().unwrap_or_default();
    let known: Vec<&str> =
        body["items"].as_array().into_iter().flatten().filter_map(|r| r["routeKey"].as_str()).collect();
    Ok(keys.keys().find(|key| !known.contains(&key.as_str())).map(|key| {
        wire::rest_json_error(
            404,
            "NotFoundException",
            &format!("Unable to find Route by key {key} within the provided RouteSettings"),
        )
    }))
}

/// Creates `stage` (moto's GetStage body, changed) anew on moto, which
/// replaces the stage of that name.
async fn recreate(shared: &super::Shared, request: &Request, api: &str, mut stage: Value) -> Result<Reply, String> {
    if let Some(fields) = stage.as_object_mut() {
        fields.remove("createdDate");
        fields.remove("lastUpdatedDate");
    }
    post(shared, request, format!("/v2/apis/{api}/stages"), &stage).await
}

/// Applies an UpdateStage body to a stage (see the module's doc).
fn apply_update(stage: &mut Value, update: &Value) {
    let (Some(stage), Some(update)) = (stage.as_object_mut(), update.as_object()) else { return };
    let merge = |into: &mut Value, from: &Value| match (into.as_object_mut(), from.as_object()) {
        (Some(into), Some(from)) => into.extend(from.iter().map(|(k, v)| (k.clone(), v.clone()))),
        _ => *into = from.clone(),
    };
    for (field, value) in update {
        match field.as_str() {
            "stageName" => {}
            "defaultRouteSettings" | "stageVariables" => merge(stage.entry(field.clone()).or_insert(json!({})), value),
            "routeSettings" => {
                let routes = stage.entry(field.clone()).or_insert(json!({}));
                if !routes.is_object() {
                    *routes = json!({});
                }
                for (key, settings) in value.as_object().into_iter().flatten() {
                    merge(routes.as_object_mut().expect("an object").entry(key.clone()).or_insert(json!({})), settings);
                }
            }
            _ => {
                stage.insert(field.clone(), value.clone());
            }
        }
    }
}

/// `request`, sent to moto as a GET of `path`.
async fn read(shared: &super::Shared, request: &Request, path: String) -> Result<Reply, String> {
    let get = Request {
        method: http::Method::GET,
        path,
        query: String::new(),
        headers: request.headers.clone(),
        body: bytes::Bytes::new(),
    };
    super::forward(shared, &get).await
}

/// Answers `request` as AWS would, from what moto holds (see [`Completion`]).
pub async fn complete(shared: &super::Shared, request: &Request, completion: Completion) -> Result<Reply, String> {
    let path = request.path.split('?').next().unwrap_or(&request.path).trim_end_matches('/').to_string();
    let segments = request.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (completion, &s[..]) {
        (Completion::CreateStage, ["v2", "apis", api, "stages"]) => {
            let body = request.json().unwrap_or_default();
            if let Some(refusal) = unknown_route_key(shared, request, api, body.get("routeSettings")).await? {
                return Ok(refusal);
            }
            return super::forward(shared, request).await;
        }
        (Completion::UpdateStage, ["v2", "apis", api, "stages", _]) => {
            let current = read(shared, request, path).await?;
            if !current.is_success() {
                return Ok(current);
            }
            let update = request.json().unwrap_or_default();
            let mut stage = current.json().unwrap_or_default();
            apply_update(&mut stage, &update);
            // Every entry the stage would hold, the ones it kept included.
            if let Some(refusal) = unknown_route_key(shared, request, api, stage.get("routeSettings")).await? {
                return Ok(refusal);
            }
            return recreate(shared, request, api, stage).await;
        }
        (Completion::DeleteRouteSettings, ["v2", "apis", api, "stages", name, "routesettings", key]) => {
            let stage_path = path.rsplitn(3, '/').nth(2).unwrap_or_default().to_string();
            let current = read(shared, request, stage_path).await?;
            if !current.is_success() {
                return Ok(current);
            }
            let mut stage = current.json().unwrap_or_default();
            let removed = stage.get_mut("routeSettings").and_then(Value::as_object_mut).and_then(|r| r.remove(*key));
            if removed.is_none() {
                return Ok(wire::rest_json_error(
                    404,
                    "NotFoundException",
                    &format!("Unable to find RouteSettings by key {key} in stage {name}"),
                ));
            }
            let created = recreate(shared, request, api, stage).await?;
            if !created.is_success() {
                return Ok(created);
            }
            return Ok(Reply::no_content());
        }
        (Completion::CreateStage | Completion::UpdateStage | Completion::DeleteRouteSettings, _) => {
            return super::forward(shared, request).await;
        }
        _ => {}
    }
    match completion {
        Completion::DeleteIfThere => {
            let there = read(shared, request, path).await?;
            if there.status == http::StatusCode::NOT_FOUND {
                return Ok(there);
            }
            super::forward(shared, request).await
        }
        Completion::ListRouteResponses => {
            let segments = request.segments();
            let ["v2", "apis", api, "routes", route, "routeresponses"] =
                segments.iter().map(String::as_str).collect::<Vec<_>>()[..]
            else {
                return super::forward(shared, request).await;
            };
            let route_path = path.trim_end_matches("/routeresponses").to_string();
            let found = read(shared, request, route_path).await?;
            if !found.is_success() {
                return Ok(found);
            }
            let ids: Vec<String> = shared
                .world()
                .api
                .route_responses
                .get(&(api.to_string(), route.to_string()))
                .map(|responses| responses.iter().map(|(id, _)| id.clone()).collect())
                .unwrap_or_default();
            let mut items = Vec::new();
            for id in ids {
                let got = read(shared, request, format!("{path}/{id}")).await?;
                match got.json() {
                    Some(item) if got.is_success() => items.push(item),
                    _ if got.status == http::StatusCode::NOT_FOUND => {}
                    _ => return Ok(got),
                }
            }
            Ok(Reply::ok_json(&serde_json::json!({ "items": items })))
        }
        Completion::CreateStage | Completion::UpdateStage | Completion::DeleteRouteSettings => {
            unreachable!("answered above")
        }
    }
}
