//! Route throttling in `wschat dev`, as API Gateway applies it: a token
//! bucket (rate, burst) per route key, `$connect` included, at the route's own
//! `throttle` or else `api.throttle`, each shared by every connection.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Client, Server, refused_upgrade, stack_copy};

/// [`stack_copy`] with `api.throttle` set: the throttle of every route
/// without one of its own (`$default` among them).
pub fn stack_with_throttle(rate: f64, burst: u32) -> tempfile::TempDir {
    let dir = stack_copy();
    let file = dir.path().join("stack.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let shipped = "\n  throttle: { rate: 200, burst: 400 }\n";
    assert!(yaml.contains(shipped), "no `api.throttle` in:\n{yaml}");
    let throttled = yaml.replacen(shipped, &format!("\n  throttle: {{ rate: {rate}, burst: {burst} }}\n"), 1);
    std::fs::write(&file, throttled).unwrap();
    dir
}

/// `dir`'s stack.yaml with route `key`'s own throttle set.
pub fn set_route_throttle(dir: &tempfile::TempDir, key: &str, rate: f64, burst: u32) {
    let file = dir.path().join("stack.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let start = yaml.find(&format!("\n    {key}:")).unwrap_or_else(|| panic!("no route {key} in:\n{yaml}")) + 1;
    let end = start + yaml[start..].find('\n').unwrap();
    let line = &yaml[start..end];
    let from = line.find("throttle: {").unwrap_or_else(|| panic!("route {key} has no throttle: {line}"));
    let to = from + line[from..].find('}').unwrap() + 1;
    let changed = format!("{}throttle: {{ rate: {rate}, burst: {burst} }}{}", &line[..from], &line[to..]);
    std::fs::write(&file, format!("{}{changed}{}", &yaml[..start], &yaml[end..])).unwrap();
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

    // `$default`'s bucket is full: `$connect` takes a token of its own bucket.
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

    // The bucket held BURST tokens, and gained at most RATE a second since:
    // the first BURST frames pass, and no more than the refill allows (with
    // 0.5/s over the ~1 s join, none).
    let most = BURST as f64 + RATE * elapsed;
    assert!(
        accepted.len() >= BURST && accepted.len() as f64 <= most,
        "{} of {FRAMES} frames passed in {elapsed:.2} s; expected {BURST} to {most:.2}",
        accepted.len(),
    );
    assert_eq!(accepted.len() + refused, FRAMES);
    let first: Vec<String> = (0..BURST).map(|i| format!("burst-{i}")).collect();
    assert_eq!(accepted[..BURST], first[..]);

    // The handler ran for the frames that passed, and for no other.
    wait_for_lines(&server, &format!("throttle   {} $default -> Too Many Requests", alice.id), refused).await;
    wait_for_lines(&server, &format!("route      {} $default -> 200", alice.id), accepted.len()).await;

    // The bucket never goes below empty: 1/rate seconds on, a token is back,
    // and the connection is still open to use it.
    tokio::time::sleep(Duration::from_secs_f64(1.0 / RATE)).await;
    alice.send("after the wait").await;
    assert_eq!(alice.next().await, "after the wait");
}

#[tokio::test]
async fn a_connection_over_the_throttle_is_429_at_the_upgrade_and_connect_never_runs() {
    // `$connect` throttled to 0 lets no connection through.
    let dir = stack_copy();
    set_route_throttle(&dir, "$connect", 1.0, 0);
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
    set_route_throttle(&dir, "$connect", 1.0, 0);
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

/// API Gateway throttles each route on its own: a flood on `typing` spends
/// `typing`'s bucket, and `send` and `$connect` keep theirs (the flood of
/// issue #24 starved every route through the one bucket dev had).
#[tokio::test]
async fn a_flood_on_typing_throttles_typing_alone() {
    const FLOOD: usize = 40;
    const BURST: usize = 3;
    let dir = stack_copy();
    // Ten seconds a token: nothing refills during the test.
    set_route_throttle(&dir, "typing", 0.1, BURST as u32);
    let server = Server::start_in(dir.path(), &[]);
    let mut alice = Client::join(&server, "username=alice").await;
    let mut bob = Client::join(&server, "username=bob").await;
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"bob joined"}"##);

    let typing = json!({"action": "typing", "conversation": "everyone"}).to_string();
    for _ in 0..FLOOD {
        alice.send(&typing).await;
    }
    for _ in 0..FLOOD - BURST {
        let frame = alice.next().await;
        super::throttle::assert_gateway_frame(&frame, "Too Many Requests", &alice.id);
    }
    let flooded = format!("throttle   {} typing -> Too Many Requests", alice.id);
    wait_for_lines(&server, &flooded, FLOOD - BURST).await;

    // `typing`'s bucket is empty; `send` and `$connect` are untouched.
    bob.send(r#"{"action":"send","text":"still here"}"#).await;
    let said = r#"{"action":"message","from":"bob","text":"still here"}"#;
    assert_eq!(bob.next().await, said);
    assert_eq!(alice.next().await, said);
    alice.send(r#"{"action":"send","text":"me too"}"#).await;
    assert_eq!(alice.next().await, r#"{"action":"message","from":"alice","text":"me too"}"#);
    assert_eq!(bob.next().await, r#"{"action":"message","from":"alice","text":"me too"}"#);
    let carol = Client::join(&server, "username=carol").await;
    assert!(!carol.id.is_empty());
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"carol joined"}"##);
    alice.send(&typing).await;
    super::throttle::assert_gateway_frame(&alice.next().await, "Too Many Requests", &alice.id);

    // Every frame the gateway refused was a `typing` one (the log line of the
    // last refusal may follow its frame to the client by a moment).
    wait_for_lines(&server, "throttle   ", FLOOD - BURST + 1).await;
}
