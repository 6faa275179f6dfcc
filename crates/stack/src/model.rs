//! stack.yaml's sections as Rust types: the stack, its functions, table,
//! queue, website, chat and domain (the API's are in `api.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::*;

/// A validated stack: stack.yaml plus the stage it is deployed as.
#[derive(Debug, Clone)]
pub struct Stack {
    /// `name` from stack.yaml: the prefix of every physical name.
    pub name: String,
    /// `--stage`: the second part of every physical name.
    pub stage: String,
    pub region: Option<String>,
    /// The user's tags from stack.yaml, without the `wschat:` tags.
    pub tags: BTreeMap<String, String>,
    pub functions: BTreeMap<String, Function>,
    pub table: Table,
    pub queue: Queue,
    pub api: Api,
    pub website: Website,
    pub chat: Chat,
    /// `domain`: the chat on the user's own name (certificates, API Gateway
    /// custom domain, CloudFront alias, DNS).
    pub domain: Option<Domain>,
    /// `observability`: the alarms, their topic and the dashboard.
    pub observability: Observability,
    /// The stack.yaml file and the folder its relative paths start from.
    pub file: PathBuf,
    pub dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// Folder of the handler crate, relative to stack.yaml.
    #[serde(rename = "crate")]
    pub crate_dir: PathBuf,
    /// MB, 128..=10240.
    #[serde(default = "defaults::memory")]
    pub memory: i32,
    /// Seconds, 1..=900.
    #[serde(default = "defaults::timeout")]
    pub timeout: i32,
    #[serde(default)]
    pub architecture: Architecture,
    /// The queue (by its stack.yaml `queue.name`) this function consumes.
    #[serde(default)]
    pub queue: Option<String>,
    /// Records per invocation from the queue, 1..=10.
    #[serde(default = "defaults::batch")]
    pub batch: i32,
    /// Extra environment variables, beside the `WSCHAT_*` ones wschat sets.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Architecture {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// The name Lambda uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The TTL attribute (epoch seconds) the handlers write.
    #[serde(default = "defaults::ttl_attribute")]
    pub ttl_attribute: String,
}

