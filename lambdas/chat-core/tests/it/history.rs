//! The chat's history (docs/chat-history.md) over the in-memory ports: every
//! message stored and stamped, acks and de-duplication on `clientId`,
//! `history` pages and who may read them, the history a JSON client gets
//! after its welcome and on joining a room, and `typing` with its throttle.

use serde_json::{Value, json};

use crate::support::Chat;

const A: &str = "CT0wvdWqoAMCLVg=";
const B: &str = "Bq1xZfWDoAMCJ4Q=";
const C: &str = "C7oMeeJ9oAMCKzw=";
const T0: i64 = 1764614400000;

/// alice (json), bob (json) and carol (compat), welcomed, with empty inboxes.
async fn three() -> Chat {
    let chat = Chat::new();
    chat.join(A, &[("username", "alice"), ("format", "json")]).await;
    chat.join(B, &[("username", "bob"), ("format", "json")]).await;
    chat.join(C, &[("username", "carol")]).await;
    chat
}

fn send(text: &str) -> String {
    json!({"action": "send", "text": text}).to_string()
}

/// The texts of a history frame's messages.
fn texts(frame: &Value) -> Vec<&str> {
    frame["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect()
}

/// Asks for `request` as `id` and returns the one frame it got back.
async fn ask(chat: &Chat, id: &str, request: Value) -> Value {
    assert_eq!(chat.send(id, &request.to_string()).await.status_code, 200);
    let mut frames = chat.received_json(id);
    assert_eq!(frames.len(), 1, "{request}: {frames:?}");
    frames.remove(0)
}

#[tokio::test]
async fn every_message_is_stored_and_stamped_with_the_same_id_everyone_receives() {
    let chat = three().await;
    chat.send_at(C, &send("hello"), T0).await;
    chat.deliver().await;
    let live = chat.received_json(A).remove(0);
    assert_eq!(chat.received_json(B)[0], live);
    assert_eq!(chat.received(C), [r#"{"action":"message","from":"carol","text":"hello"}"#], "compat is unchanged");
    let id = live["id"].as_str().unwrap();
    assert!(id.starts_with(&format!("{T0}-")), "{live}");
    assert_eq!((live["conversation"].as_str(), live["timestamp"].as_i64()), (Some("everyone"), Some(T0)));

    let page = ask(&chat, A, json!({"action": "history", "conversation": "everyone"})).await;
    assert_eq!(page, json!({"type": "history", "conversation": "everyone", "messages": [live], "more": false}));
    assert_eq!(chat.messages.len(), 1);
}

#[tokio::test]
async fn a_resend_with_the_same_client_id_posts_nothing_and_gets_the_same_ack() {
    let chat = three().await;
    let frame = json!({"action": "send", "text": "once", "clientId": "k-1"}).to_string();
    chat.send_at(A, &frame, T0).await;
    let ack = chat.received_json(A);
    assert_eq!(ack.len(), 1, "the ack is posted at once, before the fan-out: {ack:?}");
    let ack = &ack[0];
    let id = ack["id"].as_str().unwrap();
    assert!(chat_core::history::is_message_id(id), "{ack}");
    assert_eq!(
        *ack,
        json!({"type": "ack", "action": "send", "clientId": "k-1", "id": id, "conversation": "everyone", "timestamp": T0})
    );
    // The resend comes later, after a reconnect.
    chat.send_at(A, &frame, T0 + 60_000).await;
    assert_eq!(chat.received_json(A), std::slice::from_ref(ack), "the same ack, same id and timestamp");
    chat.deliver().await;
    let to_bob = chat.received_json(B);
    assert_eq!(to_bob.len(), 1, "{to_bob:?}");
    assert_eq!(to_bob[0]["id"], ack["id"]);
    assert_eq!(chat.received(C).len(), 1);
    assert_eq!(chat.received_json(A).len(), 1, "the sender's own copy, once");
    assert_eq!(chat.messages.len(), 1);

    // The same clientId elsewhere is another message: de-duplication is per conversation.
    let dm = json!({"action": "chat", "connection": B, "message": "psst", "clientId": "k-1"}).to_string();
    chat.send_at(A, &dm, T0 + 60_001).await;
    let ack = chat.received_json(A).remove(0);
    assert_eq!(ack["conversation"], format!("dm:conn:{B}:conn:{A}"));
    assert_eq!(chat.received_json(B)[0]["id"], ack["id"]);
    assert_eq!(chat.messages.len(), 2);

    // A compat client that sends a clientId gets its ack in JSON too.
    let frame = json!({"action": "broadcast", "message": "raw", "clientId": "c1"}).to_string();
    chat.send_at(C, &frame, T0 + 60_002).await;
    assert_eq!(chat.received_json(C)[0]["type"], "ack");
}

#[tokio::test]
async fn a_bad_client_id_is_refused() {
    let chat = three().await;
    for bad in [json!(""), json!("has space"), json!("x".repeat(65)), json!(7)] {
        let frame = json!({"action": "send", "text": "hi", "clientId": bad}).to_string();
        chat.send(A, &frame).await;
        let error = chat.received_json(A).remove(0);
        assert_eq!(error["type"], "error", "{bad}");
        assert!(error["error"].as_str().unwrap().contains("clientId"), "{error}");
    }
    assert!(chat.take_queue().is_empty() && chat.messages.is_empty());
    // Only message actions take one.
    chat.send(A, &json!({"action": "list", "clientId": "k"}).to_string()).await;
    assert_eq!(chat.received_json(A)[0]["error"], "unknown field `clientId`: list takes `cursor`");
}

#[tokio::test]
async fn since_and_before_page_through_the_history() {
    let mut chat = Chat::new();
    chat.settings.history_messages = 3;
    chat.join(A, &[("username", "alice"), ("format", "json")]).await;
    for i in 0..8 {
        chat.send_at(A, &send(&format!("m{i}")), T0 + i).await;
    }
    chat.take_queue();
    let latest = ask(&chat, A, json!({"action": "history", "conversation": "everyone"})).await;
    assert_eq!((texts(&latest), latest["more"].as_bool()), (vec!["m5", "m6", "m7"], Some(true)));
    let first = latest["messages"][0]["id"].as_str().unwrap().to_string();
    let earlier = ask(&chat, A, json!({"action": "history", "conversation": "everyone", "before": first})).await;
    assert_eq!((texts(&earlier), earlier["more"].as_bool()), (vec!["m2", "m3", "m4"], Some(true)));
    let first = earlier["messages"][0]["id"].as_str().unwrap().to_string();
    let oldest = ask(&chat, A, json!({"action": "history", "conversation": "everyone", "before": first})).await;
    assert_eq!((texts(&oldest), oldest["more"].as_bool()), (vec!["m0", "m1"], Some(false)));

    // Catching up from m1: three at a time, oldest first, then the rest.
    let m1 = oldest["messages"][1]["id"].as_str().unwrap().to_string();
    let missed = ask(&chat, A, json!({"action": "history", "conversation": "everyone", "since": m1})).await;
    assert_eq!((texts(&missed), missed["more"].as_bool()), (vec!["m2", "m3", "m4"], Some(true)));
    let last = missed["messages"][2]["id"].as_str().unwrap().to_string();
    let rest = ask(&chat, A, json!({"action": "history", "conversation": "everyone", "since": last})).await;
    assert_eq!((texts(&rest), rest["more"].as_bool()), (vec!["m5", "m6", "m7"], Some(false)));
    let newest = rest["messages"][2]["id"].as_str().unwrap().to_string();
    let none = ask(&chat, A, json!({"action": "history", "conversation": "everyone", "since": newest})).await;
    assert_eq!((texts(&none), none["more"].as_bool()), (Vec::<&str>::new(), Some(false)));

    for (request, reason) in [
        (
            json!({"action": "history", "conversation": "everyone", "since": m1, "before": m1}),
            "before and since cannot both be given",
        ),
        (json!({"action": "history", "conversation": "room:nothex!"}), "no conversation room:nothex!"),
        (
            json!({"action": "history", "conversation": "everyone", "since": "yesterday"}),
            "`since` must be a message id such as 1764614400000-3fa9c2d1",
        ),
        (json!({"action": "history"}), "history needs a conversation"),
    ] {
        assert_eq!(ask(&chat, A, request.clone()).await["error"], reason, "{request}");
    }
}

#[tokio::test]
async fn a_history_frame_stops_at_96_kib_and_says_more() {
    let mut chat = Chat::new();
    // Forty messages within 40 ms: more than `chat.limits` lets a person send.
    chat.settings.limits.messages = chat_core::limits::Rate { per_second: 1000.0, burst: 100 };
    chat.join(A, &[("username", "alice"), ("format", "json")]).await;
    for i in 0..40 {
        chat.send_at(A, &send(&format!("{i:02}{}", "x".repeat(4000))), T0 + i).await;
    }
    chat.take_queue();
    let frame = chat.send(A, &json!({"action": "history", "conversation": "everyone"}).to_string()).await;
    assert_eq!(frame.status_code, 200);
    let raw = chat.received(A).remove(0);
    assert!(raw.len() <= 100 * 1024 && raw.len() > 80 * 1024, "{} bytes", raw.len());
    let page: Value = serde_json::from_str(&raw).unwrap();
    let got = texts(&page);
    assert!(got.len() < 40 && page["more"] == true, "{} messages", got.len());
    assert!(got.last().unwrap().starts_with("39"), "the newest are kept when reading back");
}

#[tokio::test]
async fn only_members_read_a_room_or_a_pair() {
    let chat = three().await;
    chat.send(A, &json!({"action": "createRoom", "name": "alice"}).to_string()).await;
    let room = chat.row(A).await.unwrap().room.unwrap();
    chat.received(A);
    chat.send_at(A, &json!({"action": "sendMessage", "message": "secret plan"}).to_string(), T0).await;
    chat.deliver().await;
    let conversation = format!("room:{room}");
    let refused = ask(&chat, B, json!({"action": "history", "conversation": conversation})).await;
    assert_eq!(refused, json!({"type": "error", "action": "history", "error": format!("you are not in room {room}")}));
    let members = ask(&chat, A, json!({"action": "history", "conversation": conversation})).await;
    assert_eq!(texts(&members), ["secret plan"]);

    // A direct message between alice and carol: bob cannot read it, even by its exact name.
    chat.send_at(C, &json!({"action": "chat", "connection": A, "message": "just us"}).to_string(), T0 + 1).await;
    chat.received(A);
    let pair = format!("dm:conn:{C}:conn:{A}");
    let refused = ask(&chat, B, json!({"action": "history", "conversation": pair})).await;
    assert_eq!(refused["error"], "you are not in this conversation");
    let mine = ask(&chat, A, json!({"action": "history", "conversation": pair})).await;
    assert_eq!(texts(&mine), ["just us"]);
    assert_eq!(mine["messages"][0]["type"], "direct");

    // Leaving the room (joining another) ends the right to read it.
    chat.send(B, &json!({"action": "joinRoom", "name": "bob", "roomCode": room}).to_string()).await;
    let joined = chat.received_json(B);
    assert_eq!(joined.len(), 2, "the info frame, then the room's history: {joined:?}");
    assert_eq!((joined[0]["type"].as_str(), joined[1]["type"].as_str()), (Some("info"), Some("history")));
    assert_eq!(
        (joined[1]["conversation"].as_str(), texts(&joined[1])),
        (Some(conversation.as_str()), vec!["secret plan"])
    );
    chat.send(B, &json!({"action": "createRoom", "name": "bob"}).to_string()).await;
    chat.received(B);
    let refused = ask(&chat, B, json!({"action": "history", "conversation": conversation})).await;
    assert_eq!(refused["error"], format!("you are not in room {room}"));
}

#[tokio::test]
async fn a_json_client_gets_the_latest_messages_after_its_welcome() {
    let chat = three().await;
    chat.send_at(C, &send("before you came"), T0).await;
    chat.deliver().await;
    let d = "D0000000000000D=";
    chat.connect(d, &[("username", "dave"), ("format", "json")]).await;
    let e = "E0000000000000E=";
    chat.connect(e, &[("username", "eve")]).await;
    chat.deliver().await;
    let mut frames = chat.received_json(d);
    frames.retain(|f| f["type"] != "joined");
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0]["type"], "welcome");
    assert_eq!((frames[1]["type"].as_str(), texts(&frames[1])), (Some("history"), vec!["before you came"]));
    let to_eve = chat.received(e);
    assert!(to_eve.contains(&format!("Welcome! - connected on {e}")), "{to_eve:?}");
    assert!(
        to_eve.iter().all(|f| !f.contains("history") && !f.is_empty()),
        "compat clients get no history: {to_eve:?}"
    );
}

#[tokio::test]
async fn with_history_off_nothing_is_stored_and_history_is_refused() {
    let mut chat = Chat::new();
    chat.history = false;
    chat.join(A, &[("username", "alice"), ("format", "json")]).await;
    chat.send(A, &json!({"action": "send", "text": "hi", "clientId": "k"}).to_string()).await;
    assert_eq!(chat.received_json(A)[0]["type"], "ack", "an ack still says it was sent");
    chat.deliver().await;
    assert_eq!(chat.received_json(A)[0]["text"], "hi");
    let refused = ask(&chat, A, json!({"action": "history", "conversation": "everyone"})).await;
    assert_eq!(refused["error"], "history is off on this stack");
    assert!(chat.messages.is_empty());
    chat.connect(B, &[("format", "json")]).await;
    chat.deliver().await;
    assert_eq!(chat.received_json(B).len(), 1, "the welcome alone");
}

#[tokio::test]
async fn typing_reaches_the_others_at_most_every_three_seconds() {
    let chat = three().await;
    let typing = json!({"action": "typing", "conversation": "everyone"}).to_string();
    for (offset, delivered) in [(0, true), (1000, false), (2999, false), (3000, true), (3500, false)] {
        assert_eq!(chat.send_at(A, &typing, T0 + offset).await.status_code, 200);
        chat.deliver().await;
        let to_bob = chat.received_json(B);
        assert_eq!(to_bob.len(), usize::from(delivered), "at +{offset} ms: {to_bob:?}");
        if delivered {
            assert_eq!(
                to_bob[0],
                json!({"type": "typing", "from": "alice", "connectionId": A, "conversation": "everyone"})
            );
        }
        assert!(chat.received(A).is_empty(), "never to the sender, and no error when throttled");
        assert!(chat.received(C).is_empty(), "never to a compat client");
    }
    assert!(chat.messages.is_empty(), "typing is never stored");

    // Another connection has its own throttle; a room's typing stays in the room.
    chat.send(B, &json!({"action": "createRoom", "name": "bob"}).to_string()).await;
    let room = chat.row(B).await.unwrap().room.unwrap();
    chat.received(B);
    chat.send_at(B, &json!({"action": "typing", "conversation": format!("room:{room}")}).to_string(), T0 + 3500).await;
    chat.deliver().await;
    assert!(chat.received(A).is_empty(), "alice is not in the room");
    let refused = json!({"action": "typing", "conversation": format!("room:{room}")}).to_string();
    chat.send_at(A, &refused, T0 + 9000).await;
    assert_eq!(chat.received_json(A)[0]["error"], format!("you are not in room {room}"));

    // A pair's typing goes to the other one only.
    let pair = format!("dm:conn:{B}:conn:{A}");
    chat.send_at(B, &json!({"action": "typing", "conversation": pair}).to_string(), T0 + 9000).await;
    chat.deliver().await;
    assert_eq!(chat.received_json(A)[0]["conversation"], pair);
    assert!(chat.received(B).is_empty() && chat.received(C).is_empty());
}

#[tokio::test]
async fn someone_elses_client_id_gets_neither_their_ack_nor_silence() {
    let chat = three().await;
    chat.send_at(A, &json!({"action": "send", "text": "alpha", "clientId": "k-1"}).to_string(), T0).await;
    let alices = chat.received_json(A).remove(0);
    // Bob (anonymous) reuses Alice's key for his own words: an error, not her ack.
    chat.send_at(B, &json!({"action": "send", "text": "beta", "clientId": "k-1"}).to_string(), T0 + 1).await;
    let answer = chat.received_json(B).remove(0);
    assert_eq!(answer["type"], "error", "{answer}");
    assert!(answer["error"].as_str().unwrap().starts_with("clientId `k-1` was already used for another message"));
    assert_ne!(answer["id"], alices["id"]);
    assert_eq!(chat.messages.len(), 1, "nothing stored for Bob, and Alice's message kept");
    // With a key of his own, his message goes.
    chat.send_at(B, &json!({"action": "send", "text": "beta", "clientId": "k-2"}).to_string(), T0 + 2).await;
    assert_eq!(chat.received_json(B).remove(0)["type"], "ack");
    assert_eq!(chat.messages.len(), 2);
}
