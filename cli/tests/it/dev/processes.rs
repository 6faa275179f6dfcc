//! `wschat dev --processes`: the shipped `chat` and `notify` run as
//! processes, built from their crates, as Lambda runs them (their tables
//! and queue are dev's, over HTTP), and the chat is the same chat: the
//! protocol, history, typing, flood and shutdown tests of the in-process
//! handlers pass unchanged against them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::{Server, alice_and_bob, chat, flood, history, http, server};

/// The programs `pid` started and that still run: file name -> process id.
fn children(pid: u32) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let listed = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in listed.split_whitespace() {
            if let Ok(exe) = std::fs::read_link(format!("/proc/{child}/exe")) {
                found.insert(exe.file_name().unwrap_or_default().to_string_lossy().into_owned(), child.to_string());
            }
        }
    }
    found
}

/// The value of `name` in the environment of process `pid`.
fn environment_of(pid: &str, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|b| *b == 0).find_map(|pair| {
        let pair = String::from_utf8_lossy(pair);
        pair.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

/// The embedded-metric-format documents in `log` of `function`, each as
/// its process wrote it on its log (with the invocation's `requestId`,
/// which dev's in-process handlers do not have).
fn process_documents(log: &str, function: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc["_aws"]["CloudWatchMetrics"].is_array() && doc["Function"] == function)
        .filter(|doc| doc["requestId"].is_string())
        .collect()
}

#[tokio::test]
async fn the_shipped_handlers_run_as_processes_and_answer_the_chat() {
    let server = Server::start(&["--processes"]);
    let log = server.log();
    for function in ["chat", "notify"] {
        assert!(log.contains(&format!("function   {function}: ")), "{function} is not a process:\n{log}");
    }
    let running = children(server.pid());
    assert!(running.contains_key("chat") && running.contains_key("notify"), "dev's children: {running:?}");

    // dev's tables answer the URL its processes were given, and nothing else.
    let ports = environment_of(&running["chat"], "WSCHAT_DEV_PORTS").expect("the chat process's WSCHAT_DEV_PORTS");
    let path = ports.strip_prefix(&format!("http://127.0.0.1:{}", server.port)).expect(&ports).to_string();
    let count = r#"{"call":"count","now":0}"#;
    let answer = http(server.port, "POST", &path, &[], count);
    assert_eq!((answer.status, String::from_utf8_lossy(&answer.body).into_owned()), (200, r#"{"ok":0}"#.into()));
    let guessed = format!("{}0", &path[..path.len() - 1]);
    let guessed = if guessed == path { format!("{}1", &path[..path.len() - 1]) } else { guessed };
    assert_eq!(http(server.port, "POST", &guessed, &[], count).status, 404);
    // Without one, the site's fallback: not an answer from the tables.
    assert_eq!(http(server.port, "POST", "/@ports", &[], count).status, 405);

    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob").await;
    alice.send(r#"{"action":"sendmessage","data":"one"}"#).await;
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.next().await, "one");
    }
    // What each process counted, on its own log: the chat took the message,
    // the fan-out posted it to both.
    let (mut chat, mut notify) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let log = server.log();
        (chat, notify) = (process_documents(&log, "chat"), process_documents(&log, "notify"));
        if notify.iter().any(|d| d["Posts"].as_f64() == Some(2.0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(chat.iter().any(|d| d["MessagesIn"].as_f64() == Some(1.0)), "{chat:?}");
    assert!(notify.iter().any(|d| d["Posts"].as_f64() == Some(2.0)), "{notify:?}");
}

#[tokio::test]
async fn every_action_of_the_protocol_as_processes() {
    chat::every_action(Server::start(&["--processes"])).await
}

#[tokio::test]
async fn the_history_as_processes() {
    history::history_and_since(Server::start(&["--processes"])).await
}

#[tokio::test]
async fn typing_as_processes() {
    history::typing(Server::start(&["--processes"])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_flood_as_processes() {
    flood::send_flood(Server::start(&["--processes"])).await
}

/// The processes' `$disconnect` reaches dev's tables while dev shuts down:
/// dev stops listening only once every connection has closed.
#[tokio::test]
async fn sigterm_runs_every_disconnect_as_processes() {
    server::sigterm(Server::start(&["--processes"])).await
}
