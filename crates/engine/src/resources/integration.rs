//! The AWS_PROXY integration of each function that serves routes. An
//! integration is found by its URI, which names the function; duplicates and
//! integrations of functions the stack no longer routes to are deleted once
//! no route points at them. MOCK integrations (mock routes) are a kind of
//! their own, [`super::mock_integration`]: they name no function, answer one
//! route each, and cannot become AWS_PROXY in place.

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::types::{Integration as ApiIntegration, IntegrationType};

use super::{Address, Env, FoundItem, Ids, Kind, OfKind, Op, Ref, Reference, Resource, Want};
use crate::aws::Sent;
use crate::diff::FieldChange;

pub const METHOD: &str = "POST";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    pub function: String,
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub id: String,
    pub uri: String,
    pub integration_type: String,
    pub method: String,
}

/// Sets the fields CreateIntegration and UpdateIntegration both send on
/// either's builder (the SDK's two builders are types of their own with the
/// same setters).
macro_rules! with_fields {
    ($builder:expr, $spec:expr) => {
        $builder.integration_type(IntegrationType::AwsProxy).integration_method(METHOD).integration_uri(&$spec.uri)
    };
}

pub fn spec(env: &Env, function: &str, api_id: Ref<String>) -> Spec {
    Spec { api_id, function: function.to_string(), uri: env.arns().integration_uri(function) }
}

/// Every integration of the API: the AWS_PROXY ones are this kind's
/// ([`found_integrations`]), the MOCK ones [`super::mock_integration`]'s.
pub async fn list_integrations(clients: &super::Clients, api_id: &str) -> Result<Vec<ApiIntegration>> {
    crate::aws::paginate(|token| async move {
        let doing = || format!("listing the integrations of WebSocket API `{api_id}`");
        let page = clients.apigw.get_integrations().api_id(api_id).set_next_token(token).send().done(doing).await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await
}

/// The integrations of `listed` that are not MOCK, each named after the
/// function its URI names; one that names no function of the stack is left
/// over.
pub fn found_integrations(env: &Env, api_id: &str, listed: &[ApiIntegration]) -> Vec<FoundItem> {
    let arns = env.arns();
    listed
        .iter()
        .filter(|i| i.integration_type() != Some(&IntegrationType::Mock))
        .filter_map(|i| {
            let found = Found {
                api_id: api_id.to_string(),
                id: i.integration_id()?.to_string(),
                uri: i.integration_uri().unwrap_or_default().to_string(),
                integration_type: i.integration_type().map_or("", |t| t.as_str()).to_string(),
                method: i.integration_method().unwrap_or_default().to_string(),
            };
            let function = env.stack.functions.keys().find(|f| arns.integration_uri(f) == found.uri);
            let name = function.cloned().unwrap_or_else(|| format!("({})", found.id));
            Some(FoundItem::new(
                name,
                found.id.clone(),
                Some(Address::new(Kind::Api, "api")),
                super::Found::Integration(found),
            ))
        })
        .collect()
}

/// Orders integrations so that, among duplicates, the one routes already
/// use is kept (the plan keeps the first of each address).
pub fn referenced_first(mut integrations: Vec<FoundItem>, routes: &[FoundItem]) -> Vec<FoundItem> {
    let used = |item: &FoundItem| {
        routes
            .iter()
            .filter_map(|r| super::route::Route::of(&r.found))
            .any(|route| route.target == super::route::target(&item.id))
    };
    integrations.sort_by_key(|i| !used(i));
    integrations
}

/// The integration of each function that serves routes.
pub struct Integration;

impl Resource for Integration {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let Some(api_id) = reads.api_id() else { return Ok(super::FoundSet::default()) };
        let (listed, routes) = tokio::try_join!(reads.integrations(&api_id), reads.routes(&api_id))?;
        Ok(referenced_first(found_integrations(reads.env, &api_id, &listed), &routes).into())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference(), Reference::exists(Kind::Function, &spec.function)]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        env.route_functions().map(|f| Want::new(f, None, spec(env, f, ids.api()))).collect()
    }

    fn diff(_spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.integration_type != IntegrationType::AwsProxy.as_str() {
            fields.push(FieldChange::new("type", &found.integration_type, IntegrationType::AwsProxy.as_str()));
        }
        if found.method != METHOD {
            fields.push(FieldChange::new("method", &found.method, METHOD));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?.as_str();
        let created = with_fields!(op.clients.apigw.create_integration().api_id(api_id), spec)
            .send()
            .done(|| format!("creating the integration of function `{}` in WebSocket API `{api_id}`", spec.function))
            .await?;
        created.integration_id.context("API Gateway returned no integration id")
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        with_fields!(op.clients.apigw.update_integration().api_id(api_id).integration_id(&found.id), spec)
            .send()
            .done(|| format!("updating integration `{}` of WebSocket API `{api_id}`", found.id))
            .await?;
        Ok(())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        delete_integration(op, &found.api_id, &found.id, "integration").await
    }
}

/// Deletes integration `id` of WebSocket API `api_id`, AWS_PROXY or MOCK alike
/// (`what` names it in the error); gone already is success.
pub(super) async fn delete_integration(op: &Op<'_>, api_id: &str, id: &str, what: &str) -> Result<()> {
    let doing = || format!("deleting {what} `{id}` of WebSocket API `{api_id}`");
    op.clients.apigw.delete_integration().api_id(api_id).integration_id(id).send().gone(doing).await
}
