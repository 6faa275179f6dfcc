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

mod codes;
mod pages;
mod parameters;
mod routes;
mod session;

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use codes::Grant;
use wschat_stack::website::{PageAuth, SIGN_IN_SCOPE};

pub use routes::routes;

/// Where the issuer is mounted on dev's listener.
pub const PATH: &str = "/issuer";

/// The client id of the page when the stack names none (`auth: none`).
pub const DEV_CLIENT_ID: &str = "wschat-dev";

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

/// The token endpoint's answer (RFC 6749 5.1), and `/login`'s.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
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
}

/// A token's `sub` for a name: the same name, the same subject.
pub fn subject(name: &str) -> String {
    format!("local-{name}")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
