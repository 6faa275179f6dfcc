//! The wschat chat protocol (`../shared/docs/protocol.md`) and its handlers.
//!
//! Everything here is written over small port traits, so that the Lambda
//! binaries and `wschat dev` run the very same logic.

/// Every action of the protocol. Each is its own API Gateway route key, beside
/// `$connect`, `$disconnect` and `$default`.
pub const ACTIONS: &[&str] =
    &["send", "sendmessage", "post", "broadcast", "list", "chat", "createRoom", "joinRoom", "sendMessage", "rename"];

/// The route keys API Gateway itself defines.
pub const SPECIAL_ROUTES: &[&str] = &["$connect", "$disconnect", "$default"];
