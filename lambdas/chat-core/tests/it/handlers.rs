//! Every action, notice and error of docs/protocol.md, over the in-memory store,
//! from real API Gateway event JSON to the frames each client receives.

use std::collections::BTreeSet;

use async_trait::async_trait;
use base64::Engine;
use chat_core::memory::MemoryStore;
use chat_core::ports::{Connection, ConnectionStore, Format, PortError, PortResult, ScanPage};
use chat_core::{Ports, handle_websocket};
use serde_json::{Value, json};

use crate::support::{Chat, Gateway, Queue, disconnect_event, message_event};

const A: &str = "CT0wvdWqoAMCLVg=";
const B: &str = "Bq1xZfWDoAMCJ4Q=";
const C: &str = "C7oMeeJ9oAMCKzw=";

/// alice (compat), bob (json) and carol (compat), welcomed, with empty inboxes.
async fn three() -> Chat {
    let chat = Chat::new();
    chat.join(A, &[("username", "alice")]).await;
    chat.join(B, &[("username", "bob"), ("format", "json")]).await;
    chat.join(C, &[("username", "carol")]).await;
    chat
}

/// What `to` received in the JSON format, and its first frame's `id`,
/// checked to be a message id minted at the chat's fixed clock.
fn received_message(chat: &Chat, to: &str) -> (Vec<Value>, String) {
    let received = chat.received_json(to);
    let id = received[0]["id"].as_str().unwrap_or_default().to_string();
    assert!(chat_core::history::is_message_id(&id) && id.starts_with("1732262405301-"), "{received:?}");
    (received, id)
}

fn err(reason: &str) -> String {
    json!({"message": reason, "type": "err"}).to_string()
}

