//! `wschat status --metrics`: how the live chat is doing, in numbers.
//!
//! Four reads, at once, whatever the size of the chat:
//! - the presence count (the count buckets the handlers keep,
//!   docs/presence.md): who is online now, exactly, not a metric's last
//!   sample;
//! - one GetMetricData call for every series over the window: the
//!   handlers' metrics (messages, posts, fan-out time), Lambda's errors and
//!   throttles of each function;
//! - the dead-letter queue's depth (GetQueueAttributes);
//! - the stack's alarms in ALARM (DescribeAlarms by their names' prefix).
//!
//! `--watch` reads again every few seconds and redraws, until Ctrl-C.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use chat_core::ports::Presence;
use serde::Serialize;
use wschat_engine::aws::{Aws, AwsContext};
use wschat_stack::Stack;

use crate::cli::{Args, StatusArgs};
use crate::logs::since::Since;

/// How often `--watch` reads again.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// What `status --metrics` prints (and `--json` prints as one document).
#[derive(Debug, Serialize, PartialEq)]
pub struct Numbers {
    pub stack: String,
    pub stage: String,
    /// The window, in seconds, the rates and the percentile are over.
    pub window_seconds: i64,
    /// Open connections now, from the presence count.
    pub online: u64,
    pub messages_per_second: f64,
    pub posts_per_second: f64,
    /// API Gateway's account throttle in the region, which every post shares.
    pub throttle_per_second: i32,
    /// Posts answered 410 (gone), refused for good, and tried again, in the window.
    pub gone: f64,
    pub refused: f64,
    pub retried: f64,
    /// The slowest 1% of broadcasts, event to last post, over the window.
    pub fanout_p99_ms: Option<f64>,
    /// Lambda's errors and throttles in the window, by function.
    pub errors: BTreeMap<String, f64>,
    pub throttles: BTreeMap<String, f64>,
    /// Notices in the dead-letter queue now.
    pub dead_letters: u64,
    /// The stack's alarms in ALARM, with CloudWatch's reason.
    pub alarms: Vec<Firing>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Firing {
    pub name: String,
    pub reason: String,
}

/// One series of a GetMetricData call (here, and `cost --measured`'s).
pub(crate) struct Series {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub dimension: (&'static str, String),
    pub stat: &'static str,
}

impl Series {
    /// The series' query, at one value a `period` seconds.
    pub fn query(&self, period: i32) -> MetricDataQuery {
        let dimension = Dimension::builder().name(self.dimension.0).value(&self.dimension.1).build();
        let metric = Metric::builder().namespace(&self.namespace).metric_name(&self.name).dimensions(dimension).build();
        let stat = MetricStat::builder().metric(metric).period(period).stat(self.stat).build();
        MetricDataQuery::builder().id(&self.id).metric_stat(stat).return_data(true).build()
    }
}

fn series(stack: &Stack) -> Vec<Series> {
    let ns = stack.metrics_namespace();
    let ours = |id: &str, name: &str, function: &str, stat: &'static str| Series {
        id: id.into(),
        namespace: ns.clone(),
        name: name.into(),
        dimension: ("Function", function.into()),
        stat,
    };
    let mut all = vec![
        ours("messages", "MessagesIn", "chat", "Sum"),
        ours("posts", "Posts", "notify", "Sum"),
        ours("gone", "Gone", "notify", "Sum"),
        ours("refused", "Refused", "notify", "Sum"),
        ours("retried", "Retried", "notify", "Sum"),
        ours("fanout", "FanoutMs", "notify", "p99"),
    ];
    for (i, f) in stack.functions.keys().enumerate() {
        for (prefix, name) in [("e", "Errors"), ("t", "Throttles")] {
            all.push(Series {
                id: format!("{prefix}{i}"),
                namespace: "AWS/Lambda".into(),
                name: name.into(),
                dimension: ("FunctionName", stack.function_name(f)),
                stat: "Sum",
            });
        }
    }
    all
}

/// Reads the numbers once.
pub async fn read(aws: &Aws, stack: &Stack, since: Since, region: &str) -> Result<Numbers> {
    let now_ms = chat_core::now_millis();
    let start_ms = since.start(now_ms).min(now_ms - 60_000);
    let window = (now_ms - start_ms) / 1000;
    // One period for the whole window (a multiple of 60 s): one value a series.
    let period = ((window + 59) / 60 * 60) as i32;
    let all = series(stack);
    let queries: Vec<MetricDataQuery> = all.iter().map(|s| s.query(period)).collect();
    let cloudwatch = aws.cloudwatch();
    let data = cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from_millis(start_ms))
        .end_time(DateTime::from_millis(now_ms))
        .send();
    let alarms =
        cloudwatch.describe_alarms().alarm_name_prefix(stack.alarm_name("")).state_value(StateValue::Alarm).send();
    let presence = chat_core::aws::DynamoPresence::new(aws.dynamodb(), stack.presence_table_name());
    let online = presence.count(now_ms);
    let sqs = aws.sqs();
    let dlq = async {
        let url = sqs.get_queue_url().queue_name(stack.dlq_name()).send().await.aws_context(|| {
            format!("finding the dead-letter queue `{}` (has the stack been deployed?)", stack.dlq_name())
        })?;
        let url = url.queue_url.unwrap_or_default();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .aws_context(|| format!("reading the depth of `{}`", stack.dlq_name()))?;
        let depth = attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages));
        Ok::<u64, anyhow::Error>(depth.and_then(|d| d.parse().ok()).unwrap_or(0))
    };
    let (data, alarms, online, dead_letters) = tokio::join!(data, alarms, online, dlq);
    let data = data.aws_context(|| format!("reading the metrics of namespace `{}`", stack.metrics_namespace()))?;
    let alarms = alarms.aws_context(|| "listing the stack's alarms in ALARM".to_string())?;
    let online = online.map_err(|e| anyhow::anyhow!("{e}")).context(format!(
        "reading the presence count in `{}` (has the stack been deployed?)",
        stack.presence_table_name()
    ))?;
    let value = |id: &str| -> Option<f64> {
        let result = data.metric_data_results().iter().find(|r| r.id() == Some(id))?;
        Some(result.values().iter().sum())
    };
    let per_second = |id: &str| value(id).unwrap_or(0.0) / window as f64;
    let by_function = |prefix: &str| -> BTreeMap<String, f64> {
        stack
            .functions
            .keys()
            .enumerate()
            .map(|(i, f)| (f.clone(), value(&format!("{prefix}{i}")).unwrap_or(0.0)))
            .collect()
    };
    Ok(Numbers {
        stack: stack.name.clone(),
        stage: stack.stage.clone(),
        window_seconds: window,
        online,
        messages_per_second: per_second("messages"),
        posts_per_second: per_second("posts"),
        throttle_per_second: Stack::account_throttle(region),
        gone: value("gone").unwrap_or(0.0),
        refused: value("refused").unwrap_or(0.0),
        retried: value("retried").unwrap_or(0.0),
        fanout_p99_ms: data
            .metric_data_results()
            .iter()
            .find(|r| r.id() == Some("fanout"))
            .and_then(|r| r.values().iter().copied().reduce(f64::max)),
        errors: by_function("e"),
        throttles: by_function("t"),
        dead_letters: dead_letters?,
        // Filtered here too: moto answers every alarm of the prefix.
        alarms: alarms
            .metric_alarms()
            .iter()
            .filter(|a| a.state_value() == Some(&StateValue::Alarm))
            .map(|a| Firing {
                name: a.alarm_name().unwrap_or_default().to_string(),
                reason: a.state_reason().unwrap_or_default().to_string(),
            })
            .collect(),
    })
}

