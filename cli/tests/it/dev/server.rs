//! The `wschat dev` process: its URLs, the site and config.json, the event
//! log, shutdown, and restarting on the same port.

use std::time::Duration;

use serde_json::{Value, json};
use test_support::http_request;

use super::{Client, Server, alice_and_bob, stack_copy};

#[tokio::test]
async fn serves_the_site_with_a_generated_config_json() {
    let dir = stack_copy();
    let www = dir.path().join("wwwroot");
    std::fs::write(www.join("config.json"), r#"{"websocketUrl":"wss://stale.example/prod"}"#).unwrap();
    std::fs::write(www.join("app.js"), "console.log('hi');\n").unwrap();
    let server = Server::start_in(dir.path(), &[]);
    assert!(server.website.starts_with("http://127.0.0.1:") && server.website.ends_with('/'), "{}", server.website);
    assert_eq!(server.websocket, format!("ws://127.0.0.1:{}/dev", server.port));

    let config = http_request(server.port, "GET", "/config.json", "");
    assert_eq!(config.status, 200);
    assert_eq!(config.header("content-type"), Some("application/json"));
    let config: Value = serde_json::from_slice(&config.body).unwrap();
    assert_eq!(config, json!({ "websocketUrl": server.websocket, "server": server.websocket }));

    let index = http_request(server.port, "GET", "/", "");
    assert_eq!(index.status, 200);
    // The page as on disk, but with its CSP's connect-src pinned to this server.
    let page = std::fs::read_to_string(www.join("index.html")).unwrap();
    let origin = format!("ws://127.0.0.1:{}", server.port);
    let served = index.text();
    assert!(served.contains(&format!("connect-src 'self' {origin};")), "{served}");
    assert_eq!(
        served,
        wschat_stack::website::pin_connect_src(&page, &wschat_stack::website::PageConfig::open(&server.websocket))
            .unwrap()
    );
    assert!(index.header("content-type").unwrap().starts_with("text/html"));
    let script = http_request(server.port, "GET", "/app.js", "");
    assert_eq!((script.status, script.text().as_str()), (200, "console.log('hi');\n"));
    assert!(script.header("content-type").unwrap().starts_with("text/javascript"));
    assert_eq!(http_request(server.port, "GET", "/missing.css", "").status, 404);
    assert_eq!(http_request(server.port, "GET", "/../stack.yaml", "").status, 404);
    assert_eq!(http_request(server.port, "GET", "/%2e%2e/stack.yaml", "").status, 404);
}

#[tokio::test]
async fn json_prints_the_urls_on_stdout() {
    let server = Server::start(&["--json"]);
    let (website, websocket) = (server.website.clone(), server.websocket.clone());
    let stopped = server.stop();
    assert!(stopped.status.success(), "{:?}", stopped.status);
    let stdout = stopped.stdout;
    let urls: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{stdout}: {e}"));
    assert_eq!(urls, json!({ "website": website, "websocket": websocket }));
}

#[tokio::test]
async fn verbose_logs_show_events_with_an_api_gateway_request_context() {
    let server = Server::start(&["-v"]);
    let mut alice = Client::join(&server, "username=alice&format=json").await;
    alice.send(r#"{"action":"send","text":"hi"}"#).await;
    alice.next().await;
    let event_line = server.wait_for_log(r#""routeKey":"send""#).await;
    let event: Value = event_json(&event_line);
    let context = &event["requestContext"];
    assert_eq!(context["eventType"], "MESSAGE");
    assert_eq!(context["connectionId"], alice.id.as_str());
    assert_eq!(context["stage"], "dev");
    assert_eq!(context["domainName"], format!("127.0.0.1:{}", server.port));
    assert_eq!(context["messageDirection"], "IN");
    assert_eq!(context["requestId"].as_str().unwrap().len(), 16);
    assert!(context["connectedAt"].as_i64().unwrap() <= context["requestTimeEpoch"].as_i64().unwrap());
    assert_eq!(event["body"], r#"{"action":"send","text":"hi"}"#);

    let connect_line = server.wait_for_log(r#""eventType":"CONNECT""#).await;
    let connect: Value = event_json(&connect_line);
    assert_eq!(connect["queryStringParameters"], json!({"username":"alice","format":"json"}));
    assert_eq!(connect["multiValueQueryStringParameters"]["username"], json!(["alice"]));
    assert_eq!(connect["requestContext"]["routeKey"], "$connect");
    assert_eq!(connect["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert!(connect["headers"]["sec-websocket-key"].is_string(), "{connect}");
    // The notify handler's SQS events are logged too.
    server.wait_for_log(r#""eventSource":"aws:sqs""#).await;
}

#[tokio::test]
async fn sigterm_closes_every_connection_with_its_disconnect_and_the_port_can_be_reused() {
    sigterm(Server::start(&[])).await
}

/// [`sigterm_closes_every_connection_with_its_disconnect_and_the_port_can_be_reused`] on `server`.
pub(super) async fn sigterm(server: Server) {
    let port = server.port.to_string();
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob").await;
    let ids = [alice.id.clone(), bob.id.clone()];

    let stopping = tokio::task::spawn_blocking(move || server.stop());
    assert_eq!(alice.closed(Duration::from_secs(10)).await, (1001, "Going away".to_string()));
    assert_eq!(bob.closed(Duration::from_secs(10)).await.0, 1001);
    let stopped = stopping.await.unwrap();
    let log = stopped.log;
    assert!(stopped.status.success(), "{:?}\n{log}", stopped.status);
    for id in ids {
        assert!(log.contains(&format!("disconnect {id} 1001 \"Going away\" -> 200")), "{log}");
    }

    // A new server binds the port just freed (the browser test restarts like this).
    let dir = crate::support::root();
    let again = Server::spawn(&dir, &["dev", "--port", &port]);
    assert_eq!(again.port.to_string(), port);
    let mut carol = Client::join(&again, "username=carol").await;
    carol.send("back").await;
    assert_eq!(carol.next().await, "back");
}

/// The event JSON of a `-v` log line (`... event {...}`).
fn event_json(line: &str) -> Value {
    let (_, json) = line.split_once("event ").unwrap_or_else(|| panic!("no event in {line}"));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

/// A browser offers subprotocols in `Sec-WebSocket-Protocol` and drops a
/// handshake whose answer names none of them (RFC 6455 4.1): the chat's
/// `$connect` answers the one it takes, and dev completes the handshake
/// with it, as API Gateway does; no offer, no header.
#[tokio::test]
async fn a_client_offering_subprotocols_gets_the_one_connect_chose() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = Server::start(&[]);
    for (offered, chosen) in [(Some("wschat"), Some("wschat")), (Some("chat, superchat"), Some("chat")), (None, None)] {
        let url = server.url("username=alice");
        let mut request = url.as_str().into_client_request().unwrap();
        if let Some(offered) = offered {
            request.headers_mut().insert("Sec-WebSocket-Protocol", offered.parse().unwrap());
        }
        let (ws, response) = tokio_tungstenite::connect_async(request).await.expect("the handshake");
        let answered = response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(answered.as_deref(), chosen, "offered {offered:?}");
        drop(ws);
    }
}
