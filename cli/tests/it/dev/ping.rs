//! `ping`, the page's keepalive: a mock route, answered `{"type":"pong"}` by
//! the gateway itself, as API Gateway answers it through its MOCK
//! integration, with no handler run (docs/presence.md).

use super::stack_copy;
use super::throttle::{assert_gateway_frame, set_route_throttle};
use super::{Client, Server};

const PONG: &str = r#"{"type":"pong"}"#;

/// The debug log (`-v`) has one `event` line per handler invocation, with
/// its route key: what tells whether a handler ran for a route.
fn invocations(server: &Server, route: &str) -> usize {
    let needle = format!(r#""routeKey":"{route}""#);
    server.log().lines().filter(|l| l.contains(" event ") && l.contains(&needle)).count()
}

#[tokio::test]
async fn ping_is_answered_pong_by_the_gateway_for_json_and_compat_clients_and_runs_no_handler() {
    let server = Server::start(&["-v"]);
    let mut alice = Client::join(&server, "username=alice&format=json").await;
    alice.send(r#"{"action":"ping"}"#).await;
    assert_eq!(alice.next().await, PONG);

    let mut bob = Client::join(&server, "username=bob").await;
    bob.send(r#"{"action":"ping"}"#).await;
    assert_eq!(bob.next().await, PONG, "a compat client gets the same pong");
    bob.send(r#"{"action":"ping","extra":[1,2]}"#).await;
    assert_eq!(bob.next().await, PONG, "whatever else the frame holds");

    // Logged as a route, answered by the gateway; the handler never saw one.
    for id in [&alice.id, &bob.id] {
        server.wait_for_log(&format!("route      {id} ping -> MOCK")).await;
    }
    // The control: a frame the handler does answer shows as its event.
    bob.send(r#"{"action":"list"}"#).await;
    assert!(bob.next().await.starts_with("connections: "));
    server.wait_for_log(r#""routeKey":"list""#).await;
    assert_eq!(invocations(&server, "list"), 1);
    assert_eq!(invocations(&server, "ping"), 0, "a handler ran for ping:\n{}", server.log());
}

#[tokio::test]
async fn a_ping_over_its_throttle_gets_too_many_requests() {
    // One token, which the first ping takes: a mock route is throttled on
    // its own bucket as any route is, though no handler runs for it.
    let dir = stack_copy();
    set_route_throttle(&dir, "ping", 0.01, 1);
    let server = Server::start_in(dir.path(), &[]);
    let mut alice = Client::join(&server, "username=alice").await;
    alice.send(r#"{"action":"ping"}"#).await;
    assert_eq!(alice.next().await, PONG);
    alice.send(r#"{"action":"ping"}"#).await;
    assert_gateway_frame(&alice.next().await, "Too Many Requests", &alice.id);
}
