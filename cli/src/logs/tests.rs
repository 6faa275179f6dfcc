use std::time::Duration;

use serde_json::Value;

use super::print::*;
use super::tail::*;
use super::*;

fn event(function: &str, timestamp: i64, id: Option<&str>, message: &str) -> Event {
    Event {
        function: function.into(),
        group: format!("/aws/lambda/t-dev-{function}"),
        stream: "2025/05/01/[$LATEST]abc".into(),
        timestamp,
        ingestion_time: Some(timestamp + 5),
        id: id.map(str::to_string),
        message: message.into(),
    }
}

fn plain() -> Printer {
    Printer { json: false, color: false, width: 6 }
}

#[test]
fn since_takes_durations_and_rfc_3339_times() {
    assert_eq!("30s".parse(), Ok(Since::Ago(Duration::from_secs(30))));
    assert_eq!("10m".parse(), Ok(Since::Ago(Duration::from_secs(600))));
    assert_eq!("2h".parse(), Ok(Since::Ago(Duration::from_secs(7_200))));
    assert_eq!("1d".parse(), Ok(Since::Ago(Duration::from_secs(86_400))));
    assert_eq!("2025-05-01T12:00:00Z".parse(), Ok(Since::At(1_746_100_800_000)));
    assert_eq!("2025-05-01T14:00:00.5+02:00".parse(), Ok(Since::At(1_746_100_800_500)));
    for bad in ["", "m", "10", "10x", "-5m", "1.5h", "ten minutes", "2025-05-01", "99999999999999999999d"] {
        let err = bad.parse::<Since>().unwrap_err();
        assert!(err.contains("neither a duration"), "{bad}: {err}");
    }
    assert_eq!(Since::Ago(Duration::from_secs(600)).start(1_000_000), 400_000);
    assert_eq!(Since::At(5).start(1_000_000), 5);
}

#[test]
fn a_handler_line_shows_time_function_level_message_and_fields() {
    let line = r#"{"timestamp":"2025-05-01T12:00:00.123456Z","level":"INFO","message":"joined room","room":"general","count":3,"who":"Ada Lovelace","span":{"requestId":"r-1","name":"Lambda runtime invoke"}}"#;
    assert_eq!(
        plain().line(&event("chat", 1_746_100_800_123, Some("1"), &format!("{line}\n"))),
        r#"2025-05-01T12:00:00.123Z chat   INFO  joined room count=3 room=general who="Ada Lovelace" requestId=r-1"#
    );
}

#[test]
fn unflattened_fields_and_missing_messages_are_shown_too() {
    let line = r#"{"level":"WARN","fields":{"message":"slow","ms":1200},"target":"chat"}"#;
    assert_eq!(plain().line(&event("notify", 0, None, line)), "1970-01-01T00:00:00.000Z notify WARN  slow ms=1200");
    let line = r#"{"level":"DEBUG","connection":"abc="}"#;
    assert_eq!(
        plain().line(&event("chat", 0, None, line)),
        r#"1970-01-01T00:00:00.000Z chat   DEBUG connection="abc=""#
    );
}

#[test]
fn a_metrics_line_shows_each_metric_and_a_sample_as_its_range() {
    let line = r#"{"DeliveryMs":[120.0,35.0,80.0],"Function":"notify","Posts":3.0,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Function"]],"Metrics":[{"Name":"Posts","Unit":"Count"},{"Name":"DeliveryMs","Unit":"Milliseconds"}],"Namespace":"wschat/demo-dev"}],"Timestamp":1}}"#;
    assert_eq!(
        plain().line(&event("notify", 0, None, line)),
        r#"1970-01-01T00:00:00.000Z notify METRICS DeliveryMs="35..120 (3)" Posts=3.0"#
    );
}

#[test]
fn other_lines_are_shown_as_they_are() {
    let report = "REPORT RequestId: 8f5 Duration: 2.11 ms\tBilled Duration: 3 ms\n";
    assert_eq!(
        plain().line(&event("chat", 1_000, None, report)),
        "1970-01-01T00:00:01.000Z chat   REPORT RequestId: 8f5 Duration: 2.11 ms\tBilled Duration: 3 ms"
    );
    // JSON, but not a handler's line.
    let other = r#"{"time":"x","type":"platform.start"}"#;
    assert_eq!(plain().line(&event("chat", 0, None, other)), format!("1970-01-01T00:00:00.000Z chat   {other}"));
}

#[test]
fn levels_are_coloured_only_when_asked() {
    let line = r#"{"level":"ERROR","message":"boom"}"#;
    let coloured = Printer { json: false, color: true, width: 4 }.line(&event("chat", 0, None, line));
    assert_eq!(coloured, "1970-01-01T00:00:00.000Z chat \x1b[31mERROR\x1b[0m boom");
    assert!(!plain().line(&event("chat", 0, None, line)).contains('\x1b'));
}

#[test]
fn json_lines_carry_the_event_unchanged() {
    let printer = Printer { json: true, color: true, width: 4 };
    let line: Value = serde_json::from_str(&printer.line(&event("chat", 7, Some("42"), "hi\n"))).unwrap();
    assert_eq!(
        line,
        serde_json::json!({
            "function": "chat",
            "logGroup": "/aws/lambda/t-dev-chat",
            "logStream": "2025/05/01/[$LATEST]abc",
            "timestamp": 7,
            "ingestionTime": 12,
            "eventId": "42",
            "message": "hi\n",
        })
    );
}

#[test]
fn overlapping_reads_show_each_event_once() {
    let mut seen = Seen::default();
    // Two of FilterLogEvents' events with the same text: two events.
    let first = vec![event("chat", 10, Some("1"), "a"), event("chat", 10, Some("2"), "a")];
    assert_eq!(seen.news(first.clone()).len(), 2);
    // A poll that starts before the newest event shown.
    let again = vec![first[1].clone(), event("chat", 11, Some("3"), "b")];
    assert_eq!(seen.news(again), vec![event("chat", 11, Some("3"), "b")]);
    // Live Tail's copies (no id) of events shown, and of one not shown yet, twice.
    let live = vec![event("chat", 10, None, "a"), event("chat", 12, None, "c"), event("chat", 12, None, "c")];
    assert_eq!(seen.news(live), vec![event("chat", 12, None, "c")]);
    // ...and FilterLogEvents' copy of that one afterwards.
    assert!(seen.news(vec![event("chat", 12, Some("4"), "c")]).is_empty());
    // Another function's event with the same text is another event.
    assert_eq!(seen.news(vec![event("notify", 12, None, "c")]).len(), 1);
}

#[test]
fn seen_forgets_what_no_read_can_return_again() {
    let mut seen = Seen::default();
    seen.news(vec![event("chat", 1_000, Some("1"), "old")]);
    seen.news(vec![event("chat", 1_000 + REMEMBER_MS + 1, Some("2"), "new")]);
    assert_eq!(seen.ids.len(), 1);
    assert_eq!(seen.prints.len(), 1);
    assert_eq!(seen.newest, 1_000 + REMEMBER_MS + 1);
}

#[test]
fn live_tail_events_are_matched_to_their_group_by_arn_or_name() {
    let groups = vec![Group {
        function: "chat".into(),
        name: "/aws/lambda/t-dev-chat".into(),
        arn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/t-dev-chat".into(),
    }];
    assert!(group_of(&groups, "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/t-dev-chat").is_some());
    assert!(group_of(&groups, "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/t-dev-chat:*").is_some());
    assert!(group_of(&groups, "/aws/lambda/t-dev-chat").is_some());
    assert!(group_of(&groups, "/aws/lambda/t-dev-notify").is_none());
}
