//! Where events go and how they look: text or `--json` lines, each event once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};

use anyhow::Result;
use aws_smithy_types::date_time::{DateTime, Format};
use serde::Serialize;
use serde_json::{Map, Value};

use super::*;

/// One line of `wschat logs --json`: a CloudWatch Logs event as it is, with
/// the function it belongs to. The fields are FilterLogEvents' own names;
/// `eventId` is null for events from Live Tail, which gives them none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLine<'a> {
    pub function: &'a str,
    pub log_group: &'a str,
    pub log_stream: &'a str,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub ingestion_time: Option<i64>,
    pub event_id: Option<&'a str>,
    /// Unchanged, trailing newline and all.
    pub message: &'a str,
}

/// The events shown so far, so that each is shown once when reads overlap:
/// polls that start before the newest event shown, and a Live Tail session
/// beside the reads around it. FilterLogEvents' events are known by their
/// `eventId`. Live Tail's have none, so they are known by log group, stream,
/// timestamp and message: two such events that are identical in all four
/// are shown once. The handlers' lines never are (each carries its own
/// microsecond timestamp), nor Lambda's (each names its request).
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub(super) ids: BTreeSet<(i64, String, String)>,
    /// The prints of the events shown, and whether each came with an id.
    pub(super) prints: BTreeMap<Print, Shown>,
    /// The newest timestamp shown.
    pub(super) newest: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Print {
    pub(super) timestamp: i64,
    pub(super) group: String,
    pub(super) stream: String,
    pub(super) message: String,
}

/// How the events with one print were shown.
#[derive(Debug, Default)]
pub(super) struct Shown {
    pub(super) with_id: bool,
    pub(super) without_id: bool,
}

/// How long [`Seen`] remembers an event, before the newest one shown: longer
/// than any overlap of two reads ([`LOOKBACK_MS`], the seconds between
/// StartLiveTail and the read after it).
pub(super) const REMEMBER_MS: i64 = 60_000;

impl Seen {
    /// The events of `events` not shown before, now remembered as shown.
    pub(super) fn news(&mut self, events: Vec<Event>) -> Vec<Event> {
        let news: Vec<Event> = events.into_iter().filter(|e| self.first_time(e)).collect();
        if let Some(newest) = news.iter().map(|e| e.timestamp).max() {
            self.newest = self.newest.max(newest);
            self.forget_before(self.newest.saturating_sub(REMEMBER_MS));
        }
        news
    }

    pub(super) fn first_time(&mut self, event: &Event) -> bool {
        let print = Print {
            timestamp: event.timestamp,
            group: event.group.clone(),
            stream: event.stream.clone(),
            message: event.message.clone(),
        };
        let shown = self.prints.entry(print).or_default();
        match &event.id {
            // Another of FilterLogEvents' events with the same print is another event.
            Some(id) => {
                let new = self.ids.insert((event.timestamp, event.group.clone(), id.clone())) && !shown.without_id;
                shown.with_id = true;
                new
            }
            None => {
                let new = !shown.with_id && !shown.without_id;
                shown.without_id = true;
                new
            }
        }
    }

    pub(super) fn forget_before(&mut self, floor: i64) {
        self.ids = self.ids.split_off(&(floor, String::new(), String::new()));
        let first = Print { timestamp: floor, group: String::new(), stream: String::new(), message: String::new() };
        self.prints = self.prints.split_off(&first);
    }
}

/// Where events go, and how they look.
pub(super) struct Printer {
    pub(super) json: bool,
    /// ANSI colours for the level.
    pub(super) color: bool,
    /// The longest function name, to align the messages.
    pub(super) width: usize,
}

impl Printer {
    /// Colours only when stdout is a terminal and NO_COLOR is unset (no-color.org).
    pub(super) fn stdout(json: bool, groups: &[Group]) -> Printer {
        let color = !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let width = groups.iter().map(|g| g.function.len()).max().unwrap_or(0);
        Printer { json, color, width }
    }

    pub(super) fn print(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        for event in events {
            writeln!(out, "{}", self.line(event))?;
        }
        Ok(out.flush()?)
    }

