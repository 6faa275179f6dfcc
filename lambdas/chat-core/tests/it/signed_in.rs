//! Connections that came through the JWT authorizer: `$connect` carries
//! `requestContext.authorizer` as API Gateway passes a Lambda authorizer's
//! context (its keys beside `principalId` and `integrationLatency`; "Control
//! access to WebSocket APIs with AWS Lambda REQUEST authorizers" in the API
//! Gateway developer guide). The name is the token's, `?username` is not
//! read, and `rename` is refused. Everything else is as for anyone.

use chat_core::SIGNED_IN_NAME;
use chat_core::handle_websocket;
use serde_json::json;

use crate::support::{Chat, connect_event};

const A: &str = "CT0wvdWqoAMCLVg=";
const B: &str = "Bq1xZfWDoAMCJ4Q=";

/// A `$connect` that API Gateway let in after the authorizer said `sub` and `name`.
fn signed_in(id: &str, sub: &str, name: &str, query: &[(&str, &str)]) -> chat_core::event::WebSocketEvent {
    let mut event = connect_event(id, query);
    let context = json!({"principalId": sub, "sub": sub, "name": name, "integrationLatency": 41});
    event.request_context.authorizer = Some(serde_json::from_value(context).unwrap());
    event
}

/// Connects as API Gateway would: opened only on a 2xx.
async fn connect(chat: &Chat, event: chat_core::event::WebSocketEvent) -> chat_core::event::WebSocketResponse {
    let id = event.request_context.connection_id.clone();
    let response = chat.handle(&event).await;
    if (200..300).contains(&response.status_code) {
        chat.gateway.open.lock().unwrap().insert(id);
    }
    response
}

