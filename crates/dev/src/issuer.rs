//! `wschat dev --issuer local`: an OpenID Connect issuer inside dev, for
//! signing in without an identity provider. Any name signs in; there is no
//! password.
//!
//! It has its own ES256 key, made at startup (so a restart of dev makes the
//! tokens of the last run worthless), and lives on dev's own listener under
//! `/issuer`, the page's origin, so the page needs no CORS to reach it:
//!
//! | path | what it does |
//! |---|---|
//! | `GET /issuer/.well-known/openid-configuration` | the discovery document (OpenID Connect Discovery 1.0) |
//! | `GET /issuer/jwks.json` | the public key |
//! | `GET /issuer/login?name=NAME[&client_id=ID]` | a token for NAME at once, for scripts and tests: `{"id_token","access_token","token_type":"Bearer","expires_in"}` |
//! | `GET /issuer/authorize` | the authorization code flow (RFC 6749 4.1) with PKCE S256 required (RFC 7636): a form asking for a name, or straight back with a code when the browser has signed in before (its session cookie) |
//! | `POST /issuer/authorize` | the form: a one-time code, bound to client_id, redirect_uri and code_challenge, sent to redirect_uri |
//! | `POST /issuer/token` | the code and its code_verifier for an ID token and an access token |
//! | `GET /issuer/logout` | ends the session (RP-Initiated Logout 1.0) |
//!
//! Tokens carry `iss`, `aud` (the client id), `sub` (`local-` and the name,
//! the same for the same name), `name`, `iat`, `nbf`, `exp` and, in the
//! header, `kid`. The ID token carries the request's `nonce`; the access
//! token carries `client_id` and `scope` instead of `aud`, as Cognito's do.
//! Codes are accepted only for redirect URIs on this server's origin or on
//! the loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::info;

use wschat_stack::website::{PageAuth, SIGN_IN_SCOPE};

/// Where the issuer is mounted on dev's listener.
pub const PATH: &str = "/issuer";

/// The client id of the page when the stack names none (`auth: none`).
pub const DEV_CLIENT_ID: &str = "wschat-dev";

/// How long a code may wait for its exchange. RFC 6749 4.1.2: "A maximum
/// authorization code lifetime of 10 minutes is RECOMMENDED"; the page
/// trades it within a second.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// The session cookie: the name the browser signed in with, on `/issuer` only.
const SESSION_COOKIE: &str = "wschat_issuer_session";

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The local issuer: its key, its client and the codes not yet traded.
pub struct Issuer {
    /// `http://HOST:PORT/issuer`, the tokens' `iss`.
    url: String,
    /// `http://HOST:PORT`.
    origin: String,
    /// The page's client id: the audience dev accepts.
    client_id: String,
    /// Seconds from `iat` to `exp`; negative signs tokens that expired already.
    lifetime: i64,
    kid: String,
    key: EncodingKey,
    /// The public half, as a JWK.
    jwk: Value,
    codes: Mutex<HashMap<String, Grant>>,
}

/// What a code stands for until it is traded.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    /// BASE64URL(SHA256(code_verifier)), RFC 7636 4.2.
    challenge: String,
    name: String,
    nonce: Option<String>,
    scope: String,
    issued: Instant,
}

/// The token endpoint's answer (RFC 6749 5.1), and `/login`'s.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// An error of the token endpoint (RFC 6749 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenError {
    error: &'static str,
    description: String,
}

impl TokenError {
    fn new(error: &'static str, description: impl Into<String>) -> TokenError {
        TokenError { error, description: description.into() }
    }
}

/// A checked authorization request (RFC 6749 4.1.1, RFC 7636 4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authorization {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    nonce: Option<String>,
    scope: String,
    prompt: Option<String>,
}

/// Why an authorization request is refused. Without a redirect URI to trust,
/// the refusal is a page here; with one, it goes back to the client
/// (RFC 6749 4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refused {
    Here(String),
    Back { redirect_uri: String, state: Option<String>, error: &'static str, description: String },
}

