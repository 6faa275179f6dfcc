//! The chat's history (`docs/chat-history.md`): conversations, who belongs to
//! them, and message ids. The messages themselves are kept behind the
//! [`MessageStore`](crate::ports::MessageStore) port.
//!
//! A conversation is a string:
//! - `everyone`: the `send`, `sendmessage`, `post` and `broadcast` actions;
//! - `room:<code>`: a room's `sendMessage`;
//! - `dm:<a>:<b>`: the direct messages (`chat`) between two identities, `a < b`
//!   in byte order. An identity is `sub:<sub>` for a signed-in connection
//!   (stable across reconnects) and `conn:<connectionId>` for an anonymous one:
//!   anyone can take a name, nobody can forge a connection id.

use std::cmp::Ordering;
use std::sync::{Mutex, PoisonError};

use crate::ports::Connection;
use crate::protocol::is_room_code;

/// The conversation of everyone's chat.
pub const EVERYONE: &str = "everyone";

/// A conversation, read from its string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversation {
    Everyone,
    Room(String),
    /// The two identities, in order.
    Direct(String, String),
}

impl Conversation {
    /// Reads `everyone`, `room:<code>` or `dm:<a>:<b>`; `None` if it is none of them.
    pub fn parse(text: &str) -> Option<Conversation> {
        if text == EVERYONE {
            return Some(Conversation::Everyone);
        }
        if let Some(code) = text.strip_prefix("room:") {
            return is_room_code(code).then(|| Conversation::Room(code.to_string()));
        }
        let pair = text.strip_prefix("dm:")?;
        // An identity's own colon follows its kind; the pair's separator is
        // the colon before the second identity's kind.
        let split = [":sub:", ":conn:"].iter().filter_map(|kind| pair.find(kind)).min()?;
        let (a, b) = (&pair[..split], &pair[split + 1..]);
        (is_identity(a) && is_identity(b) && a < b).then(|| Conversation::Direct(a.to_string(), b.to_string()))
    }

    /// The conversation of the direct messages between two identities.
    pub fn direct(a: &str, b: &str) -> Conversation {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        Conversation::Direct(a.to_string(), b.to_string())
    }

    /// Whether `connection` may read it and tell it that it types: every
    /// connection for everyone; a room's current members; a pair's two identities.
    pub fn admits(&self, connection: &Connection) -> bool {
        match self {
            Conversation::Everyone => true,
            Conversation::Room(code) => connection.room.as_deref() == Some(code),
            Conversation::Direct(a, b) => {
                let me = identity(connection);
                me == *a || me == *b
            }
        }
    }

    /// The other identity of a pair, seen from `connection`'s.
    pub fn other(&self, connection: &Connection) -> Option<&str> {
        let Conversation::Direct(a, b) = self else { return None };
        let me = identity(connection);
        if me == *a {
            Some(b)
        } else if me == *b {
            Some(a)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Conversation::Everyone => f.write_str(EVERYONE),
            Conversation::Room(code) => write!(f, "room:{code}"),
            Conversation::Direct(a, b) => write!(f, "dm:{a}:{b}"),
        }
    }
}

fn is_identity(text: &str) -> bool {
    let rest = text.strip_prefix("sub:").or_else(|| text.strip_prefix("conn:"));
    rest.is_some_and(|rest| !rest.is_empty())
}

/// Who a connection is in direct messages: `sub:<sub>` when signed in, else
/// `conn:<connectionId>`.
pub fn identity(connection: &Connection) -> String {
    match &connection.sub {
        Some(sub) => format!("sub:{sub}"),
        None => format!("conn:{}", connection.connection_id),
    }
}

/// A connection's identity if `identity` names one: `Some(sub)` for a
/// signed-in one, `None` for `conn:<id>`.
pub fn identity_sub(identity: &str) -> Option<&str> {
    identity.strip_prefix("sub:")
}

/// A new message id for a message at `at` (epoch ms): `<13-digit ms>-<8 hex>`.
///
/// Within one millisecond, the ids one process makes sort in the order it
/// made them: the hex's top 12 bits count them, the 20 below are random. A
/// sender's next message, sent once the chat answered the last one, sorts
/// after it even within the same millisecond (`wschat dev` answers that fast);
/// with random bits alone, such a pair came back from history in either order.
pub fn new_message_id(at: i64) -> String {
    /// The latest millisecond an id was made for, and how many were made in it.
    static LATEST: Mutex<(i64, u32)> = Mutex::new((i64::MIN, 0));
    let count = {
        let mut latest = LATEST.lock().unwrap_or_else(PoisonError::into_inner);
        match at.cmp(&latest.0) {
            Ordering::Greater => *latest = (at, 0),
            Ordering::Equal => latest.1 = (latest.1 + 1).min(0xfff),
            // An earlier millisecond (another event's clock): no count to keep.
            Ordering::Less => {}
        }
        if at == latest.0 { latest.1 } else { 0 }
    };
    format!("{:013}-{:08x}", at.max(0), count << 20 | rand::random::<u32>() >> 12)
}

