//! `wschat logs` against a real moto server: events written with the SDK
//! into the log groups a stack's functions log to, read back through the
//! binary. Each test has its own stack name, so they share one moto.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use test_support::Moto;

use crate::deploy::Project;
use crate::support::wschat;

/// A temp project and the log groups its functions would log to, on the shared moto.
struct Stack {
    moto: std::sync::Arc<Moto>,
    logs: aws_sdk_cloudwatchlogs::Client,
    project: Project,
    name: String,
}

impl Stack {
    async fn new(name: &str) -> Stack {
        let moto = Moto::shared();
        let logs = crate::aws_wiring::aws_for(&moto).await.logs();
        Stack { moto, logs, project: Project::new(name), name: name.to_string() }
    }

    fn group(&self, function: &str) -> String {
        format!("/aws/lambda/{}-dev-{function}", self.name)
    }

    /// Creates the function's log group (as deploy does) and one stream in it.
    async fn create(&self, function: &str) {
        let group = self.group(function);
        self.logs.create_log_group().log_group_name(&group).send().await.expect("creating the log group");
        self.logs.create_log_stream().log_group_name(&group).log_stream_name(STREAM).send().await.unwrap();
    }

    /// Writes events, each `(milliseconds since the epoch, message)`, in one PutLogEvents.
    async fn put(&self, function: &str, events: &[(i64, &str)]) {
        let events = events.iter().map(|(timestamp, message)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(*timestamp)
                .message(*message)
                .build()
                .unwrap()
        });
        let put = self
            .logs
            .put_log_events()
            .log_group_name(self.group(function))
            .log_stream_name(STREAM)
            .set_log_events(Some(events.collect()))
            .send()
            .await
            .expect("putting log events");
        assert!(put.rejected_log_events_info.is_none(), "moto rejected events: {put:?}");
    }

    /// `wschat ARGS` in the project, pointed at moto.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = wschat(self.project.path());
        cmd.envs(self.moto.env()).arg("--endpoint-url").arg(self.moto.endpoint()).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> (Output, String, String) {
        let out = self.command(args).output().expect("running wschat");
        let stdout = String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out, stdout, stderr)
    }

    /// `wschat logs ARGS`, which must succeed: its stdout lines.
    fn lines(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        let (out, stdout, stderr) = self.run(&all);
        assert!(out.status.success(), "wschat {all:?} failed: {stderr}");
        stdout.lines().map(str::to_string).collect()
    }
}

const STREAM: &str = "2025/05/01/[$LATEST]0123456789abcdef";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A line as chat-core's `init_logging` writes it (tracing's JSON, fields
/// flattened, the invocation's span), with a newline as Lambda stores stdout lines.
fn handler_line(level: &str, message: &str, fields: &str) -> String {
    format!(
        r#"{{"timestamp":"2025-05-01T12:00:00.000001Z","level":"{level}","message":"{message}",{fields},"span":{{"requestId":"8f5e-1","name":"Lambda runtime invoke"}}}}"#
    ) + "\n"
}

/// The message part of plain lines (after `TIME FUNCTION`), by function.
fn messages(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let _time = parts.next().unwrap();
            let function = parts.next().unwrap().to_string();
            (function, parts.next().unwrap_or_default().trim_start().to_string())
        })
        .collect()
}

