//! The notification queue and its dead-letter queue (two kinds, one shape).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::create_queue::CreateQueueError;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::{
    Env, FoundItem, Ids, Kind, Op, Reference, Resource, Tags, Want, json_equal, retry_while, tags_field, tags_from_map,
};
use crate::aws::{AwsContext, Sent, Tagged, retag};
use crate::diff::FieldChange;

/// Fourteen days, SQS's longest: failed notifications wait in the DLQ for a person.
pub const DLQ_RETENTION_SECONDS: i32 = 1_209_600;
const REDRIVE_POLICY: &str = "RedrivePolicy";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub kind: Kind,
    pub name: String,
    /// SQS attribute name -> value, only the ones wschat manages.
    pub attributes: BTreeMap<String, String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub url: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: Tags,
}

pub fn dlq_spec(env: &Env) -> Spec {
    Spec {
        kind: Kind::DeadLetterQueue,
        name: env.stack.dlq_name(),
        attributes: [("MessageRetentionPeriod".to_string(), DLQ_RETENTION_SECONDS.to_string())].into(),
        tags: env.tags(),
    }
}

pub fn spec(env: &Env) -> Spec {
    let q = &env.stack.queue;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": env.arns().dlq(),
        "maxReceiveCount": q.max_receive_count,
    });
    Spec {
        kind: Kind::Queue,
        name: env.stack.queue_name(),
        attributes: [
            ("VisibilityTimeout".to_string(), q.visibility_timeout.to_string()),
            ("DelaySeconds".to_string(), q.delay_seconds.to_string()),
            (REDRIVE_POLICY.to_string(), redrive.to_string()),
        ]
        .into(),
        tags: env.tags(),
    }
}

/// The queue of `kind` (the notification queue or its DLQ), found by name.
pub async fn find_queue(clients: &super::Clients, env: &Env, kind: Kind) -> Result<Option<FoundItem>> {
    let dead_letter = kind == Kind::DeadLetterQueue;
    let (name, address) = match dead_letter {
        true => (env.stack.dlq_name(), "dlq".to_string()),
        false => (env.stack.queue_name(), env.stack.queue.name.clone()),
    };
    let sqs = &clients.sqs;
    let Some(url) =
        sqs.get_queue_url().queue_name(&name).send().found(|| format!("looking up SQS queue `{name}`")).await?
    else {
        return Ok(None);
    };
    let Some(url) = url.queue_url else { return Ok(None) };
    let (attributes, tags) = tokio::try_join!(
        async {
            sqs.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .done(|| format!("reading the attributes of SQS queue `{name}`"))
                .await
        },
        async {
            sqs.list_queue_tags()
                .queue_url(&url)
                .send()
                .done(|| format!("reading the tags of SQS queue `{name}`"))
                .await
        },
    )?;
    let found = Found {
        name: name.clone(),
        url: url.clone(),
        attributes: attributes
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_string(), v))
            .collect(),
        tags: tags_from_map(tags.tags.as_ref()),
    };
    let found = if dead_letter { super::Found::DeadLetterQueue(found) } else { super::Found::Queue(found) };
    Ok(Some(FoundItem::new(address, url, None, found)))
}

/// Queues named like the stack's and tagged as its own, whose name left
/// stack.yaml (after `queue.name` changed).
pub async fn find_orphan_queues(clients: &super::Clients, env: &Env) -> Result<Vec<FoundItem>> {
    let prefix = format!("{}-", env.stack.prefix());
    let sqs = &clients.sqs;
    let urls = crate::aws::every(sqs.list_queues().queue_name_prefix(&prefix).into_paginator().items().send())
        .await
        .aws_context(|| format!("listing SQS queues `{prefix}*`"))?;
    let ours = [env.stack.queue_name(), env.stack.dlq_name()];
    let mut items = Vec::new();
    for url in urls {
        let Some(name) = url.rsplit('/').next().map(str::to_string) else { continue };
        if ours.contains(&name) {
            continue;
        }
        let doing = || format!("reading the tags of SQS queue `{name}`");
        let tags = sqs.list_queue_tags().queue_url(&url).send().done(doing).await?;
        let tags = tags_from_map(tags.tags.as_ref());
        if !env.owns(&tags) {
            continue;
        }
        let found = Found { name: name.clone(), url: url.clone(), attributes: BTreeMap::new(), tags };
        items.push(FoundItem::new(&name[prefix.len()..], url, None, super::Found::Queue(found)));
    }
    Ok(items)
}

fn same(attribute: &str, want: &str, have: Option<&String>) -> bool {
    match have {
        None => false,
        Some(have) if attribute == REDRIVE_POLICY => match (serde_json::from_str(want), serde_json::from_str(have)) {
            (Ok(w), Ok(h)) => json_equal(&w, &h),
            _ => want == have,
        },
        Some(have) => want == have,
    }
}