impl Issuer {
    /// An issuer at `{origin}/issuer` with a fresh P-256 key, for `client_id`.
    pub fn new(origin: &str, client_id: &str, lifetime: i64) -> Result<Issuer> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| anyhow::anyhow!("generating the local issuer's P-256 key"))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("reading the local issuer's P-256 key"))?;
        // An uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = pair.public_key().as_ref();
        let kid = format!("local-{}", &hex::encode(Sha256::digest(point))[..12]);
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(&point[1..33]), "y": b64(&point[33..65]),
        });
        Ok(Issuer {
            url: format!("{origin}{PATH}"),
            origin: origin.to_string(),
            client_id: client_id.to_string(),
            lifetime,
            kid,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
            codes: Mutex::new(HashMap::new()),
        })
    }

    /// `http://HOST:PORT/issuer`, as tokens carry it in `iss`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key set, as `/jwks.json` serves it.
    pub fn keys(&self) -> JwkSet {
        serde_json::from_value(json!({ "keys": [self.jwk] })).expect("a JWK set")
    }

    /// config.json's `auth` for this issuer.
    pub fn page_auth(&self) -> PageAuth {
        PageAuth {
            issuer: self.url.clone(),
            client_id: self.client_id.clone(),
            authorization_endpoint: format!("{}/authorize", self.url),
            token_endpoint: format!("{}/token", self.url),
            end_session_endpoint: Some(format!("{}/logout", self.url)),
            scope: SIGN_IN_SCOPE.into(),
        }
    }

    fn discovery(&self) -> Value {
        let url = &self.url;
        json!({
            "issuer": url,
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "jwks_uri": format!("{url}/jwks.json"),
            "end_session_endpoint": format!("{url}/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["iss", "aud", "sub", "name", "iat", "nbf", "exp", "nonce"],
            "prompt_values_supported": ["none", "login"],
        })
    }

    /// An ID token and an access token for `name`, for `client_id`.
    pub fn sign(&self, name: &str, client_id: &str, nonce: Option<&str>, scope: &str) -> Tokens {
        let now = chat_core::now_millis() / 1000;
        let common = json!({
            "iss": self.url, "sub": subject(name), "name": name,
            "iat": now, "nbf": now, "exp": now + self.lifetime,
        });
        let mut id = common.clone();
        id["aud"] = json!(client_id);
        if let Some(nonce) = nonce {
            id["nonce"] = json!(nonce);
        }
        let mut access = common;
        access["client_id"] = json!(client_id);
        access["scope"] = json!(scope);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let sign = |claims: &Value| jsonwebtoken::encode(&header, claims, &self.key).expect("ES256 signs");
        Tokens {
            id_token: sign(&id),
            access_token: sign(&access),
            token_type: "Bearer",
            expires_in: self.lifetime.max(0),
        }
    }

    /// Whether a code may be sent to `uri`: this server's origin, or the
    /// loopback (any port), and no fragment (RFC 6749 3.1.2).
    fn accepts_redirect(&self, uri: &str) -> bool {
        let Ok(parsed) = uri.parse::<axum::http::Uri>() else {
            return false;
        };
        if uri.contains('#') || parsed.scheme().is_none() {
            return false;
        }
        if origin_of(uri).as_deref() == Some(self.origin.as_str()) {
            return true;
        }
        parsed.scheme_str() == Some("http") && matches!(parsed.host(), Some("127.0.0.1" | "localhost" | "[::1]"))
    }

    /// An authorization request's parameters, checked.
    fn check(&self, params: &HashMap<String, String>) -> Result<Authorization, Refused> {
        let get = |key: &str| params.get(key).filter(|v| !v.is_empty()).cloned();
        let Some(client_id) = get("client_id") else {
            return Err(Refused::Here("The request names no client_id.".into()));
        };
        let Some(redirect_uri) = get("redirect_uri") else {
            return Err(Refused::Here("The request names no redirect_uri.".into()));
        };
        if !self.accepts_redirect(&redirect_uri) {
            return Err(Refused::Here(format!(
                "The redirect_uri {redirect_uri} is neither on {} nor on the loopback: this issuer sends codes nowhere else.",
                self.origin
            )));
        }
        let state = get("state");
        let back = |error: &'static str, description: &str| Refused::Back {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            description: description.to_string(),
        };
        if get("response_type").as_deref() != Some("code") {
            return Err(back("unsupported_response_type", "only response_type=code is supported"));
        }
        // RFC 7636 4.4.1: a server that requires PKCE answers a request
        // without a code_challenge with invalid_request.
        let Some(challenge) = get("code_challenge") else {
            return Err(back("invalid_request", "code challenge required"));
        };
        if get("code_challenge_method").as_deref() != Some("S256") {
            return Err(back(
                "invalid_request",
                "transform algorithm not supported: code_challenge_method must be S256",
            ));
        }
        if !is_pkce_value(&challenge) {
            return Err(back("invalid_request", "code_challenge is not 43 to 128 unreserved characters"));
        }
        Ok(Authorization {
            client_id,
            redirect_uri,
            state,
            challenge,
            nonce: get("nonce"),
            scope: get("scope").unwrap_or_else(|| SIGN_IN_SCOPE.to_string()),
            prompt: get("prompt"),
        })
    }

    /// A one-time code for `name`, bound to the request, and where it goes.
    fn grant(&self, request: &Authorization, name: &str) -> String {
        let code = random_token();
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, grant| grant.issued.elapsed() < CODE_LIFETIME);
        codes.insert(
            code.clone(),
            Grant {
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                challenge: request.challenge.clone(),
                name: name.to_string(),
                nonce: request.nonce.clone(),
                scope: request.scope.clone(),
                issued: Instant::now(),
            },
        );
        drop(codes);
        info!("issuer     code for {name:?} to {} (client {})", request.redirect_uri, request.client_id);
        let mut back = vec![("code", code.as_str())];
        if let Some(state) = &request.state {
            back.push(("state", state));
        }
        with_query(&request.redirect_uri, &back)
    }

    /// The token request (RFC 6749 4.1.3, RFC 7636 4.5): the code is taken
    /// out on first sight, whatever follows, so it can never be used twice
    /// (RFC 6749 4.1.2, 10.5) nor its verifier guessed at.
    fn redeem(&self, params: &HashMap<String, String>) -> Result<Tokens, TokenError> {
        let get = |key: &str| params.get(key).filter(|v| !v.is_empty());
        match get("grant_type").map(String::as_str) {
            Some("authorization_code") => {}
            Some(_) => return Err(TokenError::new("unsupported_grant_type", "only authorization_code is supported")),
            None => return Err(TokenError::new("invalid_request", "grant_type is missing")),
        }
        let code = get("code").ok_or_else(|| TokenError::new("invalid_request", "code is missing"))?;
        let grant = self.codes.lock().unwrap_or_else(|p| p.into_inner()).remove(code);
        let grant = grant
            .filter(|grant| grant.issued.elapsed() < CODE_LIFETIME)
            .ok_or_else(|| TokenError::new("invalid_grant", "the code is unknown, used already or expired"))?;
        if get("client_id") != Some(&grant.client_id) {
            return Err(TokenError::new("invalid_grant", "the code was issued to another client_id"));
        }
        if get("redirect_uri") != Some(&grant.redirect_uri) {
            return Err(TokenError::new("invalid_grant", "redirect_uri differs from the authorization request's"));
        }
        let verifier =
            get("code_verifier").ok_or_else(|| TokenError::new("invalid_request", "code_verifier is missing"))?;
        if !is_pkce_value(verifier) || s256(verifier) != grant.challenge {
            return Err(TokenError::new("invalid_grant", "code_verifier does not match the code_challenge"));
        }
        info!("issuer     tokens for {:?} (client {})", grant.name, grant.client_id);
        Ok(self.sign(&grant.name, &grant.client_id, grant.nonce.as_deref(), &grant.scope))
    }
}

