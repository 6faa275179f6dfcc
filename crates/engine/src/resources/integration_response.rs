//! The integration response of each mock route's MOCK integration: what API
//! Gateway answers the route's frames with.
//!
//! A non-proxy integration needs at least one integration response, and
//! `$default` is the catch-all one, chosen when no other matches (API
//! Gateway developer guide, "Set up a WebSocket API integration response");
//! its response template under the key `\$default` selects is the body
//! stack.yaml's `mock` gives. (CreateIntegrationResponse,
//! GetIntegrationResponses, UpdateIntegrationResponse and
//! DeleteIntegrationResponse in the API Gateway v2 API reference:
//! `/v2/apis/{apiId}/integrations/{integrationId}/integrationresponses`.)
//!
//! Found by listing the responses of each MOCK integration discovery found,
//! and named after it (its route key): the responses of the integration a
//! route targets come first, so that a duplicate integration's are the ones
//! deleted. An integration response cannot move to another integration: one
//! of another integration is replaced. terraform-provider-aws
//! (`internal/service/apigatewayv2/integration_response.go`) reads one by its
//! three-part key, updates key, templates and selection in place, and takes
//! `NotFoundException` on delete as gone, as [`Resource::delete`] does here.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::{Address, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want};
use crate::aws::Sent;
use crate::diff::FieldChange;

/// The catch-all integration response key.
pub const KEY: &str = "$default";
/// The key of the response template, and what [`TEMPLATE_SELECTION`] selects.
pub const TEMPLATE_KEY: &str = "$default";
/// `\$default`: the literal key `$default`, whatever the answer holds.
pub const TEMPLATE_SELECTION: &str = r"\$default";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    /// The MOCK integration it answers for.
    pub integration_id: Ref<String>,
    pub route_key: String,
    /// The body API Gateway answers with (stack.yaml's `mock`).
    pub body: String,
}

impl Spec {
    fn response_templates(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(TEMPLATE_KEY.to_string(), self.body.clone())])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub integration_id: String,
    pub id: String,
    pub key: String,
    pub response_templates: BTreeMap<String, String>,
    pub template_selection: Option<String>,
}

/// The integration responses of each MOCK integration of `mocks` (as
/// [`super::mock_integration::found_mock_integrations`] named and ordered
/// them), named as their integration is.
pub async fn find_integration_responses(clients: &super::Clients, mocks: &[FoundItem]) -> Result<Vec<FoundItem>> {
    let listed = futures::future::try_join_all(mocks.iter().filter_map(|item| {
        let mock = super::mock_integration::MockIntegration::of(&item.found)?;
        Some(async move {
            let (api_id, integration_id) = (mock.api_id.as_str(), mock.id.as_str());
            let responses = crate::aws::paginate(|token| async move {
                let doing =
                    || format!("listing the responses of integration `{integration_id}` of WebSocket API `{api_id}`");
                let page = clients
                    .apigw
                    .get_integration_responses()
                    .api_id(api_id)
                    .integration_id(integration_id)
                    .set_next_token(token)
                    .send()
                    .done(doing)
                    .await?;
                Ok((page.items.unwrap_or_default(), page.next_token))
            })
            .await?;
            let items: Vec<FoundItem> = responses
                .into_iter()
                .filter_map(|r| {
                    let found = Found {
                        api_id: api_id.to_string(),
                        integration_id: integration_id.to_string(),
                        id: r.integration_response_id()?.to_string(),
                        key: r.integration_response_key().unwrap_or_default().to_string(),
                        response_templates: r
                            .response_templates()
                            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                        template_selection: r.template_selection_expression().map(str::to_string),
                    };
                    Some(FoundItem::new(
                        item.address.name.clone(),
                        found.id.clone(),
                        Some(Address::new(Kind::Api, "api")),
                        super::Found::IntegrationResponse(found),
                    ))
                })
                .collect();
            Ok::<_, anyhow::Error>(items)
        })
    }))
    .await?;
    Ok(listed.into_iter().flatten().collect())
}

/// Sets the fields CreateIntegrationResponse and UpdateIntegrationResponse
/// both send on either's builder (the SDK's two builders are types of their
/// own with the same setters).
macro_rules! with_fields {
    ($builder:expr, $spec:expr) => {
        $builder
            .integration_response_key(KEY)
            .set_response_templates(Some($spec.response_templates().into_iter().collect()))
            .template_selection_expression(TEMPLATE_SELECTION)
    };
}

