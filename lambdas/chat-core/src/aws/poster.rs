//! The API Gateway Management API of one stage.

use super::*;

/// The API Gateway Management API of one stage. 410 Gone (the SDK's
/// `GoneException`) is [`PortError::Gone`]; 400, 403 (`ForbiddenException`)
/// and 413 (`PayloadTooLargeException`) are [`PortError::Refused`], which
/// no retry can change (API reference, PostToConnection, "Errors"); 429
/// (`LimitExceededException`: the account's throttle, or the client's
/// buffer is full), 5xx and timeouts are [`PortError::Failed`].
#[derive(Debug, Clone)]
pub struct ManagementPoster {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ManagementPoster {
    /// `client` must already point at the stage's endpoint,
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub fn new(client: aws_sdk_apigatewaymanagement::Client) -> Self {
        ManagementPoster { client }
    }
}

#[async_trait]
impl Poster for ManagementPoster {
    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()> {
        match self.client.post_to_connection().connection_id(connection_id).data(Blob::new(data)).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                // The typed check covers API Gateway; the status covers any
                // gateway that answers a bare 410 (the protocol's meaning is the same).
                let status = e.raw_response().map(|r| r.status().as_u16());
                let service = e.as_service_error();
                let gone = service.is_some_and(|s| s.is_gone_exception()) || status == Some(410);
                let refused = service.is_some_and(|s| s.is_forbidden_exception() || s.is_payload_too_large_exception())
                    || matches!(status, Some(400 | 403 | 413));
                let what = || format!("posting to connection `{connection_id}`: {}", DisplayErrorContext(&e));
                if gone {
                    Err(PortError::Gone)
                } else if refused {
                    Err(PortError::Refused(what()))
                } else {
                    Err(PortError::Failed(what()))
                }
            }
        }
    }

    /// `DeleteConnection`. API reference, DeleteConnection, "Errors":
    /// 410 `GoneException` (the connection is already closed: done), 403
    /// `ForbiddenException` (the role lacks `DELETE` on `@connections`: no
    /// retry helps), 429 `LimitExceededException` (may pass).
    async fn close(&self, connection_id: &str) -> PortResult<()> {
        match self.client.delete_connection().connection_id(connection_id).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let service = e.as_service_error();
                let what = || format!("closing connection `{connection_id}`: {}", DisplayErrorContext(&e));
                if service.is_some_and(|s| s.is_gone_exception()) || status == Some(410) {
                    Ok(())
                } else if service.is_some_and(|s| s.is_forbidden_exception()) || status == Some(403) {
                    Err(PortError::Refused(what()))
                } else {
                    Err(PortError::Failed(what()))
                }
            }
        }
    }
}
