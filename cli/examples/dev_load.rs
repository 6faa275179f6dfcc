//! Load benchmark of `wschat dev`: many concurrent connections on one dev
//! process, then broadcasts that must reach every one of them.
//!
//! ```sh
//! cargo run --release --example dev_load            # 1,000 connections
//! cargo run --release --example dev_load -- 2000 20 # connections, broadcasts
//! cargo run --release --example dev_load -- --processes  # chat and notify as processes
//! ```
//!
//! With `--processes`, dev runs the shipped `chat` and `notify` as processes
//! (`wschat dev --processes`), built as dev builds them, in the profile of
//! this example (`--release`: `wschat dev --processes --release`).
//!
//! It builds and starts `target/release/wschat dev --port 0` on the shipped
//! stack.yaml (its event log goes to `dev_load.log` in the target folder), opens the
//! connections (each waits for its welcome), waits for the join notices to
//! drain, and then reports:
//! - connections held (the `count` of a `list` reply, the server's own count);
//! - the delivery time of one broadcast to every connection, p50/p99/max;
//! - the dev process's memory (VmRSS, and VmHWM, its peak);
//! - frames delivered per second over a run of back-to-back broadcasts.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::stream::{SplitSink, StreamExt};
use futures::{SinkExt, stream};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// A broadcast frame of round `round` arrived at one client at `at`.
struct Arrival {
    round: usize,
    at: Instant,
}

