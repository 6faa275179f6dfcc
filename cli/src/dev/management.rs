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
//! Requests are not authenticated: SigV4 headers are accepted and ignored.

use std::sync::Arc;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::info;

use super::gateway::{Gateway, Undelivered};
use super::new_id;

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
    fn timestamps_are_iso_8601() {
        assert_eq!(timestamp(1_732_262_400_012), "2024-11-22T08:00:00.012Z");
    }
}
