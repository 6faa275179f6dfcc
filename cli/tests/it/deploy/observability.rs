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

/// An alarm e-mail stays pending (SNS waits for the address to confirm, and
/// the proxy, as AWS, lists it `PendingConfirmation` and refuses to
/// unsubscribe it): a redeploy does not subscribe again, a new address is
/// subscribed beside it, and destroy takes both with the topic. The topic
/// was someone else's, with a tag of their own (AWS refuses CreateTopic of
/// its name with other tags): deploy adopts it. An alarm in ALARM stays in
/// ALARM when a deploy changes it (AWS keeps the state; the proxy too).
#[tokio::test]
async fn an_alarm_email_stays_pending_an_alarm_keeps_its_state_and_destroy_takes_the_topic() {
    let cloud = super::Cloud::shared();
    let project = super::Project::new("ob-email");
    let proxied = cloud.through_proxy().await;
    let sns = proxied.sns();
    let team = aws_sdk_sns::types::Tag::builder().key("team").value("ops").build().unwrap();
    let topic = sns.create_topic().name("ob-email-dev-alarms").tags(team).send().await.unwrap();
    let topic = topic.topic_arn().unwrap().to_string();
    project.write_stack(&format!("{}\nobservability:\n  alarm_email: ops@example.com\n", project.stack()));
    let first = super::deploy(&cloud, &project);
    assert!(super::changes(&first).contains(&"create alarm_subscription ops@example.com".to_string()), "{first:#}");
    assert!(super::changes(&first).contains(&"update alarm_topic alarms".to_string()), "adopted: {first:#}");

    let listed = |sns: aws_sdk_sns::Client| {
        let topic = topic.clone();
        async move {
            let subs = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
            let mut subs: Vec<(String, String)> = subs
                .subscriptions()
                .iter()
                .map(|s| (s.endpoint().unwrap().to_string(), s.subscription_arn().unwrap().to_string()))
                .collect();
            subs.sort();
            subs
        }
    };
    assert_eq!(listed(sns.clone()).await, [("ops@example.com".to_string(), "PendingConfirmation".to_string())]);
    let tags = sns.list_tags_for_resource().resource_arn(&topic).send().await.unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&("wschat:stack", "ob-email")), "{tags:?}");
    let status = json(&cloud, &project, &["status"]);
    let row = status["resources"].as_array().unwrap().iter().find(|r| r["kind"] == "alarm_subscription").unwrap();
    assert_eq!(row["state"], "ok", "{row:#}");
    assert!(row["detail"].as_str().unwrap().contains("pending"), "{row:#}");

    let again = super::deploy(&cloud, &project);
    assert_eq!(super::mutating(&again), 0, "the pending subscription is found by its address: {again:#}");

    // The fan-out alarm fires; a new threshold keeps it firing.
    let cloudwatch = proxied.cloudwatch();
    cloudwatch
        .set_alarm_state()
        .alarm_name("ob-email-dev-fanout-p99")
        .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
        .state_reason("Threshold Crossed")
        .send()
        .await
        .unwrap();
    project.write_stack(
        &project
            .stack()
            .replace("alarm_email: ops@example.com", "alarm_email: oncall@example.com\n  fanout_p99_ms: 5000"),
    );
    let changed = super::deploy(&cloud, &project);
    assert_eq!(
        super::changes(&changed),
        ["create alarm_subscription oncall@example.com", "update alarm fanout-p99"],
        "the old address, pending, is left to expire: {changed:#}"
    );
    let read = cloudwatch.describe_alarms().alarm_names("ob-email-dev-fanout-p99").send().await.unwrap();
    let alarm = &read.metric_alarms()[0];
    assert_eq!(alarm.threshold(), Some(5000.0));
    assert_eq!(alarm.state_value(), Some(&aws_sdk_cloudwatch::types::StateValue::Alarm), "{alarm:?}");
    let firing = json(&cloud, &project, &["status", "--metrics"]);
    assert_eq!(firing["alarms"][0]["name"], "ob-email-dev-fanout-p99", "{firing:#}");
    assert_eq!(listed(sns.clone()).await.len(), 2);

    json(&cloud, &project, &["destroy", "--yes"]);
    let aws = super::sdk(&cloud).await;
    let inv = super::Inventory::read(&aws, "ob-email", "dev").await;
    assert!(inv.is_empty(), "left behind: {inv:#?}");
    let all = aws.sns().list_subscriptions().send().await.unwrap();
    assert!(all.subscriptions().iter().all(|s| s.topic_arn() != Some(topic.as_str())), "{all:?}");
}

