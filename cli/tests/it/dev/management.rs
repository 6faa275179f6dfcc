//! The Management API of `wschat dev`, through the AWS SDK's own
//! ApiGatewayManagement client.

use std::time::Duration;

use aws_sdk_apigatewaymanagement::Client as ManagementClient;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use super::{Client, Server, alice_and_bob};

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
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob").await;

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

/// An address of this machine other than the loopback (the one its default
/// route leaves from), or `None` on a machine without a network.
fn address_off_the_loopback() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // Connecting a UDP socket sends nothing: it only picks the local address.
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

/// Posts to `id` through `endpoint`: `Ok`, or the HTTP status, error type and body of the refusal.
async fn post(endpoint: &str, id: &str, text: &str) -> Result<(), (u16, Option<String>, String)> {
    use aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata;
    let sent = management(endpoint).post_to_connection().connection_id(id).data(Blob::new(text)).send().await;
    sent.map(|_| ()).map_err(|e| {
        let raw = e.raw_response().expect("an HTTP answer");
        let status = raw.status().as_u16();
        let body = String::from_utf8_lossy(raw.body().bytes().unwrap_or_default()).into_owned();
        (status, e.code().map(str::to_string), body)
    })
}

#[tokio::test]
async fn off_the_loopback_the_management_api_answers_this_machine_only() {
    let server = Server::start(&["--host", "0.0.0.0"]);
    server.wait_for_log("the Management API (@connections) answers clients on this machine only").await;
    let mut alice = Client::join(&server, "username=alice").await;
    let port = server.port;

    // From this machine it works as before.
    post(&format!("http://127.0.0.1:{port}/dev"), &alice.id, "from here").await.expect("a post from 127.0.0.1");
    assert_eq!(alice.next().await, "from here");

    // From another address it is refused as API Gateway refuses an unsigned call.
    let ip = address_off_the_loopback()
        .expect("this test needs an address of this machine off the loopback (a network interface)");
    let refused = post(&format!("http://{ip}:{port}/dev"), &alice.id, "from afar").await.unwrap_err();
    assert_eq!(
        refused,
        (
            403,
            Some("MissingAuthenticationTokenException".to_string()),
            r#"{"message":"Missing Authentication Token"}"#.to_string()
        )
    );
    let api = management(&format!("http://{ip}:{port}"));
    assert!(api.get_connection().connection_id(&alice.id).send().await.is_err());
    assert!(api.delete_connection().connection_id(&alice.id).send().await.is_err());
    server.wait_for_log(&format!("management POST /dev/@connections/{} from {ip} -> 403", alice.id)).await;
    // Nothing reached alice, and she is still connected.
    alice.expect_silence(Duration::from_millis(300)).await;
    post(&format!("http://127.0.0.1:{port}"), &alice.id, "still here").await.expect("a post from 127.0.0.1");
    assert_eq!(alice.next().await, "still here");
}

#[tokio::test]
async fn open_management_answers_every_address_with_a_warning() {
    let server = Server::start(&["--host", "0.0.0.0", "--open-management"]);
    server
        .wait_for_log("--open-management on 0.0.0.0: anyone who can reach it can post to and close every connection")
        .await;
    let mut alice = Client::join(&server, "username=alice").await;
    let port = server.port;
    let mut endpoints = vec![format!("http://127.0.0.1:{port}/dev")];
    endpoints.extend(address_off_the_loopback().map(|ip| format!("http://{ip}:{port}/dev")));
    for endpoint in &endpoints {
        post(endpoint, &alice.id, endpoint).await.unwrap_or_else(|e| panic!("posting through {endpoint}: {e:?}"));
        assert_eq!(alice.next().await, *endpoint);
    }
}
