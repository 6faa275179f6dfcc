//! `api.throttle` in `wschat dev`: the stage's default route throttling, one
//! token bucket (rate, burst) for every connection's `$connect` and frames.

use std::time::{Duration, Instant};

use super::{Client, Server, refused_upgrade, stack_copy};

/// [`stack_copy`] with `api.throttle` set.
pub fn stack_with_throttle(rate: f64, burst: u32) -> tempfile::TempDir {
    let dir = stack_copy();
    let file = dir.path().join("stack.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(yaml.contains("\napi:\n"), "no `api:` section in:\n{yaml}");
    let throttled = yaml.replacen("\napi:\n", &format!("\napi:\n  throttle: {{ rate: {rate}, burst: {burst} }}\n"), 1);
    std::fs::write(&file, throttled).unwrap();
    dir
}

/// Asserts that `frame` is API Gateway's own frame with `message` for
/// `connection_id`, in the shape of its documented `Invalid request body`:
/// `{"message": "..", "connectionId":"..", "requestId":".."}`.
pub fn assert_gateway_frame(frame: &str, message: &str, connection_id: &str) {
    let prefix = format!(r#"{{"message": "{message}", "connectionId":"{connection_id}", "requestId":""#);
    let request_id = frame
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(r#""}"#))
        .unwrap_or_else(|| panic!("expected {message:?} for {connection_id}, got {frame}"));
    assert!(request_id.len() == 16 && request_id.ends_with('='), "request id {request_id:?} in {frame}");
}

/// Waits until the log has exactly `count` lines containing `needle`.
async fn wait_for_lines(server: &Server, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.log();
        let found = log.lines().filter(|l| l.contains(needle)).count();
        if found == count {
            return;
        }
        assert!(Instant::now() < deadline, "{found} lines with {needle:?}, expected {count}; the log:\n{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn frames_over_the_rate_and_burst_get_too_many_requests_and_the_connection_stays() {
    const RATE: f64 = 0.5;
    const BURST: usize = 5;
    const FRAMES: usize = 12;
    let dir = stack_with_throttle(RATE, BURST as u32);
    let server = Server::start_in(dir.path(), &[]);

    // The bucket is full until this connection's `$connect` takes a token.
    let started = Instant::now();
    let mut alice = Client::join(&server, "username=alice").await;
    for i in 0..FRAMES {
        alice.send(&format!("burst-{i}")).await;
    }
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for _ in 0..FRAMES {
        let frame = alice.next().await;
        if frame.starts_with("burst-") {
            accepted.push(frame);
        } else {
            assert_gateway_frame(&frame, "Too Many Requests", &alice.id);
            refused += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    // The bucket held BURST - 1 tokens after `$connect`, and gained at most
    // RATE a second since: the first BURST - 1 frames pass, and no more than
    // the refill allows (with 0.5/s over the ~1 s join, none).
    let most = (BURST - 1) as f64 + RATE * elapsed;
    assert!(
        accepted.len() >= BURST - 1 && accepted.len() as f64 <= most,
        "{} of {FRAMES} frames passed in {elapsed:.2} s; expected {} to {most:.2}",
        accepted.len(),
        BURST - 1
    );
    assert_eq!(accepted.len() + refused, FRAMES);
    let first: Vec<String> = (0..BURST - 1).map(|i| format!("burst-{i}")).collect();
    assert_eq!(accepted[..BURST - 1], first[..]);

    // The handler ran for the frames that passed, and for no other.
    wait_for_lines(&server, &format!("throttle   {} -> Too Many Requests", alice.id), refused).await;
    wait_for_lines(&server, &format!("route      {} $default -> 200", alice.id), accepted.len()).await;

    // The bucket never goes below empty: 1/rate seconds on, a token is back,
    // and the connection is still open to use it.
    tokio::time::sleep(Duration::from_secs_f64(1.0 / RATE)).await;
    alice.send("after the wait").await;
    assert_eq!(alice.next().await, "after the wait");
}

#[tokio::test]
async fn a_connection_over_the_throttle_is_429_at_the_upgrade_and_connect_never_runs() {
    // A stage throttled to 0 lets nothing through, not even a connection.
    let dir = stack_with_throttle(1.0, 0);
    let server = Server::start_in(dir.path(), &[]);
    let (status, body, kind) = refused_upgrade(&server, "username=alice").await;
    assert_eq!(
        (status, body.as_str(), kind.as_deref()),
        (429, r#"{"message":"Too Many Requests"}"#, Some("TooManyRequestsException"))
    );
    server.wait_for_log("$connect -> 429; $connect is not run").await;
    let log = server.log();
    assert!(!log.contains("connect    "), "$connect ran for a throttled upgrade:\n{log}");
}

#[tokio::test]
async fn no_throttle_lets_everything_through() {
    let dir = stack_with_throttle(1.0, 0);
    let server = Server::start_in(dir.path(), &["--no-throttle"]);
    let mut alice = Client::join(&server, "username=alice").await;
    for i in 0..20 {
        alice.send(&format!("free-{i}")).await;
    }
    for i in 0..20 {
        assert_eq!(alice.next().await, format!("free-{i}"));
    }
    assert!(!server.log().contains("throttle   "), "{}", server.log());
}
