//! Routes: one per route key in stack.yaml, pointing at its function's
//! integration, with the route's model when it has a schema, and on
//! `$connect` `AWS_IAM` when `auth: iam` or the JWT authorizer (`CUSTOM`)
//! when `auth: jwt`. A mock route (`{ mock: '<body>' }`) points at its MOCK
//! integration and is two-way: its `RouteResponseSelectionExpression` is
//! `$default`, so that API Gateway sends the integration's answer back
//! through the route's `$default` route response. Routes are found by key;
//! routes whose key left stack.yaml, and duplicates (moto accepts them), are
//! deleted.

use std::collections::HashMap;

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::types::AuthorizationType;

use super::{Address, Env, FoundItem, Ids, Kind, Op, Ref, Reference, Resource, Want};
use crate::aws::Sent;
use crate::diff::FieldChange;
use wschat_stack::{Auth, Target};

/// The key of `RequestModels` that applies whatever the selection expression yields.
const DEFAULT_MODEL_KEY: &str = "$default";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    pub key: String,
    /// `integrations/{id}`.
    pub target: Ref<String>,
    pub authorization: String,
    /// With `CUSTOM`: the authorizer's id.
    pub authorizer: Option<Ref<String>>,
    pub model: Option<String>,
    pub model_selection: Option<String>,
    /// A mock route's route key: its integration response must exist
    /// before the route sends frames to the integration.
    pub mock: Option<String>,
    /// `$default` on a mock route (two-way), none otherwise.
    pub response_selection: Option<String>,
    /// The functions API Gateway invokes for this route (its integration's,
    /// and the authorizer's on `$connect` with sign-in): their invoke
    /// permissions must exist before the route does, or a connection that
    /// comes in between is refused (API Gateway may not call them yet: it
    /// needs the function's resource-based policy, Lambda's AddPermission,
    /// to invoke an integration's or an authorizer's function; API Gateway
    /// Developer Guide, "Control access to WebSocket APIs with AWS Lambda
    /// REQUEST authorizers", and Lambda Developer Guide, "Granting function
    /// access to AWS services").
    pub invokes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub id: String,
    pub key: String,
    pub target: String,
    pub authorization: String,
    pub authorizer_id: Option<String>,
    pub model: Option<String>,
    pub model_selection: Option<String>,
    /// `RouteResponseSelectionExpression`; an empty one is none.
    pub response_selection: Option<String>,
}

/// The route response selection expression of a two-way route: the only
/// route response a WebSocket API may have is `$default` ("You can only
/// define the $default route response for WebSocket APIs", API Gateway
/// developer guide, "Set up route responses for WebSocket APIs"), and this
/// selects it.
pub const RESPONSE_SELECTION: &str = "$default";

/// A route's `Target` for an integration.
pub fn target(integration_id: &str) -> String {
    format!("integrations/{integration_id}")
}

pub fn spec(env: &Env, key: &str, ids: &Ids) -> Spec {
    let stack = &env.stack;
    let route = &stack.api.routes[key];
    let integration = match &route.target {
        Target::Function(function) => ids.integration(function),
        Target::Mock(_) => ids.of(Kind::MockIntegration, key),
    };
    let mock = route.mock().map(|_| key.to_string());
    let model = super::model::name_for(env, key);
    let connect = key == "$connect";
    let mut invokes: Vec<String> = route.function().map(str::to_string).into_iter().collect();
    let (authorization, authorizer) = match &stack.api.auth {
        Auth::Iam if connect => (AuthorizationType::AwsIam, None),
        Auth::Jwt(_) if connect => {
            invokes.extend(stack.authorizer_function().map(str::to_string));
            (AuthorizationType::Custom, Some(ids.of(Kind::Authorizer, "jwt")))
        }
        _ => (AuthorizationType::None, None),
    };
    Spec {
        api_id: ids.api(),
        key: key.to_string(),
        target: integration.map(|id| target(id)),
        authorization: authorization.as_str().to_string(),
        authorizer,
        model_selection: model.as_ref().map(|_| stack.api.route_selection.clone()),
        model,
        response_selection: mock.as_ref().map(|_| RESPONSE_SELECTION.to_string()),
        mock,
        invokes,
    }
}

