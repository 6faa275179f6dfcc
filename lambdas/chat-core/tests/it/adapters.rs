//! The DynamoDB and SQS adapters against a real moto server, checked against
//! what the emulator itself reports.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chat_core::aws::{DynamoLedger, DynamoMessages, DynamoStore, SqsNotifier};
use chat_core::ports::{
    ChatMessage, Connection, ConnectionStore, Format, Ledger, MessageStore, Notifier, PortError, Put, ScanPage, Window,
};

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

/// A new queue named after `label`: an SQS client, its URL, and the
/// notifier that sends to it.
async fn queue_notifier(aws: &Aws, label: &str) -> (aws_sdk_sqs::Client, String, SqsNotifier) {
    let sqs = aws.sqs();
    let url = aws.queue(label).await;
    let notifier = SqsNotifier::new(sqs.clone(), &url);
    (sqs, url, notifier)
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
    let items = aws.items(&table, "shard", "n1#").await;
    let parts: Vec<&str> = items.iter().map(|i| i["part"].as_n().unwrap().as_str()).collect();
    assert_eq!(parts, ["0", "1", "2"]);
    let now = chat_core::now_millis() / 1000;
    for item in &items {
        let expires: i64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        assert!((now + 86_000..=now + 86_500).contains(&expires), "{expires} vs {now}");
    }
}

