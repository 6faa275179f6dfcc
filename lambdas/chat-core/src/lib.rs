//! The wschat chat protocol (`docs/protocol.md`) and its handlers.
//!
//! Everything here is written over small port traits ([`ports`]), so that the
//! Lambda binaries and `wschat dev` run the very same logic:
//! - [`handle_websocket`] handles one API Gateway WebSocket event (`$connect`,
//!   `$disconnect`, every action, `$default`);
//! - [`handle_sqs`] handles one batch from the notification queue and fans it
//!   out, sharding large notices across the queue ([`fanout`]).
//!
//! Invariant: this crate depends on no AWS crate except behind the `aws`
//! feature, which holds the DynamoDB, SQS and Management API adapters.

pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod error;
pub mod event;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod memory;
pub mod metrics;
pub mod notice;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod ports;
pub mod presence;
pub mod protocol;
pub mod remote;

pub mod fanout;
mod handler;
pub mod history;
pub mod limits;
pub use fanout::handle_sqs;
pub use handler::{CONNECTION_TTL_SECONDS, Ports, SIGNED_IN_NAME, Settings, handle_websocket, leave_delay, now_millis};

/// The GSI of the connections table that room fan-out queries (partition key
/// `room`, sort key `connectionId`, projection ALL).
pub const ROOM_INDEX: &str = "room-index";

/// Every action of the protocol. Each is its own API Gateway route key, beside
/// `$connect`, `$disconnect` and `$default`.
pub const ACTIONS: &[&str] = &[
    "send",
    "sendmessage",
    "post",
    "broadcast",
    "list",
    "chat",
    "createRoom",
    "joinRoom",
    "sendMessage",
    "rename",
    "history",
    "typing",
];

/// The route keys API Gateway itself defines.
pub const SPECIAL_ROUTES: &[&str] = &["$connect", "$disconnect", "$default"];
