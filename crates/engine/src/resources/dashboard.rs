//! The stack's CloudWatch dashboard (`{name}-{stage}`, with
//! `observability.dashboard` on): people online, messages, posts, fan-out
//! time, errors, the queue and the alarms, a minute at a time.
//!
//! CloudWatch API Reference, PutDashboard: "Creates a dashboard if it does
//! not already exist, or updates an existing dashboard. If you update a
//! dashboard, the entire contents are replaced with what you specify here";
//! a body CloudWatch cannot use is `InvalidParameterInput`, and what it can
//! use with doubts comes back as `DashboardValidationMessages`. The body's
//! grammar is "Dashboard Body Structure and Syntax" (a metric widget's
//! `properties` need `metrics` and `region`). Dashboards take no tags, so
//! one the stack no longer wants is deleted only if its body carries the
//! stack's mark (its first widget's text), not because of its name alone.
//! DeleteDashboards of a missing one is `ResourceNotFound`, as
//! terraform-provider-aws's `aws_cloudwatch_dashboard` takes for deleted.

use anyhow::Result;
use serde_json::{Value, json};

use super::{Env, FoundItem, Ids, Op, Ref, Reference, Resource, Want, json_equal};
use crate::aws::Sent;
use crate::diff::FieldChange;

/// Its one instance's name in the stack.
pub const NAME: &str = "dashboard";

#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub name: String,
    pub api_id: Ref<String>,
    /// Rendered once the API's id is known.
    pub body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub body: Value,
}

/// The first line of the dashboard's text widget: how a dashboard is known
/// to be the stack's.
fn mark(env: &Env) -> String {
    format!("wschat stack `{}`, stage `{}`", env.stack.name, env.stack.stage)
}

/// The dashboard's body (Dashboard Body Structure and Syntax).
pub fn body(env: &Env, api_id: &str) -> Value {
    let s = &env.stack;
    let ns = s.metrics_namespace();
    let region = env.region.as_str();
    let ours = |name: &str, function: &str| json!([ns, name, "Function", function]);
    let api = |name: &str| json!(["AWS/ApiGateway", name, "ApiId", api_id, "Stage", s.api_stage()]);
    let with = |metric: Value, options: Value| {
        let mut m = metric.as_array().cloned().unwrap_or_default();
        m.push(options);
        Value::Array(m)
    };
    let graph = |title: &str, stat: &str, metrics: Vec<Value>, x: u32, y: u32| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": { "title": title, "region": region, "view": "timeSeries", "stat": stat, "period": 60, "metrics": metrics },
        })
    };
    let functions: Vec<String> = s.functions.keys().map(|f| s.function_name(f)).collect();
    let per_function = |name: &str| -> Vec<Value> {
        functions.iter().map(|f| json!(["AWS/Lambda", name, "FunctionName", f])).collect()
    };
    let mut errors = per_function("Errors");
    errors.extend(per_function("Throttles"));
    errors.extend(["IntegrationError", "ExecutionError", "ClientError"].map(api));
    let text = format!(
        "## {}\nOnline is the presence count the handlers read; the rest are counts a minute. What each alarm means, and what to do: docs/guide/metrics.md.",
        mark(env)
    );
    let mut widgets = vec![
        json!({ "type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": { "markdown": text } }),
        graph("People online", "Maximum", vec![ours("Online", "chat"), ours("Online", "notify")], 0, 2),
        graph(
            "Connections",
            "Sum",
            vec![ours("ConnectionsOpened", "chat"), ours("ConnectionsClosed", "chat"), api("ConnectCount")],
            12,
            2,
        ),
        graph("Messages", "Sum", vec![ours("MessagesIn", "chat"), api("MessageCount")], 0, 8),
        graph(
            "Posts to connections",
            "Sum",
            ["Posts", "Gone", "Refused", "Retried", "HandedOn"].iter().map(|m| ours(m, "notify")).collect(),
            12,
            8,
        ),
        graph(
            "Fan-out time (ms)",
            "p99",
            vec![
                with(ours("FanoutMs", "notify"), json!({ "stat": "p50", "label": "fan-out p50" })),
                with(ours("FanoutMs", "notify"), json!({ "stat": "p99", "label": "fan-out p99" })),
                with(ours("DeliveryMs", "notify"), json!({ "stat": "p99", "label": "delivery p99" })),
            ],
            0,
            14,
        ),
        graph("Errors and throttles", "Sum", errors, 12, 14),
        graph(
            "Queue",
            "Maximum",
            vec![
                with(
                    json!(["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", s.queue_name()]),
                    json!({ "label": "oldest notice (s)" }),
                ),
                with(
                    json!(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", s.dlq_name()]),
                    json!({ "label": "dead letters" }),
                ),
            ],
            0,
            20,
        ),
        graph("Flood control", "Sum", vec![ours("FloodRefused", "chat"), ours("FloodDisconnected", "chat")], 12, 20),
    ];
    if s.observability.alarms {
        let alarms: Vec<String> = super::alarm_rules::rules(env).iter().map(|(key, _)| env.arns().alarm(key)).collect();
        widgets.push(json!({
            "type": "alarm", "x": 0, "y": 26, "width": 24, "height": 3,
            "properties": { "title": "Alarms", "alarms": alarms },
        }));
    }
    json!({ "widgets": widgets })
}

