//! `wschat dev` runs a function whose crate is the user's own as a process
//! of its own, behind a local Lambda Runtime API, instead of the shipped
//! handlers: its route answers with its code, a crash is API Gateway's
//! `Internal server error` and a function past the integration timeout its
//! `Endpoint request timed out`, dev stays up, and a crate that does not
//! build stops dev with cargo's message. `--watch` swaps its code.

use std::path::Path;
use std::time::Duration;

use super::{Client, Server, stack_copy};

/// A Lambda custom runtime in plain std (no dependency to compile): it
/// takes events from the Runtime API, posts `MARK` to the caller of the
/// `echo` route through dev's Management API (`WSCHAT_MANAGEMENT_ENDPOINT`),
/// and exits when an event says `crash`.
const ECHO: &str = r#"
use std::io::{Read, Write};
use std::net::TcpStream;

fn request(host: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(host).expect("connecting");
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((reply.as_str(), ""));
    (head.to_ascii_lowercase(), body.to_string())
}

fn field(json: &str, name: &str) -> String {
    let start = json.find(&format!("\"{name}\":\"")).map(|i| i + name.len() + 4).unwrap_or(json.len());
    json[start..].split('"').next().unwrap_or_default().to_string()
}

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap();
    let endpoint = std::env::var("WSCHAT_MANAGEMENT_ENDPOINT").unwrap();
    let (host, stage) = endpoint.strip_prefix("http://").unwrap().split_once('/').unwrap();
    loop {
        let (head, event) = request(&api, "GET", "/2018-06-01/runtime/invocation/next", "");
        let id = head.lines().find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id:")).unwrap().trim().to_string();
        if event.contains("crash") {
            std::process::exit(3);
        }
        if event.contains("slow") {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        if event.contains("nap") {
            std::thread::sleep(std::time::Duration::from_millis(1500));
        }
        if event.contains("environment") {
            let connection = field(&event, "connectionId");
            let vars = ["GREETING", "WSCHAT_TABLE", "AWS_LAMBDA_FUNCTION_NAME"].map(|v| std::env::var(v).unwrap_or_default());
            request(host, "POST", &format!("/{stage}/@connections/{connection}"), &vars.join("|"));
        } else if field(&event, "routeKey") == "echo" {
            let connection = field(&event, "connectionId");
            request(host, "POST", &format!("/{stage}/@connections/{connection}"), "MARK");
        }
        request(&api, "POST", &format!("/2018-06-01/runtime/invocation/{id}/response"), "{\"statusCode\":200}");
    }
}
"#;

