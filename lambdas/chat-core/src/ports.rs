//! The ports the handlers are written over, and the data they carry.
//!
//! - [`ConnectionStore`]: the connections table (DynamoDB on AWS, memory in `wschat dev`);
//! - [`Notifier`]: the notification queue (SQS, or an in-process queue);
//! - [`Poster`]: the API Gateway Management API, which delivers to one connection.

use async_trait::async_trait;

/// How a connection wants its frames: each action in its sample's own shape,
/// or everything in the JSON envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Compat,
    Json,
}

/// One row of the connections table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    pub name: String,
    pub format: Format,
    /// Present only while the connection is in a room.
    pub room: Option<String>,
    /// Epoch milliseconds.
    pub connected_at: i64,
    /// Epoch seconds (the TTL attribute).
    pub expires_at: i64,
}

/// A failure of a port. `Gone` is not an error of the port: the connection no
/// longer exists (API Gateway's 410).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("connection is gone")]
    Gone,
    #[error("{0}")]
    Failed(String),
}

pub type PortResult<T> = Result<T, PortError>;

/// The connections table.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Creates or replaces the row.
    async fn put(&self, connection: &Connection) -> PortResult<()>;
    async fn get(&self, connection_id: &str) -> PortResult<Option<Connection>>;
    /// Deletes the row and returns what it held, if anything.
    async fn delete(&self, connection_id: &str) -> PortResult<Option<Connection>>;
    /// Every connection (a paginated scan).
    async fn all(&self) -> PortResult<Vec<Connection>>;
    /// The members of one room (the `room-index` GSI).
    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>>;
}

/// The notification queue.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Enqueues one message body, delivered after `delay_seconds`.
    async fn send(&self, body: String, delay_seconds: u32) -> PortResult<()>;
}

/// The API Gateway Management API.
#[async_trait]
pub trait Poster: Send + Sync {
    /// Delivers one frame to one connection; `Err(PortError::Gone)` on 410.
    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()>;
}