/// A token's `sub` for a name: the same name, the same subject.
pub fn subject(name: &str) -> String {
    format!("local-{name}")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 32 random bytes from the system's generator, base64url-encoded.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator");
    b64(&bytes)
}

/// RFC 7636 4.2: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`.
fn s256(verifier: &str) -> String {
    b64(&Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

/// `uri` with `pairs` added to its query.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    for (i, (key, value)) in pairs.iter().enumerate() {
        let joiner = if i == 0 && !uri.contains('?') { '?' } else { '&' };
        out.push(joiner);
        out.extend(utf8_percent_encode(key, COMPONENT));
        out.push('=');
        out.extend(utf8_percent_encode(value, COMPONENT));
    }
    out
}

/// `application/x-www-form-urlencoded` pairs. A parameter given twice is
/// refused (RFC 6749 3.1: "Request and response parameters MUST NOT be
/// included more than once").
fn parameters(pairs: impl IntoIterator<Item = (String, String)>) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (key, value) in pairs {
        if params.contains_key(&key) {
            return Err(format!("the parameter `{key}` is given more than once"));
        }
        params.insert(key, value);
    }
    Ok(params)
}

/// The pairs of a form body.
fn form_pairs(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Text for HTML, in element content and in quoted attributes.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The name of the browser's session, from its cookie.
fn session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| percent_decode_str(value).decode_utf8().ok().map(|v| v.into_owned()))
        .and_then(|name| chat_core::protocol::check_name(&name).ok())
}

