//! The events API Gateway sends a route's Lambda: `$connect`, a frame's, `$disconnect`.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use axum::http::HeaderMap;
use base64::Engine;
use chat_core::now_millis;
use serde_json::{Value, json};

use super::Gateway;
use super::connections::Link;
use crate::new_id;

impl Gateway {
    /// The `requestContext` every event shares.
    fn context(
        &self,
        id: &str,
        connected_at: i64,
        route_key: &str,
        event_type: &str,
    ) -> serde_json::Map<String, Value> {
        let now = now_millis();
        let request_id = new_id();
        let context = json!({
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": request_time(now),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "requestId": request_id,
            "domainName": self.domain,
            "connectionId": id,
            "apiId": API_ID,
        });
        match context {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object"),
        }
    }

    pub(super) fn connect_event(
        &self,
        link: &Link,
        id: &str,
        query: &[(String, String)],
        headers: &HeaderMap,
    ) -> Value {
        let mut context = self.context(id, link.connected_at, "$connect", "CONNECT");
        context.insert("identity".into(), link.identity());
        let mut event = json!({
            "headers": single(headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))),
            "multiValueHeaders": multi(headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))),
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if !query.is_empty() {
            let pairs = || query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            event["queryStringParameters"] = single(pairs());
            event["multiValueQueryStringParameters"] = multi(pairs());
        }
        event
    }

    pub(super) fn message_event(&self, link: &Link, id: &str, route_key: &str, data: &[u8], binary: bool) -> Value {
        let mut context = self.context(id, link.connected_at, route_key, "MESSAGE");
        context.insert("messageId".into(), json!(new_id()));
        context.insert("identity".into(), json!({ "sourceIp": link.source_ip }));
        let body = match binary {
            true => base64::engine::general_purpose::STANDARD.encode(data),
            false => String::from_utf8_lossy(data).into_owned(),
        };
        json!({ "requestContext": context, "body": body, "isBase64Encoded": binary })
    }

    pub(super) fn disconnect_event(&self, link: &Link, id: &str, code: u16, reason: &str) -> Value {
        let mut context = self.context(id, link.connected_at, "$disconnect", "DISCONNECT");
        context.insert("disconnectStatusCode".into(), json!(code));
        context.insert("disconnectReason".into(), json!(reason));
        context.insert("identity".into(), json!({ "sourceIp": link.source_ip }));
        json!({
            "headers": { "Host": self.domain },
            "multiValueHeaders": { "Host": [self.domain] },
            "requestContext": context,
            "isBase64Encoded": false,
        })
    }
}

/// The `apiId` of every event: there is one API.
pub(super) const API_ID: &str = "wschatdev";

/// The account of the authorizer's `methodArn`.
pub(super) const ACCOUNT_ID: &str = "000000000000";

/// An event for the log, with the `token` query parameter left out: it is a credential.
pub(super) fn without_token(event: &Value) -> Value {
    let mut shown = event.clone();
    for key in ["queryStringParameters", "multiValueQueryStringParameters"] {
        if let Some(token) = shown.get_mut(key).and_then(|q| q.get_mut("token")) {
            *token = Value::String("(a token)".into());
        }
    }
    shown
}

/// The query string for the log, with the token left out: it is a credential.
pub(super) fn loggable_query(query: &[(String, String)]) -> String {
    let shown = |(k, v): &(String, String)| if k == "token" { format!("{k}=(a token)") } else { format!("{k}={v}") };
    query.iter().map(shown).collect::<Vec<_>>().join("&")
}

/// `requestTime` in API Gateway's form: `22/Nov/2024:08:00:00 +0000`, the
/// fields of the HTTP date (`Fri, 22 Nov 2024 08:00:00 GMT`) in another order.
fn request_time(millis: i64) -> String {
    let http_date = DateTime::from_millis(millis).fmt(Format::HttpDate).unwrap_or_default();
    match http_date.split_whitespace().collect::<Vec<_>>()[..] {
        [_weekday, day, month, year, time, "GMT"] => format!("{day}/{month}/{year}:{time} +0000"),
        _ => String::new(),
    }
}

/// `{"k":"v"}`, the last value winning, as API Gateway's single-value maps.
fn single<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Object(pairs.map(|(k, v)| (k.to_string(), json!(v))).collect())
}

/// `{"k":["v1","v2"]}`.
fn multi<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if let Value::Array(values) = map.entry(k.to_string()).or_insert_with(|| json!([])) {
            values.push(json!(v));
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_is_api_gateways_format() {
        assert_eq!(request_time(1_732_262_400_012), "22/Nov/2024:08:00:00 +0000");
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(request_time(951_782_400_000 - 1000), "28/Feb/2000:23:59:59 +0000");
        assert_eq!(request_time(951_782_400_000 + 86_400_000), "01/Mar/2000:00:00:00 +0000");
        assert_eq!(request_time(1_796_138_033_999), "01/Dec/2026:15:13:53 +0000");
    }

    #[test]
    fn tokens_stay_out_of_the_log() {
        let query = [("format".to_string(), "json".to_string()), ("token".to_string(), "eyJ.secret.sig".to_string())];
        assert_eq!(loggable_query(&query), "format=json&token=(a token)");
        let event = json!({"queryStringParameters": {"token": "eyJ.secret.sig", "format": "json"},
            "multiValueQueryStringParameters": {"token": ["eyJ.secret.sig"]}, "body": null});
        let shown = without_token(&event).to_string();
        assert!(!shown.contains("secret") && shown.contains("(a token)") && shown.contains("json"), "{shown}");
    }
}
