//! Each sample README's `wscat` transcript (the samples docs/protocol.md names), replayed
//! against `wschat dev` with the real wscat (`node_modules/.bin/wscat`, which
//! `scripts/test` installs).
//!
//! wscat is driven two ways, both without a terminal:
//! - `wscat -c URL -x FRAME -w SECONDS`: sends the frames on open, prints what
//!   arrives, and exits after the wait;
//! - `wscat -c URL` with stdin piped: each line written is sent as a frame
//!   (once connected; the welcome says when), and each frame received is one
//!   line on stdout, as in an interactive session.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Server, welcome_id};

/// How long wscat gets for any one line.
const LINE_WAIT: Duration = Duration::from_secs(10);

fn wscat_path() -> PathBuf {
    let path = crate::support::root().join("node_modules/.bin/wscat");
    assert!(path.exists(), "{} is missing: run ./scripts/test once (it installs wscat from npm)", path.display());
    path
}

/// `wscat -c URL ARGS...` with stdin and stdout on pipes.
fn spawn(url: &str, args: &[String]) -> Child {
    Command::new(wscat_path())
        .args(["-c", url])
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting wscat")
}

/// An interactive wscat session on pipes.
struct Wscat {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// The connection id, from the welcome.
    id: String,
}

impl Wscat {
    /// `wscat -c URL`, waiting for the welcome (which also says the socket is open).
    fn connect(url: &str) -> Wscat {
        let mut child = spawn(url, &[]);
        let stdin = child.stdin.take().expect("piped stdin");
        let lines = read_lines(child.stdout.take().expect("piped stdout"));
        let mut wscat = Wscat { child, stdin, lines, id: String::new() };
        let welcome = wscat.next();
        wscat.id = welcome_id(&welcome).unwrap_or_else(|| panic!("wscat expected a welcome, got {welcome}"));
        wscat
    }

    /// Types one line (one frame).
    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("writing to wscat");
        self.stdin.flush().expect("flushing wscat's stdin");
    }

    /// Two windows on `server`, the first past the notice that the second joined.
    fn two(server: &Server) -> (Wscat, Wscat) {
        let url = server.websocket.as_str();
        let mut first = Wscat::connect(url);
        let second = Wscat::connect(url);
        first.next(); // the join notice
        (first, second)
    }

    /// The next line wscat printed.
    fn next(&mut self) -> String {
        self.lines.recv_timeout(LINE_WAIT).unwrap_or_else(|_| panic!("wscat printed nothing within {LINE_WAIT:?}"))
    }

    fn next_json(&mut self) -> Value {
        let line = self.next();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }
}

impl Drop for Wscat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(stdout: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // After each line it sends, wscat prints its prompt, `> `, with
            // no newline: what arrives next is printed after it.
            let mut line = line.as_str();
            while let Some(rest) = line.strip_prefix("> ") {
                line = rest;
            }
            if tx.send(line.to_string()).is_err() {
                break;
            }
        }
    });
    rx
}

/// `wscat -c URL -x FRAME... -w SECONDS`: every line it printed.
fn execute(url: &str, frames: &[&str], wait_seconds: u32) -> Vec<String> {
    let mut args: Vec<String> = frames.iter().flat_map(|frame| ["-x".to_string(), frame.to_string()]).collect();
    args.extend(["-w".to_string(), wait_seconds.to_string()]);
    let started = Instant::now();
    // wscat quits at once, before connecting, when its stdin is at end of
    // file (`/dev/null`): it gets a pipe that stays open until it exits.
    let mut child = spawn(url, &args);
    let stdin = child.stdin.take();
    let lines = read_lines(child.stdout.take().expect("piped stdout"));
    let status = child.wait().expect("waiting for wscat");
    drop(stdin);
    assert!(status.success(), "wscat failed: {status:?}");
    assert!(started.elapsed() >= Duration::from_secs(u64::from(wait_seconds)), "wscat quit early");
    lines.iter().collect()
}

