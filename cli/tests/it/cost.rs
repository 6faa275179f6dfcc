//! `wschat cost` as a user runs it: the `--json` document, the table, and
//! the errors of bad flags. It makes no AWS call, so it needs no moto.

use serde_json::Value;

use crate::support::{project_with, root, run, wschat};

/// `wschat cost --json ARGS` in `dir`: the document on stdout, whole.
fn cost_json(dir: &std::path::Path, args: &[&str]) -> Value {
    let (out, stderr) =
        run(wschat(dir).env_remove("AWS_REGION").env_remove("AWS_DEFAULT_REGION").args(["cost", "--json"]).args(args));
    assert!(out.status.success(), "wschat cost {args:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("stdout is one JSON document: {e}"))
}

fn line<'a>(doc: &'a Value, service: &str, what: &str) -> Option<&'a Value> {
    doc["lines"].as_array().unwrap().iter().find(|l| l["service"] == service && l["what"] == what)
}

#[test]
fn cost_json_prints_the_lines_their_sources_the_assumptions_and_the_total() {
    let doc = cost_json(&root(), &["--connections", "1000", "--room-size", "20", "--messages-per-user-day", "30"]);
    assert_eq!(doc["stack"], "wschat");
    assert_eq!(doc["region"], "us-east-1", "no region anywhere: us-east-1");
    assert_eq!(doc["prices"], "us-east-1");
    assert_eq!(doc["freeTier"], "not subtracted");
    assert_eq!(doc["usage"]["connections"], 1000.0);
    assert_eq!(doc["usage"]["roomSize"], 20.0);
    assert_eq!(doc["usage"]["hoursOnline"], 24.0, "the default");
    assert_eq!(doc["warnings"], serde_json::json!([]));

    let lines = doc["lines"].as_array().unwrap();
    let services: std::collections::BTreeSet<&str> = lines.iter().map(|l| l["service"].as_str().unwrap()).collect();
    let expected = ["API Gateway", "CloudFront", "CloudWatch", "DynamoDB", "Lambda", "SQS"];
    assert_eq!(services.into_iter().collect::<Vec<_>>(), expected);
    let mut sum = 0.0;
    for l in lines {
        let cost = l["cost"].as_f64().unwrap();
        assert!(cost >= 0.0 && l["quantity"].as_f64().unwrap() >= 0.0, "{l}");
        assert!(l["price"]["source"].as_str().unwrap().starts_with("https://aws.amazon.com/"), "{l}");
        sum += cost;
    }
    let total = doc["total"].as_f64().unwrap();
    assert!((total - sum).abs() < 1e-6, "the total is the lines' sum: {total} vs {sum}");

    // 1,000 people, 30 messages a day each, to 20: 600,000 posts a day.
    let delivered = line(&doc, "API Gateway", "chat messages delivered").unwrap()["quantity"].as_f64().unwrap();
    assert!((delivered - 1000.0 * 30.0 * 20.0 * 730.0 / 24.0).abs() < 1.0, "{delivered}");
    // The shipped stack: x86_64, history on, 16 metrics, 8 alarms, a dashboard.
    assert!(line(&doc, "DynamoDB", "writes: history").is_some());
    assert_eq!(line(&doc, "CloudWatch", "custom metrics").unwrap()["quantity"], 16.0);
    assert_eq!(line(&doc, "CloudWatch", "alarms").unwrap()["cost"], 0.8);
    assert_eq!(line(&doc, "Lambda", "chat: duration").unwrap()["price"]["usd"], 0.0000166667);
    assert!(doc["assumptions"].as_array().unwrap().iter().any(|a| a.as_str().unwrap().contains("free tier")));
}

#[test]
fn cost_reads_memory_architecture_history_and_the_cdn_from_stack_yaml() {
    let dir = project_with(
        "name: lean\n\
         region: eu-west-1\n\
         functions:\n  \
           chat: { crate: lambdas/chat, memory: 512, architecture: arm64 }\n  \
           notify: { crate: lambdas/notify, queue: notifications, architecture: arm64 }\n\
         website: { cdn: false }\n\
         chat: { history: false }\n",
    );
    let doc = cost_json(dir.path(), &["--connections", "500", "--hours-online", "4"]);
    assert_eq!(doc["stack"], "lean");
    assert_eq!(doc["region"], "eu-west-1");
    assert_eq!(doc["prices"], "us-east-1", "the only prices wschat knows");
    let warning = doc["warnings"][0].as_str().unwrap();
    assert!(warning.contains("eu-west-1") && warning.contains("us-east-1"), "{warning}");
    assert!(line(&doc, "DynamoDB", "writes: history").is_none(), "history is off");
    assert!(line(&doc, "CloudFront", "page requests").is_none(), "no CloudFront without the cdn");
    assert_eq!(line(&doc, "CloudWatch", "custom metrics").unwrap()["quantity"], 15.0, "no HistoryWrites");
    assert_eq!(line(&doc, "Lambda", "chat: duration").unwrap()["price"]["usd"], 0.0000133334, "arm64");
    // 500 online 4 hours a day: 3,000 people, 2 connections each.
    assert_eq!(doc["usage"]["people"], 3000.0);
}

#[test]
fn cost_prints_a_table_with_the_total_and_the_assumptions() {
    let (out, stderr) = run(wschat(&root()).env_remove("AWS_REGION").env_remove("AWS_DEFAULT_REGION").args([
        "cost",
        "--connections",
        "100",
    ]));
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("the free tier is not subtracted"), "{text}");
    let total = text.lines().find(|l| l.starts_with("total")).unwrap_or_else(|| panic!("no total: {text}"));
    assert!(total.trim_end().ends_with(|c: char| c.is_ascii_digit()) && total.contains('$'), "{total}");
    assert!(text.contains("Assumptions"), "{text}");
    assert!(text.find("API Gateway").unwrap() < text.find("total").unwrap(), "the total is at the bottom");
}

#[test]
fn cost_refuses_flags_out_of_range_with_exit_2() {
    for (args, says) in [
        (&["cost"][..], "--connections"),
        (&["cost", "--connections", "0"], "out of range"),
        (&["cost", "--connections", "many"], "not a number"),
        (&["cost", "--connections", "10", "--hours-online", "25"], "0.1..=24"),
        (&["cost", "--connections", "10", "--room-size", "11"], "more than --connections"),
        (&["cost", "--connections", "10", "--message-bytes", "40000"], "1..=32768"),
        (&["cost", "--connections", "10", "--measured"], "cannot be used with"),
        (&["cost", "--measured", "--room-size", "10"], "cannot be used with"),
        (&["cost", "--measured", "--days", "30"], "1..=14"),
        (&["cost", "--connections", "10", "--days", "3"], "--measured"),
    ] {
        let (out, stderr) = run(wschat(&root()).args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
