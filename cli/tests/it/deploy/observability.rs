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

/// `plan` says how a change moves the monthly estimate: before, what
/// `wschat cost` prices the deployed stack.yaml at (read back from the
/// deployed functions, alarms and dashboard, not from a copy), after, what
/// it prices the edited one at. A plan with nothing to change says nothing
/// of cost. `cost --measured` prices what the stack's metrics recorded:
/// the data points put in moto, averaged and summed by hand here.
#[tokio::test]
async fn plan_prices_a_change_and_cost_prices_the_measured_usage() {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};

    let (cloud, project, aws, _) = deployed("ob-cost").await;
    let priced = |project: &super::Project| json(&cloud, project, &["cost", "--connections", "1000"])["total"].as_f64();
    let close = |a: &Value, b: Option<f64>| (a.as_f64().unwrap() - b.unwrap()).abs() < 1e-6;
    let was = priced(&project);
    let same = json(&cloud, &project, &["plan"]);
    assert!(close(&same["cost"]["before"], was) && close(&same["cost"]["after"], was), "{:#}", same["cost"]);
    assert_eq!(same["cost"]["services"], json!([]));
    let (out, _) = super::run(&cloud, &project, &["plan"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Monthly estimate"));

    // A bigger chat function, and no alarms or dashboard.
    let edited =
        project.stack().replace("chat:   { crate: lambdas/chat }", "chat:   { crate: lambdas/chat, memory: 1024 }")
            + "observability: false\n";
    project.write_stack(&edited);
    let now = priced(&project);
    let moved = json(&cloud, &project, &["plan"]);
    assert!(close(&moved["cost"]["before"], was) && close(&moved["cost"]["after"], now), "{:#}", moved["cost"]);
    let services: Vec<&str> =
        moved["cost"]["services"].as_array().unwrap().iter().map(|s| s[0].as_str().unwrap()).collect();
    assert_eq!(services, ["Lambda", "CloudWatch"], "{:#}", moved["cost"]);
    let (out, _) = super::run(&cloud, &project, &["plan"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Monthly estimate at 1,000 online") && text.contains("CloudWatch -$"), "{text}");

    // Two days of metrics: the online count each hour, and the day's sums.
    let cloudwatch = aws.cloudwatch();
    let hour = 3600;
    let top = chat_core::now_millis() / 1000 / hour * hour;
    let datum = |name: &str, function: &str, at: i64, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("Function").value(function).build())
            .timestamp(DateTime::from_secs(at))
            .value(value)
            .build()
    };
    let mut data = Vec::new();
    for h in 1..=48 {
        let at = top - h * hour + 600;
        // Two samples an hour, 100 and 200 online at night, 300 and 500 by day.
        let (a, b) = if h % 24 < 12 { (100.0, 200.0) } else { (300.0, 500.0) };
        data.push(datum("Online", "chat", at, a));
        data.push(datum("Online", "chat", at + 60, b));
        data.push(datum("ConnectionsOpened", "chat", at, 25.0));
        data.push(datum("MessagesIn", "chat", at, 400.0));
        data.push(datum("Posts", "notify", at, 400.0 * 1_000.0));
    }
    for chunk in data.chunks(500) {
        cloudwatch
            .put_metric_data()
            .namespace("wschat/ob-cost-dev")
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
    }
    let measured = json(&cloud, &project, &["cost", "--measured", "--days", "2"]);
    let usage = &measured["usage"];
    assert_eq!(usage["measuredDays"], 2.0, "{usage:#}");
    // Hourly averages of 150 and 400, half the hours each.
    assert_eq!(usage["connections"], 275.0, "{usage:#}");
    assert_eq!(usage["connectionsPerDay"], 600.0, "{usage:#}");
    assert_eq!(usage["messagesPerDay"], 9_600.0, "{usage:#}");
    assert_eq!(usage["postsPerDay"], 9_600_000.0, "{usage:#}");
    // Far more posts a message than people online: everyone.
    assert_eq!(usage["roomSize"], Value::Null, "{usage:#}");
    assert!(measured["total"].as_f64().unwrap() > 0.0);

    // A namespace without data is an error that says what to do.
    let (out, stderr) = super::run(&cloud, &project, &["--stage", "prod", "cost", "--measured"]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("no data in the last 7 days") && stderr.contains("--connections"), "{stderr}");
}
