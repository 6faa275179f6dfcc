//! The chat through `wschat dev`: every action of docs/protocol.md, both formats,
//! the notices, and bad input.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Client, Server, alice_and_bob};

#[tokio::test]
async fn every_action_reaches_whom_protocol_md_says_in_compat_form() {
    every_action(Server::start(&[])).await
}

/// [`every_action_reaches_whom_protocol_md_says_in_compat_form`] on `server` (also run with the handlers as processes, `super::processes`).
pub(super) async fn every_action(server: Server) {
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob").await;

    // send: the λ# sample's message, to everyone, sender included.
    alice.send(r#"{"action":"send","text":"hi all"}"#).await;
    let message = r#"{"action":"message","from":"alice","text":"hi all"}"#;
    assert_eq!(alice.next().await, message);
    assert_eq!(bob.next().await, message);

    // sendmessage, post and broadcast: the raw text, to everyone.
    for (frame, text) in [
        (r#"{"action":"sendmessage","data":"raw data"}"#, "raw data"),
        (r#"{"action":"post", "data":"hello world"}"#, "hello world"),
        (r#"{"action":"broadcast","message":"Anybody home?"}"#, "Anybody home?"),
    ] {
        bob.send(frame).await;
        assert_eq!(alice.next().await, text, "{frame}");
        assert_eq!(bob.next().await, text, "{frame}");
    }

    // list: every connection, to the caller only.
    alice.send(r#"{"action":"list"}"#).await;
    let list = alice.next().await;
    let ids: BTreeSet<&str> = list.strip_prefix("connections: ").expect(&list).split(' ').collect();
    assert_eq!(ids, BTreeSet::from([alice.id.as_str(), bob.id.as_str()]));

    // chat: a direct message, to the target only.
    let direct = json!({"action":"chat","connection":bob.id,"message":"Yo!"}).to_string();
    alice.send(&direct).await;
    assert_eq!(bob.next().await, "Yo!");

    // createRoom / joinRoom / sendMessage: liveChat's rooms, sender excluded.
    alice.send(r#"{"action":"createRoom","name":"Alice"}"#).await;
    let info: Value = serde_json::from_str(&alice.next().await).unwrap();
    assert_eq!(info["type"], "info", "{info}");
    let text = info["message"].as_str().unwrap();
    let code = text.strip_prefix("You are now connected to room ").expect(text).to_string();
    assert_eq!(code.len(), 8);
    bob.send(&json!({"action":"joinRoom","name":"Bob","roomCode":code}).to_string()).await;
    assert_eq!(
        bob.next_json().await,
        json!({"message": format!("You are now connected to room {code}"), "type": "info"})
    );
    alice.send(r#"{"action":"sendMessage","message":"in the room"}"#).await;
    assert_eq!(bob.next_json().await, json!({"message":"in the room","from":"Alice"}));

    // rename: announced to everyone by #host.
    bob.send(r#"{"action":"rename","name":"Robert"}"#).await;
    let renamed = r##"{"action":"message","from":"#host","text":"Bob is now Robert"}"##;
    assert_eq!(alice.next().await, renamed);
    assert_eq!(bob.next().await, renamed);

    // $default: the exact frame back, to the caller only.
    alice.send("just some text").await;
    assert_eq!(alice.next().await, "just some text");
    alice.send(r#"{"action":"dance"}"#).await;
    assert_eq!(alice.next().await, r#"{"action":"dance"}"#);

    // Nothing else reached anyone: alice got no room message of her own, no
    // direct message; bob no echo.
    alice.expect_silence(Duration::from_millis(300)).await;
    bob.expect_silence(Duration::from_millis(300)).await;

    // Every action but `history` and `typing` (their own tests), and `$default`.
    let routes = chat_core::ACTIONS.iter().filter(|action| !["history", "typing"].contains(*action));
    for route in routes.chain(&["$default"]) {
        server.wait_for_log(&format!(" {route} -> 200")).await;
    }
}

#[tokio::test]
async fn compat_and_json_clients_share_one_chat() {
    let server = Server::start(&[]);
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice&format=json", "username=bob").await;

    bob.send(r#"{"action":"send","text":"hello"}"#).await;
    assert_eq!(bob.next().await, r#"{"action":"message","from":"bob","text":"hello"}"#);
    let message = alice.next_json().await;
    assert_eq!(message["type"], "message", "{message}");
    assert_eq!(message["action"], "send");
    assert_eq!(message["from"], "bob");
    assert_eq!(message["text"], "hello");
    assert_eq!(message["connectionId"], bob.id.as_str());
    assert!(message["timestamp"].as_i64().unwrap() > 1_700_000_000_000);

    alice.send(r#"{"action":"post","data":"from json"}"#).await;
    assert_eq!(bob.next().await, "from json");
    assert_eq!(alice.next_json().await["text"], "from json");

    alice.send(r#"{"action":"list"}"#).await;
    let list = alice.next_json().await;
    assert_eq!(list["type"], "list");
    let mut members: Vec<(String, String)> = list["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["connectionId"].as_str().unwrap().to_string(), m["name"].as_str().unwrap().to_string()))
        .collect();
    members.sort();
    let mut want = vec![(alice.id.clone(), "alice".to_string()), (bob.id.clone(), "bob".to_string())];
    want.sort();
    assert_eq!(members, want);

    alice.send("not json").await;
    assert_eq!(alice.next_json().await, json!({"type":"echo","text":"not json"}));
}

#[tokio::test]
async fn the_welcome_comes_after_the_delay_and_joins_and_leaves_are_announced() {
    let server = Server::start(&[]);
    let mut alice = Client::open(&server, "username=alice").await;
    let welcome = alice.next().await;
    let waited = alice.opened.elapsed();
    assert!(welcome.starts_with("Welcome! - connected on "), "{welcome}");
    // stack.yaml's chat.welcome_delay is 1 s: the welcome goes through the
    // queue with that delay, as it does through SQS.
    assert!(waited >= Duration::from_millis(900), "the welcome came after {waited:?}");
    alice.id = super::welcome_id(&welcome).unwrap();

    let mut bob = Client::join(&server, "username=bob&format=json").await;
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"bob joined"}"##);

    let carol = Client::join(&server, "username=carol").await;
    let carol_id = carol.id.clone();
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"carol joined"}"##);
    let joined = bob.next_json().await;
    assert_eq!((joined["type"].as_str(), joined["name"].as_str()), (Some("joined"), Some("carol")), "{joined}");

    carol.close().await;
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"carol left"}"##);
    let left = bob.next_json().await;
    assert_eq!((left["type"].as_str(), left["connectionId"].as_str()), (Some("left"), Some(carol_id.as_str())));
    server.wait_for_log(&format!("disconnect {carol_id} 1000")).await;

    // An anonymous connection gets a generated name.
    let anonymous = Client::join(&server, "").await;
    let notice = alice.next().await;
    assert!(notice.contains(r#""text":"Anonymous-"#), "{notice}");
    drop(anonymous);
}

/// The handler's own validation, reached through a stack without route
/// models (with the shipped models, API Gateway refuses most of these frames
/// first: see `dev::models`).
#[tokio::test]
async fn bad_frames_get_one_error_frame_and_nobody_else_notices() {
    let dir = super::stack_without_schemas();
    let server = Server::start_in(dir.path(), &[]);
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob&format=json").await;

    for (frame, reason) in [
        (r#"{"action":"send"}"#, "send needs a text"),
        (r#"{"action":"send","text":"x","extra":1}"#, "unknown field `extra`: send takes `text`"),
        (r#"{"action":"createRoom"}"#, "You need a name on createRoom"),
        (r#"{"action":"joinRoom","name":"a","roomCode":"00000000"}"#, "No room with that code exists"),
        (r#"{"action":"sendMessage","message":"x"}"#, "You need to create or join a room"),
        (r#"{"action":"chat","message":"Yo!"}"#, "chat needs a target connection"),
    ] {
        alice.send(frame).await;
        assert_eq!(alice.next_json().await, json!({"message": reason, "type": "err"}), "{frame}");
    }
    let long = "x".repeat(4097);
    alice.send(&json!({"action":"send","text":long}).to_string()).await;
    let error = alice.next_json().await;
    assert_eq!(error["type"], "err", "{error}");

    bob.send(r#"{"action":"broadcast"}"#).await;
    assert_eq!(bob.next_json().await, json!({"type":"error","action":"broadcast","error":"broadcast needs a message"}));

    // Nobody else saw any of it, and both connections still work.
    alice.expect_silence(Duration::from_millis(300)).await;
    alice.send(r#"{"action":"send","text":"still here"}"#).await;
    assert_eq!(alice.next().await, r#"{"action":"message","from":"alice","text":"still here"}"#);
    assert_eq!(bob.next_json().await["text"], "still here");
}

#[tokio::test]
async fn a_refused_connect_refuses_the_upgrade() {
    let server = Server::start(&[]);
    for query in ["format=xml", "username=%23host", &format!("username={}", "n".repeat(33))] {
        let url = server.url(query);
        match tokio_tungstenite::connect_async(&url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), 400, "{url}");
            }
            Err(e) => panic!("{url}: expected an HTTP 400, got {e}"),
            Ok(_) => panic!("{url}: the upgrade was accepted"),
        }
    }
    // Refused connections leave no row behind: the next list holds one id.
    let mut alice = Client::join(&server, "username=alice").await;
    alice.send(r#"{"action":"list"}"#).await;
    assert_eq!(alice.next().await, format!("connections: {}", alice.id));
}

/// With `chat.shard_size: 2`, a message to everyone is split into shards that
/// go through dev's own queue, as they go through SQS on AWS: everyone gets
/// it once.
#[tokio::test]
async fn a_sharded_broadcast_reaches_everyone_once() {
    let dir = super::stack_copy();
    let file = dir.path().join("stack.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(yaml.contains("\nchat:\n"), "the shipped stack.yaml has a `chat:` section:\n{yaml}");
    std::fs::write(&file, yaml.replace("\nchat:\n", "\nchat:\n  shard_size: 2\n")).unwrap();
    let server = Server::start_in(dir.path(), &[]);
    let mut clients = Vec::new();
    for i in 0..7 {
        clients.push(Client::join(&server, &format!("username=user{i}")).await);
    }
    // The join notices of those who came later.
    for (i, client) in clients.iter_mut().enumerate() {
        for _ in i + 1..7 {
            let joined = client.next().await;
            assert!(joined.contains("joined"), "{joined}");
        }
        client.expect_silence(Duration::from_millis(200)).await;
    }
    clients[3].send(r#"{"action":"sendmessage","data":"to all seven"}"#).await;
    for client in &mut clients {
        assert_eq!(client.next().await, "to all seven", "{}", client.id);
    }
    for client in &mut clients {
        client.expect_silence(Duration::from_millis(300)).await;
    }
    let log = server.wait_for_log("estimate=7 segments=4").await;
    assert!(log.contains("sharded a notice to everyone"), "ceil(7 / 2) = 4 segments:\n{log}");
}
