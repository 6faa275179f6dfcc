use axum::http::{HeaderMap, header};
use chat_core::auth::{FixedKeys, JwtConfig, Refusal, Verifier};
use tokio::time::Instant;

use super::codes::{CODE_LIFETIME, Refused, is_pkce_value, s256};
use super::pages::escape_html;
use super::parameters::{form_pairs, parameters, with_query};
use super::session::{SESSION_COOKIE, session, session_cookie};
use super::*;

const ORIGIN: &str = "http://127.0.0.1:8080";
const PAGE: &str = "http://127.0.0.1:8080/";
// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A token's claims, read without checking it.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn issuer() -> Issuer {
    Issuer::new(ORIGIN, DEV_CLIENT_ID, 3600).unwrap()
}

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn request() -> HashMap<String, String> {
    params(&[
        ("response_type", "code"),
        ("client_id", DEV_CLIENT_ID),
        ("redirect_uri", PAGE),
        ("state", "xyz"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("nonce", "n-0S6_WzA2Mj"),
    ])
}

/// The code in a redirect to the page.
fn code_in(location: &str) -> String {
    let query = location.strip_prefix(PAGE).and_then(|l| l.strip_prefix('?')).expect(location);
    let pairs: HashMap<_, _> = form_pairs(query).into_iter().collect();
    assert_eq!(pairs["state"], "xyz", "{location}");
    pairs["code"].clone()
}

fn exchange(code: &str, verifier: &str) -> HashMap<String, String> {
    params(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", PAGE),
        ("client_id", DEV_CLIENT_ID),
        ("code_verifier", verifier),
    ])
}

#[test]
fn s256_is_rfc_7636s_example() {
    assert_eq!(s256(VERIFIER), CHALLENGE);
    assert!(is_pkce_value(VERIFIER));
    assert!(!is_pkce_value("too-short"));
    assert!(!is_pkce_value(&format!("{VERIFIER}+")));
    assert!(!is_pkce_value(&"a".repeat(129)));
}

#[test]
fn a_code_with_the_right_verifier_gives_tokens_once() {
    let issuer = issuer();
    let code = code_in(&issuer.grant(&issuer.check(&request()).unwrap(), "Grace"));
    let tokens = issuer.redeem(&exchange(&code, VERIFIER)).unwrap();
    let claims = claims_of(&tokens.id_token);
    assert_eq!(claims["iss"], "http://127.0.0.1:8080/issuer");
    assert_eq!(claims["aud"], DEV_CLIENT_ID);
    assert_eq!((claims["sub"].as_str(), claims["name"].as_str()), (Some("local-Grace"), Some("Grace")));
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert_eq!(claims_of(&tokens.access_token)["client_id"], DEV_CLIENT_ID);
    // RFC 6749 4.1.2: a code is for one use.
    assert_eq!(issuer.redeem(&exchange(&code, VERIFIER)).unwrap_err().error, "invalid_grant");
}

#[test]
fn a_wrong_verifier_fails_and_spends_the_code() {
    let issuer = issuer();
    let code = code_in(&issuer.grant(&issuer.check(&request()).unwrap(), "Grace"));
    let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
    assert_eq!(issuer.redeem(&exchange(&code, wrong)).unwrap_err().error, "invalid_grant");
    assert_eq!(issuer.redeem(&exchange(&code, VERIFIER)).unwrap_err().error, "invalid_grant");
    let code = code_in(&issuer.grant(&issuer.check(&request()).unwrap(), "Grace"));
    let mut missing = exchange(&code, VERIFIER);
    missing.remove("code_verifier");
    assert_eq!(issuer.redeem(&missing).unwrap_err().error, "invalid_request");
}

#[test]
fn a_code_is_bound_to_its_client_and_redirect_uri_and_expires() {
    let issuer = issuer();
    for (key, other) in [("client_id", "someone-else"), ("redirect_uri", "http://127.0.0.1:8080/other")] {
        let code = code_in(&issuer.grant(&issuer.check(&request()).unwrap(), "Grace"));
        let mut changed = exchange(&code, VERIFIER);
        changed.insert(key.into(), other.into());
        assert_eq!(issuer.redeem(&changed).unwrap_err().error, "invalid_grant", "{key}");
    }
    let code = code_in(&issuer.grant(&issuer.check(&request()).unwrap(), "Grace"));
    issuer.codes.lock().unwrap().get_mut(&code).unwrap().issued = Instant::now() - CODE_LIFETIME;
    assert_eq!(issuer.redeem(&exchange(&code, VERIFIER)).unwrap_err().error, "invalid_grant");
    let mut grant = exchange("x", VERIFIER);
    grant.insert("grant_type".into(), "password".into());
    assert_eq!(issuer.redeem(&grant).unwrap_err().error, "unsupported_grant_type");
}

