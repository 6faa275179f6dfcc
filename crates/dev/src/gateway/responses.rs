//! What API Gateway answers itself: frames to a client, and errors at the upgrade.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::new_id;

/// The messages of frames API Gateway sends a client itself.
pub(super) const TOO_MANY_REQUESTS: &str = "Too Many Requests";
pub(super) const INTERNAL_SERVER_ERROR: &str = "Internal server error";
pub(super) const ENDPOINT_TIMED_OUT: &str = "Endpoint request timed out";

/// A frame API Gateway sends the caller itself, byte for byte (spacing
/// included) in the shape AWS documents for a model's refusal: `{"message":
/// "Invalid request body", "connectionId":"ABCD1=234", "requestId":"EFGH="}`
/// (API Gateway developer guide, "Request validation for WebSocket APIs").
///
/// The other messages take the same shape: `Internal server error` for a
/// failed integration, `Forbidden` for a frame with no route, and two that
/// AWS documents no frame for: a throttled frame and an integration timeout.
/// Their messages are the bodies API Gateway gives those errors over HTTP:
/// `{"message":"Too Many Requests"}` with 429 (pulumi/pulumi-aws#2363) and
/// `{"message":"Endpoint request timed out"}` with 504 (the INTEGRATION_TIMEOUT
/// gateway response); WebSocket clients in public code recognise the timeout
/// as a frame with that `message` and a `connectionId`.
pub(super) fn gateway_frame(message: &str, connection_id: &str) -> String {
    format!(r#"{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{}"}}"#, new_id())
}

/// An error API Gateway answers an upgrade with: `{"message":..}`, its type
/// in `x-amzn-ErrorType` and a request id.
pub(super) fn aws_error(status: StatusCode, kind: &'static str, message: &str) -> Response {
    let mut response = gateway_error(status, message);
    response.headers_mut().insert(header::HeaderName::from_static("x-amzn-errortype"), HeaderValue::from_static(kind));
    response
}

/// [`aws_error`] without an error type.
pub(super) fn gateway_error(status: StatusCode, message: &str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "application/json".to_string()),
        (header::HeaderName::from_static("x-amzn-requestid"), request_uuid()),
    ];
    (status, headers, json!({ "message": message }).to_string()).into_response()
}

/// A request id in the UUID form of `x-amzn-RequestId`.
fn request_uuid() -> String {
    let hex = hex::encode(rand::random::<[u8; 16]>());
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_frames_take_the_shape_aws_documents_for_invalid_request_body() {
        let frame = gateway_frame("Too Many Requests", "ABCD1=234");
        let (head, request_id) = frame.rsplit_once(r#""requestId":""#).unwrap();
        assert_eq!(head, r#"{"message": "Too Many Requests", "connectionId":"ABCD1=234", "#);
        assert!(request_id.len() == 18 && request_id.ends_with(r#"="}"#), "{frame}");
    }
}