fn changed(spec: &Spec, found: &Found) -> BTreeMap<String, String> {
    spec.attributes
        .iter()
        .filter(|(k, v)| !same(k, v, found.attributes.get(*k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn sqs_attributes(attributes: &BTreeMap<String, String>) -> HashMap<QueueAttributeName, String> {
    attributes.iter().map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone())).collect()
}

/// Whether SQS refused a name because a queue of that name was deleted
/// recently. SQS's JSON protocol carries the old query code in
/// `x-amzn-query-error` (`AWS.SimpleQueueService.QueueDeletedRecently`), which
/// the SDK's typed check needs; an endpoint that sends only the shape name
/// (`QueueDeletedRecently`) is understood too.
fn deleted_recently(err: &SdkError<CreateQueueError, HttpResponse>) -> bool {
    err.as_service_error().is_some_and(|e| {
        e.is_queue_deleted_recently()
            || matches!(e.code(), Some("QueueDeletedRecently" | "AWS.SimpleQueueService.QueueDeletedRecently"))
    })
}

/// How long SQS refuses a deleted queue's name: "After you delete a queue,
/// you must wait at least 60 seconds before creating a queue with the same
/// name" (SQS API Reference, `CreateQueue`); a margin on top, as
/// terraform-provider-aws waits out `QueueDeletedRecently` on create
/// (`internal/service/sqs/queue.go`).
pub const NAME_REUSE_LIMIT: Duration = Duration::from_secs(75);

/// The notification queue (`Queues<false>`) and its dead-letter queue (`Queues<true>`): one shape.
pub struct Queues<const DEAD_LETTER: bool>;

pub type Queue = Queues<false>;
pub type DeadLetterQueue = Queues<true>;

impl<const DEAD_LETTER: bool> Resource for Queues<DEAD_LETTER> {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        if DEAD_LETTER {
            return Ok(find_queue(reads.clients, reads.env, Kind::DeadLetterQueue)
                .await?
                .into_iter()
                .collect::<Vec<_>>()
                .into());
        }
        let (queue, orphans) = tokio::try_join!(
            find_queue(reads.clients, reads.env, Kind::Queue),
            find_orphan_queues(reads.clients, reads.env),
        )?;
        Ok(queue.into_iter().chain(orphans).collect())
    }

    /// The id is the URL; its last segment is the name.
    fn display(name: &str, id: Option<&str>) -> String {
        id.and_then(|url| url.rsplit('/').next()).unwrap_or(name).to_string()
    }

    fn references(_spec: &Spec) -> Vec<Reference> {
        if DEAD_LETTER { Vec::new() } else { vec![Reference::exists(Kind::DeadLetterQueue, "dlq")] }
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        let stack = &env.stack;
        vec![match DEAD_LETTER {
            true => Want::new("dlq", stack.dlq_name(), dlq_spec(env)),
            false => Want::new(&stack.queue.name, stack.queue_name(), spec(env)),
        }]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields: Vec<FieldChange> = changed(spec, found)
            .into_iter()
            .map(|(k, v)| FieldChange::new(&k, found.attributes.get(&k).map_or("(unset)", String::as_str), v))
            .collect();
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let create = || {
            op.clients
                .sqs
                .create_queue()
                .queue_name(&spec.name)
                .set_attributes(Some(sqs_attributes(&spec.attributes)))
                .set_tags(Some(super::tags_to_map(&spec.tags)))
                .send()
        };
        let why = format!(
            "waiting for SQS to release the name `{}`: a queue of that name was deleted less than 60 s ago, and SQS refuses the name until then",
            spec.name
        );
        let created = match retry_while(op.task, &why, NAME_REUSE_LIMIT, create, deleted_recently).await {
            Err(e) if deleted_recently(&e) => anyhow::bail!(
                "creating SQS queue `{}`: SQS still refuses the name after {} s (a queue of that name was deleted recently); wait a minute and deploy again",
                spec.name,
                NAME_REUSE_LIMIT.as_secs()
            ),
            other => other.aws_context(|| format!("creating SQS queue `{}`", spec.name))?,
        };
        created.queue_url.with_context(|| format!("creating SQS queue `{}`: SQS returned no URL", spec.name))
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let sqs = &op.clients.sqs;
        let attributes = changed(spec, found);
        if !attributes.is_empty() {
            sqs.set_queue_attributes()
                .queue_url(&found.url)
                .set_attributes(Some(sqs_attributes(&attributes)))
                .send()
                .done(|| format!("updating SQS queue `{}`", spec.name))
                .await?;
        }
        let what = format!("SQS queue `{}`", spec.name);
        retag(Tagged::Queue(sqs, &found.url), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting SQS queue `{}`", found.name);
        op.clients.sqs.delete_queue().queue_url(&found.url).send().gone(doing).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policies_compare_as_json() {
        let spec = Spec {
            kind: Kind::Queue,
            name: "q".into(),
            attributes: [(
                REDRIVE_POLICY.to_string(),
                r#"{"deadLetterTargetArn":"arn:d","maxReceiveCount":5}"#.to_string(),
            )]
            .into(),
            tags: Tags::new(),
        };
        let found = |policy: &str| Found {
            name: "q".into(),
            url: "https://q".into(),
            attributes: [(REDRIVE_POLICY.to_string(), policy.to_string())].into(),
            tags: Tags::new(),
        };
        assert!(Queue::diff(&spec, &found(r#"{"maxReceiveCount": "5", "deadLetterTargetArn": "arn:d"}"#)).is_empty());
        let changed = Queue::diff(&spec, &found(r#"{"deadLetterTargetArn":"arn:d","maxReceiveCount":3}"#));
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].field, REDRIVE_POLICY);
    }
}
