//! The API Gateway Management API of the local gateway, on the wire the SDK's
//! ApiGatewayManagement client speaks (restJson1):
//!
//! | request | success | unknown or closed connection |
//! |---|---|---|
//! | `POST /@connections/{id}`, body = the frame | 200, empty | 410 `GoneException` |
//! | `GET /@connections/{id}` | 200, `{"connectedAt","identity":{"sourceIp","userAgent"},"lastActiveAt"}` | 410 |
//! | `DELETE /@connections/{id}` | 204, and the connection closes (1000) | 410 |
//!
//! A post past 128 KiB is 413 `PayloadTooLargeException`; a post to a client
//! that has stopped reading, once 1,024 frames wait for it, is 429
//! `LimitExceededException`. Errors carry their
//! type in `x-amzn-ErrorType`, which is what the SDK's typed `is_*()` read.
//!
//! SigV4 headers are accepted and ignored. On AWS only signed callers reach
//! `@connections`; in dev, on a `--host` other than the loopback, only
//! clients on this machine do ([`Access`]), unless `--open-management`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::info;

use super::gateway::{Gateway, Undelivered};
use super::new_id;

/// Who may call the Management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who reaches the listener: it is on the loopback, or
    /// `--open-management` opened it.
    Open,
    /// Clients on this machine (a loopback peer) only; `--host` reaches others.
    ThisMachine,
}

impl Access {
    /// Whether a request from `peer` is answered.
    pub fn allows(self, peer: IpAddr) -> bool {
        // `to_canonical`: on a dual-stack listener, 127.0.0.1 arrives as ::ffff:127.0.0.1.
        self == Access::Open || peer.to_canonical().is_loopback()
    }
}

/// Refuses `@connections` calls that [`Access`] does not allow, as API
/// Gateway refuses an unsigned call: 403 `{"message":"Missing Authentication
/// Token"}`, type `MissingAuthenticationTokenException`. That is the answer
/// to a request "not signed when the API method has IAM authentication"
/// (AWS Knowledge Center, "How do I troubleshoot 403 Missing Authentication
/// Token errors from an API Gateway REST API endpoint?"; the body and type:
/// API Gateway developer guide, "Set up a gateway response using the
/// console"), and `@connections` uses IAM authorization ("Use @connections
/// commands in your backend service").
///
/// A request from a browser is refused the same way, wherever it comes
/// from: a web page the developer has open could otherwise post frames to
/// every connection (a `text/plain` POST needs no CORS preflight). The SDK
/// sends neither `Origin` nor `Sec-Fetch-Site`; browsers send them (Vite,
/// CVE-2025-24010, and esbuild closed the same hole by checking them).
pub async fn guard(
    State(access): State<Access>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let browser = browser_request(request.headers());
    if access.allows(peer.ip()) && browser.is_none() {
        return next.run(request).await;
    }
    let mut response =
        aws_response(StatusCode::FORBIDDEN, Some(json!({ "message": "Missing Authentication Token" }).to_string()));
    response.headers_mut().insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static("MissingAuthenticationTokenException"),
    );
    let path = percent_encoding::percent_decode_str(request.uri().path()).decode_utf8_lossy();
    let why = browser.unwrap_or_else(|| "not from this machine (--open-management opens it)".into());
    info!("management {} {path} from {} -> 403: {why}", request.method(), peer.ip());
    response
}

/// Why a request comes from a browser page, if it does: it carries `Origin`,
/// or `Sec-Fetch-Site` other than `none` (typed into the address bar).
fn browser_request(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        return Some(format!("a browser request (Origin: {})", origin.to_str().unwrap_or("?")));
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())?;
    (site != "none").then(|| format!("a browser request (Sec-Fetch-Site: {site})"))
}

/// `PostToConnection`.
pub async fn post_to_connection(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>, body: Bytes) -> Response {
    let response = match gateway.connections.deliver(&id, &body) {
        Ok(()) => aws_response(StatusCode::OK, None),
        Err(e) => error(e),
    };
    info!("management POST {id} {} bytes -> {}", body.len(), response.status().as_u16());
    response
}

/// `GetConnection`.
pub async fn get_connection(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    let response = match gateway.connections.get(&id) {
        Some(link) => {
            let body = json!({
                "connectedAt": timestamp(link.connected_at),
                "identity": link.identity(),
                "lastActiveAt": timestamp(link.last_active_at()),
            });
            aws_response(StatusCode::OK, Some(body.to_string()))
        }
        None => error(Undelivered::Gone),
    };
    info!("management GET {id} -> {}", response.status().as_u16());
    response
}

/// `DeleteConnection`.
pub async fn delete_connection(State(gateway): State<Arc<Gateway>>, Path(id): Path<String>) -> Response {
    let response = match gateway.connections.delete(&id) {
        Ok(()) => aws_response(StatusCode::NO_CONTENT, None),
        Err(e) => error(e),
    };
    info!("management DELETE {id} -> {}", response.status().as_u16());
    response
}

fn error(e: Undelivered) -> Response {
    let (status, kind, message) = match e {
        Undelivered::Gone => {
            (StatusCode::GONE, "GoneException", "The connection with the provided id no longer exists.")
        }
        Undelivered::Full => {
            (StatusCode::TOO_MANY_REQUESTS, "LimitExceededException", "The client is not reading: its buffer is full.")
        }
        Undelivered::TooLarge => {
            (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException", "The payload is past the 128 KiB limit.")
        }
    };
    let mut response = aws_response(status, Some(json!({ "message": message }).to_string()));
    response.headers_mut().insert(HeaderName::from_static("x-amzn-errortype"), HeaderValue::from_static(kind));
    response
}

/// A response with a request id, and a JSON body when there is one.
fn aws_response(status: StatusCode, body: Option<String>) -> Response {
    let mut response = match body {
        Some(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        None => status.into_response(),
    };
    if let Ok(id) = HeaderValue::from_str(&new_id()) {
        response.headers_mut().insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    response
}

/// Epoch milliseconds as the ISO 8601 timestamp the API returns.
fn timestamp(millis: i64) -> String {
    DateTime::from_millis(millis).fmt(Format::DateTime).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_the_loopback_only_this_machine_may_call_the_management_api() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        for this_machine in ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"] {
            assert!(Access::ThisMachine.allows(ip(this_machine)), "{this_machine}");
        }
        for other in ["192.168.1.5", "10.0.0.2", "fd00::2", "::ffff:192.168.1.5", "0.0.0.0"] {
            assert!(!Access::ThisMachine.allows(ip(other)), "{other}");
            assert!(Access::Open.allows(ip(other)), "{other}");
        }
    }

    #[test]
    fn timestamps_are_iso_8601() {
        assert_eq!(timestamp(1_732_262_400_012), "2024-11-22T08:00:00.012Z");
    }
}
