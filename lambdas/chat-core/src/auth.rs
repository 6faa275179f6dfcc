//! Sign-in: the JSON Web Token a client brings to `$connect`, verified.
//!
//! `api.auth.jwt` in stack.yaml names an OpenID Connect issuer and the
//! audiences it accepts. The authorizer function (and `wschat dev`, before
//! its `$connect`) hands the token to a [`Verifier`], which checks:
//! - the signature, against the issuer's JSON Web Key Set (found through
//!   `/.well-known/openid-configuration`, kept across invocations, and
//!   fetched again, at most every [`REFRESH_AFTER`], when the token names a
//!   key id the set does not have: the issuer rotated its keys);
//! - the algorithm: RS256 or ES256 only, and the one the key is for (so
//!   neither `alg: none` nor an HMAC keyed with a public key passes);
//! - `iss`, `exp` and `nbf`, with [`LEEWAY_SECONDS`] of clock skew;
//! - the audience: `aud` (a string or a list) or, for Cognito's access
//!   tokens, which have none, `client_id`, must be one of the audiences.
//!
//! The chat name comes from the claim `name_claim` names, else `name`, then
//! `email`, then `sub`: the first that is a valid chat name.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::time::Instant;

/// Clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// How long a key set is kept before a token with an unknown key id may
/// fetch it again. Within it, unknown key ids are refused without a fetch:
/// a flood of made-up key ids cannot turn into a flood of requests to the
/// issuer.
pub const REFRESH_AFTER: Duration = Duration::from_secs(30);

/// What stack.yaml's `api.auth.jwt` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The issuer, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Accepted `aud` or `client_id` values.
    pub audience: Vec<String>,
    /// The claim that becomes the chat name, before `name`, `email`, `sub`.
    pub name_claim: Option<String>,
}

/// Who a verified token says the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub name: String,
}

/// Why a token was refused. The authorizer logs it; the client only gets a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no token: pass one as ?token= or in Sec-WebSocket-Protocol")]
    Missing,
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0:?}; only RS256 and ES256 are accepted")]
    Algorithm(Algorithm),
    #[error("the issuer has no key `{0}`")]
    UnknownKey(String),
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("the token is for audience {found:?}, not one of {accepted:?}")]
    Audience { found: Vec<String>, accepted: Vec<String> },
    #[error("the issuer's keys could not be read: {0}")]
    Keys(String),
    #[error("`{who}` was closed for flooding and may not connect until {until} (epoch ms)")]
    Banned { who: String, until: i64 },
}

/// Refuses a signed-in `sub` that [`crate::limits`] closed for flooding, until
/// its cool-down ends. A failure to read the ban lets the token through: the
/// chat's `$connect` checks again.
pub async fn check_ban(bans: &dyn crate::ports::Presence, sub: &str, now: i64) -> Result<(), Refusal> {
    let who = format!("sub:{sub}");
    match bans.banned(&who, now).await {
        Ok(Some(until)) => Err(Refusal::Banned { who, until }),
        Ok(None) => Ok(()),
        Err(e) => {
            tracing::warn!(%who, error = %e, "reading the bans; letting the token through");
            Ok(())
        }
    }
}

/// Where the issuer's keys come from: its discovery document and `jwks_uri`
/// over HTTPS on Lambda, a local issuer in `wschat dev`, a fixed set in tests.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn fetch(&self) -> Result<JwkSet, String>;
}

/// A key set that never changes.
pub struct FixedKeys(pub JwkSet);

#[async_trait]
impl KeySource for FixedKeys {
    async fn fetch(&self) -> Result<JwkSet, String> {
        Ok(self.0.clone())
    }
}

struct Cached {
    keys: JwkSet,
    fetched: Instant,
}

/// Verifies tokens of one issuer, keeping its keys between calls.
pub struct Verifier<S> {
    config: JwtConfig,
    source: S,
    cached: Mutex<Option<Cached>>,
}