/// The numbers for people.
pub fn render(n: &Numbers) -> String {
    let window = match n.window_seconds {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    };
    let total = |m: &BTreeMap<String, f64>| m.values().sum::<f64>();
    let listed = |m: &BTreeMap<String, f64>| {
        let some: Vec<String> = m.iter().filter(|(_, v)| **v > 0.0).map(|(f, v)| format!("{f} {v}")).collect();
        if some.is_empty() { String::new() } else { format!(" ({})", some.join(", ")) }
    };
    let mut out = format!("stack {} stage {}, the last {window}\n", n.stack, n.stage);
    out += &format!("online now        {}\n", n.online);
    out += &format!("messages/s        {:.2}\n", n.messages_per_second);
    out += &format!(
        "posts/s           {:.1} of the account's {} ({:.1}%)\n",
        n.posts_per_second,
        n.throttle_per_second,
        100.0 * n.posts_per_second / f64::from(n.throttle_per_second)
    );
    out += &format!("posts failed      {} gone, {} refused, {} tried again\n", n.gone, n.refused, n.retried);
    out += &format!(
        "fan-out p99       {}\n",
        n.fanout_p99_ms.map_or("no broadcast".to_string(), |ms| format!("{ms:.0} ms"))
    );
    out += &format!("errors            {}{}\n", total(&n.errors), listed(&n.errors));
    out += &format!("throttles         {}{}\n", total(&n.throttles), listed(&n.throttles));
    out += &format!("dead letters      {}\n", n.dead_letters);
    if n.alarms.is_empty() {
        out += "alarms            none in ALARM\n";
    } else {
        out += &format!("alarms            {} in ALARM\n", n.alarms.len());
        for a in &n.alarms {
            out += &format!("  {}: {}\n", a.name, a.reason);
        }
    }
    out
}

