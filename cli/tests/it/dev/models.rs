//! Route request models in `wschat dev`: a frame that fails its route's JSON
//! schema gets API Gateway's `Invalid request body` frame, and the handler
//! never runs. Every draft 4 keyword is checked; a schema dev cannot compile is
//! named at startup.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Client, Server, alice_and_bob, stack_copy};

/// Asserts `frame` is API Gateway's answer to a body its model refuses, as
/// AWS documents it: `{"message": "Invalid request body", "connectionId":"..", "requestId":".."}`.
/// Returns the request id.
pub fn assert_invalid_request_body(frame: &str, connection_id: &str) -> String {
    let prefix = format!(r#"{{"message": "Invalid request body", "connectionId":"{connection_id}", "requestId":""#);
    let request_id = frame
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(r#""}"#))
        .unwrap_or_else(|| panic!("expected Invalid request body for {connection_id}, got {frame}"));
    assert!(request_id.len() == 16 && request_id.ends_with('='), "request id {request_id:?} in {frame}");
    let parsed: Value = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{frame}: {e}"));
    assert_eq!(
        parsed,
        json!({"message": "Invalid request body", "connectionId": connection_id, "requestId": request_id})
    );
    request_id.to_string()
}

/// Replaces the temporary stack's `schemas/send.json`.
fn write_send_schema(dir: &std::path::Path, schema: &Value) {
    std::fs::write(dir.join("schemas/send.json"), serde_json::to_string_pretty(schema).unwrap()).unwrap();
}

#[tokio::test]
async fn frames_the_send_model_refuses_get_invalid_request_body_and_reach_no_handler() {
    let server = Server::start(&[]);
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob&format=json").await;

    let long = "x".repeat(4097);
    let refused = [
        (json!({"action":"send"}), r#""text" is a required property"#),
        (
            json!({"action":"send","text":"hi","extra":1}),
            "Additional properties are not allowed ('extra' was unexpected)",
        ),
        (json!({"action":"send","text":5}), r#"/text: value is not of type "string""#),
        (json!({"action":"send","text":""}), "/text: value is shorter than 1 character"),
        (json!({"action":"send","text":long}), "/text: value is longer than 4096 characters"),
    ];
    let mut request_ids = BTreeSet::new();
    for (frame, reason) in &refused {
        alice.send(&frame.to_string()).await;
        request_ids.insert(assert_invalid_request_body(&alice.next().await, &alice.id));
        server.wait_for_log(&format!("model      {} send -> Invalid request body: {reason}", alice.id)).await;
    }
    assert_eq!(request_ids.len(), refused.len(), "every answer has its own request id");

    // Nobody else saw anything, and no handler ran for alice's frames.
    bob.expect_silence(Duration::from_millis(300)).await;
    alice.expect_silence(Duration::from_millis(100)).await;
    let log = server.log();
    assert!(!log.contains(&format!("route      {}", alice.id)), "a handler ran:\n{log}");
    assert_eq!(log.matches("Invalid request body").count(), refused.len(), "{log}");
    assert!(!log.contains(&long), "the log line leaves the body out:\n{log}");

    // The connection is as good as before: a frame the model accepts goes through.
    alice.send(r#"{"action":"send","text":"still here"}"#).await;
    assert_eq!(alice.next().await, r#"{"action":"message","from":"alice","text":"still here"}"#);
    assert_eq!(bob.next_json().await["text"], "still here");
    server.wait_for_log(&format!("route      {} send -> 200", alice.id)).await;
}

#[tokio::test]
async fn routes_without_a_model_and_frames_that_are_not_json_reach_the_handler() {
    let server = Server::start(&[]);
    let mut alice = Client::join(&server, "username=alice").await;
    // `list` has no model, so its handler answers this one.
    alice.send(r#"{"action":"list","extra":true}"#).await;
    assert_eq!(alice.next_json().await, json!({"message":"unknown field `extra`: list takes `cursor`","type":"err"}));
    alice.send("not json").await;
    assert_eq!(alice.next().await, "not json");
    alice.send(r#"{"action":"nosuchroute","x":1}"#).await;
    assert_eq!(alice.next().await, r#"{"action":"nosuchroute","x":1}"#);
    assert!(!server.log().contains("model "), "{}", server.log());
}

/// `$ref`, `allOf`, `not` and `format` made the old validator skip a model
/// whole, with a warning; they are checked now.
#[tokio::test]
async fn keywords_the_old_validator_skipped_are_enforced() {
    let dir = stack_copy();
    // No email addresses in the chat, and the usual limits, by reference.
    write_send_schema(
        dir.path(),
        &json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "definitions": {"text": {"type": "string", "minLength": 1, "maxLength": 4096}},
            "type": "object",
            "required": ["action", "text"],
            "properties": {
                "action": {"enum": ["send"]},
                "text": {"allOf": [{"$ref": "#/definitions/text"}, {"not": {"format": "email"}}]}
            },
            "additionalProperties": false
        }),
    );
    let server = Server::start_in(dir.path(), &[]);
    assert!(!server.log().contains("WARN"), "{}", server.log());
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob&format=json").await;

    for (frame, reason) in [
        (json!({"action":"send","text":"alice@example.com"}), r#"/text: {"format":"email"} is not allowed for value"#),
        (json!({"action":"send","text":""}), "/text: value is shorter than 1 character"),
    ] {
        alice.send(&frame.to_string()).await;
        assert_invalid_request_body(&alice.next().await, &alice.id);
        server.wait_for_log(&format!("model      {} send -> Invalid request body: {reason}", alice.id)).await;
    }
    bob.expect_silence(Duration::from_millis(300)).await;

    alice.send(r#"{"action":"send","text":"mail me at alice at example dot com"}"#).await;
    assert_eq!(bob.next_json().await["text"], "mail me at alice at example dot com");
    assert_eq!(alice.next_json().await["from"], "alice");
}

#[tokio::test]
async fn a_schema_dev_cannot_compile_is_named_at_startup_and_leaves_its_route_to_the_handler() {
    let dir = stack_copy();
    // A model elsewhere: dev fetches nothing, so it cannot check this one.
    write_send_schema(dir.path(), &json!({"$ref": "https://models.example.com/send.json"}));

    let server = Server::start_in(dir.path(), &[]);
    let log = server.log();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("schemas/send.json")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    assert!(warnings[0].contains("of route `send`"), "{}", warnings[0]);
    assert!(warnings[0].contains("'https://models.example.com/send.json'"), "{}", warnings[0]);
    assert!(warnings[0].contains("wschat dev does not validate `send`"), "{}", warnings[0]);

    // The handler answers instead, in its own words.
    let mut alice = Client::join(&server, "username=alice").await;
    alice.send(r#"{"action":"send","text":"hi","extra":1}"#).await;
    assert_eq!(alice.next_json().await, json!({"message":"unknown field `extra`: send takes `text`","type":"err"}));
    assert!(!server.log().contains("Invalid request body"), "{}", server.log());
}
