//! The API's stage, with AutoDeploy so that every route change reaches it
//! without a deployment step, and the stack's throttling: `api.throttle` as
//! the default route settings, which API Gateway applies to each route on
//! its own, and a route's own `throttle` as its entry in the route settings
//! ([`wschat_stack::Throttle`] cites the sources).
//!
//! The route settings hold exactly the routes with a throttle of their own.
//! An entry must name a route of the API: API Gateway answers one that does
//! not with 404 `NotFoundException`, "Unable to find Route by key ... within
//! the provided RouteSettings" (terraform-aws-modules/terraform-aws-apigateway-v2
//! PR #80, a CreateStage), so the stage waits for those routes. An entry that
//! left stack.yaml is cleared with `DeleteRouteSettings`, a 404 meaning it is
//! gone already, then the others are sent with `UpdateStage`, as
//! terraform-provider-aws updates `route_settings`
//! (`internal/service/apigatewayv2/stage.go`, `resourceStageUpdate`):
//! UpdateStage merges, and leaves an entry it does not name as it was
//! (go-to-k/cdkd PR #1577 probed it). Deleting a route leaves its entry
//! behind, and API Gateway then refuses every UpdateStage of the stage until
//! the entry is gone (DianaIonita/serverless-api-gateway-throttling#33), so
//! the clearing goes first. A route that leaves stack.yaml is deleted after
//! the stage's update (deletes wait for every update), so its entry is
//! cleared while the route still exists.
//!
//! Every stage of the stack's API is the stack's; one not named in
//! stack.yaml (after `api.stage` changed) is deleted.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use aws_sdk_apigatewayv2::types::RouteSettings;

use super::{
    Address, Env, FoundItem, Ids, Kind, Op, Ref, Reference, Resource, Tags, Want, poll, tags_field, tags_from_map,
};
use crate::aws::{AwsContext, Sent, Tagged, is_not_found, retag};
use crate::diff::FieldChange;
use crate::progress::Task;
use wschat_stack::Throttle;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    pub name: String,
    /// `api.throttle`: the default route settings.
    pub throttle: Throttle,
    /// The routes with a throttle of their own, by route key.
    pub routes: BTreeMap<String, Throttle>,
    pub tags: Tags,
}

/// A route's throttling as API Gateway holds it: either number may be unset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundThrottle {
    pub rate: Option<f64>,
    pub burst: Option<i32>,
}

impl FoundThrottle {
    fn of(settings: &RouteSettings) -> FoundThrottle {
        FoundThrottle { rate: settings.throttling_rate_limit(), burst: settings.throttling_burst_limit() }
    }

