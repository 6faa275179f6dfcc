//! Test-only support: a real `moto_server` (the AWS emulator) on 127.0.0.1.
//!
//! Each test binary starts a server with [`Moto::start`] (or shares a few via
//! [`Moto::shared`]) and gives every test its own stack name, so tests run in
//! parallel without seeing each other's resources. Dropping a [`Moto`] kills
//! exactly the child it started.
//!
//! `moto_server` is looked up in `$WSCHAT_MOTO_SERVER`, then in the project's
//! `.venv` (where `scripts/test` installs it), run through
//! `test-support/moto/server.py`, which adds the one operation wschat calls
//! that moto lacks (API Gateway v2's GetAuthorizers), then on `PATH`.
//!
//! [`flood`] drives `wschat dev` as people and a script do, each from a
//! loopback address of its own: the flood tests and the flood benchmark.
//!
//! [`runtime_api::RuntimeApi`] is a minimal Lambda Runtime API: a function's
//! `bootstrap` runs against it as a real process (the artifact test, the
//! real-process fan-out benchmark).
//!
//! [`realism::Realism`] sits in front of a moto server and answers the way AWS
//! does where moto is more forgiving (API Gateway's one-writer rule, IAM
//! propagation, Lambda states, throttling and the rest): deploy tests point
//! wschat at it instead of at moto.

pub mod aws;
pub mod flood;
pub mod realism;
pub mod runtime_api;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// Fixed credentials and region that moto accepts.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";
/// Seconds after which moto issues a requested certificate.
pub const ACM_VALIDATION_WAIT_SECONDS: u64 = 2;
/// The account id moto reports from `sts:GetCallerIdentity`.
pub const ACCOUNT_ID: &str = "123456789012";