/// The shipped stack with a function `echo` on the route `echo`, from the
/// crate `lambdas/{package}` holding `main`.
fn with_echo(dir: &Path, package: &str, main: &str) {
    let krate = dir.join("lambdas").join(package);
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        format!("[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
    )
    .unwrap();
    std::fs::write(krate.join("src/main.rs"), main).unwrap();
    let file = dir.join("stack.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let yaml = yaml
        .replacen(
            "functions:\n",
            &format!("functions:\n  echo: {{ crate: lambdas/{package}, environment: {{ GREETING: hello }} }}\n"),
            1,
        )
        .replacen("  routes:\n", "  routes:\n    echo: echo\n", 1);
    std::fs::write(&file, yaml).unwrap();
}

#[tokio::test]
async fn a_function_of_the_user_s_own_crate_answers_its_route_and_a_crash_leaves_dev_up() {
    let dir = stack_copy();
    with_echo(dir.path(), "wschat-dev-test-echo", ECHO);
    let server = Server::start_in(dir.path(), &["--integration-timeout", "1"]);
    assert!(server.log().contains("function   echo:"), "{}", server.log());
    let mut alice = Client::join(&server, "username=alice").await;
    alice.send(r#"{"action":"echo"}"#).await;
    assert_eq!(alice.next().await, "MARK", "the echo process answered through the Management API");
    // The environment deploy gives it: stack.yaml's, the stack's names.
    alice.send(r#"{"action":"echo","environment":true}"#).await;
    assert_eq!(alice.next().await, "hello|wschat-dev-connections|wschat-dev-echo");

    // It crashes: API Gateway's answer for a failed integration, and the
    // connection stays.
    alice.send(r#"{"action":"echo","crash":true}"#).await;
    let failed = alice.next_json().await;
    assert_eq!(failed["message"], "Internal server error", "{failed}");
    server.wait_for_log("starting it again").await;
    alice.send(r#"{"action":"echo"}"#).await;
    assert_eq!(alice.next().await, "MARK", "the process was started again");
    // It runs past the integration timeout: API Gateway's answer for that.
    alice.send(r#"{"action":"echo","slow":true}"#).await;
    let late = alice.next_json().await;
    assert_eq!(late["message"], "Endpoint request timed out", "{late}");
    // The shipped handlers still serve the other routes.
    alice.send(r#"{"action":"sendmessage","data":"still here"}"#).await;
    assert!(alice.next().await.contains("still here"));
    alice.expect_silence(Duration::from_millis(200)).await;
}

#[test]
fn a_crate_that_does_not_build_stops_dev_with_cargo_s_message() {
    let dir = stack_copy();
    with_echo(dir.path(), "wschat-dev-test-broken", "fn main() { let x = ; }\n");
    let out = crate::support::wschat(dir.path())
        .args(["dev", "--port", "0"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("function `echo`: building crate `lambdas/wschat-dev-test-broken` failed"), "{stderr}");
    assert!(stderr.contains("expected expression"), "cargo's own message: {stderr}");
}

/// `--watch`: an edit to the crate is built and swapped in while a client
/// stays connected; the old process finishes and ends; an edit that does
/// not build leaves the last good code serving.
#[tokio::test]
async fn watch_swaps_the_code_under_an_open_connection_and_a_broken_edit_keeps_the_old() {
    let dir = stack_copy();
    with_echo(dir.path(), "wschat-dev-test-watch", ECHO);
    let server = Server::start_in(dir.path(), &["--watch"]);
    let mut alice = Client::join(&server, "username=alice").await;
    alice.send(r#"{"action":"echo"}"#).await;
    assert_eq!(alice.next().await, "MARK");

    let main = dir.path().join("lambdas/wschat-dev-test-watch/src/main.rs");
    std::fs::write(&main, ECHO.replace("\"MARK\")", "\"MARK 2\")")).unwrap();
    let edited = std::time::Instant::now();
    let log = server.wait_for_log("new code serving").await;
    alice.send(r#"{"action":"echo"}"#).await;
    assert_eq!(alice.next().await, "MARK 2", "the new code answers: {log}");
    eprintln!("edit to the new code's answer: {:.2} s", edited.elapsed().as_secs_f64());
    server.wait_for_log("the old process ended").await;

    std::fs::write(&main, "fn main() { let x = ; }\n").unwrap();
    server.wait_for_log("the old code keeps serving").await;
    let log = server.log();
    assert!(log.contains("expected expression"), "cargo's message is shown: {log}");
    alice.send(r#"{"action":"echo"}"#).await;
    assert_eq!(alice.next().await, "MARK 2", "the last good code still serves");
    // The same connection all along: the chat still reaches it.
    alice.send(r#"{"action":"sendmessage","data":"still connected"}"#).await;
    assert!(alice.next().await.contains("still connected"));
}

/// Ten swaps while three clients keep calling the function: every frame
/// gets its one answer (from the old code or the new, never going back),
/// and no connection drops.
#[tokio::test]
async fn ten_swaps_under_load_lose_no_invocation_and_no_connection() {
    let dir = stack_copy();
    with_echo(dir.path(), "wschat-dev-test-swaps", &ECHO.replace("\"MARK\")", "\"MARK 0\")"));
    let server = Server::start_in(dir.path(), &["--watch", "--no-throttle"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for i in 0..3 {
        let mut client = Client::join(&server, &format!("username=u{i}")).await;
        let stop = stop.clone();
        callers.push(tokio::spawn(async move {
            let (mut answers, mut last) = (0, 0);
            // Until stopped, and then until a call made after the last swap
            // answers: one handed out before it may still come from the old
            // code, however late (5 s at most).
            let mut stopped_at = None;
            loop {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let at = *stopped_at.get_or_insert_with(std::time::Instant::now);
                    if last == 10 || at.elapsed() > Duration::from_secs(5) {
                        break;
                    }
                }
                client.send(r#"{"action":"echo"}"#).await;
                // Others' joins come in between.
                let mut answer = client.next().await;
                while !answer.starts_with("MARK") {
                    answer = client.next().await;
                }
                let version: u32 = answer.strip_prefix("MARK ").and_then(|v| v.parse().ok()).expect(&answer);
                assert!(version >= last, "an answer from older code after newer: {version} after {last}");
                (answers, last) = (answers + 1, version);
            }
            (answers, last, client)
        }));
    }
    let main = dir.path().join("lambdas/wschat-dev-test-swaps/src/main.rs");
    for version in 1..=10 {
        std::fs::write(&main, ECHO.replace("\"MARK\")", &format!("\"MARK {version}\")"))).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while server.log().matches("new code serving").count() < version {
            assert!(std::time::Instant::now() < deadline, "swap {version} did not happen: {}", server.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut clients = Vec::new();
    for caller in callers {
        let (answers, last, client) = caller.await.unwrap();
        assert!(answers > 20 && last == 10, "{answers} answers, the last from version {last}");
        clients.push(client);
    }
    for client in &mut clients {
        // Nothing more comes: each frame got one answer.
        client.expect_silence(Duration::from_millis(200)).await;
    }
    for client in &mut clients {
        client.send(r#"{"action":"sendmessage","data":"still connected"}"#).await;
        while !client.next().await.contains("still connected") {}
    }
}

/// Three events at once find the one process busy: dev starts more, as
/// Lambda starts instances, and the three take about one event's time.
#[tokio::test]
async fn events_at_once_get_processes_of_their_own() {
    let dir = stack_copy();
    with_echo(dir.path(), "wschat-dev-test-scale", ECHO);
    let server = Server::start_in(dir.path(), &[]);
    let mut clients = Vec::new();
    for i in 0..3 {
        clients.push(Client::join(&server, &format!("username=n{i}")).await);
    }
    let started = std::time::Instant::now();
    for client in &mut clients {
        client.send(r#"{"action":"echo","nap":true}"#).await;
    }
    for client in &mut clients {
        while client.next().await != "MARK" {}
    }
    let took = started.elapsed();
    // One at a time would take 4.5 s.
    assert!(took < Duration::from_millis(3_000), "three 1.5 s events took {took:?}");
}
