//! The DynamoDB and SQS adapters against a real moto server, checked against
//! what the emulator itself reports.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use chat_core::aws::{DynamoLedger, DynamoStore, SqsNotifier};
use chat_core::ports::{Connection, ConnectionStore, Format, Ledger, Notifier, PortError, ScanPage};

use crate::support::Aws;

fn row(id: &str, name: &str, room: Option<&str>) -> Connection {
    Connection {
        connection_id: id.into(),
        name: name.into(),
        sub: None,
        format: Format::Compat,
        room: room.map(str::to_string),
        connected_at: 1732262400000,
        expires_at: 1732273200,
    }
}

#[tokio::test]
async fn rows_are_written_as_protocol_md_says() {
    let aws = Aws::new().await;
    let table = aws.table("rows").await;
    let store = DynamoStore::new(aws.dynamodb(), &table, "ttl");
    let alice =
        Connection { format: Format::Json, sub: Some("sub-alice".into()), ..row("a=", "alice", Some("0a1b2c3d")) };
    store.put(&alice).await.unwrap();
    store.put(&row("b=", "bob", None)).await.unwrap();

    // The raw items, as DynamoDB holds them.
    let raw = |id: &str| {
        let client = aws.dynamodb();
        let table = table.clone();
        let id = id.to_string();
        async move {
            client
                .get_item()
                .table_name(table)
                .key("connectionId", AttributeValue::S(id))
                .send()
                .await
                .unwrap()
                .item
                .unwrap()
        }
    };
    let a = raw("a=").await;
    let s = |k: &str| a[k].as_s().unwrap().clone();
    let n = |k: &str| a[k].as_n().unwrap().clone();
    assert_eq!(
        (s("connectionId"), s("name"), s("format"), s("room")),
        ("a=".into(), "alice".into(), "json".into(), "0a1b2c3d".into())
    );
    assert_eq!((n("connectedAt"), n("ttl")), ("1732262400000".into(), "1732273200".into()));
    assert_eq!(s("sub"), "sub-alice", "a signed-in connection keeps its identity");
    assert_eq!(a.len(), 7, "{a:?}");
    let b = raw("b=").await;
    assert!(!b.contains_key("room"), "no room attribute outside a room: {b:?}");
    assert!(!b.contains_key("sub"), "no sub attribute without a sign-in: {b:?}");
    assert_eq!(b["format"].as_s().unwrap(), "compat");

    assert_eq!(store.get("a=").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.get("nobody=").await.unwrap(), None);
    assert_eq!(store.delete("a=").await.unwrap(), Some(alice), "delete returns the old row");
    assert_eq!(store.delete("a=").await.unwrap(), None);
    assert_eq!(store.get("a=").await.unwrap(), None);
}

#[tokio::test]
async fn scans_and_room_queries_follow_every_page() {
    let aws = Aws::new().await;
    let table = aws.table("pages").await;
    let store = DynamoStore::new(aws.dynamodb(), &table, "expiresAt").with_page_size(4);
    let mut expected = BTreeSet::new();
    for i in 0..23 {
        let id = format!("c{i:02}=");
        let room = (i % 3 == 0).then_some("0a1b2c3d");
        store.put(&row(&id, &format!("user {i}"), room)).await.unwrap();
        expected.insert(id);
    }
    let all: BTreeSet<String> = store.all().await.unwrap().into_iter().map(|c| c.connection_id).collect();
    assert_eq!(all, expected, "23 rows over pages of 4");

    let members = store.in_room("0a1b2c3d").await.unwrap();
    assert_eq!(members.len(), 8, "{members:?}");
    assert!(members.iter().all(|c| c.room.as_deref() == Some("0a1b2c3d")));
    assert!(store.in_room("ffffffff").await.unwrap().is_empty());
}

