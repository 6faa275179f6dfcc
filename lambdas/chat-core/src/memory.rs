//! An in-memory [`ConnectionStore`], for `wschat dev` and fast unit tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{Connection, ConnectionStore, PortResult};

/// Connections in a map, ordered by id like a table scan would return them.
#[derive(Debug, Default)]
pub struct MemoryStore {
    rows: Mutex<BTreeMap<String, Connection>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Connection>> {
        // A panic while holding the lock cannot leave a half-written row: every
        // operation is a single map call.
        self.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn put(&self, connection: &Connection) -> PortResult<()> {
        self.rows().insert(connection.connection_id.clone(), connection.clone());
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> PortResult<Option<Connection>> {
        Ok(self.rows().get(connection_id).cloned())
    }

    async fn delete(&self, connection_id: &str) -> PortResult<Option<Connection>> {
        Ok(self.rows().remove(connection_id))
    }

    async fn all(&self) -> PortResult<Vec<Connection>> {
        Ok(self.rows().values().cloned().collect())
    }

    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        Ok(self.rows().values().filter(|c| c.room.as_deref() == Some(room)).cloned().collect())
    }
}
