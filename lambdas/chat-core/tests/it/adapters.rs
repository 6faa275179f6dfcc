//! The DynamoDB and SQS adapters against a real moto server, checked against
//! what the emulator itself reports.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use chat_core::aws::{DynamoStore, SqsNotifier};
use chat_core::ports::{Connection, ConnectionStore, Format, Notifier, PortError};

use crate::support::Aws;

fn row(id: &str, name: &str, room: Option<&str>) -> Connection {
    Connection {
        connection_id: id.into(),
        name: name.into(),
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
    let alice = Connection { format: Format::Json, ..row("a=", "alice", Some("0a1b2c3d")) };
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
    assert_eq!(a.len(), 6, "{a:?}");
    let b = raw("b=").await;
    assert!(!b.contains_key("room"), "no room attribute outside a room: {b:?}");
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
