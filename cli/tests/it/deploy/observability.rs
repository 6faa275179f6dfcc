//! The alarms, the dashboard and `status --metrics`, against moto.

use chat_core::ports::{Connection, Format, Presence};
use serde_json::{Value, json};

use super::{deployed, json};

/// `status --metrics` reads people online from the presence count, the
/// dead-letter queue's depth, and the stack's alarms in ALARM: each compared
/// with what was put there, in moto, beside it.
#[tokio::test]
async fn status_metrics_counts_who_is_online_the_dead_letters_and_the_alarms_in_alarm() {
    let (cloud, project, aws, _) = deployed("ob-status").await;
    let quiet = json(&cloud, &project, &["status", "--metrics"]);
    assert_eq!(quiet["online"], 0, "{quiet:#}");
    assert_eq!(quiet["dead_letters"], 0, "{quiet:#}");
    assert_eq!(quiet["alarms"], json!([]), "{quiet:#}");
    assert_eq!(quiet["throttle_per_second"], 10_000, "{quiet:#}");
    assert_eq!(quiet["fanout_p99_ms"], Value::Null, "no broadcast yet: {quiet:#}");

    // 137 connections arrive as `$connect` counts them, and 12 leave.
    let presence = chat_core::aws::DynamoPresence::new(aws.dynamodb(), "ob-status-dev-presence");
    let now = chat_core::now_millis();
    let expires = now / 1000 + chat_core::CONNECTION_TTL_SECONDS;
    let connections: Vec<Connection> = (0..137)
        .map(|i| Connection {
            expires_at: expires,
            ..Connection::new(format!("c{i}"), format!("p{i}"), Format::Json, now)
        })
        .collect();
    for c in &connections {
        presence.arrive(c).await.unwrap();
    }
    for c in &connections[..12] {
        presence.depart(c).await.unwrap();
    }
    // A poison notice in the dead-letter queue, and its alarm firing.
    let sqs = aws.sqs();
    let dlq = sqs.get_queue_url().queue_name("ob-status-dev-notifications-dlq").send().await.unwrap();
    sqs.send_message().queue_url(dlq.queue_url().unwrap()).message_body("{}").send().await.unwrap();
    aws.cloudwatch()
        .set_alarm_state()
        .alarm_name("ob-status-dev-dead-letters")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold Crossed: 1 datapoint [1.0] was greater than the threshold (0.0).")
        .send()
        .await
        .unwrap();

    let busy = json(&cloud, &project, &["status", "--metrics", "--since", "1h"]);
    assert_eq!(busy["online"], 125, "{busy:#}");
    assert_eq!(busy["dead_letters"], 1, "{busy:#}");
    assert_eq!(busy["window_seconds"], 3600, "{busy:#}");
    let firing: Vec<&str> = busy["alarms"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(firing, ["ob-status-dev-dead-letters"], "{busy:#}");
    assert_eq!(busy["errors"], json!({ "chat": 0.0, "notify": 0.0 }), "{busy:#}");

    // For people: the same numbers.
    let (out, stderr) = super::run(&cloud, &project, &["status", "--metrics"]);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("online now        125"), "{text}");
    assert!(text.contains("dead letters      1"), "{text}");
    assert!(text.contains("ob-status-dev-dead-letters: Threshold Crossed"), "{text}");
}
