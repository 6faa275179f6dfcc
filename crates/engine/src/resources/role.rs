//! A function's IAM role: Lambda may assume it; what it allows lives in its
//! inline policy ([`super::role_policy`]).

use anyhow::Result;

use super::{Env, FoundItem, Ids, Op, Resource, Tags, Want, json_equal, tags_field};
use crate::aws::{AwsContext, Missing, Sent, Tagged, retag};
use crate::diff::FieldChange;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub path: String,
    pub trust_policy: serde_json::Value,
    pub tags: Tags,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub trust_policy: serde_json::Value,
    pub tags: Tags,
}

pub fn spec(env: &Env, function: &str) -> Spec {
    Spec {
        name: env.stack.role_name(function),
        path: env.stack.role_path(),
        trust_policy: serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "lambda.amazonaws.com" },
                "Action": "sts:AssumeRole",
            }],
        }),
        tags: env.tags(),
        description: format!(
            "wschat stack `{}`, stage `{}`: the role of function `{function}`",
            env.stack.name, env.stack.stage
        ),
    }
}

pub async fn find_role(clients: &super::Clients, env: &Env, function: &str) -> Result<Option<FoundItem>> {
    let name = env.stack.role_name(function);
    let Some(role) =
        clients.iam.get_role().role_name(&name).send().found(|| format!("reading IAM role `{name}`")).await?
    else {
        return Ok(None);
    };
    let Some(role) = role.role else { return Ok(None) };
    let found = Found {
        name: role.role_name().to_string(),
        arn: role.arn().to_string(),
        trust_policy: role.assume_role_policy_document().map(super::decode_policy).unwrap_or_default(),
        tags: role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
    };
    Ok(Some(FoundItem::new(function, name, None, super::Found::Role(found))))
}

/// Roles on the stack's path whose function left stack.yaml.
pub async fn find_orphan_roles(clients: &super::Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let path = env.stack.role_path();
    let roles = crate::aws::every(clients.iam.list_roles().path_prefix(&path).into_paginator().items().send())
        .await
        .aws_context(|| format!("listing the IAM roles on path `{path}`"))?;
    let prefix = env.stack.role_name("");
    Ok(roles
        .into_iter()
        .filter(|r| r.path() == path)
        .filter_map(|r| {
            let function = r.role_name().strip_prefix(&prefix)?.to_string();
            if env.stack.functions.contains_key(&function) {
                return None;
            }
            let found = Found {
                name: r.role_name().to_string(),
                arn: r.arn().to_string(),
                trust_policy: r.assume_role_policy_document().map(super::decode_policy).unwrap_or_default(),
                tags: Tags::new(),
            };
            Some(FoundItem::new(function, found.name.clone(), None, super::Found::Role(found)))
        })
        .collect())
}

/// Each function's IAM role.
pub struct Role;

impl Resource for Role {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        let (mine, orphans) = tokio::try_join!(
            reads.each_function(|f| find_role(reads.clients, reads.env, f)),
            find_orphan_roles(reads.clients, reads.env),
        )?;
        Ok(mine.into_iter().flatten().chain(orphans).collect())
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        env.stack.functions.keys().map(|f| Want::new(f, env.stack.role_name(f), spec(env, f))).collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if !json_equal(&spec.trust_policy, &found.trust_policy) {
            fields.push(FieldChange::new(
                "trust policy",
                found.trust_policy.to_string(),
                spec.trust_policy.to_string(),
            ));
        }
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        op.clients
            .iam
            .create_role()
            .role_name(&spec.name)
            .path(&spec.path)
            .assume_role_policy_document(spec.trust_policy.to_string())
            .description(&spec.description)
            .set_tags(Some(crate::aws::iam_tags(&spec.tags)?))
            .send()
            .done(|| format!("creating IAM role `{}`", spec.name))
            .await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let iam = &op.clients.iam;
        if !json_equal(&spec.trust_policy, &found.trust_policy) {
            iam.update_assume_role_policy()
                .role_name(&spec.name)
                .policy_document(spec.trust_policy.to_string())
                .send()
                .done(|| format!("updating the trust policy of IAM role `{}`", spec.name))
                .await?;
        }
        let what = format!("IAM role `{}`", spec.name);
        retag(Tagged::Role(iam, &spec.name), &what, &spec.tags, &found.tags).await
    }

    /// Deletes the role with its inline and attached policies (IAM refuses to
    /// delete a role that still has any).
    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let iam = &op.clients.iam;
        let name = &found.name;
        let (inline, attached) = tokio::join!(
            iam.list_role_policies().role_name(name).send(),
            iam.list_attached_role_policies().role_name(name).send(),
        );
        let inline = inline.or_missing().aws_context(|| format!("listing the policies of IAM role `{name}`"))?;
        let attached =
            attached.or_missing().aws_context(|| format!("listing the attached policies of IAM role `{name}`"))?;
        let (Some(inline), Some(attached)) = (inline, attached) else { return Ok(()) };
        let deletes = inline.policy_names().iter().map(|policy| async move {
            let deleted = iam.delete_role_policy().role_name(name).policy_name(policy).send().await;
            deleted.or_gone().aws_context(|| format!("deleting policy `{policy}` of IAM role `{name}`"))
        });
        let detaches = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).map(|arn| async move {
            let detached = iam.detach_role_policy().role_name(name).policy_arn(arn).send().await;
            detached.or_gone().aws_context(|| format!("detaching policy `{arn}` from IAM role `{name}`"))
        });
        tokio::try_join!(futures::future::try_join_all(deletes), futures::future::try_join_all(detaches))?;
        iam.delete_role().role_name(name).send().gone(|| format!("deleting IAM role `{name}`")).await
    }
}
