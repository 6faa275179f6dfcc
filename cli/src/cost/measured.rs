//! `wschat cost --measured`: the usage the stack's own metrics recorded over
//! the last days, in one GetMetricData call (pages of it, if CloudWatch
//! pages the answer).

use anyhow::{Result, bail};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::MetricDataQuery;
use chat_core::metrics::Metric;
use wschat_engine::aws::{Aws, AwsContext};
use wschat_stack::Stack;

use super::estimate::Measured;
use crate::status_metrics::Series;

/// Days `--measured` reads without `--days`.
pub const DAYS: u32 = 7;
const HOUR_SECONDS: i64 = 3_600;
const DAY_SECONDS: i64 = 86_400;

/// The series read, each with its period: people online hourly, the rest
/// summed over the whole window.
fn queries(stack: &Stack, chat: &str, notify: &str, days: i64) -> Vec<MetricDataQuery> {
    let whole = (days * DAY_SECONDS) as i32;
    let series = [
        ("online", Metric::Online, chat, "Average", HOUR_SECONDS as i32),
        ("opened", Metric::ConnectionsOpened, chat, "Sum", whole),
        ("messages", Metric::MessagesIn, chat, "Sum", whole),
        ("posts", Metric::Posts, notify, "Sum", whole),
    ];
    series
        .into_iter()
        .map(|(id, metric, function, stat, period)| {
            let series = Series {
                id: id.into(),
                namespace: stack.metrics_namespace(),
                name: metric.name().into(),
                dimension: ("Function", function.into()),
                stat,
            };
            series.query(period)
        })
        .collect()
}

/// What the metrics of the last `days` days say, a day on average.
pub async fn read(aws: &Aws, stack: &Stack, days: u32) -> Result<Measured> {
    let (chat, notify) = super::roles(stack)?;
    let days = i64::from(days);
    // Whole hours, so that each hourly average is over a whole hour.
    let end = chat_core::now_millis() / 1000 / HOUR_SECONDS * HOUR_SECONDS;
    let start = end - days * DAY_SECONDS;
    let cloudwatch = aws.cloudwatch();
    let mut values: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let queries = queries(stack, &chat, &notify, days);
    let mut next: Option<String> = None;
    loop {
        let page = cloudwatch
            .get_metric_data()
            .set_metric_data_queries(Some(queries.clone()))
            .start_time(DateTime::from_secs(start))
            .end_time(DateTime::from_secs(end))
            .set_next_token(next.take())
            .send()
            .await
            .aws_context(|| format!("reading the metrics of namespace `{}`", stack.metrics_namespace()))?;
        for result in page.metric_data_results() {
            values.entry(result.id().unwrap_or_default().to_string()).or_default().extend(result.values());
        }
        match page.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => break,
        }
    }
    let sum = |id: &str| values.get(id).map_or(0.0, |v| v.iter().sum::<f64>());
    let hours = values.get("online").cloned().unwrap_or_default();
    if hours.is_empty() && sum("messages") == 0.0 && sum("opened") == 0.0 {
        bail!(wschat_stack::UsageError(format!(
            "the metrics of namespace `{}` have no data in the last {days} days: has the chat been deployed \
             and used? Price a usage you state instead: `wschat cost --connections N`",
            stack.metrics_namespace()
        )));
    }
    let per_day = |id: &str| sum(id) / days as f64;
    Ok(Measured {
        days: days as f64,
        online: if hours.is_empty() { 0.0 } else { hours.iter().sum::<f64>() / hours.len() as f64 },
        connections_per_day: per_day("opened"),
        messages_per_day: per_day("messages"),
        posts_per_day: per_day("posts"),
    })
}
