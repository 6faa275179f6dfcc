//! Rendering frames: what clients receive, in both formats.

use super::*;

/// How many were online, and when that was read (epoch microseconds).
/// Presence frames are fanned out concurrently and arrive out of order; each
/// event's count is read after the event itself is counted, so the count
/// read last is the one that holds every event before it. Frames say when
/// in epoch milliseconds, to the microsecond (`countedAt`): joins a
/// millisecond apart are common, and a tie would leave the order to chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub online: u64,
    pub at_us: i64,
}

impl Count {
    fn fields(count: Option<Count>) -> (Option<u64>, Option<f64>) {
        (count.map(|c| c.online), count.map(|c| c.at_us as f64 / 1000.0))
    }
}

/// One frame in both formats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub compat: String,
    pub json: String,
}

impl Payload {
    /// The frame a connection of `format` receives.
    pub fn render(&self, format: Format) -> &str {
        match format {
            Format::Compat => &self.compat,
            Format::Json => &self.json,
        }
    }
}

/// The `format=json` envelope. Fields a type does not use are left out,
/// except `room` on `message`, which is `null` outside rooms.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: Option<Vec<Member<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<Envelope<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    more: Option<More<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    joined: Option<Vec<Member<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    left: Option<Vec<Member<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    joined_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    left_count: Option<u64>,
    /// People online (after the event, for a presence frame).
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    /// When `count` was read (epoch ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    counted_at: Option<f64>,
    /// The limit of `chat.limits` an error frame is about (`messages`, `frames`).
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<&'a str>,
    /// Milliseconds until the limit admits a frame again.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<i64>,
}

/// `more`: whether a history page stopped at a limit, or where a list goes on.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum More<'a> {
    Flag(bool),
    Cursor(&'a str),
}

impl Envelope<'_> {
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Member<'a> {
    connection_id: &'a str,
    name: &'a str,
}

/// `{"action":"message","from":..,"text":..}`: the λ# sample's message.
#[derive(Serialize)]
pub(super) struct CompatMessage<'a> {
    action: &'static str,
    from: &'a str,
    text: &'a str,
}

/// `{"message":..,"type":..}`: liveChat's info and error frames.
#[derive(Serialize)]
pub(super) struct CompatNotice<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `{"message":..,"from":..}`: liveChat's room message.
#[derive(Serialize)]
pub(super) struct CompatRoomMessage<'a> {
    message: &'a str,
    from: &'a str,
}

pub(super) fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("a frame always serializes")
}

pub(super) fn host_says(text: &str) -> String {
    to_json(&CompatMessage { action: "message", from: HOST, text })
}

/// A chat message, stored or not: what its frames are made of.
pub(super) struct Said<'a> {
    action: Action,
    from: &'a str,
    connection_id: &'a str,
    text: &'a str,
    /// The room of a `sendMessage`.
    room: Option<&'a str>,
    at: i64,
    /// A stored message's id and conversation.
    stored: Option<(&'a str, &'a str)>,
}

impl<'a> Said<'a> {
    fn envelope(&self) -> Envelope<'a> {
        let room = match self.action {
            Action::Chat => None,
            Action::RoomMessage => Some(self.room),
            _ => Some(None),
        };
        Envelope {
            kind: if self.action == Action::Chat { "direct" } else { "message" },
            action: Some(self.action.name()),
            from: Some(self.from),
            text: Some(self.text),
            room,
            connection_id: Some(self.connection_id),
            timestamp: Some(self.at),
            id: self.stored.map(|(id, _)| id),
            conversation: self.stored.map(|(_, conversation)| conversation),
            ..Envelope::default()
        }
    }

    fn payload(&self) -> Payload {
        let (from, text) = (self.from, self.text);
        let compat = match self.action {
            Action::Send => to_json(&CompatMessage { action: "message", from, text }),
            Action::RoomMessage => to_json(&CompatRoomMessage { message: text, from }),
            _ => text.to_string(),
        };
        Payload { compat, json: self.envelope().to_json() }
    }
}

/// `send`, `sendmessage`, `post` or `broadcast` from `sender`, at `at` (epoch ms).
pub fn broadcast(action: Action, sender: &Connection, text: &str, at: i64) -> Payload {
    said(action, sender, text, None, at).payload()
}

/// `sendMessage`: a message to the sender's room.
pub fn room_message(sender: &Connection, room: &str, text: &str, at: i64) -> Payload {
    said(Action::RoomMessage, sender, text, Some(room), at).payload()
}

/// `chat`: a direct message.
pub fn direct(sender: &Connection, text: &str, at: i64) -> Payload {
    said(Action::Chat, sender, text, None, at).payload()
}

pub(super) fn said<'a>(
    action: Action,
    sender: &'a Connection,
    text: &'a str,
    room: Option<&'a str>,
    at: i64,
) -> Said<'a> {
    Said { action, from: &sender.name, connection_id: &sender.connection_id, text, room, at, stored: None }
}