#[tokio::test]
async fn parallel_scan_segments_cover_the_table_once_and_the_estimate_is_dynamodbs_count() {
    let aws = Aws::new().await;
    let table = aws.table("segments").await;
    let store = DynamoStore::new(aws.dynamodb(), &table, "expiresAt");
    for i in 0..57 {
        store.put(&row(&format!("s{i:02}="), "x", None)).await.unwrap();
    }
    let described = aws.dynamodb().describe_table().table_name(&table).send().await.unwrap();
    let count = described.table().unwrap().item_count().unwrap() as u64;
    assert_eq!(store.estimate().await.unwrap(), count);
    assert_eq!(count, 57);
    let mut seen = Vec::new();
    let mut pages = 0;
    for segment in 0..5 {
        let mut after: Option<String> = None;
        loop {
            let page = ScanPage { segment, of: 5, after: after.as_deref(), limit: 4 };
            let (rows, next) = store.scan_page(page).await.unwrap();
            pages += 1;
            assert!(rows.len() <= 4);
            seen.extend(rows.into_iter().map(|c| c.connection_id));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (57, 57), "every row once across 5 segments");
    assert!(pages >= 57 / 4, "{pages} pages");
}

#[tokio::test]
async fn the_ledger_keeps_parts_and_a_done_marker_in_dynamodb() {
    let aws = Aws::new().await;
    let table = aws.ledger_table("ledger").await;
    let ledger = DynamoLedger::new(aws.dynamodb(), &table);
    assert!(ledger.read("n1#").await.unwrap().delivered.is_empty());
    ledger.record("n1#", 1, &["a=".into(), "b=".into()]).await.unwrap();
    ledger.record("n1#", 2, &["c=".into()]).await.unwrap();
    ledger.record("n2#s1.4", 1, &["z=".into()]).await.unwrap();
    let progress = ledger.read("n1#").await.unwrap();
    assert!(!progress.done);
    assert_eq!(progress.delivered, ["a=", "b=", "c="].into_iter().map(String::from).collect());
    ledger.finish("n1#").await.unwrap();
    assert!(ledger.read("n1#").await.unwrap().done);
    assert_eq!(ledger.read("n2#s1.4").await.unwrap().delivered.len(), 1, "keys are separate");

    // What DynamoDB holds: parts 0 (done), 1 and 2, each with its TTL a day on.
    let items = aws
        .dynamodb()
        .query()
        .table_name(&table)
        .key_condition_expression("shard = :k")
        .expression_attribute_values(":k", AttributeValue::S("n1#".into()))
        .send()
        .await
        .unwrap();
    let parts: Vec<&str> = items.items().iter().map(|i| i["part"].as_n().unwrap().as_str()).collect();
    assert_eq!(parts, ["0", "1", "2"]);
    let now = chat_core::now_millis() / 1000;
    for item in items.items() {
        let expires: i64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        assert!((now + 86_000..=now + 86_500).contains(&expires), "{expires} vs {now}");
    }
}

#[tokio::test]
async fn send_many_delivers_every_message_in_batches_that_fit() {
    let aws = Aws::new().await;
    let sqs = aws.sqs();
    let url = aws.queue("many").await;
    let notifier = SqsNotifier::new(sqs.clone(), &url);
    // 25 messages, three of 100 KB: more than ten a call, and more than
    // 256 KiB for some groups of ten.
    let bodies: Vec<String> =
        (0..25).map(|i| if i % 9 == 0 { format!("{i}:{}", "x".repeat(100_000)) } else { format!("{i}") }).collect();
    notifier.send_many(bodies.iter().map(|b| (b.clone(), 0)).collect()).await.unwrap();
    let mut got = Vec::new();
    let started = Instant::now();
    while got.len() < 25 && started.elapsed() < Duration::from_secs(10) {
        let out = sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
        for m in out.messages() {
            got.push(m.body().unwrap().to_string());
            sqs.delete_message().queue_url(&url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
    got.sort();
    let mut want = bodies.clone();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn rows_written_by_hand_are_read_leniently() {
    let aws = Aws::new().await;
    let table = aws.table("lenient").await;
    let client = aws.dynamodb();
    client.put_item().table_name(&table).item("connectionId", AttributeValue::S("x=".into())).send().await.unwrap();
    let store = DynamoStore::new(client, &table, "expiresAt");
    let x = store.get("x=").await.unwrap().unwrap();
    assert_eq!((x.name.as_str(), x.format, x.room, x.expires_at), ("x=", Format::Compat, None, 0));
}

#[tokio::test]
async fn a_missing_table_is_an_error_naming_it() {
    let aws = Aws::new().await;
    let store = DynamoStore::new(aws.dynamodb(), "no-such-table", "expiresAt");
    let PortError::Failed(message) = store.all().await.unwrap_err() else { panic!("expected Failed") };
    assert!(message.contains("Scan on table `no-such-table`") && message.contains("ResourceNotFound"), "{message}");
}

#[tokio::test]
async fn the_notifier_enqueues_the_exact_body_with_its_delay() {
    let aws = Aws::new().await;
    let sqs = aws.sqs();
    let url = aws.queue("notify").await;
    let notifier = SqsNotifier::new(sqs.clone(), &url);
    let body = r#"{"target":"all","payload":{"compat":"hi ✓","json":"{}"}}"#;
    notifier.send(body.to_string(), 0).await.unwrap();
    let got = sqs.receive_message().queue_url(&url).wait_time_seconds(1).send().await.unwrap();
    let bodies: Vec<&str> = got.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, [body]);

    let sent = Instant::now();
    notifier.send("later".into(), 2).await.unwrap();
    let early = sqs.receive_message().queue_url(&url).send().await.unwrap();
    assert!(early.messages().is_empty(), "a delayed message is not visible at once");
    let mut late = Vec::new();
    while late.is_empty() && sent.elapsed() < Duration::from_secs(10) {
        let got = sqs.receive_message().queue_url(&url).wait_time_seconds(1).send().await.unwrap();
        late.extend(got.messages().iter().filter_map(|m| m.body().map(str::to_string)));
    }
    assert_eq!(late, ["later"]);
    assert!(sent.elapsed() >= Duration::from_millis(1500), "delivered after {:?}", sent.elapsed());
}

#[tokio::test]
async fn a_missing_queue_is_an_error_naming_it() {
    let aws = Aws::new().await;
    let url = format!("{}/123456789012/no-such-queue", aws.endpoint);
    let notifier = SqsNotifier::new(aws.sqs(), &url);
    let PortError::Failed(message) = notifier.send("x".into(), 0).await.unwrap_err() else { panic!("expected Failed") };
    assert!(message.contains(&url), "{message}");
}

/// The table `wschat deploy` creates: `connectionId` hash key, and the
/// `room-index` GSI (hash `room`, range `connectionId`, projection ALL).
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    let attribute = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(chat_core::ROOM_INDEX)
        .key_schema(key("room", KeyType::Hash))
        .key_schema(key("connectionId", KeyType::Range))
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .unwrap();
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("connectionId"))
        .attribute_definitions(attribute("room"))
        .key_schema(key("connectionId", KeyType::Hash))
        .global_secondary_indexes(index)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating table {name}: {e:?}"));
}