fn session_cookie(name: &str) -> String {
    let value: String = utf8_percent_encode(name, COMPONENT).collect();
    format!("{SESSION_COOKIE}={value}; Path={PATH}; HttpOnly; SameSite=Lax")
}

fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path={PATH}; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The issuer's routes, to mount at [`PATH`].
pub fn routes<S: Clone + Send + Sync + 'static>(issuer: Arc<Issuer>) -> Router<S> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks.json", get(jwks))
        .route("/login", get(login))
        .route("/authorize", get(authorize_page).post(authorize_form))
        .route("/token", axum::routing::post(token))
        .route("/logout", get(logout))
        .with_state(issuer)
}

async fn discovery(State(issuer): State<Arc<Issuer>>) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(issuer.discovery())).into_response()
}

async fn jwks(State(issuer): State<Arc<Issuer>>) -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(json!({ "keys": [issuer.jwk] }))).into_response()
}

/// `GET /login?name=NAME[&client_id=ID][&nonce=N]`: tokens at once.
async fn login(State(issuer): State<Arc<Issuer>>, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let params = match parameters(pairs) {
        Ok(params) => params,
        Err(e) => return token_error(TokenError::new("invalid_request", e)),
    };
    let name = params.get("name").map(String::as_str).unwrap_or_default();
    let name = match chat_core::protocol::check_name(name) {
        Ok(name) => name,
        Err(e) => return token_error(TokenError::new("invalid_request", format!("name: {e}"))),
    };
    let client_id = params.get("client_id").filter(|c| !c.is_empty()).unwrap_or(&issuer.client_id);
    info!("issuer     login {name:?} (client {client_id})");
    let tokens = issuer.sign(&name, client_id, params.get("nonce").map(String::as_str), SIGN_IN_SCOPE);
    no_store(Json(tokens).into_response())
}

