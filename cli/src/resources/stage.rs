//! The API's stage, with AutoDeploy so that every route change reaches it
//! without a deployment step, and the stack's throttling.
//!
//! Every stage of the stack's API is the stack's; one not named in
//! stack.yaml (after `api.stage` changed) is deleted.

use anyhow::Result;
use aws_sdk_apigatewayv2::types::RouteSettings;

use super::{Address, Env, FoundItem, Kind, Op, Tags, tags_field, tags_from_map};
use crate::aws::AwsContext;
use crate::plan::FieldChange;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub rate: f64,
    pub burst: i32,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub auto_deploy: bool,
    pub rate: Option<f64>,
    pub burst: Option<i32>,
    pub tags: Tags,
}

pub fn spec(env: &Env) -> Spec {
    let throttle = env.stack.api.throttle;
    Spec { name: env.stack.api_stage().to_string(), rate: throttle.rate, burst: throttle.burst, tags: env.tags() }
}

pub async fn find_stages(clients: &super::Clients, _env: &Env, api_id: &str) -> Result<Vec<FoundItem>> {
    let stages = super::api::paginate(|token| async move {
        let page = clients
            .apigw
            .get_stages()
            .api_id(api_id)
            .set_next_token(token)
            .send()
            .await
            .aws_context(|| format!("listing the stages of WebSocket API `{api_id}`"))?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    Ok(stages
        .into_iter()
        .map(|s| {
            let settings = s.default_route_settings();
            let found = Found {
                name: s.stage_name().unwrap_or_default().to_string(),
                auto_deploy: s.auto_deploy().unwrap_or(false),
                rate: settings.and_then(|r| r.throttling_rate_limit()),
                burst: settings.and_then(|r| r.throttling_burst_limit()),
                tags: tags_from_map(s.tags()),
            };
            FoundItem {
                address: Address::new(Kind::Stage, &found.name),
                id: found.name.clone(),
                owner: Some(Address::new(Kind::Api, "api")),
                found: super::Found::Stage(found),
            }
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

pub fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
    let mut fields = settings_fields(spec, found);
    fields.extend(tags_field(&spec.tags, &found.tags));
    fields
}

fn route_settings(spec: &Spec) -> RouteSettings {
    RouteSettings::builder().throttling_rate_limit(spec.rate).throttling_burst_limit(spec.burst).build()
}

pub async fn create(op: &Op<'_>, spec: &Spec, api_id: &str) -> Result<String> {
    op.clients
        .apigw
        .create_stage()
        .api_id(api_id)
        .stage_name(&spec.name)
        .auto_deploy(true)
        .default_route_settings(route_settings(spec))
        .set_tags(Some(super::tags_to_map(&spec.tags)))
        .send()
        .await
        .aws_context(|| format!("creating stage `{}` of WebSocket API `{api_id}`", spec.name))?;
    Ok(spec.name.clone())
}

pub async fn update(op: &Op<'_>, spec: &Spec, found: &Found, api_id: &str) -> Result<()> {
    if !settings_fields(spec, found).is_empty() {
        op.clients
            .apigw
            .update_stage()
            .api_id(api_id)
            .stage_name(&spec.name)
            .auto_deploy(true)
            .default_route_settings(route_settings(spec))
            .send()
            .await
            .aws_context(|| format!("updating stage `{}` of WebSocket API `{api_id}`", spec.name))?;
    }
    let arn = op.env.arns().stage(api_id, &spec.name);
    super::api::retag(op, &arn, &spec.tags, &found.tags, &format!("stage `{}` of WebSocket API `{api_id}`", spec.name))
        .await
}

pub async fn delete(op: &Op<'_>, found: &Found, api_id: &str) -> Result<()> {
    match op.clients.apigw.delete_stage().api_id(api_id).stage_name(&found.name).send().await {
        Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found_exception()) => Ok(()),
        other => other.map(drop).aws_context(|| format!("deleting stage `{}` of WebSocket API `{api_id}`", found.name)),
    }
}
