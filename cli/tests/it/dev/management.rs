//! The Management API of `wschat dev`, through the AWS SDK's own
//! ApiGatewayManagement client.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::Client as ManagementClient;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use super::{Client, Server};

/// The SDK client pointed at `endpoint`, with test credentials (the gateway
/// accepts and ignores the signature).
fn management(endpoint: &str) -> ManagementClient {
    let credentials = aws_credential_types::Credentials::from_keys(
        test_support::ACCESS_KEY_ID,
        test_support::SECRET_ACCESS_KEY,
        None,
    );
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
        .region(aws_sdk_apigatewaymanagement::config::Region::new(test_support::REGION))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .build();
    ManagementClient::from_conf(config)
}

#[tokio::test]
async fn the_sdk_posts_reads_and_deletes_connections_and_gets_410_after_close() {
    let server = Server::start(&[]);
    let mut alice = Client::join(&server, "username=alice").await;
    let mut bob = Client::join(&server, "username=bob").await;
    alice.next().await; // bob joined

    // The stage's URL is the endpoint on AWS; the server root works too.
    let stage_url = server.websocket.replacen("ws://", "http://", 1);
    for endpoint in [stage_url.as_str(), server.http_root().as_str()] {
        let api = management(endpoint);
        api.post_to_connection()
            .connection_id(&alice.id)
            .data(Blob::new(format!("hello from {endpoint}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("posting through {endpoint}: {e:?}"));
        assert_eq!(alice.next().await, format!("hello from {endpoint}"));
    }

    let api = management(&server.http_root());
    let connection = api.get_connection().connection_id(&alice.id).send().await.expect("GetConnection");
    let connected_at = connection.connected_at().expect("connectedAt").to_millis().unwrap();
    let age =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 - connected_at;
    assert!((0..60_000).contains(&age), "connectedAt is {age} ms ago");
    assert_eq!(connection.identity().and_then(|i| i.source_ip()), Some("127.0.0.1"));
    assert!(connection.last_active_at().is_some());

    // Unknown ids are 410 Gone, as the typed error.
    let unknown = api.post_to_connection().connection_id("AAAAAAAAAAAAAAA=").data(Blob::new("x")).send().await;
    assert!(unknown.unwrap_err().into_service_error().is_gone_exception());
    let unknown = api.get_connection().connection_id("AAAAAAAAAAAAAAA=").send().await;
    assert!(unknown.unwrap_err().into_service_error().is_gone_exception());

    // A payload past 128 KiB is refused, and the connection stays.
    let too_big =
        api.post_to_connection().connection_id(&alice.id).data(Blob::new(vec![b'x'; 128 * 1024 + 1])).send().await;
    assert!(too_big.unwrap_err().into_service_error().is_payload_too_large_exception());

    // DeleteConnection closes the socket; $disconnect runs; then 410.
    api.delete_connection().connection_id(&bob.id).send().await.expect("DeleteConnection");
    assert_eq!(bob.closed(Duration::from_secs(5)).await.0, 1000);
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"bob left"}"##);
    let gone = api.post_to_connection().connection_id(&bob.id).data(Blob::new("late")).send().await;
    assert!(gone.unwrap_err().into_service_error().is_gone_exception());
    let gone = api.delete_connection().connection_id(&bob.id).send().await;
    assert!(gone.unwrap_err().into_service_error().is_gone_exception());

    // A client that closed is gone too.
    let alice_id = alice.id.clone();
    alice.close().await;
    server.wait_for_log(&format!("disconnect {alice_id} 1000")).await;
    let gone = api.post_to_connection().connection_id(&alice_id).data(Blob::new("late")).send().await;
    assert!(gone.unwrap_err().into_service_error().is_gone_exception());
    server.wait_for_log(&format!("management POST {alice_id} 4 bytes -> 410")).await;
}
