//! The API Gateway WebSocket API. AWS gives APIs no unique name, so the
//! stack's API is the one tagged with its stack and stage; if several are
//! (two deploys raced), the oldest is kept and the others are deleted.

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::types::ProtocolType;

use super::{Env, FoundItem, Ids, Op, Resource, Tags, Want, tags_field, tags_from_map};
use crate::aws::{AwsContext, Missing, Sent, Tagged, retag};
use crate::diff::FieldChange;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub route_selection: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: String,
    pub name: String,
    pub route_selection: String,
    pub tags: Tags,
    /// Epoch seconds, to keep the oldest of duplicates.
    pub created: i64,
    /// Partition-qualified ARN, for tagging.
    pub arn: String,
}

impl Found {
    pub fn into_item(self) -> FoundItem {
        FoundItem::new("api", self.id.clone(), None, super::Found::Api(self))
    }
}

pub fn spec(env: &Env) -> Spec {
    Spec { name: env.stack.api_name(), route_selection: env.stack.api.route_selection.clone(), tags: env.tags() }
}

/// The WebSocket APIs tagged with this stack and stage, oldest first.
pub async fn find_apis(clients: &super::Clients, env: &Env) -> Result<Vec<Found>> {
    let apis = crate::aws::paginate(|token| async move {
        let doing = || "listing API Gateway APIs".to_string();
        let page = clients.apigw.get_apis().set_next_token(token).send().done(doing).await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    let mut found: Vec<Found> = apis
        .into_iter()
        .filter(|a| a.protocol_type() == Some(&ProtocolType::Websocket))
        .filter_map(|a| {
            let tags = tags_from_map(a.tags());
            if !env.owns(&tags) {
                return None;
            }
            let id = a.api_id()?.to_string();
            Some(Found {
                arn: env.arns().api(&id),
                id,
                name: a.name().unwrap_or_default().to_string(),
                route_selection: a.route_selection_expression().unwrap_or_default().to_string(),
                tags,
                created: a.created_date().map_or(0, |d| d.secs()),
            })
        })
        .collect();
    found.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(found)
}

/// Orders duplicate APIs so that the one serving the stack's stage comes
/// first (it keeps its URL; the others are deleted), the oldest among equals.
/// Only duplicates cost the extra calls.
pub async fn serving_first(clients: &super::Clients, env: &Env, apis: Vec<Found>) -> Result<Vec<Found>> {
    if apis.len() < 2 {
        return Ok(apis);
    }
    let stage = env.stack.api_stage();
    let serving = futures::future::try_join_all(apis.iter().map(|api| async move {
        let read = clients.apigw.get_stage().api_id(&api.id).stage_name(stage).send().await;
        read.or_missing()
            .aws_context(|| format!("reading stage `{stage}` of WebSocket API `{}`", api.id))
            .map(|stage| stage.is_some())
    }))
    .await?;
    let mut ranked: Vec<(bool, Found)> = serving.into_iter().zip(apis).collect();
    // Stable: among APIs that serve the stage (or none does), the oldest stays first.
    ranked.sort_by_key(|(serves, _)| !serves);
    Ok(ranked.into_iter().map(|(_, api)| api).collect())
}

/// The WebSocket API.
pub struct Api;

impl Resource for Api {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let apis = serving_first(reads.clients, reads.env, find_apis(reads.clients, reads.env).await?).await?;
        Ok(apis.into_iter().map(Found::into_item).collect())
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        vec![Want::new("api", env.stack.api_name(), spec(env))]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if spec.name != found.name {
            fields.push(FieldChange::new("name", &found.name, &spec.name));
        }
        if spec.route_selection != found.route_selection {
            fields.push(FieldChange::new("route selection", &found.route_selection, &spec.route_selection));
        }
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let created = op
            .clients
            .apigw
            .create_api()
            .name(&spec.name)
            .protocol_type(ProtocolType::Websocket)
            .route_selection_expression(&spec.route_selection)
            .set_tags(Some(super::tags_to_map(&spec.tags)))
            .send()
            .done(|| format!("creating WebSocket API `{}`", spec.name))
            .await?;
        created.api_id.with_context(|| format!("creating WebSocket API `{}`: API Gateway returned no id", spec.name))
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let apigw = &op.clients.apigw;
        if spec.name != found.name || spec.route_selection != found.route_selection {
            apigw
                .update_api()
                .api_id(&found.id)
                .name(&spec.name)
                .route_selection_expression(&spec.route_selection)
                .send()
                .done(|| format!("updating WebSocket API `{}` ({})", spec.name, found.id))
                .await?;
        }
        let what = format!("WebSocket API `{}`", found.id);
        retag(Tagged::ApiGateway(&op.clients.apigw, &found.arn), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting WebSocket API `{}` ({})", found.name, found.id);
        op.clients.apigw.delete_api().api_id(&found.id).send().gone(doing).await
    }
}
