//! What the handlers count, written as CloudWatch embedded metric format
//! (EMF): one JSON document per invocation on the function's log, from which
//! CloudWatch Logs extracts the metrics. No AWS call is made for them.
//!
//! The format is CloudWatch's "Specification: Embedded metric format"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//! a root member `_aws` with the `Timestamp` (epoch milliseconds) and
//! `CloudWatchMetrics`, a list of directives each naming a `Namespace`, its
//! `Dimensions` (sets of member names) and its `Metrics` (`Name`, `Unit`);
//! the root holds a member for every dimension and metric named, a metric's
//! value a number or an array of at most 100 numbers; a directive names at
//! most 100 metrics; a document is at most 1 MB. A latency is kept as its
//! values (at most [`MAX_VALUES`] an invocation), so that CloudWatch works
//! out its percentiles.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

/// The most values one metric carries in one document (the specification's
/// limit for an array value).
pub const MAX_VALUES: usize = 100;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// `$connect` accepted.
    ConnectionsOpened,
    /// `$disconnect` handled.
    ConnectionsClosed,
    /// People online, as the presence count read it last (`presence::count`:
    /// at a `$connect` or `$disconnect`, a `list`, and when a broadcast or a
    /// digest is planned).
    Online,
    /// Chat messages received (every action that posts text to others).
    MessagesIn,
    /// Posts API Gateway accepted.
    Posts,
    /// Posts answered 410: the connection was gone.
    Gone,
    /// Posts refused for good (400, 403, 413).
    Refused,
    /// Tries that failed and were tried again, in place or later.
    Retried,
    /// Recipients handed on to another invocation before the deadline.
    HandedOn,
    /// From a notice's event to the last post of one of its records, in
    /// milliseconds.
    FanoutMs,
    /// From a notice's event to one post's answer, in milliseconds.
    DeliveryMs,
    /// Messages written to the history.
    HistoryWrites,
    /// Parts written to the delivery ledger.
    LedgerWrites,
    /// Frames refused by a client's limits.
    FloodRefused,
    /// Connections closed for flooding.
    FloodDisconnected,
}

impl Metric {
    /// Every metric, in the order they are written.
    pub const ALL: [Metric; 15] = [
        Metric::ConnectionsOpened,
        Metric::ConnectionsClosed,
        Metric::Online,
        Metric::MessagesIn,
        Metric::Posts,
        Metric::Gone,
        Metric::Refused,
        Metric::Retried,
        Metric::HandedOn,
        Metric::FanoutMs,
        Metric::DeliveryMs,
        Metric::HistoryWrites,
        Metric::LedgerWrites,
        Metric::FloodRefused,
        Metric::FloodDisconnected,
    ];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ConnectionsOpened => "ConnectionsOpened",
            Metric::ConnectionsClosed => "ConnectionsClosed",
            Metric::Online => "Online",
            Metric::MessagesIn => "MessagesIn",
            Metric::Posts => "Posts",
            Metric::Gone => "Gone",
            Metric::Refused => "Refused",
            Metric::Retried => "Retried",
            Metric::HandedOn => "HandedOn",
            Metric::FanoutMs => "FanoutMs",
            Metric::DeliveryMs => "DeliveryMs",
            Metric::HistoryWrites => "HistoryWrites",
            Metric::LedgerWrites => "LedgerWrites",
            Metric::FloodRefused => "FloodRefused",
            Metric::FloodDisconnected => "FloodDisconnected",
        }
    }

    /// The unit CloudWatch records (its `StandardUnit` names).
    pub fn unit(self) -> &'static str {
        match self {
            Metric::FanoutMs | Metric::DeliveryMs => "Milliseconds",
            _ => "Count",
        }
    }

    /// A value per event, of which CloudWatch works out percentiles; the
    /// others are sums (or, for [`Metric::Online`], the last reading).
    fn sampled(self) -> bool {
        matches!(self, Metric::FanoutMs | Metric::DeliveryMs)
    }
}

/// What one invocation counted.
#[derive(Debug, Default)]
pub struct Metrics {
    recorded: Mutex<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    sums: BTreeMap<Metric, f64>,
    values: BTreeMap<Metric, Values>,
}

/// A sampled metric's values: every one up to [`MAX_VALUES`], then an even
/// spread of them (every second one, then every fourth...), so that a large
/// fan-out's percentiles still come from all of it.
#[derive(Debug, Default)]
struct Values {
    kept: Vec<f64>,
    seen: u64,
    every: u64,
}

