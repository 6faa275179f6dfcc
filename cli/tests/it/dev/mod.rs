//! `wschat dev` end to end: the real binary on a free port, real WebSocket
//! clients (tokio-tungstenite and wscat), the SDK's Management API client.

mod aws_store;
mod chat;
mod flood;
mod functions;
mod history;
mod limits;
mod management;
mod metrics;
mod models;
mod ping;
mod presence;
mod processes;
mod security;
mod seeds;
mod server;
mod signin;
mod throttle;
mod timeout;
mod wscat;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support;

/// How long a test waits for any one frame.
const FRAME_WAIT: Duration = Duration::from_secs(5);

/// A running `wschat dev`, stopped (SIGTERM) on drop.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    /// `ws://127.0.0.1:PORT/dev`, as printed.
    pub websocket: String,
    /// `http://127.0.0.1:PORT/`, as printed.
    pub website: String,
    log: Arc<Mutex<String>>,
    /// The thread copying stderr into `log`; it ends when the process does.
    reader: Option<std::thread::JoinHandle<()>>,
}

/// A server after SIGTERM.
pub struct Stopped {
    pub status: ExitStatus,
    /// All of stderr.
    pub log: String,
    pub stdout: String,
}

impl Server {
    /// `wschat dev --port 0` on the shipped stack.yaml, plus `args`.
    pub fn start(args: &[&str]) -> Server {
        Server::start_in(&support::root(), args)
    }

    /// `wschat dev --port 0` in `dir` (its stack.yaml), plus `args`.
    ///
    /// `WSCHAT_IT_DEV_ARGS` (split at spaces) adds flags to every such start:
    /// `WSCHAT_IT_DEV_ARGS=--processes` runs the dev tests against the
    /// shipped handlers as processes.
    pub fn start_in(dir: &Path, args: &[&str]) -> Server {
        let mut all = vec!["dev", "--port", "0"];
        all.extend_from_slice(args);
        let extra = std::env::var("WSCHAT_IT_DEV_ARGS").unwrap_or_default();
        all.extend(extra.split_whitespace());
        Server::spawn(dir, &all)
    }

    /// `wschat` with exactly `args` (which start a dev server) in `dir`.
    pub fn spawn(dir: &Path, args: &[&str]) -> Server {
        Server::spawn_with_env(dir, args, &[])
    }