/// serverless-patterns apigw-websocket-api-lambda (004):
/// `> {"action":"post", "data":"hello world"}` then `< hello world`.
#[test]
fn serverless_patterns_post_returns_the_data() {
    let server = Server::start(&[]);
    let lines = execute(&server.websocket, &[r#"{"action":"post", "data":"hello world"}"#], 2);
    assert!(lines.contains(&"hello world".to_string()), "wscat printed {lines:?}");
}

/// AwsWebsocketDotnetTemplate (003): the Default function parrots the message back.
#[test]
fn dotnet_template_default_route_parrots_the_message() {
    let server = Server::start(&[]);
    let url = server.websocket.as_str();
    let mut wscat = Wscat::connect(url);
    for line in ["hello", "Hello, parrot!", r#"{"not":"an action"}"#] {
        wscat.send(line);
        assert_eq!(wscat.next(), line);
    }
}

/// The page's keepalive, by hand: API Gateway (here the gateway) answers
/// `ping` itself, whatever the connection's format.
#[test]
fn ping_is_answered_pong() {
    let server = Server::start(&[]);
    let mut wscat = Wscat::connect(&server.websocket);
    wscat.send(r#"{"action":"ping"}"#);
    assert_eq!(wscat.next(), r#"{"type":"pong"}"#);
}

/// λ# WebSocketsChat (000): `{"action":"send","text":"<message>"}` reaches
/// every window as `{"action":"message","from":..,"text":..}`.
#[test]
fn lambda_sharp_send_reaches_every_window() {
    let server = Server::start(&[]);
    let url = server.websocket.as_str();
    let mut first = Wscat::connect(url);
    let mut second = Wscat::connect(url);
    let joined = first.next_json();
    assert_eq!(joined["from"], "#host", "{joined}");
    first.send(r#"{"action": "send", "text": "Hello from wscat"}"#);
    for window in [&mut first, &mut second] {
        let message = window.next_json();
        assert_eq!(message["action"], "message");
        assert!(message["from"].as_str().unwrap().starts_with("Anonymous-"), "{message}");
        assert_eq!(message["text"], "Hello from wscat");
    }
}

/// go-apigw-webchat (001): broadcast, list, and chat to a user.
#[test]
fn go_webchat_broadcast_list_and_chat() {
    let server = Server::start(&[]);
    let (mut first, mut second) = Wscat::two(&server);

    first.send(r#"{"action":"broadcast","message":"Anybody home?"}"#);
    assert_eq!(first.next(), "Anybody home?");
    assert_eq!(second.next(), "Anybody home?");

    first.send(r#"{"action":"list"}"#);
    let list = first.next();
    let mut ids: Vec<&str> = list.strip_prefix("connections: ").expect(&list).split(' ').collect();
    ids.sort_unstable();
    let mut want = vec![first.id.as_str(), second.id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // The README's frame names no user: the handler says what is missing
    // (the stack puts no model on `chat`: go-apigw-webchat had none).
    first.send(r#"{"action":"chat","message":"Yo!"}"#);
    assert_eq!(first.next(), r#"{"message":"chat needs a target connection","type":"err"}"#);
    first.send(&json!({"action":"chat","connection":second.id,"message":"Yo!"}).to_string());
    assert_eq!(second.next(), "Yo!");
}

/// liveChat (002): create a room, join it from another window, talk in it.
#[test]
fn live_chat_rooms() {
    let server = Server::start(&[]);
    let (mut host, mut guest) = Wscat::two(&server);

    host.send(r#"{"action":"createRoom","name":"Ann"}"#);
    let info = host.next_json();
    assert_eq!(info["type"], "info", "{info}");
    let code = info["message"].as_str().unwrap().strip_prefix("You are now connected to room ").unwrap().to_string();

    guest.send(r#"{"action":"joinRoom","name":"Ben","roomCode":"ffffffff"}"#);
    assert_eq!(guest.next_json(), json!({"message":"No room with that code exists","type":"err"}));
    guest.send(&json!({"action":"joinRoom","name":"Ben","roomCode":code}).to_string());
    assert_eq!(guest.next_json(), json!({"message": format!("You are now connected to room {code}"), "type":"info"}));

    host.send(r#"{"action":"sendMessage","message":"Welcome, Ben"}"#);
    assert_eq!(guest.next_json(), json!({"message":"Welcome, Ben","from":"Ann"}));
    guest.send(r#"{"action":"sendMessage","message":"Thanks, Ann"}"#);
    assert_eq!(host.next_json(), json!({"message":"Thanks, Ann","from":"Ben"}));
    // liveChat answers a sendMessage without a message itself, and so does
    // the chat, in liveChat's words (no model stands in front of it).
    guest.send(r#"{"action":"sendMessage"}"#);
    assert_eq!(guest.next(), r#"{"message":"You need to add a message on sendMessage action","type":"err"}"#);
}
