//! Presence as it was before issue #23 (commit f84f0a9's `handler.rs` and
//! `protocol.rs`), frozen here so that the benchmark measures it side by side
//! with today's: `$connect` queues a welcome and a `joined` notice to
//! everyone, `$disconnect` a `left` notice to everyone, and `list` answers
//! with every connection, read by a consistent Scan of the whole table
//! (`ConnectionStore::all`), in one frame.
//!
//! Only what changed is frozen. Every other route (`send`, `sendmessage`) goes
//! to `chat_core::handle_websocket` without a presence table, whose code for
//! them is f84f0a9's; the notify side is `chat_core::handle_sqs`, whose
//! fan-out of these notices (`all`, `connection`) is f84f0a9's too.
//! Trimmed as the fan-out's `baseline.rs` is: no sign-in, no subprotocol.

use chat_core::event::{WebSocketEvent, WebSocketResponse};
use chat_core::history::Conversation;
use chat_core::notice::{Notice, Target};
use chat_core::ports::{Connection, Format, PortError, Window};
use chat_core::protocol::{self, Action, HOST, Payload};
use chat_core::{CONNECTION_TTL_SECONDS, Ports, Settings, leave_delay};
use serde::Serialize;

pub async fn handle_websocket(ports: Ports<'_>, settings: &Settings, event: &WebSocketEvent) -> WebSocketResponse {
    let context = &event.request_context;
    let now = context.request_time_epoch;
    match context.route_key.as_str() {
        "$connect" => connect(ports, settings, event, now).await,
        "$disconnect" => disconnect(ports, settings, &context.connection_id, now).await,
        "list" => list(ports, &context.connection_id).await,
        _ => chat_core::handle_websocket(ports, settings, event).await,
    }
}

async fn connect(ports: Ports<'_>, settings: &Settings, event: &WebSocketEvent, now: i64) -> WebSocketResponse {
    let query = event.query_string_parameters.as_ref();
    let param = |key: &str| query.and_then(|q| q.get(key)).map(|v| v.trim()).filter(|v| !v.is_empty());
    let name = match param("username").map(protocol::check_name) {
        None => protocol::anonymous_name(),
        Some(Ok(name)) => name,
        Some(Err(reason)) => return status(400, &reason),
    };
    let format = match param("format") {
        Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
        _ => Format::Compat,
    };
    let connected_at = match event.request_context.connected_at {
        0 => now,
        at => at,
    };
    let row = Connection {
        connection_id: event.request_context.connection_id.clone(),
        name,
        sub: None,
        format,
        room: None,
        connected_at,
        expires_at: connected_at / 1000 + CONNECTION_TTL_SECONDS,
    };
    if ports.store.put(&row).await.is_err() {
        return status(500, "internal error");
    }
    let id = || row.connection_id.clone();
    let history = match (row.format, ports.messages) {
        (Format::Json, Some(messages)) => {
            let name = Conversation::Everyone.to_string();
            // f84f0a9's port took no time; nothing in the benchmark's history expires.
            match messages.page(&name, Window::Latest, settings.history_messages, now / 1000).await {
                Ok((page, more)) => {
                    Some(Payload { compat: String::new(), json: protocol::history(&name, &page, more, true) })
                }
                Err(_) => None,
            }
        }
        _ => None,
    };
    let welcome =
        Notice::new(Target::Connection(id()), None, welcome(&row, now)).then(history.into_iter().collect()).at(now);
    let joined = Notice::new(Target::All, Some(id()), presence("joined", &row, now)).at(now);
    let delay = settings.welcome_delay;
    let notifier = ports.notifier;
    let sent = futures::join!(notifier.send(welcome.to_body(), delay), notifier.send(joined.to_body(), delay));
    if let (Err(_), _) | (_, Err(_)) = sent {
        let _ = ports.store.delete(&row.connection_id).await;
        return status(500, "internal error");
    }
    status(200, "")
}

async fn disconnect(ports: Ports<'_>, settings: &Settings, id: &str, now: i64) -> WebSocketResponse {
    match ports.store.delete(id).await {
        Ok(Some(row)) => {
            let left = Notice::new(Target::All, Some(row.connection_id.clone()), presence("left", &row, now)).at(now);
            let delay = leave_delay(row.connected_at, now, settings.welcome_delay);
            let _ = ports.notifier.send(left.to_body(), delay).await;
            status(200, "")
        }
        Ok(None) => status(200, ""),
        Err(_) => status(500, "internal error"),
    }
}

/// `list`: every connection, from a consistent Scan of the whole table, in
/// one frame; a frame API Gateway refuses (413 past 128 KB) is answered with
/// the error frame, as `Call::failed` did.
async fn list(ports: Ports<'_>, id: &str) -> WebSocketResponse {
    let caller = match ports.store.get(id).await {
        Ok(Some(caller)) => caller,
        _ => return status(500, "internal error"),
    };
    let everyone = match ports.store.all().await {
        Ok(everyone) => everyone,
        Err(_) => return status(500, "internal error"),
    };
    let reply = list_frame(&everyone);
    match ports.poster.post(id, reply.render(caller.format).as_bytes()).await {
        Ok(()) | Err(PortError::Gone) => status(200, ""),
        Err(_) => {
            let failed = protocol::error(Some(Action::List), "the chat could not handle `list` just now; try again");
            let _ = ports.poster.post(id, failed.render(caller.format).as_bytes()).await;
            status(500, "internal error")
        }
    }
}

fn status(status_code: u16, body: &str) -> WebSocketResponse {
    WebSocketResponse { status_code, headers: None, body: (!body.is_empty()).then(|| body.to_string()) }
}

/// f84f0a9's JSON envelope, with the fields these frames use, in its order.
#[derive(Default, Serialize)]
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
    connection_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: Option<Vec<Member<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Member<'a> {
    connection_id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct CompatMessage<'a> {
    action: &'static str,
    from: &'a str,
    text: &'a str,
}

fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("a frame always serializes")
}

fn welcome(connection: &Connection, at: i64) -> Payload {
    let text = format!("Welcome! - connected on {}", connection.connection_id);
    let envelope = Envelope {
        kind: "welcome",
        text: Some(&text),
        connection_id: Some(&connection.connection_id),
        name: Some(&connection.name),
        timestamp: Some(at),
        ..Envelope::default()
    };
    Payload { compat: text.clone(), json: json(&envelope) }
}

/// `<name> joined` or `<name> left`, from the host.
fn presence(kind: &'static str, connection: &Connection, at: i64) -> Payload {
    let text = format!("{} {kind}", connection.name);
    let envelope = Envelope {
        kind,
        from: Some(HOST),
        text: Some(&text),
        connection_id: Some(&connection.connection_id),
        name: Some(&connection.name),
        timestamp: Some(at),
        ..Envelope::default()
    };
    Payload { compat: json(&CompatMessage { action: "message", from: HOST, text: &text }), json: json(&envelope) }
}

fn list_frame(connections: &[Connection]) -> Payload {
    let ids: Vec<&str> = connections.iter().map(|c| c.connection_id.as_str()).collect();
    let members = connections.iter().map(|c| Member { connection_id: &c.connection_id, name: &c.name }).collect();
    let envelope =
        Envelope { kind: "list", action: Some(Action::List.name()), connections: Some(members), ..Envelope::default() };
    Payload { compat: format!("connections: {}", ids.join(" ")), json: json(&envelope) }
}
