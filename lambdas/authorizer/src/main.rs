//! The `authorizer` Lambda function: the REQUEST authorizer of `$connect`
//! when stack.yaml says `api.auth.jwt`. It verifies the client's token
//! against the issuer's keys (kept across invocations) and allows that
//! `$connect` alone, passing `sub` and the chat name on; a missing or bad
//! token is the error `Unauthorized`, which API Gateway answers with 401,
//! and so is the token of someone closed for flooding, during its cool-down
//! (read from the presence table, when `WSCHAT_PRESENCE_TABLE` names it).
//! The logic is all in chat-core.

use chat_core::auth::{Verifier, authorize, check_ban};
use chat_core::aws::DynamoPresence;
use chat_core::config::{JwtVars, vars};
use chat_core::event::{AuthorizerEvent, AuthorizerResponse};
use chat_core::lambda;
use chat_core::oidc::OidcKeys;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda::init_logging();
    let config = JwtVars::from_env().inspect_err(|e| tracing::error!(error = %e, "reading the configuration"))?;
    let keys = OidcKeys::new(&config.issuer).inspect_err(|e| tracing::error!(error = %e, "setting up HTTPS"))?;
    let verifier = Verifier::new(config, keys);
    let bans = match std::env::var(vars::PRESENCE_TABLE).ok().filter(|t| !t.trim().is_empty()) {
        Some(table) => Some(DynamoPresence::new(aws_sdk_dynamodb::Client::new(&lambda::sdk_config().await), table)),
        None => None,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<AuthorizerEvent>| {
        let (verifier, bans) = (&verifier, &bans);
        async move {
            let allowed = match authorize(verifier, &event.payload).await {
                Ok(allowed) => match bans {
                    Some(bans) => {
                        check_ban(bans, &allowed.principal_id, chat_core::now_millis()).await.map(|()| allowed)
                    }
                    None => Ok(allowed),
                },
                Err(refusal) => Err(refusal),
            };
            match allowed {
                Ok(allowed) => {
                    tracing::info!(sub = %allowed.principal_id, "allowed");
                    Ok::<AuthorizerResponse, Error>(allowed)
                }
                Err(refusal) => {
                    let connection = &event.payload.request_context.connection_id;
                    tracing::warn!(connection = %connection, reason = %refusal, "refused");
                    Err("Unauthorized".into())
                }
            }
        }
    }))
    .await
}