pub async fn find_routes(clients: &super::Clients, _env: &Env, api_id: &str) -> Result<Vec<FoundItem>> {
    let routes = crate::aws::paginate(|token| async move {
        let doing = || format!("listing the routes of WebSocket API `{api_id}`");
        let page = clients.apigw.get_routes().api_id(api_id).set_next_token(token).send().done(doing).await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    Ok(routes
        .into_iter()
        .filter_map(|r| {
            let found = Found {
                api_id: api_id.to_string(),
                id: r.route_id()?.to_string(),
                key: r.route_key().unwrap_or_default().to_string(),
                target: r.target().unwrap_or_default().to_string(),
                authorization: r.authorization_type().map_or("NONE", |a| a.as_str()).to_string(),
                authorizer_id: r.authorizer_id().map(str::to_string),
                model: r.request_models().and_then(|m| m.get(DEFAULT_MODEL_KEY)).cloned(),
                model_selection: r.model_selection_expression().map(str::to_string),
                response_selection: r
                    .route_response_selection_expression()
                    .filter(|e| !e.is_empty())
                    .map(str::to_string),
            };
            Some(FoundItem::new(
                found.key.clone(),
                found.id.clone(),
                Some(Address::new(Kind::Api, "api")),
                super::Found::Route(found),
            ))
        })
        .collect())
}

fn authorizer_id(spec: &Spec) -> Result<Option<String>> {
    Ok(match &spec.authorizer {
        Some(authorizer) => Some(authorizer.get()?.clone()),
        None => None,
    })
}

/// An empty `AuthorizerId` takes the authorizer off a route, as
/// terraform-provider-aws sends it when `authorizer_id` is removed
/// (internal/service/apigatewayv2/route.go, resourceRouteUpdate).
fn clear_authorizer(found: &Found) -> Option<String> {
    found.authorizer_id.as_ref().filter(|id| !id.is_empty()).map(|_| String::new())
}

/// Sets the fields CreateRoute and UpdateRoute both send on either's
/// builder (the SDK's two builders are types of their own with the same
/// setters), the authorizer id given.
macro_rules! with_fields {
    ($builder:expr, $spec:expr, $authorizer_id:expr) => {
        $builder
            .target($spec.target.get()?)
            .authorization_type(AuthorizationType::from($spec.authorization.as_str()))
            .set_authorizer_id($authorizer_id)
            .set_request_models(request_models($spec))
            .set_model_selection_expression($spec.model_selection.clone())
            .set_route_response_selection_expression($spec.response_selection.clone())
    };
}

fn request_models(spec: &Spec) -> Option<HashMap<String, String>> {
    spec.model.as_ref().map(|m| [(DEFAULT_MODEL_KEY.to_string(), m.clone())].into())
}

/// The routes: one per route key of stack.yaml.
pub struct Route;

impl Resource for Route {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let Some(api_id) = reads.api_id() else { return Ok(super::FoundSet::default()) };
        Ok(reads.routes(&api_id).await?.into())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        let mut refs = vec![spec.api_id.reference(), spec.target.reference()];
        refs.extend(spec.authorizer.iter().map(Ref::reference));
        refs.extend(spec.model.iter().map(|m| Reference::exists(Kind::Model, m)));
        refs.extend(spec.mock.iter().map(|key| Reference::exists(Kind::IntegrationResponse, key)));
        refs.extend(spec.invokes.iter().map(|function| Reference::exists(Kind::Permission, function)));
        refs
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        env.stack.api.routes.keys().map(|key| Want::new(key, None, spec(env, key, ids))).collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        let none = || "(none)".to_string();
        if spec.target.known() != Some(&found.target) {
            fields.push(FieldChange::new("target", &found.target, spec.target.shown()));
        }
        if spec.authorization != found.authorization {
            fields.push(FieldChange::new("authorization", &found.authorization, &spec.authorization));
        }
        let found_authorizer = found.authorizer_id.as_ref().filter(|id| !id.is_empty());
        let differs = match &spec.authorizer {
            Some(authorizer) => authorizer.known() != found_authorizer,
            // An authorizer named beside NONE would keep it from being deleted.
            None => found_authorizer.is_some(),
        };
        if differs {
            fields.push(FieldChange::new(
                "authorizer",
                found_authorizer.cloned().unwrap_or_else(none),
                spec.authorizer.as_ref().map_or_else(none, Ref::shown),
            ));
        }
        if spec.model != found.model {
            fields.push(FieldChange::new(
                "request model",
                found.model.clone().unwrap_or_else(none),
                spec.model.clone().unwrap_or_else(none),
            ));
        }
        if spec.model.is_some() && spec.model_selection != found.model_selection {
            fields.push(FieldChange::new(
                "model selection",
                found.model_selection.clone().unwrap_or_else(none),
                spec.model_selection.clone().unwrap_or_else(none),
            ));
        }
        if spec.response_selection != found.response_selection {
            fields.push(FieldChange::new(
                "route response selection",
                found.response_selection.clone().unwrap_or_else(none),
                spec.response_selection.clone().unwrap_or_else(none),
            ));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?.as_str();
        let create = op.clients.apigw.create_route().api_id(api_id).route_key(&spec.key);
        let created = with_fields!(create, spec, authorizer_id(spec)?)
            .send()
            .done(|| format!("creating route `{}` in WebSocket API `{api_id}`", spec.key))
            .await?;
        created.route_id.with_context(|| format!("API Gateway returned no route id for `{}`", spec.key))
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        let update = op.clients.apigw.update_route().api_id(api_id).route_id(&found.id);
        with_fields!(update, spec, authorizer_id(spec)?.or_else(|| clear_authorizer(found)))
            .send()
            .done(|| format!("updating route `{}` of WebSocket API `{api_id}`", spec.key))
            .await?;
        Ok(())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let api_id = found.api_id.as_str();
        let doing = || format!("deleting route `{}` of WebSocket API `{api_id}`", found.key);
        op.clients.apigw.delete_route().api_id(api_id).route_id(&found.id).send().gone(doing).await
    }

    /// UpdateRoute merges RequestModels and cannot take a model away: a route
    /// that loses its schema is re-created without one. A route that stops
    /// being two-way (a mock route that goes back to a function) is
    /// re-created too, and DeleteRoute takes its route responses with it: its
    /// route response can then never outlive the selection expression that
    /// makes discovery look for it (route responses are listed only on
    /// two-way routes).
    fn replaces(spec: &Spec, found: &Found) -> bool {
        (found.model.is_some() && spec.model.is_none())
            || (found.response_selection.is_some() && spec.response_selection.is_none())
    }
}
