//! The event source mapping that feeds the queue to its consumer, with
//! `ReportBatchItemFailures` so that one bad record does not fail its batch,
//! and `ScalingConfig.MaximumConcurrency` (`chat.max_concurrency`) so that a
//! big broadcast's shards run on a bounded number of invocations.
//!
//! Mappings have no name: they are found by function and queue ARN. Any
//! other mapping on one of the stack's functions is left over from an
//! earlier stack.yaml and is deleted, and so are duplicates (moto accepts them).

use std::time::Duration;

use anyhow::Result;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::types::{FunctionResponseType, ScalingConfig};

use super::{Env, FoundItem, Ids, Kind, Op, Reference, Resource, Want, poll, retry_while_iam_propagates};
use crate::aws::{AwsContext, Missing, Sent, retry_while};
use crate::diff::FieldChange;

const REPORT_FAILURES: &str = "ReportBatchItemFailures";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The function in stack.yaml.
    pub function: String,
    pub function_name: String,
    /// The queue in stack.yaml.
    pub queue: String,
    pub queue_arn: String,
    pub batch_size: i32,
    /// `ScalingConfig.MaximumConcurrency`, 2..=1000.
    pub maximum_concurrency: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub uuid: String,
    pub function_name: String,
    pub source_arn: String,
    pub batch_size: i32,
    pub response_types: Vec<String>,
    /// `ScalingConfig.MaximumConcurrency`; `None` without a scaling config
    /// (Lambda's default: as many invocations as the function's concurrency allows).
    pub maximum_concurrency: Option<i32>,
    pub state: String,
}

/// The mapping of `function`, if it consumes the queue.
pub fn spec(env: &Env, function: &str) -> Option<Spec> {
    let f = &env.stack.functions[function];
    f.queue.as_ref()?;
    Some(Spec {
        function: function.to_string(),
        function_name: env.stack.function_name(function),
        queue: env.stack.queue.name.clone(),
        queue_arn: env.arns().queue(),
        batch_size: f.batch,
        maximum_concurrency: env.stack.chat.max_concurrency,
    })
}

pub async fn find_mappings(clients: &super::Clients, env: &Env, function: &str) -> Result<Vec<FoundItem>> {
    let name = env.stack.function_name(function);
    let listed = crate::aws::every(
        clients.lambda.list_event_source_mappings().function_name(&name).into_paginator().items().send(),
    )
    .await;
    let mappings = listed
        .or_missing()
        .aws_context(|| format!("listing the event source mappings of Lambda function `{name}`"))?
        .unwrap_or_default();
    let queue_arn = env.arns().queue();
    Ok(mappings
        .into_iter()
        // A mapping being deleted is going (an earlier destroy or deploy
        // deleted it), whatever discovery would make of it: it is not the
        // stack's, and a new one is made once it is gone (see `create`).
        .filter(|m| m.state() != Some(DELETING))
        .filter_map(|m| {
            let uuid = m.uuid()?.to_string();
            let source_arn = m.event_source_arn().unwrap_or_default().to_string();
            let address = if source_arn == queue_arn {
                function.to_string()
            } else {
                let source = source_arn.rsplit(':').next().unwrap_or(&source_arn);
                format!("{function} <- {source}")
            };
            let found = Found {
                uuid: uuid.clone(),
                function_name: name.clone(),
                source_arn,
                batch_size: m.batch_size().unwrap_or_default(),
                response_types: m.function_response_types().iter().map(|t| t.as_str().to_string()).collect(),
                maximum_concurrency: m.scaling_config().and_then(|c| c.maximum_concurrency()),
                state: m.state().unwrap_or_default().to_string(),
            };
            Some(FoundItem::new(address, uuid, None, super::Found::Mapping(found)))
        })
        .collect())
}

/// The messages of Lambda's `InvalidParameterValueException` for a consumer
/// whose role (or its new policy) has not reached Lambda yet: Lambda checks
/// that the role may receive from the queue. terraform-provider-aws retries
/// these on create and update (`internal/service/lambda/event_source_mapping.go`,
/// `retryEventSourceMapping`); the code alone cannot tell them from a truly
/// bad parameter, so the message is matched (a last resort). "execution role
/// does not have permissions" covers both of Lambda's wordings ("The provided
/// execution role ..." and "The function execution role ...").
const POLICY_NOT_READY: [&str; 3] =
    ["cannot be assumed by Lambda", "execution role does not have permissions", "ensure the role can perform"];

fn policy_not_ready<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(|e| {
        e.code() == Some("InvalidParameterValueException")
            && e.message().is_some_and(|m| POLICY_NOT_READY.iter().any(|p| m.contains(p)))
    })
}

