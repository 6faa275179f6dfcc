//! Token verification: real tokens signed with real keys (an RSA key from
//! `tests/fixtures/jwt`, ES256 keys made here with aws-lc-rs), and the
//! attacks a verifier must refuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use chat_core::auth::{FixedKeys, JwtConfig, KeySource, Refusal, Verifier, token_of};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.example.com/pool";
const CLIENT: &str = "chat-client";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jwt").join(name);
    std::fs::read_to_string(path).unwrap()
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(fixture("rsa-private.pem").as_bytes()).unwrap()
}

fn rsa_jwk() -> Value {
    serde_json::from_str(&fixture("rsa-jwk.json")).unwrap()
}

/// A fresh P-256 key: its signing half and its JWK.
fn ec_key(kid: &str) -> (EncodingKey, Value) {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

fn set(keys: &[Value]) -> JwkSet {
    serde_json::from_value(json!({ "keys": keys })).unwrap()
}

fn config() -> JwtConfig {
    JwtConfig { issuer: ISSUER.into(), audience: vec![CLIENT.into()], name_claim: None }
}

fn now() -> i64 {
    chat_core::now_millis() / 1000
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": CLIENT, "sub": "user-123", "name": "Ada", "email": "ada@example.com",
        "iat": now(), "exp": now() + 3600})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn rsa_token(claims: &Value) -> String {
    sign(Algorithm::RS256, Some("test-rsa-1"), &rsa_key(), claims)
}

fn verifier() -> Verifier<FixedKeys> {
    Verifier::new(config(), FixedKeys(set(&[rsa_jwk()])))
}

#[tokio::test]
async fn a_good_token_gives_its_subject_and_name() {
    let identity = verifier().verify(&rsa_token(&claims())).await.unwrap();
    assert_eq!((identity.sub.as_str(), identity.name.as_str()), ("user-123", "Ada"));

    let (key, jwk) = ec_key("ec-1");
    let verifier = Verifier::new(config(), FixedKeys(set(&[rsa_jwk(), jwk])));
    let es256 = sign(Algorithm::ES256, Some("ec-1"), &key, &claims());
    assert_eq!(verifier.verify(&es256).await.unwrap().sub, "user-123");
}

#[tokio::test]
async fn the_name_comes_from_the_configured_claim_then_name_email_sub() {
    let mut c = claims();
    c["nickname"] = json!("ada_l");
    let configured =
        Verifier::new(JwtConfig { name_claim: Some("nickname".into()), ..config() }, FixedKeys(set(&[rsa_jwk()])));
    assert_eq!(configured.verify(&rsa_token(&c)).await.unwrap().name, "ada_l");
    c.as_object_mut().unwrap().remove("name");
    assert_eq!(verifier().verify(&rsa_token(&c)).await.unwrap().name, "ada@example.com");
    c.as_object_mut().unwrap().remove("email");
    assert_eq!(verifier().verify(&rsa_token(&c)).await.unwrap().name, "user-123");
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused_beyond_the_leeway() {
    let mut c = claims();
    c["exp"] = json!(now() - 120);
    assert!(matches!(verifier().verify(&rsa_token(&c)).await, Err(Refusal::Invalid(m)) if m.contains("Expired")));
    c["exp"] = json!(now() - 30);
    assert!(verifier().verify(&rsa_token(&c)).await.is_ok(), "30 s of skew is allowed");
    let mut early = claims();
    early["nbf"] = json!(now() + 300);
    assert!(matches!(verifier().verify(&rsa_token(&early)).await, Err(Refusal::Invalid(m)) if m.contains("Immature")));
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert!(matches!(verifier().verify(&rsa_token(&no_exp)).await, Err(Refusal::Invalid(_))));
}

#[tokio::test]
async fn the_wrong_audience_or_issuer_is_refused_and_cognito_client_id_counts() {
    let mut c = claims();
    c["aud"] = json!(["someone-else"]);
    let refused = verifier().verify(&rsa_token(&c)).await.unwrap_err();
    assert_eq!(refused, Refusal::Audience { found: vec!["someone-else".into()], accepted: vec![CLIENT.into()] });
    // A Cognito access token: no `aud`, the app client in `client_id`.
    c.as_object_mut().unwrap().remove("aud");
    c["client_id"] = json!(CLIENT);
    assert!(verifier().verify(&rsa_token(&c)).await.is_ok());

    let mut other = claims();
    other["iss"] = json!("https://evil.example.com");
    assert!(matches!(verifier().verify(&rsa_token(&other)).await, Err(Refusal::Invalid(m)) if m.contains("Issuer")));
}

#[tokio::test]
async fn a_wrong_signature_is_refused() {
    // Signed by another key under the same key id.
    let (other, _) = ec_key("ec-1");
    let (_, jwk) = ec_key("ec-1");
    let verifier = Verifier::new(config(), FixedKeys(set(&[jwk])));
    let forged = sign(Algorithm::ES256, Some("ec-1"), &other, &claims());
    assert!(matches!(verifier.verify(&forged).await, Err(Refusal::Invalid(m)) if m.contains("Signature")));

    // A good token with its payload changed.
    let token = rsa_token(&claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let mut payload = claims();
    payload["sub"] = json!("admin");
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    assert!(matches!(self::verifier().verify(&parts.join(".")).await, Err(Refusal::Invalid(_))));
}

#[tokio::test]
async fn alg_none_and_hmac_with_the_public_key_are_refused() {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims()));
    assert!(matches!(verifier().verify(&none).await, Err(Refusal::Malformed(_))), "alg none is not even parsed");
    // HS256 keyed with the RSA public key's bytes: the classic confusion attack.
    let hmac = sign(
        Algorithm::HS256,
        Some("test-rsa-1"),
        &EncodingKey::from_secret(fixture("rsa-jwk.json").as_bytes()),
        &claims(),
    );
    assert_eq!(verifier().verify(&hmac).await.unwrap_err(), Refusal::Algorithm(Algorithm::HS256));
    // An ES256 token that claims the RSA key.
    let (key, _) = ec_key("x");
    let mixed = sign(Algorithm::ES256, Some("test-rsa-1"), &key, &claims());
    assert!(matches!(verifier().verify(&mixed).await, Err(Refusal::Invalid(m)) if m.contains("RS256")));
    assert!(matches!(verifier().verify("not a token").await, Err(Refusal::Malformed(_))));
    assert_eq!(verifier().verify("  ").await.unwrap_err(), Refusal::Missing);
}

