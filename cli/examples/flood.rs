//! Flood benchmark: one script floods `wschat dev` while a person talks and
//! newcomers join, each from a loopback address of its own (issue #24's
//! scenario), against this build and, side by side in the same run, an older
//! one.
//!
//! ```sh
//! cargo run --example flood                      # this build only
//! cargo run --example flood -- --before DIR      # and DIR's (a checkout with its stack.yaml, built)
//! cargo run --example flood -- --before DIR --before-bin PATH
//! ```
//!
//! For each build: `wschat dev` on the checkout's own stack.yaml; a bystander
//! (127.0.0.2) says something every 800 ms, 10 times, and waits for it to
//! come back; a script (127.0.0.3) sends `{"action":"send","text":"buy
//! now"}` 2,500 times a second for 8 s, or until its connection is closed;
//! 24 newcomers (127.0.1.x) connect, one every 333 ms. Then it prints, side
//! by side: the bystander's messages late (past 2 s) or lost and its slowest;
//! the newcomers refused; the script's frames sent and the flood's messages
//! that reached the bystander (each was stored and posted to everyone);
//! when the script was closed; whether its address could connect again.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use test_support::flood::{connect_from, flood, join, newcomers, talk};

const FLOOD: &str = r#"{"action":"send","text":"buy now"}"#;

/// What one build did under the flood.
struct Outcome {
    late: usize,
    lost: usize,
    slowest: Duration,
    refused: usize,
    sent: usize,
    fanned_out: usize,
    closed: Option<Duration>,
    reconnect: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut before, mut before_bin) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--before" => before = args.next().map(PathBuf::from),
            "--before-bin" => before_bin = args.next().map(PathBuf::from),
            other => panic!("unknown argument {other}; see the example's doc comment"),
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf();
    // This example sits in `{target}/{profile}/examples/`; the CLI in `{target}/{profile}/`.
    let exe = std::env::current_exe().expect("the example's path");
    let this = exe.parent().and_then(Path::parent).expect("the profile folder").join("wschat");
    assert!(this.is_file(), "{} is missing: cargo build -p wschat first", this.display());

    let mut runs = Vec::new();
    if let Some(dir) = before {
        let bin = before_bin.unwrap_or_else(|| dir.join("target/debug/wschat"));
        runs.push(("before", run(&bin, &dir).await));
    }
    runs.push(("after", run(&this, &root).await));

    println!("\n{:<44} {}", "", runs.iter().map(|(name, _)| format!("{name:>16}")).collect::<String>());
    let row = |label: &str, value: &dyn Fn(&Outcome) -> String| {
        println!("{label:<44} {}", runs.iter().map(|(_, o)| format!("{:>16}", value(o))).collect::<String>());
    };
    row("bystander's 10 messages late (> 2 s)", &|o| o.late.to_string());
    row("bystander's 10 messages lost (> 10 s)", &|o| o.lost.to_string());
    row("bystander's slowest message", &|o| format!("{:.3} s", o.slowest.as_secs_f64()));
    row("newcomers refused (of 24)", &|o| o.refused.to_string());
    row("script's frames sent", &|o| o.sent.to_string());
    row("flood messages stored and fanned out", &|o| o.fanned_out.to_string());
    row("script closed after", &|o| o.closed.map_or("never".into(), |c| format!("{:.3} s", c.as_secs_f64())));
    row("script's address reconnecting", &|o| o.reconnect.clone());
}

/// `wschat dev` of `bin` in `dir`, flooded.
async fn run(bin: &Path, dir: &Path) -> Outcome {
    let (mut dev, url) = start(bin, dir);
    eprintln!("{} in {}: {url}", bin.display(), dir.display());
    let bystander = join(&url, Ipv4Addr::new(127, 0, 0, 2), "bystander").await;
    let script = join(&url, Ipv4Addr::new(127, 0, 0, 3), "mallory").await;
    let flooding = tokio::spawn(flood(script, FLOOD, 2500, Duration::from_secs(8)));
    let talking = tokio::spawn(talk(bystander, 10, Duration::from_millis(800), "buy now"));
    let refused = newcomers(&url, 24, Duration::from_millis(333)).await;
    let (seen, heard) = (flooding.await.unwrap(), talking.await.unwrap());
    let reconnect = match connect_from(&format!("{url}?username=mallory"), Ipv4Addr::new(127, 0, 0, 3)).await {
        Ok(_) => "let in".to_string(),
        Err(status) => format!("refused ({status})"),
    };
    let _ = dev.kill();
    let _ = dev.wait();
    let late = |l: &Option<Duration>| l.is_some_and(|l| l > Duration::from_secs(2));
    Outcome {
        late: heard.latencies.iter().filter(|l| late(l)).count(),
        lost: heard.latencies.iter().filter(|l| l.is_none()).count(),
        slowest: heard.latencies.iter().flatten().max().copied().unwrap_or_default(),
        refused,
        sent: seen.sent,
        fanned_out: heard.flooded,
        closed: seen.closed,
        reconnect,
    }
}

/// Starts `bin dev --port 0` in `dir` and reads its WebSocket URL from stderr.
fn start(bin: &Path, dir: &Path) -> (Child, String) {
    let mut dev = Command::new(bin)
        .args(["dev", "--port", "0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let stderr = dev.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("websocket: ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(60)).expect("wschat dev printed its WebSocket URL");
    (dev, url)
}
