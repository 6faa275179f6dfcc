//! A function's CloudWatch log group, created ahead of Lambda so that it has
//! a retention period and tags, and so that destroy removes it.

use anyhow::Result;

use super::{Env, FoundItem, Ids, Op, Resource, Tags, Want, tags_field, tags_from_map};
use crate::aws::{AwsContext, Sent, Tagged, retag};
use crate::diff::FieldChange;

/// Days a log group keeps events. Lambda's own default is forever, which
/// costs money for logs nobody reads; a month covers debugging.
pub const RETENTION_DAYS: i32 = 30;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub arn: String,
    pub retention_days: i32,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    /// Without the `:*` suffix that `arn` has; the tagging calls want this one.
    pub arn: String,
    pub retention_days: Option<i32>,
    pub tags: Tags,
}

pub fn spec(env: &Env, function: &str) -> Spec {
    Spec {
        name: env.stack.log_group_name(function),
        arn: env.arns().log_group(function),
        retention_days: RETENTION_DAYS,
        tags: env.tags(),
    }
}

/// Every log group named like the stack's functions' (`/aws/lambda/{name}-{stage}-*`),
/// through every page: what discovery and `wschat logs` start from.
pub async fn list_stack_groups(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stack: &wschat_stack::Stack,
) -> Result<Vec<aws_sdk_cloudwatchlogs::types::LogGroup>> {
    let prefix = stack.log_group_name("");
    crate::aws::every(logs.describe_log_groups().log_group_name_prefix(&prefix).into_paginator().items().send())
        .await
        .aws_context(|| format!("listing log groups `{prefix}*`"))
}

/// The log groups of the stack's functions, and of functions it no longer
/// has when their tags say they are this stack's.
pub async fn find_log_groups(clients: &super::Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let prefix = env.stack.log_group_name("");
    let groups = list_stack_groups(&clients.logs, &env.stack).await?;
    let read = groups.into_iter().filter_map(|group| {
        let name = group.log_group_name()?.to_string();
        let function = name[prefix.len()..].to_string();
        let arn = group.log_group_arn().map_or_else(|| env.arns().log_group(&function), str::to_string);
        Some(async move {
            let doing = || format!("reading the tags of log group `{name}`");
            let tags = clients.logs.list_tags_for_resource().resource_arn(&arn).send().done(doing).await?;
            let tags = tags_from_map(tags.tags.as_ref());
            // A group of a function stack.yaml no longer has is this stack's
            // only when its tags say so (another stage's names can share the prefix).
            if !env.stack.functions.contains_key(&function) && !env.owns(&tags) {
                return Ok(None);
            }
            let found = Found { name: name.clone(), arn, retention_days: group.retention_in_days(), tags };
            Ok::<_, anyhow::Error>(Some(FoundItem::new(function, name, None, super::Found::LogGroup(found))))
        })
    });
    Ok(futures::future::try_join_all(read).await?.into_iter().flatten().collect())
}

async fn put_retention(op: &Op<'_>, spec: &Spec) -> Result<()> {
    op.clients
        .logs
        .put_retention_policy()
        .log_group_name(&spec.name)
        .retention_in_days(spec.retention_days)
        .send()
        .done(|| format!("setting the retention of log group `{}`", spec.name))
        .await?;
    Ok(())
}

/// Each function's log group.
pub struct LogGroup;

impl Resource for LogGroup {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        Ok(find_log_groups(reads.clients, reads.env).await?.into())
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        env.stack.functions.keys().map(|f| Want::new(f, env.stack.log_group_name(f), spec(env, f))).collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if found.retention_days != Some(spec.retention_days) {
            let from = found.retention_days.map_or("never expire".to_string(), |d| format!("{d} days"));
            fields.push(FieldChange::new("retention", from, format!("{} days", spec.retention_days)));
        }
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let logs = &op.clients.logs;
        let created = logs
            .create_log_group()
            .log_group_name(&spec.name)
            .set_tags(Some(super::tags_to_map(&spec.tags)))
            .send()
            .await;
        match created {
            // Lambda creates the group itself when the function logs before we
            // got here (a deploy interrupted and re-run); adopt it.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_already_exists_exception()) => {
                logs.tag_resource()
                    .resource_arn(&spec.arn)
                    .set_tags(Some(super::tags_to_map(&spec.tags)))
                    .send()
                    .done(|| format!("tagging log group `{}`", spec.name))
                    .await?;
            }
            other => {
                other.aws_context(|| format!("creating log group `{}`", spec.name))?;
            }
        }
        put_retention(op, spec).await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        if found.retention_days != Some(spec.retention_days) {
            put_retention(op, spec).await?;
        }
        let what = format!("log group `{}`", spec.name);
        retag(Tagged::LogGroup(&op.clients.logs, &found.arn), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting log group `{}`", found.name);
        op.clients.logs.delete_log_group().log_group_name(&found.name).send().gone(doing).await
    }
}
