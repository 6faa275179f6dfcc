//! The body of a notification-queue message: one frame and who receives it.
//!
//! The chat function enqueues, the notify function fans out (or, in
//! `wschat dev`, an in-process queue hands the same body to [`crate::handle_sqs`]).
//! The body is JSON:
//!
//! ```json
//! {"target":"all","exclude":"abc=","payload":{"compat":"...","json":"..."}}
//! {"target":{"room":"0f3a9c21"},"exclude":"abc=","payload":{"compat":"...","json":"..."}}
//! {"target":{"connection":"abc="},"payload":{"compat":"...","json":"..."}}
//! ```
//!
//! - `target`: `"all"` (every stored connection, by a paginated scan),
//!   `{"room":code}` (the members of a room, through the `room-index` GSI), or
//!   `{"connection":id}` (one connection; nothing happens if it is gone).
//! - `exclude`: optional; this connection does not receive the frame.
//! - `payload`: the frame rendered for each format; every recipient gets the
//!   one its row asks for (`compat` or `json`), so rendering happens once, in
//!   the chat function.
//!
//! The frame is final: the notify function neither parses nor rewrites it.

use serde::{Deserialize, Serialize};

use crate::protocol::Payload;

/// Who receives a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    All,
    Room(String),
    Connection(String),
}

/// One queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    pub payload: Payload,
}

impl Notice {
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a notice always serializes")
    }

    pub fn from_body(body: &str) -> Result<Notice, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Payload {
        Payload { compat: "hi".into(), json: r#"{"type":"message"}"#.into() }
    }

    #[test]
    fn bodies_are_the_documented_json() {
        let all = Notice { target: Target::All, exclude: Some("abc=".into()), payload: payload() };
        assert_eq!(
            all.to_body(),
            r#"{"target":"all","exclude":"abc=","payload":{"compat":"hi","json":"{\"type\":\"message\"}"}}"#
        );
        let room = Notice { target: Target::Room("0f3a9c21".into()), exclude: None, payload: payload() };
        assert!(room.to_body().starts_with(r#"{"target":{"room":"0f3a9c21"},"payload":"#), "{}", room.to_body());
        let one = Notice { target: Target::Connection("x".into()), exclude: None, payload: payload() };
        assert!(one.to_body().starts_with(r#"{"target":{"connection":"x"},"payload":"#), "{}", one.to_body());
        for notice in [all, room, one] {
            assert_eq!(Notice::from_body(&notice.to_body()).unwrap(), notice);
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in ["", "hi", r#"{"target":"everyone","payload":{"compat":"","json":""}}"#, r#"{"target":"all"}"#] {
            assert!(Notice::from_body(body).is_err(), "{body}");
        }
    }
}
