//! Why an action did not happen.

use crate::ports::PortError;

/// The failure of one action.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Bad input or a state that does not allow the action: the caller gets
    /// one error frame with this reason, and nothing else happens.
    #[error("{0}")]
    Refused(String),
    /// A port failed (the table, the queue, the Management API).
    #[error(transparent)]
    Port(#[from] PortError),
}