#[tokio::test]
async fn events_of_two_functions_are_interleaved_by_time() {
    let stack = Stack::new("logs-order").await;
    stack.create("chat").await;
    stack.create("notify").await;
    let t = now_ms() - 60_000;
    let joined = handler_line("INFO", "joined room", r#""room":"general","connection":"c-1""#);
    let report = "REPORT RequestId: 8f5e-1\tDuration: 2.11 ms\tBilled Duration: 3 ms\n";
    stack.put("chat", &[(t, &joined), (t + 2_000, report)]).await;
    let posted = handler_line("WARN", "slow post", r#""ms":1200"#);
    let fanned = handler_line("INFO", "fanned out", r#""recipients":2"#);
    stack.put("notify", &[(t + 1_000, &posted), (t + 3_000, &fanned)]).await;

    let lines = stack.lines(&[]);
    assert_eq!(
        messages(&lines),
        [
            ("chat".into(), "INFO  joined room connection=c-1 room=general requestId=8f5e-1".into()),
            ("notify".into(), "WARN  slow post ms=1200 requestId=8f5e-1".into()),
            ("chat".into(), report.trim_end().to_string()),
            ("notify".into(), "INFO  fanned out recipients=2 requestId=8f5e-1".into()),
        ],
        "{lines:#?}"
    );
    // Not a terminal: no colour.
    assert!(lines.iter().all(|l| !l.contains('\x1b')), "{lines:#?}");
    // The time is CloudWatch's, in UTC to the millisecond.
    let time = lines[0].split(' ').next().unwrap();
    assert_eq!(time.len(), "2025-05-01T12:00:00.000Z".len(), "{time}");
    assert!(time.ends_with('Z'), "{time}");
}

#[tokio::test]
async fn since_leaves_out_older_events() {
    let stack = Stack::new("logs-since").await;
    stack.create("chat").await;
    stack.create("notify").await;
    let now = now_ms();
    let old = handler_line("INFO", "twenty minutes ago", r#""n":1"#);
    let recent = handler_line("INFO", "a minute ago", r#""n":2"#);
    stack.put("chat", &[(now - 20 * 60_000, &old), (now - 60_000, &recent)]).await;

    let shown = |args: &[&str]| -> Vec<String> {
        messages(&stack.lines(args)).into_iter().map(|(_, m)| m.split(" n=").next().unwrap().to_string()).collect()
    };
    // The default is 10m.
    assert_eq!(shown(&[]), ["INFO  a minute ago"]);
    assert_eq!(shown(&["--since", "30m"]), ["INFO  twenty minutes ago", "INFO  a minute ago"]);
    assert_eq!(shown(&["--since", "1h"]).len(), 2);
    assert_eq!(shown(&["--since", "30s"]), Vec::<String>::new());
    let five_minutes_ago = aws_smithy_types::DateTime::from_millis(now - 5 * 60_000)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    assert_eq!(shown(&["--since", &five_minutes_ago]), ["INFO  a minute ago"]);

    let (out, _, stderr) = stack.run(&["logs", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("neither a duration (30s, 10m, 2h, 1d) nor an RFC 3339 time"), "{stderr}");
}

/// moto's FilterLogEvents honours single terms and "quoted phrases" (and
/// lets every event through for other patterns): a quoted phrase here.
#[tokio::test]
async fn filter_keeps_only_matching_events() {
    let stack = Stack::new("logs-filter").await;
    stack.create("chat").await;
    stack.create("notify").await;
    let t = now_ms() - 60_000;
    let full = handler_line("WARN", "room full", r#""room":"general""#);
    let joined = handler_line("INFO", "joined room", r#""room":"general""#);
    stack.put("chat", &[(t, &joined), (t + 1, &full)]).await;
    stack.put("notify", &[(t + 2, "REPORT RequestId: 1 Duration: 1.00 ms\n")]).await;

    let lines = stack.lines(&["--filter", r#""room full""#]);
    assert_eq!(messages(&lines), [("chat".into(), "WARN  room full room=general requestId=8f5e-1".into())]);
    let lines = stack.lines(&["--filter", "REPORT"]);
    assert_eq!(messages(&lines), [("notify".into(), "REPORT RequestId: 1 Duration: 1.00 ms".into())]);
}

#[tokio::test]
async fn a_function_name_shows_that_function_alone() {
    let stack = Stack::new("logs-one").await;
    stack.create("chat").await;
    stack.create("notify").await;
    let t = now_ms() - 60_000;
    stack.put("chat", &[(t, &handler_line("INFO", "from chat", r#""n":1"#))]).await;
    stack.put("notify", &[(t + 1, &handler_line("INFO", "from notify", r#""n":2"#))]).await;

    let lines = stack.lines(&["notify"]);
    assert_eq!(messages(&lines), [("notify".into(), "INFO  from notify n=2 requestId=8f5e-1".into())]);
    // Both named: both, still by time.
    let functions: Vec<String> = messages(&stack.lines(&["notify", "chat"])).into_iter().map(|(f, _)| f).collect();
    assert_eq!(functions, ["chat", "notify"]);
}

#[tokio::test]
async fn json_prints_each_event_unchanged_one_per_line() {
    let stack = Stack::new("logs-json").await;
    stack.create("chat").await;
    stack.create("notify").await;
    let t = now_ms() - 60_000;
    let line = handler_line("ERROR", "post failed", r#""status":410"#);
    stack.put("chat", &[(t, &line), (t + 1, "END RequestId: 8f5e-1\n")]).await;

    let lines = stack.lines(&["--json"]);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let events: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let first = events[0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["eventId", "function", "ingestionTime", "logGroup", "logStream", "message", "timestamp"]);
    assert_eq!(first["function"], "chat");
    assert_eq!(first["logGroup"], stack.group("chat"));
    assert_eq!(first["logStream"], STREAM);
    assert_eq!(first["timestamp"], t);
    assert!(first["ingestionTime"].as_i64().unwrap() >= t, "{first:?}");
    assert!(first["eventId"].as_str().is_some_and(|id| !id.is_empty()), "{first:?}");
    assert_eq!(first["message"], line);
    assert_eq!(events[1]["message"], "END RequestId: 8f5e-1\n");
}

/// Live Tail first (moto's answers with what it holds and closes the
/// stream), then polling: an event written after the start shows up.
#[tokio::test]
async fn follow_shows_an_event_written_after_it_started() {
    let stack = Stack::new("logs-follow").await;
    stack.create("chat").await;
    stack.create("notify").await;
    let t = now_ms() - 60_000;
    stack.put("chat", &[(t, &handler_line("INFO", "before", r#""n":1"#))]).await;
    stack.put("notify", &[(t + 1, &handler_line("INFO", "before too", r#""n":2"#))]).await;

    let mut child = stack
        .command(&["logs", "--follow", "-v"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting wschat logs --follow");
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if sender.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| {
        lines.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("no {what} from wschat logs --follow"))
    };
    assert!(next("first event").contains("INFO  before n=1"));
    assert!(next("second event").contains("INFO  before too n=2"));

    let written = Instant::now();
    stack.put("chat", &[(now_ms(), &handler_line("WARN", "after", r#""n":3"#))]).await;
    let line = next("event written after the start");
    let waited = written.elapsed();
    assert!(line.contains("chat   WARN  after n=3"), "{line}");
    assert!(waited < Duration::from_secs(10), "took {waited:?}");
    // Each event once: nothing else arrives.
    assert!(lines.recv_timeout(Duration::from_secs(5)).is_err(), "an event was shown twice");

    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("following chat, notify (Ctrl-C to stop)"), "{stderr}");
    // The request reached moto (no `stream-` host prefix on an endpoint override).
    assert!(stderr.contains("Live Tail session ended (the stream closed); polling FilterLogEvents"), "{stderr}");
}

#[test]
fn an_unknown_function_is_a_usage_error_naming_the_known_ones() {
    let project = Project::new("logs-unknown");
    let out = wschat(project.path()).args(["logs", "chat", "nope"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown function `nope`; stack `logs-unknown` has `chat`, `notify`"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn a_stack_never_deployed_says_which_log_groups_are_missing() {
    let stack = Stack::new("logs-missing").await;
    let (out, stdout, stderr) = stack.run(&["logs"]);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    for function in ["chat", "notify"] {
        assert!(stderr.contains(&format!("{function} (`{}`)", stack.group(function))), "{stderr}");
    }
    assert!(stderr.contains("`wschat deploy` creates them"), "{stderr}");

    // One group there: its events, and a note for the other.
    stack.create("chat").await;
    stack.put("chat", &[(now_ms() - 1_000, "START RequestId: 1 Version: $LATEST\n")]).await;
    let (out, stdout, stderr) = stack.run(&["logs"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(" chat START RequestId: 1 Version: $LATEST"), "{stdout}");
    assert!(stderr.contains(&format!("no log group yet for notify (`{}`)", stack.group("notify"))), "{stderr}");
}
