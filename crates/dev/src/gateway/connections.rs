//! The open connections: the Management API's view of them, and posts to their sockets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::ws::Message;
use chat_core::ports::{PortError, PortResult, Poster};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tracing::info;

use super::MAX_MESSAGE_BYTES;

/// Frames that may wait for one client; past that, posts are refused (429),
/// as API Gateway refuses them when a client's buffer is full.
pub(super) const OUTGOING_FRAMES: usize = 1024;

/// One open connection, as the Management API sees it.
#[derive(Debug)]
pub(crate) struct Link {
    /// Frames on their way to the socket.
    pub(super) tx: mpsc::Sender<Message>,
    /// DeleteConnection: the socket closes.
    pub(super) deleted: Notify,
    /// Epoch milliseconds.
    pub connected_at: i64,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// Epoch milliseconds of the last frame from the client.
    pub(super) last_active: AtomicI64,
}

impl Link {
    /// `requestContext.identity` of `$connect`, and GetConnection's `identity`.
    pub fn identity(&self) -> Value {
        let mut identity = json!({ "sourceIp": self.source_ip });
        if let Some(agent) = &self.user_agent {
            identity["userAgent"] = json!(agent);
        }
        identity
    }

    /// Epoch milliseconds of the last frame from the client.
    pub fn last_active_at(&self) -> i64 {
        self.last_active.load(Ordering::Relaxed)
    }
}

/// Why a post did not reach its connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Undelivered {
    /// 410: no such connection, or it closed.
    Gone,
    /// 413: past API Gateway's 128 KiB.
    TooLarge,
    /// 429: the client is not reading; [`OUTGOING_FRAMES`] frames wait already.
    Full,
}

/// The open connections by id. Posting to one that is not here is 410 Gone.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    open: Mutex<HashMap<String, Arc<Link>>>,
}

impl Connections {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Link>>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn insert(&self, id: &str, link: Arc<Link>) {
        self.open().insert(id.to_string(), link);
    }

    pub(super) fn remove(&self, id: &str) -> Option<Arc<Link>> {
        self.open().remove(id)
    }

    pub(super) fn len(&self) -> usize {
        self.open().len()
    }

    /// The open connection `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Link>> {
        self.open().get(id).cloned()
    }

    /// Queues one frame for a connection: text when `data` is UTF-8, binary otherwise.
    pub fn deliver(&self, id: &str, data: &[u8]) -> Result<(), Undelivered> {
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(Undelivered::TooLarge);
        }
        let link = self.get(id).ok_or(Undelivered::Gone)?;
        let frame = match std::str::from_utf8(data) {
            Ok(text) => Message::text(text),
            Err(_) => Message::binary(Bytes::copy_from_slice(data)),
        };
        link.tx.try_send(frame).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Undelivered::Full,
            mpsc::error::TrySendError::Closed(_) => Undelivered::Gone,
        })?;
        info!("post       {id} {} bytes", data.len());
        Ok(())
    }

    /// Closes a connection (DeleteConnection). It stops receiving at once.
    pub fn delete(&self, id: &str) -> Result<(), Undelivered> {
        let link = self.remove(id).ok_or(Undelivered::Gone)?;
        link.deleted.notify_one();
        Ok(())
    }
}

/// The handlers' Management API: posts go straight to the sockets of this process.
#[async_trait]
impl Poster for Connections {
    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()> {
        self.deliver(connection_id, data).map_err(|e| match e {
            Undelivered::Gone => PortError::Gone,
            Undelivered::TooLarge => PortError::Failed(format!(
                "posting to connection `{connection_id}`: {} bytes is past the {MAX_MESSAGE_BYTES}-byte limit (413)",
                data.len()
            )),
            Undelivered::Full => PortError::Failed(format!(
                "posting to connection `{connection_id}`: {OUTGOING_FRAMES} frames wait for the client already (429)"
            )),
        })
    }

    async fn close(&self, connection_id: &str) -> PortResult<()> {
        // A connection that is gone already is closed: DeleteConnection's 410.
        let _ = self.delete(connection_id);
        Ok(())
    }
}

/// Counts the connections that have not finished closing; waiting drops the
/// original token, so it resolves when the last connection's is dropped.
pub(super) struct Tracker {
    token: Mutex<Option<mpsc::Sender<()>>>,
    done: tokio::sync::Mutex<mpsc::Receiver<()>>,
}

impl Tracker {
    pub(super) fn new() -> Tracker {
        let (tx, rx) = mpsc::channel(1);
        Tracker { token: Mutex::new(Some(tx)), done: tokio::sync::Mutex::new(rx) }
    }

    /// A token held for one connection's life; `None` once shutting down.
    pub(super) fn token(&self) -> Option<mpsc::Sender<()>> {
        self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(super) async fn wait(&self) {
        self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let _ = self.done.lock().await.recv().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn posts_to_unknown_or_closed_connections_are_gone() {
        let connections = Connections::default();
        assert_eq!(connections.deliver("nope=", b"hi"), Err(Undelivered::Gone));
        let (tx, mut rx) = mpsc::channel(2);
        let link = Arc::new(Link {
            tx,
            deleted: Notify::new(),
            connected_at: 1,
            source_ip: "127.0.0.1".into(),
            user_agent: None,
            last_active: 1.into(),
        });
        connections.insert("a=", link);
        assert_eq!(connections.deliver("a=", b"hi"), Ok(()));
        assert!(matches!(rx.try_recv(), Ok(Message::Text(t)) if t.as_str() == "hi"));
        assert_eq!(connections.deliver("a=", &[0xff]), Ok(()));
        assert!(matches!(rx.try_recv(), Ok(Message::Binary(_))));
        assert_eq!(connections.deliver("a=", &vec![b'x'; MAX_MESSAGE_BYTES + 1]), Err(Undelivered::TooLarge));
        // A client that does not read fills its buffer: 429, not 410.
        assert_eq!(connections.deliver("a=", b"1"), Ok(()));
        assert_eq!(connections.deliver("a=", b"2"), Ok(()));
        assert_eq!(connections.deliver("a=", b"3"), Err(Undelivered::Full));
        let link = connections.get("a=").unwrap();
        assert_eq!(connections.delete("a="), Ok(()));
        tokio::time::timeout(Duration::from_secs(1), link.deleted.notified()).await.expect("the session is told");
        assert_eq!(connections.deliver("a=", b"hi"), Err(Undelivered::Gone));
        assert_eq!(connections.delete("a="), Err(Undelivered::Gone));
    }
}
