//! Presence at scale through `wschat dev` (docs/presence.md): a crowd of a
//! thousand with the longest names reads its online list in pages that each
//! fit API Gateway's 128 KiB, and, above `chat.presence` (100 in the shipped
//! stack), hears joins as digests whose count is the number connected.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Client, Server};

/// API Gateway's largest message.
const FRAME_LIMIT: usize = 128 * 1024;

/// A name of 32 characters, 4 bytes each but the number: the longest there is.
fn long_name(i: usize) -> String {
    format!("{i:04}{}", "𝄞".repeat(28))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_long_names_read_the_list_in_pages_under_128_kib_and_hear_digests_with_the_count() {
    let server = Server::start(&["--no-throttle"]);
    let mut watcher = Client::join(&server, "username=watcher&format=json").await;
    let crowd = 1000;
    // The crowd connects (names in the query, percent-encoded) and drains
    // whatever it is sent, as a page would.
    let mut drains = Vec::new();
    let url = |i: usize| {
        let name: String = long_name(i).bytes().map(|b| format!("%{b:02X}")).collect();
        server.url(&format!("username={name}&format=json"))
    };
    for chunk in (0..crowd).collect::<Vec<_>>().chunks(100) {
        let opened = futures::future::join_all(chunk.iter().map(|&i| tokio_tungstenite::connect_async(url(i)))).await;
        for ws in opened {
            let (ws, _) = ws.expect("connecting a member of the crowd");
            drains.push(tokio::spawn(async move {
                let mut ws = ws;
                while let Some(Ok(_)) = ws.next().await {}
            }));
        }
    }

    // Above the threshold, joins arrive as digests; each join is announced
    // once, one way or the other, and the last digest counts everyone.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut joined_one_by_one, mut in_digests, mut digests, mut last_count) = (0, 0, 0, 0);
    while joined_one_by_one + in_digests < crowd {
        assert!(Instant::now() < deadline, "{joined_one_by_one} joins announced alone, {in_digests} in digests");
        // A digest window is 5 s, and its digest goes 2 s after it ends.
        let frame = watcher.next_json_within(Duration::from_secs(15)).await;
        match frame["type"].as_str() {
            Some("joined") => joined_one_by_one += 1,
            Some("presence") => {
                digests += 1;
                assert!(frame["joined"].as_array().unwrap().len() <= 10, "{frame}");
                in_digests += frame["joinedCount"].as_u64().unwrap() as usize;
                last_count = frame["count"].as_u64().unwrap() as usize;
            }
            _ => {}
        }
    }
    assert_eq!(joined_one_by_one + in_digests, crowd, "each join announced once");
    assert!((1..=99).contains(&joined_one_by_one), "one by one only while at most 100 are online: {joined_one_by_one}");
    assert!(digests < 20, "{digests} digests for {crowd} joins in a few seconds");
    assert_eq!(last_count, crowd + 1, "the last digest counts everyone connected");

    // The whole list, a page at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let ask = match &cursor {
            Some(cursor) => json!({"action": "list", "cursor": cursor}),
            None => json!({"action": "list"}),
        };
        watcher.send(&ask.to_string()).await;
        let page = loop {
            let frame = watcher.next_message().await;
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "list" {
                assert!(text.len() < FRAME_LIMIT, "page {pages}: {} bytes", text.len());
                break value;
            }
        };
        pages += 1;
        assert_eq!(page["count"], crowd + 1);
        for member in page["connections"].as_array().unwrap() {
            seen.push(member["name"].as_str().unwrap().to_string());
        }
        match page["more"].as_str() {
            Some(more) => cursor = Some(more.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), crowd + 1, "nobody twice, in {pages} pages");
    let expected: BTreeSet<String> = (0..crowd).map(long_name).chain(["watcher".to_string()]).collect();
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
    assert!(pages >= 6, "at most 200 a page: {pages}");
    for drain in drains {
        drain.abort();
    }
}
