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

/// A valid request of one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `send`, `sendmessage`, `post` or `broadcast`: `text` to everyone.
    Broadcast {
        action: Action,
        text: String,
    },
    /// The first page, or the page after `cursor` (a list reply's `more`).
    List {
        cursor: Option<String>,
    },
    Chat {
        connection: String,
        message: String,
    },
    CreateRoom {
        name: String,
    },
    JoinRoom {
        name: String,
        room_code: String,
    },
    RoomMessage {
        message: String,
    },
    Rename {
        name: String,
    },
    /// At most one of `before` and `since`, each a message id.
    History {
        conversation: Conversation,
        before: Option<String>,
        since: Option<String>,
    },
    Typing {
        conversation: Conversation,
    },
}

/// What a frame asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An action, with its request or the reason it is refused.
    Action(Action, Result<Request, String>),
    /// Not JSON, or no known action: `$default` echoes it.
    Echo,
}

/// Reads one frame that arrived on `route_key`.
///
/// API Gateway selects the route by `$request.body.action`, so a frame whose
/// action is spelled `Action`, or whose route is missing from the stack,
/// lands on `$default`: there the frame's own `action` (or `Action`) decides.
pub fn read_frame(route_key: &str, body: &str) -> Frame {
    let object = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    };
    if let Some(action) = Action::from_name(route_key) {
        let request = match &object {
            Some(object) => parse(action, object),
            None => Err(format!("{} needs a JSON object such as {}", action.name(), example(action))),
        };
        return Frame::Action(action, request);
    }
    let Some(object) = object else { return Frame::Echo };
    let named = ["action", "Action"].iter().find_map(|key| object.get(*key).and_then(Value::as_str));
    match named.and_then(Action::from_name) {
        Some(action) => Frame::Action(action, parse(action, &object)),
        None => Frame::Echo,
    }
}

fn parse(action: Action, object: &Map<String, Value>) -> Result<Request, String> {
    let fields = action.fields();
    let optional = |k: &str| k == "clientId" && action.is_message();
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "action" | "Action") && !fields.contains(&k.as_str()) && !optional(k))
    {
        return Err(match fields {
            [] => format!("unknown field `{key}`: {} takes no fields", action.name()),
            _ => format!("unknown field `{key}`: {} takes {}", action.name(), backticked(fields)),
        });
    }
    if action.is_message() {
        read_client_id(object)?;
    }
    let field = |name: &str| string_field(action, object, name);
    Ok(match action {
        Action::Send | Action::SendData | Action::Post | Action::Broadcast => {
            let (name, missing) = match action {
                Action::Send => ("text", "send needs a text"),
                Action::SendData => ("data", "sendmessage needs data"),
                Action::Post => ("data", "post needs data"),
                _ => ("message", "broadcast needs a message"),
            };
            let text = field(name)?.ok_or(missing)?;
            Request::Broadcast { action, text: check_text(name, text)? }
        }
        Action::List => {
            let cursor = match field("cursor")? {
                None => None,
                Some(c) if c.chars().count() <= MAX_CURSOR_CHARS => Some(c.to_string()),
                Some(_) => return Err("`cursor` must be the `more` of a list reply".into()),
            };
            Request::List { cursor }
        }
        Action::Chat => {
            let connection = field("connection")?.ok_or("chat needs a target connection")?;
            let message = field("message")?.ok_or("chat needs a message")?;
            Request::Chat { connection: connection.to_string(), message: check_text("message", message)? }
        }
        Action::CreateRoom => {
            let name = field("name")?.ok_or("You need a name on createRoom")?;
            Request::CreateRoom { name: check_name(name)? }
        }
        Action::JoinRoom => {
            let name = field("name")?.ok_or("You need a name on joinRoom")?;
            let room_code = field("roomCode")?.ok_or("You need a roomCode on joinRoom")?;
            Request::JoinRoom { name: check_name(name)?, room_code: room_code.trim().to_string() }
        }
        Action::RoomMessage => {
            let message = field("message")?.ok_or("You need to add a message on sendMessage action")?;
            Request::RoomMessage { message: check_text("message", message)? }
        }
        Action::Rename => {
            let name = field("name")?.ok_or("rename needs a name")?;
            Request::Rename { name: check_name(name)? }
        }
        Action::History | Action::Typing => {
            let text = field("conversation")?.ok_or_else(|| format!("{} needs a conversation", action.name()))?;
            let conversation = Conversation::parse(text).ok_or_else(|| format!("no conversation {text}"))?;
            if action == Action::Typing {
                return Ok(Request::Typing { conversation });
            }
            let id = |name: &str| match field(name)? {
                None => Ok(None),
                Some(id) if history::is_message_id(id) => Ok(Some(id.to_string())),
                Some(_) => Err(format!("`{name}` must be a message id such as 1764614400000-3fa9c2d1")),
            };
            let (before, since) = (id("before")?, id("since")?);
            if before.is_some() && since.is_some() {
                return Err("before and since cannot both be given".into());
            }
            Request::History { conversation, before, since }
        }
    })
}

