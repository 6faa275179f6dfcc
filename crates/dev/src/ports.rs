//! dev's tables and queue over HTTP, for the shipped handlers when dev runs
//! them as processes (`--processes`): `POST /@ports/{secret}` answers one
//! port call ([`chat_core::remote`]). The secret is made at start-up and
//! given only to the processes dev starts (`WSCHAT_DEV_PORTS`), so that a
//! page or another program that reaches dev cannot write its tables; a
//! request without it is 404, as any unknown path.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::remote::{Call, Reply};

use super::gateway::Gateway;

/// The path the ports are served under; the secret follows it.
pub const PATH: &str = "/@ports";

/// A new secret: 128 random bits, in hex.
pub fn secret() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The ports' state: the gateway whose ports answer, and the secret.
#[derive(Clone)]
pub struct Ports {
    pub gateway: Arc<Gateway>,
    pub secret: Arc<str>,
}

pub async fn call(State(ports): State<Ports>, Path(secret): Path<String>, body: Bytes) -> Response {
    // In constant time: how long a refusal takes says nothing of the secret.
    if aws_lc_rs::constant_time::verify_slices_are_equal(secret.as_bytes(), ports.secret.as_bytes()).is_err() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match serde_json::from_slice::<Call>(&body) {
        Ok(call) => Json(ports.gateway.serve_port(call).await).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(Reply::Refused(format!("not a port call: {e}")))).into_response(),
    }
}
