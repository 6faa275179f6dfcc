//! A bad frame from each sample app's own client, against the shipped
//! stack: the reply is the one that sample's users get. Only LambdaSharp had
//! a route model (its `send`), so only it gets API Gateway's refusal; the
//! others reach the handler and get their sample's own error text. And
//! config.json carries the key LambdaSharp's page reads.

use serde_json::{Value, json};

use super::models::assert_invalid_request_body;
use super::{Client, Server};

fn err(reason: &str) -> String {
    json!({"message": reason, "type": "err"}).to_string()
}

#[tokio::test]
async fn each_samples_bad_frame_gets_that_samples_own_reply() {
    let server = Server::start(&[]);
    let mut client = Client::join(&server, "username=alice").await;

    // LambdaSharp: `send` without its required `text`; its model refuses it.
    client.send(r#"{"action":"send"}"#).await;
    assert_invalid_request_body(&client.next().await, &client.id);

    for (sample, frame, reply) in [
        // go-apigw-webchat's README: `chat` to a user, here without the target.
        ("go-apigw-webchat", r#"{"action":"chat","message":"Yo!"}"#, err("chat needs a target connection")),
        ("go-apigw-webchat", r#"{"action":"broadcast"}"#, err("broadcast needs a message")),
        // liveChat's own texts.
        ("liveChat", r#"{"action":"createRoom"}"#, err("You need a name on createRoom")),
        ("liveChat", r#"{"action":"joinRoom","name":"bob"}"#, err("You need a roomCode on joinRoom")),
        ("liveChat", r#"{"action":"sendMessage"}"#, err("You need to add a message on sendMessage action")),
        // The dotnet template's `sendmessage`, the serverless pattern's `post`.
        ("AwsWebsocketDotnetTemplate", r#"{"action":"sendmessage"}"#, err("sendmessage needs data")),
        ("apigw-websocket-api-lambda", r#"{"action":"post","data":""}"#, err("post needs data")),
    ] {
        client.send(frame).await;
        assert_eq!(client.next().await, reply, "{sample}: {frame}");
    }
    // Nobody else heard of any of it, and the connection is still open.
    client.send(r#"{"action":"send","text":"still here"}"#).await;
    assert_eq!(client.next().await, r#"{"action":"message","from":"alice","text":"still here"}"#);
}

#[tokio::test]
async fn config_json_names_the_websocket_for_lambdasharps_page_too() {
    let server = Server::start(&[]);
    let reply = test_support::http_request(server.port, "GET", "/config.json", "");
    let config: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(config["server"], config["websocketUrl"]);
    assert_eq!(config["server"], server.url(""));
}
