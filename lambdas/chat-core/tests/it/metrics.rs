//! What the handlers count (`chat_core::metrics`), against what the gateway
//! saw and what the table holds.

use chat_core::metrics::Metric;
use chat_core::notice::{Notice, Target};
use chat_core::protocol::Payload;
use chat_core::{Settings, handle_sqs};
use serde_json::Value;

use crate::support::{Chat, sqs_event};

#[tokio::test(start_paused = true)]
async fn a_broadcast_counts_what_the_gateway_answered() {
    let mut chat = Chat::new();
    chat.settings = Settings { shard_size: 1000, fanout_concurrency: 8, ..Settings::default() };
    let ids = chat.crowd(40, None).await;
    chat.vanish(&ids[0]);
    chat.vanish(&ids[1]);
    chat.gateway.refused.lock().unwrap().insert(ids[2].clone());
    for id in &ids[3..6] {
        chat.gateway.fail_once.lock().unwrap().insert(id.clone());
    }
    let at = chat_core::now_millis() - 250;
    let payload = Payload { compat: "hello".into(), json: r#"{"text":"hello"}"#.into() };
    let body = Notice::new(Target::All, None, payload).at(at).to_body();
    assert!(handle_sqs(chat.ports(), &chat.settings, &sqs_event(&[body]), None).await.batch_item_failures.is_empty());

    let received: usize = chat.counts().values().sum();
    assert_eq!(received, 37, "40, less two gone and one refused");
    let m = &chat.metrics;
    assert_eq!(m.sum(Metric::Posts), received as f64, "a post counted for every frame the gateway delivered");
    assert_eq!(m.sum(Metric::Gone), 2.0);
    assert_eq!(m.sum(Metric::Refused), 1.0);
    assert_eq!(m.sum(Metric::Retried), 3.0, "the three that failed once were tried again in place");
    assert_eq!(chat.posts(), 43, "the gateway saw 40 first tries and 3 tries again");
    let delivery = m.values(Metric::DeliveryMs);
    assert_eq!(delivery.len(), 37, "a latency for every post, up to a hundred");
    assert!(delivery.iter().all(|ms| *ms >= 250.0), "measured from the event: {delivery:?}");
    let fanout = m.values(Metric::FanoutMs);
    assert_eq!(fanout.len(), 1, "one record");
    assert!(fanout[0] >= delivery.iter().copied().fold(0.0, f64::max), "the record ends with its last post");
    assert_eq!(m.sum(Metric::LedgerWrites), 1.0, "37 posts fit one part: only the record's end is written");
}

#[tokio::test]
async fn connections_messages_and_the_online_count_are_counted() {
    let chat = Chat::new();
    chat.join("alice", &[("name", "alice")]).await;
    chat.connect("bob", &[("name", "bob")]).await;
    assert_eq!(chat.metrics.sum(Metric::Online), 2.0, "the count as bob's $connect read it");
    chat.deliver().await;
    chat.send("alice", r#"{"action":"sendmessage","data":"hi"}"#).await;
    chat.send("alice", r#"{"action":"sendmessage","data":"again"}"#).await;
    chat.disconnect("bob").await;
    let m = &chat.metrics;
    assert_eq!(m.sum(Metric::ConnectionsOpened), 2.0);
    assert_eq!(m.sum(Metric::ConnectionsClosed), 1.0);
    assert_eq!(m.sum(Metric::MessagesIn), 2.0);
    assert_eq!(m.sum(Metric::HistoryWrites), 2.0, "both stored: {:?}", chat.messages.len());

    let document = m.take_emf("wschat/test", "chat", 1).expect("something was counted");
    let document: Value = serde_json::from_str(&document).unwrap();
    assert_eq!(document["MessagesIn"], 2.0);
    assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Namespace"], "wschat/test");
}
