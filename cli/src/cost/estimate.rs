//! The estimate itself: what a month of a usage makes the handlers do, call
//! by call, priced line by line. Pure: no AWS, no files, no clock.
//!
//! What each event costs follows the handlers in `lambdas/chat-core`
//! (`handler.rs`, `presence.rs`, `fanout.rs` and the DynamoDB adapters in
//! `aws/`); the sizes and durations it cannot read from the code are the
//! constants below, each saying where it comes from. docs/guide/cost.md walks
//! through the model.

use wschat_stack::{Architecture, History};

use super::prices::{Price, Prices};

/// AWS's month for monthly prices: 730 hours.
pub const HOURS_PER_MONTH: f64 = 730.0;
const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;
const DAYS_PER_MONTH: f64 = HOURS_PER_MONTH / 24.0;
/// Bytes in a GB as AWS bills data and storage (GiB).
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// API Gateway meters a message in 32 KB increments.
const MESSAGE_METER_BYTES: f64 = 32.0 * 1024.0;
/// API Gateway closes every connection after 2 hours; a person online
/// longer reconnects.
const CONNECTION_HOURS: f64 = 2.0;
/// The page's keepalive: a `ping` every 9 minutes, which API Gateway answers
/// itself (docs/guide/presence-at-scale.md): one message in, one out.
const PING_MINUTES: f64 = 9.0;
/// A connection's row in the connections table: the fan-out benchmark's scans
/// read about 10 read units per 1,000 rows, eventually consistent.
const ROW_BYTES: f64 = 80.0;
/// What DynamoDB adds to every item it stores.
const ITEM_OVERHEAD_BYTES: f64 = 100.0;
/// A stored message's attributes beside its text (conversation, id, sender,
/// connection, times, `clientId`), and its `clientId` record
/// (docs/guide/history.md: about 430 bytes for a short message and its record).
const MESSAGE_ITEM_BYTES: f64 = 200.0;
const DEDUPE_ITEM_BYTES: f64 = 130.0;
/// A message frame's JSON beside its text (type, from, id, conversation, timestamp).
const FRAME_BYTES: f64 = 150.0;
/// One person in a `list` reply.
const LIST_ENTRY_BYTES: f64 = 60.0;
/// A ledger part: [`chat_core::fanout::CHECKPOINT_EVERY`] connection ids of
/// about 20 bytes: 2 write units.
const PART_WRITE_UNITS: f64 = 2.0;
const PART_BYTES: f64 = 2_100.0;
/// SendMessageBatch sends ten at a time.
const SQS_BATCH: f64 = 10.0;
/// Lambda's SQS poller long-polls the queue while it is idle: five pollers,
/// a ReceiveMessage every 20 s each.
const IDLE_POLLS_PER_MINUTE: f64 = 5.0 * 3.0;
/// Milliseconds of a chat function invocation: a few DynamoDB calls of
/// single-digit milliseconds, an SQS send and a post.
pub const CHAT_MS: f64 = 30.0;
/// Milliseconds of an authorizer invocation: one JWT checked against cached keys.
pub const AUTHORIZER_MS: f64 = 10.0;
/// Milliseconds of the notify function per record (the ledger, the
/// recipients' read) and per post: the fan-out benchmark measures 0.3 to 1.0
/// ms of notify time per post of a broadcast, paced at `chat.post_rate`.
pub const NOTIFY_RECORD_MS: f64 = 30.0;
pub const NOTIFY_POST_MS: f64 = 1.0;
/// A measured message that reached this share of the people online went
/// to everyone (a few leave while it goes out).
const RECIPIENTS_EVERYONE: f64 = 0.95;
/// Log bytes per invocation: Lambda's START, END and REPORT lines, the
/// handler's line and its metrics line.
const LOG_BYTES_PER_INVOCATION: f64 = 1_000.0;

/// What of a stack its cost depends on, read from stack.yaml by
/// [`super::settings`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The function on the WebSocket routes.
    pub chat: Function,
    /// The queue's consumer, which fans notices out.
    pub notify: Function,
    /// With `auth: jwt`.
    pub authorizer: Option<Function>,
    pub history: Option<History>,
    pub presence: u32,
    pub shard_size: u32,
    pub post_rate: u32,
    /// Records per notify invocation (its `batch`).
    pub batch: u32,
    /// The page CloudFront serves; `None` with `website.cdn: false`.
    pub page: Option<Page>,
    pub log_retention_days: u32,
    /// Custom metrics: names times the `Function` values they are emitted with.
    pub metrics: u32,
    pub alarms: u32,
    pub dashboards: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Function {
    pub memory_mb: u32,
    pub architecture: Architecture,
}