/// The integration response of each mock route's MOCK integration.
pub struct IntegrationResponse;

impl Resource for IntegrationResponse {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_integration_responses(reads.clients, &reads.found).await?.into())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference(), spec.integration_id.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        env.stack
            .api
            .routes
            .iter()
            .filter_map(|(key, route)| {
                let spec = Spec {
                    api_id: ids.api(),
                    integration_id: ids.of(Kind::MockIntegration, key),
                    route_key: key.clone(),
                    body: route.mock()?.to_string(),
                };
                Some(Want::new(key, None, spec))
            })
            .collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.key != KEY {
            fields.push(FieldChange::new("key", &found.key, KEY));
        }
        let templates = spec.response_templates();
        if found.response_templates != templates {
            let body = |t: &BTreeMap<String, String>| match t.get(TEMPLATE_KEY) {
                Some(body) if t.len() == 1 => body.clone(),
                _ => format!("{t:?}"),
            };
            fields.push(FieldChange::new("body", body(&found.response_templates), body(&templates)));
        }
        if found.template_selection.as_deref() != Some(TEMPLATE_SELECTION) {
            fields.push(FieldChange::new(
                "template selection",
                found.template_selection.clone().unwrap_or_else(|| "(none)".into()),
                TEMPLATE_SELECTION,
            ));
        }
        fields
    }

    /// A response of another integration than the route's (a duplicate's)
    /// cannot move: it is deleted and made again on the right one.
    fn replaces(spec: &Spec, found: &Found) -> bool {
        spec.integration_id.known().is_some_and(|id| *id != found.integration_id)
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let (api_id, integration_id) = (spec.api_id.get()?.as_str(), spec.integration_id.get()?.as_str());
        let create = op.clients.apigw.create_integration_response().api_id(api_id).integration_id(integration_id);
        let created = with_fields!(create, spec)
            .send()
            .done(|| {
                format!(
                    "creating the integration response of route `{}` (integration `{integration_id}`) in WebSocket API `{api_id}`",
                    spec.route_key
                )
            })
            .await?;
        created.integration_response_id.context("API Gateway returned no integration response id")
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        let update = op.clients.apigw.update_integration_response().api_id(api_id);
        with_fields!(update.integration_id(&found.integration_id).integration_response_id(&found.id), spec)
            .send()
            .done(|| {
                format!(
                    "updating integration response `{}` of integration `{}` of WebSocket API `{api_id}`",
                    found.id, found.integration_id
                )
            })
            .await?;
        Ok(())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let api_id = found.api_id.as_str();
        let doing = || {
            format!(
                "deleting integration response `{}` of integration `{}` of WebSocket API `{api_id}`",
                found.id, found.integration_id
            )
        };
        op.clients
            .apigw
            .delete_integration_response()
            .api_id(api_id)
            .integration_id(&found.integration_id)
            .integration_response_id(&found.id)
            .send()
            .gone(doing)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(integration: &str) -> Spec {
        Spec {
            api_id: Ref::new(Address::new(Kind::Api, "api"), Some("a1".into())),
            integration_id: Ref::new(Address::new(Kind::MockIntegration, "ping"), Some(integration.into())),
            route_key: "ping".into(),
            body: r#"{"type":"pong"}"#.into(),
        }
    }

    fn found(integration: &str) -> Found {
        Found {
            api_id: "a1".into(),
            integration_id: integration.into(),
            id: "r1".into(),
            key: KEY.into(),
            response_templates: BTreeMap::from([("$default".into(), r#"{"type":"pong"}"#.into())]),
            template_selection: Some(r"\$default".into()),
        }
    }

    #[test]
    fn the_body_is_the_default_template_and_a_new_body_is_an_update() {
        assert_eq!(IntegrationResponse::diff(&spec("m1"), &found("m1")), Vec::new());
        assert!(!IntegrationResponse::replaces(&spec("m1"), &found("m1")));
        let other = Spec { body: r#"{"type":"pong","v":2}"#.into(), ..spec("m1") };
        assert_eq!(
            IntegrationResponse::diff(&other, &found("m1")),
            [FieldChange::new("body", r#"{"type":"pong"}"#, r#"{"type":"pong","v":2}"#)]
        );
        assert!(!IntegrationResponse::replaces(&other, &found("m1")));
    }

    #[test]
    fn a_response_of_another_integration_is_replaced() {
        assert!(IntegrationResponse::replaces(&spec("m2"), &found("m1")));
    }
}
