//! The e-mail subscription of the alarm topic (`observability.alarm_email`).
//!
//! SNS asks the address to confirm first: until it does, the subscription
//! is listed with the ARN `PendingConfirmation` (SNS API Reference,
//! ListSubscriptionsByTopic and Subscribe) and cannot be unsubscribed:
//! Unsubscribe answers `InvalidParameter` "Cannot unsubscribe a subscription
//! that is pending confirmation", which terraform-provider-aws's
//! `aws_sns_topic_subscription` takes as deleted. SNS drops an unconfirmed
//! subscription when its confirmation expires. So a subscription is known by
//! its address, not its ARN: a redeploy finds the pending one and does not
//! subscribe again (which would send another confirmation message), and one
//! pending for an address stack.yaml no longer names is left to expire, with
//! a note. Deleting the topic deletes its subscriptions, so destroy leaves
//! them to it.

use anyhow::Result;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{Address, Env, FoundItem, Ids, Kind, Op, Resource, Want, alarm_topic};
use crate::aws::{AwsContext, Missing, Sent};
use crate::diff::FieldChange;

/// What SNS lists instead of an ARN while the address has not confirmed.
pub const PENDING: &str = "PendingConfirmation";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub topic_arn: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub topic_arn: String,
    pub email: String,
    /// `None` while the address has not confirmed.
    pub arn: Option<String>,
}

pub struct AlarmSubscription;

impl Resource for AlarmSubscription {
    type Spec = Spec;
    type Found = Found;

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        let o = &env.stack.observability;
        let email = o.alarm_email.as_ref().filter(|_| o.alarms && !env.destroying);
        email
            .map(|email| {
                let spec = Spec { topic_arn: env.arns().alarm_topic(), email: email.clone() };
                Want::new(email.to_ascii_lowercase(), email.clone(), spec)
            })
            .into_iter()
            .collect()
    }

    async fn find(reads: &super::Reads<'_>) -> Result<super::FoundSet> {
        let Some(topic) = reads.found.iter().find(|i| i.address.kind == Kind::AlarmTopic) else {
            return Ok(Vec::new().into());
        };
        let sns = &reads.clients.sns;
        let doing = || format!("listing the subscriptions of SNS topic `{}`", topic.id);
        let listed =
            crate::aws::every(sns.list_subscriptions_by_topic().topic_arn(&topic.id).into_paginator().items().send())
                .await
                .aws_context(doing)?;
        let wanted = reads.env.stack.observability.alarm_email.as_deref().map(str::to_ascii_lowercase);
        let owner = Some(Address::new(Kind::AlarmTopic, alarm_topic::NAME));
        let mut found = super::FoundSet::default();
        for s in listed.iter().filter(|s| s.protocol() == Some("email")) {
            let email = s.endpoint().unwrap_or_default().to_string();
            let arn = s.subscription_arn().filter(|a| *a != PENDING).map(str::to_string);
            let key = email.to_ascii_lowercase();
            if arn.is_none() && wanted.as_deref() != Some(key.as_str()) {
                found.notes.push(format!(
                    "the alarm e-mail subscription of {email} is pending confirmation and cannot be removed; SNS drops it when its confirmation expires, and it receives nothing until then"
                ));
                continue;
            }
            let item = Found { topic_arn: topic.id.clone(), email: email.clone(), arn };
            found.items.push(FoundItem::new(key, email, owner.clone(), super::Found::AlarmSubscription(item)));
        }
        Ok(found)
    }

    fn references(_spec: &Spec) -> Vec<super::Reference> {
        vec![super::Reference::exists(super::Kind::AlarmTopic, super::alarm_topic::NAME)]
    }

    fn diff(_spec: &Spec, _found: &Found) -> Vec<FieldChange> {
        // The address is the subscription: another one is another subscription.
        Vec::new()
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let doing = || format!("subscribing {} to SNS topic `{}`", spec.email, spec.topic_arn);
        op.clients
            .sns
            .subscribe()
            .topic_arn(&spec.topic_arn)
            .protocol("email")
            .endpoint(&spec.email)
            .return_subscription_arn(true)
            .send()
            .done(doing)
            .await?;
        Ok(spec.email.clone())
    }

    async fn update(_op: &Op<'_>, _spec: &Spec, _found: &Found) -> Result<()> {
        Ok(())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let Some(arn) = &found.arn else { return Ok(()) };
        let doing = || format!("unsubscribing {} from SNS topic `{}`", found.email, found.topic_arn);
        match op.clients.sns.unsubscribe().subscription_arn(arn).send().await {
            // Pending: nothing to unsubscribe (the error terraform-provider-aws matches too).
            Err(e) if e.message().is_some_and(|m| m.contains("pending confirmation")) => Ok(()),
            other => other.or_gone().aws_context(doing),
        }
    }

    fn describe(found: &Found) -> Option<String> {
        Some(match found.arn {
            Some(_) => "confirmed".to_string(),
            None => format!("pending: {} must open the link in AWS's confirmation message", found.email),
        })
    }
}
