//! The SNS topic the stack's alarms notify (`{name}-{stage}-alarms`), with
//! `observability.alarms` on. Its name is derived, so it is read by its ARN:
//! one call, whatever else the account has.
//!
//! SNS API Reference, CreateTopic: "This action is idempotent, so if the
//! requester already owns a topic with the specified name, that topic's ARN
//! is returned without creating a new topic" — unless the tags differ:
//! `InvalidParameter`, "Invalid parameter: Tags Reason: Topic already exists
//! with different tags" (AWS's answer as localstack#2405 reports it). A
//! deploy killed after CreateTopic finds the topic by its ARN on the next
//! run, so only a topic someone else made under the stack's name meets that
//! error here; it is adopted and tagged. Right after a topic of the same ARN
//! was deleted (destroy, then deploy), its tags are `StaleTag`: "Wait a short
//! while and then retry the operation" (CreateTopic, Errors), which create
//! does. DeleteTopic: "This action is idempotent, so deleting a topic that
//! does not exist does not result in an error"; it deletes the topic's
//! subscriptions too.
//!
//! The topic is not encrypted at rest: CloudWatch publishes to an encrypted
//! topic only under a customer managed KMS key whose policy lets
//! `cloudwatch.amazonaws.com` use it, and the AWS managed key's policy cannot
//! be changed (SNS Developer Guide, "Encryption at rest", and "Configuring
//! AWS KMS permissions" for AWS services that publish). A stack would pay
//! $1 a month for such a key to protect alarm notices, which carry metric
//! values and no chat text.

use anyhow::Result;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{Env, FoundItem, Ids, Op, Resource, Tags, Want, tags_field};
use aws_sdk_sns::operation::create_topic::CreateTopicError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::aws::{AwsContext, Sent, Tagged, retag, retry_while, sns_tags};
use crate::diff::FieldChange;

/// How long create waits out `StaleTag` ("a short while").
const STALE_TAG_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Its one instance's name in the stack.
pub const NAME: &str = "alarms";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub arn: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub arn: String,
    pub tags: Tags,
    /// Confirmed subscriptions, as the topic's attributes count them.
    pub confirmed: usize,
    pub pending: usize,
}

/// The topic's tags, as a map.
async fn read_tags(sns: &aws_sdk_sns::Client, arn: &str) -> Result<Tags> {
    let doing = || format!("reading the tags of SNS topic `{arn}`");
    let tags = sns.list_tags_for_resource().resource_arn(arn).send().done(doing).await?;
    Ok(tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
}

pub struct AlarmTopic;

impl Resource for AlarmTopic {
    type Spec = Spec;
    type Found = Found;

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        if !env.stack.observability.alarms || env.destroying {
            return Vec::new();
        }
        let spec = Spec { name: env.stack.alarm_topic_name(), arn: env.arns().alarm_topic(), tags: env.tags() };
        vec![Want::new(NAME, spec.arn.clone(), spec)]
    }

    async fn find(reads: &super::Reads<'_>) -> Result<super::FoundSet> {
        let (sns, env) = (&reads.clients.sns, reads.env);
        let arn = env.arns().alarm_topic();
        let doing = || format!("reading SNS topic `{arn}`");
        let Some(read) = sns.get_topic_attributes().topic_arn(&arn).send().found(doing).await? else {
            return Ok(Vec::new().into());
        };
        let tags = read_tags(sns, &arn).await?;
        // Wanted, it is adopted by its name; unwanted, deleted only if it is ours.
        if !env.stack.observability.alarms && !env.owns(&tags) {
            return Ok(Vec::new().into());
        }
        let count = |key: &str| read.attributes().and_then(|a| a.get(key)).and_then(|n| n.parse().ok()).unwrap_or(0);
        let found = Found {
            arn: arn.clone(),
            tags,
            confirmed: count("SubscriptionsConfirmed"),
            pending: count("SubscriptionsPending"),
        };
        Ok(vec![FoundItem::new(NAME, arn, None, super::Found::AlarmTopic(found))].into())
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        tags_field(&spec.tags, &found.tags).into_iter().collect()
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let sns = &op.clients.sns;
        let create = sns.create_topic().name(&spec.name).set_tags(Some(sns_tags(&spec.tags)?));
        let why = "SNS still holds the tags of the deleted topic of this name";
        let stale = |e: &SdkError<CreateTopicError, HttpResponse>| e.code() == Some("StaleTag");
        let created = retry_while(op.task, why, STALE_TAG_LIMIT, || create.clone().send(), stale).await;
        match created {
            Ok(out) => Ok(out.topic_arn().unwrap_or(&spec.arn).to_string()),
            // Someone else's topic of this name, with other tags: adopted.
            Err(e) if e.message().is_some_and(|m| m.contains("already exists with different tags")) => {
                let found = read_tags(sns, &spec.arn).await?;
                let what = format!("SNS topic `{}`", spec.name);
                retag(Tagged::Topic(sns, &spec.arn), &what, &spec.tags, &found).await?;
                Ok(spec.arn.clone())
            }
            Err(e) => Err(e).aws_context(|| format!("creating SNS topic `{}`", spec.name)),
        }
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        let what = format!("SNS topic `{}`", spec.name);
        retag(Tagged::Topic(&op.clients.sns, &found.arn), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting SNS topic `{}`", found.arn);
        op.clients.sns.delete_topic().topic_arn(&found.arn).send().gone(doing).await
    }

    fn display(_name: &str, id: Option<&str>) -> String {
        id.and_then(|arn| arn.rsplit(':').next()).unwrap_or(NAME).to_string()
    }

    fn describe(found: &Found) -> Option<String> {
        Some(match (found.confirmed, found.pending) {
            (0, 0) => "no subscriber: alarms notify nobody (set observability.alarm_email)".to_string(),
            (c, 0) => format!("{c} subscriber(s)"),
            (c, p) => format!("{c} subscriber(s), {p} pending confirmation"),
        })
    }
}