#[test]
fn requests_without_pkce_s256_go_back_with_an_error() {
    let issuer = issuer();
    for (key, value) in [("code_challenge_method", "plain"), ("code_challenge", ""), ("response_type", "token")] {
        let mut req = request();
        req.insert(key.into(), value.into());
        match issuer.check(&req) {
            Err(Refused::Back { error, state, .. }) => {
                assert!(matches!(error, "invalid_request" | "unsupported_response_type"), "{key}: {error}");
                assert_eq!(state.as_deref(), Some("xyz"));
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    let mut req = request();
    req.remove("code_challenge_method");
    assert!(matches!(issuer.check(&req), Err(Refused::Back { error: "invalid_request", .. })));
}

#[test]
fn codes_go_only_to_this_origin_or_the_loopback() {
    let issuer = Issuer::new("http://192.168.1.5:8080", DEV_CLIENT_ID, 60).unwrap();
    assert!(issuer.accepts_redirect("http://192.168.1.5:8080/"));
    assert!(issuer.accepts_redirect("http://127.0.0.1:3000/callback"));
    assert!(issuer.accepts_redirect("http://localhost/"));
    assert!(issuer.accepts_redirect("http://[::1]:9/"));
    assert!(!issuer.accepts_redirect("https://evil.example/"));
    assert!(!issuer.accepts_redirect("http://127.0.0.1.evil.example/"));
    assert!(!issuer.accepts_redirect("http://192.168.1.5:8081/"));
    assert!(!issuer.accepts_redirect("http://127.0.0.1:8080/#fragment"));
    assert!(!issuer.accepts_redirect("/relative"));
    let mut req = request();
    req.insert("redirect_uri".into(), "https://evil.example/".into());
    assert!(matches!(issuer.check(&req), Err(Refused::Here(_))));
}

#[test]
fn parameters_are_decoded_once_and_never_twice_given() {
    assert_eq!(
        form_pairs("a=1+2&b=%26%3D&c"),
        vec![("a".into(), "1 2".into()), ("b".into(), "&=".into()), ("c".into(), String::new())]
    );
    assert!(parameters(form_pairs("code=a&code=b")).is_err());
    assert_eq!(with_query("http://x/?a=1", &[("state", "a b&c")]), "http://x/?a=1&state=a%20b%26c");
    assert_eq!(escape_html(r#"<b onclick="x">'&'</b>"#), "&lt;b onclick=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;");
}

#[test]
fn the_session_cookie_round_trips_a_name() {
    let mut headers = HeaderMap::new();
    let cookie = session_cookie("Ada Lovelace; é");
    let value = cookie.split(';').next().unwrap();
    headers.insert(header::COOKIE, format!("other=1; {value}").parse().unwrap());
    assert_eq!(session(&headers).as_deref(), Some("Ada Lovelace; é"));
    headers.insert(header::COOKIE, format!("{SESSION_COOKIE}=%23host").parse().unwrap());
    assert_eq!(session(&headers), None, "not a name the chat accepts");
}

#[tokio::test]
async fn its_tokens_pass_chat_cores_verifier_until_they_expire() {
    let issuer = issuer();
    let config = JwtConfig { issuer: issuer.url().into(), audience: vec![DEV_CLIENT_ID.into()], name_claim: None };
    let verifier = Verifier::new(config.clone(), FixedKeys(issuer.keys()));
    let tokens = issuer.sign("Grace", DEV_CLIENT_ID, None, SIGN_IN_SCOPE);
    for token in [&tokens.id_token, &tokens.access_token] {
        let identity = verifier.verify(token).await.unwrap();
        assert_eq!((identity.sub.as_str(), identity.name.as_str()), ("local-Grace", "Grace"));
    }
    let other = issuer.sign("Grace", "someone-else", None, SIGN_IN_SCOPE);
    assert!(matches!(verifier.verify(&other.id_token).await, Err(Refusal::Audience { .. })));
    let expired = Issuer { lifetime: -120, ..issuer };
    let stale = expired.sign("Grace", DEV_CLIENT_ID, None, SIGN_IN_SCOPE);
    let verifier = Verifier::new(config, FixedKeys(expired.keys()));
    assert!(matches!(verifier.verify(&stale.id_token).await, Err(Refusal::Invalid(_))));
}
