//! What the stack's alarms watch, and why each one needs a person: at most
//! ten, each with a description that says what it means and what to do.
//!
//! How CloudWatch evaluates one (CloudWatch User Guide, "Using Amazon
//! CloudWatch alarms", "Evaluating an alarm"): every `period` seconds it
//! takes the last `evaluation_periods` values of the statistic, and goes to
//! ALARM when `datapoints_to_alarm` of them breach the threshold ("M out of
//! N"). Periods with no data count as not breaching here
//! (`TreatMissingData: notBreaching`): the handlers' metrics are written
//! only when something happens, so a quiet chat is a healthy one.
//!
//! The metrics: Lambda's `Errors`, `Throttles` and `ClaimedAccountConcurrency`
//! (Lambda Developer Guide, "Types of metrics for Lambda functions" and
//! "Monitoring concurrency"), SQS's `ApproximateNumberOfMessagesVisible` and
//! `ApproximateAgeOfOldestMessage` (SQS Developer Guide, "Available
//! CloudWatch metrics for Amazon SQS"), and the handlers' own (chat-core's
//! `metrics`, docs/guide/metrics.md).

use super::Env;

/// The most alarms a stack has: the budget, $1 a month at $0.10 each.
pub const MAX_ALARMS: usize = 10;

/// Functions that get an errors alarm each; with more, one alarm sums them.
const ERRORS_ALARMS: usize = 4;

/// How many alarms `stack` has (what [`rules`] makes), without an account.
pub fn count(stack: &wschat_stack::Stack) -> usize {
    if !stack.observability.alarms {
        return 0;
    }
    let functions = stack.functions.len();
    6 + if functions <= ERRORS_ALARMS { functions } else { 1 }
}

/// One metric, as CloudWatch names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricName {
    pub namespace: String,
    pub name: String,
    /// Sorted by name.
    pub dimensions: Vec<(String, String)>,
}

impl MetricName {
    fn new(namespace: &str, name: &str, dimensions: &[(&str, &str)]) -> MetricName {
        let mut dimensions: Vec<(String, String)> =
            dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        dimensions.sort();
        MetricName { namespace: namespace.into(), name: name.into(), dimensions }
    }
}

/// What an alarm evaluates.
#[derive(Debug, Clone, PartialEq)]
pub enum Watch {
    /// One metric's statistic (`Sum`, `Maximum`) or percentile (`p99`).
    Metric { metric: MetricName, stat: String },
    /// Metric math: `expression` over `inputs` (id, metric, statistic).
    Math { expression: String, label: String, inputs: Vec<(String, MetricName, String)> },
}

/// An alarm's whole configuration, as PutMetricAlarm takes it and
/// DescribeAlarms gives it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub description: String,
    pub watch: Watch,
    pub period: i32,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub threshold: f64,
    /// `GreaterThanThreshold`...
    pub comparison: String,
    /// `notBreaching`...
    pub treat_missing_data: String,
    /// The topic, notified on ALARM and on OK.
    pub actions: Vec<String>,
}

/// Breaching when `datapoints` of the last `periods` minutes are over `threshold`.
fn over(watch: Watch, threshold: f64, datapoints: i32, periods: i32, topic: &str, description: String) -> Definition {
    Definition {
        description,
        watch,
        period: 60,
        evaluation_periods: periods,
        datapoints_to_alarm: datapoints,
        threshold,
        comparison: "GreaterThanThreshold".into(),
        treat_missing_data: "notBreaching".into(),
        actions: vec![topic.to_string()],
    }
}

/// Metric math: the sum of `metrics`' sums, named `{prefix}0`, `{prefix}1`...
fn summed(prefix: &str, label: &str, metrics: impl IntoIterator<Item = MetricName>) -> Watch {
    let inputs: Vec<(String, MetricName, String)> =
        metrics.into_iter().enumerate().map(|(i, m)| (format!("{prefix}{i}"), m, "Sum".to_string())).collect();
    let expression = inputs.iter().map(|(id, _, _)| id.as_str()).collect::<Vec<_>>().join("+");
    Watch::Math { expression, label: label.into(), inputs }
}

