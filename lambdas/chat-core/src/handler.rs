//! The handlers: one WebSocket event, or one batch of queued notifications.
//!
//! A WebSocket event is handled in one pass: read the frame, look up the
//! caller, act. Replies to the caller (`list`, `createRoom`/`joinRoom`,
//! `history`, acks, errors, echo) and direct messages (`chat`) are posted at
//! once; everything that reaches several connections, and the welcome and
//! join notice of `$connect` (API Gateway cannot deliver to a connection
//! before `$connect` returned), goes through the queue as a [`Notice`].
//!
//! With a [`MessageStore`] (`chat.history`), every chat message is stored
//! before it is sent, de-duplicated on its `clientId`, and a JSON client gets
//! a conversation's latest messages after its welcome and after joining a room.
//!
//! The queue's side, fanning notices out, is in [`crate::fanout`].

use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{error, info, warn};

use crate::error::ChatError;
use crate::event::{WebSocketEvent, WebSocketResponse};
use crate::history::{self, Conversation};
use crate::limits::{self, Admission, Bucket, Limits};
use crate::metrics::{Metric, Metrics};
use crate::notice::{Notice, Target};
use crate::ports::{
    ChatMessage, Connection, ConnectionStore, Format, Ledger, MessageStore, Notifier, PortError, PortResult, Poster,
    Presence, Put, Window,
};
use crate::presence;
use crate::protocol::{self, Action, Frame, Payload, Request};

/// Settings from stack.yaml (through environment variables on Lambda).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Posts in flight at once during a fan-out.
    pub fanout_concurrency: usize,
    /// Seconds before the welcome and the join notice are delivered.
    pub welcome_delay: u32,
    /// Recipients one invocation takes on: a notice for more is sharded
    /// across the queue.
    pub shard_size: usize,
    /// Posts per second one notice may make, across every invocation that
    /// delivers a shard of it.
    pub post_rate: u32,
    /// The queue mapping's maximum concurrency: how many invocations can run
    /// shards at once.
    pub max_concurrency: u32,
    /// Records per invocation (the mapping's batch size).
    pub batch_size: u32,
    /// How long one post may take before it counts as failed.
    pub post_timeout: std::time::Duration,
    /// Messages a history frame carries at most (`chat.history.messages`).
    pub history_messages: usize,
    /// Days a stored message is kept (`chat.history.days`).
    pub history_days: u32,
    /// People online above which joins and leaves go out as digests
    /// (`chat.presence`, [`crate::presence`]).
    pub presence: u32,
    /// What one client may send (`chat.limits`, [`crate::limits`]).
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        use crate::config::*;
        Settings {
            fanout_concurrency: DEFAULT_FANOUT_CONCURRENCY,
            welcome_delay: DEFAULT_WELCOME_DELAY,
            shard_size: DEFAULT_SHARD_SIZE,
            post_rate: DEFAULT_POST_RATE,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            batch_size: DEFAULT_BATCH_SIZE,
            post_timeout: DEFAULT_POST_TIMEOUT,
            history_messages: DEFAULT_HISTORY_MESSAGES as usize,
            history_days: DEFAULT_HISTORY_DAYS,
            presence: DEFAULT_PRESENCE,
            limits: limits::DEFAULT_LIMITS,
        }
    }
}

/// The ports one invocation works through.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub store: &'a dyn ConnectionStore,
    pub notifier: &'a dyn Notifier,
    pub poster: &'a dyn Poster,
    /// Only the fan-out uses it ([`crate::ports::NoLedger`] elsewhere).
    pub ledger: &'a dyn Ledger,
    /// The chat's history; `None` when `chat.history` is off.
    pub messages: Option<&'a dyn MessageStore>,
    /// The presence table; `None` keeps no count and announces every join
    /// and leave one by one.
    pub presence: Option<&'a dyn Presence>,
    /// What the invocation counts ([`crate::metrics`]); `None` counts nothing.
    pub metrics: Option<&'a Metrics>,
}

