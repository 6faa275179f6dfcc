//! The chat's history through `wschat dev` (docs/chat-history.md): the
//! history after a welcome, catching up with `since` after a reconnect, a
//! resend that posts once, typing, and who may read a room; in memory, and in
//! DynamoDB with `--aws-store` across a restart.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use test_support::Moto;

use super::{Client, Server};
use crate::support;

const JSON: &str = "format=json";

/// Sends `text` from `client` and returns the message frame it gets back.
async fn say(client: &mut Client, text: &str) -> Value {
    client.send(&json!({"action": "send", "text": text}).to_string()).await;
    let echoed = client.next_json().await;
    assert_eq!((echoed["type"].as_str(), echoed["text"].as_str()), (Some("message"), Some(text)), "{echoed}");
    echoed
}

/// alice, then bob, both JSON clients; alice's `joined` frame for bob is taken.
async fn json_alice_and_bob(server: &Server) -> (Client, Client) {
    let mut alice = Client::join(server, &format!("username=alice&{JSON}")).await;
    let bob = Client::join(server, &format!("username=bob&{JSON}")).await;
    assert_eq!(alice.next_json().await["type"], "joined");
    (alice, bob)
}

fn texts(history: &Value) -> Vec<&str> {
    history["messages"].as_array().expect("messages").iter().map(|m| m["text"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_json_client_gets_the_history_after_its_welcome_and_catches_up_with_since() {
    history_and_since(Server::start(&[])).await
}

/// [`a_json_client_gets_the_history_after_its_welcome_and_catches_up_with_since`] on `server` (also run with the handlers as processes, `super::processes`).
pub(super) async fn history_and_since(server: Server) {
    let mut alice = Client::join(&server, &format!("username=alice&{JSON}")).await;
    let first = say(&mut alice, "first").await;
    let second = say(&mut alice, "second").await;

    let bob = Client::join(&server, &format!("username=bob&{JSON}")).await;
    let history = bob.history.clone().expect("a history frame after the welcome");
    assert_eq!(
        history,
        json!({"type": "history", "conversation": "everyone", "messages": [first, second], "more": false})
    );
    assert!(alice.next_json().await["type"] == "joined");

    // bob goes away; two messages come meanwhile; he reconnects and asks for what he missed.
    let seen = second["id"].as_str().unwrap().to_string();
    bob.close().await;
    assert_eq!(alice.next_json().await["type"], "left");
    let third = say(&mut alice, "third").await;
    let fourth = say(&mut alice, "fourth").await;
    let mut bob = Client::join(&server, &format!("username=bob&{JSON}")).await;
    assert_eq!(texts(bob.history.as_ref().unwrap()), ["first", "second", "third", "fourth"]);
    bob.send(&json!({"action": "history", "conversation": "everyone", "since": seen}).to_string()).await;
    let missed = bob.next_json().await;
    assert_eq!(
        missed,
        json!({"type": "history", "conversation": "everyone", "messages": [third, fourth], "more": false})
    );
    bob.send(&json!({"action": "history", "conversation": "everyone", "before": third["id"]}).to_string()).await;
    assert_eq!(texts(&bob.next_json().await), ["first", "second"]);

    // A compat client gets no history, and its frames are as before.
    let mut carol = Client::join(&server, "username=carol").await;
    carol.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_resend_with_the_same_client_id_posts_once_and_gets_the_same_ack() {
    let server = Server::start(&[]);
    let (mut alice, mut bob) = json_alice_and_bob(&server).await;

    let frame = json!({"action": "send", "text": "exactly once", "clientId": "m-1"}).to_string();
    alice.send(&frame).await;
    let ack = alice.next_json().await;
    assert_eq!((ack["type"].as_str(), ack["clientId"].as_str()), (Some("ack"), Some("m-1")), "{ack}");
    let own = alice.next_json().await;
    let to_bob = bob.next_json().await;
    assert_eq!(own, to_bob);
    assert_eq!((to_bob["id"].clone(), to_bob["timestamp"].clone()), (ack["id"].clone(), ack["timestamp"].clone()));

    // The resend, as after a reconnect that lost the ack.
    alice.send(&frame).await;
    assert_eq!(alice.next_json().await, ack, "the same ack again");
    bob.expect_silence(Duration::from_millis(800)).await;
    alice.expect_silence(Duration::from_millis(100)).await;
    bob.send(&json!({"action": "history", "conversation": "everyone"}).to_string()).await;
    assert_eq!(texts(&bob.next_json().await), ["exactly once"]);

    // `send` has a route model (schemas/send.json): a bad clientId never reaches the handler.
    alice.send(&json!({"action": "send", "text": "x", "clientId": "no spaces"}).to_string()).await;
    let refused = alice.next_json().await;
    assert_eq!(refused["message"], "Invalid request body", "{refused}");
    // Other message actions have none: the handler refuses it.
    alice.send(&json!({"action": "broadcast", "message": "x", "clientId": "no spaces"}).to_string()).await;
    let refused = alice.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");

    // Bob with Alice's key and his own words: an error, not her ack, and nothing posted.
    bob.send(&json!({"action": "send", "text": "mine now", "clientId": "m-1"}).to_string()).await;
    let answer = bob.next_json().await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert!(answer["error"].as_str().unwrap().starts_with("clientId `m-1` was already used"), "{answer}");
    alice.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn typing_reaches_the_others_not_the_sender_and_is_throttled() {
    typing(Server::start(&[])).await
}

/// [`typing_reaches_the_others_not_the_sender_and_is_throttled`] on `server` (also run with the handlers as processes, `super::processes`).
pub(super) async fn typing(server: Server) {
    let (mut alice, mut bob) = json_alice_and_bob(&server).await;
    let mut carol = Client::join(&server, "username=carol").await;
    assert_eq!(alice.next_json().await["type"], "joined");
    assert_eq!(bob.next_json().await["type"], "joined");

    let typing = json!({"action": "typing", "conversation": "everyone"}).to_string();
    alice.send(&typing).await;
    assert_eq!(
        bob.next_json().await,
        json!({"type": "typing", "from": "alice", "connectionId": alice.id, "conversation": "everyone"})
    );
    alice.send(&typing).await;
    alice.send(&typing).await;
    bob.expect_silence(Duration::from_millis(1000)).await;
    alice.expect_silence(Duration::from_millis(100)).await;
    carol.expect_silence(Duration::from_millis(100)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    alice.send(&typing).await;
    assert_eq!(bob.next_json().await["type"], "typing", "3 s later it goes again");
}

#[tokio::test]
async fn the_history_of_a_room_is_for_its_members_only() {
    let server = Server::start(&[]);
    let (mut alice, mut bob) = json_alice_and_bob(&server).await;
    alice.send(r#"{"action":"createRoom","name":"alice"}"#).await;
    let info = alice.next_json().await;
    let code = info["room"].as_str().unwrap().to_string();
    let empty = alice.next_json().await;
    assert_eq!(
        empty,
        json!({"type": "history", "conversation": format!("room:{code}"), "messages": [], "more": false})
    );
    alice.send(r#"{"action":"sendMessage","message":"members only"}"#).await;
    // The sender hears nothing back (liveChat's rooms): its handler's end, in
    // dev's log, says the message is stored before bob asks.
    server.wait_for_log(" sendMessage -> 200").await;

    let conversation = format!("room:{code}");
    bob.send(&json!({"action": "history", "conversation": conversation}).to_string()).await;
    assert_eq!(
        bob.next_json().await,
        json!({"type": "error", "action": "history", "error": format!("you are not in room {code}")})
    );
    bob.send(&json!({"action": "joinRoom", "name": "bob", "roomCode": code}).to_string()).await;
    assert_eq!(bob.next_json().await["type"], "info");
    let history = bob.next_json().await;
    assert_eq!(
        (history["conversation"].as_str(), texts(&history)),
        (Some(conversation.as_str()), vec!["members only"])
    );
}

#[tokio::test]
async fn with_aws_store_the_history_is_in_dynamodb_and_outlives_the_server() {
    let moto = Moto::shared();
    let args = ["dev", "--port", "0", "--aws-store", "--stage", "devhistory", "--endpoint-url", &moto.endpoint()];
    let server = Server::spawn_with_env(&support::root(), &args, &moto.env());
    let mut alice = Client::join(&server, &format!("username=alice&{JSON}")).await;
    alice.send(&json!({"action": "send", "text": "kept", "clientId": "k1"}).to_string()).await;
    let ack = alice.next_json().await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(alice.next_json().await["text"], "kept");
    alice.close().await;
    drop(server);

    // What DynamoDB holds: the message, with its TTL days on.
    let aws = crate::aws_wiring::aws_for(&moto).await;
    let item = aws
        .dynamodb()
        .get_item()
        .table_name("wschat-devhistory-messages")
        .key("conversation", AttributeValue::S("everyone".into()))
        .key("id", AttributeValue::S(ack["id"].as_str().unwrap().into()))
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the message in the messages table");
    assert_eq!(item["text"].as_s().unwrap(), "kept");
    let expires: i64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now + 7 * 86_400 - 120..=now + 7 * 86_400 + 120).contains(&expires), "{expires} vs {now}");

    // A new server on the same table: the history is there, and the clientId is still known.
    let server = Server::spawn_with_env(&support::root(), &args, &moto.env());
    let mut alice = Client::join(&server, &format!("username=alice&{JSON}")).await;
    assert_eq!(texts(alice.history.as_ref().expect("a history frame")), ["kept"]);
    alice.send(&json!({"action": "send", "text": "kept", "clientId": "k1"}).to_string()).await;
    assert_eq!(alice.next_json().await, ack);
    alice.expect_silence(Duration::from_millis(800)).await;
}