    /// [`Server::spawn`] with extra environment variables.
    pub fn spawn_with_env(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Server {
        let mut child = support::wschat(dir)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("WSCHAT_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting wschat dev");
        let log = Arc::new(Mutex::new(String::new()));
        let (urls_tx, urls_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                for prefix in ["website:   ", "websocket: "] {
                    if let Some(url) = line.strip_prefix(prefix) {
                        let _ = urls_tx.send(url.to_string());
                    }
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut urls = Vec::new();
        while urls.len() < 2 {
            let left = deadline.saturating_duration_since(Instant::now());
            match urls_rx.recv_timeout(left) {
                Ok(url) => urls.push(url),
                Err(_) => {
                    let _ = child.kill();
                    panic!("wschat dev printed no URLs; its stderr:\n{}", log.lock().unwrap());
                }
            }
        }
        let (website, websocket) = (urls[0].clone(), urls[1].clone());
        // `ws://HOST:PORT/stage`, whatever --host is.
        let port = websocket
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .and_then(|authority| authority.rsplit_once(':'))
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or_else(|| panic!("a port in {websocket}"));
        Server { child: Some(child), port, websocket, website, log, reader: Some(reader) }
    }

    /// The dev process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("a running server").id()
    }

    /// Everything the server wrote on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log has a line containing `needle`.
    pub async fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for_log_within(needle, FRAME_WAIT).await
    }

    /// Waits up to `wait` until the log has a line containing `needle`.
    pub async fn wait_for_log_within(&self, needle: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(Instant::now() < deadline, "no log line with {needle:?}; the log:\n{log}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `ws://..` with a query string.
    pub fn url(&self, query: &str) -> String {
        if query.is_empty() { self.websocket.clone() } else { format!("{}?{query}", self.websocket) }
    }

    /// `http://127.0.0.1:PORT`, the Management API's root.
    pub fn http_root(&self) -> String {
        self.website.trim_end_matches('/').to_string()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> Stopped {
        let mut child = self.child.take().expect("a running server");
        terminate(&child);
        let status = wait_with_deadline(&mut child, Duration::from_secs(20));
        let mut stdout = String::new();
        if let Some(mut out) = child.stdout.take() {
            use std::io::Read;
            let _ = out.read_to_string(&mut stdout);
        }
        // The reader thread ends at EOF, once the process is gone: then the log is whole.
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Stopped { status, log: self.log(), stdout }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            if child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(200));
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// SIGTERM to exactly this child.
fn terminate(child: &Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for wschat dev") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wschat dev did not exit within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A chat client over a real WebSocket.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Its connection id, from the welcome.
    pub id: String,
    /// When the connection opened.
    pub opened: Instant,
    /// The history frame a JSON client got after its welcome, if any.
    pub history: Option<Value>,
    /// Frames read while looking for the history, not yet taken.
    ahead: VecDeque<Message>,
}

/// How long [`Client::join`] waits after a JSON welcome for the history frame
/// that follows it in the same fan-out (when the stack keeps a history).
const HISTORY_WAIT: Duration = Duration::from_millis(500);

impl Client {
    /// Connects with `query` (`username=alice&format=json`) and waits for the welcome.
    pub async fn join(server: &Server, query: &str) -> Client {
        let mut client = Client::open(server, query).await;
        let welcome = client.next().await;
        client.id = welcome_id(&welcome).unwrap_or_else(|| panic!("expected a welcome, got {welcome}"));
        if welcome.starts_with('{')
            && let Ok(Some(Ok(frame))) = tokio::time::timeout(HISTORY_WAIT, client.ws.next()).await
        {
            let history = frame.to_text().ok().and_then(|t| serde_json::from_str::<Value>(t).ok());
            match history {
                Some(history) if history["type"] == "history" => client.history = Some(history),
                _ if matches!(frame, Message::Ping(_) | Message::Pong(_)) => {}
                _ => client.ahead.push_back(frame),
            }
        }
        client
    }

    /// Connects without waiting for anything.
    pub async fn open(server: &Server, query: &str) -> Client {
        let opened = Instant::now();
        let (ws, _) = tokio_tungstenite::connect_async(server.url(query))
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", server.url(query)));
        Client { ws, id: String::new(), opened, history: None, ahead: VecDeque::new() }
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("sending a frame");
    }

    pub async fn send_message(&mut self, message: Message) {
        self.ws.send(message).await.expect("sending a frame");
    }

    /// The next data frame, as text; panics on close or after [`FRAME_WAIT`].
    pub async fn next(&mut self) -> String {
        match self.next_message().await {
            Message::Text(text) => text.to_string(),
            Message::Binary(data) => String::from_utf8_lossy(&data).into_owned(),
            other => panic!("expected a data frame, got {other:?}"),
        }
    }

    /// The next data frame, parsed as JSON.
    pub async fn next_json(&mut self) -> Value {
        let text = self.next().await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// The next frame that is not a ping or pong.
    pub async fn next_message(&mut self) -> Message {
        self.next_message_within(FRAME_WAIT).await
    }

    /// The next data frame, parsed as JSON, waiting up to `wait` for it.
    pub async fn next_json_within(&mut self, wait: Duration) -> Value {
        match self.next_message_within(wait).await {
            Message::Text(text) => serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}")),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next frame that is not a ping or pong, within `wait`.
    pub async fn next_message_within(&mut self, wait: Duration) -> Message {
        if let Some(frame) = self.ahead.pop_front() {
            return frame;
        }
        loop {
            let frame = tokio::time::timeout(wait, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no frame within {wait:?} on {}", self.id))
                .unwrap_or_else(|| panic!("the connection {} ended", self.id))
                .unwrap_or_else(|e| panic!("reading from {}: {e}", self.id));
            if !matches!(frame, Message::Ping(_) | Message::Pong(_)) {
                return frame;
            }
        }
    }

    /// Asserts that no data frame arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(frame) = self.ahead.front() {
            panic!("expected nothing on {}, got {frame:?}", self.id);
        }
        if let Ok(frame) = tokio::time::timeout(wait, self.ws.next()).await {
            panic!("expected nothing on {}, got {frame:?}", self.id);
        }
    }

    /// Waits for the close frame the server sends; returns its code and reason.
    pub async fn closed(&mut self, within: Duration) -> (u16, String) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => panic!("{} was not closed within {within:?}", self.id),
                Ok(Some(Ok(Message::Close(Some(CloseFrame { code, reason }))))) => {
                    return (code.into(), reason.to_string());
                }
                Ok(Some(Ok(Message::Close(None)))) => return (1005, String::new()),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => panic!("reading from {} before its close frame: {e}", self.id),
                Ok(None) => panic!("{} ended without a close frame", self.id),
            }
        }
    }

    /// Closes from the client side (code 1000).
    pub async fn close(mut self) {
        let _ = self.ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async { while self.ws.next().await.is_some() {} }).await;
    }
}

/// Joins alice, then bob (each with its query); alice's "bob joined" notice
/// is taken: the start of most two-person tests.
pub async fn alice_and_bob(server: &Server, alice: &str, bob: &str) -> (Client, Client) {
    let mut a = Client::join(server, alice).await;
    let b = Client::join(server, bob).await;
    let joined = a.next().await;
    assert!(joined.contains("joined"), "alice expected bob's join notice, got {joined}");
    (a, b)
}

/// One HTTP/1.1 request with extra headers (`test_support::http_request`
/// sends none): cookies, a form body, another `Host`.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> test_support::HttpReply {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    test_support::HttpReply { status, headers, body: raw[split + 4..].to_vec() }
}

/// The HTTP answer to an upgrade that must be refused: status, body and `x-amzn-ErrorType`.
pub async fn refused_upgrade(server: &Server, query: &str) -> (u16, String, Option<String>) {
    match tokio_tungstenite::connect_async(server.url(query)).await {
        Ok(_) => panic!("?{query}: the upgrade went through"),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
            let kind = response.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_string());
            (response.status().as_u16(), body, kind)
        }
        Err(e) => panic!("?{query}: expected an HTTP refusal, got {e}"),
    }
}