/// `GET /authorize`: straight back with a code for a browser with a session,
/// else the form.
async fn authorize_page(
    State(issuer): State<Arc<Issuer>>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let request = match parameters(pairs).map_err(Refused::Here).and_then(|params| issuer.check(&params)) {
        Ok(request) => request,
        Err(refused) => return refusal(refused),
    };
    let prompts: Vec<&str> = request.prompt.as_deref().unwrap_or_default().split(' ').collect();
    match session(&headers) {
        Some(name) if !prompts.contains(&"login") => {
            no_store((StatusCode::FOUND, [(header::LOCATION, issuer.grant(&request, &name))]).into_response())
        }
        // OpenID Connect Core 3.1.2.6: no session and no page to show.
        _ if prompts.contains(&"none") => refusal(Refused::Back {
            redirect_uri: request.redirect_uri,
            state: request.state,
            error: "login_required",
            description: "nobody is signed in to the local issuer in this browser".into(),
        }),
        _ => sign_in_page(&request, "", None, StatusCode::OK),
    }
}

/// `POST /authorize`: the form's name signs in.
async fn authorize_form(State(issuer): State<Arc<Issuer>>, headers: HeaderMap, body: String) -> Response {
    // A form on another site may not sign this browser in (login CSRF).
    if let Err(reason) = same_origin(&headers, &issuer.origin) {
        return refusal(Refused::Here(reason));
    }
    let params = match parameters(form_pairs(&body)) {
        Ok(params) => params,
        Err(e) => return refusal(Refused::Here(e)),
    };
    let request = match issuer.check(&params) {
        Ok(request) => request,
        Err(refused) => return refusal(refused),
    };
    let typed = params.get("name").map(String::as_str).unwrap_or_default();
    let name = match chat_core::protocol::check_name(typed) {
        Ok(name) => name,
        Err(e) => return sign_in_page(&request, typed, Some(&e), StatusCode::BAD_REQUEST),
    };
    let location = issuer.grant(&request, &name);
    no_store(
        (StatusCode::SEE_OTHER, [(header::LOCATION, location), (header::SET_COOKIE, session_cookie(&name))])
            .into_response(),
    )
}

/// Whether a form post comes from this issuer's own page. Browsers say so in
/// `Sec-Fetch-Site` (`same-origin`); this page's `no-referrer` policy makes
/// them send `Origin: null`, which a cross-site form can send too, so `null`
/// alone proves nothing. A request with neither header is no browser's.
fn same_origin(headers: &HeaderMap, own: &str) -> Result<(), String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return match site {
            "same-origin" => Ok(()),
            other => Err(format!("A form from another site ({other}) may not sign in here.")),
        };
    }
    match header("origin") {
        None => Ok(()),
        Some(origin) if origin == own => Ok(()),
        Some(origin) => Err(format!("A form on {origin} may not sign in here.")),
    }
}

/// `POST /token`.
async fn token(State(issuer): State<Arc<Issuer>>, body: String) -> Response {
    let result = parameters(form_pairs(&body))
        .map_err(|e| TokenError::new("invalid_request", e))
        .and_then(|params| issuer.redeem(&params));
    match result {
        Ok(tokens) => no_store(Json(tokens).into_response()),
        Err(e) => {
            info!("issuer     token refused: {} ({})", e.error, e.description);
            token_error(e)
        }
    }
}

