//! The REQUEST authorizer API Gateway runs before `$connect`, and the keys it checks tokens with.

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::auth::{FixedKeys, KeySource, Verifier};
use chat_core::event::{AuthorizerEvent, PolicyDocument};
use chat_core::now_millis;
use chat_core::oidc::OidcKeys;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::{error, info};

use super::Gateway;
use super::responses::aws_error;

/// Where sign-in's keys come from: the local issuer of `--issuer local`, or
/// the stack's issuer over HTTPS, as the authorizer function reads them.
pub enum Keys {
    Local(FixedKeys),
    Issuer(Box<OidcKeys>),
}

#[async_trait]
impl KeySource for Keys {
    async fn fetch(&self) -> Result<JwkSet, String> {
        match self {
            Keys::Local(keys) => keys.fetch().await,
            Keys::Issuer(keys) => keys.fetch().await,
        }
    }
}

impl Gateway {
    /// What API Gateway does before `$connect` with a REQUEST authorizer whose
    /// identity source is `route.request.querystring.token`: the context that
    /// becomes the `$connect` event's `requestContext.authorizer`, or the
    /// response that refuses the upgrade.
    pub(super) async fn authorize(
        &self,
        verifier: &Verifier<Keys>,
        id: &str,
        connect: &Value,
    ) -> Result<Value, Response> {
        // "These parameters are used to perform runtime validation for
        // Lambda-based authorizers by verifying all of the identity-related
        // request parameters are present in the request, not null, and
        // non-empty. Only when this is true does the authorizer invoke the
        // authorizer Lambda function. Otherwise, it returns a 401 Unauthorized
        // response without calling the Lambda function." (API Gateway V2 API
        // Reference, CreateAuthorizer, IdentitySource.)
        let token = connect["queryStringParameters"]["token"].as_str().unwrap_or_default();
        if token.is_empty() {
            info!("authorize  {id} (no ?token=) -> 401; the authorizer is not called");
            return Err(unauthorized());
        }
        // The authorizer's event: the upgrade request's headers, query string
        // and context, and the method ARN (API Gateway developer guide,
        // "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers").
        let mut request = connect.clone();
        request["type"] = json!("REQUEST");
        request["methodArn"] = json!(self.method_arn);
        request["stageVariables"] = json!({});
        let request: AuthorizerEvent = match serde_json::from_value(request) {
            Ok(request) => request,
            Err(e) => {
                error!("building the authorizer's event: {e}");
                return Err(
                    (StatusCode::INTERNAL_SERVER_ERROR, r#"{"message": "Internal server error"}"#).into_response()
                );
            }
        };
        let started = Instant::now();
        let answer = match chat_core::auth::authorize(verifier, &request).await {
            Ok(answer) => chat_core::auth::check_ban(self.presence.as_ref(), &answer.principal_id, now_millis())
                .await
                .map(|()| answer),
            Err(refusal) => Err(refusal),
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(refusal) => {
                info!("authorize  {id} -> 401: {refusal}");
                return Err(unauthorized());
            }
        };
        if !allows(&answer.policy_document, &self.method_arn) {
            info!("authorize  {id} -> 403: the policy does not allow execute-api:Invoke on {}", self.method_arn);
            return Err(aws_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden"));
        }
        info!("authorize  {id} -> allowed {}", answer.principal_id);
        // API Gateway passes the context on, with the principal and the
        // authorizer's time in milliseconds beside it (the developer guide's
        // `$connect` event with a Lambda authorizer).
        let mut context: serde_json::Map<String, Value> =
            answer.context.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        context.insert("principalId".into(), json!(answer.principal_id));
        context.insert("integrationLatency".into(), json!(started.elapsed().as_millis() as u64));
        Ok(Value::Object(context))
    }
}

/// API Gateway's refusal of an upgrade its authorizer did not allow: 401 and
/// the body of its UNAUTHORIZED gateway response, `{"message":"Unauthorized"}`
/// (REST APIs document it under "Gateway response types"; an authorizer
/// failing with `Unauthorized` gives exactly that, auth0-samples/
/// jwt-rsa-aws-custom-authorizer#6). WebSocket APIs have no gateway responses
/// to change it with (re:Post, "is it possible to return 401 error from web
/// socket api gateway lambda authorizer"). The error type and request id ride
/// in the headers API Gateway gives its own errors.
fn unauthorized() -> Response {
    aws_error(StatusCode::UNAUTHORIZED, "UnauthorizedException", "Unauthorized")
}

/// Whether an authorizer's policy allows `execute-api:Invoke` on `arn`: an
/// Allow statement matches it and no Deny does (IAM's `*` wildcards).
fn allows(policy: &PolicyDocument, arn: &str) -> bool {
    let matching = |effect: &str| {
        policy.statement.iter().any(|s| {
            s.effect.eq_ignore_ascii_case(effect)
                && wildcard(&s.action.to_ascii_lowercase(), "execute-api:invoke")
                && wildcard(&s.resource, arn)
        })
    };
    matching("Allow") && !matching("Deny")
}

/// `pattern` against `text`, where `*` is any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else { return false };
            (0..=tail.len()).filter(|&i| tail.is_char_boundary(i)).any(|i| wildcard(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_allows_invoke_on_the_method_arn_unless_denied() {
        let arn = "arn:aws:execute-api:us-east-1:000000000000:wschatdev/dev/$connect";
        let statement = |effect: &str, action: &str, resource: &str| chat_core::event::PolicyStatement {
            action: action.into(),
            effect: effect.into(),
            resource: resource.into(),
        };
        let policy = |statement| PolicyDocument { version: "2012-10-17".into(), statement };
        assert!(allows(&policy(vec![statement("Allow", "execute-api:Invoke", arn)]), arn));
        assert!(allows(&policy(vec![statement("Allow", "execute-api:*", "arn:aws:execute-api:*:*:wschatdev/*")]), arn));
        assert!(!allows(
            &policy(vec![statement("Allow", "execute-api:Invoke", "arn:aws:execute-api:*:*:other/*")]),
            arn
        ));
        assert!(!allows(&policy(vec![statement("Deny", "execute-api:Invoke", arn)]), arn));
        assert!(!allows(
            &policy(vec![statement("Allow", "*", "*"), statement("Deny", "execute-api:Invoke", "*/$connect")]),
            arn
        ));
        assert!(!allows(&policy(vec![]), arn));
    }
}
