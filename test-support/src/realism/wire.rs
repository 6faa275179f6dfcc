//! Replies on the wire, and AWS errors in each service's own protocol, shaped
//! the way the AWS SDKs parse them (the error code is what the SDK's typed
//! `is_*()` helpers and its retry classifier match on).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

/// A reply, read whole so that behaviours can look at it and change it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Replaces the body with `value`.
    pub fn set_json(&mut self, value: &Value) {
        self.body = Bytes::from(value.to_string());
        self.headers.remove(http::header::CONTENT_LENGTH);
        self.headers.remove(http::header::TRANSFER_ENCODING);
    }

    /// A string field of the JSON body.
    pub fn json_str(&self, field: &str) -> Option<String> {
        self.json()?.get(field)?.as_str().map(str::to_string)
    }

    fn new(status: u16, content_type: &'static str, body: String) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert("x-amzn-requestid", HeaderValue::from_static("realism-0000"));
        Reply { status: StatusCode::from_u16(status).expect("a valid status"), headers, body: Bytes::from(body) }
    }

    pub fn ok_json(value: &Value) -> Reply {
        Reply::new(200, "application/json", value.to_string())
    }

    /// 204 with no body (a REST delete).
    pub fn no_content() -> Reply {
        Reply::new(204, "application/json", String::new())
    }
}

/// An error of a restJson1 service (API Gateway, Lambda): the code in
/// `x-amzn-ErrorType`, the message in the body.
pub fn rest_json_error(status: u16, code: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "message": message, "Message": message, "Type": "User" });
    let mut reply = Reply::new(status, "application/json", body.to_string());
    reply.headers.insert("x-amzn-errortype", HeaderValue::from_str(code).expect("an ASCII error code"));
    reply
}

/// An error of an awsJson service (DynamoDB, CloudWatch Logs): the code in `__type`.
pub fn aws_json_error(status: u16, type_: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "__type": type_, "message": message });
    Reply::new(status, "application/x-amz-json-1.0", body.to_string())
}

/// An error of SQS's JSON protocol, which is `awsQueryCompatible`: the shape
/// in `__type`, and the old query error code in `x-amzn-query-error`, which
/// the SDKs report as the error's code.
pub fn sqs_error(status: u16, shape: &str, query_code: &str, message: &str) -> Reply {
    let mut reply = aws_json_error(status, &format!("com.amazonaws.sqs#{shape}"), message);
    let header = format!("{query_code};Sender");
    reply.headers.insert("x-amzn-query-error", HeaderValue::from_str(&header).expect("an ASCII error code"));
    reply
}

/// An error of a query or restXml service (IAM, STS, CloudFront).
pub fn xml_error(status: u16, code: &str, message: &str) -> Reply {
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error>\
         <RequestId>realism-0000</RequestId></ErrorResponse>",
        escape(message)
    );
    Reply::new(status, "text/xml", body)
}

/// An S3 error.
pub fn s3_error(status: u16, code: &str, message: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{}</Message>\
         <RequestId>realism-0000</RequestId></Error>",
        escape(message)
    );
    Reply::new(status, "application/xml", body)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The service's own throttling error. Each is on the AWS SDKs' list of
/// throttling codes (aws-runtime `retries/classifiers.rs`, `THROTTLING_ERRORS`),
/// so the SDK's standard retry backs off and tries again.
pub fn throttled(service: &str) -> Reply {
    match service {
        // API Gateway v2 and Lambda answer 429 TooManyRequestsException.
        "apigateway" => rest_json_error(429, "TooManyRequestsException", "Too Many Requests"),
        "lambda" => {
            let mut reply = rest_json_error(429, "TooManyRequestsException", "Rate exceeded");
            reply.headers.insert("retry-after", HeaderValue::from_static("1"));
            reply
        }
        "dynamodb" => aws_json_error(
            400,
            "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ),
        "logs" => aws_json_error(400, "ThrottlingException", "Rate exceeded"),
        // ACM is a JSON protocol: `ThrottlingException`.
        "acm" => aws_json_error(400, "ThrottlingException", "Rate exceeded"),
        // The Resource Groups Tagging API (JSON): `ThrottledException` (API
        // Reference, GetResources, Errors).
        "tagging" => aws_json_error(
            400,
            "ThrottledException",
            "The request was denied to limit the frequency of submitted requests.",
        ),
        "sqs" => sqs_error(400, "RequestThrottled", "RequestThrottled", "Request is throttled."),
        "s3" => s3_error(503, "SlowDown", "Please reduce your request rate."),
        // IAM, STS, CloudFront and Route 53: `Throttling`.
        _ => xml_error(400, "Throttling", "Rate exceeded"),
    }
}

/// The reply as hyper sends it.
pub fn into_response(reply: Reply) -> hyper::Response<http_body_util::Full<Bytes>> {
    let mut response = hyper::Response::new(http_body_util::Full::new(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}
