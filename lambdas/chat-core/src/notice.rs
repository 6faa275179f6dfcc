//! The body of a notification-queue message: one frame and who receives it.
//!
//! The chat function enqueues notices, the notify function fans them out
//! (or, in `wschat dev`, an in-process queue hands the same body to
//! [`crate::handle_sqs`]). A notice for more recipients than one invocation
//! takes on (`chat.shard_size`) is split into shards, which notify writes to
//! the same queue, so that Lambda delivers them in parallel. The body is JSON:
//!
//! ```json
//! {"id":"6f1c…","target":"all","exclude":"abc=","payload":{"compat":"...","json":"..."}}
//! {"id":"6f1c…","target":{"room":"0f3a9c21"},"exclude":"abc=","payload":{...}}
//! {"id":"6f1c…","target":{"connection":"abc="},"payload":{...}}
//! {"id":"6f1c…","target":{"segment":{"index":3,"of":16,"after":"xyz="}},"shard":"s3.16>xyz=","shards":16,"exclude":"abc=","payload":{...}}
//! {"id":"6f1c…","target":{"recipients":[{"connection":"abc=","format":"json","connectedAt":1732262400000}]},"shard":"s3.16~1","shards":16,"attempt":1,"payload":{...}}
//! {"id":"6f1c…","target":{"connection":"abc="},"payload":{...},"then":[{"compat":"","json":"{\"type\":\"history\",...}"}]}
//! {"id":"6f1c…","target":{"digest":{"seconds":5,"index":352922880}},"payload":{"compat":"","json":""},"at":1764614405000}
//! ```
//!
//! - `id`: the notice's id, chosen when it is first enqueued and kept by
//!   every shard and retry of it. With `shard` it keys the delivery ledger,
//!   which makes a redelivered message harmless. Optional, for bodies written
//!   before it existed: the SQS message id stands in.
//! - `target`: `"all"` (every stored connection), `{"room":code}` (the
//!   members of a room, through the `room-index` GSI), `{"connection":id}`
//!   (one connection; nothing happens if it is gone), and for shards
//!   `{"segment":...}` (segment `index` of `of` of a parallel scan of the
//!   table, from after the connection `after` if given) or `{"recipients":[...]}`
//!   (these connections, in the format each asked for). `{"digest":window}`
//!   is the presence digest of a window (`crate::presence`): everyone
//!   receives it, and its payload is rendered when it is delivered, from
//!   what the window gathered and the count then.
//! - `exclude`: optional; this connection does not receive the frame.
//! - `payload`: the frame rendered for each format; every recipient gets the
//!   one its row asks for (`compat` or `json`), so rendering happens once, in
//!   the chat function. An empty frame is not posted: a frame for JSON
//!   clients only (`typing`, `history`) has an empty `compat`.
//! - `then`: optional, frames posted after `payload` to each recipient, in
//!   order, each in the recipient's format like `payload` (the history that
//!   follows a welcome). Bodies without it post `payload` alone.
//! - `shard`: which part of the notice this is: absent for the notice
//!   itself, `s{index}.{of}` for a segment (`>{after}` when it goes on from a
//!   row), `r{n}` for a room's `n`-th group of members, `~{attempt}` appended
//!   for the recipients a post to failed, `+{n}` for recipients an invocation
//!   handed on as its time ran out.
//! - `shards`: how many shards the notice was split into (default 1): a
//!   shard's share of `chat.post_rate` depends on it.
//! - `attempt`: how many times these recipients were tried before (default 0).
//! - `pace`: for a digest's segments, the posts a second the whole digest
//!   makes; the queue spaces the segments so that one runs at a time.
//!   Optional: without it, a notice posts at its share of `chat.post_rate`.
//! - `at`: when the event behind the notice happened (epoch milliseconds, API
//!   Gateway's clock, as `connectedAt`): a connection made later does not
//!   receive it, though a shard may read the table after it connected.
//!   Optional: without it, everyone found receives it.
//!
//! The frame is final, but for a digest's: the notify function neither
//! parses nor rewrites it.

use serde::{Deserialize, Serialize};

use crate::ports::{DigestWindow, Format};
use crate::protocol::Payload;

/// Who receives a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    All,
    Room(String),
    Connection(String),
    Segment(Segment),
    Recipients(Vec<Recipient>),
    Digest(DigestWindow),
}

/// A part of a parallel scan of the connections table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub index: u32,
    pub of: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// A connection a shard names, with what delivering to it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Recipient {
    pub connection: String,
    pub format: Format,
    /// Epoch milliseconds.
    pub connected_at: i64,
}