/// The web page: its files (and `config.json`) and their bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Page {
    pub files: u32,
    pub bytes: u64,
}

/// What the chat does in a day: the rates the estimate works from. A usage
/// the user states becomes one through [`Usage::stated`]; each field is also
/// what a day of the handlers' metrics measures (named beside it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// People online at once, on average (`Online`).
    pub online: f64,
    /// Connections opened a day (`ConnectionsOpened`).
    pub connections_per_day: f64,
    /// Chat messages sent a day (`MessagesIn`).
    pub messages_per_day: f64,
    /// Who a message goes to (`Posts` over `MessagesIn`).
    pub recipients: Recipients,
    /// Page loads a day: one a person.
    pub page_loads_per_day: f64,
    /// A chat message's text, in bytes.
    pub message_bytes: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Recipients {
    /// Everyone online: the messages go to `everyone`.
    Everyone,
    /// Rooms of this many people: a message goes to its room's others.
    Room(f64),
}

/// A usage as people state it: how many are online at once, for how long a
/// day, how much each says, and to how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stated {
    pub online: f64,
    /// Hours a day each person is online: `online * 24 / hours_online` people
    /// take turns holding the `online` connections.
    pub hours_online: f64,
    pub messages_per_person_day: f64,
    /// `None`: every message goes to everyone online.
    pub room_size: Option<f64>,
    pub message_bytes: f64,
}

impl Stated {
    /// People a day.
    pub fn people(&self) -> f64 {
        self.online * 24.0 / self.hours_online
    }
}

/// What a stack's metrics measured, a day on average over `days`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub days: f64,
    /// `Online`'s hourly averages, averaged.
    pub online: f64,
    pub connections_per_day: f64,
    pub messages_per_day: f64,
    pub posts_per_day: f64,
}

impl Usage {
    /// The usage `measured` on a stack with `settings`. The metrics do not
    /// say who a message went to: the notify function's posts do, once the
    /// welcomes, joins and leaves that the same connections make (as the
    /// model counts them) are taken out. A message that reached nearly
    /// everyone online went to everyone.
    pub fn measured(s: &Settings, measured: &Measured, message_bytes: f64) -> Usage {
        let usage = Usage {
            online: measured.online,
            connections_per_day: measured.connections_per_day,
            messages_per_day: measured.messages_per_day,
            recipients: Recipients::Everyone,
            // A connection is a page load, at most.
            page_loads_per_day: measured.connections_per_day,
            message_bytes,
        };
        if measured.messages_per_day <= 0.0 || measured.online < 1.0 {
            return usage;
        }
        let others = month(s, &Usage { messages_per_day: 0.0, ..usage }).posts / DAYS_PER_MONTH;
        let each = ((measured.posts_per_day - others) / measured.messages_per_day).max(1.0);
        let recipients =
            if each >= RECIPIENTS_EVERYONE * measured.online { Recipients::Everyone } else { Recipients::Room(each) };
        Usage { recipients, ..usage }
    }

    pub fn stated(s: &Stated) -> Usage {
        let people = s.people();
        let connections_each = (s.hours_online / CONNECTION_HOURS).ceil().max(1.0);
        Usage {
            online: s.online,
            connections_per_day: people * connections_each,
            messages_per_day: people * s.messages_per_person_day,
            recipients: s.room_size.map_or(Recipients::Everyone, Recipients::Room),
            page_loads_per_day: people,
            message_bytes: s.message_bytes,
        }
    }

    /// Recipients of one chat message.
    pub fn recipients(&self) -> f64 {
        match self.recipients {
            Recipients::Everyone => self.online,
            Recipients::Room(size) => size,
        }
    }
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub service: &'static str,
    pub what: &'static str,
    /// Units a month.
    pub quantity: f64,
    pub unit: &'static str,
    pub price: Price,
    /// USD a month.
    pub cost: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub lines: Vec<Line>,
    pub assumptions: Vec<String>,
    /// Posts the notify function makes a month: what its `Posts` metric
    /// would count.
    pub posts: f64,
}