/// `wschat status --metrics [--watch] [--since]`.
pub async fn run(args: &Args, status: &StatusArgs) -> Result<()> {
    let stack = wschat_stack::load(&args.file, &args.stage)?;
    let aws = Aws::load(&args.aws.for_stack(&stack)).await?;
    let region = aws.region().to_string();
    let since: Since = status.since.parse().map_err(crate::UsageError)?;
    let clear = status.watch && std::io::stdout().is_terminal() && !args.json;
    loop {
        let numbers = read(&aws, &stack, since, &region).await?;
        let mut out = std::io::stdout().lock();
        if args.json {
            serde_json::to_writer(&mut out, &numbers)?;
            writeln!(out)?;
        } else {
            if clear {
                // Home and clear the screen, then draw.
                write!(out, "\x1b[H\x1b[2J")?;
            }
            write!(out, "{}", render(&numbers))?;
        }
        out.flush()?;
        drop(out);
        if !status.watch {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_read_as_a_person_would_say_them() {
        let n = Numbers {
            stack: "wschat".into(),
            stage: "prod".into(),
            window_seconds: 900,
            online: 1234,
            messages_per_second: 2.5,
            posts_per_second: 900.0,
            throttle_per_second: 10_000,
            gone: 3.0,
            refused: 0.0,
            retried: 12.0,
            fanout_p99_ms: Some(812.4),
            errors: BTreeMap::from([("chat".into(), 0.0), ("notify".into(), 2.0)]),
            throttles: BTreeMap::from([("chat".into(), 0.0), ("notify".into(), 0.0)]),
            dead_letters: 1,
            alarms: vec![Firing { name: "wschat-prod-dead-letters".into(), reason: "Threshold Crossed".into() }],
        };
        let text = render(&n);
        assert!(text.starts_with("stack wschat stage prod, the last 15m\n"), "{text}");
        for line in [
            "online now        1234",
            "posts/s           900.0 of the account's 10000 (9.0%)",
            "fan-out p99       812 ms",
            "errors            2 (notify 2)",
            "dead letters      1",
            "  wschat-prod-dead-letters: Threshold Crossed",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }
}