/// The scaling configuration to send, on create and on every update.
///
/// Lambda API Reference, `ScalingConfig`: "(Amazon SQS only) The scaling
/// configuration for the event source. To remove the configuration, pass an
/// empty value", with `MaximumConcurrency` in 2..=1000. An update that leaves
/// the field out keeps what the mapping has: terraform-provider-aws
/// (`internal/service/lambda/event_source_mapping.go`,
/// `resourceEventSourceMappingUpdate`) sends `&awstypes.ScalingConfig{}` to
/// remove it because "AWS ignores the removal if this is left as nil". wschat
/// always wants a value (`chat.max_concurrency` has a default), so it always
/// sends a full one and never needs the empty form.
fn scaling_config(spec: &Spec) -> ScalingConfig {
    ScalingConfig::builder().maximum_concurrency(spec.maximum_concurrency).build()
}

/// The state of a deleted mapping until Lambda has stopped polling: it is
/// still listed and read, and holds its queue and function ("When you delete
/// an event source mapping, it enters a Deleting state and might not be
/// completely deleted for several seconds", Lambda API Reference,
/// DeleteEventSourceMapping).
const DELETING: &str = "Deleting";

/// How long a mapping may take to be deleted; terraform-provider-aws waits
/// 5 minutes (`internal/service/lambda/event_source_mapping.go`,
/// `resourceEventSourceMappingDelete`, `waitEventSourceMappingDeleted`).
const DELETE_LIMIT: Duration = Duration::from_secs(300);

/// A new mapping of a queue and function that a `Deleting` one still holds:
/// Lambda's 409 `ResourceConflictException`, "An event source mapping with
/// SQS arn ... and function ... already exists".
fn held_by_another<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(|e| {
        e.code() == Some("ResourceConflictException") && e.message().is_some_and(|m| m.contains("already exists"))
    })
}

/// Polls mapping `uuid` (for at most [`DELETE_LIMIT`], terraform-provider-aws's
/// wait too) until `done` says its state (`None`: gone, Lambda answers
/// NotFound) is the one waited for; `task` shows `what` meanwhile.
async fn wait_mapping(op: &Op<'_>, uuid: &str, what: &str, done: impl Fn(Option<&str>) -> bool) -> Result<()> {
    poll(op.task, what, DELETE_LIMIT, || async {
        let doing = || format!("reading queue mapping `{uuid}`");
        let got = op.clients.lambda.get_event_source_mapping().uuid(uuid).send().found(doing).await?;
        let state = got.as_ref().map(|g| g.state().unwrap_or_default());
        Ok(done(state).then_some(()))
    })
    .await
}

/// Waits until mapping `uuid` is gone, as terraform-provider-aws's
/// `waitEventSourceMappingDeleted` does.
async fn wait_deleted(op: &Op<'_>, uuid: &str) -> Result<()> {
    let what = format!("waiting for queue mapping `{uuid}` to finish deleting");
    wait_mapping(op, uuid, &what, |state| state.is_none()).await
}

/// States in which Lambda refuses to change a mapping.
fn transitional(state: &str) -> bool {
    matches!(state, "Creating" | "Updating" | "Enabling" | "Disabling")
}

/// Waits while the mapping is Creating, Updating, Enabling or Disabling:
/// Lambda refuses to change it until then. A mapping that is gone (or
/// Deleting) counts as settled.
pub async fn wait_mapping_settled(op: &Op<'_>, uuid: &str) -> Result<()> {
    let what = format!("waiting for queue mapping `{uuid}` to settle");
    wait_mapping(op, uuid, &what, |state| match state.filter(|s| transitional(s)) {
        Some(state) => {
            op.task.waiting(&format!("waiting for queue mapping `{uuid}` to leave state {state}"));
            false
        }
        None => true,
    })
    .await
}

/// The queue's consumer mapping.
pub struct Mapping;

impl Resource for Mapping {
    type Spec = Spec;
    type Found = Found;

    async fn find(reads: &super::Reads<'_>) -> anyhow::Result<super::FoundSet> {
        // The stack's functions, then those it had under names stack.yaml no
        // longer has (their mappings go with them).
        let stack = &reads.env.stack.functions;
        let orphans = reads.found.iter().map(|f| &f.address.name).filter(|name| !stack.contains_key(*name));
        let names: Vec<&String> = stack.keys().chain(orphans).collect();
        let found =
            futures::future::try_join_all(names.iter().map(|f| find_mappings(reads.clients, reads.env, f))).await?;
        Ok(found.into_iter().flatten().collect())
    }