impl Values {
    fn push(&mut self, value: f64) {
        self.every = self.every.max(1);
        if self.seen.is_multiple_of(self.every) {
            if self.kept.len() == MAX_VALUES {
                // Keep every second one of those kept, and take half as many from now on.
                let halved: Vec<f64> = self.kept.iter().step_by(2).copied().collect();
                self.kept = halved;
                self.every *= 2;
            }
            if self.seen.is_multiple_of(self.every) {
                self.kept.push(value);
            }
        }
        self.seen += 1;
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn recorded(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `n` to a count.
    pub fn count(&self, metric: Metric, n: u64) {
        if n > 0 {
            *self.recorded().sums.entry(metric).or_default() += n as f64;
        }
    }

    /// Records one value of a sampled metric, or sets a reading
    /// ([`Metric::Online`]).
    pub fn record(&self, metric: Metric, value: f64) {
        let mut recorded = self.recorded();
        if metric.sampled() {
            recorded.values.entry(metric).or_default().push(value);
        } else {
            recorded.sums.insert(metric, value);
        }
    }

    /// A count so far (0 when nothing was counted).
    pub fn sum(&self, metric: Metric) -> f64 {
        self.recorded().sums.get(&metric).copied().unwrap_or_default()
    }

    /// A sampled metric's values kept so far.
    pub fn values(&self, metric: Metric) -> Vec<f64> {
        self.recorded().values.get(&metric).map(|v| v.kept.clone()).unwrap_or_default()
    }

    /// The EMF document for what was counted, in `namespace`, with the
    /// dimension `Function` (the function's role: `chat` or `notify`); none
    /// when nothing was. Taking it empties the counts.
    pub fn take_emf(&self, namespace: &str, function: &str, timestamp_ms: i64) -> Option<String> {
        self.take_emf_of(namespace, function, timestamp_ms, None)
    }

    /// [`Metrics::take_emf`] with the invocation's `requestId` beside the
    /// metrics (a member that is not a metric: CloudWatch Logs Insights finds
    /// the invocation's other lines by it).
    pub fn take_emf_of(
        &self,
        namespace: &str,
        function: &str,
        timestamp_ms: i64,
        request_id: Option<&str>,
    ) -> Option<String> {
        let recorded = std::mem::take(&mut *self.recorded());
        let mut root = Map::new();
        let mut named = Vec::new();
        for metric in Metric::ALL {
            let value = match (recorded.sums.get(&metric), recorded.values.get(&metric)) {
                (Some(sum), _) => json!(sum),
                (None, Some(values)) if !values.kept.is_empty() => json!(values.kept),
                _ => continue,
            };
            root.insert(metric.name().to_string(), value);
            named.push(json!({ "Name": metric.name(), "Unit": metric.unit() }));
        }
        if named.is_empty() {
            return None;
        }
        root.insert("Function".into(), Value::String(function.into()));
        if let Some(id) = request_id {
            root.insert("requestId".into(), Value::String(id.into()));
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{ "Namespace": namespace, "Dimensions": [["Function"]], "Metrics": named }],
            }),
        );
        Some(Value::Object(root).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_names_every_metric_it_holds_and_holds_every_metric_it_names() {
        let metrics = Metrics::new();
        metrics.count(Metric::Posts, 3);
        metrics.count(Metric::Posts, 2);
        metrics.count(Metric::Gone, 0);
        metrics.record(Metric::Online, 42.0);
        metrics.record(Metric::DeliveryMs, 12.5);
        metrics.record(Metric::DeliveryMs, 30.0);
        let doc: Value =
            serde_json::from_str(&metrics.take_emf("wschat/demo-prod", "notify", 1_700_000_000_000).unwrap()).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(directive["Namespace"], "wschat/demo-prod");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(doc["Function"], "notify");
        let names: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Online", "Posts", "DeliveryMs"], "in Metric::ALL's order, and nothing uncounted");
        for name in &names {
            assert!(doc.get(*name).is_some(), "{name} is named and so must be at the root");
        }
        assert_eq!((doc["Posts"].as_f64(), doc["Online"].as_f64()), (Some(5.0), Some(42.0)));
        assert_eq!(doc["DeliveryMs"], json!([12.5, 30.0]));
        assert_eq!(directive["Metrics"][2]["Unit"], "Milliseconds");
        assert!(metrics.take_emf("wschat", "notify", 0).is_none(), "taking it emptied the counts");
    }

    #[test]
    fn a_sampled_metric_keeps_at_most_a_hundred_values_spread_over_all_of_them() {
        let metrics = Metrics::new();
        for i in 0..10_000 {
            metrics.record(Metric::DeliveryMs, f64::from(i));
        }
        let kept = metrics.values(Metric::DeliveryMs);
        assert!(kept.len() <= MAX_VALUES && kept.len() >= MAX_VALUES / 2, "{}", kept.len());
        assert_eq!(kept[0], 0.0);
        assert!(*kept.last().unwrap() > 9_000.0, "the last values are sampled too: {kept:?}");
        let median = kept[kept.len() / 2];
        assert!((4_000.0..6_000.0).contains(&median), "an even spread: median {median}");
    }
}