impl Estimate {
    /// USD a month.
    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.cost).sum()
    }

    /// The line of `service` that says `what`, if the estimate has it.
    pub fn line(&self, service: &str, what: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.service == service && l.what == what)
    }
}

/// Metered API Gateway messages for a frame of `bytes`.
fn metered(bytes: f64) -> f64 {
    (bytes / MESSAGE_METER_BYTES).ceil().max(1.0)
}

/// Read units of a read of `bytes` (4 KB each, half for an eventually
/// consistent read; never less than half a unit).
fn read_units(bytes: f64, consistent: bool) -> f64 {
    let units = (bytes / 4096.0).ceil().max(1.0);
    if consistent { units } else { units / 2.0 }
}

/// Which frames a post carries, for API Gateway's lines.
#[derive(Clone, Copy)]
enum Frames {
    Chat,
    Replies,
    Presence,
}

/// How a notice's recipients are read.
#[derive(Clone, Copy)]
enum Read {
    /// A parallel scan of the whole table, eventually consistent, and the count.
    Everyone,
    /// The room index, eventually consistent.
    Room(f64),
    /// One row, consistent.
    One,
}

/// Notices of one kind, a month.
struct Notices {
    count: f64,
    posts: f64,
    metered: f64,
    frames: Frames,
    read: Read,
}

/// A month's calls and bytes.
#[derive(Default)]
struct Month {
    chat_in: f64,
    chat_out: f64,
    replies: f64,
    presence: f64,
    keepalive: f64,
    connection_minutes: f64,
    chat_invocations: f64,
    authorizer_invocations: f64,
    notify_invocations: f64,
    notify_ms: f64,
    sqs: f64,
    history_writes: f64,
    writes: f64,
    reads: f64,
    stored_bytes: f64,
    ledger_bytes_per_day: f64,
    /// Posts the notify function makes (its `Posts` metric).
    posts: f64,
}

impl Month {
    fn frames(&mut self, frames: Frames, metered: f64) {
        match frames {
            Frames::Chat => self.chat_out += metered,
            Frames::Replies => self.replies += metered,
            Frames::Presence => self.presence += metered,
        }
    }

    /// Notices through the queue and the notify function (`fanout.rs`): each
    /// is an SQS message, split into segments of `shard_size` recipients
    /// (sent back ten to a SendMessageBatch), a ledger read and a done mark
    /// per segment, a ledger part per 100 posts, and its posts.
    fn notices(&mut self, s: &Settings, u: &Usage, n: Notices) {
        let rows = match n.read {
            Read::Everyone => u.online,
            Read::Room(size) => size,
            Read::One => 1.0,
        };
        let segments = (rows / f64::from(s.shard_size.max(1))).ceil().max(1.0);
        let more = segments - 1.0;
        let batch = f64::from(s.batch.max(1));
        self.sqs += n.count * (3.0 + (more / SQS_BATCH).ceil() + 2.0 * (more / batch).ceil());
        self.notify_invocations += n.count * (1.0 + (more / batch).ceil());
        self.notify_ms += n.count * (segments * NOTIFY_RECORD_MS + n.posts * NOTIFY_POST_MS);
        let recipients = match n.read {
            Read::Everyone => read_units(rows * ROW_BYTES, false) + 0.5,
            Read::Room(_) => read_units(rows * ROW_BYTES, false),
            Read::One => 1.0,
        };
        self.reads += n.count * (segments + recipients);
        let parts = n.posts / chat_core::fanout::CHECKPOINT_EVERY as f64;
        self.writes += n.count * (segments + parts * PART_WRITE_UNITS);
        self.ledger_bytes_per_day += n.count / DAYS_PER_MONTH * (parts * PART_BYTES + segments * ITEM_OVERHEAD_BYTES);
        self.posts += n.count * n.posts;
        self.frames(n.frames, n.count * n.metered);
    }
}

/// The cost of a month of `usage` on a stack with `settings`, at `prices`.
pub fn estimate(s: &Settings, u: &Usage, prices: &Prices) -> Estimate {
    let m = month(s, u);
    let lines = lines(s, u, &m, prices);
    Estimate { lines, assumptions: assumptions(s, u), posts: m.posts }
}