/// The `clientId` of a message action's frame, if it has a valid one.
/// [`read_frame`] refuses a frame with an invalid one.
pub fn client_id(body: &str) -> Option<String> {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) else { return None };
    read_client_id(&object).ok().flatten()
}

fn read_client_id(object: &Map<String, Value>) -> Result<Option<String>, String> {
    match object.get("clientId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if history::is_client_id(id) => Ok(Some(id.clone())),
        Some(_) => Err("`clientId` must be 1 to 64 letters, digits, `_` or `-`".into()),
    }
}

/// A string field: `None` when missing, null or blank (the samples treat
/// those alike), an error when it is not a string.
fn string_field<'a>(action: Action, object: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{name}` on {} must be a string, not {}", action.name(), kind(other))),
    }
}

fn check_text(field: &str, text: &str) -> Result<String, String> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!("{field} is too long: {} bytes; the limit is {MAX_TEXT_BYTES}", text.len()));
    }
    Ok(text.to_string())
}

/// Checks a display name (query string `username`, a `name` field, or a
/// token's name) and returns it as it is kept: NFKC-normalized, without
/// surrounding spaces.
///
/// RFC 8266 (PRECIS nicknames) normalizes with NFKC, so that `＃host`
/// (fullwidth) is `#host`. A name may not hold controls, format characters
/// (zero-width spaces, the bidi overrides of CVE-2021-42574 that make text
/// display as something else), other default-ignorable characters, private
/// use or unassigned code points, or line and paragraph separators; an
/// emoji's joiner and presentation selector are kept between emoji. A name
/// may not read as the chat's own (`#…`).
pub fn check_name(name: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let name: String = name.nfkc().collect();
    let name = name.trim();
    let chars: Vec<char> = name.chars().collect();
    if chars.is_empty() {
        return Err("a name needs at least one character".into());
    }
    if chars.len() > MAX_NAME_CHARS {
        return Err(format!("name is too long: {} characters; the limit is {MAX_NAME_CHARS}", chars.len()));
    }
    if chars.iter().any(|c| c.is_control()) {
        return Err("a name cannot contain control characters".into());
    }
    if let Some((_, c)) = chars.iter().enumerate().find(|(i, c)| invisible(&chars, *i, **c)) {
        return Err(format!(
            "a name cannot contain U+{:04X}: invisible and formatting characters could make it pass for another",
            u32::from(*c)
        ));
    }
    if name.starts_with('#') {
        return Err(format!("names starting with `#` are reserved for the chat itself ({HOST})"));
    }
    Ok(name.to_string())
}

/// Whether `c`, at `i` in `name`, is a character a name may not hold.
fn invisible(name: &[char], i: usize, c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category as category};
    let emoji = |j: Option<usize>| {
        j.and_then(|j| name.get(j))
            .is_some_and(|c| matches!(category(*c), G::OtherSymbol | G::ModifierSymbol) || matches!(*c, '\u{FE0F}'))
    };
    match c {
        // The zero-width joiner, between two emoji (👩‍💻).
        '\u{200D}' => !(emoji(i.checked_sub(1)) && emoji(Some(i + 1))),
        // Text and emoji presentation selectors, after a symbol.
        '\u{FE0E}' | '\u{FE0F}' => !emoji(i.checked_sub(1)),
        // Default-ignorable code points outside the format category (Unicode's
        // DerivedCoreProperties.txt): the combining grapheme joiner, the
        // Hangul fillers, Khmer's inherent vowels, the Mongolian and other
        // variation selectors.
        '\u{034F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{17B4}'
        | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0D}'
        | '\u{FFA0}'
        | '\u{E0100}'..='\u{E01EF}' => true,
        _ => matches!(
            category(c),
            G::Format | G::Surrogate | G::PrivateUse | G::Unassigned | G::LineSeparator | G::ParagraphSeparator
        ),
    }
}

