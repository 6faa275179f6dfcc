//! The chat protocol on the wire (`docs/protocol.md`): reading a client's frame
//! into a [`Request`], and rendering every frame the chat sends, in both
//! formats.
//!
//! Reading is lenient where the samples are (`action` or `Action`, routed or
//! landed on `$default`) and strict everywhere else: a field outside an
//! action's schema, a wrong type, a text past 4 KiB or a bad name is refused
//! with one clear reason, never half-applied.
//!
//! Rendering builds each frame twice, as a [`Payload`]: the `compat` form (the
//! shape the action's sample app sends) and the `json` envelope. The queue
//! carries both, so one fan-out serves compat and json clients alike.

mod read;
mod render;

pub use read::*;
pub use render::*;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::history::{self, Conversation, MAX_HISTORY_BYTES};
use crate::ports::{ChatMessage, Connection, Digest, Format};

/// The sender of the chat's own notices (joins, leaves, renames).
pub const HOST: &str = "#host";
/// The longest text a frame may carry, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 4096;
/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// The longest `cursor` a `list` takes, in characters.
pub const MAX_CURSOR_CHARS: usize = 256;
/// The most bytes of members one JSON list frame carries: API Gateway
/// delivers at most 128 KiB a message.
pub const MAX_LIST_BYTES: usize = 96 * 1024;
/// The most bytes of a compat list frame (`connections: ...`).
pub const MAX_COMPAT_LIST_BYTES: usize = 120 * 1024;

/// Every action of the protocol, each its own API Gateway route key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `send`: `{"action":"message","from":..,"text":..}` to all.
    Send,
    /// `sendmessage`: the raw `data` to all.
    SendData,
    /// `post`: the raw `data` to all.
    Post,
    /// `broadcast`: the raw `message` to all.
    Broadcast,
    /// `list`: a page of who is online, to the caller.
    List,
    /// `chat`: the raw `message` to one connection.
    Chat,
    /// `createRoom`: a new room, joined under `name`.
    CreateRoom,
    /// `joinRoom`: an existing room, joined under `name`.
    JoinRoom,
    /// `sendMessage`: `message` to the caller's room, sender excluded.
    RoomMessage,
    /// `rename`: a new display name, announced to all.
    Rename,
    /// `history`: a page of a conversation's messages, to the caller.
    History,
    /// `typing`: "is typing" to the conversation's other members.
    Typing,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::Send,
        Action::SendData,
        Action::Post,
        Action::Broadcast,
        Action::List,
        Action::Chat,
        Action::CreateRoom,
        Action::JoinRoom,
        Action::RoomMessage,
        Action::Rename,
        Action::History,
        Action::Typing,
    ];

    /// The route key (the frame's `action`). Case matters: `sendmessage` and
    /// `sendMessage` are different actions.
    pub fn name(self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::SendData => "sendmessage",
            Action::Post => "post",
            Action::Broadcast => "broadcast",
            Action::List => "list",
            Action::Chat => "chat",
            Action::CreateRoom => "createRoom",
            Action::JoinRoom => "joinRoom",
            Action::RoomMessage => "sendMessage",
            Action::Rename => "rename",
            Action::History => "history",
            Action::Typing => "typing",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The body fields the action takes, beside `action`.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Action::Send => &["text"],
            Action::SendData | Action::Post => &["data"],
            Action::Broadcast | Action::RoomMessage => &["message"],
            Action::List => &["cursor"],
            Action::Chat => &["connection", "message"],
            Action::CreateRoom | Action::Rename => &["name"],
            Action::JoinRoom => &["name", "roomCode"],
            Action::History => &["conversation", "before", "since"],
            Action::Typing => &["conversation"],
        }
    }

    /// Whether the action posts a chat message, which the history keeps and
    /// which may carry a `clientId`.
    pub fn is_message(self) -> bool {
        matches!(
            self,
            Action::Send | Action::SendData | Action::Post | Action::Broadcast | Action::Chat | Action::RoomMessage
        )
    }
}

#[cfg(test)]
mod tests;