impl<'a> Ports<'a> {
    /// The three ports every invocation needs, with no ledger, no history
    /// and no presence table; the others are set by name on top.
    pub fn new(store: &'a dyn ConnectionStore, notifier: &'a dyn Notifier, poster: &'a dyn Poster) -> Ports<'a> {
        Ports {
            store,
            notifier,
            poster,
            ledger: &crate::ports::NoLedger,
            messages: None,
            presence: None,
            metrics: None,
        }
    }

    /// Adds `n` to a count, when the invocation counts.
    pub fn count(&self, metric: Metric, n: u64) {
        if let Some(metrics) = self.metrics {
            metrics.count(metric, n);
        }
    }

    /// Records a value, when the invocation counts.
    pub fn record(&self, metric: Metric, value: f64) {
        if let Some(metrics) = self.metrics {
            metrics.record(metric, value);
        }
    }
}

/// How long a row outlives its connection's start: API Gateway closes every
/// connection after 2 hours, and the TTL removes rows whose `$disconnect`
/// never ran.
pub const CONNECTION_TTL_SECONDS: i64 = 3 * 60 * 60;

/// How many fresh codes `createRoom` tries before giving up on finding an unused one.
const ROOM_CODE_ATTEMPTS: usize = 8;

/// The error frame's text for a `rename` by a signed-in connection.
pub const SIGNED_IN_NAME: &str = "your name comes from your sign-in and cannot be changed here; \
     change it with your identity provider, then sign in again";

/// Seconds to hold a leave notice. A connection that goes within
/// `welcome_delay` of connecting still has its join notice waiting in the
/// queue: the leave notice waits until a second after that one is due, so that
/// nobody sees "left" before "joined". Every other leave goes at once.
pub fn leave_delay(connected_at_ms: i64, now_ms: i64, welcome_delay: u32) -> u32 {
    let joined_due = connected_at_ms + i64::from(welcome_delay) * 1000;
    if welcome_delay == 0 || joined_due <= now_ms {
        return 0;
    }
    let wait_seconds = (joined_due - now_ms + 999) / 1000 + 1;
    // SQS delays stop at 15 minutes.
    u32::try_from(wait_seconds).unwrap_or(900).min(900)
}

/// Handles one WebSocket event: `$connect`, `$disconnect`, an action or `$default`.
pub async fn handle_websocket(ports: Ports<'_>, settings: &Settings, event: &WebSocketEvent) -> WebSocketResponse {
    let context = &event.request_context;
    let now = match context.request_time_epoch {
        0 => now_millis(),
        at => at,
    };
    let call = Call { ports, settings, event, id: &context.connection_id, now };
    if context.route_key == "$connect" || context.event_type == "CONNECT" {
        call.connect().await
    } else if context.route_key == "$disconnect" || context.event_type == "DISCONNECT" {
        call.disconnect().await
    } else {
        call.message().await
    }
}

/// One WebSocket event being handled.
struct Call<'a> {
    ports: Ports<'a>,
    settings: &'a Settings,
    event: &'a WebSocketEvent,
    /// The caller's connection id.
    id: &'a str,
    /// Epoch milliseconds of the request.
    now: i64,
}

