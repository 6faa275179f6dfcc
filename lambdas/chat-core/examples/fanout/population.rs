//! The connections both fan-out benchmarks broadcast to: the paused-clock one
//! (`--example fanout`) and the real-process one (`--example
//! fanout_processes`, which includes this file by path).

use chat_core::ports::{Connection, Format};

/// The `index`-th connection's id, in API Gateway's shape (`c0000042=`).
pub fn connection_id(index: usize) -> String {
    format!("c{index:07}=")
}

/// The `index`-th connection: a guest named `user{index}`, half of them in
/// each format, connected long ago.
pub fn connection(index: usize) -> Connection {
    let format = if index.is_multiple_of(2) { Format::Compat } else { Format::Json };
    Connection::new(connection_id(index), format!("user{index}"), format, 1)
}
