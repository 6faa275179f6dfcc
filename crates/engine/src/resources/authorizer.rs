//! The API's Lambda REQUEST authorizer, with `auth: jwt`: API Gateway runs
//! the `authorizer` function before `$connect` and lets the connection in
//! only if it allows `execute-api:Invoke`. A WebSocket API has no native
//! JWT authorizer (CreateAuthorizer's `JWT` type is for HTTP APIs: API
//! Gateway v2 API reference, "Authorizers"), so the function verifies the
//! token itself.
//!
//! The identity source is the `token` query parameter: API Gateway checks
//! that it is present and not empty before it invokes the function, and
//! answers 401 without invoking it otherwise (API Gateway v2 API reference,
//! CreateAuthorizer `IdentitySource`).
//!
//! Authorizers are found by listing the API's (GetAuthorizers) and known by
//! name; any other authorizer of the stack's API, and every one once `auth`
//! is no longer `jwt`, is deleted after the routes stop naming it.

use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_apigatewayv2::config::http::HttpResponse;
use aws_sdk_apigatewayv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewayv2::operation::delete_authorizer::DeleteAuthorizerError;
use aws_sdk_apigatewayv2::types::AuthorizerType;

use super::{Address, Env, FoundItem, Ids, Kind, Op, Ref, Reference, Resource, Want, retry_while};
use crate::aws::{AwsContext, Missing, Sent};
use crate::diff::FieldChange;

/// Where API Gateway finds the token, as the authorizer is told.
pub const IDENTITY_SOURCE: &str = "route.request.querystring.token";

/// How long a delete waits for routes to stop naming the authorizer.
const IN_USE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The API it is part of.
    pub api_id: Ref<String>,
    pub name: String,
    /// The function in stack.yaml that runs it.
    pub function: String,
    /// The function's invocation URI.
    pub uri: String,
    pub identity_source: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The API it is part of.
    pub api_id: String,
    pub id: String,
    pub name: String,
    pub authorizer_type: String,
    pub uri: String,
    pub identity_source: Vec<String>,
}

pub async fn find_authorizers(clients: &super::Clients, env: &Env, api_id: &str) -> Result<Vec<FoundItem>> {
    let authorizers = crate::aws::paginate(|token| async move {
        let doing = || format!("listing the authorizers of WebSocket API `{api_id}`");
        let page = clients.apigw.get_authorizers().api_id(api_id).set_next_token(token).send().done(doing).await?;
        Ok((page.items.unwrap_or_default(), page.next_token))
    })
    .await?;
    let ours = env.stack.authorizer_name();
    let mut named = false;
    Ok(authorizers
        .into_iter()
        .filter_map(|a| {
            let found = Found {
                api_id: api_id.to_string(),
                id: a.authorizer_id()?.to_string(),
                name: a.name().unwrap_or_default().to_string(),
                authorizer_type: a.authorizer_type().map_or("", |t| t.as_str()).to_string(),
                uri: a.authorizer_uri().unwrap_or_default().to_string(),
                identity_source: a.identity_source().to_vec(),
            };
            // The first of the stack's name is the one; a second (a create
            // that was retried), or one of another name, is deleted.
            let name = if found.name == ours && !named {
                named = true;
                "jwt".to_string()
            } else {
                format!("({})", found.id)
            };
            Some(FoundItem::new(
                name,
                found.id.clone(),
                Some(Address::new(Kind::Api, "api")),
                super::Found::Authorizer(found),
            ))
        })
        .collect())
}

/// Sets the fields CreateAuthorizer and UpdateAuthorizer both send on
/// either's builder (the SDK's two builders are types of their own with the
/// same setters).
macro_rules! with_fields {
    ($builder:expr, $spec:expr) => {
        $builder
            .authorizer_type(AuthorizerType::Request)
            .authorizer_uri(&$spec.uri)
            .set_identity_source(Some($spec.identity_source.clone()))
    };
}

/// The API's JWT authorizer.
pub struct Authorizer;

impl Resource for Authorizer {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let Some(api_id) = reads.api_id() else { return Ok(super::FoundSet::default()) };
        Ok(find_authorizers(reads.clients, reads.env, &api_id).await?.into())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference(), Reference::exists(Kind::Function, &spec.function)]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let Some(function) = env.stack.authorizer_function() else { return Vec::new() };
        let spec = Spec {
            api_id: ids.api(),
            name: env.stack.authorizer_name(),
            function: function.to_string(),
            uri: env.arns().integration_uri(function),
            identity_source: vec![IDENTITY_SOURCE.to_string()],
        };
        vec![Want::new("jwt", None, spec)]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        let request = AuthorizerType::Request.as_str();
        if found.authorizer_type != request {
            fields.push(FieldChange::new("type", &found.authorizer_type, request));
        }
        if found.uri != spec.uri {
            fields.push(FieldChange::new("function URI", &found.uri, &spec.uri));
        }
        if found.identity_source != spec.identity_source {
            fields.push(FieldChange::new(
                "identity source",
                found.identity_source.join(", "),
                spec.identity_source.join(", "),
            ));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?.as_str();
        let created = with_fields!(op.clients.apigw.create_authorizer().api_id(api_id).name(&spec.name), spec)
            .send()
            .done(|| format!("creating authorizer `{}` of WebSocket API `{api_id}`", spec.name))
            .await?;
        created.authorizer_id.with_context(|| format!("API Gateway returned no authorizer id for `{}`", spec.name))
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let api_id = spec.api_id.get()?.as_str();
        with_fields!(op.clients.apigw.update_authorizer().api_id(api_id).authorizer_id(&found.id), spec)
            .send()
            .done(|| format!("updating authorizer `{}` of WebSocket API `{api_id}`", spec.name))
            .await?;
        Ok(())
    }

    /// An authorizer a route still names cannot be deleted (ConflictException);
    /// the route's update, which runs first, may not have reached every
    /// reader yet. terraform-provider-aws retries the delete on
    /// ConflictException for as long as its delete timeout
    /// (internal/service/apigatewayv2/authorizer.go, resourceAuthorizerDelete).
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let api_id = found.api_id.as_str();
        let delete = || op.clients.apigw.delete_authorizer().api_id(api_id).authorizer_id(&found.id).send();
        // The SDK's model has no ConflictException for DeleteAuthorizer; its code names it.
        let in_use = |e: &SdkError<DeleteAuthorizerError, HttpResponse>| e.code() == Some("ConflictException");
        let why = format!("routes still name authorizer `{}`", found.name);
        retry_while(op.task, &why, IN_USE_LIMIT, delete, in_use)
            .await
            .or_gone()
            .aws_context(|| format!("deleting authorizer `{}` of WebSocket API `{api_id}`", found.name))
    }
}