/// A poison notice (one that fails every try) reaches the dead-letter queue,
/// and the `dead-letters` alarm, as deployed, fires on it within 5 minutes.
/// The test stands in for what moto does not do: SQS publishing the queue's
/// depth every minute, and CloudWatch evaluating the alarm's definition
/// (CloudWatch User Guide, "Evaluating an alarm": ALARM when
/// `DatapointsToAlarm` of the last `EvaluationPeriods` periods breach).
#[tokio::test]
async fn a_poison_notice_reaches_the_dead_letter_queue_and_its_alarm_fires_within_five_minutes() {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, Statistic};

    let (_cloud, _project, aws, inventory) = deployed("ob-poison").await;
    let sqs = aws.sqs();
    let url = |name: &'static str| {
        let sqs = sqs.clone();
        async move { sqs.get_queue_url().queue_name(name).send().await.unwrap().queue_url.unwrap() }
    };
    let (queue, dlq) = (url("ob-poison-dev-notifications").await, url("ob-poison-dev-notifications-dlq").await);
    // The test plays notify: moto would hand the notice to a Lambda it
    // cannot run (and drop it), so the mapping is off.
    let uuid = inventory.mappings["notify"][0]["uuid"].as_str().unwrap().to_string();
    aws.lambda().update_event_source_mapping().uuid(uuid).enabled(false).send().await.unwrap();
    sqs.send_message().queue_url(&queue).message_body("{\"poison\":true}").send().await.unwrap();
    // notify fails every try: the notice comes back after each, until SQS
    // moves it, past the redrive policy's maxReceiveCount.
    let redrive = test_support::aws::queue_attributes(&sqs, &queue).await["RedrivePolicy"].clone();
    let redrive: Value = serde_json::from_str(&redrive).unwrap();
    let tries = redrive["maxReceiveCount"].as_u64().unwrap();
    for _ in 0..=tries {
        sqs.receive_message().queue_url(&queue).visibility_timeout(0).send().await.unwrap();
    }
    let depth = test_support::aws::queue_attributes(&sqs, &dlq).await["ApproximateNumberOfMessages"].clone();
    assert_eq!(depth, "1", "the poison notice is in the dead-letter queue");

    // SQS's minute-by-minute depth: nothing for five minutes, then the notice.
    let cloudwatch = aws.cloudwatch();
    let read = cloudwatch.describe_alarms().alarm_names("ob-poison-dev-dead-letters").send().await.unwrap();
    let alarm = read.metric_alarms()[0].clone();
    let period = i64::from(alarm.period().unwrap());
    let now = chat_core::now_millis() / 1000 / period * period;
    let arrived = now - 5 * period;
    let dimension = Dimension::builder().name("QueueName").value("ob-poison-dev-notifications-dlq").build();
    for minute in 0..=10 {
        let at = now - 10 * period + minute * period;
        let value = if at >= arrived { depth.parse::<f64>().unwrap() } else { 0.0 };
        let datum = MetricDatum::builder()
            .metric_name(alarm.metric_name().unwrap())
            .dimensions(dimension.clone())
            .timestamp(DateTime::from_secs(at))
            .value(value)
            .build();
        cloudwatch.put_metric_data().namespace(alarm.namespace().unwrap()).metric_data(datum).send().await.unwrap();
    }

    // CloudWatch's evaluation of the alarm as moto holds it, at each minute.
    let statistic = alarm.statistic().unwrap().clone();
    assert_eq!(statistic, Statistic::Maximum);
    let state_at = |end: i64| {
        let (cloudwatch, alarm, dimension, statistic) =
            (cloudwatch.clone(), alarm.clone(), dimension.clone(), statistic.clone());
        async move {
            let periods = i64::from(alarm.evaluation_periods().unwrap());
            let stats = cloudwatch
                .get_metric_statistics()
                .namespace(alarm.namespace().unwrap())
                .metric_name(alarm.metric_name().unwrap())
                .dimensions(dimension)
                .statistics(statistic)
                .period(alarm.period().unwrap())
                .start_time(DateTime::from_secs(end - periods * period))
                .end_time(DateTime::from_secs(end))
                .send()
                .await
                .unwrap();
            let threshold = alarm.threshold().unwrap();
            let breaching = stats.datapoints().iter().filter(|d| d.maximum().unwrap() > threshold).count();
            breaching as i32 >= alarm.datapoints_to_alarm().unwrap_or(alarm.evaluation_periods().unwrap())
        }
    };
    assert!(!state_at(arrived).await, "no alarm before the notice");
    let mut fired = None;
    for minute in 1..=5 {
        if state_at(arrived + minute * period).await {
            fired = Some(minute);
            break;
        }
    }
    let fired = fired.expect("the alarm did not fire within 5 minutes of the notice");
    assert_eq!(fired * period, period, "it fires on the first minute SQS's metric shows the notice");
    assert_eq!(
        alarm.alarm_actions(),
        [format!("arn:aws:sns:{}:{}:ob-poison-dev-alarms", test_support::REGION, test_support::ACCOUNT_ID)]
    );
}