    fn display(name: &str, id: Option<&str>) -> String {
        super::named_with_id(name, id)
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        let function = || spec.function.clone();
        vec![
            Reference::exists(Kind::Function, function()),
            Reference::exists(Kind::RolePolicy, function()),
            Reference::exists(Kind::Queue, &spec.queue),
        ]
    }

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        env.stack.functions.keys().filter_map(|f| Some(Want::new(f, None, spec(env, f)?))).collect()
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let mut fields = Vec::new();
        if spec.batch_size != found.batch_size {
            fields.push(FieldChange::new("batch size", found.batch_size.to_string(), spec.batch_size.to_string()));
        }
        if found.response_types != [REPORT_FAILURES] {
            fields.push(FieldChange::new("response types", found.response_types.join(", "), REPORT_FAILURES));
        }
        if found.maximum_concurrency != Some(spec.maximum_concurrency) {
            fields.push(FieldChange::new(
                "maximum concurrency",
                found.maximum_concurrency.map_or_else(|| "(none)".to_string(), |n| n.to_string()),
                spec.maximum_concurrency.to_string(),
            ));
        }
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let why = format!(
            "waiting for the role policy of `{}` to reach Lambda (IAM changes take seconds to propagate)",
            spec.function_name
        );
        let create = || {
            op.clients
                .lambda
                .create_event_source_mapping()
                .function_name(&spec.function_name)
                .event_source_arn(&spec.queue_arn)
                .batch_size(spec.batch_size)
                .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                .scaling_config(scaling_config(spec))
                .enabled(true)
                .send()
        };
        // A mapping of this queue and function that an earlier destroy or
        // deploy deleted is `Deleting` for a while and holds them: wait it out.
        let deleting =
            "waiting for the stack's earlier queue mapping to finish deleting (Lambda deletes one in seconds)";
        let created = retry_while(
            op.task,
            deleting,
            DELETE_LIMIT,
            || retry_while_iam_propagates(op.task, &why, &create, policy_not_ready),
            held_by_another,
        )
        .await
        .aws_context(|| {
            format!("mapping SQS queue `{}` to Lambda function `{}`", spec.queue_arn, spec.function_name)
        })?;
        Ok(created.uuid.unwrap_or_default())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        if transitional(&found.state) {
            wait_mapping_settled(op, &found.uuid).await?;
        }
        op.clients
            .lambda
            .update_event_source_mapping()
            .uuid(&found.uuid)
            .batch_size(spec.batch_size)
            .function_response_types(FunctionResponseType::ReportBatchItemFailures)
            .scaling_config(scaling_config(spec))
            .send()
            .done(|| format!("updating the queue mapping `{}` of Lambda function `{}`", found.uuid, spec.function_name))
            .await?;
        Ok(())
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        if transitional(&found.state) {
            wait_mapping_settled(op, &found.uuid).await?;
        }
        op.clients
            .lambda
            .delete_event_source_mapping()
            .uuid(&found.uuid)
            .send()
            .gone(|| {
                format!("deleting the queue mapping `{}` of Lambda function `{}`", found.uuid, found.function_name)
            })
            .await?;
        // Deleting takes seconds; a deploy right after must not find it half there.
        wait_deleted(op, &found.uuid).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            function: "notify".into(),
            function_name: "s-dev-notify".into(),
            queue: "notifications".into(),
            queue_arn: "arn:aws:sqs:us-east-1:1:s-dev-notifications".into(),
            batch_size: 10,
            maximum_concurrency: 10,
        }
    }

    fn found() -> Found {
        Found {
            uuid: "u1".into(),
            function_name: "s-dev-notify".into(),
            source_arn: "arn:aws:sqs:us-east-1:1:s-dev-notifications".into(),
            batch_size: 10,
            response_types: vec![REPORT_FAILURES.into()],
            maximum_concurrency: Some(10),
            state: "Enabled".into(),
        }
    }

    #[test]
    fn the_same_mapping_has_no_diff() {
        assert_eq!(Mapping::diff(&spec(), &found()), Vec::new());
    }

    #[test]
    fn a_changed_or_missing_maximum_concurrency_is_a_field_change() {
        let changed = Spec { maximum_concurrency: 20, ..spec() };
        assert_eq!(Mapping::diff(&changed, &found()), [FieldChange::new("maximum concurrency", "10", "20")]);
        let unscaled = Found { maximum_concurrency: None, ..found() };
        assert_eq!(Mapping::diff(&spec(), &unscaled), [FieldChange::new("maximum concurrency", "(none)", "10")]);
    }

    #[test]
    fn the_scaling_config_carries_the_spec_s_maximum() {
        let config = scaling_config(&Spec { maximum_concurrency: 42, ..spec() });
        assert_eq!(config.maximum_concurrency(), Some(42));
    }
}