    pub(super) fn line(&self, event: &Event) -> String {
        if self.json {
            let line = EventLine {
                function: &event.function,
                log_group: &event.group,
                log_stream: &event.stream,
                timestamp: event.timestamp,
                ingestion_time: event.ingestion_time,
                event_id: event.id.as_deref(),
                message: &event.message,
            };
            return serde_json::to_string(&line).expect("an event serializes");
        }
        let head = format!("{} {:<width$}", time_text(event.timestamp), event.function, width = self.width);
        match Structured::parse(&event.message) {
            Some(s) => {
                let mut line = format!("{head} {}", level_text(&s.level, self.color));
                if !s.message.is_empty() {
                    line.push(' ');
                    line.push_str(&s.message);
                }
                for (key, value) in &s.fields {
                    line.push_str(&format!(" {key}={}", value_text(value)));
                }
                line
            }
            None => format!("{head} {}", event.message.trim_end_matches(['\n', '\r'])),
        }
    }
}

/// A handler's JSON line (tracing-subscriber's JSON format, as chat-core's
/// `init_logging` sets it up: the event's fields flattened beside
/// `timestamp` and `level`, and the current span under `span`).
#[derive(Debug, PartialEq)]
pub(super) struct Structured {
    pub(super) level: String,
    pub(super) message: String,
    /// The event's fields, then its span's (without the span's name), each by key.
    pub(super) fields: Vec<(String, Value)>,
}

impl Structured {
    pub(super) fn parse(line: &str) -> Option<Structured> {
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(line.trim()) else { return None };
        let Some(Value::String(level)) = object.remove("level") else { return Structured::metrics(object) };
        // Without flatten_event, the fields are under `fields`.
        let mut fields = match object.remove("fields") {
            Some(Value::Object(fields)) => fields,
            Some(other) => Map::from_iter([("fields".to_string(), other)]),
            None => Map::new(),
        };
        // The time shown is CloudWatch's; the others are tracing's own.
        for key in ["timestamp", "target", "threadName", "threadId", "filename", "line_number", "spans"] {
            object.remove(key);
        }
        let span = object.remove("span");
        fields.extend(object);
        let message = match fields.remove("message") {
            Some(Value::String(message)) => message,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
        if let Some(Value::Object(span)) = span {
            fields.extend(span.into_iter().filter(|(key, _)| key != "name"));
        }
        Some(Structured { level, message, fields })
    }
}

impl Structured {
    /// A handler's metrics (chat-core's embedded-metric-format line) as
    /// `METRICS name=value...`, a metric with many values as
    /// `"min..max (count)"`; none for other JSON.
    fn metrics(mut object: Map<String, Value>) -> Option<Structured> {
        object.remove("_aws")?.get("CloudWatchMetrics")?.as_array()?;
        object.remove("Function");
        let fields = object
            .into_iter()
            .map(|(name, value)| match value {
                Value::Array(values) => {
                    let numbers: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
                    let (min, max) =
                        numbers.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), n| (lo.min(*n), hi.max(*n)));
                    (name, Value::String(format!("{min}..{max} ({})", numbers.len())))
                }
                value => (name, value),
            })
            .collect();
        Some(Structured { level: "METRICS".into(), message: String::new(), fields })
    }
}

/// A field's value: strings bare unless they need quotes, the rest as JSON.
pub(super) fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') => {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// The level, five wide, coloured as tracing-subscriber colours it on a terminal.
pub(super) fn level_text(level: &str, color: bool) -> String {
    let padded = format!("{level:<5}");
    let code = match level.to_ascii_uppercase().as_str() {
        "ERROR" | "FATAL" => "31",
        "WARN" | "WARNING" => "33",
        "INFO" => "32",
        "DEBUG" => "34",
        "TRACE" => "35",
        _ => return padded,
    };
    if color { format!("\x1b[{code}m{padded}\x1b[0m") } else { padded }
}

/// `2025-05-01T12:00:00.123Z`: UTC, to the millisecond (CloudWatch's precision).
pub(super) fn time_text(ms: i64) -> String {
    match DateTime::from_secs(ms.div_euclid(1000)).fmt(Format::DateTime) {
        Ok(seconds) => format!("{}.{:03}Z", seconds.trim_end_matches('Z'), ms.rem_euclid(1000)),
        Err(_) => ms.to_string(),
    }
}
