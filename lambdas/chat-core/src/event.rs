//! Wire types: the JSON API Gateway and SQS hand to a Lambda function, and
//! what the function answers. `wschat dev` builds the same JSON, so the
//! handlers cannot tell the two apart.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// An API Gateway WebSocket proxy event (`$connect`, `$disconnect`, or a message).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketEvent {
    pub request_context: RequestContext,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    /// Only on `$connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_string_parameters: Option<HashMap<String, String>>,
    /// Only on `$connect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<HashMap<String, String>>,
}

/// The `requestContext` of a WebSocket event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    /// `$connect`, `$disconnect`, `$default` or an action.
    pub route_key: String,
    /// `CONNECT`, `MESSAGE` or `DISCONNECT`.
    pub event_type: String,
    pub connection_id: String,
    #[serde(default)]
    pub request_id: String,
    /// Epoch milliseconds.
    #[serde(default)]
    pub connected_at: i64,
    /// Epoch milliseconds.
    #[serde(default)]
    pub request_time_epoch: i64,
    /// `{api_id}.execute-api.{region}.amazonaws.com` on AWS; `host:port` in `wschat dev`.
    #[serde(default)]
    pub domain_name: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub api_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_status_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
    /// Who called: the client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// With a Lambda authorizer: the `context` it answered (each value as
    /// it was, a string here), plus API Gateway's `principalId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<HashMap<String, serde_json::Value>>,
}

/// The `identity` of a request context.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default)]
    pub source_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// The client's address, if API Gateway gave it.
    pub fn source_ip(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| i.source_ip.as_str()).filter(|ip| !ip.is_empty())
    }

    /// A string the authorizer put in its context.
    pub fn authorizer_value(&self, key: &str) -> Option<&str> {
        self.authorizer.as_ref()?.get(key)?.as_str()
    }
}

/// What a WebSocket route handler returns to API Gateway. On `$connect`, a
/// status outside 2xx refuses the connection (the upgrade fails).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketResponse {
    pub status_code: u16,
    /// On `$connect`: `Sec-WebSocket-Protocol`, when the client offered
    /// subprotocols (API Gateway completes the handshake with the one named
    /// here; browsers drop a handshake that names none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<HashMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// An SQS event: one batch of queue messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsRecord>,
}

/// One queue message of an [`SqsEvent`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    pub message_id: String,
    #[serde(default)]
    pub receipt_handle: String,
    pub body: String,
    #[serde(default)]
    pub attributes: HashMap<String, String>,
    #[serde(default)]
    pub event_source: String,
    #[serde(default, rename = "eventSourceARN")]
    pub event_source_arn: String,
    #[serde(default)]
    pub aws_region: String,
}

/// The partial batch response (`ReportBatchItemFailures`): the messages SQS
/// should deliver again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsBatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

/// The event a Lambda REQUEST authorizer of a WebSocket API receives on
/// `$connect` (API Gateway developer guide, "Control access to WebSocket APIs
/// with AWS Lambda REQUEST authorizers": `methodArn` ending in `$connect`,
/// the headers and the query string of the upgrade request, and its
/// `requestContext`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerEvent {
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/$connect`.
    pub method_arn: String,
    #[serde(default)]
    pub headers: Option<HashMap<String, String>>,
    #[serde(default)]
    pub query_string_parameters: Option<HashMap<String, String>>,
    #[serde(default)]
    pub request_context: RequestContext,
}

/// An authorizer's answer: an IAM policy for `execute-api:Invoke` and the
/// context API Gateway passes to `$connect` (as `requestContext.authorizer`).
/// A refusal is not an answer but an error named `Unauthorized`: API Gateway
/// then answers the upgrade with 401.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    pub policy_document: PolicyDocument,
    pub context: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: String,
    pub statement: Vec<PolicyStatement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyStatement {
    pub action: String,
    pub effect: String,
    pub resource: String,
}