    fn is(&self, throttle: &Throttle) -> bool {
        self.rate == Some(throttle.rate) && self.burst == Some(throttle.burst)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub name: String,
    pub auto_deploy: bool,
    pub throttle: FoundThrottle,
    /// Every entry of the route settings, by route key.
    pub routes: BTreeMap<String, FoundThrottle>,
    pub tags: Tags,
}

pub fn spec(env: &Env, api_id: Ref<String>) -> Spec {
    let api = &env.stack.api;
    Spec {
        api_id,
        name: env.stack.api_stage().to_string(),
        throttle: api.throttle,
        routes: api.routes.iter().filter_map(|(key, route)| Some((key.clone(), route.throttle?))).collect(),
        tags: env.tags(),
    }
}

pub async fn find_stages(clients: &super::Clients, _env: &Env, api_id: &str) -> Result<Vec<FoundItem>> {
    let stages = crate::aws::paginate(|token| async move {
        let doing = || format!("listing the stages of WebSocket API `{api_id}`");
        let page = clients.apigw.get_stages().api_id(api_id).set_next_token(token).send().done(doing).await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    Ok(stages
        .into_iter()
        .map(|s| {
            let found = Found {
                api_id: api_id.to_string(),
                name: s.stage_name().unwrap_or_default().to_string(),
                auto_deploy: s.auto_deploy().unwrap_or(false),
                throttle: s
                    .default_route_settings()
                    .map_or(FoundThrottle { rate: None, burst: None }, FoundThrottle::of),
                routes: s
                    .route_settings()
                    .into_iter()
                    .flatten()
                    .map(|(key, settings)| (key.clone(), FoundThrottle::of(settings)))
                    .collect(),
                tags: tags_from_map(s.tags()),
            };
            FoundItem::new(
                found.name.clone(),
                found.name.clone(),
                Some(Address::new(Kind::Api, "api")),
                super::Found::Stage(found),
            )
        })
        .collect())
}

/// `20/s, burst 50`; `(none)` for an unset number.
fn shown(throttle: Option<&FoundThrottle>) -> String {
    match throttle {
        None => "(none)".into(),
        Some(t) => format!(
            "{}/s, burst {}",
            t.rate.map_or("(none)".into(), |r| r.to_string()),
            t.burst.map_or("(none)".into(), |b| b.to_string())
        ),
    }
}

fn wanted(throttle: &Throttle) -> FoundThrottle {
    FoundThrottle { rate: Some(throttle.rate), burst: Some(throttle.burst) }
}

/// What `UpdateStage` changes: AutoDeploy, the default throttle, and the
/// route settings to create or change.
fn settings_fields(spec: &Spec, found: &Found) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if !found.auto_deploy {
        fields.push(FieldChange::new("auto deploy", "false", "true"));
    }
    if found.throttle.rate != Some(spec.throttle.rate) {
        fields.push(FieldChange::new(
            "throttle rate",
            found.throttle.rate.map_or("(none)".into(), |r| r.to_string()),
            spec.throttle.rate.to_string(),
        ));
    }
    if found.throttle.burst != Some(spec.throttle.burst) {
        fields.push(FieldChange::new(
            "throttle burst",
            found.throttle.burst.map_or("(none)".into(), |b| b.to_string()),
            spec.throttle.burst.to_string(),
        ));
    }
    for (key, throttle) in &spec.routes {
        let have = found.routes.get(key);
        if !have.is_some_and(|have| have.is(throttle)) {
            fields.push(FieldChange::new(
                format!("throttle of route {key}"),
                shown(have),
                shown(Some(&wanted(throttle))),
            ));
        }
    }
    fields
}

/// The route settings stack.yaml has no throttle for: cleared one by one.
fn cleared(spec: &Spec, found: &Found) -> Vec<String> {
    found.routes.keys().filter(|key| !spec.routes.contains_key(*key)).cloned().collect()
}

fn route_settings(throttle: &Throttle) -> RouteSettings {
    RouteSettings::builder().throttling_rate_limit(throttle.rate).throttling_burst_limit(throttle.burst).build()
}

fn routes_settings(spec: &Spec) -> Option<HashMap<String, RouteSettings>> {
    (!spec.routes.is_empty()).then(|| spec.routes.iter().map(|(key, t)| (key.clone(), route_settings(t))).collect())
}

/// How long API Gateway may take to deploy a stage after a change.
const DEPLOY_LIMIT: Duration = Duration::from_secs(180);

/// What [`wait_deployed`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployed {
    /// The stage serves a deployment API Gateway made after the last write.
    Live(String),
    /// This run wrote nothing to the API: the stage serves what it served.
    Unchanged,
    /// The endpoint keeps no deployments (moto): nothing to confirm.
    Unknown,
}

/// Waits until the stage serves a deployment made after this run's last
/// write to its API.
///
/// With AutoDeploy, API Gateway deploys the stage itself a moment after a
/// change; until then clients get the previous routes. `GetStage` names the
/// live deployment (`DeploymentId`) and how the last attempt went
/// (`LastDeploymentStatusMessage`, "Successfully deployed stage with deployment
/// ID '...'"), and `GetDeployment` dates it (`CreatedDate`) (API Gateway v2
/// reference, `GetStage` and `GetDeployment`). A deployment dated at or after
/// the last write (by API Gateway's clock: the write's reply `Date`) holds it.
/// A failed attempt after the write is an error that carries AWS's message.
pub async fn wait_deployed(clients: &super::Clients, task: &Task, api_id: &str, stage: &str) -> Result<Deployed> {
    let Some(since) = clients.api_writes.last_write(api_id) else { return Ok(Deployed::Unchanged) };
    let apigw = &clients.apigw;
    let what = format!(
        "waiting for API Gateway to deploy stage `{stage}` (AutoDeploy applies a change to the API a moment after it is made)"
    );
    let started = std::time::Instant::now();
    let last_message = std::sync::Mutex::new(None::<String>);
    let waited = poll(task, &what, DEPLOY_LIMIT, || async {
        // The stage and the API's deployments at once: one round trip a look.
        let (got, listed) = tokio::join!(
            apigw.get_stage().api_id(api_id).stage_name(stage).send(),
            apigw.get_deployments().api_id(api_id).max_results("100").send(),
        );
        // An endpoint without deployments (moto) answers GetDeployments with
        // a 404; API Gateway answers it for every API.
        if let Err(e) = &listed
            && e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
        {
            tracing::debug!("this endpoint keeps no API Gateway deployments (GetDeployments: 404): not confirming the stage");
            return Ok(Some(Deployed::Unknown));
        }
        let listed = listed.aws_context(|| format!("listing the deployments of WebSocket API `{api_id}`"))?;
        let got = match got {
            // Just created: reads are eventually consistent.
            Err(e) if is_not_found(&e) && started.elapsed() < Duration::from_secs(30) => return Ok(None),
            other => other.aws_context(|| format!("reading stage `{stage}` of WebSocket API `{api_id}`"))?,
        };
        let message = got.last_deployment_status_message().map(str::to_string);
        *last_message.lock().expect("poisoned") = message.clone();
        let updated = got.last_updated_date().and_then(|d| SystemTime::try_from(*d).ok());
        // A failed attempt is reported in the message only; count it when it
        // is clearly after the write (the write's date has whole seconds).
        if let (Some(message), Some(updated)) = (&message, updated)
            && !message.starts_with(DEPLOYED_PREFIX)
            && updated >= since + Duration::from_secs(1)
        {
            anyhow::bail!(
                "API Gateway could not deploy stage `{stage}` of WebSocket API `{api_id}`: {message}; fix the cause and deploy again"
            );
        }
        let Some(id) = got.deployment_id().map(str::to_string) else { return Ok(None) };
        let listed = listed.items().iter().find(|d| d.deployment_id() == Some(id.as_str())).map(|d| d.created_date());
        let created = match listed {
            Some(created) => created.copied(),
            None => apigw
                .get_deployment()
                .api_id(api_id)
                .deployment_id(&id)
                .send().done(|| format!("reading deployment `{id}` of WebSocket API `{api_id}`")).await?
                .created_date()
                .copied(),
        };
        let fresh = created.and_then(|c| SystemTime::try_from(c).ok()).is_some_and(|c| c >= since);
        let succeeded = message.as_deref().is_none_or(|m| m == deployed_message(&id));
        Ok((fresh && succeeded).then_some(Deployed::Live(id)))
    })
    .await;
    waited.map_err(|e| {
        let last = last_message.lock().expect("poisoned").clone().unwrap_or_else(|| "(none)".into());
        e.context(format!("stage `{stage}` of WebSocket API `{api_id}`: last deployment status: {last}"))
    })
}

/// The start of `LastDeploymentStatusMessage` after a successful deployment.
const DEPLOYED_PREFIX: &str = "Successfully deployed stage with deployment ID";

/// `LastDeploymentStatusMessage` after deployment `id` went live (awscli's
/// `apigatewayv2 get-stages` example: "Successfully deployed stage with
/// deployment ID 'dty748'").
pub fn deployed_message(id: &str) -> String {
    format!("{DEPLOYED_PREFIX} '{id}'")
}

/// Sets the fields CreateStage and UpdateStage both send on either's
/// builder (the SDK's two builders are types of their own with the same
/// setters).
macro_rules! with_fields {
    ($builder:expr, $spec:expr) => {
        $builder
            .auto_deploy(true)
            .default_route_settings(route_settings(&$spec.throttle))
            .set_route_settings(routes_settings($spec))
    };
}

/// The API's stage.
pub struct Stage;

impl Resource for Stage {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let Some(api_id) = reads.api_id() else { return Ok(super::FoundSet::default()) };
        Ok(find_stages(reads.clients, reads.env, &api_id).await?.into())
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        // Route settings name routes, which must exist first.
        let routes = spec.routes.keys().map(|key| Reference::exists(Kind::Route, key));
        std::iter::once(spec.api_id.reference()).chain(routes).collect()
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let name = env.stack.api_stage();
        vec![Want::new(name, name.to_string(), spec(env, ids.api()))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = settings_fields(spec, found);
        for key in cleared(spec, found) {
            fields.push(FieldChange::new(
                format!("throttle of route {key}"),
                shown(found.routes.get(&key)),
                "(the stage's default)",
            ));
        }
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?.as_str();
        with_fields!(op.clients.apigw.create_stage().api_id(api_id).stage_name(&spec.name), spec)
            .set_tags(Some(super::tags_to_map(&spec.tags)))
            .send()
            .done(|| format!("creating stage `{}` of WebSocket API `{api_id}`", spec.name))
            .await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        let apigw = &op.clients.apigw;
        for key in cleared(spec, found) {
            let doing = || {
                format!("clearing the throttle of route `{key}` on stage `{}` of WebSocket API `{api_id}`", spec.name)
            };
            apigw
                .delete_route_settings()
                .api_id(api_id)
                .stage_name(&spec.name)
                .route_key(&key)
                .send()
                .gone(doing)
                .await?;
        }
        if !settings_fields(spec, found).is_empty() {
            with_fields!(apigw.update_stage().api_id(api_id).stage_name(&spec.name), spec)
                .send()
                .done(|| format!("updating stage `{}` of WebSocket API `{api_id}`", spec.name))
                .await?;
        }
        let arn = op.env.arns().stage(api_id, &spec.name);
        let what = format!("stage `{}` of WebSocket API `{api_id}`", spec.name);
        retag(Tagged::ApiGateway(&op.clients.apigw, &arn), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let api_id = found.api_id.as_str();
        let doing = || format!("deleting stage `{}` of WebSocket API `{api_id}`", found.name);
        op.clients.apigw.delete_stage().api_id(api_id).stage_name(&found.name).send().gone(doing).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(spec: &Spec) -> Found {
        Found {
            api_id: "a1".into(),
            name: spec.name.clone(),
            auto_deploy: true,
            throttle: wanted(&spec.throttle),
            routes: spec.routes.iter().map(|(key, t)| (key.clone(), wanted(t))).collect(),
            tags: spec.tags.clone(),
        }
    }

    fn shipped() -> Spec {
        spec(&crate::resources::tests::shipped(), Ref::new(Address::new(Kind::Api, "api"), Some("a1".to_string())))
    }

    #[test]
    fn the_route_settings_are_the_routes_with_a_throttle_of_their_own() {
        let spec = shipped();
        let keys: Vec<&str> = spec.routes.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["$connect", "broadcast", "history", "list", "ping", "post", "rename", "send", "sendmessage", "typing"]
        );
        assert_eq!(spec.routes["typing"], Throttle { rate: 15.0, burst: 100 });
        assert_eq!(spec.throttle, Throttle { rate: 200.0, burst: 400 });
        // Each needs its route; the others' route keys are not referenced.
        let references = Stage::references(&spec);
        assert_eq!(references.len(), 1 + keys.len());
        assert!(references.contains(&Reference::exists(Kind::Route, "typing")));
        assert!(!references.contains(&Reference::exists(Kind::Route, "$default")));
    }

    #[test]
    fn the_same_stage_has_no_diff_and_one_route_changed_is_one_field() {
        let spec = shipped();
        assert_eq!(Stage::diff(&spec, &found(&spec)), Vec::new());
        let mut changed = spec.clone();
        changed.routes.insert("typing".into(), Throttle { rate: 20.0, burst: 50 });
        assert_eq!(
            Stage::diff(&changed, &found(&spec)),
            [FieldChange::new("throttle of route typing", "15/s, burst 100", "20/s, burst 50")]
        );
    }

    #[test]
    fn a_route_that_lost_its_throttle_is_cleared_and_a_new_one_is_set() {
        let spec = shipped();
        let mut found = found(&spec);
        found.routes.insert("gone".into(), FoundThrottle { rate: Some(5.0), burst: None });
        found.routes.remove("send");
        assert_eq!(cleared(&spec, &found), ["gone"]);
        assert_eq!(
            Stage::diff(&spec, &found),
            [
                FieldChange::new("throttle of route send", "(none)", "5/s, burst 100"),
                FieldChange::new("throttle of route gone", "5/s, burst (none)", "(the stage's default)"),
            ]
        );
        // Only a cleared entry: no UpdateStage.
        found.routes.insert("send".into(), wanted(&spec.routes["send"]));
        assert!(settings_fields(&spec, &found).is_empty());
        assert_eq!(cleared(&spec, &found), ["gone"]);
    }
}
