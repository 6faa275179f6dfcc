//! The statement in a function's resource policy that lets API Gateway
//! invoke it, limited by `SourceArn` to this stack's API and stage, or, for
//! the authorizer's function, to the API's authorizer.
//!
//! It is found by its statement id in the function's policy. moto accepts
//! the same statement id twice, so every copy is found, and all but one deleted.

use anyhow::Result;

use super::{Address, Env, FoundItem, Ids, Kind, Op, Ref, Reference, Resource, Want};
use crate::aws::{AwsContext, Missing, Sent};
use crate::diff::FieldChange;

pub const PRINCIPAL: &str = "apigateway.amazonaws.com";
pub const ACTION: &str = "lambda:InvokeFunction";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The function in stack.yaml.
    pub function: String,
    pub function_name: String,
    pub statement_id: String,
    /// It names the API.
    pub source_arn: Ref<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub function_name: String,
    pub statement_id: String,
    pub principal: String,
    pub action: String,
    pub source_arn: String,
}

pub fn spec(env: &Env, function: &str, api_id: &Ref<String>) -> Spec {
    Spec {
        function: function.to_string(),
        function_name: env.stack.function_name(function),
        statement_id: env.stack.permission_statement_id(),
        source_arn: api_id.map(|id| env.arns().api_invoke(id)),
    }
}

pub async fn find_permissions(clients: &super::Clients, env: &Env, function: &str) -> Result<Vec<FoundItem>> {
    let name = env.stack.function_name(function);
    let doing = || format!("reading the resource policy of Lambda function `{name}`");
    let Some(policy) = clients.lambda.get_policy().function_name(&name).send().found(doing).await? else {
        return Ok(Vec::new());
    };
    let sid = env.stack.permission_statement_id();
    let document: serde_json::Value = serde_json::from_str(policy.policy().unwrap_or("{}")).unwrap_or_default();
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).unwrap_or_default().to_string();
    Ok(document
        .get("Statement")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid.as_str()))
        .map(|s| {
            let found = Found {
                function_name: name.clone(),
                statement_id: sid.clone(),
                principal: text(s.pointer("/Principal/Service")),
                action: text(s.get("Action")),
                source_arn: text(s.pointer("/Condition/ArnLike/AWS:SourceArn")),
            };
            // The statement id is the same on every function; the function tells them apart.
            let owner = Some(Address::new(Kind::Function, function));
            FoundItem::new(function, name.clone(), owner, super::Found::Permission(found))
        })
        .collect())
}

/// The permission of each function that serves routes to be invoked by API Gateway.
pub struct Permission;

impl Resource for Permission {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let found = reads.each_function(|f| find_permissions(reads.clients, reads.env, f)).await?;
        Ok(found.into_iter().flatten().collect())
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![Reference::exists(Kind::Function, &spec.function), spec.source_arn.reference()]
    }

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        let api = ids.api();
        let mut wants: Vec<Want<Spec>> =
            env.route_functions().map(|f| Want::new(f, env.stack.function_name(f), spec(env, f, &api))).collect();
        if let Some(function) = env.stack.authorizer_function() {
            // The authorizer's id, known once the API's is.
            let authorizer = ids.of(Kind::Authorizer, "jwt");
            let source_arn = match (api.known(), authorizer.known()) {
                (Some(api_id), Some(id)) => {
                    Ref::new(authorizer.to.clone(), Some(env.arns().authorizer_invoke(api_id, id)))
                }
                _ => Ref::new(authorizer.to.clone(), None),
            };
            let spec = Spec {
                function: function.to_string(),
                function_name: env.stack.function_name(function),
                statement_id: env.stack.permission_statement_id(),
                source_arn,
            };
            wants.push(Want::new(function, spec.function_name.clone(), spec));
        }
        wants
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.principal != PRINCIPAL {
            fields.push(FieldChange::new("principal", &found.principal, PRINCIPAL));
        }
        if found.action != ACTION {
            fields.push(FieldChange::new("action", &found.action, ACTION));
        }
        if spec.source_arn.known() != Some(&found.source_arn) {
            fields.push(FieldChange::new("source ARN", &found.source_arn, spec.source_arn.shown()));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        op.clients
            .lambda
            .add_permission()
            .function_name(&spec.function_name)
            .statement_id(&spec.statement_id)
            .action(ACTION)
            .principal(PRINCIPAL)
            .source_arn(spec.source_arn.get()?)
            .send()
            .done(|| format!("allowing API Gateway to invoke Lambda function `{}`", spec.function_name))
            .await?;
        Ok(spec.function_name.clone())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let result = op
            .clients
            .lambda
            .remove_permission()
            .function_name(&found.function_name)
            .statement_id(&found.statement_id)
            .send()
            .await;
        result.or_gone().aws_context(|| {
            format!("removing permission `{}` from Lambda function `{}`", found.statement_id, found.function_name)
        })
    }

    /// A statement cannot be edited: any difference replaces it.
    fn replaces(spec: &Spec, found: &Found) -> bool {
        !Self::diff(spec, found).is_empty()
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        Self::delete(op, found).await?;
        Self::create(op, spec).await.map(drop)
    }
}
