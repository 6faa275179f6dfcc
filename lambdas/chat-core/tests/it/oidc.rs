//! The issuer's keys fetched over HTTP from a local issuer (loopback only),
//! as the authorizer fetches them from a real one over HTTPS.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::routing::get;
use chat_core::auth::KeySource;
use chat_core::oidc::OidcKeys;
use serde_json::{Value, json};

struct Issuer {
    /// What the discovery document says the issuer is.
    claims_to_be: Option<String>,
    keys: Value,
    requests: AtomicUsize,
}

/// Serves `/.well-known/openid-configuration` and `/jwks` on 127.0.0.1; returns its URL.
async fn serve(issuer: Arc<Issuer>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let own = base.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move |State(i): State<Arc<Issuer>>| {
                let own = own.clone();
                async move {
                    i.requests.fetch_add(1, Ordering::SeqCst);
                    let name = i.claims_to_be.clone().unwrap_or_else(|| own.clone());
                    axum::Json(json!({"issuer": name, "jwks_uri": format!("{own}/jwks")}))
                }
            }),
        )
        .route(
            "/jwks",
            get(|State(i): State<Arc<Issuer>>| async move {
                i.requests.fetch_add(1, Ordering::SeqCst);
                axum::Json(i.keys.clone())
            }),
        )
        .with_state(issuer);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn keys() -> Value {
    let jwk: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt/rsa-jwk.json"),
        )
        .unwrap(),
    )
    .unwrap();
    json!({ "keys": [jwk] })
}

#[tokio::test]
async fn the_keys_come_from_the_jwks_uri_of_the_discovery_document() {
    let issuer = Arc::new(Issuer { claims_to_be: None, keys: keys(), requests: AtomicUsize::new(0) });
    let url = serve(issuer.clone()).await;
    let set = OidcKeys::new(url).unwrap().fetch().await.unwrap();
    assert_eq!(set.keys.len(), 1);
    assert!(set.find("test-rsa-1").is_some());
    assert_eq!(issuer.requests.load(Ordering::SeqCst), 2, "discovery, then the key set");
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_not_used() {
    let claims = Some("https://evil.example.com".to_string());
    let issuer = Arc::new(Issuer { claims_to_be: claims, keys: keys(), requests: AtomicUsize::new(0) });
    let url = serve(issuer.clone()).await;
    let err = OidcKeys::new(url).unwrap().fetch().await.unwrap_err();
    assert!(err.contains("must be identical"), "{err}");
    assert_eq!(issuer.requests.load(Ordering::SeqCst), 1, "the key set is never fetched");
}

#[tokio::test]
async fn plain_http_is_refused_off_the_loopback_and_errors_name_the_url() {
    let err = OidcKeys::new("http://issuer.example.com").unwrap().fetch().await.unwrap_err();
    assert!(err.contains("is not an https URL") && err.contains("http://issuer.example.com"), "{err}");
    // Nobody listens there.
    let err = OidcKeys::new("http://127.0.0.1:9").unwrap().fetch().await.unwrap_err();
    assert!(err.contains("GET http://127.0.0.1:9/.well-known/openid-configuration"), "{err}");
}