#[tokio::test]
async fn the_name_and_sub_come_from_the_authorizer_and_username_is_ignored() {
    let chat = Chat::new();
    chat.join(B, &[("username", "bob")]).await;
    let event = signed_in(A, "0f9c-grace", "Grace Hopper", &[("username", "Mallory"), ("token", "x.y.z")]);
    assert_eq!(connect(&chat, event).await.status_code, 200);
    let row = chat.row(A).await.unwrap();
    assert_eq!((row.name.as_str(), row.sub.as_deref()), ("Grace Hopper", Some("0f9c-grace")));
    chat.deliver().await;
    // What bob's client received names the token's name, not ?username's.
    assert_eq!(chat.received(B), [r##"{"action":"message","from":"#host","text":"Grace Hopper joined"}"##]);
    chat.send(A, r#"{"action":"send","text":"hello"}"#).await;
    chat.deliver().await;
    assert_eq!(chat.received(B).last().unwrap(), r#"{"action":"message","from":"Grace Hopper","text":"hello"}"#);
}

#[tokio::test]
async fn a_name_the_chat_would_refuse_refuses_the_connection_with_the_reason() {
    let chat = Chat::new();
    let response = connect(&chat, signed_in(A, "s", "#host", &[])).await;
    assert_eq!(response.status_code, 400);
    assert!(response.body.unwrap().starts_with("the name of your sign-in: names starting with `#`"));
    assert_eq!(chat.row(A).await, None);
    // Without a name in the context, the sub stands in for it.
    assert_eq!(connect(&chat, signed_in_without_name(B, "sub-b")).await.status_code, 200);
    assert_eq!(chat.row(B).await.unwrap().name, "sub-b");
}

fn signed_in_without_name(id: &str, sub: &str) -> chat_core::event::WebSocketEvent {
    let mut event = connect_event(id, &[]);
    event.request_context.authorizer = Some(serde_json::from_value(json!({"principalId": sub, "sub": sub})).unwrap());
    event
}

#[tokio::test]
async fn rename_is_refused_with_an_error_frame_and_changes_nothing() {
    let chat = Chat::new();
    chat.join(B, &[("username", "bob"), ("format", "json")]).await;
    connect(&chat, signed_in(A, "sub-a", "Grace", &[])).await;
    chat.deliver().await;
    chat.gateway.inbox.lock().unwrap().clear();

    chat.send(A, r#"{"action":"rename","name":"Mallory"}"#).await;
    assert_eq!(chat.received(A), [json!({"message": SIGNED_IN_NAME, "type": "err"}).to_string()]);
    assert_eq!(chat.row(A).await.unwrap().name, "Grace");
    chat.deliver().await;
    assert!(chat.received_json(B).is_empty(), "no one hears of a refused rename");

    // A connection that is not signed in renames as before.
    chat.send(B, r#"{"action":"rename","name":"robert"}"#).await;
    assert_eq!(chat.row(B).await.unwrap().name, "robert");
}

#[tokio::test]
async fn rooms_keep_the_signed_in_name() {
    let chat = Chat::new();
    connect(&chat, signed_in(A, "sub-a", "Grace", &[])).await;
    chat.deliver().await;
    chat.gateway.inbox.lock().unwrap().clear();
    chat.send(A, r#"{"action":"createRoom","name":"Mallory"}"#).await;
    let row = chat.row(A).await.unwrap();
    assert_eq!((row.name.as_str(), row.room.is_some()), ("Grace", true));
    assert!(chat.received(A)[0].contains("You are now connected to room"), "{:?}", chat.received(A));
    chat.send(A, r#"{"action":"sendMessage","message":"hi"}"#).await;
    chat.deliver().await;
    assert!(chat.received(A).iter().all(|frame| !frame.contains("Mallory")), "{:?}", chat.received(A));
}

#[tokio::test]
async fn connect_answers_the_subprotocol_the_client_offered() {
    let chat = Chat::new();
    let offered = |protocols: Option<&str>| {
        let mut event = connect_event(A, &[]);
        event.headers = protocols.map(|p| [("sec-websocket-protocol".to_string(), p.to_string())].into());
        event
    };
    for (protocols, chosen) in [
        (Some("wschat"), Some("wschat")),
        // A token offered as a subprotocol is not what the chat picks, when there is another.
        (Some("bearer.eyJhbGciOi.eyJzdWIi.c2ln, wschat"), Some("wschat")),
        (Some("eyJhbGciOi.eyJzdWIi.c2ln"), Some("eyJhbGciOi.eyJzdWIi.c2ln")),
        (None, None),
    ] {
        let response = handle_websocket(chat.ports(), &chat.settings, &offered(protocols)).await;
        assert_eq!(response.status_code, 200);
        let header = response.headers.as_ref().and_then(|h| h.get("Sec-WebSocket-Protocol")).map(String::as_str);
        assert_eq!(header, chosen, "offered {protocols:?}");
        // The answer is what the Lambda runtime serializes for API Gateway.
        let wire = serde_json::to_value(&response).unwrap();
        assert_eq!(wire.get("headers").is_some(), chosen.is_some(), "{wire}");
    }
}

#[tokio::test]
async fn a_signed_in_pair_keeps_its_direct_messages_across_reconnects_and_nobody_else_reads_them() {
    let chat = Chat::new();
    let json = [("format", "json")];
    connect(&chat, signed_in(A, "sub-grace", "Grace", &json)).await;
    connect(&chat, signed_in(B, "sub-ada", "Ada", &json)).await;
    chat.deliver().await;
    chat.gateway.inbox.lock().unwrap().clear();
    chat.send(A, &json!({"action": "chat", "connection": B, "message": "for Ada"}).to_string()).await;
    let pair = "dm:sub:sub-ada:sub:sub-grace";
    assert_eq!(chat.received_json(B)[0]["conversation"], pair);

    // Grace comes back on a new connection: the pair is the same.
    chat.disconnect(A).await;
    let again = "Again00000000000=";
    connect(&chat, signed_in(again, "sub-grace", "Grace", &json)).await;
    chat.send(again, &json!({"action": "history", "conversation": pair}).to_string()).await;
    let page = chat.received_json(again).pop().unwrap();
    assert_eq!(page["messages"][0]["text"], "for Ada", "{page}");

    // Typing to the pair reaches Ada's connection, not Grace's own.
    chat.send(again, &json!({"action": "typing", "conversation": pair}).to_string()).await;
    assert_eq!(chat.received_json(B).last().unwrap()["type"], "typing");
    assert!(chat.received(again).is_empty());

    // Mallory, signed in as someone else, and an anonymous connection cannot read it.
    let mallory = "Mallory000000000=";
    connect(&chat, signed_in(mallory, "sub-mallory", "Mallory", &json)).await;
    chat.join("Anon000000000000=", &json).await;
    for id in [mallory, "Anon000000000000="] {
        chat.received(id);
        chat.send(id, &json!({"action": "history", "conversation": pair}).to_string()).await;
        assert_eq!(chat.received_json(id).pop().unwrap()["error"], "you are not in this conversation", "{id}");
    }
}