/// The stack's alarms by key (the end of their names), at most [`MAX_ALARMS`].
pub fn rules(env: &Env) -> Vec<(String, Definition)> {
    let s = &env.stack;
    let topic = env.arns().alarm_topic();
    let o = &s.observability;
    let lambda = |name: &str, f: &str| MetricName::new("AWS/Lambda", name, &[("FunctionName", &s.function_name(f))]);
    let sqs = |name: &str, queue: &str| MetricName::new("AWS/SQS", name, &[("QueueName", queue)]);
    let ours = |name: &str| MetricName::new(&s.metrics_namespace(), name, &[("Function", "notify")]);
    let stat = |metric: MetricName, stat: &str| Watch::Metric { metric, stat: stat.into() };
    let mut rules = Vec::new();
    // The queue's consumer, by its stack.yaml name.
    let consumer = s.functions.iter().find(|(_, f)| f.queue.is_some()).map_or("notify", |(name, _)| name.as_str());

    let dlq = s.dlq_name();
    rules.push((
        "dead-letters".to_string(),
        over(
            stat(sqs("ApproximateNumberOfMessagesVisible", &dlq), "Maximum"),
            0.0,
            1,
            1,
            &topic,
            format!(
                "Notices failed every try (queue.max_receive_count) and were moved to the dead-letter queue {dlq}: their \
                 recipients missed messages. Read the error with `wschat logs {consumer} --since 1h`, fix it and deploy, then \
                 move the notices back (SQS console: the queue's \"Start DLQ redrive\", or \
                 `aws sqs start-message-move-task --source-arn {}`).",
                env.arns().dlq()
            ),
        ),
    ));
    let queue = s.queue_name();
    rules.push((
        "queue-age".to_string(),
        over(
            stat(sqs("ApproximateAgeOfOldestMessage", &queue), "Maximum"),
            60.0,
            3,
            3,
            &topic,
            format!(
                "A notice has waited over a minute in {queue} for three minutes: messages arrive late. {consumer} is \
                 failing (see its errors alarm and `wschat logs {consumer}`) or cannot keep up: raise chat.max_concurrency or \
                 chat.post_rate."
            ),
        ),
    ));
    let functions: Vec<&String> = s.functions.keys().collect();
    if functions.len() <= ERRORS_ALARMS {
        for f in &functions {
            rules.push((
                format!("{f}-errors"),
                over(
                    stat(lambda("Errors", f), "Sum"),
                    0.0,
                    3,
                    5,
                    &topic,
                    format!(
                        "The {f} function failed in 3 of the last 5 minutes (an error, a crash or a timeout). \
                         Read why with `wschat logs {f} --since 15m`; a timeout says to raise functions.{f}.timeout."
                    ),
                ),
            ));
        }
    } else {
        rules.push((
            "errors".to_string(),
            over(
                summed("e", "Errors", functions.iter().map(|f| lambda("Errors", f))),
                0.0,
                3,
                5,
                &topic,
                "A function failed in 3 of the last 5 minutes. `wschat status --metrics` says which; \
                 read why with `wschat logs <function> --since 15m`."
                    .to_string(),
            ),
        ));
    }
    rules.push((
        "throttles".to_string(),
        over(
            summed("t", "Throttles", functions.iter().map(|f| lambda("Throttles", f))),
            0.0,
            3,
            5,
            &topic,
            "Lambda refused to run the stack's functions in 3 of the last 5 minutes: the account's concurrency is used \
             up, by this stack or another. People's frames fail and notices wait. Ask AWS for a higher concurrency quota \
             (Service Quotas, \"Concurrent executions\"), or lower chat.max_concurrency."
                .to_string(),
        ),
    ));
    let quota = f64::from(o.concurrency_quota);
    rules.push((
        "concurrency".to_string(),
        over(
            stat(MetricName::new("AWS/Lambda", "ClaimedAccountConcurrency", &[]), "Maximum"),
            (quota * 0.8).round(),
            3,
            3,
            &topic,
            format!(
                "The account's Lambda concurrency has been over 80% of its quota ({}, observability.concurrency_quota) \
                 for three minutes: soon functions will be throttled. Ask AWS for more (Service Quotas, \"Concurrent \
                 executions\") and set observability.concurrency_quota to the new quota.",
                o.concurrency_quota
            ),
        ),
    ));
    let throttle = wschat_stack::Stack::account_throttle(&env.region);
    // Every try a second: the sum over the period, divided by its seconds.
    let mut posts = summed("p", "Posts a second", ["Posts", "Gone", "Refused", "Retried"].map(ours));
    if let Watch::Math { expression, .. } = &mut posts {
        *expression = format!("({expression})/PERIOD(p0)");
    }
    rules.push((
        "posts-throttle".to_string(),
        over(
            posts,
            f64::from(throttle) * 0.8,
            3,
            3,
            &topic,
            format!(
                "Posts to connections (every try, failed ones too) have been over 80% of API Gateway's account throttle \
                 ({throttle} a second in {}) for three minutes. Every WebSocket API of the account shares it; beyond it \
                 posts are refused and broadcasts slow down. Ask AWS for a higher throttle, or lower chat.post_rate.",
                env.region
            ),
        ),
    ));
    rules.push((
        "fanout-p99".to_string(),
        over(
            stat(ours("FanoutMs"), "p99"),
            f64::from(o.fanout_p99_ms),
            3,
            5,
            &topic,
            format!(
                "The slowest 1% of broadcasts took over {} ms from the event to the last post in 3 of the last 5 minutes \
                 (observability.fanout_p99_ms). See docs/guide/scaling.md: raise chat.max_concurrency, chat.post_rate or \
                 chat.fanout_concurrency, or look for failing posts (`wschat status --metrics`).",
                o.fanout_p99_ms
            ),
        ),
    ));
    debug_assert!(rules.len() <= MAX_ALARMS, "{} alarms", rules.len());
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tests::{shipped, shipped_with_sign_in};

    #[test]
    fn at_most_ten_alarms_and_count_says_how_many() {
        let mut many = shipped();
        for extra in ["a", "b", "c"] {
            let chat = many.stack.functions["chat"].clone();
            many.stack.functions.insert(extra.into(), chat);
        }
        for (env, want) in [(shipped(), 8), (shipped_with_sign_in(), 9), (many, 7)] {
            let rules = rules(&env);
            assert_eq!(rules.len(), want);
            assert_eq!(count(&env.stack), want);
            assert!(rules.len() <= MAX_ALARMS);
        }
        let mut off = shipped();
        off.stack.observability.alarms = false;
        assert_eq!(count(&off.stack), 0);
    }
}