/// A key source whose set can change, counting its fetches.
struct Rotating {
    keys: std::sync::Mutex<JwkSet>,
    fetches: Arc<AtomicUsize>,
}

#[async_trait]
impl KeySource for Rotating {
    async fn fetch(&self) -> Result<JwkSet, String> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(self.keys.lock().unwrap().clone())
    }
}

#[tokio::test(start_paused = true)]
async fn an_unknown_key_id_fetches_the_set_again_at_most_every_30_seconds() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = Rotating { keys: std::sync::Mutex::new(set(&[rsa_jwk()])), fetches: fetches.clone() };
    let verifier = Verifier::new(config(), source);
    verifier.verify(&rsa_token(&claims())).await.unwrap();
    verifier.verify(&rsa_token(&claims())).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the set is kept");

    // A token signed with a key the issuer has not published yet.
    let (key, jwk) = ec_key("ec-new");
    let fresh = sign(Algorithm::ES256, Some("ec-new"), &key, &claims());
    assert_eq!(verifier.verify(&fresh).await.unwrap_err(), Refusal::UnknownKey("ec-new".into()), "too soon to fetch");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    tokio::time::advance(std::time::Duration::from_secs(31)).await;
    assert_eq!(verifier.verify(&fresh).await.unwrap_err(), Refusal::UnknownKey("ec-new".into()));
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "fetched again; the issuer does not have it yet");

    // The issuer rotates it in: found on the next fetch, and kept.
    verifier.source().keys.lock().unwrap().keys.push(serde_json::from_value(jwk).unwrap());
    tokio::time::advance(std::time::Duration::from_secs(31)).await;
    assert_eq!(verifier.verify(&fresh).await.unwrap().sub, "user-123");
    assert_eq!(verifier.verify(&fresh).await.unwrap().sub, "user-123");
    assert_eq!(verifier.verify(&rsa_token(&claims())).await.unwrap().sub, "user-123");
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[test]
fn the_token_comes_from_the_query_or_the_websocket_protocol_header() {
    assert_eq!(token_of(Some(" a.b.c "), Some("bearer.x.y.z")).as_deref(), Some("a.b.c"));
    assert_eq!(token_of(None, Some("chat, bearer.x.y.z")).as_deref(), Some("x.y.z"));
    assert_eq!(token_of(Some(""), Some("x.y.z")).as_deref(), Some("x.y.z"));
    assert_eq!(token_of(None, Some("chat, graphql-ws")), None);
    assert_eq!(token_of(None, None), None);
}

fn authorizer_event(query: Option<&str>, protocol: Option<&str>) -> chat_core::event::AuthorizerEvent {
    let arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect";
    let mut event = json!({"type": "REQUEST", "methodArn": arn, "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "X1=", "apiId": "abc123", "stage": "dev"}});
    if let Some(token) = query {
        event["queryStringParameters"] = json!({"token": token});
    }
    if let Some(protocol) = protocol {
        event["headers"]["sec-websocket-protocol"] = json!(protocol);
    }
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn the_authorizer_allows_this_connect_alone_and_passes_the_identity_on() {
    let verifier = verifier();
    let token = rsa_token(&claims());
    let allowed = chat_core::auth::authorize(&verifier, &authorizer_event(Some(&token), None)).await.unwrap();
    let answer = serde_json::to_value(&allowed).unwrap();
    assert_eq!(
        answer,
        json!({
            "principalId": "user-123",
            "policyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": "execute-api:Invoke", "Effect": "Allow",
                "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect"}]},
            "context": {"sub": "user-123", "name": "Ada"}
        })
    );
    // The same token in the WebSocket protocol header (any case).
    let header = format!("chat, bearer.{token}");
    assert!(chat_core::auth::authorize(&verifier, &authorizer_event(None, Some(&header))).await.is_ok());

    let missing = chat_core::auth::authorize(&verifier, &authorizer_event(None, None)).await.unwrap_err();
    assert_eq!(missing, Refusal::Missing);
    let mut expired = claims();
    expired["exp"] = json!(now() - 3600);
    let refused = chat_core::auth::authorize(&verifier, &authorizer_event(Some(&rsa_token(&expired)), None)).await;
    assert!(matches!(refused, Err(Refusal::Invalid(_))), "{refused:?}");
}
