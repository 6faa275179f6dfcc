//! The integration timeout in `wschat dev`: a handler slowed down for real,
//! by DynamoDB calls that take longer than `--integration-timeout` (dev with
//! `--aws-store` through the realism proxy, with a latency on every call).

use std::time::{Duration, Instant};

use test_support::Moto;
use test_support::realism::{Behaviours, Realism};

use super::refused_upgrade;
use super::throttle::assert_gateway_frame;
use super::{Client, Server};
use crate::support;

#[tokio::test]
async fn a_handler_past_the_integration_timeout_is_answered_for_and_the_connection_stays() {
    let moto = Moto::shared();
    let proxy = Realism::start(&moto.endpoint(), Behaviours::default());
    let server = Server::spawn_with_env(
        &support::root(),
        &[
            "dev",
            "--port",
            "0",
            "--aws-store",
            "--stage",
            "devslow",
            "--endpoint-url",
            &proxy.endpoint(),
            "--integration-timeout",
            "2",
        ],
        &proxy.env(),
    );
    let mut alice = Client::join(&server, "username=alice").await;

    // Every AWS call now takes 2.5 s: the handler's first DynamoDB read alone
    // outlasts the 2 s timeout. (With 1 s, alice's own `$connect`, a few
    // calls through moto, outlasted it once on a loaded machine.)
    proxy.update(|b| b.latency_ms = 2_500);
    let sent = Instant::now();
    alice.send(r#"{"action":"send","text":"slow"}"#).await;
    assert_gateway_frame(&alice.next().await, "Endpoint request timed out", &alice.id);
    let waited = sent.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_millis(2_500), "answered after {waited:?}");
    server.wait_for_log(&format!("the route handler of send {} ran past the integration timeout", alice.id)).await;
    // The handler runs on, as a Lambda function does; its answer goes nowhere.
    // Each of its AWS calls takes 2.5 s, and it makes several (the caller's
    // row, its chat.limits bucket, the history, the queue): it ends well
    // after the frame's usual wait.
    let late = format!("late       send {} -> 200 dropped", alice.id);
    server.wait_for_log_within(&late, Duration::from_secs(30)).await;

    // `$connect` past the timeout refuses the upgrade with 504.
    let (status, body, _) = refused_upgrade(&server, "username=bob").await;
    assert_eq!((status, body.as_str()), (504, r#"{"message":"Endpoint request timed out"}"#));
    server.wait_for_log("?username=bob -> 504 Endpoint request timed out").await;

    // alice's connection stayed open: with AWS fast again, her message goes
    // round. What the late handlers queued may arrive first (her `slow`, bob's
    // join notice), as it would on AWS.
    proxy.update(|b| b.latency_ms = 0);
    alice.send(r#"{"action":"send","text":"fast"}"#).await;
    let fast = r#"{"action":"message","from":"alice","text":"fast"}"#;
    let mut before = Vec::new();
    loop {
        match alice.next().await {
            frame if frame == fast => break,
            other => before.push(other),
        }
    }
    for frame in &before {
        assert!(
            frame == r#"{"action":"message","from":"alice","text":"slow"}"# || frame.contains("bob joined"),
            "unexpected frame before alice's own: {frame}"
        );
    }
}