/// A month of `usage` on a stack with `settings`: the calls and bytes.
fn month(s: &Settings, u: &Usage) -> Month {
    let mut m = Month::default();
    let days = DAYS_PER_MONTH;
    let messages = u.messages_per_day * days;
    let connections = u.connections_per_day * days;
    let recipients = u.recipients();
    let history = s.history;
    let digests = u.online > f64::from(s.presence);

    // A chat message (`Call::message`, `say`): the sender's row, its limit,
    // the history's transaction of the message and its `clientId` record,
    // the ack, and a notice to its conversation.
    m.chat_in += messages * metered(u.message_bytes);
    m.chat_invocations += messages;
    m.reads += messages;
    m.writes += messages;
    if history.is_some() {
        let item = ((u.message_bytes + MESSAGE_ITEM_BYTES) / 1024.0).ceil() + (DEDUPE_ITEM_BYTES / 1024.0).ceil();
        m.history_writes += messages * 2.0 * item;
    }
    m.replies += messages;
    let read = match u.recipients {
        Recipients::Everyone => Read::Everyone,
        Recipients::Room(size) => Read::Room(size),
    };
    let frame = metered(u.message_bytes + FRAME_BYTES);
    m.notices(
        s,
        u,
        Notices { count: messages, posts: recipients, metered: recipients * frame, frames: Frames::Chat, read },
    );

    // A connection: `$connect` (the ban, the row, the count, the history
    // page), its welcome (and history) through the queue, the page's `list`,
    // and `$disconnect`. All of it from the page, which speaks JSON.
    let history_frame = history.map(|h| f64::from(h.messages) * (u.message_bytes + FRAME_BYTES));
    m.chat_invocations += connections * 3.0;
    m.authorizer_invocations += if s.authorizer.is_some() { connections } else { 0.0 };
    m.reads += connections * (0.5 + 0.5 + history_frame.map_or(0.0, |b| read_units(b, true)));
    m.writes += connections * 2.0;
    let welcome = Notices {
        count: connections,
        posts: 1.0 + f64::from(history.is_some()),
        metered: 1.0 + history_frame.map_or(0.0, metered),
        frames: Frames::Replies,
        read: Read::One,
    };
    m.notices(s, u, welcome);
    // `list`: the caller's row, a page of up to 200 people, the count; its limit.
    let listed = u.online.min(chat_core::presence::LIST_PAGE as f64);
    m.replies += connections * (1.0 + metered(listed * LIST_ENTRY_BYTES));
    m.reads += connections * (1.0 + 0.5 + read_units(listed * ROW_BYTES, false));
    m.writes += connections;
    // `$disconnect`: the row and the count out, the count read.
    m.reads += connections * 0.5;
    m.writes += connections * 2.0;

    // Joins and leaves: to everyone one by one up to `chat.presence` online,
    // else noted (a write each) in a window's digest, which goes to everyone
    // once for each window that had any (`presence.rs`), after a read of it.
    let online = u.online;
    let count = if digests {
        m.writes += connections * 2.0;
        let window = f64::from(chat_core::presence::window_seconds(online as u64, s.post_rate));
        let events_per_second = 2.0 * connections / SECONDS_PER_MONTH;
        let digests = SECONDS_PER_MONTH / window * (1.0 - (-events_per_second * window).exp());
        m.reads += digests;
        digests
    } else {
        connections * 2.0
    };
    let presence = Notices { count, posts: online, metered: online, frames: Frames::Presence, read: Read::Everyone };
    m.notices(s, u, presence);

    m.connection_minutes = online * HOURS_PER_MONTH * 60.0;
    m.keepalive = m.connection_minutes / PING_MINUTES * 2.0;
    m.sqs += IDLE_POLLS_PER_MINUTE * HOURS_PER_MONTH * 60.0;
    m.stored_bytes = online * (ROW_BYTES + ITEM_OVERHEAD_BYTES) + m.ledger_bytes_per_day;
    if let Some(h) = history {
        let kept = u.message_bytes + MESSAGE_ITEM_BYTES + DEDUPE_ITEM_BYTES + 2.0 * ITEM_OVERHEAD_BYTES;
        m.stored_bytes += u.messages_per_day * f64::from(h.days) * kept;
    }

    m
}