impl Call<'_> {
    async fn connect(&self) -> WebSocketResponse {
        let query = self.event.query_string_parameters.as_ref();
        let param = |key: &str| query.and_then(|q| q.get(key)).map(|v| v.trim()).filter(|v| !v.is_empty());
        let context = &self.event.request_context;
        // Signed in (API Gateway ran the authorizer): the name is the
        // token's, and `?username` is not consulted.
        let sub = context.authorizer_value("sub").map(str::to_string);
        if let Some(refused) = self.banned(sub.as_deref()).await {
            return refused;
        }
        let name = match (&sub, context.authorizer_value("name")) {
            (Some(_), Some(name)) => match protocol::check_name(name) {
                Ok(name) => name,
                Err(reason) => return self.refuse_connection(format!("the name of your sign-in: {reason}")),
            },
            (Some(sub), None) => protocol::check_name(sub).unwrap_or_else(|_| protocol::anonymous_name()),
            (None, _) => match param("username").map(protocol::check_name) {
                None => protocol::anonymous_name(),
                Some(Ok(name)) => name,
                Some(Err(reason)) => return self.refuse_connection(format!("username: {reason}")),
            },
        };
        let format = match param("format") {
            None => Format::Compat,
            Some(f) if f.eq_ignore_ascii_case("compat") => Format::Compat,
            Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
            Some(other) => {
                return self.refuse_connection(format!("format: `{other}` is not a format; use compat or json"));
            }
        };
        let connected_at = match self.event.request_context.connected_at {
            0 => self.now,
            at => at,
        };
        let row = Connection {
            connection_id: self.id.to_string(),
            name,
            sub,
            format,
            room: None,
            connected_at,
            expires_at: connected_at / 1000 + CONNECTION_TTL_SECONDS,
        };
        if let Err(e) = self.ports.store.put(&row).await {
            error!(connection = self.id, error = %e, "storing the new connection");
            return status(500, "internal error");
        }
        let (count, joined) = presence::arrived(self.ports, self.settings, &row, self.now).await;
        self.ports.count(Metric::ConnectionsOpened, 1);
        let history = match row.format {
            Format::Json => self.history_after(Conversation::Everyone).await,
            Format::Compat => None,
        };
        let welcome =
            Notice::new(Target::Connection(row.connection_id.clone()), None, protocol::welcome(&row, count, self.now))
                .then(history.into_iter().collect())
                .at(self.now);
        let notifier = self.ports.notifier;
        let joined = async {
            match joined {
                Some((body, delay)) => notifier.send(body, delay).await,
                None => Ok(()),
            }
        };
        let sent = futures::join!(notifier.send(welcome.to_body(), self.settings.welcome_delay), joined);
        if let (Err(e), _) | (_, Err(e)) = sent {
            // Without its welcome the connection would look dead to the
            // client: refuse it whole, so that the client retries.
            error!(connection = self.id, error = %e, "queueing the welcome and join notice");
            match self.ports.store.delete(self.id).await {
                Ok(Some(row)) => {
                    if let Some(presence) = self.ports.presence
                        && let Err(e) = presence.depart(&row).await
                    {
                        warn!(connection = self.id, error = %e, "counting the refused connection out; its row's expiry will");
                    }
                }
                Ok(None) => {}
                Err(e) => warn!(connection = self.id, error = %e, "removing the refused connection; its TTL will"),
            }
            return status(500, "internal error");
        }
        info!(connection = self.id, name = %row.name, sub = row.sub.as_deref(), format = ?row.format, "connected");
        let mut answer = status(200, "");
        // API Gateway completes the handshake with the subprotocol $connect
        // names, and with none otherwise, which browsers refuse when they
        // offered some (RFC 6455 4.1; localstack#6521).
        if let Some(chosen) = self.offered_protocols().and_then(protocol::choose_subprotocol) {
            answer.headers = Some([("Sec-WebSocket-Protocol".to_string(), chosen.to_string())].into());
        }
        answer
    }

    /// Admits the frame against the caller's limit (`chat.limits`): `None`
    /// when it may go on, else the answer to give, after the error frame (and
    /// at `close_after` strikes, the close). Without a presence table there
    /// are no limits; a failure to read the bucket lets the frame through.
    async fn over_limit(&self, caller: Option<&Connection>, action: Option<Action>) -> Option<WebSocketResponse> {
        let presence = self.ports.presence?;
        let limits = &self.settings.limits;
        let bucket = Bucket::of(action);
        let who = caller.map_or_else(|| format!("conn:{}", self.id), limits::bucket_key);
        let rate = bucket.rate(limits);
        let (strikes, retry_after_ms) = match presence.admit(&who, bucket, rate, self.now).await {
            Ok(Admission::Admitted) => return None,
            Ok(Admission::Refused { strikes, retry_after_ms }) => (strikes, retry_after_ms),
            Err(e) => {
                warn!(connection = self.id, error = %e, "reading the caller's limit; letting the frame through");
                return None;
            }
        };
        let limit = format!("chat.limits.{} allows {rate}", bucket.name());
        info!(connection = self.id, %who, limit = bucket.name(), strikes, "over the limit");
        self.ports.count(Metric::FloodRefused, 1);
        if strikes > limits.close_after {
            // Closed already, by the frame that reached `close_after`.
            return Some(status(200, ""));
        }
        if strikes < limits.close_after {
            let wait = (retry_after_ms as f64 / 1000.0).max(0.1);
            let reason = format!("slow down: {limit}; try again in {wait:.1} s");
            let frame = protocol::limited(action, &reason, bucket.name(), retry_after_ms);
            if let Err(e) = self.reply(caller, &frame).await {
                warn!(connection = self.id, error = %e, "telling the caller about its limit");
            }
            return Some(status(200, ""));
        }
        let cooldown = i64::from(limits.cooldown_seconds);
        let until = self.now + cooldown * 1000;
        let banned = limits::ban_key(caller.and_then(|c| c.sub.as_deref()), self.event.request_context.source_ip());
        if let Some(banned) = &banned
            && let Err(e) = presence.ban(banned, until).await
        {
            warn!(connection = self.id, who = %banned, error = %e, "banning a flooder; it may reconnect at once");
        }
        let reason = format!(
            "closed: {limit}, and {strikes} frames went past it without a pause; you may reconnect in {cooldown} s"
        );
        let frame = protocol::limited(action, &reason, bucket.name(), cooldown * 1000);
        if let Err(e) = self.reply(caller, &frame).await {
            warn!(connection = self.id, error = %e, "telling a flooder why it is closed");
        }
        match self.ports.poster.close(self.id).await {
            Ok(()) => {
                self.ports.count(Metric::FloodDisconnected, 1);
                warn!(connection = self.id, who = banned.as_deref(), strikes, "closed a flooder")
            }
            Err(e) => error!(connection = self.id, error = %e, "closing a flooder"),
        }
        Some(status(200, ""))
    }

    /// The `Sec-WebSocket-Protocol` header the client sent, if any.
    fn offered_protocols(&self) -> Option<&str> {
        let headers = self.event.headers.as_ref()?;
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("Sec-WebSocket-Protocol")).map(|(_, v)| v.as_str())
    }

    /// The answer to a `$connect` of someone closed for flooding, during its
    /// cool-down: 429 with the time left. A failure to read the ban lets it in.
    async fn banned(&self, sub: Option<&str>) -> Option<WebSocketResponse> {
        let presence = self.ports.presence?;
        let who = limits::ban_key(sub, self.event.request_context.source_ip())?;
        let until = match presence.banned(&who, self.now).await {
            Ok(until) => until?,
            Err(e) => {
                warn!(connection = self.id, %who, error = %e, "reading the bans; letting the connection in");
                return None;
            }
        };
        let seconds = (until - self.now + 999) / 1000;
        warn!(connection = self.id, %who, seconds, "refusing a flooder in its cool-down");
        Some(status(429, &format!("closed for flooding; you may reconnect in {seconds} s")))
    }

    fn refuse_connection(&self, reason: String) -> WebSocketResponse {
        warn!(connection = self.id, %reason, "refusing the connection");
        status(400, &reason)
    }

    async fn disconnect(&self) -> WebSocketResponse {
        match self.ports.store.delete(self.id).await {
            Ok(Some(row)) => {
                presence::departed(self.ports, self.settings, &row, self.now).await;
                self.ports.count(Metric::ConnectionsClosed, 1);
                info!(connection = self.id, name = %row.name, "disconnected");
                status(200, "")
            }
            Ok(None) => {
                info!(connection = self.id, "disconnected; no row was left to delete");
                status(200, "")
            }
            Err(e) => {
                error!(connection = self.id, error = %e, "deleting the connection");
                status(500, "internal error")
            }
        }
    }

    async fn message(&self) -> WebSocketResponse {
        let body = self.body();
        let text = String::from_utf8_lossy(&body);
        let frame = protocol::read_frame(&self.event.request_context.route_key, &text);
        let caller = match self.ports.store.get(self.id).await {
            Ok(caller) => caller,
            Err(e) => return self.failed(None, None, e).await,
        };
        let action = match &frame {
            Frame::Action(action, _) => Some(*action),
            Frame::Echo => None,
        };
        if let Some(refused) = self.over_limit(caller.as_ref(), action).await {
            return refused;
        }
        let (action, request) = match frame {
            Frame::Echo => {
                let format = caller.as_ref().map(|c| c.format).unwrap_or_default();
                // Compat echoes the exact bytes, even those that are not UTF-8.
                let data = match format {
                    Format::Compat => body,
                    Format::Json => protocol::echo(&text).json.into_bytes(),
                };
                return match self.post_to_caller(&data).await {
                    Ok(()) => status(200, ""),
                    Err(e) => self.failed(caller.as_ref(), None, e).await,
                };
            }
            Frame::Action(action, request) => (action, request),
        };
        let result = match (request, &caller) {
            (Err(reason), _) => Err(ChatError::Refused(reason)),
            (Ok(_), None) => Err(ChatError::Refused(format!(
                "this connection is not registered (its row is gone); reconnect to {}",
                action.name()
            ))),
            (Ok(request), Some(sender)) => {
                let client_id = if action.is_message() { protocol::client_id(&text) } else { None };
                self.act(sender, request, client_id).await
            }
        };
        match result {
            Ok(()) => status(200, ""),
            Err(ChatError::Refused(reason)) => {
                info!(connection = self.id, action = action.name(), %reason, "refused");
                match self.reply(caller.as_ref(), &protocol::error(Some(action), &reason)).await {
                    Ok(()) => status(200, ""),
                    Err(e) => self.failed(caller.as_ref(), Some(action), e).await,
                }
            }
            Err(ChatError::Port(e)) => self.failed(caller.as_ref(), Some(action), e).await,
        }
    }

    async fn act(&self, sender: &Connection, request: Request, client_id: Option<String>) -> Result<(), ChatError> {
        let store = self.ports.store;
        match request {
            Request::Broadcast { action, text } => {
                let new = NewMessage { action, conversation: Conversation::Everyone, text, client_id };
                if let Some(message) = self.say(sender, new).await? {
                    self.enqueue(Target::All, None, protocol::message(&message)).await?;
                }
            }
            Request::List { cursor } => {
                let reply = presence::list_reply(self.ports, sender, cursor.as_deref(), self.now).await?;
                self.post_to_caller(reply.as_bytes()).await?;
            }
            Request::Chat { connection, message } => {
                let no_connection = || ChatError::Refused(format!("no connection {connection}"));
                let target = store.get(&connection).await?.ok_or_else(no_connection)?;
                let conversation = Conversation::direct(&history::identity(sender), &history::identity(&target));
                let new = NewMessage { action: Action::Chat, conversation, text: message, client_id };
                let Some(message) = self.say(sender, new).await? else { return Ok(()) };
                let frame = protocol::message(&message);
                match self.ports.poster.post(&target.connection_id, frame.render(target.format).as_bytes()).await {
                    Ok(()) => {}
                    Err(PortError::Gone) => {
                        self.delete_stale(&target.connection_id).await;
                        return Err(no_connection());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Request::CreateRoom { name } => {
                let mut code = None;
                for _ in 0..ROOM_CODE_ATTEMPTS {
                    let candidate = protocol::new_room_code();
                    if store.in_room(&candidate).await?.is_empty() {
                        code = Some(candidate);
                        break;
                    }
                }
                let code = code.ok_or_else(|| ChatError::Refused("no free room code was found; try again".into()))?;
                self.enter_room(sender, Action::CreateRoom, name, code).await?;
            }
            Request::JoinRoom { name, room_code } => {
                let missing = || ChatError::Refused("No room with that code exists".into());
                if !protocol::is_room_code(&room_code) {
                    return Err(missing());
                }
                if store.in_room(&room_code).await?.is_empty() {
                    return Err(missing());
                }
                self.enter_room(sender, Action::JoinRoom, name, room_code).await?;
            }
            Request::RoomMessage { message } => {
                let room = sender
                    .room
                    .as_ref()
                    .ok_or_else(|| ChatError::Refused("You need to create or join a room".into()))?;
                let new = NewMessage {
                    action: Action::RoomMessage,
                    conversation: Conversation::Room(room.clone()),
                    text: message,
                    client_id,
                };
                if let Some(message) = self.say(sender, new).await? {
                    let frame = protocol::message(&message);
                    self.enqueue(Target::Room(room.clone()), Some(sender.connection_id.clone()), frame).await?;
                }
            }
            Request::Rename { name } => {
                if sender.sub.is_some() {
                    return Err(ChatError::Refused(SIGNED_IN_NAME.into()));
                }
                let renamed = Connection { name, ..sender.clone() };
                store.put(&renamed).await?;
                let count = presence::count(self.ports, self.now).await;
                self.enqueue(Target::All, None, protocol::renamed(&sender.name, &renamed, count, self.now)).await?;
            }
            Request::History { conversation, before, since } => {
                let messages =
                    self.ports.messages.ok_or_else(|| ChatError::Refused("history is off on this stack".into()))?;
                admit(sender, &conversation)?;
                let window = match (&before, &since) {
                    (Some(before), _) => Window::Before(before),
                    (_, Some(since)) => Window::Since(since),
                    _ => Window::Latest,
                };
                let name = conversation.to_string();
                let (page, more) =
                    messages.page(&name, window, self.settings.history_messages, self.now / 1000).await?;
                let older = !matches!(window, Window::Since(_));
                self.post_to_caller(protocol::history(&name, &page, more, older).as_bytes()).await?;
            }
            Request::Typing { conversation } => {
                admit(sender, &conversation)?;
                if !store.mark_typing(&sender.connection_id, self.now, history::TYPING_EVERY_MS).await? {
                    return Ok(());
                }
                let frame = protocol::typing(sender, &conversation.to_string());
                let exclude = Some(sender.connection_id.clone());
                match &conversation {
                    Conversation::Everyone => self.enqueue(Target::All, exclude, frame).await?,
                    Conversation::Room(code) => self.enqueue(Target::Room(code.clone()), exclude, frame).await?,
                    Conversation::Direct(..) => self.tell_pair(sender, &conversation, &frame).await?,
                }
            }
        }
        Ok(())
    }

    /// Posts a JSON-only frame to the other identity of a pair: its
    /// connection, or every connection signed in as it. Nobody else, and
    /// never the sender; a failed post is dropped, as the frame is.
    async fn tell_pair(&self, sender: &Connection, pair: &Conversation, frame: &Payload) -> PortResult<()> {
        let store = self.ports.store;
        let other = pair.other(sender).unwrap_or_default();
        let targets: Vec<Connection> = match history::identity_sub(other) {
            Some(sub) => store.all().await?.into_iter().filter(|c| c.sub.as_deref() == Some(sub)).collect(),
            None => store.get(other.strip_prefix("conn:").unwrap_or_default()).await?.into_iter().collect(),
        };
        let json = targets.iter().filter(|t| t.format == Format::Json && t.connection_id != sender.connection_id);
        for target in json {
            match self.ports.poster.post(&target.connection_id, frame.json.as_bytes()).await {
                Ok(()) => {}
                Err(PortError::Gone) => self.delete_stale(&target.connection_id).await,
                Err(e) => warn!(connection = %target.connection_id, error = %e, "posting to a pair; dropping it"),
            }
        }
        Ok(())
    }

    /// Stores a chat message (when the history is on) and acks it to the
    /// sender when it carries a `clientId`. `None` when the conversation
    /// already held that `clientId`: the same ack again, and nothing to send.
    async fn say(&self, sender: &Connection, new: NewMessage) -> Result<Option<ChatMessage>, ChatError> {
        let message = ChatMessage {
            conversation: new.conversation.to_string(),
            id: history::new_message_id(self.now),
            action: new.action.name().to_string(),
            from: sender.name.clone(),
            sub: sender.sub.clone(),
            connection_id: sender.connection_id.clone(),
            text: new.text,
            timestamp: self.now,
            client_id: new.client_id,
            expires_at: self.now / 1000 + i64::from(self.settings.history_days) * 86_400,
        };
        self.ports.count(Metric::MessagesIn, 1);
        let stored = match self.ports.messages {
            Some(messages) => messages.put(&message).await?,
            None => Put::Stored,
        };
        if self.ports.messages.is_some() && stored == Put::Stored {
            self.ports.count(Metric::HistoryWrites, 1);
        }
        let (id, timestamp) = match &stored {
            Put::Stored => (message.id.as_str(), message.timestamp),
            Put::Duplicate { id, timestamp } => (id.as_str(), *timestamp),
            Put::Conflict => {
                let client_id = message.client_id.as_deref().unwrap_or_default();
                return Err(ChatError::Refused(format!(
                    "clientId `{client_id}` was already used for another message in {}; a new message needs a new clientId",
                    message.conversation
                )));
            }
        };
        if let Some(client_id) = &message.client_id {
            let ack = protocol::ack(new.action, client_id, id, &message.conversation, timestamp);
            self.post_to_caller(ack.as_bytes()).await?;
        }
        Ok(matches!(stored, Put::Stored).then_some(message))
    }

    /// The history frame a JSON client gets on joining `conversation`, if the
    /// history is on. A failure to read it only leaves it out.
    async fn history_after(&self, conversation: Conversation) -> Option<Payload> {
        let messages = self.ports.messages?;
        let name = conversation.to_string();
        match messages.page(&name, Window::Latest, self.settings.history_messages, self.now / 1000).await {
            Ok((page, more)) => {
                Some(Payload { compat: String::new(), json: protocol::history(&name, &page, more, true) })
            }
            Err(e) => {
                warn!(connection = self.id, conversation = %name, error = %e, "reading the history; sending none");
                None
            }
        }
    }

    /// `createRoom` and `joinRoom`: the caller takes `name` and joins `room`.
    async fn enter_room(
        &self,
        sender: &Connection,
        action: Action,
        name: String,
        room: String,
    ) -> Result<(), ChatError> {
        // A signed-in caller keeps the name of its sign-in.
        let name = if sender.sub.is_some() { sender.name.clone() } else { name };
        let member = Connection { name, room: Some(room.clone()), ..sender.clone() };
        self.ports.store.put(&member).await?;
        self.reply(Some(&member), &protocol::room_joined(action, &member, &room, self.now)).await?;
        if member.format == Format::Json
            && let Some(history) = self.history_after(Conversation::Room(room)).await
        {
            self.post_to_caller(history.json.as_bytes()).await?;
        }
        Ok(())
    }

    async fn enqueue(&self, target: Target, exclude: Option<String>, payload: Payload) -> PortResult<()> {
        self.ports.notifier.send(Notice::new(target, exclude, payload).at(self.now).to_body(), 0).await
    }

    /// Posts a reply to the caller in its format (compat when it has no row).
    async fn reply(&self, caller: Option<&Connection>, payload: &Payload) -> PortResult<()> {
        let format = caller.map(|c| c.format).unwrap_or_default();
        self.post_to_caller(payload.render(format).as_bytes()).await
    }

    /// A caller that is gone by now left while we worked: drop its row, and
    /// there is no one to tell.
    async fn post_to_caller(&self, data: &[u8]) -> PortResult<()> {
        match self.ports.poster.post(self.id, data).await {
            Err(PortError::Gone) => {
                self.delete_stale(self.id).await;
                Ok(())
            }
            other => other,
        }
    }

    async fn delete_stale(&self, connection_id: &str) {
        delete_stale(self.ports, self.settings, connection_id, self.now).await
    }

    /// A port failed: log it, tell the caller if possible, and answer 500.
    async fn failed(&self, caller: Option<&Connection>, action: Option<Action>, e: PortError) -> WebSocketResponse {
        error!(connection = self.id, action = action.map(Action::name), error = %e, "handling a frame");
        let what = action.map_or("that".to_string(), |a| format!("`{}`", a.name()));
        let frame = protocol::error(action, &format!("the chat could not handle {what} just now; try again"));
        if let Err(e) = self.reply(caller, &frame).await {
            warn!(connection = self.id, error = %e, "telling the caller about the failure");
        }
        status(500, "internal error")
    }

    /// The frame's bytes: API Gateway base64-encodes binary frames.
    fn body(&self) -> Vec<u8> {
        let body = self.event.body.as_deref().unwrap_or_default();
        if self.event.is_base64_encoded {
            use base64::Engine;
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(body) {
                return bytes;
            }
        }
        body.as_bytes().to_vec()
    }
}

/// A chat message to store and send.
struct NewMessage {
    action: Action,
    conversation: Conversation,
    text: String,
    client_id: Option<String>,
}

/// Refuses a caller who is not a member of `conversation`.
fn admit(caller: &Connection, conversation: &Conversation) -> Result<(), ChatError> {
    if conversation.admits(caller) {
        return Ok(());
    }
    Err(ChatError::Refused(match conversation {
        Conversation::Room(code) => format!("you are not in room {code}"),
        _ => "you are not in this conversation".to_string(),
    }))
}

fn status(status_code: u16, body: &str) -> WebSocketResponse {
    WebSocketResponse { status_code, headers: None, body: (!body.is_empty()).then(|| body.to_string()) }
}

/// Epoch milliseconds now.
pub fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// Deletes the row of a connection API Gateway reported gone, and, when this
/// call is what deleted it (its `$disconnect` never ran, or has not yet),
/// counts it out and tells the others it left, when the chat keeps a count:
/// without one there is no digest, and a broadcast per gone connection would
/// cost the crowd squared.
pub(crate) async fn delete_stale(ports: Ports<'_>, settings: &Settings, connection_id: &str, now: i64) {
    match ports.store.delete(connection_id).await {
        Ok(Some(row)) => {
            info!(connection = connection_id, "deleted the row of a gone connection");
            if ports.presence.is_some() {
                presence::departed(ports, settings, &row, now).await;
            }
        }
        Ok(None) => {}
        Err(e) => warn!(connection = connection_id, error = %e, "deleting the row of a gone connection"),
    }
}