#[tokio::main]
async fn main() {
    let processes = std::env::args().any(|a| a == "--processes");
    let mut args = std::env::args().skip(1).filter(|a| a != "--processes");
    let connections: usize = args.next().map_or(1000, |a| a.parse().expect("connections: a number"));
    let rounds: usize = args.next().map_or(10, |a| a.parse().expect("broadcasts: a number"));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf();

    // The CLI in the example's own profile (`--release` measures the real thing).
    let (profile, flags): (&str, &[&str]) =
        if cfg!(debug_assertions) { ("debug", &[]) } else { ("release", &["--release"]) };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet", "-p", "wschat", "--bin", "wschat"])
        .args(flags)
        .current_dir(&root)
        .status()
        .expect("running cargo build");
    assert!(built.success(), "building wschat");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let log_path = target.join("dev_load.log");
    let log = std::fs::File::create(&log_path).expect("creating dev_load.log in the target folder");
    let mut dev = Command::new(target.join(profile).join("wschat"))
        .args(["dev", "--port", "0", "--no-throttle"])
        .args(processes.then_some("--processes"))
        .args((processes && !cfg!(debug_assertions)).then_some("--release"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting wschat dev");
    let url = wait_for_url(&log_path);
    let pid = dev.id();
    let rss_idle = memory(pid).0;
    let how = if processes { "chat and notify as processes" } else { "the handlers in process" };
    println!("wschat dev (pid {pid}) at {url}; {connections} connections, {rounds} broadcasts; {how}");

    // Connect everyone, at most 100 handshakes in flight; each waits for its welcome.
    let frames = Arc::new(AtomicU64::new(0));
    let last_frame = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (arrivals_tx, mut arrivals) = mpsc::unbounded_channel::<Arrival>();
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024).write_buffer_size(8 * 1024);
    let mut sinks: Vec<Sink> = stream::iter(0..connections)
        .map(|i| {
            let (url, frames, last_frame, arrivals_tx) =
                (url.clone(), frames.clone(), last_frame.clone(), arrivals_tx.clone());
            async move {
                let (ws, _) =
                    tokio_tungstenite::connect_async_with_config(format!("{url}?username=u{i}"), Some(config), false)
                        .await
                        .unwrap_or_else(|e| panic!("connection {i}: {e}"));
                let (sink, mut source) = ws.split();
                loop {
                    match source.next().await {
                        Some(Ok(Message::Text(t))) if t.starts_with("Welcome!") => break,
                        Some(Ok(_)) => {}
                        other => panic!("connection {i} before its welcome: {other:?}"),
                    }
                }
                tokio::spawn(async move {
                    while let Some(Ok(message)) = source.next().await {
                        let now = Instant::now();
                        frames.fetch_add(1, Ordering::Relaxed);
                        last_frame.store(now.duration_since(started).as_millis() as u64, Ordering::Relaxed);
                        if let Message::Text(text) = message
                            && let Some(round) = text.strip_prefix("bench-")
                        {
                            let round = round.parse().unwrap_or(usize::MAX);
                            let _ = arrivals_tx.send(Arrival { round, at: now });
                        }
                    }
                });
                sink
            }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    let connect_time = started.elapsed();
    println!("connected {} in {:.2} s (each until its welcome)", sinks.len(), connect_time.as_secs_f64());

    // Every join is announced to everyone already there: wait for that to drain.
    let drained_at = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let quiet_ms = started.elapsed().as_millis() as u64 - last_frame.load(Ordering::Relaxed);
        if quiet_ms >= 1500 {
            break started.elapsed();
        }
    };
    let join_frames = frames.load(Ordering::Relaxed);
    println!(
        "join notices drained: {join_frames} frames by {:.2} s ({:.0} frames/s over the join phase)",
        drained_at.as_secs_f64(),
        join_frames as f64 / (drained_at.as_secs_f64() - 1.5)
    );
    let (rss_held, _) = memory(pid);

    // Connections held, counted by the server.
    let held = {
        let (ws, _) =
            tokio_tungstenite::connect_async(format!("{url}?username=counter&format=json")).await.expect("counter");
        let (mut sink, mut source) = ws.split();
        sink.send(Message::text(r#"{"action":"list"}"#)).await.expect("list");
        let count = loop {
            match tokio::time::timeout(Duration::from_secs(10), source.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if t.starts_with(r#"{"type":"list""#) => {
                    let list: serde_json::Value = serde_json::from_str(&t).expect("a list frame");
                    break list["count"].as_u64().expect("the list's count") as usize;
                }
                Ok(Some(Ok(_))) => {}
                other => panic!("waiting for the list: {other:?}"),
            }
        };
        let _ = sink.close().await;
        // Everyone but the counter.
        count - 1
    };
    tokio::time::sleep(Duration::from_millis(1500)).await; // the counter's join and leave notices

    // One broadcast, timed to every connection.
    let sent = Instant::now();
    sinks[0].send(Message::text(r#"{"action":"broadcast","message":"bench-0"}"#)).await.expect("broadcast");
    let mut delivery = Vec::with_capacity(connections);
    while delivery.len() < connections {
        match tokio::time::timeout(Duration::from_secs(30), arrivals.recv()).await {
            Ok(Some(Arrival { round: 0, at })) => delivery.push(at.duration_since(sent)),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    delivery.sort();
    let reached = delivery.len();
    let pct = |p: f64| delivery[((reached as f64 * p).ceil() as usize).clamp(1, reached) - 1];

    // Back-to-back broadcasts from different senders: frames per second.
    let frames_before = frames.load(Ordering::Relaxed);
    let burst = Instant::now();
    for round in 1..=rounds {
        let sender = round * 7919 % sinks.len();
        let frame = format!(r#"{{"action":"broadcast","message":"bench-{round}"}}"#);
        sinks[sender].send(Message::text(frame)).await.expect("broadcast");
    }
    let want = rounds * connections;
    let mut got = 0;
    let mut last = burst;
    while got < want {
        match tokio::time::timeout(Duration::from_secs(30), arrivals.recv()).await {
            Ok(Some(Arrival { round, at })) if round >= 1 => {
                got += 1;
                last = at;
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let burst_time = last.duration_since(burst);
    let burst_frames = frames.load(Ordering::Relaxed) - frames_before;
    let (rss_end, peak) = memory(pid);

    println!();
    println!("connections held:     {held} (of {connections} opened)");
    println!("broadcast reached:    {reached} of {connections}");
    println!(
        "delivery time:        p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(pct(1.0))
    );
    println!(
        "throughput:           {rounds} broadcasts x {connections} = {got} of {want} frames in {:.2} s: {:.0} messages/s",
        burst_time.as_secs_f64(),
        burst_frames as f64 / burst_time.as_secs_f64()
    );
    println!(
        "dev process memory:   RSS {} idle, {} holding {connections} connections, {} after the broadcasts; peak {}",
        mib(rss_idle),
        mib(rss_held),
        mib(rss_end),
        mib(peak)
    );
    println!(
        "                      ~{:.1} KiB per connection",
        (rss_held.saturating_sub(rss_idle)) as f64 / 1024.0 / connections as f64
    );

    drop(sinks);
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = dev.wait();
}

/// The `websocket:` URL from the dev process's log.
fn wait_for_url(log: &std::path::Path) -> String {
    // With --processes, dev builds chat and notify first.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(url) = text.lines().find_map(|l| l.strip_prefix("websocket: ")) {
            return url.to_string();
        }
        assert!(Instant::now() < deadline, "wschat dev printed no URL:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// VmRSS and VmHWM of `pid`, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
