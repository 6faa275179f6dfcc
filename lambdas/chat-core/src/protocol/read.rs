//! Reading frames: the actions' requests, their fields and what makes them valid.

use super::*;

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

pub(super) fn parse(action: Action, object: &Map<String, Value>) -> Result<Request, String> {
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

pub(super) fn read_client_id(object: &Map<String, Value>) -> Result<Option<String>, String> {
    match object.get("clientId") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if history::is_client_id(id) => Ok(Some(id.clone())),
        Some(_) => Err("`clientId` must be 1 to 64 letters, digits, `_` or `-`".into()),
    }
}

/// A string field: `None` when missing, null or blank (the samples treat
/// those alike), an error when it is not a string.
pub(super) fn string_field<'a>(
    action: Action,
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{name}` on {} must be a string, not {}", action.name(), kind(other))),
    }
}

pub(super) fn check_text(field: &str, text: &str) -> Result<String, String> {
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
pub(super) fn invisible(name: &[char], i: usize, c: char) -> bool {
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

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn backticked(fields: &[&str]) -> String {
    fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(" and ")
}

/// A well-formed frame of `action`, for error messages.
pub(super) fn example(action: Action) -> String {
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