pub struct Dashboard;

impl Resource for Dashboard {
    type Spec = Spec;
    type Found = Found;

    fn desired(env: &Env, ids: &Ids) -> Vec<Want<Spec>> {
        if !env.stack.observability.dashboard || env.destroying {
            return Vec::new();
        }
        let api_id = ids.api();
        let body = api_id.known().map(|id| body(env, id));
        vec![Want::new(NAME, env.stack.dashboard_name(), Spec { name: env.stack.dashboard_name(), api_id, body })]
    }

    async fn find(reads: &super::Reads<'_>) -> Result<super::FoundSet> {
        let env = reads.env;
        let name = env.stack.dashboard_name();
        let doing = || format!("reading CloudWatch dashboard `{name}`");
        let Some(read) = reads.clients.cloudwatch.get_dashboard().dashboard_name(&name).send().found(doing).await?
        else {
            return Ok(Vec::new().into());
        };
        let body: Value = read.dashboard_body().and_then(|b| serde_json::from_str(b).ok()).unwrap_or(Value::Null);
        let ours = body["widgets"][0]["properties"]["markdown"].as_str().is_some_and(|t| t.contains(&mark(env)));
        if !env.stack.observability.dashboard && !ours {
            return Ok(Vec::new().into());
        }
        Ok(vec![FoundItem::new(NAME, name.clone(), None, super::Found::Dashboard(Found { name, body }))].into())
    }

    fn references(spec: &Spec) -> Vec<Reference> {
        vec![spec.api_id.reference()]
    }

    fn diff(spec: &Spec, found: &Found) -> Vec<FieldChange> {
        match &spec.body {
            Some(body) if json_equal(body, &found.body) => Vec::new(),
            Some(_) => vec![FieldChange::new("widgets", "as found", "as stack.yaml makes them")],
            None => vec![FieldChange::new("widgets", "as found", super::KNOWN_AFTER_APPLY)],
        }
    }

    async fn create(op: &Op<'_>, spec: &Spec) -> Result<String> {
        let api_id = spec.api_id.get()?;
        let body = spec.body.clone().unwrap_or_else(|| body(op.env, api_id));
        let doing = || format!("putting CloudWatch dashboard `{}`", spec.name);
        let put = op
            .clients
            .cloudwatch
            .put_dashboard()
            .dashboard_name(&spec.name)
            .dashboard_body(body.to_string())
            .send()
            .done(doing)
            .await?;
        for message in put.dashboard_validation_messages() {
            tracing::warn!(
                "CloudWatch dashboard `{}`: {} {}",
                spec.name,
                message.data_path().unwrap_or_default(),
                message.message().unwrap_or_default()
            );
        }
        Ok(spec.name.clone())
    }

    async fn update(op: &Op<'_>, spec: &Spec, _found: &Found) -> Result<()> {
        Dashboard::create(op, spec).await.map(drop)
    }

    async fn delete(op: &Op<'_>, found: &Found) -> Result<()> {
        let doing = || format!("deleting CloudWatch dashboard `{}`", found.name);
        op.clients.cloudwatch.delete_dashboards().dashboard_names(&found.name).send().gone(doing).await
    }

    fn describe(found: &Found) -> Option<String> {
        Some(format!("{} widgets", found.body["widgets"].as_array().map_or(0, Vec::len)))
    }
}