/// The lines of the bill, as they are added.
#[derive(Default)]
struct Bill {
    lines: Vec<Line>,
}

impl Bill {
    fn add(&mut self, service: &'static str, what: &'static str, quantity: f64, unit: &'static str, price: Price) {
        self.costed(service, what, quantity, unit, price, price.cost(quantity));
    }

    /// A line whose cost is a share of a tiered total.
    fn costed(
        &mut self,
        service: &'static str,
        what: &'static str,
        quantity: f64,
        unit: &'static str,
        price: Price,
        cost: f64,
    ) {
        self.lines.push(Line { service, what, quantity, unit, price, cost });
    }
}

/// The month's calls, priced.
fn lines(s: &Settings, u: &Usage, m: &Month, p: &Prices) -> Vec<Line> {
    let mut bill = Bill::default();

    // API Gateway's tiers apply to all messages at once: each line gets its share.
    let api = "API Gateway";
    let messages = [
        ("chat messages in", m.chat_in),
        ("chat messages delivered", m.chat_out),
        ("welcomes, history, lists, acks", m.replies),
        ("joins and leaves", m.presence),
        ("keepalive pings and pongs", m.keepalive),
    ];
    let all: f64 = messages.iter().map(|(_, n)| n).sum();
    let all_cost = p.api_messages.cost(all);
    for (what, n) in messages {
        let share = if all > 0.0 { n / all } else { 0.0 };
        bill.costed(api, what, n, "messages", p.api_messages, all_cost * share);
    }
    bill.add(api, "connection minutes", m.connection_minutes, "minutes", p.api_connection_minutes);

    let functions = [
        (Some(s.chat), "chat: requests", "chat: duration", m.chat_invocations, m.chat_invocations * CHAT_MS),
        (
            s.authorizer,
            "authorizer: requests",
            "authorizer: duration",
            m.authorizer_invocations,
            m.authorizer_invocations * AUTHORIZER_MS,
        ),
        (Some(s.notify), "notify: requests", "notify: duration", m.notify_invocations, m.notify_ms),
    ];
    for (function, requests, duration, invocations, ms) in functions {
        let Some(function) = function else { continue };
        let gb_seconds = ms / 1000.0 * f64::from(function.memory_mb) / 1024.0;
        let price = match function.architecture {
            Architecture::X86_64 => p.lambda_gb_seconds_x86,
            Architecture::Arm64 => p.lambda_gb_seconds_arm,
        };
        bill.add("Lambda", requests, invocations, "requests", p.lambda_requests);
        bill.add("Lambda", duration, gb_seconds, "GB-seconds", price);
    }

    bill.add("SQS", "requests: sends, receives, deletes, idle polls", m.sqs, "requests", p.sqs_requests);

    let ddb = "DynamoDB";
    if s.history.is_some() {
        bill.add(ddb, "writes: history", m.history_writes, "write units", p.dynamodb_writes);
    }
    bill.add(ddb, "writes: connections, presence, limits, ledger", m.writes, "write units", p.dynamodb_writes);
    bill.add(ddb, "reads", m.reads, "read units", p.dynamodb_reads);
    bill.add(ddb, "storage", m.stored_bytes / GB, "GB-months", p.dynamodb_storage);

    if let Some(page) = s.page {
        let loads = u.page_loads_per_day * DAYS_PER_MONTH;
        bill.add("CloudFront", "page requests", loads * f64::from(page.files), "requests", p.cloudfront_requests);
        bill.add("CloudFront", "page data out", loads * page.bytes as f64 / GB, "GB", p.cloudfront_data_out);
    }

    let invocations = m.chat_invocations + m.authorizer_invocations + m.notify_invocations;
    let logged = invocations * LOG_BYTES_PER_INVOCATION / GB;
    let kept = logged / DAYS_PER_MONTH * f64::from(s.log_retention_days);
    let cw = "CloudWatch";
    bill.add(cw, "logs ingested", logged, "GB", p.logs_ingestion);
    bill.add(cw, "logs stored", kept, "GB-months", p.logs_storage);
    bill.add(cw, "custom metrics", f64::from(s.metrics), "metrics", p.custom_metrics);
    bill.add(cw, "alarms", f64::from(s.alarms), "alarms", p.alarms);
    bill.add(cw, "dashboard", f64::from(s.dashboards), "dashboards", p.dashboards);
    bill.lines
}