/// A running moto server, killed on drop.
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Moto {
    /// Starts `moto_server` on a free port, waits until it answers, and
    /// configures Lambda to run without Docker.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// [`Moto::start`] with these variables set for the server (the knobs
    /// of test-support/moto/server.py).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let (program, script) = moto_server_path();
        let log_dir = workspace_root().join("target").join("moto-logs");
        std::fs::create_dir_all(&log_dir).expect("creating target/moto-logs");
        // A shell keeps moto on a leash: it kills moto when its stdin closes,
        // which happens when this `Moto` drops and also when the test process
        // exits without dropping it (a `shared()` server lives in a static).
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#""$0" "$@" & moto=$!; read -r _; kill -9 "$moto" 2>/dev/null; wait "$moto""#)
            .arg(&program)
            .args(script)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
            // ACM issues a DNS-validated certificate this many seconds after the
            // request (moto's default is 60; AWS takes minutes once the records resolve).
            .env("MOTO_ACM_VALIDATION_WAIT", ACM_VALIDATION_WAIT_SECONDS.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {}: {e}; run ./scripts/test once, or `pip install 'moto[server]'` into .venv",
                    program.display()
                )
            });
        let log = log_dir.join(format!("moto-{}.log", child.id()));
        let port = read_port(child.stderr.take().expect("piped stderr"), &log);
        let moto = Moto { child, port, log };
        moto.wait_ready();
        let reply = moto.post("/moto-api/config", r#"{"lambda":{"use_docker":false}}"#);
        assert!(reply.status == 200 || reply.status == 201, "configuring moto lambda: {reply:?}");
        moto
    }

    /// A server shared by the whole test binary: one of [`shared_servers`]
    /// servers, each started on first use, handed out in turn. Tests that
    /// share them must use distinct resource names (for example a per-test
    /// stack name), and keep the one they were given.
    ///
    /// moto serves every request under Python's global interpreter lock, so
    /// one server uses one core at most; the deploy tests, which mostly wait
    /// on simulated AWS, kept a single server busy while the machine idled.
    pub fn shared() -> Arc<Moto> {
        static SERVERS: OnceLock<Vec<OnceLock<Arc<Moto>>>> = OnceLock::new();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let servers = SERVERS.get_or_init(|| (0..shared_servers()).map(|_| OnceLock::new()).collect());
        let server = &servers[NEXT.fetch_add(1, Ordering::Relaxed) % servers.len()];
        server.get_or_init(|| Arc::new(Moto::start())).clone()
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url` and SDK clients.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where this server's request log goes.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Clears every resource in the emulator.
    pub fn reset(&self) {
        let reply = self.post("/moto-api/reset", "");
        assert_eq!(reply.status, 200, "resetting moto: {reply:?}");
    }

    /// Environment for a child process (`wschat`, a Lambda bootstrap) that
    /// should talk to this server with test credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = moto_env();
        env.push(("AWS_ENDPOINT_URL", self.endpoint()));
        env
    }

    pub fn get(&self, path: &str) -> HttpReply {
        http_request(self.port, "GET", path, "")
    }

    pub fn post(&self, path: &str, body: &str) -> HttpReply {
        http_request(self.port, "POST", path, body)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(reply) = try_http_request(self.port, "GET", "/moto-api/", "")
                && reply.status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "moto_server did not answer on port {} within 30 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the leash's stdin makes it SIGKILL moto (a throwaway
        // emulator; SIGTERM takes seconds) and exit.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// How many servers [`Moto::shared`] spreads tests over: `$WSCHAT_MOTO_SERVERS`,
/// or one per core, at least two (about 200 MB of memory each).
pub fn shared_servers() -> usize {
    std::env::var("WSCHAT_MOTO_SERVERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()).max(2))
        .max(1)
}

/// moto's test credentials and region, for a child process, without an endpoint.
pub fn moto_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_string()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_string()),
        ("AWS_REGION", REGION.to_string()),
        // Keep a developer's ~/.aws out of tests.
        ("AWS_CONFIG_FILE", "/dev/null".to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

/// A minimal HTTP/1.1 reply.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request to 127.0.0.1:`port` and panics on I/O errors.
pub fn http_request(port: u16, method: &str, path: &str, body: &str) -> HttpReply {
    try_http_request(port, method, path, body).unwrap_or_else(|e| panic!("{method} http://127.0.0.1:{port}{path}: {e}"))
}

/// Sends one HTTP/1.1 request (`Connection: close`) with std only, so that
/// tests need no HTTP client crate to poke at a local server.
pub fn try_http_request(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<HttpReply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_reply(&raw).ok_or_else(|| std::io::Error::other("malformed HTTP reply"))
}

fn parse_reply(raw: &[u8]) -> Option<HttpReply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked =
        headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(HttpReply { status, headers, body })
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).ok()?.trim(), 16).ok()?;
        body = &body[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// Reads moto's stderr until it prints its port, then keeps draining it into
/// `log` on a thread: moto logs each request it fails with a traceback, and a
/// full pipe would block it.
fn read_port(stderr: std::process::ChildStderr, log: &Path) -> u16 {
    let (tx, rx) = mpsc::channel();
    let mut file = std::fs::File::create(log).expect("creating moto log");
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            if let Some(port) = line.split("Running on http://127.0.0.1:").nth(1)
                && let (Some(tx), Ok(port)) = (tx.take(), port.trim().parse::<u16>())
            {
                let _ = tx.send(port);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("moto_server printed no port within 30 s; see {}", log.display()))
}

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("test-support sits in the workspace root").to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace
/// root, as cargo run from there reads it), else the workspace's `target`.
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |d| root.join(d))
}

/// The program that runs moto's server, and the script it runs, if any.
fn moto_server_path() -> (PathBuf, Option<PathBuf>) {
    if let Some(path) = std::env::var_os("WSCHAT_MOTO_SERVER") {
        return (PathBuf::from(path), None);
    }
    let python = workspace_root().join(".venv/bin/python3");
    if python.exists() {
        return (python, Some(workspace_root().join("test-support/moto/server.py")));
    }
    (PathBuf::from("moto_server"), None)
}

/// The project's `.venv/bin`, where `scripts/test` installs moto and cargo-lambda.
pub fn venv_bin() -> PathBuf {
    workspace_root().join(".venv/bin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_chunked_reply() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let reply = parse_reply(raw).unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "abcde");
    }

    #[test]
    fn moto_starts_answers_and_stops() {
        let moto = Moto::start();
        let port = moto.port();
        assert_eq!(moto.get("/moto-api/").status, 200);
        drop(moto);
        assert!(try_http_request(port, "GET", "/moto-api/", "").is_err(), "moto still answers after drop");
    }
}
