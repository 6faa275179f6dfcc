//! The report: costs, numbers for people and the rows of the before/after table.

use super::*;

/// US dollars for what `t` used, plus `pings` (each a ping and a pong) and
/// `minutes` of connections.
pub(super) struct Cost {
    pub(super) api_gateway: f64,
    pub(super) lambda: f64,
    pub(super) dynamodb: f64,
    pub(super) sqs: f64,
}

impl Cost {
    pub(super) fn of(t: &Tally, pings: f64, minutes: f64) -> Cost {
        Cost {
            api_gateway: (t.billed + t.inbound + 2.0 * pings) * 1.0e-6 + minutes * 0.25e-6,
            lambda: (t.chat + t.notify) * 0.2e-6 + (t.chat_gb_s + t.notify_gb_s) * 0.000_016_666_7,
            dynamodb: t.reads_total() * 0.125e-6 + t.writes_total() * 0.625e-6,
            sqs: t.sqs * 0.4e-6,
        }
    }

    pub(super) fn total(&self) -> f64 {
        self.api_gateway + self.lambda + self.dynamodb + self.sqs
    }
}

pub(super) fn sum(tallies: &[&Tally]) -> Tally {
    let mut all = Tally::default();
    for t in tallies {
        all.add(t);
    }
    all
}

/// A number for the table: thousands separated, `digits` decimals.
pub(super) fn num(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "∞".into();
    }
    let text = format!("{:.*}", digits, x.abs());
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

pub(super) fn ratio(before: f64, after: f64) -> String {
    if before == 0.0 {
        "-".into()
    } else if after == 0.0 {
        "∞".into()
    } else {
        let r = before / after;
        format!("{}×", num(r, if r >= 10.0 { 0 } else { 2 }))
    }
}

pub(super) fn percent(posts_per_second: f64) -> String {
    format!("{}%", num(100.0 * posts_per_second / sim::ACCOUNT_RATE, 1))
}

pub(super) fn seconds(s: f64) -> String {
    match s {
        s if s >= 86_400.0 => format!("{} d", num(s / 86_400.0, 1)),
        s if s >= 3_600.0 => format!("{} h", num(s / 3_600.0, 1)),
        s => format!("{} s", num(s, 1)),
    }
}

pub(super) struct Row {
    pub(super) metric: String,
    pub(super) before: String,
    pub(super) after: String,
    pub(super) ratio: String,
}

pub(super) fn row(metric: &str, before: f64, after: f64, digits: usize) -> Row {
    Row { metric: metric.into(), before: num(before, digits), after: num(after, digits), ratio: ratio(before, after) }
}

pub(super) fn text_row(metric: &str, before: String, after: String) -> Row {
    Row { metric: metric.into(), before, after, ratio: String::new() }
}
