//! The wschat chat protocol (`../shared/docs/protocol.md`) and its handlers.
//!
//! Everything here is written over small port traits ([`ports`]), so that the
//! Lambda binaries and `wschat dev` run the very same logic:
//! - [`handle_websocket`] handles one API Gateway WebSocket event (`$connect`,
//!   `$disconnect`, every action, `$default`);
//! - [`handle_sqs`] handles one batch from the notification queue and fans it out.
//!
//! Invariant: this crate depends on no AWS crate except behind the `aws`
//! feature, which holds the DynamoDB, SQS and Management API adapters.

pub mod event;
pub mod memory;
pub mod ports;

mod handler;
pub use handler::{Ports, Settings, handle_sqs, handle_websocket};

/// Every action of the protocol. Each is its own API Gateway route key, beside
/// `$connect`, `$disconnect` and `$default`.
pub const ACTIONS: &[&str] =
    &["send", "sendmessage", "post", "broadcast", "list", "chat", "createRoom", "joinRoom", "sendMessage", "rename"];

/// The route keys API Gateway itself defines.
pub const SPECIAL_ROUTES: &[&str] = &["$connect", "$disconnect", "$default"];