pub(super) fn said_of(m: &ChatMessage) -> Said<'_> {
    Said {
        action: Action::from_name(&m.action).unwrap_or(Action::Send),
        from: &m.from,
        connection_id: &m.connection_id,
        text: &m.text,
        room: m.conversation.strip_prefix("room:"),
        at: m.timestamp,
        stored: Some((&m.id, &m.conversation)),
    }
}

/// A stored chat message, as it is fanned out: the compat frame of its
/// action, and the JSON envelope with its `id` and `conversation`.
pub fn message(m: &ChatMessage) -> Payload {
    said_of(m).payload()
}

/// The ack of a message that carried a `clientId`, to its sender, in the
/// JSON envelope whatever the sender's format (only JSON clients send one).
pub fn ack(action: Action, client_id: &str, id: &str, conversation: &str, timestamp: i64) -> String {
    Envelope {
        kind: "ack",
        action: Some(action.name()),
        timestamp: Some(timestamp),
        id: Some(id),
        conversation: Some(conversation),
        client_id: Some(client_id),
        ..Envelope::default()
    }
    .to_json()
}

/// A page of a conversation's history, oldest first, in the JSON envelope.
/// Messages past [`MAX_HISTORY_BYTES`] are left out, and `more` says so:
/// the oldest when the page reads back in time (`older`), else the newest.
pub fn history(conversation: &str, messages: &[ChatMessage], more: bool, older: bool) -> String {
    let envelopes: Vec<Envelope<'_>> = messages.iter().map(|m| said_of(m).envelope()).collect();
    let sizes: Vec<usize> = envelopes.iter().map(|e| e.to_json().len() + 1).collect();
    let (mut first, mut last) = (0, envelopes.len());
    let mut bytes: usize = sizes.iter().sum();
    while bytes > MAX_HISTORY_BYTES && first < last {
        let dropped = if older { first } else { last - 1 };
        bytes -= sizes[dropped];
        if older { first += 1 } else { last -= 1 }
    }
    let cut = first > 0 || last < envelopes.len();
    let kept = envelopes.into_iter().skip(first).take(last - first).collect();
    Envelope {
        kind: "history",
        conversation: Some(conversation),
        messages: Some(kept),
        more: Some(More::Flag(more || cut)),
        ..Envelope::default()
    }
    .to_json()
}

/// "`sender` is typing" in `conversation`, for JSON clients only: its compat
/// form is empty, and an empty frame is never posted.
pub fn typing(sender: &Connection, conversation: &str) -> Payload {
    let json = Envelope {
        kind: "typing",
        from: Some(&sender.name),
        connection_id: Some(&sender.connection_id),
        conversation: Some(conversation),
        ..Envelope::default()
    };
    Payload { compat: String::new(), json: json.to_json() }
}

/// The reply to `createRoom` and `joinRoom`; `member` is the caller, now in the room.
pub fn room_joined(action: Action, member: &Connection, room: &str, at: i64) -> Payload {
    let text = format!("You are now connected to room {room}");
    let json = Envelope {
        kind: "info",
        action: Some(action.name()),
        text: Some(&text),
        room: Some(Some(room)),
        connection_id: Some(&member.connection_id),
        name: Some(&member.name),
        timestamp: Some(at),
        ..Envelope::default()
    };
    Payload { compat: to_json(&CompatNotice { message: &text, kind: "info" }), json: json.to_json() }
}

/// The welcome a new connection receives; `count`: who is online, it included.
pub fn welcome(connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    let text = format!("Welcome! - connected on {}", connection.connection_id);
    let json = Envelope {
        kind: "welcome",
        text: Some(&text),
        connection_id: Some(&connection.connection_id),
        name: Some(&connection.name),
        timestamp: Some(at),
        count: Count::fields(count).0,
        counted_at: Count::fields(count).1,
        ..Envelope::default()
    };
    Payload { compat: text.clone(), json: json.to_json() }
}

/// `text` from [`HOST`] about `connection` (its id and name), with who is
/// online after it.
fn about(
    kind: &'static str,
    action: Option<Action>,
    text: &str,
    connection: &Connection,
    count: Option<Count>,
    at: i64,
) -> Payload {
    let json = Envelope {
        kind,
        action: action.map(Action::name),
        from: Some(HOST),
        text: Some(text),
        connection_id: Some(&connection.connection_id),
        name: Some(&connection.name),
        timestamp: Some(at),
        count: Count::fields(count).0,
        counted_at: Count::fields(count).1,
        ..Envelope::default()
    };
    Payload { compat: host_says(text), json: json.to_json() }
}

/// The notice to everyone else when `connection` connects.
pub fn joined(connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    about("joined", None, &format!("{} joined", connection.name), connection, count, at)
}

/// The notice to everyone when `connection` disconnects.
pub fn left(connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    about("left", None, &format!("{} left", connection.name), connection, count, at)
}