#[tokio::test]
async fn send_many_delivers_every_message_in_batches_that_fit() {
    let aws = Aws::new().await;
    let (sqs, url, notifier) = queue_notifier(&aws, "many").await;
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

/// The event source mapping's side (`chat_core::aws::{receive_batch,
/// delete_done}`, which dev and the real-process benchmark use): what the
/// function reported failed stays in the queue, the rest is deleted, and a
/// message SQS would not delete is an error, though the call answered 200.
#[tokio::test]
async fn the_mapping_deletes_what_succeeded_and_says_what_sqs_kept() {
    let aws = Aws::new().await;
    let (sqs, url, notifier) = queue_notifier(&aws, "mapping").await;
    for body in ["a", "b", "c"] {
        notifier.send(body.into(), 0).await.unwrap();
    }
    let mut batch = Vec::new();
    while batch.len() < 3 {
        batch.extend(chat_core::aws::receive_batch(&sqs, &url, 10, 1).await.unwrap());
    }
    assert!(batch.iter().all(|m| m.attributes().is_some_and(|a| !a.is_empty())), "with their system attributes");
    let failed_id = batch.iter().find(|m| m.body() == Some("b")).unwrap().message_id().unwrap().to_string();
    let failed = std::collections::HashSet::from([failed_id]);
    chat_core::aws::delete_done(&sqs, &url, &batch, &failed).await.unwrap();
    let attributes = test_support::aws::queue_attributes(&sqs, &url).await;
    let count = |name: &str| attributes.get(name).map(String::as_str);
    assert_eq!(
        (count("ApproximateNumberOfMessages"), count("ApproximateNumberOfMessagesNotVisible")),
        (Some("0"), Some("1"))
    );

    // A receipt handle SQS does not know: 200, with the entry in `Failed`.
    let stale = aws_sdk_sqs::types::Message::builder().message_id("x").receipt_handle("not-a-handle").build();
    let error = chat_core::aws::delete_done(&sqs, &url, &[stale], &Default::default()).await.unwrap_err();
    assert!(error.contains("kept 1 handled messages (ReceiptHandleIsInvalid)") && error.contains(&url), "{error}");
}

#[tokio::test]
async fn the_notifier_enqueues_the_exact_body_with_its_delay() {
    let aws = Aws::new().await;
    let (sqs, url, notifier) = queue_notifier(&aws, "notify").await;
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

fn now_s() -> i64 {
    chat_core::now_millis() / 1000
}

fn message(conversation: &str, at: i64, text: &str, client_id: Option<&str>) -> ChatMessage {
    let now = chat_core::now_millis() / 1000;
    ChatMessage {
        conversation: conversation.into(),
        id: chat_core::history::new_message_id(at),
        action: "send".into(),
        from: "alice".into(),
        sub: None,
        connection_id: "a=".into(),
        text: text.into(),
        timestamp: at,
        client_id: client_id.map(str::to_string),
        expires_at: now + 7 * 86_400,
    }
}

#[tokio::test]
async fn messages_are_stored_with_their_ttl_and_read_back_in_pages() {
    let aws = Aws::new().await;
    let table = aws.messages_table("history").await;
    let store = DynamoMessages::new(aws.dynamodb(), &table);
    let t0 = 1764614400000;
    let mut written = Vec::new();
    for i in 0..7 {
        let m = ChatMessage {
            sub: (i == 0).then(|| "sub-a".into()),
            ..message("everyone", t0 + i, &format!("m{i}"), None)
        };
        assert_eq!(store.put(&m).await.unwrap(), Put::Stored);
        written.push(m);
    }
    store.put(&message("room:0a1b2c3d", t0, "elsewhere", None)).await.unwrap();

    // The raw item, as DynamoDB holds it: every attribute, and the TTL days on.
    let item = aws
        .dynamodb()
        .get_item()
        .table_name(&table)
        .key("conversation", AttributeValue::S("everyone".into()))
        .key("id", AttributeValue::S(written[0].id.clone()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let s = |k: &str| item[k].as_s().unwrap().as_str();
    assert_eq!(
        (s("from"), s("text"), s("action"), s("sub"), s("connectionId")),
        ("alice", "m0", "send", "sub-a", "a=")
    );
    assert_eq!(item["timestamp"].as_n().unwrap(), &t0.to_string());
    let expires: i64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
    let now = chat_core::now_millis() / 1000;
    assert!((now + 7 * 86_400 - 60..=now + 7 * 86_400 + 60).contains(&expires), "{expires} vs {now}");

    let texts = |page: &[ChatMessage]| page.iter().map(|m| m.text.clone()).collect::<Vec<_>>();
    let (latest, more) = store.page("everyone", Window::Latest, 3, now_s()).await.unwrap();
    assert_eq!((texts(&latest), more), (vec!["m4".to_string(), "m5".into(), "m6".into()], true));
    assert_eq!(latest[2], written[6], "read back whole");
    let (before, more) = store.page("everyone", Window::Before(&written[4].id), 3, now_s()).await.unwrap();
    assert_eq!((texts(&before), more), (vec!["m1".to_string(), "m2".into(), "m3".into()], true));
    let (oldest, more) = store.page("everyone", Window::Before(&written[1].id), 3, now_s()).await.unwrap();
    assert_eq!((texts(&oldest), more), (vec!["m0".to_string()], false));
    let (since, more) = store.page("everyone", Window::Since(&written[1].id), 3, now_s()).await.unwrap();
    assert_eq!((texts(&since), more), (vec!["m2".to_string(), "m3".into(), "m4".into()], true));
    let (rest, more) = store.page("everyone", Window::Since(&written[4].id), 3, now_s()).await.unwrap();
    assert_eq!((texts(&rest), more), (vec!["m5".to_string(), "m6".into()], false));
    let (other, _) = store.page("room:0a1b2c3d", Window::Latest, 50, now_s()).await.unwrap();
    assert_eq!(texts(&other), ["elsewhere"]);
}

#[tokio::test]
async fn a_client_id_is_stored_once_per_conversation_in_one_transaction() {
    let aws = Aws::new().await;
    let table = aws.messages_table("dedupe").await;
    let store = DynamoMessages::new(aws.dynamodb(), &table);
    let first = message("everyone", 1764614400000, "once", Some("k1"));
    assert_eq!(store.put(&first).await.unwrap(), Put::Stored);
    let resend = message("everyone", 1764614460000, "once", Some("k1"));
    assert_eq!(store.put(&resend).await.unwrap(), Put::Duplicate { id: first.id.clone(), timestamp: first.timestamp });
    assert_eq!(store.put(&message("room:0a1b2c3d", 1764614460000, "once", Some("k1"))).await.unwrap(), Put::Stored);

    let (page, more) = store.page("everyone", Window::Latest, 50, now_s()).await.unwrap();
    assert_eq!((page, more), (vec![first.clone()], false), "the de-duplication record is no message");
    let (since, _) = store.page("everyone", Window::Since(&first.id), 50, now_s()).await.unwrap();
    assert!(since.is_empty(), "{since:?}");
    // What DynamoDB holds: the message and its record, each with the TTL.
    let items = aws.items(&table, "conversation", "everyone").await;
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_s().unwrap().as_str()).collect();
    assert_eq!(ids, [first.id.as_str(), "dedupe#k1"]);
    let record = &items[1];
    assert_eq!(record["messageId"].as_s().unwrap(), &first.id);
    assert_eq!(record["expiresAt"].as_n().unwrap(), &first.expires_at.to_string());
}

#[tokio::test]
async fn a_client_id_belongs_to_its_sender_and_expired_messages_are_not_history() {
    let aws = Aws::new().await;
    let table = aws.messages_table("scoped").await;
    let store = DynamoMessages::new(aws.dynamodb(), &table);
    let alice = ChatMessage { sub: Some("alice".into()), ..message("everyone", 1764614400000, "mine", Some("k1")) };
    assert_eq!(store.put(&alice).await.unwrap(), Put::Stored);
    // Bob signed in, with Alice's clientId: his own key, his message stored.
    let bob = ChatMessage { sub: Some("bob".into()), ..message("everyone", 1764614401000, "his", Some("k1")) };
    assert_eq!(store.put(&bob).await.unwrap(), Put::Stored);
    // Alice reusing her key for other words: refused, nothing written.
    let other = ChatMessage { sub: Some("alice".into()), ..message("everyone", 1764614402000, "other", Some("k1")) };
    assert_eq!(store.put(&other).await.unwrap(), Put::Conflict);
    // Anonymous: the same words again are a resend, other words a conflict.
    let anon = message("everyone", 1764614403000, "hello", Some("k2"));
    assert_eq!(store.put(&anon).await.unwrap(), Put::Stored);
    let resent =
        ChatMessage { connection_id: "reconnected=".into(), ..message("everyone", 1764614404000, "hello", Some("k2")) };
    assert_eq!(store.put(&resent).await.unwrap(), Put::Duplicate { id: anon.id.clone(), timestamp: anon.timestamp });
    assert_eq!(store.put(&message("everyone", 1764614405000, "not hello", Some("k2"))).await.unwrap(), Put::Conflict);
    let (page, _) = store.page("everyone", Window::Latest, 50, now_s()).await.unwrap();
    let texts: Vec<&str> = page.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["mine", "his", "hello"]);

    // A message past its expiry is not history, though the TTL has not removed it,
    // and its de-duplication record no longer holds its key.
    let old = ChatMessage { expires_at: now_s() - 10, ..message("room:0a1b2c3d", 1764614400000, "old", Some("k3")) };
    assert_eq!(store.put(&old).await.unwrap(), Put::Stored);
    let (page, more) = store.page("room:0a1b2c3d", Window::Latest, 50, now_s()).await.unwrap();
    assert_eq!((page.len(), more), (0, false));
    let again = message("room:0a1b2c3d", chat_core::now_millis(), "new words", Some("k3"));
    assert_eq!(store.put(&again).await.unwrap(), Put::Stored, "an expired key is free again");
}

#[tokio::test]
async fn typing_is_marked_at_most_once_per_interval_on_the_row() {
    let aws = Aws::new().await;
    let table = aws.table("typing").await;
    let store = DynamoStore::new(aws.dynamodb(), &table, "expiresAt");
    store.put(&row("a=", "alice", None)).await.unwrap();
    let t0 = 1764614400000;
    let marks = [t0, t0 + 1000, t0 + 2999, t0 + 3000, t0 + 3001, t0 + 6500];
    let mut marked = Vec::new();
    for at in marks {
        marked.push(store.mark_typing("a=", at, 3000).await.unwrap());
    }
    assert_eq!(marked, [true, false, false, true, false, true]);
    let item = aws
        .dynamodb()
        .get_item()
        .table_name(&table)
        .key("connectionId", AttributeValue::S("a=".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["typingAt"].as_n().unwrap(), &(t0 + 6500).to_string());
    assert_eq!(store.get("a=").await.unwrap().unwrap().name, "alice", "the row is otherwise untouched");
    assert!(!store.mark_typing("nobody=", t0, 3000).await.unwrap(), "no row, no mark");
    assert_eq!(store.get("nobody=").await.unwrap(), None, "and no row made");
}

/// The table `wschat deploy` creates (test-support's, with chat-core's index name).
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    test_support::aws::create_connections_table(client, name, chat_core::ROOM_INDEX).await;
}
