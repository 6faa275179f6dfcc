//! The issuer's keys over HTTPS (feature `oidc`): its OpenID Connect
//! discovery document, then the key set at its `jwks_uri`.
//!
//! OpenID Connect Discovery 1.0, section 4: the document is at
//! `{issuer}/.well-known/openid-configuration`, and "the issuer value
//! returned MUST be identical to the Issuer URL" it was fetched for, or it is
//! not used (4.3). Plain `http` is accepted only for a loopback host: the
//! local issuer of `wschat dev` and the tests.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;

use crate::auth::KeySource;

/// Longest wait for one document.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Largest document read: Cognito's key set is 1 KB, Google's 2 KB.
const MAX_BYTES: usize = 256 * 1024;

/// The keys of one issuer.
pub struct OidcKeys {
    issuer: String,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

pub use crate::auth::Discovery;

impl OidcKeys {
    /// The keys of `issuer` (as tokens carry it in `iss`).
    pub fn new(issuer: impl Into<String>) -> Result<OidcKeys, String> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("loading the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(OidcKeys { issuer: issuer.into(), client: Client::builder(TokioExecutor::new()).build(https) })
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => return Err(format!("`{url}` is not an https URL")),
        }
        let response = tokio::time::timeout(TIMEOUT, self.client.get(uri))
            .await
            .map_err(|_| format!("GET {url}: no answer within {} s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let body = tokio::time::timeout(TIMEOUT, Limited::new(response.into_body(), MAX_BYTES).collect())
            .await
            .map_err(|_| format!("GET {url}: the body did not arrive within {} s", TIMEOUT.as_secs()))?
            .map_err(|e| format!("GET {url}: reading the body: {e}"))?
            .to_bytes();
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not the JSON expected: {e}"))
    }
}

impl OidcKeys {
    /// The issuer's discovery document, checked to name the issuer itself.
    pub async fn discover(&self) -> Result<Discovery, String> {
        let base = self.issuer.trim_end_matches('/');
        let discovery: Discovery = self.get(&format!("{base}/.well-known/openid-configuration")).await?;
        if discovery.issuer != self.issuer {
            return Err(format!(
                "the discovery document of `{}` names the issuer `{}`; they must be identical (OpenID Connect Discovery 4.3)",
                self.issuer, discovery.issuer
            ));
        }
        Ok(discovery)
    }
}

/// An issuer's discovery document, read once (deploy and dev write its
/// endpoints into config.json for the page).
pub async fn discover(issuer: &str) -> Result<Discovery, String> {
    OidcKeys::new(issuer)?.discover().await
}

#[async_trait]
impl KeySource for OidcKeys {
    async fn fetch(&self) -> Result<JwkSet, String> {
        let discovery = self.discover().await?;
        self.get(&discovery.jwks_uri).await
    }
}