/// `GET /logout`: the session cookie goes, and the browser back to
/// `post_logout_redirect_uri` when that is on this origin.
async fn logout(State(issuer): State<Arc<Issuer>>, Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let params: HashMap<String, String> = pairs.into_iter().collect();
    let back = params
        .get("post_logout_redirect_uri")
        .filter(|uri| origin_of(uri).as_deref() == Some(issuer.origin.as_str()) && !uri.contains('#'));
    let cookie = [(header::SET_COOKIE, cleared_cookie())];
    info!("issuer     logout");
    match back {
        Some(uri) => {
            let state = params.get("state").map(|s| vec![("state", s.as_str())]).unwrap_or_default();
            no_store((StatusCode::FOUND, cookie, [(header::LOCATION, with_query(uri, &state))]).into_response())
        }
        None => no_store(
            (cookie, page("Signed out", "<p>You are signed out of wschat dev's local issuer.</p>", None))
                .into_response(),
        ),
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

/// RFC 6749 5.2: 400 with `{"error","error_description"}`.
fn token_error(e: TokenError) -> Response {
    let body = json!({ "error": e.error, "error_description": e.description });
    no_store((StatusCode::BAD_REQUEST, Json(body)).into_response())
}

fn refusal(refused: Refused) -> Response {
    match refused {
        Refused::Here(why) => {
            info!("issuer     authorize refused: {why}");
            (
                StatusCode::BAD_REQUEST,
                page("Cannot sign in", &format!("<p class=\"error\">{}</p>", escape_html(&why)), None),
            )
                .into_response()
        }
        Refused::Back { redirect_uri, state, error, description } => {
            info!("issuer     authorize refused: {error} ({description})");
            let mut pairs = vec![("error", error), ("error_description", description.as_str())];
            if let Some(state) = &state {
                pairs.push(("state", state));
            }
            no_store((StatusCode::FOUND, [(header::LOCATION, with_query(&redirect_uri, &pairs))]).into_response())
        }
    }
}

/// The form: a name, and the request in hidden fields.
fn sign_in_page(request: &Authorization, name: &str, error: Option<&str>, status: StatusCode) -> Response {
    let hidden = [
        ("response_type", Some("code")),
        ("client_id", Some(request.client_id.as_str())),
        ("redirect_uri", Some(request.redirect_uri.as_str())),
        ("state", request.state.as_deref()),
        ("code_challenge", Some(request.challenge.as_str())),
        ("code_challenge_method", Some("S256")),
        ("nonce", request.nonce.as_deref()),
        ("scope", Some(request.scope.as_str())),
    ];
    let fields: String = hidden
        .iter()
        .filter_map(|(key, value)| {
            Some(format!("<input type=\"hidden\" name=\"{key}\" value=\"{}\">", escape_html((*value)?)))
        })
        .collect();
    let body = format!(
        "<p>wschat dev's local issuer signs in any name, without a password, for <b>{client}</b>.</p>\
         <form method=\"post\" action=\"{PATH}/authorize\">\
         <label for=\"name\">Your name</label>\
         <input id=\"name\" name=\"name\" required maxlength=\"{max}\" autocomplete=\"nickname\" autofocus value=\"{name}\">\
         <p class=\"error\" role=\"alert\">{error}</p>{fields}\
         <button type=\"submit\">Sign in</button></form>",
        client = escape_html(&request.client_id),
        max = chat_core::protocol::MAX_NAME_CHARS,
        name = escape_html(name),
        error = escape_html(error.unwrap_or_default()),
    );
    (status, page("Sign in", &body, origin_of(&request.redirect_uri))).into_response()
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;\
background:#f4f5f7;color:#1d2330}main{background:#fff;padding:2rem;border-radius:12px;max-width:24rem;\
box-shadow:0 2px 12px #0002}h1{margin-top:0}label{display:block;font-weight:600}input{font:inherit;width:100%;\
box-sizing:border-box;padding:.5rem;margin:.25rem 0;border:1px solid #6b7280;border-radius:6px}button{font:inherit;\
padding:.5rem 1.25rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;cursor:pointer}\
.error{color:#b91c1c;min-height:1.5em;margin:.25rem 0}";

/// A small page with its own strict policy: no script at all, this style
/// only, and forms that post here (and, after the redirect, land on the
/// client's origin: Chromium applies form-action to the redirect too).
fn page(title: &str, body: &str, form_target: Option<String>) -> impl IntoResponse + use<> {
    let style_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'self'{}; frame-ancestors 'self'; base-uri 'none'",
        form_target.map(|o| format!(" {o}")).unwrap_or_default()
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} · wschat dev issuer</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape_html(title),
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_SECURITY_POLICY, policy),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        html,
    )
}

#[cfg(test)]
mod tests {
    use chat_core::auth::{FixedKeys, JwtConfig, Refusal, Verifier};

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
        assert_eq!(
            escape_html(r#"<b onclick="x">'&'</b>"#),
            "&lt;b onclick=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
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
}
