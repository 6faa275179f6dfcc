//! The API's stage, with AutoDeploy so that every route change reaches it
//! without a deployment step, and the stack's throttling.
//!
//! Every stage of the stack's API is the stack's; one not named in
//! stack.yaml (after `api.stage` changed) is deleted.

use std::time::{Duration, SystemTime};

use anyhow::Result;
use aws_sdk_apigatewayv2::types::RouteSettings;

use super::{
    Address, Env, FoundItem, Ids, Kind, Op, Ref, Reference, Resource, Tags, Want, poll, tags_field, tags_from_map,
};
use crate::aws::{AwsContext, Sent, Tagged, is_not_found, retag};
use crate::diff::FieldChange;
use crate::progress::Task;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    pub name: String,
    pub rate: f64,
    pub burst: i32,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub name: String,
    pub auto_deploy: bool,
    pub rate: Option<f64>,
    pub burst: Option<i32>,
    pub tags: Tags,
}

pub fn spec(env: &Env, api_id: Ref<String>) -> Spec {
    let throttle = env.stack.api.throttle;
    Spec {
        api_id,
        name: env.stack.api_stage().to_string(),
        rate: throttle.rate,
        burst: throttle.burst,
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
            let settings = s.default_route_settings();
            let found = Found {
                api_id: api_id.to_string(),
                name: s.stage_name().unwrap_or_default().to_string(),
                auto_deploy: s.auto_deploy().unwrap_or(false),
                rate: settings.and_then(|r| r.throttling_rate_limit()),
                burst: settings.and_then(|r| r.throttling_burst_limit()),
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

fn settings_fields(spec: &Spec, found: &Found) -> Vec<FieldChange> {
    let mut fields = Vec::new();
    if !found.auto_deploy {
        fields.push(FieldChange::new("auto deploy", "false", "true"));
    }
    if found.rate != Some(spec.rate) {
        fields.push(FieldChange::new(
            "throttle rate",
            found.rate.map_or("(none)".into(), |r| r.to_string()),
            spec.rate.to_string(),
        ));
    }
    if found.burst != Some(spec.burst) {
        fields.push(FieldChange::new(
            "throttle burst",
            found.burst.map_or("(none)".into(), |b| b.to_string()),
            spec.burst.to_string(),
        ));
    }
    fields
}

fn route_settings(spec: &Spec) -> RouteSettings {
    RouteSettings::builder().throttling_rate_limit(spec.rate).throttling_burst_limit(spec.burst).build()
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

/// The API's stage.
pub struct Stage;

impl Resource for Stage {
    type Spec = Spec;
    type Found = Found;

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let name = env.stack.api_stage();
        vec![Want::new(name, name.to_string(), spec(env, ids.api()))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = settings_fields(spec, found);
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?.as_str();
        op.clients
            .apigw
            .create_stage()
            .api_id(api_id)
            .stage_name(&spec.name)
            .auto_deploy(true)
            .default_route_settings(route_settings(spec))
            .set_tags(Some(super::tags_to_map(&spec.tags)))
            .send()
            .done(|| format!("creating stage `{}` of WebSocket API `{api_id}`", spec.name))
            .await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        if !settings_fields(spec, found).is_empty() {
            op.clients
                .apigw
                .update_stage()
                .api_id(api_id)
                .stage_name(&spec.name)
                .auto_deploy(true)
                .default_route_settings(route_settings(spec))
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