impl Default for Table {
    fn default() -> Self {
        Table { ttl_attribute: defaults::ttl_attribute() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Logical name, referenced by a function's `queue`.
    #[serde(default = "defaults::queue_name")]
    pub name: String,
    /// Seconds, 0..=43200; at least the consuming function's timeout.
    #[serde(default = "defaults::visibility_timeout")]
    pub visibility_timeout: i32,
    /// Receives before a message moves to the dead-letter queue, 1..=1000.
    #[serde(default = "defaults::max_receive_count")]
    pub max_receive_count: i32,
    /// Seconds, 0..=900.
    #[serde(default)]
    pub delay_seconds: i32,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            name: defaults::queue_name(),
            visibility_timeout: defaults::visibility_timeout(),
            max_receive_count: defaults::max_receive_count(),
            delay_seconds: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Website {
    /// Folder with the page, relative to stack.yaml.
    #[serde(default = "defaults::website_source")]
    pub source: PathBuf,
    /// Serve through CloudFront; `false` keeps only the private bucket.
    #[serde(default = "defaults::yes")]
    pub cdn: bool,
    #[serde(default)]
    pub price_class: PriceClass,
}

impl Default for Website {
    fn default() -> Self {
        Website { source: defaults::website_source(), cdn: true, price_class: PriceClass::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum PriceClass {
    #[default]
    #[serde(rename = "PriceClass_100")]
    PriceClass100,
    #[serde(rename = "PriceClass_200")]
    PriceClass200,
    #[serde(rename = "PriceClass_All")]
    PriceClassAll,
}

impl PriceClass {
    /// The name CloudFront uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceClass::PriceClass100 => "PriceClass_100",
            PriceClass::PriceClass200 => "PriceClass_200",
            PriceClass::PriceClassAll => "PriceClass_All",
        }
    }
}

/// Settings of the chat itself, passed to the handlers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    /// Posts in flight at once when a message fans out, 1..=1000.
    #[serde(default = "defaults::fanout_concurrency")]
    pub fanout_concurrency: i32,
    /// Seconds before the welcome and join notices are delivered, 0..=900.
    /// API Gateway cannot deliver to a connection until `$connect` returned.
    #[serde(default = "defaults::welcome_delay")]
    pub welcome_delay: i32,
    /// Recipients one notify invocation takes on, 1..=10000; a notice for
    /// more is split into shards that go back through the queue.
    #[serde(default = "defaults::shard_size")]
    pub shard_size: i32,
    /// The queue mapping's `ScalingConfig.MaximumConcurrency`: how many
    /// notify invocations run at once, 2..=1000 (Lambda's range).
    #[serde(default = "defaults::max_concurrency")]
    pub max_concurrency: i32,
    /// Posts per second one broadcast may make across all invocations,
    /// 1..=100000. Every `@connections` call of the account shares API
    /// Gateway's account throttle (10,000 requests/s by default, 2,500 in
    /// some regions); unset, it is 90% of the region's default
    /// ([`Stack::post_rate`]).
    #[serde(default)]
    pub post_rate: Option<i32>,
    /// The messages table: what the chat keeps and sends on join and on
    /// request. `history: false` turns it off (`None`); `true` or no key, the
    /// defaults.
    #[serde(default = "defaults::history", deserialize_with = "history")]
    pub history: Option<History>,
    /// People online above which joins and leaves go out as a digest, not
    /// one by one, 0..=100000 (0: always digests). docs/presence.md.
    #[serde(default = "defaults::presence")]
    pub presence: i32,
    /// What one client may send (flood control, chat-core's `limits`).
    #[serde(default)]
    pub limits: Limits,
}

impl Default for Chat {
    fn default() -> Self {
        Chat {
            fanout_concurrency: defaults::fanout_concurrency(),
            welcome_delay: defaults::welcome_delay(),
            shard_size: defaults::shard_size(),
            max_concurrency: defaults::max_concurrency(),
            post_rate: None,
            history: defaults::history(),
            presence: defaults::presence(),
            limits: Limits::default(),
        }
    }
}

impl Chat {
    /// `chat.limits` with chat-core's defaults ([`chat_core::limits::DEFAULT_LIMITS`])
    /// where stack.yaml says nothing.
    pub fn limits(&self) -> chat_core::limits::Limits {
        let d = chat_core::limits::DEFAULT_LIMITS;
        let l = &self.limits;
        let rate = |r: &LimitRate, d: chat_core::limits::Rate| chat_core::limits::Rate {
            per_second: r.rate.unwrap_or(d.per_second),
            burst: r.burst.map_or(d.burst, |b| b.max(0) as u32),
        };
        chat_core::limits::Limits {
            messages: rate(&l.messages, d.messages),
            frames: rate(&l.frames, d.frames),
            close_after: l.close_after.map_or(d.close_after, |n| n.max(0) as u32),
            cooldown_seconds: l.cooldown.map_or(d.cooldown_seconds, |n| n.max(0) as u32),
        }
    }
}

/// `chat.limits`: what one client (a connection, or a signed-in person
/// across their connections) may send before its frames are refused, and
/// when it is closed. Unset values are chat-core's defaults
/// ([`Chat::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Chat messages (`send`, `sendmessage`, `post`, `broadcast`, `chat`, `sendMessage`).
    #[serde(default)]
    pub messages: LimitRate,
    /// Every other frame.
    #[serde(default)]
    pub frames: LimitRate,
    /// Frames refused, without a pause, before the client is closed, 1..=1000.
    #[serde(default)]
    pub close_after: Option<i32>,
    /// Seconds a closed client may not reconnect, 0..=86400.
    #[serde(default)]
    pub cooldown: Option<i32>,
}

/// One rate of `chat.limits`: frames a second (0.01..=1000), and at once (1..=10000).
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRate {
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub burst: Option<i32>,
}

/// `chat.history`: how many messages a conversation's history sends, and
/// how long the table keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// Messages sent on join and per `history` request, 1..=200.
    #[serde(default = "defaults::history_messages")]
    pub messages: i32,
    /// Days a message is kept (the table's TTL), 1..=365.
    #[serde(default = "defaults::history_days")]
    pub days: i32,
}

impl Default for History {
    fn default() -> Self {
        History { messages: defaults::history_messages(), days: defaults::history_days() }
    }
}

/// `history:` as a switch (`true`, `false`) or as its settings.
fn history<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<Option<History>, D::Error> {
    struct Switch;
    impl<'de> Visitor<'de> for Switch {
        type Value = Option<History>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("`false`, `true` or a map with `messages` and `days`")
        }
        fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
            Ok(on.then(History::default))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            History::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    deserializer.deserialize_any(Switch)
}

/// `domain`: the website at `name` (a CloudFront alias) and the WebSocket
/// endpoint at `websocket` (an API Gateway custom domain), with ACM
/// certificates validated by DNS, in the Route 53 hosted zone `zone` if given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub name: String,
    /// Defaults to `ws.{name}` (after [`load`], always set).
    #[serde(default)]
    pub websocket: Option<String>,
    /// A public hosted zone of this account that holds both names.
    #[serde(default)]
    pub zone: Option<String>,
}

