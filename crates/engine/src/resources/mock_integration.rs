//! The MOCK integration of each mock route (`{ mock: '<body>' }` in
//! stack.yaml): API Gateway answers the route's frames itself, and no
//! function runs.
//!
//! A MOCK integration of a WebSocket API gets the status it answers with
//! from its request template: `{"statusCode": 200}` under the key the
//! template selection expression `\$default` selects (the escaped `$` makes
//! it the literal key `$default`: API Gateway developer guide, "WebSocket
//! selection expressions"; aws-cdk's `WebSocketMockIntegration` and its
//! integ test `integ.mock.ts` send the same template and selection). What it
//! answers is its integration response's ([`super::integration_response`]),
//! sent back through the route's route response
//! ([`super::route_response`]).
//!
//! One per mock route, named by its route key. A MOCK integration names
//! nothing of its route (no URI), so it is found by its type and by the
//! route whose `Target` it is; one that no route targets (a deploy killed
//! between CreateIntegration and CreateRoute, or a route that went back to
//! a function) is left over, and deleted. Its type cannot change in place
//! (terraform-provider-aws `internal/service/apigatewayv2/integration.go`:
//! `integration_type` is `ForceNew`), which is why it is a kind of its own
//! rather than an [`super::integration`] of another type.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::types::{Integration as ApiIntegration, IntegrationType};

use super::{Address, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want};
use crate::aws::Sent;
use crate::diff::FieldChange;

/// The key of the request template, and what the template selection
/// expression selects: `\$default` is the literal `$default`.
pub const TEMPLATE_KEY: &str = "$default";
/// The request template: the status the MOCK integration answers with.
pub const REQUEST_TEMPLATE: &str = r#"{"statusCode": 200}"#;
/// Selects the template under [`TEMPLATE_KEY`] whatever the frame holds.
pub const TEMPLATE_SELECTION: &str = r"\$default";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    /// The mock route it answers.
    pub route_key: String,
}

impl Spec {
    fn request_templates() -> BTreeMap<String, String> {
        BTreeMap::from([(TEMPLATE_KEY.to_string(), REQUEST_TEMPLATE.to_string())])
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub id: String,
    pub request_templates: BTreeMap<String, String>,
    pub template_selection: Option<String>,
}

/// The MOCK integrations of `listed`, each named after the route that
/// targets it (`routes` as discovery found them, in their order), and the
/// ones no route targets under `(id)`, left over. The first integration at
/// a name is the one the first route of that key targets.
pub fn found_mock_integrations(api_id: &str, listed: &[ApiIntegration], routes: &[FoundItem]) -> Vec<FoundItem> {
    let targeting = |id: &str| {
        let target = super::route::target(id);
        routes.iter().position(|r| super::route::Route::of(&r.found).is_some_and(|route| route.target == target))
    };
    let mut items: Vec<(Option<usize>, FoundItem)> = listed
        .iter()
        .filter(|i| i.integration_type() == Some(&IntegrationType::Mock))
        .filter_map(|i| {
            let id = i.integration_id()?.to_string();
            let route = targeting(&id);
            let name = route.map_or_else(|| format!("({id})"), |r| routes[r].address.name.clone());
            let found = Found {
                api_id: api_id.to_string(),
                id: id.clone(),
                request_templates: i
                    .request_templates()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                template_selection: i.template_selection_expression().map(str::to_string),
            };
            let item =
                FoundItem::new(name, id, Some(Address::new(Kind::Api, "api")), super::Found::MockIntegration(found));
            Some((route, item))
        })
        .collect();
    items.sort_by_key(|(route, _)| route.unwrap_or(usize::MAX));
    items.into_iter().map(|(_, item)| item).collect()
}

/// Sets the fields CreateIntegration and UpdateIntegration both send on
/// either's builder (the SDK's two builders are types of their own with the
/// same setters).
macro_rules! with_fields {
    ($builder:expr) => {
        $builder
            .integration_type(IntegrationType::Mock)
            .set_request_templates(Some(Spec::request_templates().into_iter().collect()))
            .template_selection_expression(TEMPLATE_SELECTION)
    };
}

/// The MOCK integration of each mock route.
pub struct MockIntegration;

impl Resource for MockIntegration {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let Some(api_id) = reads.api_id() else { return Ok(super::FoundSet::default()) };
        let (listed, routes) = tokio::try_join!(reads.integrations(&api_id), reads.routes(&api_id))?;
        Ok(found_mock_integrations(&api_id, &listed, &routes).into())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        env.stack
            .api
            .routes
            .iter()
            .filter(|(_, route)| route.mock().is_some())
            .map(|(key, _)| Want::new(key, None, Spec { api_id: ids.api(), route_key: key.clone() }))
            .collect()
    }

    fn diff(_spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        let templates = Spec::request_templates();
        if found.request_templates != templates {
            let shown = |t: &BTreeMap<String, String>| format!("{t:?}");
            fields.push(FieldChange::new("request templates", shown(&found.request_templates), shown(&templates)));
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

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?.as_str();
        let created = with_fields!(op.clients.apigw.create_integration().api_id(api_id))
            .send()
            .done(|| format!("creating the MOCK integration of route `{}` in WebSocket API `{api_id}`", spec.route_key))
            .await?;
        created.integration_id.context("API Gateway returned no integration id")
    }

    /// UpdateIntegration, with the type always named, as
    /// terraform-provider-aws sends it (`resourceIntegrationUpdate`).
    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        with_fields!(op.clients.apigw.update_integration().api_id(api_id).integration_id(&found.id))
            .send()
            .done(|| format!("updating the MOCK integration `{}` of WebSocket API `{api_id}`", found.id))
            .await?;
        Ok(())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        super::integration::delete_integration(op, &found.api_id, &found.id, "the MOCK integration").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_answers_200_whatever_the_frame_holds() {
        let templates = Spec::request_templates();
        let value: serde_json::Value = serde_json::from_str(&templates["$default"]).unwrap();
        assert_eq!(value, serde_json::json!({"statusCode": 200}));
        // `\$default` is the literal key `$default`, not the `$default` variable.
        assert_eq!(TEMPLATE_SELECTION, "\\$default");
        let found = Found {
            api_id: "a1".into(),
            id: "m1".into(),
            request_templates: templates.clone(),
            template_selection: Some(TEMPLATE_SELECTION.into()),
        };
        let spec =
            Spec { api_id: Ref::new(Address::new(Kind::Api, "api"), Some("a1".into())), route_key: "ping".into() };
        assert_eq!(MockIntegration::diff(&spec, &found), Vec::new());
        let bare = Found { request_templates: BTreeMap::new(), template_selection: None, ..found };
        let fields: Vec<String> = MockIntegration::diff(&spec, &bare).into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["request templates", "template selection"]);
    }
}