/// The connection id in a welcome, compat (`Welcome! - connected on <id>`) or json.
pub fn welcome_id(frame: &str) -> Option<String> {
    if let Some(id) = frame.strip_prefix("Welcome! - connected on ") {
        return Some(id.to_string());
    }
    let json: Value = serde_json::from_str(frame).ok()?;
    (json["type"] == "welcome").then(|| json["connectionId"].as_str().map(str::to_string)).flatten()
}

/// A copy of the shipped stack.yaml, schemas and site in a temporary folder,
/// for tests that change them.
pub fn stack_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = support::root();
    std::fs::copy(root.join("stack.yaml"), dir.path().join("stack.yaml")).expect("copying stack.yaml");
    copy_dir(&root.join("schemas"), &dir.path().join("schemas"));
    copy_dir(&root.join("wwwroot"), &dir.path().join("wwwroot"));
    for function in ["chat", "notify"] {
        let crate_dir: PathBuf = dir.path().join("lambdas").join(function);
        std::fs::create_dir_all(&crate_dir).unwrap();
        std::fs::copy(root.join("lambdas").join(function).join("Cargo.toml"), crate_dir.join("Cargo.toml")).unwrap();
    }
    dir
}

/// [`stack_copy`] with every route's `schema` taken out: frames reach the
/// handler whatever their shape, so its own validation answers them.
pub fn stack_without_schemas() -> tempfile::TempDir {
    let dir = stack_copy();
    let file = dir.path().join("stack.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let mut stripped = String::new();
    for line in yaml.lines() {
        // `    send:        { function: chat, schema: schemas/send.json }` -> `    send: chat`
        match (line.split_once("{ function: "), line.contains("schema:")) {
            (Some((key, rest)), true) => {
                let function = rest.split(',').next().unwrap().trim();
                stripped.push_str(&format!("{} {function}", key.trim_end()));
            }
            _ => stripped.push_str(line),
        }
        stripped.push('\n');
    }
    assert!(!stripped.contains("schema:") && stripped != yaml, "no schemas left in:\n{stripped}");
    std::fs::write(&file, stripped).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}
