//! The stack's CloudWatch metric alarms (`{name}-{stage}-{key}`, with
//! `observability.alarms` on): what they watch is in [`alarm_rules`].
//!
//! CloudWatch API Reference, PutMetricAlarm: "Creates or updates an alarm";
//! "When this operation updates an existing alarm, its state is left
//! unchanged, but the update completely overwrites the previous
//! configuration of the alarm", and "If you are using this operation to
//! update an existing alarm, any tags you specify in this parameter are
//! ignored": tags go with the create, and TagResource and UntagResource
//! change them after. DeleteAlarms: "If you specify any incorrect alarm
//! names, the alarms you specify with correct names are still deleted";
//! terraform-provider-aws's `aws_cloudwatch_metric_alarm` takes
//! `ResourceNotFound` as deleted, as [`Sent::gone`] does.
//!
//! They are found by their names' prefix, one DescribeAlarms page for ten; an
//! alarm of that prefix stack.yaml does not want is deleted only when its
//! tags say it is this stack's (another stack's names may share the prefix).

use anyhow::Result;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, StateValue, Statistic,
};

use super::alarm_rules::{self, Definition, MetricName, Watch};
use super::{Env, FoundItem, Ids, Op, Resource, Tags, Want, short, tags_field};
use crate::aws::{AwsContext, Sent, Tagged, cloudwatch_tags, retag};
use crate::diff::FieldChange;

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub arn: String,
    pub definition: Definition,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub arn: String,
    pub definition: Definition,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
    pub tags: Tags,
}

fn dimensions(metric: &MetricName) -> Vec<Dimension> {
    metric.dimensions.iter().map(|(k, v)| Dimension::builder().name(k).value(v).build()).collect()
}

fn metric(m: &MetricName) -> Metric {
    Metric::builder().namespace(&m.namespace).metric_name(&m.name).set_dimensions(Some(dimensions(m))).build()
}

fn metric_name(namespace: Option<&str>, name: Option<&str>, dims: &[Dimension]) -> MetricName {
    let mut dimensions: Vec<(String, String)> =
        dims.iter().map(|d| (d.name().unwrap_or_default().into(), d.value().unwrap_or_default().into())).collect();
    dimensions.sort();
    MetricName { namespace: namespace.unwrap_or_default().into(), name: name.unwrap_or_default().into(), dimensions }
}

/// What DescribeAlarms says an alarm is.
pub fn definition(a: &MetricAlarm) -> Definition {
    let queries = a.metrics();
    let (watch, period) = if queries.is_empty() {
        let stat = a.extended_statistic().map(str::to_string).or_else(|| a.statistic().map(|s| s.as_str().to_string()));
        let metric = metric_name(a.namespace(), a.metric_name(), a.dimensions());
        (Watch::Metric { metric, stat: stat.unwrap_or_default() }, a.period().unwrap_or_default())
    } else {
        let returned = queries.iter().find(|q| q.return_data() != Some(false) && q.expression().is_some());
        let mut period = 0;
        let inputs = queries
            .iter()
            .filter_map(|q| {
                let stat = q.metric_stat()?;
                period = stat.period().unwrap_or_default();
                let m = stat.metric()?;
                let name = metric_name(m.namespace(), m.metric_name(), m.dimensions());
                Some((q.id().unwrap_or_default().to_string(), name, stat.stat().unwrap_or_default().to_string()))
            })
            .collect();
        let expression = returned.and_then(|q| q.expression()).unwrap_or_default().to_string();
        let label = returned.and_then(|q| q.label()).unwrap_or_default().to_string();
        (Watch::Math { expression, label, inputs }, period)
    };
    Definition {
        description: a.alarm_description().unwrap_or_default().to_string(),
        watch,
        period,
        evaluation_periods: a.evaluation_periods().unwrap_or_default(),
        datapoints_to_alarm: a.datapoints_to_alarm().unwrap_or_else(|| a.evaluation_periods().unwrap_or_default()),
        threshold: a.threshold().unwrap_or_default(),
        comparison: a.comparison_operator().map(|c| c.as_str().to_string()).unwrap_or_default(),
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_string(),
        actions: a.alarm_actions().to_vec(),
    }
}

/// What a watch says, for plans.
fn shown(watch: &Watch) -> String {
    let one = |m: &MetricName| {
        let dims: Vec<String> = m.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}/{}{{{}}}", m.namespace, m.name, dims.join(","))
    };
    match watch {
        Watch::Metric { metric, stat } => format!("{stat} of {}", one(metric)),
        Watch::Math { expression, inputs, .. } => {
            let named: Vec<String> = inputs.iter().map(|(id, m, stat)| format!("{id}={stat} of {}", one(m))).collect();
            format!("{expression} where {}", named.join(", "))
        }
    }
}