/// One queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    pub payload: Payload,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<Payload>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shard: String,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub shards: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub at: i64,
    /// Posts a second a paced notice (a digest) makes in all; 0: the notice's
    /// share of the post rate.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pace: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// A new notice id: 128 random bits, in hex.
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Notice {
    /// A new notice, with a fresh id.
    pub fn new(target: Target, exclude: Option<String>, payload: Payload) -> Notice {
        Notice {
            id: Some(new_id()),
            target,
            exclude,
            payload,
            then: Vec::new(),
            shard: String::new(),
            shards: 1,
            attempt: 0,
            at: 0,
            pace: 0,
        }
    }

    /// The notice with `frames` posted after its payload, to each recipient.
    pub fn then(self, frames: Vec<Payload>) -> Notice {
        Notice { then: frames, ..self }
    }

    /// The notice of an event at `at` (epoch milliseconds).
    pub fn at(self, at: i64) -> Notice {
        Notice { at, ..self }
    }

    /// Whether a connection made at `connected_at` is too new for this notice.
    pub fn predates(&self, connected_at: i64) -> bool {
        self.at > 0 && connected_at > self.at
    }

    /// A part of this notice: the same id, frame and exclusion.
    pub fn part(&self, target: Target, shard: String, shards: u32, attempt: u32) -> Notice {
        Notice { target, shard, shards, attempt, ..self.clone() }
    }

    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a notice always serializes")
    }

    pub fn from_body(body: &str) -> Result<Notice, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The delivery ledger's key: the notice id (or, for a body without one,
    /// the SQS message id, which a redelivery keeps) and the shard.
    pub fn ledger_key(&self, message_id: &str) -> String {
        format!("{}#{}", self.id.as_deref().unwrap_or(message_id), self.shard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Payload {
        Payload { compat: "hi".into(), json: r#"{"type":"message"}"#.into() }
    }

    fn plain(target: Target, exclude: Option<&str>) -> Notice {
        Notice { id: None, ..Notice::new(target, exclude.map(str::to_string), payload()) }
    }

    #[test]
    fn bodies_are_the_documented_json() {
        let all = plain(Target::All, Some("abc="));
        assert_eq!(
            all.to_body(),
            r#"{"target":"all","exclude":"abc=","payload":{"compat":"hi","json":"{\"type\":\"message\"}"}}"#
        );
        let room = plain(Target::Room("0f3a9c21".into()), None);
        assert!(room.to_body().starts_with(r#"{"target":{"room":"0f3a9c21"},"payload":"#), "{}", room.to_body());
        let one = plain(Target::Connection("x".into()), None);
        assert!(one.to_body().starts_with(r#"{"target":{"connection":"x"},"payload":"#), "{}", one.to_body());
        let segment = Target::Segment(Segment { index: 3, of: 16, after: Some("xyz=".into()) });
        let shard = all.part(segment, "s3.16>xyz=".into(), 16, 0);
        assert_eq!(
            shard.to_body(),
            r#"{"target":{"segment":{"index":3,"of":16,"after":"xyz="}},"exclude":"abc=","payload":{"compat":"hi","json":"{\"type\":\"message\"}"},"shard":"s3.16>xyz=","shards":16}"#
        );
        let recipient = Recipient { connection: "abc=".into(), format: Format::Json, connected_at: 1732262400000 };
        let retry = one.part(Target::Recipients(vec![recipient]), "~1".into(), 1, 1);
        assert!(
            retry.to_body().starts_with(
                r#"{"target":{"recipients":[{"connection":"abc=","format":"json","connectedAt":1732262400000}]},"#
            ),
            "{}",
            retry.to_body()
        );
        assert!(retry.to_body().ends_with(r#""shard":"~1","attempt":1}"#), "{}", retry.to_body());
        let digest = plain(Target::Digest(DigestWindow { seconds: 5, index: 352922880 }), None);
        assert!(
            digest.to_body().starts_with(r#"{"target":{"digest":{"seconds":5,"index":352922880}},"payload":"#),
            "{}",
            digest.to_body()
        );
        let dated = plain(Target::All, None).at(1732262400000);
        assert!(dated.to_body().ends_with(r#","at":1732262400000}"#), "{}", dated.to_body());
        let history = Payload { compat: String::new(), json: r#"{"type":"history"}"#.into() };
        let followed = plain(Target::Connection("x".into()), None).then(vec![history]);
        assert_eq!(
            followed.to_body(),
            r#"{"target":{"connection":"x"},"payload":{"compat":"hi","json":"{\"type\":\"message\"}"},"then":[{"compat":"","json":"{\"type\":\"history\"}"}]}"#
        );
        assert!(dated.predates(1732262400001) && !dated.predates(1732262400000) && !retry.predates(i64::MAX));
        for notice in [all, room, one, shard, retry, digest, dated, followed] {
            assert_eq!(Notice::from_body(&notice.to_body()).unwrap(), notice);
        }
    }

    #[test]
    fn a_new_notice_has_its_own_id_and_its_parts_keep_it() {
        let a = Notice::new(Target::All, None, payload());
        let b = Notice::new(Target::All, None, payload());
        let id = a.id.clone().unwrap();
        assert_eq!(id.len(), 32);
        assert_ne!(a.id, b.id);
        assert!(a.to_body().starts_with(&format!(r#"{{"id":"{id}","target":"all""#)), "{}", a.to_body());
        let part = a.part(Target::Segment(Segment { index: 1, of: 2, after: None }), "s1.2".into(), 2, 0);
        assert_eq!(part.ledger_key("m1"), format!("{id}#s1.2"));
        assert_eq!(a.ledger_key("m1"), format!("{id}#"));
        assert_eq!(plain(Target::All, None).ledger_key("m1"), "m1#", "the message id stands in for a missing one");
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            "",
            "hi",
            r#"{"target":"everyone","payload":{"compat":"","json":""}}"#,
            r#"{"target":"all"}"#,
            r#"{"target":{"segment":{"index":1}},"payload":{"compat":"","json":""}}"#,
            r#"{"target":{"recipients":[{"connection":"a"}]},"payload":{"compat":"","json":""}}"#,
            r#"{"target":"all","payload":{"compat":"","json":""},"shards":"two"}"#,
        ] {
            assert!(Notice::from_body(body).is_err(), "{body}");
        }
    }
}