/// The subprotocol a `$connect` accepts of those a client offered (its
/// `Sec-WebSocket-Protocol`, comma-separated): the first that does not carry
/// a token (see [`crate::auth::token_of`]), else the first. A server must
/// answer with one the client offered (RFC 6455 4.2.2), and the chat speaks
/// the same frames whatever it is called.
pub fn choose_subprotocol(offered: &str) -> Option<&str> {
    let offered: Vec<&str> = offered.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let carries_token = |p: &&str| p.starts_with("bearer.") || p.starts_with("token.") || p.matches('.').count() == 2;
    offered.iter().find(|p| !carries_token(p)).or(offered.first()).copied()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn backticked(fields: &[&str]) -> String {
    fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(" and ")
}

/// A well-formed frame of `action`, for error messages.
fn example(action: Action) -> String {
    let mut object = Map::new();
    object.insert("action".into(), action.name().into());
    for field in action.fields() {
        object.insert((*field).into(), "...".into());
    }
    Value::Object(object).to_string()
}

/// Whether `code` has the shape of a room code: 8 lowercase hex digits.
pub fn is_room_code(code: &str) -> bool {
    code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A new room code: 8 lowercase hex digits.
pub fn new_room_code() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// `Anonymous-` and 6 random characters from A-Z0-9.
pub fn anonymous_name() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let suffix: String = (0..6).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect();
    format!("Anonymous-{suffix}")
}

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
struct Envelope<'a> {
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
enum More<'a> {
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
struct Member<'a> {
    connection_id: &'a str,
    name: &'a str,
}

/// `{"action":"message","from":..,"text":..}`: the λ# sample's message.
#[derive(Serialize)]
struct CompatMessage<'a> {
    action: &'static str,
    from: &'a str,
    text: &'a str,
}

/// `{"message":..,"type":..}`: liveChat's info and error frames.
#[derive(Serialize)]
struct CompatNotice<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `{"message":..,"from":..}`: liveChat's room message.
#[derive(Serialize)]
struct CompatRoomMessage<'a> {
    message: &'a str,
    from: &'a str,
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("a frame always serializes")
}

fn host_says(text: &str) -> String {
    to_json(&CompatMessage { action: "message", from: HOST, text })
}

/// A chat message, stored or not: what its frames are made of.
struct Said<'a> {
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

fn said<'a>(action: Action, sender: &'a Connection, text: &'a str, room: Option<&'a str>, at: i64) -> Said<'a> {
    Said { action, from: &sender.name, connection_id: &sender.connection_id, text, room, at, stored: None }
}

fn said_of(m: &ChatMessage) -> Said<'_> {
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

/// `<name> joined` or `<name> left`, from [`HOST`], with who is online after it.
fn presence(kind: &'static str, verb: &str, connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    let text = format!("{} {verb}", connection.name);
    let json = Envelope {
        kind,
        from: Some(HOST),
        text: Some(&text),
        connection_id: Some(&connection.connection_id),
        name: Some(&connection.name),
        timestamp: Some(at),
        count: Count::fields(count).0,
        counted_at: Count::fields(count).1,
        ..Envelope::default()
    };
    Payload { compat: host_says(&text), json: json.to_json() }
}

/// The notice to everyone else when `connection` connects.
pub fn joined(connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    presence("joined", "joined", connection, count, at)
}

/// The notice to everyone when `connection` disconnects.
pub fn left(connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    presence("left", "left", connection, count, at)
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

fn members(list: &[crate::ports::Member]) -> Vec<Member<'_>> {
    list.iter().map(|m| Member { connection_id: &m.connection_id, name: &m.name }).collect()
}

/// "Grace", "Grace and Ada", "Grace, Ada and Bob", "Grace, Ada and 40
/// others": up to three names of `total`, of which `named` are known.
fn some_of(named: &[crate::ports::Member], total: u64) -> String {
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

fn others(n: u64) -> &'static str {
    if n == 1 { "other" } else { "others" }
}

/// `<old> is now <new>`, from [`HOST`]; `connection` carries the new name.
pub fn renamed(old: &str, connection: &Connection, count: Option<Count>, at: i64) -> Payload {
    let text = format!("{old} is now {}", connection.name);
    let json = Envelope {
        kind: "renamed",
        action: Some(Action::Rename.name()),
        from: Some(HOST),
        text: Some(&text),
        connection_id: Some(&connection.connection_id),
        name: Some(&connection.name),
        timestamp: Some(at),
        count: Count::fields(count).0,
        counted_at: Count::fields(count).1,
        ..Envelope::default()
    };
    Payload { compat: host_says(&text), json: json.to_json() }
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

#[cfg(test)]
mod tests;