/// Whether `id` has the shape of a message id.
pub fn is_message_id(id: &str) -> bool {
    let Some((ms, random)) = id.split_once('-') else { return false };
    ms.len() == 13
        && ms.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 8
        && random.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `id` is a valid `clientId`: 1..=64 of `[A-Za-z0-9_-]`.
pub fn is_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What a message's `clientId` is unique within, besides its conversation:
/// the signed-in sender's `sub`, so that nobody else's key can collide with
/// theirs; anonymous senders, who have no identity that outlives a
/// connection, share the conversation's keys, and a reuse is a duplicate
/// only when it repeats the same message (a resend after a reconnect), and
/// a conflict otherwise.
pub fn dedupe_scope(message: &crate::ports::ChatMessage) -> String {
    let client_id = message.client_id.as_deref().unwrap_or_default();
    match &message.sub {
        Some(sub) => format!("sub:{sub}#{client_id}"),
        None => client_id.to_string(),
    }
}

/// Whether `resent` repeats `first`: the same sender's same words.
pub fn repeats(first: &crate::ports::ChatMessage, resent: &crate::ports::ChatMessage) -> bool {
    first.action == resent.action && first.text == resent.text && first.sub == resent.sub
}

/// Above every message id (`<digits>-<hex>`, and `:` follows the digits in
/// byte order): a conversation's messages sort below it, the messages table's
/// de-duplication records (`dedupe#<clientId>`) above it.
pub const ID_END: &str = ":";

/// The most bytes of message frames one history frame carries: API Gateway
/// delivers at most 128 KiB a message, and the frame has its own fields.
pub const MAX_HISTORY_BYTES: usize = 96 * 1024;

/// Seconds between two typing notices of one connection.
pub const TYPING_EVERY_MS: i64 = 3000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Format;

    fn row(id: &str, sub: Option<&str>, room: Option<&str>) -> Connection {
        Connection {
            connection_id: id.into(),
            name: "x".into(),
            sub: sub.map(str::to_string),
            format: Format::Json,
            room: room.map(str::to_string),
            connected_at: 0,
            expires_at: 0,
        }
    }

    #[test]
    fn conversations_read_back_what_they_write() {
        for text in ["everyone", "room:0a1b2c3d", "dm:conn:AbC=:conn:XyZ=", "dm:conn:b=:sub:a|1", "dm:sub:a:b:sub:c"] {
            let conversation = Conversation::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(conversation.to_string(), text);
        }
        for text in
            ["", "Everyone", "room:0A1B2C3D", "room:abc", "dm:", "dm:conn:b=:conn:a=", "dm:conn::conn:a=", "dm:x:y"]
        {
            assert_eq!(Conversation::parse(text), None, "{text}");
        }
        assert_eq!(Conversation::direct("conn:b=", "conn:a=").to_string(), "dm:conn:a=:conn:b=");
    }

    #[test]
    fn only_members_are_admitted() {
        let anonymous = row("a=", None, Some("0a1b2c3d"));
        let signed_in = row("b=", Some("u1"), None);
        assert!(Conversation::Everyone.admits(&anonymous));
        assert!(Conversation::Room("0a1b2c3d".into()).admits(&anonymous));
        assert!(!Conversation::Room("0a1b2c3d".into()).admits(&signed_in));
        let pair = Conversation::direct(&identity(&anonymous), &identity(&signed_in));
        assert_eq!(pair.to_string(), "dm:conn:a=:sub:u1");
        assert!(pair.admits(&anonymous) && pair.admits(&signed_in));
        assert!(pair.admits(&row("other=", Some("u1"), None)), "a sub is the same person on another connection");
        assert!(!pair.admits(&row("c=", None, None)));
        assert_eq!(pair.other(&anonymous), Some("sub:u1"));
        assert_eq!(pair.other(&row("c=", None, None)), None);
    }

    #[test]
    fn ids_have_their_shape_and_sort_by_time() {
        let id = new_message_id(1764614400000);
        assert!(is_message_id(&id) && id.starts_with("1764614400000-"), "{id}");
        assert!(new_message_id(999) < new_message_id(1000));
        // Past every clock, so that no other test's id comes between (the count is the process's).
        let same_ms: Vec<String> = (0..50).map(|_| new_message_id(9_999_999_999_000)).collect();
        assert!(same_ms.windows(2).all(|w| w[0] < w[1]), "made in one millisecond, in order: {same_ms:?}");
        assert!(!is_message_id("1764614400000-3FA9C2D1") && !is_message_id("176461440000-3fa9c2d1"));
        assert!(is_client_id("k1") && is_client_id(&"a".repeat(64)) && is_client_id("A-b_9"));
        assert!(!is_client_id("") && !is_client_id(&"a".repeat(65)) && !is_client_id("a b") && !is_client_id("é"));
    }
}