/// PutMetricAlarm: creates the alarm, or overwrites its configuration.
async fn put(op: &Op<'_>, spec: &Spec, tags: bool) -> Result<()> {
    let d = &spec.definition;
    let mut put = op
        .clients
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&spec.name)
        .alarm_description(&d.description)
        .actions_enabled(true)
        .set_alarm_actions(Some(d.actions.clone()))
        .set_ok_actions(Some(d.actions.clone()))
        .evaluation_periods(d.evaluation_periods)
        .datapoints_to_alarm(d.datapoints_to_alarm)
        .threshold(d.threshold)
        .comparison_operator(ComparisonOperator::from(d.comparison.as_str()))
        .treat_missing_data(&d.treat_missing_data);
    put = match &d.watch {
        Watch::Metric { metric: m, stat } => {
            let put =
                put.namespace(&m.namespace).metric_name(&m.name).set_dimensions(Some(dimensions(m))).period(d.period);
            if stat.starts_with('p') {
                put.extended_statistic(stat)
            } else {
                put.statistic(Statistic::from(stat.as_str()))
            }
        }
        Watch::Math { expression, label, inputs } => {
            let mut queries: Vec<MetricDataQuery> = inputs
                .iter()
                .map(|(id, m, stat)| {
                    let stat = MetricStat::builder().metric(metric(m)).period(d.period).stat(stat).build();
                    MetricDataQuery::builder().id(id).metric_stat(stat).return_data(false).build()
                })
                .collect();
            queries
                .push(MetricDataQuery::builder().id("e").expression(expression).label(label).return_data(true).build());
            put.set_metrics(Some(queries))
        }
    };
    if tags {
        put = put.set_tags(Some(cloudwatch_tags(&spec.tags)?));
    }
    put.send().done(|| format!("putting CloudWatch alarm `{}`", spec.name)).await?;
    Ok(())
}

pub struct Alarm;

impl Resource for Alarm {
    type Spec = Spec;
    type Found = Found;

    fn desired(env: &Env, _ids: &Ids) -> Vec<Want<Spec>> {
        if !env.stack.observability.alarms || env.destroying {
            return Vec::new();
        }
        alarm_rules::rules(env)
            .into_iter()
            .map(|(key, definition)| {
                let spec = Spec {
                    name: env.stack.alarm_name(&key),
                    arn: env.arns().alarm(&key),
                    definition,
                    tags: env.tags(),
                };
                Want::new(key, spec.name.clone(), spec)
            })
            .collect()
    }

    async fn find(reads: &super::Reads<'_>) -> Result<super::FoundSet> {
        let (cloudwatch, env) = (&reads.clients.cloudwatch, reads.env);
        let prefix = env.stack.alarm_name("");
        let pages = crate::aws::every(cloudwatch.describe_alarms().alarm_name_prefix(&prefix).into_paginator().send())
            .await
            .aws_context(|| format!("listing CloudWatch alarms `{prefix}*`"))?;
        let alarms: Vec<MetricAlarm> = pages.into_iter().flat_map(|p| p.metric_alarms.unwrap_or_default()).collect();
        let wanted = Alarm::desired(env, &Ids::default());
        let (prefix, wanted) = (&prefix, &wanted);
        let read = alarms.into_iter().map(|a| async move {
            let name = a.alarm_name().unwrap_or_default().to_string();
            let key = name[prefix.len()..].to_string();
            let arn = a.alarm_arn().unwrap_or_default().to_string();
            let doing = || format!("reading the tags of CloudWatch alarm `{name}`");
            let tags = cloudwatch.list_tags_for_resource().resource_arn(&arn).send().done(doing).await?;
            let tags: Tags = tags
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().into(), t.value().unwrap_or_default().into()))
                .collect();
            if !wanted.iter().any(|w| w.name == key) && !env.owns(&tags) {
                return Ok(None);
            }
            let found = Found {
                definition: definition(&a),
                state: a.state_value().map_or("INSUFFICIENT_DATA", StateValue::as_str).to_string(),
                reason: a.state_reason().unwrap_or_default().to_string(),
                name: name.clone(),
                arn,
                tags,
            };
            Ok::<_, anyhow::Error>(Some(FoundItem::new(key, name, None, super::Found::Alarm(found))))
        });
        Ok(futures::future::try_join_all(read).await?.into_iter().flatten().collect())
    }

    fn references(_spec: &Spec) -> Vec<super::Reference> {
        vec![super::Reference::exists(super::Kind::AlarmTopic, super::alarm_topic::NAME)]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        let (s, f) = (&spec.definition, &found.definition);
        let mut fields = Vec::new();
        let mut field = |name: &str, from: String, to: String| {
            if from != to {
                fields.push(FieldChange::new(name, short(&from, 120), short(&to, 120)));
            }
        };
        field("watches", shown(&f.watch), shown(&s.watch));
        field("description", f.description.clone(), s.description.clone());
        let rule = |d: &Definition| {
            format!(
                "{} {} of {}×{} s {} {}",
                d.treat_missing_data, d.datapoints_to_alarm, d.evaluation_periods, d.period, d.comparison, d.threshold
            )
        };
        field("rule", rule(f), rule(s));
        field("actions", f.actions.join(", "), s.actions.join(", "));
        fields.extend(tags_field(&spec.tags, &found.tags));
        fields
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        put(op, spec, true).await?;
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, found: &Found) -> Result<()> {
        if spec.definition != found.definition {
            put(op, spec, false).await?;
        }
        let what = format!("CloudWatch alarm `{}`", spec.name);
        retag(Tagged::Alarm(&op.clients.cloudwatch, &found.arn), &what, &spec.tags, &found.tags).await
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting CloudWatch alarm `{}`", found.name);
        op.clients.cloudwatch.delete_alarms().alarm_names(&found.name).send().gone(doing).await
    }

    fn describe(found: &Found) -> Option<String> {
        Some(match found.state.as_str() {
            "ALARM" => format!("ALARM: {}", found.reason),
            state => state.to_string(),
        })
    }
}
