//! Flood control end to end in `wschat dev` with the shipped stack.yaml
//! (issue #24's targets): each client from its own 127.0.0.x address, one of
//! them a script sending 2,500 frames a second for up to 8 s. The flood stops
//! by itself: the chat closes the script's connection.

use std::net::Ipv4Addr;
use std::time::Duration;

use test_support::flood::{connect_from, flood, join, newcomers, talk};

use super::Server;

const FLOOD_TEXT: &str = "buy now";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_flood_is_cut_short_and_nobody_else_notices() {
    send_flood(Server::start(&[])).await
}

/// [`a_send_flood_is_cut_short_and_nobody_else_notices`] on `server` (also run with the handlers as processes, `super::processes`).
pub(super) async fn send_flood(server: Server) {
    let url = &server.websocket;
    let bystander = join(url, Ipv4Addr::new(127, 0, 0, 2), "bystander").await;
    let flooder = join(url, Ipv4Addr::new(127, 0, 0, 3), "mallory").await;

    let frame = r#"{"action":"send","text":"buy now"}"#;
    let flooding = tokio::spawn(flood(flooder, frame, 2500, Duration::from_secs(8)));
    let talking = tokio::spawn(talk(bystander, 10, Duration::from_millis(500), FLOOD_TEXT));
    let refused = newcomers(url, 24, Duration::from_millis(80)).await;
    let (seen, heard) = (flooding.await.unwrap(), talking.await.unwrap());

    let (refusal, closed) = (seen.first_refusal.expect("refused"), seen.closed.expect("closed"));
    eprintln!(
        "send flood: {} frames sent, first refusal at {refusal:?}, closed at {closed:?}; bystander latencies {:?}; \
         {} flood messages reached the bystander; {refused} of 24 newcomers refused",
        seen.sent, heard.latencies, heard.flooded
    );
    assert!(closed - refusal < Duration::from_secs(2), "closed {:?} after passing its limit", closed - refusal);
    assert!(seen.sent < 2500 * 8, "the flood stopped early: the connection was closed");
    assert!(heard.latencies.iter().all(|l| l.is_some_and(|l| l < Duration::from_secs(2))), "{:?}", heard.latencies);
    assert!(refused * 4 <= 24, "{refused} of 24 newcomers refused");
    // chat.limits.messages: 2 a second, 20 at once.
    let allowed = (2.0 * closed.as_secs_f64()).ceil() as usize + 20;
    assert!((1..=allowed).contains(&heard.flooded), "{} flood messages fanned out; at most {allowed}", heard.flooded);
    let last = seen.refusals.last().unwrap()["error"].as_str().unwrap().to_string();
    assert!(last.starts_with("closed: chat.limits.messages allows 2 a second, 20 at once"), "{last}");
    assert!(last.ends_with("you may reconnect in 60 s"), "{last}");

    // The cool-down: the script's address is refused, the others are not.
    for _ in 0..3 {
        let again = connect_from(&format!("{url}?username=mallory"), Ipv4Addr::new(127, 0, 0, 3)).await;
        assert_eq!(again.err(), Some(429));
    }
    assert!(connect_from(&format!("{url}?username=someone"), Ipv4Addr::new(127, 0, 2, 1)).await.is_ok());
    server.wait_for_log("closed a flooder").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typing_flood_is_cut_short_too() {
    let server = Server::start(&[]);
    let flooder = join(&server.websocket, Ipv4Addr::new(127, 0, 0, 4), "typist").await;
    let frame = r#"{"action":"typing","conversation":"everyone"}"#;
    let seen = flood(flooder, frame, 2500, Duration::from_secs(8)).await;
    let (refusal, closed) = (seen.first_refusal.expect("refused"), seen.closed.expect("closed"));
    eprintln!("typing flood: {} frames sent, first refusal at {refusal:?}, closed at {closed:?}", seen.sent);
    assert!(closed - refusal < Duration::from_secs(2));
    assert!(seen.refusals.iter().all(|r| r["limit"] == "frames"), "{:?}", seen.refusals);
    let again = connect_from(&server.websocket, Ipv4Addr::new(127, 0, 0, 4)).await;
    assert_eq!(again.err(), Some(429));
}
