//! What `wschat dev` serves to whom (issue #24's findings 4 to 6): no name
//! that passes for the chat itself; no dot file of the site; no
//! `@connections` call from a browser page; on the loopback, no request for
//! another host name (DNS rebinding).

use serde_json::json;
use test_support::http_request;

use super::{Client, Server, http, refused_upgrade, stack_copy};

#[tokio::test]
async fn dot_files_of_the_site_are_never_served() {
    let dir = stack_copy();
    let www = dir.path().join("wwwroot");
    std::fs::write(www.join(".env"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(www.join(".git")).unwrap();
    std::fs::write(www.join(".git/config"), "[remote]\n").unwrap();
    std::fs::create_dir_all(www.join("img")).unwrap();
    std::fs::write(www.join("img/.DS_Store"), "x").unwrap();
    let server = Server::start_in(dir.path(), &[]);
    for path in ["/.env", "/.git/config", "/%2eenv", "/img/.DS_Store", "/.git/"] {
        let reply = http_request(server.port, "GET", path, "");
        assert_eq!(reply.status, 404, "{path}");
        assert!(!reply.text().contains("SECRET") && !reply.text().contains("[remote]"), "{path}");
    }
    assert_eq!(http_request(server.port, "GET", "/main.js", "").status, 200, "other files are");
}

#[tokio::test]
async fn a_browser_page_cannot_post_to_connections_and_the_sdk_still_can() {
    let server = Server::start(&[]);
    let mut alice = Client::join(&server, "username=alice").await;
    let path = format!("/@connections/{}", alice.id.replace('=', "%3D"));
    // What a cross-site page can send without a CORS preflight.
    for extra in [
        vec![("Origin", "https://evil.example"), ("Content-Type", "text/plain")],
        vec![("Origin", "null")],
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-origin"), ("Origin", &*server.http_root().trim_end_matches('/').to_string())],
    ] {
        let reply = http(server.port, "POST", &path, &extra, "forged");
        assert_eq!(reply.status, 403, "{extra:?}");
        assert_eq!(reply.header("x-amzn-errortype"), Some("MissingAuthenticationTokenException"));
        let delete = http(server.port, "DELETE", &path, &extra, "");
        assert_eq!(delete.status, 403, "{extra:?}");
    }
    alice.expect_silence(std::time::Duration::from_millis(300)).await;
    server.wait_for_log("-> 403: a browser request (Origin: https://evil.example)").await;
    // The SDK sends neither header.
    let reply = http(server.port, "POST", &path, &[], "from the backend");
    assert_eq!(reply.status, 200);
    assert_eq!(alice.next().await, "from the backend");
}

#[tokio::test]
async fn on_the_loopback_dev_answers_only_loopback_host_names() {
    let server = Server::start(&[]);
    let port = server.port;
    for host in ["evil.example", "evil.example:80", "127.0.0.1.nip.io", "localhost.evil.example"] {
        let reply = http(port, "GET", "/", &[("Host", host)], "");
        assert_eq!(reply.status, 403, "{host}");
        assert!(reply.text().contains("answers requests for localhost"), "{}", reply.text());
        let config = http(port, "GET", "/config.json", &[("Host", host)], "");
        assert_eq!(config.status, 403, "{host}");
    }
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        assert_eq!(http(port, "GET", "/", &[("Host", &host)], "").status, 200, "{host}");
    }
    // The WebSocket upgrade too.
    let upgrade = [
        ("Host", "evil.example"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    assert_eq!(http(port, "GET", "/dev?username=x", &upgrade, "").status, 403);
}

#[tokio::test]
async fn names_that_pass_for_the_chat_are_refused_at_connect_and_rename() {
    let server = Server::start(&[]);
    let encode = |name: &str| name.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    for (name, reason) in [
        ("\u{FF03}host", "names starting with `#` are reserved"),
        ("\u{200B}#host", "a name cannot contain U+200B"),
        ("\u{202E}tsoh#", "a name cannot contain U+202E"),
    ] {
        let (status, body, _) = refused_upgrade(&server, &format!("username={}", encode(name))).await;
        assert_eq!(status, 400, "{name:?}");
        assert!(body.contains(reason), "{name:?}: {body}");
    }
    let mut grace = Client::join(&server, &format!("username={}&format=json", encode("\u{FB01}ona"))).await;
    grace.send(&json!({"action": "rename", "name": "\u{FF03}host"}).to_string()).await;
    let refused = grace.next_json().await;
    assert!(refused["error"].as_str().unwrap().contains("reserved for the chat itself"), "{refused}");
    grace.send(&json!({"action": "list"}).to_string()).await;
    let list = grace.next_json().await;
    assert_eq!(list["connections"][0]["name"], "fiona", "stored NFKC-normalized");
}
