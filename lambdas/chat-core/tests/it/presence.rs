//! Presence at scale (docs/presence.md): joins and leaves that carry the
//! count, digests above `chat.presence`, the count after churn, and the
//! online list in pages that never read the whole table; over memory ports,
//! and the presence table's adapter against moto.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chat_core::aws::DynamoPresence;
use chat_core::memory::{MemoryPresence, MemoryStore};
use chat_core::notice::{Notice, Target};
use chat_core::ports::{
    Change, Connection, ConnectionStore, DigestWindow, Format, Member, PortError, PortResult, Presence, ScanPage,
};
use chat_core::presence::{DIGEST_NAMES, window_at};
use chat_core::{CONNECTION_TTL_SECONDS, Ports, Settings, handle_websocket, now_millis};
use serde_json::{Value, json};

use crate::support::{Aws, Chat, Gateway, Queue, message_event};

/// API Gateway's largest message.
const FRAME_LIMIT: usize = 128 * 1024;

/// A time a few minutes back, at the start of a five-minute span, so that
/// events a few seconds apart share one digest window.
fn base() -> i64 {
    (now_millis() / 300_000 - 1) * 300_000
}

fn row(id: &str, name: &str, connected_at: i64) -> Connection {
    Connection {
        connection_id: id.into(),
        name: name.into(),
        sub: None,
        format: Format::Json,
        room: None,
        connected_at,
        expires_at: connected_at / 1000 + CONNECTION_TTL_SECONDS,
    }
}

fn frames_of_type(frames: &[Value], kind: &str) -> Vec<Value> {
    frames.iter().filter(|f| f["type"] == kind).cloned().collect()
}