impl<S: KeySource> Verifier<S> {
    pub fn new(config: JwtConfig, source: S) -> Self {
        Verifier { config, source, cached: Mutex::new(None) }
    }

    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    /// The identity `token` proves, or why it proves none.
    pub async fn verify(&self, token: &str) -> Result<Identity, Refusal> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Refusal::Missing);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(Refusal::Algorithm(header.alg));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        if let Some(key_alg) = jwk.common.key_algorithm
            && key_alg.to_string() != format!("{:?}", header.alg)
        {
            return Err(Refusal::Invalid(format!("key is for {key_alg}, the token says {:?}", header.alg)));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| Refusal::Keys(format!("a key of the set: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| Refusal::Invalid(e.to_string()))?
            .claims;
        self.check_audience(&claims)?;
        let sub = claims["sub"].as_str().unwrap_or_default().to_string();
        Ok(Identity { name: self.name(&claims, &sub), sub })
    }

    fn check_audience(&self, claims: &Value) -> Result<(), Refusal> {
        let mut found: Vec<String> = match &claims["aud"] {
            Value::String(aud) => vec![aud.clone()],
            Value::Array(auds) => auds.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        if let Some(client) = claims["client_id"].as_str() {
            found.push(client.to_string());
        }
        if found.iter().any(|f| self.config.audience.contains(f)) {
            Ok(())
        } else {
            Err(Refusal::Audience { found, accepted: self.config.audience.clone() })
        }
    }

    /// The first claim of `name_claim`, `name`, `email`, `sub` that is a
    /// valid chat name.
    fn name(&self, claims: &Value, sub: &str) -> String {
        let wanted = self.config.name_claim.iter().map(String::as_str).chain(["name", "email"]);
        wanted
            .filter_map(|claim| claims[claim].as_str())
            .chain(std::iter::once(sub))
            .find_map(|value| crate::protocol::check_name(value).ok())
            .unwrap_or_else(crate::protocol::anonymous_name)
    }

    /// The key `kid` names (or the only key, for a token without `kid`),
    /// fetching the set when it is not known yet, or again when the key is
    /// missing and the set is older than [`REFRESH_AFTER`].
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, Refusal> {
        let find = |keys: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(kid) => keys.find(kid).cloned(),
                None if keys.keys.len() == 1 => keys.keys.first().cloned(),
                None => None,
            }
        };
        let stale = {
            let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
            match cached.as_ref() {
                Some(c) => match find(&c.keys) {
                    Some(jwk) => return Ok(jwk),
                    None => c.fetched.elapsed() >= REFRESH_AFTER,
                },
                None => true,
            }
        };
        let unknown = || Refusal::UnknownKey(kid.unwrap_or("(none: the token names no key id)").to_string());
        if !stale {
            return Err(unknown());
        }
        let keys = self.source.fetch().await.map_err(Refusal::Keys)?;
        let jwk = find(&keys);
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(Cached { keys, fetched: Instant::now() });
        jwk.ok_or_else(unknown)
    }
}

/// The token of a `$connect` request: the `token` query parameter, else a
/// `Sec-WebSocket-Protocol` entry (browsers cannot set other headers on a
/// WebSocket), the whole entry or after a `bearer.` or `token.` prefix.
pub fn token_of(query: Option<&str>, protocols: Option<&str>) -> Option<String> {
    if let Some(token) = query.map(str::trim).filter(|t| !t.is_empty()) {
        return Some(token.to_string());
    }
    protocols?
        .split(',')
        .map(str::trim)
        .map(|p| p.strip_prefix("bearer.").or_else(|| p.strip_prefix("token.")).unwrap_or(p))
        .find(|p| p.matches('.').count() == 2)
        .map(str::to_string)
}

/// The authorizer: the token of a `$connect` (its `token` query parameter,
/// or `Sec-WebSocket-Protocol`) verified, and, if it holds, `execute-api:Invoke`
/// allowed on that `$connect` alone, with the identity in the context
/// (`sub`, and `name` for the chat). The refusal's reason is for the log.
pub async fn authorize<S: KeySource>(
    verifier: &Verifier<S>,
    event: &crate::event::AuthorizerEvent,
) -> Result<crate::event::AuthorizerResponse, Refusal> {
    use crate::event::{AuthorizerResponse, PolicyDocument, PolicyStatement};
    let header = |name: &str| {
        event.headers.as_ref()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    };
    let query = event.query_string_parameters.as_ref().and_then(|q| q.get("token")).map(String::as_str);
    let token = token_of(query, header("Sec-WebSocket-Protocol")).ok_or(Refusal::Missing)?;
    let identity = verifier.verify(&token).await?;
    Ok(AuthorizerResponse {
        principal_id: identity.sub.clone(),
        policy_document: PolicyDocument {
            version: "2012-10-17".into(),
            statement: vec![PolicyStatement {
                action: "execute-api:Invoke".into(),
                effect: "Allow".into(),
                resource: event.method_arn.clone(),
            }],
        },
        context: [("sub".to_string(), identity.sub), ("name".to_string(), identity.name)].into(),
    })
}

/// The parts of an issuer's discovery document wschat uses (OpenID Connect
/// Discovery 1.0, section 3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    /// Where the page sends people to sign in (the code flow).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where the page trades the code for tokens.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// RP-Initiated Logout 1.0, when the issuer offers it.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}