/// What the estimate assumes, for people: the model's every guess, with the
/// numbers of this estimate.
fn assumptions(s: &Settings, u: &Usage) -> Vec<String> {
    let mut out = vec![
        format!(
            "a month is {HOURS_PER_MONTH} hours; list prices, on demand; the free tier is not subtracted \
             (API Gateway's first 12 months, Lambda's 1 million requests and 400,000 GB-seconds, \
             DynamoDB's 25 GB, CloudFront's 1 TB, CloudWatch's 10 metrics, 10 alarms and 3 dashboards)"
        ),
        format!(
            "{} people online at once on average, holding {} connections a day (API Gateway closes \
             each after {CONNECTION_HOURS} hours) and loading the page {} times a day",
            quantity(u.online),
            quantity(u.connections_per_day),
            quantity(u.page_loads_per_day)
        ),
        format!(
            "{} chat messages a day of {} bytes of text, each to {}; every client is the page \
             (JSON, a `clientId` on each message, so an ack and a history transaction), which sends \
             `list` once a connection and `ping` every {PING_MINUTES} minutes; typing notices are not counted",
            quantity(u.messages_per_day),
            u.message_bytes,
            match u.recipients {
                Recipients::Everyone => format!("everyone online ({})", quantity(u.online)),
                Recipients::Room(size) => format!("a room of {}", quantity(size)),
            }
        ),
        "API Gateway bills a message in 32 KB units, in and out, pings and pongs too; \
         $connect and $disconnect are not messages"
            .to_string(),
        format!(
            "Lambda: {CHAT_MS} ms an invocation of the chat function{}; notify {NOTIFY_RECORD_MS} ms a \
             record and {NOTIFY_POST_MS} ms a post (the fan-out benchmark measures 0.3 to 1.0); \
             one invocation per notice (at a busy time Lambda batches several); no cold starts",
            if s.authorizer.is_some() { format!(", {AUTHORIZER_MS} ms of the authorizer") } else { String::new() }
        ),
    ];
    if u.online > f64::from(s.presence) {
        let window = chat_core::presence::window_seconds(u.online as u64, s.post_rate);
        out.push(format!(
            "above `chat.presence` ({}) online, joins and leaves go out as a digest to everyone, \
             one per {window} s window that had any (window sized for 4% of `chat.post_rate`, {})",
            s.presence, s.post_rate
        ));
    } else {
        out.push(format!(
            "up to `chat.presence` ({}) online, each join and each leave goes to everyone online",
            s.presence
        ));
    }
    out.push(match s.history {
        Some(h) => format!(
            "history: every message is stored for {} days; a join reads the last {} messages",
            h.days, h.messages
        ),
        None => "history off: nothing is stored or read back".to_string(),
    });
    out.push(format!(
        "SQS: each notice is sent, received and deleted (no batching); Lambda's pollers \
         long-poll the idle queue {IDLE_POLLS_PER_MINUTE} times a minute"
    ));
    out.push(format!(
        "logs: {} bytes an invocation, kept {} days, stored uncompressed \
         (CloudWatch compresses them, so storage costs less)",
        group(LOG_BYTES_PER_INVOCATION),
        s.log_retention_days
    ));
    out.push(format!(
        "{} custom metrics, each billed the whole month (one that sees no data in an hour, such \
         as FloodRefused, is not billed for it), {} alarms and {} dashboard",
        s.metrics, s.alarms, s.dashboards
    ));
    if s.page.is_some() {
        out.push(
            "CloudFront: every page load fetches every file (no browser cache), viewers in North \
             America and Europe; S3 behind it costs under a cent"
                .to_string(),
        );
    }
    out
}

/// `1234567.8` as `1,234,568`.
pub fn group(n: f64) -> String {
    let digits = format!("{:.0}", n.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0.0 { format!("-{out}") } else { out }
}

/// A quantity for people: `12.3 million`, `45,678`, `0.43`.
pub fn quantity(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2} billion", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2} million", n / 1e6)
    } else if n >= 100.0 {
        group(n)
    } else if n >= 10.0 || n == n.trunc() {
        format!("{n:.0}")
    } else {
        format!("{n:.2}")
    }
}