impl Domain {
    /// The WebSocket endpoint's name.
    pub fn websocket_name(&self) -> &str {
        self.websocket.as_deref().unwrap_or(&self.name)
    }

    /// Both names, the website's first.
    pub fn names(&self) -> [&str; 2] {
        [self.name.as_str(), self.websocket_name()]
    }

    /// The names that are the first name of an ACM certificate, with their
    /// key: the website's, whose certificate is in CloudFront's region
    /// (us-east-1); outside that region the WebSocket's too, which API
    /// Gateway needs a certificate of the stack's region for. In us-east-1
    /// one certificate covers both, the website's name first.
    pub fn first_names(&self, region: &str) -> Vec<(&'static str, &str)> {
        let mut names = vec![("name", self.name.as_str())];
        if region != CLOUDFRONT_REGION {
            names.push(("websocket", self.websocket_name()));
        }
        names
    }
}

/// Where CloudFront's certificates live (ACM in us-east-1), whatever the
/// stack's region.
pub const CLOUDFRONT_REGION: &str = "us-east-1";

/// `observability`: CloudWatch alarms on what needs a person (with an SNS
/// topic they notify, and an e-mail subscription to it), and a dashboard.
/// `observability: false` turns both off; `true` or no key, the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    /// The alarms and their SNS topic.
    #[serde(default = "defaults::yes")]
    pub alarms: bool,
    /// The CloudWatch dashboard.
    #[serde(default = "defaults::yes")]
    pub dashboard: bool,
    /// Who the topic e-mails when an alarm changes state (AWS sends a
    /// confirmation message first).
    #[serde(default)]
    pub alarm_email: Option<String>,
    /// The fan-out time (a notice's event to its last post), in
    /// milliseconds, whose p99 over it raises the `fanout-p99` alarm, 100..=900000.
    #[serde(default = "defaults::fanout_p99_ms")]
    pub fanout_p99_ms: i32,
    /// The account's Lambda concurrency quota in the stack's region (1,000
    /// unless AWS raised it), 10..=1000000: the `concurrency` alarm rises at 80%.
    #[serde(default = "defaults::concurrency_quota")]
    pub concurrency_quota: i32,
}

impl Default for Observability {
    fn default() -> Self {
        Observability {
            alarms: true,
            dashboard: true,
            alarm_email: None,
            fanout_p99_ms: defaults::fanout_p99_ms(),
            concurrency_quota: defaults::concurrency_quota(),
        }
    }
}

impl Observability {
    fn off() -> Self {
        Observability { alarms: false, dashboard: false, ..Observability::default() }
    }
}

/// `observability:` as a switch (`true`, `false`) or as its settings.
pub(crate) fn observability<'de, D: de::Deserializer<'de>>(deserializer: D) -> Result<Observability, D::Error> {
    struct Switch;
    impl<'de> Visitor<'de> for Switch {
        type Value = Observability;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("`false`, `true` or a map of the settings")
        }
        fn visit_bool<E: de::Error>(self, on: bool) -> Result<Self::Value, E> {
            Ok(if on { Observability::default() } else { Observability::off() })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Observability::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    deserializer.deserialize_any(Switch)
}