#[tokio::test]
async fn connect_stores_the_row_and_queues_welcome_and_join_notice() {
    let chat = Chat::new();
    chat.join(B, &[("username", "bob")]).await;

    let response = chat.connect(A, &[("username", "alice")]).await;
    assert_eq!(response.status_code, 200);
    let row = chat.row(A).await.expect("row of alice");
    assert_eq!(
        row,
        Connection {
            connection_id: A.into(),
            name: "alice".into(),
            sub: None,
            format: Format::Compat,
            room: None,
            connected_at: 1732262400000,
            expires_at: 1732262400 + 3 * 3600,
        }
    );
    // Nothing is posted from inside $connect: API Gateway could not deliver it yet.
    assert!(chat.received(A).is_empty());
    assert!(chat.received(B).is_empty());
    let queued = chat.queue.sent.lock().unwrap().clone();
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.iter().all(|(_, delay)| *delay == 1), "both wait welcome_delay: {queued:?}");
    for (body, _) in &queued {
        let notice = chat_core::notice::Notice::from_body(body).unwrap();
        assert_eq!(notice.at, 1732262400012, "dated by the event's requestTimeEpoch: {body}");
        assert_eq!(notice.id.as_ref().map(String::len), Some(32));
    }

    let failures = chat.deliver().await;
    assert!(failures.batch_item_failures.is_empty(), "{failures:?}");
    assert_eq!(chat.received(A), [format!("Welcome! - connected on {A}")]);
    assert_eq!(chat.received(B), [r##"{"action":"message","from":"#host","text":"alice joined"}"##]);
}

#[tokio::test]
async fn the_welcome_delay_comes_from_the_settings() {
    let mut chat = Chat::new();
    chat.settings.welcome_delay = 7;
    chat.connect(A, &[]).await;
    let delays: Vec<u32> = chat.take_queue().into_iter().map(|(_, d)| d).collect();
    assert_eq!(delays, [7, 7]);
}

#[tokio::test]
async fn connect_without_a_username_is_anonymous() {
    let chat = Chat::new();
    for (id, query) in [(A, vec![]), (B, vec![("username", "  ")])] {
        assert_eq!(chat.connect(id, &query).await.status_code, 200);
        let name = chat.row(id).await.unwrap().name;
        let suffix = name.strip_prefix("Anonymous-").unwrap_or_else(|| panic!("{name}"));
        assert!(suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{name}");
    }
}

#[tokio::test]
async fn json_connections_get_envelopes_and_compat_ones_do_not() {
    let chat = Chat::new();
    chat.join(A, &[("username", "alice")]).await;
    chat.connect(B, &[("username", "bob"), ("format", "JSON")]).await;
    assert_eq!(chat.row(B).await.unwrap().format, Format::Json);
    chat.deliver().await;
    let mut to_bob = chat.received_json(B);
    // When the count was read: this machine's clock, after the event.
    let counted_at = to_bob[0].as_object_mut().unwrap().remove("countedAt").unwrap();
    assert!(counted_at.as_f64().unwrap() >= 1732262400012.0, "{counted_at}");
    assert_eq!(
        to_bob,
        [
            json!({
                "type": "welcome",
                "text": format!("Welcome! - connected on {B}"),
                "connectionId": B,
                "name": "bob",
                "timestamp": 1732262400012_i64,
                "count": 2
            }),
            json!({"type": "history", "conversation": "everyone", "messages": [], "more": false})
        ]
    );
    assert_eq!(chat.received(A), [r##"{"action":"message","from":"#host","text":"bob joined"}"##]);
}

#[tokio::test]
async fn bad_connect_parameters_refuse_the_connection_and_store_nothing() {
    let chat = Chat::new();
    let long = "x".repeat(33);
    for (query, reason) in [
        (vec![("username", long.as_str())], "username: name is too long: 33 characters; the limit is 32"),
        (vec![("username", "bo\u{1b}[31mb")], "username: a name cannot contain control characters"),
        (vec![("username", "#host")], "username: names starting with `#` are reserved for the chat itself (#host)"),
        (vec![("format", "xml")], "format: `xml` is not a format; use compat or json"),
    ] {
        let response = chat.connect(A, &query).await;
        assert_eq!(response.status_code, 400, "{query:?}");
        assert_eq!(response.body.as_deref(), Some(reason));
    }
    assert!(chat.rows().await.is_empty());
    assert!(chat.take_queue().is_empty());
}

#[tokio::test]
async fn connect_is_refused_whole_when_the_queue_is_down() {
    let chat = Chat::new();
    *chat.queue.broken.lock().unwrap() = true;
    let response = chat.connect(A, &[("username", "alice")]).await;
    assert_eq!(response.status_code, 500);
    assert_eq!(chat.row(A).await, None, "a refused connection leaves no row");
}

#[tokio::test]
async fn disconnect_deletes_the_row_and_says_who_left() {
    let chat = three().await;
    assert_eq!(chat.disconnect(A).await.status_code, 200);
    assert_eq!(chat.row(A).await, None);
    let failures = chat.deliver().await;
    assert!(failures.batch_item_failures.is_empty());
    assert_eq!(chat.received(C), [r##"{"action":"message","from":"#host","text":"alice left"}"##]);
    let left = &chat.received_json(B)[0];
    assert_eq!(
        (left["type"].as_str(), left["text"].as_str(), left["from"].as_str()),
        (Some("left"), Some("alice left"), Some("#host"))
    );

    // A second $disconnect (or one for a row the TTL removed) is quiet.
    assert_eq!(chat.disconnect(A).await.status_code, 200);
    assert!(chat.take_queue().is_empty());
}

#[tokio::test]
async fn a_leave_right_after_connecting_waits_for_the_join_notice() {
    let chat = three().await;
    chat.take_queue();
    let connected_at = chat.row(A).await.unwrap().connected_at;
    let disconnect_at = |after_ms: i64| {
        let mut event = disconnect_event(A);
        event.request_context.connected_at = connected_at;
        event.request_context.request_time_epoch = connected_at + after_ms;
        event
    };
    // Gone 200 ms after connecting: the join notice is due 800 ms later, so
    // the leave notice waits past it (whole seconds, as SQS counts).
    assert_eq!(chat.handle(&disconnect_at(200)).await.status_code, 200);
    let queued = chat.take_queue();
    assert_eq!(queued.len(), 1);
    assert!(queued[0].0.contains("alice left"), "{queued:?}");
    assert_eq!(queued[0].1, 2, "join notice due in 0.8 s, so 1 s rounded up plus 1 s");

    // Gone after the join notice went out: the leave notice goes at once.
    chat.join(A, &[("username", "alice")]).await;
    chat.take_queue();
    let connected_at = chat.row(A).await.unwrap().connected_at;
    let mut later = disconnect_event(A);
    later.request_context.request_time_epoch = connected_at + 60_000;
    assert_eq!(chat.handle(&later).await.status_code, 200);
    assert_eq!(chat.take_queue()[0].1, 0);

    assert_eq!(chat_core::leave_delay(0, 500, 0), 0, "no welcome delay, no hold");
    assert_eq!(chat_core::leave_delay(0, 0, 900), 900, "never past SQS's 15 minutes");
}

#[tokio::test]
async fn send_reaches_everyone_sender_included_each_in_its_format() {
    let chat = three().await;
    assert_eq!(chat.send(A, r#"{"action":"send","text":"hello"}"#).await.status_code, 200);
    let queued = chat.queue.sent.lock().unwrap().clone();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].1, 0, "messages are not delayed");
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    let compat = r#"{"action":"message","from":"alice","text":"hello"}"#;
    assert_eq!(chat.received(A), [compat]);
    assert_eq!(chat.received(C), [compat]);
    let (received, id) = received_message(&chat, B);
    assert_eq!(
        received,
        [json!({
            "type": "message", "action": "send", "from": "alice", "text": "hello", "room": null,
            "connectionId": A, "timestamp": 1732262405301_i64, "id": id, "conversation": "everyone"
        })]
    );
}

#[tokio::test]
async fn sendmessage_post_and_broadcast_deliver_the_raw_text_to_everyone() {
    for (action, field) in [("sendmessage", "data"), ("post", "data"), ("broadcast", "message")] {
        let chat = three().await;
        let frame = json!({"action": action, field: "hello world"}).to_string();
        assert_eq!(chat.send(C, &frame).await.status_code, 200);
        chat.deliver().await;
        assert_eq!(chat.received(A), ["hello world"], "{action}");
        assert_eq!(chat.received(C), ["hello world"], "{action}: the sender is included");
        let b = &chat.received_json(B)[0];
        assert_eq!(
            (b["action"].as_str(), b["text"].as_str(), b["from"].as_str()),
            (Some(action), Some("hello world"), Some("carol"))
        );
    }
}

#[tokio::test]
async fn list_answers_the_caller_only_with_every_connection() {
    let chat = three().await;
    assert_eq!(chat.send(A, r#"{"action":"list"}"#).await.status_code, 200);
    assert!(chat.take_queue().is_empty(), "a reply needs no queue hop");
    let reply = chat.received(A);
    assert_eq!(reply.len(), 1);
    let ids: BTreeSet<&str> = reply[0].strip_prefix("connections: ").expect(&reply[0]).split(' ').collect();
    assert_eq!(ids, BTreeSet::from([A, B, C]));
    assert!(chat.received(C).is_empty());

    chat.send(B, r#"{"action":"list"}"#).await;
    let list = &chat.received_json(B)[0];
    assert_eq!(list["type"], "list");
    let mut members: Vec<(String, String)> = list["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["connectionId"].as_str().unwrap().into(), m["name"].as_str().unwrap().into()))
        .collect();
    members.sort();
    let mut expected = vec![(A.into(), "alice".into()), (B.into(), "bob".into()), (C.into(), "carol".into())];
    expected.sort();
    assert_eq!(members, expected);
}

#[tokio::test]
async fn chat_reaches_the_target_only() {
    let chat = three().await;
    let frame = json!({"action": "chat", "connection": C, "message": "Yo!"}).to_string();
    assert_eq!(chat.send(A, &frame).await.status_code, 200);
    assert_eq!(chat.received(C), ["Yo!"]);
    assert!(chat.received(A).is_empty());
    assert!(chat.received(B).is_empty());

    let frame = json!({"action": "chat", "connection": B, "message": "psst"}).to_string();
    chat.send(A, &frame).await;
    let (received, id) = received_message(&chat, B);
    assert_eq!(
        received,
        [json!({
            "type": "direct", "action": "chat", "from": "alice", "text": "psst", "connectionId": A,
            "timestamp": 1732262405301_i64, "id": id, "conversation": format!("dm:conn:{B}:conn:{A}")
        })]
    );
}

#[tokio::test]
async fn chat_to_no_one_is_an_error_and_a_gone_target_loses_its_row() {
    let chat = three().await;
    // The go sample's README example, which names no target.
    chat.send(A, r#"{"action":"chat","message":"Yo!"}"#).await;
    assert_eq!(chat.received(A), [err("chat needs a target connection")]);

    chat.send(A, r#"{"action":"chat","connection":"nope=","message":"Yo!"}"#).await;
    assert_eq!(chat.received(A), [err("no connection nope=")]);

    chat.vanish(C);
    chat.send(A, &json!({"action": "chat", "connection": C, "message": "Yo!"}).to_string()).await;
    assert_eq!(chat.received(A), [err(&format!("no connection {C}"))]);
    assert_eq!(chat.row(C).await, None, "the stale target's row is deleted");
    assert!(chat.row(A).await.is_some(), "the sender's row is kept");
    // Its `$disconnect` never came: the others hear it left, from whoever found it gone.
    let queued = chat.take_queue();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let left = chat_core::notice::Notice::from_body(&queued[0].0).unwrap();
    assert_eq!(left.target, chat_core::notice::Target::All);
    assert_eq!(left.payload.compat, r##"{"action":"message","from":"#host","text":"carol left"}"##);
    assert_eq!(serde_json::from_str::<Value>(&left.payload.json).unwrap()["count"], 2, "alice and bob remain");
}

#[tokio::test]
async fn rooms_follow_the_livechat_readme() {
    let chat = three().await;
    chat.send(A, r#"{"action":"createRoom","name":"Alice"}"#).await;
    let reply = chat.received(A);
    let info: Value = serde_json::from_str(&reply[0]).unwrap();
    assert_eq!(info["type"], "info");
    let text = info["message"].as_str().unwrap();
    let code = text.strip_prefix("You are now connected to room ").expect(text).to_string();
    assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{code}");
    assert_eq!(reply[0], format!(r#"{{"message":"You are now connected to room {code}","type":"info"}}"#));
    let row = chat.row(A).await.unwrap();
    assert_eq!((row.name.as_str(), row.room.as_deref()), ("Alice", Some(code.as_str())));

    chat.send(B, &json!({"action": "joinRoom", "name": "Bob", "roomCode": code}).to_string()).await;
    let joined = &chat.received_json(B)[0];
    assert_eq!((joined["type"].as_str(), joined["room"].as_str()), (Some("info"), Some(code.as_str())));
    assert_eq!(joined["text"].as_str(), Some(text));
    assert!(chat.take_queue().is_empty(), "joining tells only the caller");

    chat.send(B, r#"{"action":"sendMessage","message":"hi room"}"#).await;
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    assert_eq!(chat.received(A), [r#"{"message":"hi room","from":"Bob"}"#]);
    assert!(chat.received(B).is_empty(), "the sender is excluded");
    assert!(chat.received(C).is_empty(), "carol is not in the room");

    chat.send(A, r#"{"action":"sendMessage","message":"welcome Bob"}"#).await;
    chat.deliver().await;
    let message = &chat.received_json(B)[0];
    assert_eq!(
        (message["type"].as_str(), message["action"].as_str(), message["room"].as_str(), message["from"].as_str()),
        (Some("message"), Some("sendMessage"), Some(code.as_str()), Some("Alice"))
    );
}

#[tokio::test]
async fn room_errors_are_livechats_texts() {
    let chat = three().await;
    for (frame, reason) in [
        (r#"{"action":"createRoom"}"#, "You need a name on createRoom"),
        (r#"{"action":"joinRoom","roomCode":"0a1b2c3d"}"#, "You need a name on joinRoom"),
        (r#"{"action":"joinRoom","name":"bob"}"#, "You need a roomCode on joinRoom"),
        (r#"{"action":"joinRoom","name":"bob","roomCode":"deadbeef"}"#, "No room with that code exists"),
        (r#"{"action":"joinRoom","name":"bob","roomCode":"XYZ"}"#, "No room with that code exists"),
        (r#"{"action":"sendMessage","message":"hi"}"#, "You need to create or join a room"),
        (r#"{"action":"sendMessage"}"#, "You need to add a message on sendMessage action"),
    ] {
        assert_eq!(chat.send(A, frame).await.status_code, 200);
        assert_eq!(chat.received(A), [err(reason)], "{frame}");
    }
    assert!(chat.take_queue().is_empty());
    assert_eq!(chat.row(A).await.unwrap().room, None);
}

#[tokio::test]
async fn a_room_exists_while_one_member_is_connected() {
    let chat = three().await;
    chat.send(A, r#"{"action":"createRoom","name":"alice"}"#).await;
    let code = chat.row(A).await.unwrap().room.unwrap();
    chat.send(C, &json!({"action": "joinRoom", "name": "carol", "roomCode": code}).to_string()).await;
    chat.disconnect(A).await;
    chat.send(B, &json!({"action": "joinRoom", "name": "bob", "roomCode": code}).to_string()).await;
    assert_eq!(chat.received_json(B)[0]["type"], "info", "carol keeps the room alive");
    chat.disconnect(B).await;
    chat.disconnect(C).await;
    chat.join(A, &[]).await;
    chat.send(A, &json!({"action": "joinRoom", "name": "al", "roomCode": code}).to_string()).await;
    assert_eq!(chat.received(A), [err("No room with that code exists")]);
}

#[tokio::test]
async fn rename_tells_everyone_and_later_messages_carry_the_new_name() {
    let chat = three().await;
    chat.send(A, r#"{"action":"rename","name":"alicia"}"#).await;
    assert_eq!(chat.row(A).await.unwrap().name, "alicia");
    chat.deliver().await;
    let notice = r##"{"action":"message","from":"#host","text":"alice is now alicia"}"##;
    assert_eq!(chat.received(A), [notice]);
    assert_eq!(chat.received(C), [notice]);
    let renamed = &chat.received_json(B)[0];
    assert_eq!((renamed["type"].as_str(), renamed["name"].as_str()), (Some("renamed"), Some("alicia")));

    chat.send(A, r#"{"action":"send","text":"it's me"}"#).await;
    chat.deliver().await;
    assert_eq!(chat.received(C), [r#"{"action":"message","from":"alicia","text":"it's me"}"#]);
}

#[tokio::test]
async fn default_echoes_the_exact_frame_to_the_caller() {
    let chat = three().await;
    for frame in ["hello", r#"{"action":"dance","move":"moonwalk"}"#, "{not json", r#"{"text":"no action"}"#] {
        assert_eq!(chat.send(A, frame).await.status_code, 200);
        assert_eq!(chat.received(A), [frame]);
    }
    assert!(chat.take_queue().is_empty());
    assert!(chat.received(C).is_empty());
    chat.send(B, "hello").await;
    assert_eq!(chat.received_json(B), [json!({"type": "echo", "text": "hello"})]);
}

#[tokio::test]
async fn binary_frames_are_echoed_byte_for_byte() {
    let chat = three().await;
    let bytes = [0xff, 0x00, 0x41, 0xfe];
    let mut event = message_event(A, "$default", &base64::engine::general_purpose::STANDARD.encode(bytes));
    event.is_base64_encoded = true;
    assert_eq!(chat.handle(&event).await.status_code, 200);
    assert_eq!(chat.gateway.inbox.lock().unwrap().get(A), Some(&vec![bytes.to_vec()]));
}

#[tokio::test]
async fn an_action_spelled_with_a_capital_a_lands_on_default_and_still_works() {
    let chat = three().await;
    assert_eq!(crate::support::route_for(&chat.routes, r#"{"Action":"send","text":"hi"}"#), "$default");
    chat.send(A, r#"{"Action":"send","text":"hi"}"#).await;
    chat.deliver().await;
    assert_eq!(chat.received(C), [r#"{"action":"message","from":"alice","text":"hi"}"#]);
    assert_eq!(chat.received(A), [r#"{"action":"message","from":"alice","text":"hi"}"#], "not an echo");
}

#[tokio::test]
async fn actions_without_a_route_in_the_stack_still_work() {
    let chat = Chat::with_routes(&["send"]);
    chat.join(A, &[("username", "alice")]).await;
    assert_eq!(crate::support::route_for(&chat.routes, r#"{"action":"list"}"#), "$default");
    chat.send(A, r#"{"action":"list"}"#).await;
    assert_eq!(chat.received(A), [format!("connections: {A}")]);
    chat.send(A, r#"{"action":"post","data":"hello world"}"#).await;
    chat.deliver().await;
    assert_eq!(chat.received(A), ["hello world"]);
}

#[tokio::test]
async fn bad_input_gets_one_error_frame_and_changes_nothing() {
    let chat = three().await;
    let rows = chat.rows().await;
    let long_text = "x".repeat(4097);
    let long_name = "n".repeat(33);
    for (frame, reason) in [
        (json!({"action": "send", "text": long_text}).to_string(), "text is too long: 4097 bytes; the limit is 4096"),
        (
            json!({"action": "rename", "name": long_name}).to_string(),
            "name is too long: 33 characters; the limit is 32",
        ),
        (json!({"action": "rename", "name": "a\tb"}).to_string(), "a name cannot contain control characters"),
        (
            json!({"action": "createRoom", "name": long_name}).to_string(),
            "name is too long: 33 characters; the limit is 32",
        ),
        (json!({"action": "send", "text": "hi", "to": "bob"}).to_string(), "unknown field `to`: send takes `text`"),
        (
            json!({"action": "broadcast", "message": {"nested": 1}}).to_string(),
            "`message` on broadcast must be a string, not an object",
        ),
        (json!({"action": "send"}).to_string(), "send needs a text"),
        (json!({"action": "sendmessage", "data": ""}).to_string(), "sendmessage needs data"),
        (json!({"action": "post"}).to_string(), "post needs data"),
        (json!({"action": "broadcast"}).to_string(), "broadcast needs a message"),
        (json!({"action": "rename"}).to_string(), "rename needs a name"),
        (json!({"action": "chat", "connection": B}).to_string(), "chat needs a message"),
    ] {
        assert_eq!(chat.send(A, &frame).await.status_code, 200, "{frame}");
        assert_eq!(chat.received(A), [err(reason)], "{frame}");
    }
    assert!(chat.take_queue().is_empty());
    assert_eq!(chat.rows().await, rows);
    assert!(chat.received(B).is_empty() && chat.received(C).is_empty());
    assert_eq!(chat.gateway.open.lock().unwrap().len(), 3, "no connection was dropped");

    chat.send(B, r#"{"action":"send","text":5}"#).await;
    assert_eq!(
        chat.received_json(B),
        [json!({"type": "error", "action": "send", "error": "`text` on send must be a string, not a number"})]
    );
}

#[tokio::test]
async fn a_caller_without_a_row_is_told_to_reconnect() {
    let chat = three().await;
    chat.store.delete(A).await.unwrap();
    chat.send(A, r#"{"action":"send","text":"hi"}"#).await;
    assert_eq!(chat.received(A), [err("this connection is not registered (its row is gone); reconnect to send")]);
    assert!(chat.take_queue().is_empty());
}

#[tokio::test]
async fn fan_out_deletes_exactly_the_gone_connections() {
    let chat = three().await;
    chat.vanish(C);
    chat.send(A, r#"{"action":"send","text":"anyone?"}"#).await;
    let response = chat.deliver().await;
    assert!(response.batch_item_failures.is_empty(), "410 is handled, not retried: {response:?}");
    assert_eq!(chat.row(C).await, None, "the stale row is deleted");
    assert!(chat.row(A).await.is_some(), "the sender's row is kept");
    assert!(chat.row(B).await.is_some(), "the live recipient's row is kept");
    assert_eq!(chat.received(A).len(), 1);
    assert_eq!(chat.received_json(B).len(), 1);
}

#[tokio::test]
async fn a_welcome_to_a_connection_gone_before_delivery_deletes_its_row() {
    let chat = Chat::new();
    chat.join(A, &[]).await;
    chat.connect(B, &[]).await;
    chat.vanish(B);
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    assert_eq!(chat.row(B).await, None);
    assert_eq!(chat.received(A).len(), 1, "the join notice still reached alice");
}

#[tokio::test]
async fn a_connection_too_young_to_post_to_keeps_its_row() {
    // With no welcome delay the welcome can race `$connect`: API Gateway
    // answers 410 for a connection it has not opened yet. That must not cost
    // the new connection its row.
    let mut chat = Chat::new();
    chat.settings.welcome_delay = 0;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut event = crate::support::connect_event(A, &[]);
    event.request_context.connected_at = now;
    event.request_context.request_time_epoch = now;
    assert_eq!(chat.handle(&event).await.status_code, 200);
    // Not yet open in the gateway: the welcome answers 410.
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    assert!(chat.row(A).await.is_some(), "the young connection keeps its row");
}

#[tokio::test]
async fn a_retryable_failure_is_retried_for_that_recipient_and_a_poison_message_is_reported() {
    let chat = three().await;
    chat.gateway.failing.lock().unwrap().insert(C.to_string());
    chat.send(A, r#"{"action":"send","text":"one"}"#).await;
    chat.queue.sent.lock().unwrap().push(("not a notice".into(), 0));
    chat.send(B, r#"{"action":"chat","connection":"x","message":"y"}"#).await; // refused: nothing queued
    let response = chat.deliver().await;
    let ids: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(ids, ["m1"], "only the poison message goes back to SQS");
    assert!(chat.row(C).await.is_some(), "a retryable failure deletes nothing");
    assert_eq!(chat.received(A), [r#"{"action":"message","from":"alice","text":"one"}"#]);
    let queued = chat.take_queue();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].1, 0, "the first retry goes at once: the tries in place were the quick ones");
    let retry = chat_core::notice::Notice::from_body(&queued[0].0).unwrap();
    assert_eq!(retry.attempt, 1);

    // Every later try fails too: after the fifth re-enqueue the frame is
    // dropped, and nothing goes back to SQS.
    let mut body = queued[0].0.clone();
    for attempt in 2..=5 {
        chat.queue.sent.lock().unwrap().push((body.clone(), 0));
        assert!(chat.deliver().await.batch_item_failures.is_empty());
        let queued = chat.take_queue();
        if attempt < 5 {
            assert_eq!(queued.len(), 1, "attempt {attempt}");
            assert_eq!(chat_core::notice::Notice::from_body(&queued[0].0).unwrap().attempt, attempt);
            assert_eq!(queued[0].1, 1 << (attempt - 2), "backoff before attempt {attempt}");
            body = queued[0].0.clone();
        } else {
            assert!(queued.is_empty(), "given up after {attempt} tries: {queued:?}");
        }
    }
    chat.gateway.failing.lock().unwrap().clear();
    assert!(chat.received(C).is_empty());
}

#[tokio::test]
async fn each_recipient_gets_a_batch_in_queue_order() {
    let chat = three().await;
    let texts: Vec<String> = (0..20).map(|i| format!("message {i}")).collect();
    for text in &texts {
        chat.send(A, &json!({"action": "broadcast", "message": text}).to_string()).await;
    }
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    assert_eq!(chat.received(C), texts);
    let b: Vec<String> = chat.received_json(B).iter().map(|f| f["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(b, texts);
}

#[tokio::test]
async fn the_handlers_can_be_spawned() {
    // `wschat dev` runs each invocation on its own task: the futures must be `Send`.
    let chat = std::sync::Arc::new(three().await);
    let spawned = chat.clone();
    let event = message_event(A, "send", r#"{"action":"send","text":"spawned"}"#);
    let response = tokio::spawn(async move { spawned.handle(&event).await }).await.unwrap();
    assert_eq!(response.status_code, 200);
    let spawned = chat.clone();
    let batch = crate::support::sqs_event(&chat.take_queue().into_iter().map(|(body, _)| body).collect::<Vec<_>>());
    let response =
        tokio::spawn(async move { chat_core::handle_sqs(spawned.ports(), &spawned.settings, &batch, None).await })
            .await
            .unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(chat.received(C), [r#"{"action":"message","from":"alice","text":"spawned"}"#]);
}

/// A store whose scans fail, as DynamoDB does when throttled beyond retries.
struct ScanlessStore(MemoryStore);

#[async_trait]
impl ConnectionStore for ScanlessStore {
    async fn put(&self, c: &Connection) -> PortResult<()> {
        self.0.put(c).await
    }
    async fn get(&self, id: &str) -> PortResult<Option<Connection>> {
        self.0.get(id).await
    }
    async fn delete(&self, id: &str) -> PortResult<Option<Connection>> {
        self.0.delete(id).await
    }
    async fn all(&self) -> PortResult<Vec<Connection>> {
        Err(PortError::Failed("Scan throttled".into()))
    }
    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        self.0.in_room(room).await
    }
    async fn estimate(&self) -> PortResult<u64> {
        self.0.estimate().await
    }
    async fn scan_page(&self, _page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
        Err(PortError::Failed("Scan throttled".into()))
    }
    async fn mark_typing(&self, id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
        self.0.mark_typing(id, now, every_ms).await
    }
}

#[tokio::test]
async fn a_failing_table_answers_500_and_tells_the_caller() {
    let store = ScanlessStore(MemoryStore::new());
    let (queue, gateway) = (Queue::default(), Gateway::default());
    let ports = Ports::new(&store, &queue, &gateway);
    let settings = chat_core::Settings { fanout_concurrency: 2, welcome_delay: 0, ..chat_core::Settings::default() };
    let connect = crate::support::connect_event(A, &[]);
    assert_eq!(handle_websocket(ports, &settings, &connect).await.status_code, 200);
    gateway.open.lock().unwrap().insert(A.into());

    let response = handle_websocket(ports, &settings, &message_event(A, "list", r#"{"action":"list"}"#)).await;
    assert_eq!(response.status_code, 500);
    let inbox = gateway.inbox.lock().unwrap().remove(A).unwrap();
    assert_eq!(inbox, [err("the chat could not handle `list` just now; try again").into_bytes()]);
    assert!(store.get(A).await.unwrap().is_some(), "the caller's connection is untouched");
}
