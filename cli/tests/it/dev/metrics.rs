//! `wschat dev --metrics`: each handler call's metrics on stderr, as the
//! deployed functions write them to their logs for CloudWatch.

use std::time::Duration;

use serde_json::Value;

use super::{Server, alice_and_bob};

/// The embedded-metric-format documents in `log`.
fn documents(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc["_aws"]["CloudWatchMetrics"].is_array())
        .collect()
}

/// The sum of `metric` over `documents` of `function`.
fn sum(documents: &[Value], function: &str, metric: &str) -> f64 {
    documents.iter().filter(|d| d["Function"] == function).filter_map(|d| d[metric].as_f64()).sum()
}

#[tokio::test]
async fn each_handler_call_prints_what_it_counted_and_the_sums_match_the_chat() {
    let server = Server::start(&["--metrics"]);
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob").await;
    alice.send(r#"{"action":"sendmessage","data":"one"}"#).await;
    alice.send(r#"{"action":"sendmessage","data":"two"}"#).await;
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.next().await, "one");
        assert_eq!(client.next().await, "two");
    }
    // The posts of the last notice are counted when its call ends.
    let mut docs = Vec::new();
    for _ in 0..100 {
        docs = documents(&server.log());
        if sum(&docs, "notify", "Posts") >= 7.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sum(&docs, "chat", "ConnectionsOpened"), 2.0, "{docs:#?}");
    assert_eq!(sum(&docs, "chat", "MessagesIn"), 2.0);
    // Two welcomes, bob's join to alice, and two messages to both.
    assert_eq!(sum(&docs, "notify", "Posts"), 7.0, "{docs:#?}");
    for doc in &docs {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "wschat/wschat-dev", "one namespace per stack and stage");
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(doc[name].is_number() || doc[name].is_array(), "{name} is named and has a value: {doc}");
        }
    }
}

#[tokio::test]
async fn without_the_flag_nothing_is_printed() {
    let server = Server::start(&[]);
    let (mut alice, _bob) = alice_and_bob(&server, "username=alice", "username=bob").await;
    alice.send(r#"{"action":"sendmessage","data":"one"}"#).await;
    assert_eq!(alice.next().await, "one");
    assert!(documents(&server.log()).is_empty(), "{}", server.log());
}

/// The `Online` the handlers publish is the presence count, not a guess:
/// after 150 arrivals and 30 departures, a `list` publishes 120, the
/// connections still open.
#[tokio::test]
async fn the_online_count_published_is_the_connections_open() {
    let server = Server::start(&["--metrics"]);
    let mut clients = Vec::new();
    for i in 0..150 {
        clients.push(super::Client::open(&server, &format!("username=u{i}")).await);
    }
    for client in clients.drain(..30) {
        client.close().await;
    }
    let online = |log: &str| {
        documents(log)
            .iter()
            .filter(|d| d["Function"] == "chat")
            .filter_map(|d| match &d["Online"] {
                Value::Array(values) => values.last().and_then(Value::as_f64),
                value => value.as_f64(),
            })
            .next_back()
    };
    let mut last = None;
    for _ in 0..100 {
        clients[0].send(r#"{"action":"list"}"#).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = online(&server.log());
        if last == Some(120.0) {
            break;
        }
    }
    assert_eq!(last, Some(120.0), "the last Online the chat function published");
}
