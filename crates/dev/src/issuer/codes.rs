//! The authorization code flow with PKCE: requests checked, one-time codes granted and redeemed.

use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::info;

use super::parameters::{origin_of, with_query};
use super::{Issuer, Tokens, b64};
use wschat_stack::website::SIGN_IN_SCOPE;

/// How long a code may wait for its exchange. RFC 6749 4.1.2: "A maximum
/// authorization code lifetime of 10 minutes is RECOMMENDED"; the page
/// trades it within a second.
pub(super) const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// What a code stands for until it is traded.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    client_id: String,
    redirect_uri: String,
    /// BASE64URL(SHA256(code_verifier)), RFC 7636 4.2.
    challenge: String,
    name: String,
    nonce: Option<String>,
    scope: String,
    pub(super) issued: Instant,
}

/// An error of the token endpoint (RFC 6749 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TokenError {
    pub(super) error: &'static str,
    pub(super) description: String,
}

impl TokenError {
    pub(super) fn new(error: &'static str, description: impl Into<String>) -> TokenError {
        TokenError { error, description: description.into() }
    }
}

/// A checked authorization request (RFC 6749 4.1.1, RFC 7636 4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Authorization {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) challenge: String,
    pub(super) nonce: Option<String>,
    pub(super) scope: String,
    pub(super) prompt: Option<String>,
}

/// Why an authorization request is refused. Without a redirect URI to trust,
/// the refusal is a page here; with one, it goes back to the client
/// (RFC 6749 4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refused {
    Here(String),
    Back { redirect_uri: String, state: Option<String>, error: &'static str, description: String },
}

impl Issuer {
    /// Whether a code may be sent to `uri`: this server's origin, or the
    /// loopback (any port), and no fragment (RFC 6749 3.1.2).
    pub(super) fn accepts_redirect(&self, uri: &str) -> bool {
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
    pub(super) fn check(&self, params: &HashMap<String, String>) -> Result<Authorization, Refused> {
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
    pub(super) fn grant(&self, request: &Authorization, name: &str) -> String {
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
    pub(super) fn redeem(&self, params: &HashMap<String, String>) -> Result<Tokens, TokenError> {
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

/// 32 random bytes from the system's generator, base64url-encoded.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system's random generator");
    b64(&bytes)
}

/// RFC 7636 4.2: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`.
pub(super) fn s256(verifier: &str) -> String {
    b64(&Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
pub(super) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}
