//! Sign-in through `wschat dev --issuer local`: the authorizer before
//! `$connect` as API Gateway runs it (401 at the upgrade, `$connect` never
//! reached), names from the token, the local issuer's code flow with PKCE
//! over plain HTTP, and the subprotocol `$connect` answers.

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use test_support::http_request;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{Client, Server, http, refused_upgrade, stack_copy};

const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;

fn local_issuer(extra: &[&str]) -> Server {
    let mut args = vec!["--issuer", "local"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// `http://127.0.0.1:PORT/issuer`.
fn issuer_url(server: &Server) -> String {
    format!("{}/issuer", server.http_root())
}

/// An ID token from `/issuer/login`, for the dev client or `client_id`.
fn login(server: &Server, name: &str, client_id: Option<&str>) -> String {
    let mut path = format!("/issuer/login?name={name}");
    if let Some(client) = client_id {
        path.push_str(&format!("&client_id={client}"));
    }
    let reply = http_request(server.port, "GET", &path, "");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let tokens: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    tokens["id_token"].as_str().unwrap().to_string()
}

/// Connects and returns the client with its welcome.
async fn welcomed(server: &Server, query: &str) -> (Client, Value) {
    let mut client = Client::open(server, query).await;
    let welcome = client.next_json().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    client.id = welcome["connectionId"].as_str().unwrap().to_string();
    // A JSON client's welcome is followed by everyone's history (chat.history is on).
    let history = client.next_json().await;
    assert_eq!(history["type"], "history", "{history}");
    (client, welcome)
}

/// The next frame of `client` whose `type` is `kind`.
async fn next_of(client: &mut Client, kind: &str) -> Value {
    loop {
        let frame = client.next_json().await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// The query parameters of a `Location`.
fn query_of(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn without_a_token_the_upgrade_is_401_and_the_authorizer_is_not_called() {
    let server = local_issuer(&[]);
    for query in ["format=json", "format=json&token=", "format=json&username=alice"] {
        let (status, body, kind) = refused_upgrade(&server, query).await;
        assert_eq!(
            (status, body.as_str(), kind.as_deref()),
            (401, UNAUTHORIZED, Some("UnauthorizedException")),
            "{query}"
        );
    }
    server.wait_for_log("(no ?token=) -> 401; the authorizer is not called").await;
    let log = server.log();
    assert!(!log.contains("-> allowed"), "{log}");
    assert!(!log.contains("connect    "), "$connect ran for a refused upgrade:\n{log}");
}

#[tokio::test]
async fn garbage_foreign_wrong_audience_and_expired_tokens_are_401() {
    let server = local_issuer(&[]);
    // Tokens that expired two minutes ago, past the 60 s of skew allowed; its
    // own key is unknown to `server`.
    let expired = local_issuer(&["--token-lifetime=-120"]);
    let stale = login(&expired, "Grace", None);
    let others = login(&server, "Grace", Some("someone-else"));
    for (server, token, reason) in [
        (&server, "not-a-jwt".to_string(), "the token is not a JWT"),
        (&server, stale.clone(), "the issuer has no key"),
        (&server, others, "the token is for audience [\"someone-else\"]"),
        (&expired, stale, "ExpiredSignature"),
    ] {
        let (status, body, _) = refused_upgrade(server, &format!("format=json&token={token}")).await;
        assert_eq!((status, body.as_str()), (401, UNAUTHORIZED), "{reason}");
        server.wait_for_log(reason).await;
    }
    for server in [&server, &expired] {
        assert!(!server.log().contains("connect    "), "$connect ran for a refused token:\n{}", server.log());
    }
}

#[tokio::test]
async fn a_token_from_login_connects_and_what_others_receive_names_grace() {
    let server = local_issuer(&[]);
    let (mut ada, welcome) = welcomed(&server, &format!("format=json&token={}", login(&server, "Ada", None))).await;
    assert_eq!(welcome["name"], "Ada");

    let (mut grace, welcome) = welcomed(&server, &format!("format=json&token={}", login(&server, "Grace", None))).await;
    assert_eq!(welcome["name"], "Grace");
    let joined = next_of(&mut ada, "joined").await;
    assert_eq!((joined["name"].as_str(), joined["connectionId"].as_str()), (Some("Grace"), Some(grace.id.as_str())));

    grace.send(r#"{"action":"send","text":"hello from a token"}"#).await;
    let message = next_of(&mut ada, "message").await;
    assert_eq!((message["from"].as_str(), message["text"].as_str()), (Some("Grace"), Some("hello from a token")));
    server.wait_for_log("-> allowed local-Grace").await;
}

#[tokio::test]
async fn username_beside_a_token_does_not_change_the_name() {
    let server = local_issuer(&[]);
    let (mut ada, _) = welcomed(&server, &format!("format=json&token={}", login(&server, "Ada", None))).await;
    let query = format!("format=json&username=Mallory&token={}", login(&server, "Grace", None));
    let (mut grace, welcome) = welcomed(&server, &query).await;
    assert_eq!(welcome["name"], "Grace");
    assert_eq!(next_of(&mut ada, "joined").await["name"], "Grace");

    // Nor can a rename: the name is the identity's.
    grace.send(r#"{"action":"rename","name":"Mallory"}"#).await;
    let refusal = grace.next_json().await;
    assert!(refusal.to_string().contains("your name comes from your sign-in"), "{refusal}");
    ada.send(r#"{"action":"list"}"#).await;
    let list = next_of(&mut ada, "list").await;
    let names: Vec<&str> =
        list["connections"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Grace") && !names.contains(&"Mallory"), "{list}");
}

#[tokio::test]
async fn the_code_flow_with_pkce_over_plain_http() {
    let server = local_issuer(&[]);
    let issuer = issuer_url(&server);
    // Discovery, as chat-core reads it for the page and the keys.
    let discovery = chat_core::oidc::discover(&issuer).await.unwrap();
    assert_eq!(discovery.authorization_endpoint, Some(format!("{issuer}/authorize")));
    assert_eq!(discovery.token_endpoint, Some(format!("{issuer}/token")));
    let document: Value =
        serde_json::from_slice(&http_request(server.port, "GET", "/issuer/.well-known/openid-configuration", "").body)
            .unwrap();
    assert_eq!(document["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    let config: Value = serde_json::from_slice(&http_request(server.port, "GET", "/config.json", "").body).unwrap();
    assert_eq!(config["auth"]["clientId"], "wschat-dev");
    assert_eq!(config["auth"]["authorizationEndpoint"], format!("{issuer}/authorize"));

    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let page = server.website.clone();
    let request = [
        ("response_type", "code"),
        ("client_id", "wschat-dev"),
        ("redirect_uri", page.as_str()),
        ("state", "state-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("nonce", "nonce-1"),
    ];
    let authorize = format!("/issuer/authorize?{}", form(&request));

    // No session yet: the form, with the request in it.
    let shown = http(server.port, "GET", &authorize, &[], "");
    assert_eq!(shown.status, 200);
    assert!(shown.text().contains("<form method=\"post\" action=\"/issuer/authorize\">"), "{}", shown.text());
    assert!(shown.header("content-security-policy").unwrap().contains("default-src 'none'"));
    let none = http(server.port, "GET", &format!("{authorize}&prompt=none"), &[], "");
    let back = query_of(none.header("location").expect("a redirect"));
    assert_eq!((param(&back, "error"), param(&back, "state")), (Some("login_required"), Some("state-1")));

    // The form signs Grace in: a code, the state, and a session cookie.
    let typed = form(&[&request[..], &[("name", "Grace")]].concat());
    let origin = server.http_root();
    let form_headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", origin.as_str())];
    let signed_in = http(server.port, "POST", "/issuer/authorize", &form_headers, &typed);
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
    let location = signed_in.header("location").unwrap();
    assert!(location.starts_with(&format!("{page}?code=")), "{location}");
    let back = query_of(location);
    assert_eq!(param(&back, "state"), Some("state-1"));
    let code = param(&back, "code").unwrap().to_string();
    let cookie = signed_in.header("set-cookie").unwrap();
    assert!(cookie.contains("Path=/issuer") && cookie.contains("HttpOnly"), "{cookie}");
    let cookie = cookie.split(';').next().unwrap().to_string();

    let exchange = |code: &str, verifier: &str| {
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", page.as_str()),
            ("client_id", "wschat-dev"),
            ("code_verifier", verifier),
        ]);
        http(server.port, "POST", "/issuer/token", &[("Content-Type", "application/x-www-form-urlencoded")], &body)
    };
    // A wrong verifier is refused, and spends the code.
    let wrong = exchange(&code, "b-verifier-of-at-least-forty-three-characters-0123456789");
    assert_eq!(wrong.status, 400);
    assert_eq!(serde_json::from_slice::<Value>(&wrong.body).unwrap()["error"], "invalid_grant");
    assert_eq!(exchange(&code, verifier).status, 400, "a code is good once");

    // With the session, the issuer sends a new code at once, as an IdP does.
    let again = http(server.port, "GET", &authorize, &[("Cookie", cookie.as_str())], "");
    assert_eq!(again.status, 302, "{}", again.text());
    let code = param(&query_of(again.header("location").unwrap()), "code").unwrap().to_string();
    let tokens = exchange(&code, verifier);
    assert_eq!(tokens.status, 200, "{}", tokens.text());
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let tokens: Value = serde_json::from_slice(&tokens.body).unwrap();
    let reused = exchange(&code, verifier);
    assert_eq!(serde_json::from_slice::<Value>(&reused.body).unwrap()["error"], "invalid_grant");

    // The ID token connects, as Grace.
    let id_token = tokens["id_token"].as_str().unwrap();
    let (_grace, welcome) = welcomed(&server, &format!("format=json&token={id_token}")).await;
    assert_eq!(welcome["name"], "Grace");

    // Logout ends the session and goes back to the page.
    let logout = format!("/issuer/logout?post_logout_redirect_uri={}", encode(&page));
    let out = http(server.port, "GET", &logout, &[("Cookie", cookie.as_str())], "");
    assert_eq!((out.status, out.header("location")), (302, Some(page.as_str())));
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));

    // A form from another site cannot sign this browser in (login CSRF),
    // though this page's no-referrer policy makes a browser send `Origin: null`.
    let cross_site = [
        vec![("Origin", "null"), ("Sec-Fetch-Site", "cross-site")],
        vec![("Origin", "null")],
        vec![("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
    ];
    for extra in cross_site {
        let headers = [&[("Content-Type", "application/x-www-form-urlencoded")][..], &extra].concat();
        let forged = http(server.port, "POST", "/issuer/authorize", &headers, &typed);
        assert_eq!(forged.status, 400, "{extra:?}: {}", forged.text());
        assert!(forged.text().contains("may not sign in here"), "{}", forged.text());
        assert_eq!(forged.header("set-cookie"), None, "{extra:?}");
    }
    // Chromium's own form post on this page: `Origin: null`, `Sec-Fetch-Site: same-origin`.
    let own =
        [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "null"), ("Sec-Fetch-Site", "same-origin")];
    assert_eq!(http(server.port, "POST", "/issuer/authorize", &own, &typed).status, 303);

    // Codes go only to this origin or the loopback, never elsewhere.
    let evil = authorize.replace(&encode(&page), &encode("https://evil.example/"));
    let refused = http(server.port, "GET", &evil, &[], "");
    assert_eq!((refused.status, refused.header("location")), (400, None));
}

#[tokio::test]
async fn the_handshake_carries_the_subprotocol_connect_answers() {
    let server = local_issuer(&[]);
    let url = server.url(&format!("format=json&token={}", login(&server, "Grace", None)));
    let mut offered = url.as_str().into_client_request().unwrap();
    offered.headers_mut().insert("Sec-WebSocket-Protocol", "wschat".parse().unwrap());
    let (_ws, response) = tokio_tungstenite::connect_async(offered).await.expect("connecting with a subprotocol");
    assert_eq!(response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap()), Some("wschat"));
    let (_ws, response) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connecting without one");
    assert_eq!(response.headers().get("sec-websocket-protocol"), None);
}

#[tokio::test]
async fn json_and_the_log_name_the_issuer() {
    let server = local_issuer(&["--json"]);
    let issuer = issuer_url(&server);
    server.wait_for_log(&format!("issuer:    {issuer}")).await;
    let stopped = server.stop();
    let urls: Value = serde_json::from_str(stopped.stdout.trim()).unwrap();
    assert_eq!(urls["issuer"], issuer);
}

/// The shipped stack.yaml with `api.auth.jwt` for `issuer` and `audience`
/// (which brings the shipped authorizer function).
fn jwt_stack(issuer: &str, audience: &str) -> tempfile::TempDir {
    let dir = stack_copy();
    let authorizer = dir.path().join("lambdas/authorizer");
    std::fs::create_dir_all(&authorizer).unwrap();
    std::fs::copy(crate::support::root().join("lambdas/authorizer/Cargo.toml"), authorizer.join("Cargo.toml")).unwrap();
    let file = dir.path().join("stack.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let auth = format!("api:\n  auth:\n    jwt:\n      issuer: {issuer}\n      audience: [{audience}]\n");
    assert!(yaml.contains("\napi:\n"), "{yaml}");
    std::fs::write(&file, yaml.replacen("\napi:\n", &format!("\n{auth}"), 1)).unwrap();
    dir
}

#[tokio::test]
async fn issuer_local_signs_in_as_the_first_audience_of_a_jwt_stack() {
    let dir = jwt_stack("https://issuer.example.com/pool", "chat-client, other-client");
    let server = Server::start_in(dir.path(), &["--issuer", "local"]);
    let config: Value = serde_json::from_slice(&http_request(server.port, "GET", "/config.json", "").body).unwrap();
    assert_eq!(config["auth"]["clientId"], "chat-client");
    let (_client, welcome) = welcomed(&server, &format!("format=json&token={}", login(&server, "Grace", None))).await;
    assert_eq!(welcome["name"], "Grace");
    let (status, _, _) =
        refused_upgrade(&server, &format!("token={}", login(&server, "Grace", Some("wschat-dev")))).await;
    assert_eq!(status, 401, "a token for wschat-dev is not for this stack's client");
}

#[tokio::test]
async fn a_jwt_stack_signs_in_with_its_own_issuer() {
    // The stack's issuer is another dev's local one (plain http is accepted on the loopback).
    let idp = local_issuer(&[]);
    let issuer = issuer_url(&idp);
    let dir = jwt_stack(&issuer, "wschat-dev");
    let server = Server::start_in(dir.path(), &[]);
    server.wait_for_log(&format!("issuer:    {issuer}")).await;
    let config: Value = serde_json::from_slice(&http_request(server.port, "GET", "/config.json", "").body).unwrap();
    assert_eq!(config["auth"]["issuer"], issuer);
    assert_eq!(config["auth"]["tokenEndpoint"], format!("{issuer}/token"));
    assert_eq!(config["auth"]["endSessionEndpoint"], format!("{issuer}/logout"));
    assert_eq!(http_request(server.port, "GET", "/issuer/login?name=Grace", "").status, 404, "no local issuer here");

    // Its keys come over HTTP from the issuer, as the authorizer function reads them.
    let (_client, welcome) = welcomed(&server, &format!("format=json&token={}", login(&idp, "Grace", None))).await;
    assert_eq!(welcome["name"], "Grace");
    let (status, body, _) = refused_upgrade(&server, "format=json").await;
    assert_eq!((status, body.as_str()), (401, UNAUTHORIZED));
}

#[test]
fn a_jwt_stack_whose_issuer_cannot_be_read_stops_dev_with_the_field_named() {
    let dir = jwt_stack("https://127.0.0.1:9/pool", "chat-client");
    let (out, stderr) = crate::support::run(crate::support::wschat(dir.path()).args(["dev", "--port", "0"]));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("api.auth.jwt.issuer `https://127.0.0.1:9/pool`"), "{stderr}");
}
