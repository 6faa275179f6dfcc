//! `wschat dev --aws-store`: connections in DynamoDB and notifications
//! through SQS, on the test binary's moto server.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use test_support::Moto;

use super::{Client, Server};
use crate::support;

#[tokio::test]
async fn the_chat_runs_over_dynamodb_and_sqs_at_the_endpoint() {
    let moto = Moto::shared();
    let server = Server::spawn_with_env(
        &support::root(),
        &["dev", "--port", "0", "--aws-store", "--stage", "devaws", "--endpoint-url", &moto.endpoint()],
        &moto.env(),
    );
    // The stack's own table and queues were created, under the stage's names.
    let aws = crate::aws_wiring::aws_for(&moto).await;
    let sqs = aws.sqs();
    for queue in ["wschat-devaws-notifications", "wschat-devaws-notifications-dlq"] {
        sqs.get_queue_url().queue_name(queue).send().await.unwrap_or_else(|e| panic!("{queue}: {e:?}"));
    }

    // And the presence table, as deploy makes it: keyed by key and part.
    let ddb = aws.dynamodb();
    let presence = ddb.describe_table().table_name("wschat-devaws-presence").send().await.expect("the presence table");
    let keys: Vec<String> = presence
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str()))
        .collect();
    assert_eq!(keys, ["key HASH", "part RANGE"]);
    server.wait_for_log("presence in DynamoDB table wschat-devaws-presence").await;

    // The welcome goes through SQS with its delay.
    let mut alice = Client::join(&server, "username=alice").await;
    assert!(alice.opened.elapsed() >= Duration::from_millis(900));
    let mut bob = Client::join(&server, "username=bob&format=json").await;
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"bob joined"}"##);

    let row = ddb
        .get_item()
        .table_name("wschat-devaws-connections")
        .key("connectionId", AttributeValue::S(bob.id.clone()))
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("bob's row");
    assert_eq!(row.get("name"), Some(&AttributeValue::S("bob".into())));
    assert_eq!(row.get("format"), Some(&AttributeValue::S("json".into())));
    assert!(row.contains_key("expiresAt"));

    alice.send(r#"{"action":"send","text":"over SQS"}"#).await;
    assert_eq!(alice.next().await, r#"{"action":"message","from":"alice","text":"over SQS"}"#);
    assert_eq!(bob.next_json().await["text"], "over SQS");

    // Rooms go through the GSI.
    alice.send(r#"{"action":"createRoom","name":"Alice"}"#).await;
    let info = alice.next_json().await;
    let code = info["message"].as_str().unwrap().rsplit(' ').next().unwrap().to_string();
    bob.send(&serde_json::json!({"action":"joinRoom","name":"Bob","roomCode":code}).to_string()).await;
    assert_eq!(bob.next_json().await["type"], "info");
    bob.send(r#"{"action":"sendMessage","message":"in the room"}"#).await;
    assert_eq!(alice.next_json().await, serde_json::json!({"message":"in the room","from":"Bob"}));

    // $disconnect deletes the row.
    let bob_id = bob.id.clone();
    bob.close().await;
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"Bob left"}"##);
    let gone = ddb
        .get_item()
        .table_name("wschat-devaws-connections")
        .key("connectionId", AttributeValue::S(bob_id))
        .send()
        .await
        .expect("GetItem");
    assert!(gone.item.is_none());
}