#[tokio::test]
async fn joins_and_leaves_carry_who_they_are_and_the_count() {
    let chat = Chat::new();
    let at = base();
    chat.connect_at("a=", &[("username", "alice")], at).await;
    chat.connect_at("b=", &[("username", "bob"), ("format", "json")], at + 1).await;
    chat.deliver().await;
    let bob = chat.received_json("b=");
    assert_eq!(frames_of_type(&bob, "welcome")[0]["count"], 2, "bob's welcome counts alice and bob");
    chat.gateway.inbox.lock().unwrap().clear();

    chat.connect_at("c=", &[("username", "carol")], at + 2).await;
    chat.deliver().await;
    let joined = chat.received_json("b=");
    let joined = &frames_of_type(&joined, "joined")[0];
    assert_eq!(
        (&joined["connectionId"], &joined["name"], &joined["count"]),
        (&json!("c="), &json!("carol"), &json!(3))
    );
    assert_eq!(
        chat.received("a="),
        [r##"{"action":"message","from":"#host","text":"carol joined"}"##],
        "compat: the seed's text"
    );

    chat.disconnect_at("c=", at + 3).await;
    chat.deliver().await;
    let left = chat.received_json("b=");
    assert_eq!(left.len(), 1);
    assert_eq!(
        (&left[0]["type"], &left[0]["connectionId"], &left[0]["count"]),
        (&json!("left"), &json!("c="), &json!(2))
    );

    chat.send_at("a=", r#"{"action":"rename","name":"alicia"}"#, at + 4).await;
    chat.deliver().await;
    let renamed = &chat.received_json("b=")[0];
    assert_eq!(
        (&renamed["type"], &renamed["name"], &renamed["count"]),
        (&json!("renamed"), &json!("alicia"), &json!(2))
    );
}

#[tokio::test]
async fn above_the_threshold_joins_and_leaves_go_out_as_one_digest_per_window() {
    let mut chat = Chat::new();
    chat.settings.presence = 5;
    let at = base();
    let watcher = "w=";
    chat.connect_at(watcher, &[("username", "watcher"), ("format", "json")], at).await;
    for i in 1..5 {
        chat.connect_at(&format!("x{i}="), &[("username", &format!("early{i}"))], at + i).await;
    }
    let queued = chat.take_queue();
    let announced = queued.iter().filter(|(body, _)| body.contains(" joined")).count();
    assert_eq!(announced, 5, "up to the threshold, each join is announced");

    // Twenty more join and three leave, within one window.
    for i in 0..20 {
        chat.connect_at(&format!("y{i:02}="), &[("username", &format!("late{i:02}"))], at + 100 + i).await;
    }
    for i in 0..3 {
        chat.disconnect_at(&format!("y{i:02}="), at + 200 + i).await;
    }
    let queued = chat.take_queue();
    let notices: Vec<Notice> = queued.iter().map(|(body, _)| Notice::from_body(body).unwrap()).collect();
    let triggers: Vec<&Notice> = notices.iter().filter(|n| matches!(n.target, Target::Digest(_))).collect();
    assert_eq!(triggers.len(), 1, "one digest for the window, whatever happens in it");
    assert!(notices.iter().all(|n| !n.payload.compat.contains(" joined") && !n.payload.compat.contains(" left")));
    assert_eq!(notices.len(), 21, "the twenty welcomes and the digest");
    let Target::Digest(window) = triggers[0].target else { unreachable!() };
    assert_eq!(window, window_at(at + 100, 6, chat.settings.post_rate), "the window of the first event above it");
    let delay = queued.iter().find(|(body, _)| body.contains("digest")).unwrap().1;
    assert_eq!(
        i64::from(delay),
        (window.end_ms() + 2000 - (at + 100) + 999) / 1000,
        "due two seconds after the window"
    );

    // Delivered: everyone hears it once, with the count read then.
    for (body, _) in queued {
        chat_core::ports::Notifier::send(&chat.queue, body, 0).await.unwrap();
    }
    chat.drain().await;
    let frames = chat.received_json(watcher);
    let digests = frames_of_type(&frames, "presence");
    assert_eq!(digests.len(), 1, "{frames:?}");
    let digest = &digests[0];
    assert_eq!((&digest["joinedCount"], &digest["leftCount"]), (&json!(20), &json!(3)));
    assert_eq!(digest["count"], 1 + 4 + 20 - 3, "the count is the open connections");
    let joined: Vec<&str> = digest["joined"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(joined, (0..DIGEST_NAMES).map(|i| format!("late{i:02}")).collect::<Vec<_>>(), "the first ten");
    assert_eq!(digest["left"][0], json!({"connectionId": "y00=", "name": "late00"}));
    assert_eq!(digest["text"], "late00, late01 and 18 others joined; late00, late01 and late02 left");
    let compat = chat.received("x1=");
    let compat_digest: Vec<&String> = compat.iter().filter(|f| f.contains("others joined")).collect();
    assert_eq!(
        compat_digest,
        [&json!({"action": "message", "from": "#host", "text": digest["text"]}).to_string()],
        "compat clients get it in the seeds' #host shape"
    );
}

#[tokio::test]
async fn the_count_equals_the_open_connections_after_churn_and_vanished_ones_drop_out_when_their_rows_expire() {
    let chat = Chat::new();
    let now = now_millis();
    // First hour: 100 connect, and 10 of them leave.
    let start = now - CONNECTION_TTL_SECONDS * 1000 - 60_000;
    for i in 0..100 {
        assert_eq!(chat.connect_at(&format!("f{i:03}="), &[], start + i).await.status_code, 200);
    }
    for i in 20..30 {
        chat.disconnect_at(&format!("f{i:03}="), start + 600_000).await;
    }
    // An hour later, 50 more; 10 of them vanish without `$disconnect`, and a
    // broadcast finds them gone.
    let second = start + 3_600_000;
    for i in 0..50 {
        chat.connect_at(&format!("s{i:03}="), &[], second + i).await;
    }
    for i in 0..10 {
        chat.vanish(&format!("s{i:03}="));
    }
    chat.take_queue();
    let later = second + 1_800_000;
    chat.send_at("s049=", r#"{"action":"send","text":"anyone?"}"#, later).await;
    chat.drain().await;
    let count = |at: i64| {
        let chat = &chat;
        async move {
            chat.gateway.inbox.lock().unwrap().remove("s049=");
            chat.send_at("s049=", r#"{"action":"list"}"#, at).await;
            let reply = chat.received("s049=");
            let reply: Vec<&String> = reply.iter().filter(|f| f.starts_with("connections:")).collect();
            let shown = reply[0].trim_start_matches("connections: ").split(' ').count();
            (shown, chat.presence.count(at).await.unwrap() as usize)
        }
    };
    let open = chat.gateway.open.lock().unwrap().len();
    assert_eq!(open, 90 + 40);
    assert_eq!(count(later + 1000).await, (open, open), "the ones a broadcast found gone are counted out");

    // Twenty of the first hour vanish, and no broadcast reaches them.
    for i in 0..20 {
        chat.vanish(&format!("f{i:03}="));
    }
    let open = chat.gateway.open.lock().unwrap().len();
    assert_eq!(count(later + 2000).await.1, open + 20, "until their rows expire, the vanished still count");
    // At the 2-hour limit API Gateway closes the first hour's other connections.
    for i in 30..100 {
        chat.disconnect_at(&format!("f{i:03}="), start + 7_200_000).await;
    }
    let open = chat.gateway.open.lock().unwrap().len();
    assert_eq!(open, 40);
    assert_eq!(
        count(now).await,
        (open, open),
        "the vanished rows expired: counted out without a scan, and left out of the list though the TTL has not removed them"
    );
    assert_eq!(chat.rows().await.len(), 60, "the 20 expired rows are still in the table");
}

/// A connections table that counts the rows its Scan pages return and
/// refuses a whole-table read.
struct CountingStore {
    inner: MemoryStore,
    rows_read: AtomicUsize,
    scans: AtomicUsize,
}

#[async_trait]
impl ConnectionStore for CountingStore {
    async fn put(&self, c: &Connection) -> PortResult<()> {
        self.inner.put(c).await
    }
    async fn get(&self, id: &str) -> PortResult<Option<Connection>> {
        self.inner.get(id).await
    }
    async fn delete(&self, id: &str) -> PortResult<Option<Connection>> {
        self.inner.delete(id).await
    }
    async fn all(&self) -> PortResult<Vec<Connection>> {
        Err(PortError::Failed("a whole-table scan".into()))
    }
    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        self.inner.in_room(room).await
    }
    async fn estimate(&self) -> PortResult<u64> {
        self.inner.estimate().await
    }
    async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
        let out = self.inner.scan_page(page).await?;
        self.rows_read.fetch_add(out.0.len(), Ordering::SeqCst);
        self.scans.fetch_add(1, Ordering::SeqCst);
        Ok(out)
    }
    async fn mark_typing(&self, id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
        self.inner.mark_typing(id, now, every_ms).await
    }
}

/// Asks for the list from `id` (after `cursor`) over `ports`, and returns the frame.
async fn list(ports: Ports<'_>, gateway: &Gateway, id: &str, cursor: Option<&str>) -> String {
    let body = match cursor {
        Some(cursor) => json!({"action": "list", "cursor": cursor}).to_string(),
        None => json!({"action": "list"}).to_string(),
    };
    let mut event = message_event(id, "list", &body);
    event.request_context.request_time_epoch = now_millis();
    let response = handle_websocket(ports, &Settings::default(), &event).await;
    assert_eq!(response.status_code, 200);
    let mut inbox = gateway.inbox.lock().unwrap();
    let frames = inbox.remove(id).unwrap();
    assert_eq!(frames.len(), 1);
    String::from_utf8(frames[0].clone()).unwrap()
}

#[tokio::test]
async fn a_thousand_long_names_get_the_whole_list_in_pages_under_128_kib_read_a_page_at_a_time() {
    let store = CountingStore { inner: MemoryStore::new(), rows_read: AtomicUsize::new(0), scans: AtomicUsize::new(0) };
    let presence = MemoryPresence::new();
    let (queue, gateway) = (Queue::default(), Gateway::default());
    let at = now_millis();
    // 32 four-byte characters: the longest name there is, in bytes.
    let long = |i: usize| format!("{i:04}{}", "𝄞".repeat(28));
    let mut everyone = BTreeSet::new();
    for i in 0..1000 {
        let mut row = row(&format!("L{i:06}="), &long(i), at);
        if i == 0 {
            row.format = Format::Json;
        }
        if i == 1 {
            row.format = Format::Compat;
        }
        store.put(&row).await.unwrap();
        presence.arrive(&row).await.unwrap();
        gateway.open.lock().unwrap().insert(row.connection_id.clone());
        everyone.insert(row.connection_id);
    }
    let ports = Ports { presence: Some(&presence), ..Ports::new(&store, &queue, &gateway) };

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let before = store.rows_read.load(Ordering::SeqCst);
        let frame = list(ports, &gateway, "L000000=", cursor.as_deref()).await;
        pages += 1;
        assert!(frame.len() < FRAME_LIMIT, "page {pages}: {} bytes", frame.len());
        assert!(store.rows_read.load(Ordering::SeqCst) - before <= 200, "a page reads at most 200 rows");
        let page: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(page["count"], 1000);
        seen.extend(
            page["connections"].as_array().unwrap().iter().map(|m| m["connectionId"].as_str().unwrap().to_string()),
        );
        match page["more"].as_str() {
            Some(more) => cursor = Some(more.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1000, "nobody twice");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), everyone, "everyone once");
    assert_eq!(pages, 5, "200 a page");

    // The compat reply holds every id while they fit.
    let frame = list(ports, &gateway, "L000001=", None).await;
    let ids: BTreeSet<String> = frame.trim_start_matches("connections: ").split(' ').map(str::to_string).collect();
    assert_eq!(ids, everyone);
}

#[tokio::test]
async fn a_compat_list_past_the_frame_limit_is_cut_with_how_many_more() {
    let store = CountingStore { inner: MemoryStore::new(), rows_read: AtomicUsize::new(0), scans: AtomicUsize::new(0) };
    let presence = MemoryPresence::new();
    let (queue, gateway) = (Queue::default(), Gateway::default());
    let at = now_millis();
    let n = 10_000;
    for i in 0..n {
        let mut row = row(&format!("Conn{i:010}=="), "x", at);
        row.format = Format::Compat;
        store.put(&row).await.unwrap();
        presence.arrive(&row).await.unwrap();
    }
    gateway.open.lock().unwrap().insert("Conn0000000000==".into());
    let ports = Ports { presence: Some(&presence), ..Ports::new(&store, &queue, &gateway) };
    let frame = list(ports, &gateway, "Conn0000000000==", None).await;
    assert!(frame.len() < FRAME_LIMIT && frame.len() > 100 * 1024, "{} bytes", frame.len());
    let (ids, tail) = frame.split_once(" ... and ").expect("cut");
    let more: usize = tail.strip_suffix(" more").unwrap().parse().unwrap();
    let shown = ids.trim_start_matches("connections: ").split(' ').count();
    assert_eq!(shown + more, n, "shown and the rest make the count");
    assert!(store.rows_read.load(Ordering::SeqCst) < n, "it stopped reading once the frame was full");
}

#[tokio::test]
async fn the_presence_table_in_dynamodb_counts_by_expiry_minute_and_gathers_digests() {
    let aws = Aws::new().await;
    let table = aws.presence_table("presence").await;
    let presence = DynamoPresence::new(aws.dynamodb(), &table);
    let memory = MemoryPresence::new();
    let now = now_millis();
    // Rows that expire over the next three hours, and some that already did.
    let rows: Vec<Connection> =
        (0..40).map(|i| row(&format!("d{i}="), "x", now - 4 * 3_600_000 + i * 600_000)).collect();
    for (i, r) in rows.iter().enumerate() {
        for p in [&presence as &dyn Presence, &memory] {
            p.arrive(r).await.unwrap();
            if i % 4 == 0 {
                p.depart(r).await.unwrap();
            }
        }
    }
    for at in [now, now + 3_600_000, now + 2 * 3_600_000, now + 5 * 3_600_000] {
        let live = rows
            .iter()
            .enumerate()
            .filter(|(i, r)| i % 4 != 0 && r.expires_at >= chat_core::presence::live_from(at))
            .count() as u64;
        assert_eq!(presence.count(at).await.unwrap(), live, "DynamoDB at {at}");
        assert_eq!(memory.count(at).await.unwrap(), live, "memory at {at}");
    }

    let window = DigestWindow { seconds: 5, index: now / 5000 };
    let member = |i: usize| Member { connection_id: format!("j{i}="), name: format!("joiner {i}") };
    let mut firsts = 0;
    for i in 0..12 {
        firsts += usize::from(presence.note(window, Change::Joined, &member(i)).await.unwrap());
    }
    firsts += usize::from(presence.note(window, Change::Left, &member(3)).await.unwrap());
    assert_eq!(firsts, 1, "only the window's first event enqueues its digest");
    let digest = presence.digest(window).await.unwrap();
    assert_eq!((digest.joined_count, digest.left_count), (12, 1));
    assert_eq!(digest.joined, (0..DIGEST_NAMES).map(member).collect::<Vec<_>>());
    assert_eq!(digest.left, [member(3)]);
    assert_eq!(presence.digest(DigestWindow { seconds: 5, index: 1 }).await.unwrap(), Default::default());

    // The items are shaped as docs/presence.md says, with their TTL.
    let item = aws
        .dynamodb()
        .get_item()
        .table_name(&table)
        .key("key", aws_sdk_dynamodb::types::AttributeValue::S("digest#5".into()))
        .key("part", aws_sdk_dynamodb::types::AttributeValue::N(window.index.to_string()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["events"].as_n().unwrap(), "13");
    assert_eq!(item["expiresAt"].as_n().unwrap(), &(window.end_ms() / 1000 + 3600).to_string());
    assert!(item.contains_key("j10") && !item.contains_key("j11"));
}

#[tokio::test]
async fn a_digest_is_spread_over_the_next_window_at_most_a_tenth_of_the_post_rate() {
    let mut chat = Chat::new();
    chat.settings.presence = 5;
    chat.settings.shard_size = 100;
    let at = now_millis();
    for i in 0..2000 {
        let row = row(&format!("q{i:05}="), "someone", at);
        chat.store.put(&row).await.unwrap();
        chat.presence.arrive(&row).await.unwrap();
    }
    chat.connect_at("late=", &[("username", "late")], at).await;
    let trigger: Vec<String> = chat
        .take_queue()
        .into_iter()
        .map(|(body, _)| body)
        .filter(|body| matches!(Notice::from_body(body).unwrap().target, Target::Digest(_)))
        .collect();
    assert_eq!(trigger.len(), 1);
    // The trigger's invocation renders the digest, delivers the first segment,
    // and writes the others to the queue, spaced so the whole goes at 900/s.
    let response =
        chat_core::handle_sqs(chat.ports(), &chat.settings, &crate::support::sqs_event(&trigger), None).await;
    assert!(response.batch_item_failures.is_empty());
    let segments: Vec<(u32, u32)> = chat
        .take_queue()
        .into_iter()
        .filter_map(|(body, delay)| match Notice::from_body(&body).unwrap().target {
            Target::Segment(segment) => Some((segment.index, delay)),
            _ => None,
        })
        .collect();
    assert_eq!(segments.len(), 20, "2,001 rows in segments of 100: {segments:?}");
    let delays: Vec<u32> = segments.iter().map(|(_, delay)| *delay).collect();
    assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
    // Spread over the next window (10 s for 2,001 people): 201 a second, one
    // segment of 100 every half second.
    let Target::Digest(window) = Notice::from_body(&trigger[0]).unwrap().target else { unreachable!() };
    assert_eq!(window.seconds, 10);
    assert_eq!(chat_core::presence::digest_rate(2001, window, 9000), 201);
    assert_eq!(*delays.last().unwrap(), (20.0 * 100.0 / 201.0) as u32, "{delays:?}");
    // A message to everyone is not held back.
    chat.send_at("late=", r#"{"action":"send","text":"hi"}"#, at + 1).await;
    let message = chat.take_queue().remove(0).0;
    let response =
        chat_core::handle_sqs(chat.ports(), &chat.settings, &crate::support::sqs_event(&[message]), None).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(chat.take_queue().iter().all(|(_, delay)| *delay == 0));
}
