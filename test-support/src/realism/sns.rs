//! SNS: what moto does not do that AWS does.
//!
//! - An e-mail subscription waits for its address to confirm (SNS Developer
//!   Guide, "Email notifications": "the endpoint owner must confirm the
//!   subscription"); until then ListSubscriptionsByTopic lists its ARN as
//!   `PendingConfirmation`, and Unsubscribe of it is 400 `InvalidParameter`,
//!   "Cannot unsubscribe a subscription that is pending confirmation" (the
//!   error terraform-provider-aws's `aws_sns_topic_subscription` takes as
//!   deleted). moto confirms every subscription at once. Nobody confirms in
//!   tests, so every e-mail subscription made through the proxy stays pending.
//! - CreateTopic of a name that exists, with a tag the topic does not have,
//!   is 400 `InvalidParameter`, "Invalid parameter: Tags Reason: Topic
//!   already exists with different tags" (AWS's answer as localstack#2405
//!   reports it; LocalStack checks each requested tag against the topic's);
//!   moto returns the topic.
//! - A topic's tags right after a topic of the same ARN was deleted are 400
//!   `StaleTag`, "A tag has been added to a resource with the same ARN as a
//!   deleted resource. Wait a short while and then retry the operation"
//!   (SNS API Reference, CreateTopic and TagResource, Errors): for
//!   [`STALE_TAG`] here; AWS says "a short while".

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::World;
use super::acm::xml_field;
use super::call::{Call, Request};
use super::wire::{self, Reply};

/// How long a deleted topic's name refuses tags.
pub const STALE_TAG: Duration = Duration::from_millis(1_500);

#[derive(Debug, Default)]
pub struct State {
    /// When each topic name was last deleted.
    deleted: BTreeMap<String, Instant>,
    /// E-mail subscriptions made through the proxy, by ARN.
    pending: BTreeSet<String>,
    /// Topics created through the proxy, by name, with their tags.
    topics: BTreeMap<String, BTreeMap<String, String>>,
}

/// The `Tags.member.N.Key`/`Value` pairs of a query request.
fn tags(r: &Request) -> BTreeMap<String, String> {
    (1..)
        .map_while(|i| Some((r.form(&format!("Tags.member.{i}.Key"))?, r.form(&format!("Tags.member.{i}.Value"))?)))
        .collect()
}

pub fn refuse(world: &mut World, call: &Call, request: &Request, now: Instant) -> Option<Reply> {
    if !world.behaviours.sns_rules || call.service != "sns" {
        return None;
    }
    match call.operation.as_str() {
        "Unsubscribe" => {
            let arn = request.form("SubscriptionArn")?;
            world.sns.pending.contains(&arn).then(|| {
                wire::xml_error(
                    400,
                    "InvalidParameter",
                    "Invalid parameter: Cannot unsubscribe a subscription that is pending confirmation",
                )
            })
        }
        "CreateTopic" => {
            let name = request.form("Name")?;
            let asked = tags(request);
            let stale = world.sns.deleted.get(&name).is_some_and(|at| now.duration_since(*at) < STALE_TAG);
            if stale && !asked.is_empty() {
                return Some(wire::xml_error(
                    400,
                    "StaleTag",
                    "A tag has been added to a resource with the same ARN as a deleted resource. Wait a short while and then retry the operation.",
                ));
            }
            let existing = world.sns.topics.get(&name)?;
            asked.iter().any(|(k, v)| existing.get(k) != Some(v)).then(|| {
                wire::xml_error(
                    400,
                    "InvalidParameter",
                    "Invalid parameter: Tags Reason: Topic already exists with different tags",
                )
            })
        }
        _ => None,
    }
}

pub fn learn(world: &mut World, call: &Call, request: &Request, reply: &mut Reply, now: Instant) {
    if !world.behaviours.sns_rules || call.service != "sns" || !reply.is_success() {
        return;
    }
    let body = String::from_utf8_lossy(&reply.body).into_owned();
    match call.operation.as_str() {
        "Subscribe" if request.form("Protocol").as_deref() == Some("email") => {
            if let Some(arn) = xml_field(&body, "SubscriptionArn") {
                world.sns.pending.insert(arn);
            }
        }
        "ListSubscriptionsByTopic" | "ListSubscriptions" => {
            let mut rewritten = body.clone();
            for arn in &world.sns.pending {
                rewritten = rewritten.replace(
                    &format!("<SubscriptionArn>{arn}</SubscriptionArn>"),
                    "<SubscriptionArn>PendingConfirmation</SubscriptionArn>",
                );
            }
            if rewritten != body {
                reply.body = rewritten.into();
                reply.headers.remove(http::header::CONTENT_LENGTH);
                reply.headers.remove(http::header::TRANSFER_ENCODING);
            }
        }
        "CreateTopic" => {
            if let Some(name) = request.form("Name") {
                world.sns.topics.entry(name).or_insert_with(|| tags(request));
            }
        }
        "TagResource" | "UntagResource" => {
            let Some(name) = request.form("ResourceArn").and_then(|a| a.rsplit(':').next().map(str::to_string)) else {
                return;
            };
            let Some(topic) = world.sns.topics.get_mut(&name) else { return };
            if call.operation == "TagResource" {
                topic.extend(tags(request));
            } else {
                for i in 1.. {
                    let Some(key) = request.form(&format!("TagKeys.member.{i}")) else { break };
                    topic.remove(&key);
                }
            }
        }
        "DeleteTopic" => {
            if let Some(name) = request.form("TopicArn").and_then(|a| a.rsplit(':').next().map(str::to_string)) {
                world.sns.topics.remove(&name);
                world.sns.deleted.insert(name, now);
            }
        }
        _ => {}
    }
}