/// The digest of a window's joins and leaves (`docs/presence.md`), to
/// everyone: "Grace, Ada and 40 others joined; Bob left".
pub fn digest(digest: &Digest, count: Option<Count>, at: i64) -> Payload {
    let mut parts = Vec::new();
    if digest.joined_count > 0 {
        parts.push(format!("{} joined", some_of(&digest.joined, digest.joined_count)));
    }
    if digest.left_count > 0 {
        parts.push(format!("{} left", some_of(&digest.left, digest.left_count)));
    }
    let text = parts.join("; ");
    let json = Envelope {
        kind: "presence",
        from: Some(HOST),
        text: Some(&text),
        timestamp: Some(at),
        joined: Some(members(&digest.joined)),
        left: Some(members(&digest.left)),
        joined_count: Some(digest.joined_count),
        left_count: Some(digest.left_count),
        count: Count::fields(count).0,
        counted_at: Count::fields(count).1,
        ..Envelope::default()
    };
    Payload { compat: host_says(&text), json: json.to_json() }
}

pub(super) fn members(list: &[crate::ports::Member]) -> Vec<Member<'_>> {
    list.iter().map(|m| Member { connection_id: &m.connection_id, name: &m.name }).collect()
}

/// "Grace", "Grace and Ada", "Grace, Ada and Bob", "Grace, Ada and 40
/// others": up to three names of `total`, of which `named` are known.
pub(super) fn some_of(named: &[crate::ports::Member], total: u64) -> String {
    let names: Vec<&str> = named.iter().map(|m| m.name.as_str()).collect();
    let total = total.max(names.len() as u64);
    match (names.as_slice(), total) {
        ([], n) => format!("{n} {}", if n == 1 { "person" } else { "people" }),
        ([one], 1) => one.to_string(),
        ([a, b], 2) => format!("{a} and {b}"),
        ([a, b, c], 3) => format!("{a}, {b} and {c}"),
        ([a], n) => format!("{a} and {} {}", n - 1, others(n - 1)),
        ([a, b, ..], n) => format!("{a}, {b} and {} {}", n - 2, others(n - 2)),
    }
}

pub(super) fn others(n: u64) -> &'static str {
    if n == 1 { "other" } else { "others" }
}

/// `<old> is now <new>`, from [`HOST`]; `connection` carries the new name.
pub fn renamed(old: &str, connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    about("renamed", Some(Action::Rename), &format!("{old} is now {}", connection.name), connection, count, at)
}

/// A JSON reply to `list`: a page of `connections`, in the order given, and
/// where the next page starts if more remain, and how many are online. The page is cut where its
/// members pass [`MAX_LIST_BYTES`], and `more` then names the last one kept.
pub fn list_page(connections: &[Connection], count: Option<Count>, more: Option<&str>) -> String {
    let mut bytes = 0;
    let mut kept = Vec::new();
    for c in connections {
        let member = Member { connection_id: &c.connection_id, name: &c.name };
        bytes += to_json(&member).len() + 1;
        if bytes > MAX_LIST_BYTES {
            break;
        }
        kept.push(member);
    }
    let more = match kept.len() < connections.len() {
        true => kept.last().map(|m| m.connection_id),
        false => more,
    };
    Envelope {
        kind: "list",
        action: Some(Action::List.name()),
        connections: Some(kept),
        count: Count::fields(count).0,
        counted_at: Count::fields(count).1,
        more: more.map(More::Cursor),
        ..Envelope::default()
    }
    .to_json()
}

/// The compat reply to `list`, go-apigw-webchat's: `connections: <id> <id>
/// ...`, and ` ... and N more` when `remaining` (`Some(n)`) were left out
/// (`Some(0)`: some were, how many is unknown).
pub fn compat_list(ids: &[&str], remaining: Option<u64>) -> String {
    let mut text = format!("connections: {}", ids.join(" "));
    match remaining {
        None => {}
        Some(0) => text.push_str(" ... and more"),
        Some(n) => text.push_str(&format!(" ... and {n} more")),
    }
    text
}

/// The echo of a frame `$default` does not understand. Compat echoes the
/// exact bytes (see the handler); this is the text form.
pub fn echo(frame: &str) -> Payload {
    let json = Envelope { kind: "echo", text: Some(frame), ..Envelope::default() };
    Payload { compat: frame.to_string(), json: json.to_json() }
}

/// The error frame of a frame over a limit of `chat.limits`, or of the
/// connection closed for going on past it.
pub fn limited(action: Option<Action>, reason: &str, limit: &str, retry_after_ms: i64) -> Payload {
    let json = Envelope {
        kind: "error",
        action: action.map(Action::name),
        error: Some(reason),
        limit: Some(limit),
        retry_after: Some(retry_after_ms),
        ..Envelope::default()
    };
    Payload { compat: to_json(&CompatNotice { message: reason, kind: "err" }), json: json.to_json() }
}

/// The one error frame a refused request gets.
pub fn error(action: Option<Action>, reason: &str) -> Payload {
    let json = Envelope { kind: "error", action: action.map(Action::name), error: Some(reason), ..Envelope::default() };
    Payload { compat: to_json(&CompatNotice { message: reason, kind: "err" }), json: json.to_json() }
}
