//! The stack.yaml model: parsing, validation with file:line:column errors,
//! defaults, and the one place where every physical AWS name is derived.
//!
//! Parsing is two passes. serde (through serde_norway) turns the text into the
//! model and reports syntax errors, unknown keys and wrong types with their
//! position. Semantic checks (ranges, names AWS would reject, references
//! between sections, files that must exist) run on the model afterwards; they
//! find the position of the offending field in a [`SourceMap`] built from the
//! YAML event stream, because serde keeps no spans for values.

pub mod website;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

/// An error the user caused with the command line or with stack.yaml: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The tag keys every resource of a stack carries; `destroy` and discovery
/// trust only resources that carry both with this stack's values.
pub const TAG_STACK: &str = "wschat:stack";
pub const TAG_STAGE: &str = "wschat:stage";
/// On the CloudFront distribution: a hash of its configuration.
pub const TAG_CONFIG: &str = "wschat:config";
/// Every tag wschat itself puts on one resource, at most.
pub const OWN_TAGS: [&str; 3] = [TAG_STACK, TAG_STAGE, TAG_CONFIG];
/// Tags one resource may have (CloudFront, IAM, Lambda, DynamoDB, API Gateway, S3, SQS: 50).
pub const MAX_TAGS: usize = 50;

/// The DNS suffix of a region's partition, as the AWS SDKs' partition table
/// has it (`partitions.json`, embedded in each `aws-sdk-*` crate's
/// `endpoint_lib.rs`): `amazonaws.com` for `aws` and `aws-us-gov`,
/// `amazonaws.com.cn` for `aws-cn`, and the isolated partitions' own.
pub fn dns_suffix(region: &str) -> &'static str {
    const PARTITIONS: [(&str, &str); 6] = [
        ("cn-", "amazonaws.com.cn"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
        ("eusc-", "amazonaws.eu"),
    ];
    PARTITIONS.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("amazonaws.com", |(_, suffix)| suffix)
}

/// A character every service's tags allow.
fn tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " +-=._:/".contains(c)
}

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

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// API Gateway stage name; defaults to `--stage`.
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default = "defaults::route_selection")]
    pub route_selection: String,
    /// Route key -> function (and optional JSON schema). Defaults to every
    /// protocol route on the `chat` function.
    #[serde(default)]
    pub routes: BTreeMap<String, Route>,
    #[serde(default)]
    pub throttle: Throttle,
    #[serde(default)]
    pub auth: Auth,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            stage: None,
            route_selection: defaults::route_selection(),
            routes: BTreeMap::new(),
            throttle: Throttle::default(),
            auth: Auth::None,
        }
    }
}

impl Api {
    /// The API Gateway stage name (after [`load`], always set).
    pub fn stage_name(&self) -> &str {
        self.stage.as_deref().unwrap_or("dev")
    }

    /// The throttle API Gateway applies to route `key`: the route's own,
    /// else the stage's default (`api.throttle`), which each route has a
    /// bucket of ([`Throttle`]); `$connect` too when no route names it.
    pub fn throttle_of(&self, key: &str) -> Throttle {
        self.routes.get(key).and_then(|r| r.throttle).unwrap_or(self.throttle)
    }
}

/// One route: what answers it (a function, or API Gateway itself) and,
/// optionally, a JSON schema (draft 4) that API Gateway validates message
/// bodies against, and a throttle of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub target: Target,
    /// Path relative to stack.yaml.
    pub schema: Option<PathBuf>,
    /// The route's own throttling (the stage's `RouteSettings` for its key);
    /// `None`: the stage's default, `api.throttle`.
    pub throttle: Option<Throttle>,
}

/// What answers a route's frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The function (by its stack.yaml name), through its AWS_PROXY integration.
    Function(String),
    /// `{ mock: '<body>' }`: API Gateway answers every frame with this body
    /// itself (a MOCK integration, its integration response and the route's
    /// route response); no function runs.
    Mock(String),
}

impl Route {
    /// A route on `function`, without a schema.
    pub fn on(function: &str) -> Route {
        Route { target: Target::Function(function.to_string()), schema: None, throttle: None }
    }

    /// The same route with a throttle of its own.
    pub fn throttled(self, rate: f64, burst: i32) -> Route {
        Route { throttle: Some(Throttle { rate, burst }), ..self }
    }

    /// The function it invokes; `None` for a mock route.
    pub fn function(&self) -> Option<&str> {
        match &self.target {
            Target::Function(f) => Some(f),
            Target::Mock(_) => None,
        }
    }

    /// The body API Gateway answers with, for a mock route.
    pub fn mock(&self) -> Option<&str> {
        match &self.target {
            Target::Mock(body) => Some(body),
            Target::Function(_) => None,
        }
    }
}

/// The keepalive route of the default routes and the shipped stack.yaml:
/// `ping`, answered `{"type":"pong"}` by API Gateway itself (docs/presence.md).
pub const PING_ROUTE: &str = "ping";
pub const PONG: &str = r#"{"type":"pong"}"#;

/// The longest body a mock route may answer with: the largest frame API
/// Gateway takes from a client (32 KiB), and the length a template may have
/// ("Length between [0-32768]", terraform-provider-aws
/// `internal/service/apigatewayv2/integration.go`, `request_templates`).
pub const MAX_MOCK_BYTES: usize = 32 * 1024;

/// A token bucket of API Gateway's route throttling: `burst` tokens,
/// refilled at `rate` a second, one a request.
///
/// `api.throttle` is the stage's `DefaultRouteSettings`, and API Gateway
/// applies it to each route on its own: "Per-API, per-stage throttling limits
/// are applied at the API method level for a stage" (API Gateway developer
/// guide, "Throttle requests to your REST APIs", "How throttling limit
/// settings are applied"; the WebSocket guide's "Protect your WebSocket APIs",
/// "Route-level throttling", overrides them "for a specific stage or for
/// individual routes"). A route's own `throttle` is its entry in the stage's
/// `RouteSettings`, keyed by route key.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Steady-state requests per second.
    #[serde(default = "defaults::rate")]
    pub rate: f64,
    /// Burst size.
    #[serde(default = "defaults::burst")]
    pub burst: i32,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle { rate: defaults::rate(), burst: defaults::burst() }
    }
}

/// The route throttles the shipped stack.yaml has, and the default routes
/// get: sized for a chat of a few thousand people
/// (docs/guide/flood-control.md's "Sizing the route throttles" says why each
/// number). Every other route takes
/// `api.throttle`, 200 a second with a burst of 400.
///
/// - `$connect`: 500 a second, API Gateway's quota of new connections a
///   second per account and Region ("Amazon API Gateway quotas", WebSocket
///   APIs), with a burst as large: more cannot connect anyway.
/// - The chat messages to everyone (`send`, `sendmessage`, `post`,
///   `broadcast`) and `rename`, which chat-core counts as a message: 5 a
///   second, a burst of 100. Each becomes one post per
///   person online, and the account allows about 10,000 posts a second
///   (`chat.post_rate`: 9,000): at 2,000 people online the fan-out delivers
///   9,000 / 2,000 = 4.5 broadcasts a second. The burst is a lively moment,
///   and the flood that reaches the route before chat-core closes its sender.
/// - `typing`, to everyone too but counted as `chat.limits.frames` (10 a
///   second): 15 a second, above that, so that a
///   flooder's frames keep being refused until it is closed (API Gateway
///   counts a route, not a client: at or below the client's own rate, one
///   script would hold the whole route and never be refused). chat-core sends
///   one typing notice per person every 3 s, as the page sends them.
/// - Cheap replies to the caller alone: `list` and `history` 500 a second
///   (every newcomer asks for both, at `$connect`'s rate), burst 1,000;
///   `ping`, answered by API Gateway itself, 1,000, burst 2,000 (a page pings
///   every 9 minutes: 2,000 people make 4 a second).
///
/// Each burst is at least a client's burst plus `close_after`
/// (`chat.limits`), so a script's first blast is closed at once.
pub const SHIPPED_THROTTLES: [(&str, Throttle); 10] = [
    ("$connect", Throttle { rate: 500.0, burst: 500 }),
    ("send", Throttle { rate: 5.0, burst: 100 }),
    ("sendmessage", Throttle { rate: 5.0, burst: 100 }),
    ("post", Throttle { rate: 5.0, burst: 100 }),
    ("broadcast", Throttle { rate: 5.0, burst: 100 }),
    ("typing", Throttle { rate: 15.0, burst: 100 }),
    ("rename", Throttle { rate: 5.0, burst: 100 }),
    ("list", Throttle { rate: 500.0, burst: 1000 }),
    ("history", Throttle { rate: 500.0, burst: 1000 }),
    (PING_ROUTE, Throttle { rate: 1000.0, burst: 2000 }),
];

/// The function that runs the authorizer of `auth: jwt`. Unless stack.yaml
/// declares a function of this name, it is the shipped crate `lambdas/authorizer`.
pub const AUTHORIZER_FUNCTION: &str = "authorizer";

impl Function {
    /// The authorizer function stack.yaml does not declare: the shipped crate, with the defaults.
    pub fn authorizer() -> Function {
        Function {
            crate_dir: PathBuf::from("lambdas/authorizer"),
            memory: defaults::memory(),
            timeout: defaults::timeout(),
            architecture: Architecture::default(),
            queue: None,
            batch: defaults::batch(),
            environment: BTreeMap::new(),
        }
    }
}

/// Who may connect: anyone (`none`), callers with SigV4-signed requests
/// (`iam`), or clients with a token of an OpenID Connect issuer (`jwt`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    /// `AWS_IAM` authorization on `$connect`.
    Iam,
    /// A Lambda REQUEST authorizer on `$connect` that verifies a JWT.
    Jwt(Jwt),
}

/// `api.auth.jwt`: the issuer whose tokens sign people in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    /// The issuer's URL, exactly as its tokens carry it in `iss`.
    pub issuer: String,
    /// Accepted `aud` (or Cognito's `client_id`) values: one, or a list.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// The claim that becomes the chat name (default: `name`, then `email`, then `sub`).
    #[serde(default)]
    pub name_claim: Option<String>,
}

impl Jwt {
    /// The verifier's configuration.
    pub fn config(&self) -> chat_core::auth::JwtConfig {
        chat_core::auth::JwtConfig {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            name_claim: self.name_claim.clone(),
        }
    }
}

/// `none`, `iam`, or a map with one key, `jwt`. (serde's externally tagged
/// enums are YAML tags, `!jwt`, in serde_norway: not what people write.)
impl<'de> Deserialize<'de> for Auth {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Auth, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Auth;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`none`, `iam`, or `jwt:` with an issuer and an audience")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Auth, E> {
                match value {
                    "none" => Ok(Auth::None),
                    "iam" => Ok(Auth::Iam),
                    other => Err(E::unknown_variant(other, &["none", "iam", "jwt"])),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Auth, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(serde::de::Error::invalid_length(0, &self));
                };
                if key != "jwt" {
                    return Err(serde::de::Error::unknown_field(&key, &["jwt"]));
                }
                let jwt = map.next_value::<Jwt>()?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(serde::de::Error::unknown_field(&extra, &[]));
                }
                Ok(Auth::Jwt(jwt))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
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
}

mod defaults {
    use std::path::PathBuf;

    pub fn memory() -> i32 {
        256
    }
    pub fn timeout() -> i32 {
        10
    }
    pub fn batch() -> i32 {
        10
    }
    pub fn ttl_attribute() -> String {
        "expiresAt".into()
    }
    pub fn queue_name() -> String {
        "notifications".into()
    }
    pub fn visibility_timeout() -> i32 {
        60
    }
    pub fn max_receive_count() -> i32 {
        5
    }
    pub fn route_selection() -> String {
        "$request.body.action".into()
    }
    /// `api.throttle`: every route's own default ([`super::SHIPPED_THROTTLES`]).
    pub fn rate() -> f64 {
        200.0
    }
    pub fn burst() -> i32 {
        400
    }
    pub fn website_source() -> PathBuf {
        "wwwroot".into()
    }
    pub fn yes() -> bool {
        true
    }
    pub fn fanout_concurrency() -> i32 {
        32
    }
    pub fn welcome_delay() -> i32 {
        1
    }
    pub fn history() -> Option<super::History> {
        Some(super::History::default())
    }
    pub fn presence() -> i32 {
        100
    }
    pub fn history_messages() -> i32 {
        chat_core::config::DEFAULT_HISTORY_MESSAGES as i32
    }
    pub fn history_days() -> i32 {
        chat_core::config::DEFAULT_HISTORY_DAYS as i32
    }
    // The handlers' own defaults (chat-core reads the same values when a
    // variable is unset), so that stack.yaml and a bare handler agree.
    pub fn shard_size() -> i32 {
        chat_core::config::DEFAULT_SHARD_SIZE as i32
    }
    pub fn max_concurrency() -> i32 {
        chat_core::config::DEFAULT_MAX_CONCURRENCY as i32
    }
    /// The regions whose default API Gateway account throttle is 2,500
    /// requests per second, not 10,000 (API Gateway developer guide,
    /// "Amazon API Gateway quotas", account-level quotas, footnote).
    const LOW_THROTTLE: [&str; 13] = [
        "af-south-1",
        "eu-south-1",
        "ap-southeast-3",
        "me-central-1",
        "ap-south-2",
        "ap-southeast-4",
        "eu-south-2",
        "eu-central-2",
        "il-central-1",
        "ca-west-1",
        "ap-southeast-5",
        "ap-southeast-7",
        "mx-central-1",
    ];

    /// 90% of API Gateway's default account throttle in `region`.
    pub fn post_rate(region: &str) -> i32 {
        if LOW_THROTTLE.contains(&region) { 2_250 } else { chat_core::config::DEFAULT_POST_RATE as i32 }
    }
}

/// The file as written, before defaults that depend on other sections.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StackFile {
    name: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    functions: BTreeMap<String, Function>,
    #[serde(default)]
    table: Table,
    #[serde(default)]
    queue: Queue,
    #[serde(default)]
    api: Api,
    #[serde(default)]
    website: Website,
    #[serde(default)]
    chat: Chat,
    #[serde(default)]
    domain: Option<Domain>,
}

impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            #[serde(default)]
            function: Option<String>,
            #[serde(default)]
            schema: Option<PathBuf>,
            #[serde(default)]
            mock: Option<String>,
            #[serde(default)]
            throttle: Option<RouteThrottle>,
        }

        /// A route's throttle names both numbers: an entry of `RouteSettings`
        /// without one falls back to API Gateway's own limits, not to the
        /// stage's default (terraform-aws-modules/terraform-aws-apigateway-v2#78).
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct RouteThrottle {
            rate: f64,
            burst: i32,
        }

        struct RouteVisitor;
        impl<'de> Visitor<'de> for RouteVisitor {
            type Value = Route;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a function name, a map with `function` and optional `schema` and `throttle`, or `{ mock: '<body>' }`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Route, E> {
                Ok(Route::on(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Route, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                // `function` beside `mock` is refused with its position by
                // the semantic checks, which see it in the source map.
                let target = match (full.mock, full.function) {
                    (Some(body), _) => Target::Mock(body),
                    (None, Some(function)) => Target::Function(function),
                    (None, None) => return Err(de::Error::missing_field("function")),
                };
                let throttle = full.throttle.map(|t| Throttle { rate: t.rate, burst: t.burst });
                Ok(Route { target, schema: full.schema, throttle })
            }
        }
        deserializer.deserialize_any(RouteVisitor)
    }
}

/// One problem in stack.yaml, at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackError {
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field, e.g. `functions.chat.memory`; empty for the whole file.
    pub field: String,
    pub message: String,
}

/// Every problem found in one stack.yaml (exit code 2).
#[derive(Debug)]
pub struct StackErrors {
    pub file: PathBuf,
    pub errors: Vec<StackError>,
}

impl fmt::Display for StackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{}:{}: ", self.file.display(), e.line, e.column)?;
            if !e.field.is_empty() {
                write!(f, "{}: ", e.field)?;
            }
            f.write_str(&e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for StackErrors {}

/// Reads, parses and validates `file` for `stage`.
pub fn load(file: &Path, stage: &str) -> anyhow::Result<Stack> {
    check_stage(stage)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| UsageError(format!("reading {}: {e}; pass the stack file with -f/--file", file.display())))?;
    Ok(parse(&text, file, stage)?)
}

/// Parses and validates stack.yaml text. `file` names it in errors and gives
/// the folder that relative paths start from.
pub fn parse(text: &str, file: &Path, stage: &str) -> Result<Stack, StackErrors> {
    let fail = |errors| StackErrors { file: file.to_path_buf(), errors };
    let map = SourceMap::new(text);
    if map.is_empty() {
        return Err(fail(vec![StackError {
            line: 1,
            column: 1,
            field: String::new(),
            message: "the file is empty; a stack needs at least `name` and `functions`".into(),
        }]));
    }
    let raw: StackFile = serde_norway::from_str(text).map_err(|e| fail(vec![serde_error(&e)]))?;
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let mut stack = Stack {
        name: raw.name,
        stage: stage.to_string(),
        region: raw.region,
        tags: raw.tags,
        functions: raw.functions,
        table: raw.table,
        queue: raw.queue,
        api: raw.api,
        website: raw.website,
        chat: raw.chat,
        domain: raw.domain,
        file: file.to_path_buf(),
        dir,
    };
    if stack.api.routes.is_empty() && stack.functions.contains_key("chat") && map.find(&["api", "routes"]).is_none() {
        stack.api.routes = default_routes("chat");
    }
    if stack.api.stage.is_none() {
        stack.api.stage = Some(stage.to_string());
    }
    if matches!(stack.api.auth, Auth::Jwt(_)) {
        stack.functions.entry(AUTHORIZER_FUNCTION.to_string()).or_insert_with(Function::authorizer);
    }
    if let Some(domain) = &mut stack.domain
        && domain.websocket.is_none()
    {
        domain.websocket = Some(format!("ws.{}", domain.name));
    }
    let mut checks = Checks { map: &map, errors: Vec::new() };
    checks.stack(&stack);
    if checks.errors.is_empty() { Ok(stack) } else { Err(fail(checks.errors)) }
}

/// Every protocol route on one function, and the keepalive `ping` answered
/// by API Gateway itself: the default when stack.yaml has no `api.routes`.
pub fn default_routes(function: &str) -> BTreeMap<String, Route> {
    let mut routes: BTreeMap<String, Route> = chat_core::SPECIAL_ROUTES
        .iter()
        .chain(chat_core::ACTIONS)
        .map(|key| (key.to_string(), Route::on(function)))
        .collect();
    routes
        .insert(PING_ROUTE.to_string(), Route { target: Target::Mock(PONG.to_string()), schema: None, throttle: None });
    for (key, throttle) in SHIPPED_THROTTLES {
        if let Some(route) = routes.get_mut(key) {
            route.throttle = Some(throttle);
        }
    }
    routes
}

/// Turns a serde error into a positioned one. serde_norway puts the dotted
/// path before the message and " at line L column C" after it; we keep the
/// path and the message and move the position to the front.
fn serde_error(e: &serde_norway::Error) -> StackError {
    let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text).to_string();
    let (field, message) = match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (path.to_string(), rest.to_string()),
        _ => (String::new(), text.clone()),
    };
    let message = match message.strip_prefix("missing field ") {
        Some(name) => format!("missing required field {name}"),
        None => message,
    };
    StackError { line, column, field, message }
}

/// Semantic checks; each failure is recorded with its position, so the user
/// sees every problem at once.
struct Checks<'a> {
    map: &'a SourceMap,
    errors: Vec<StackError>,
}

impl Checks<'_> {
    fn error(&mut self, path: &[&str], message: impl Into<String>) {
        let (line, column) = self.map.position(path);
        self.errors.push(StackError { line, column, field: path.join("."), message: message.into() });
    }

    fn range(&mut self, path: &[&str], value: i64, min: i64, max: i64, what: &str) {
        if value < min || value > max {
            self.error(path, format!("{value} is out of range; {what} allows {min}..={max}"));
        }
    }

    fn stack(&mut self, s: &Stack) {
        if let Err(why) = check_stack_name(&s.name) {
            self.error(&["name"], why);
        }
        if let Some(region) = &s.region
            && !is_region(region)
        {
            self.error(&["region"], format!("`{region}` is not an AWS region name such as `us-east-1`"));
        }
        self.tags(&s.tags);
        if s.functions.is_empty() {
            self.error(&["functions"], "at least one function is needed (the shipped stack has `chat` and `notify`)");
        }
        for (name, f) in &s.functions {
            self.function(s, name, f);
        }
        self.table(&s.table);
        self.queue(s);
        self.api(s);
        self.website(s);
        if let Some(domain) = &s.domain {
            self.domain(s, domain);
        }
        let c = &s.chat;
        self.range(&["chat", "fanout_concurrency"], c.fanout_concurrency.into(), 1, 1000, "fan-out concurrency");
        self.range(&["chat", "welcome_delay"], c.welcome_delay.into(), 0, 900, "SQS message delay (seconds)");
        self.range(&["chat", "shard_size"], c.shard_size.into(), 1, 10_000, "a shard (recipients)");
        self.range(
            &["chat", "max_concurrency"],
            c.max_concurrency.into(),
            2,
            1000,
            "Lambda's ScalingConfig.MaximumConcurrency",
        );
        if let Some(rate) = c.post_rate {
            self.range(&["chat", "post_rate"], rate.into(), 1, 100_000, "the post rate (posts per second)");
        }
        if let Some(h) = &c.history {
            self.range(&["chat", "history", "messages"], h.messages.into(), 1, 200, "the history sent per request");
            self.range(&["chat", "history", "days"], h.days.into(), 1, 365, "the days messages are kept");
        }
        self.range(
            &["chat", "presence"],
            c.presence.into(),
            0,
            100_000,
            "the people online above which joins and leaves go out as digests",
        );
        self.limits(&c.limits);
    }

    /// `chat.limits`, in the ranges chat-core reads its variables in
    /// (`chat_core::config`). Only what stack.yaml sets can be wrong.
    fn limits(&mut self, l: &Limits) {
        for (name, rate) in [("messages", l.messages), ("frames", l.frames)] {
            if let Some(per_second) = rate.rate
                && !(0.01..=1000.0).contains(&per_second)
            {
                self.error(
                    &["chat", "limits", name, "rate"],
                    format!("{per_second} is out of range; a client's {name} a second are 0.01..=1000"),
                );
            }
            if let Some(burst) = rate.burst {
                let what = format!("a client's burst of {name}");
                self.range(&["chat", "limits", name, "burst"], burst.into(), 1, 10_000, &what);
            }
        }
        if let Some(n) = l.close_after {
            let what = "the count of frames refused without a pause that closes a client";
            self.range(&["chat", "limits", "close_after"], n.into(), 1, 1000, what);
        }
        if let Some(n) = l.cooldown {
            self.range(&["chat", "limits", "cooldown"], n.into(), 0, 86_400, "the cool-down (seconds)");
        }
    }

    /// Tags go on every resource, so they must pass the strictest of the
    /// services' rules: 1..=128 characters for a key and at most 256 for a
    /// value (every service); only letters, digits, spaces and `+ - = . _ : /`
    /// (DynamoDB's set, the narrowest: it has no `@`, which the others allow;
    /// DynamoDB Developer Guide, "Tagging restrictions"); no `aws:` prefix in
    /// any case; keys unique regardless of case (IAM); and at most 50 on one
    /// resource, counting wschat's own (CloudFront's limit per distribution,
    /// which carries the most of wschat's).
    fn tags(&mut self, tags: &BTreeMap<String, String>) {
        let max = MAX_TAGS - OWN_TAGS.len();
        if tags.len() > max {
            self.error(
                &["tags"],
                format!(
                    "{} tags; at most {max} are allowed: AWS allows {MAX_TAGS} tags on a resource (CloudFront on a distribution), and wschat adds up to {} of its own ({})",
                    tags.len(),
                    OWN_TAGS.len(),
                    OWN_TAGS.join(", ")
                ),
            );
        }
        let allowed = "ASCII letters, digits, spaces and `+ - = . _ : /`";
        let mut seen: BTreeMap<String, &String> = BTreeMap::new();
        for (key, value) in tags {
            let path = ["tags", key.as_str()];
            if key.is_empty() || key.chars().count() > 128 {
                self.error(&path, "tag keys are 1..=128 characters");
            } else if key.to_ascii_lowercase().starts_with("aws:") || key.starts_with("wschat:") {
                self.error(&path, "tag keys starting with `aws:` (in any case) or `wschat:` are reserved");
            } else if let Some(bad) = key.chars().find(|c| !tag_char(*c)) {
                self.error(&path, format!("tag key has `{bad}`; AWS allows {allowed}"));
            }
            if value.chars().count() > 256 {
                self.error(&path, "tag values are at most 256 characters");
            } else if let Some(bad) = value.chars().find(|c| !tag_char(*c)) {
                self.error(&path, format!("tag value has `{bad}`; AWS allows {allowed}"));
            } else if value.to_ascii_lowercase().starts_with("aws:") {
                self.error(&path, "tag values starting with `aws:` are reserved by AWS");
            }
            if let Some(other) = seen.insert(key.to_lowercase(), key) {
                self.error(&path, format!("tag keys must differ in more than case (IAM): `{other}` is there too"));
            }
        }
    }

    fn function(&mut self, s: &Stack, name: &str, f: &Function) {
        if !is_logical_name(name, 20) {
            self.error(
                &["functions", name],
                "function names are 1..=20 characters of a-z, 0-9 and `-`, starting with a letter",
            );
        }
        if !s.dir.join(&f.crate_dir).join("Cargo.toml").is_file() {
            self.error(
                &["functions", name, "crate"],
                format!(
                    "no Cargo.toml in `{}`; `crate` is the handler crate's folder, relative to stack.yaml",
                    f.crate_dir.display()
                ),
            );
        }
        self.range(&["functions", name, "memory"], f.memory.into(), 128, 10240, "Lambda memory (MB)");
        self.range(&["functions", name, "timeout"], f.timeout.into(), 1, 900, "Lambda timeout (seconds)");
        self.range(&["functions", name, "batch"], f.batch.into(), 1, 10, "an SQS batch");
        if let Some(queue) = &f.queue
            && *queue != s.queue.name
        {
            self.error(
                &["functions", name, "queue"],
                format!("no queue `{queue}`; the stack's queue is `{}` (queue.name)", s.queue.name),
            );
        }
        for key in f.environment.keys() {
            let path = ["functions", name, "environment", key.as_str()];
            let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.error(&path, "environment names are letters, digits and `_`, starting with a letter");
            } else if key.starts_with("AWS_") || key.starts_with("WSCHAT_") || key.starts_with("LAMBDA_") {
                self.error(&path, "names starting with AWS_, LAMBDA_ or WSCHAT_ are reserved");
            }
        }
    }

    fn table(&mut self, t: &Table) {
        let ok = !t.ttl_attribute.is_empty() && t.ttl_attribute.len() <= 255;
        if !ok {
            self.error(&["table", "ttl_attribute"], "attribute names are 1..=255 bytes");
        }
    }

    fn queue(&mut self, s: &Stack) {
        let q = &s.queue;
        if !is_logical_name(&q.name, 30) {
            self.error(
                &["queue", "name"],
                "queue names are 1..=30 characters of a-z, 0-9 and `-`, starting with a letter",
            );
        }
        self.range(
            &["queue", "visibility_timeout"],
            q.visibility_timeout.into(),
            0,
            43200,
            "SQS visibility timeout (seconds)",
        );
        self.range(&["queue", "max_receive_count"], q.max_receive_count.into(), 1, 1000, "an SQS redrive policy");
        self.range(&["queue", "delay_seconds"], q.delay_seconds.into(), 0, 900, "SQS delay (seconds)");
        let consumers: Vec<(&String, &Function)> =
            s.functions.iter().filter(|(_, f)| f.queue.as_deref() == Some(q.name.as_str())).collect();
        if consumers.is_empty() && !s.functions.is_empty() {
            self.error(
                &["queue", "name"],
                format!("no function consumes queue `{}`; add `queue: {}` to the notify function", q.name, q.name),
            );
        }
        for (name, f) in consumers {
            if q.visibility_timeout < f.timeout {
                self.error(
                    &["queue", "visibility_timeout"],
                    format!(
                        "{} s is less than the timeout of its consumer `{name}` ({} s); Lambda requires at least that",
                        q.visibility_timeout, f.timeout
                    ),
                );
            }
        }
    }

    fn api(&mut self, s: &Stack) {
        let api = &s.api;
        if let Some(stage) = &api.stage {
            let valid = !stage.is_empty()
                && stage.len() <= 128
                && stage.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                self.error(
                    &["api", "stage"],
                    "API Gateway stage names are 1..=128 characters of A-Z, a-z, 0-9, `-` and `_`",
                );
            }
        }
        let field = api.route_selection.strip_prefix("$request.body.");
        if !field.is_some_and(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        {
            self.error(&["api", "route_selection"], "expected `$request.body.<field>`, e.g. `$request.body.action`");
        }
        if api.routes.is_empty() {
            self.error(&["api", "routes"], "no routes; map route keys such as `$connect` and `send` to functions");
        }
        for (key, route) in &api.routes {
            self.route(s, key, route);
        }
        if let Auth::Jwt(jwt) = &api.auth {
            self.jwt(jwt);
            self.authorizer(s);
        }
        self.throttle(&["api", "throttle"], &api.throttle);
    }

    /// `api.throttle` or a route's `throttle`: what a stage's route settings take.
    fn throttle(&mut self, path: &[&str], throttle: &Throttle) {
        let field = |name: &'static str| [path, &[name]].concat();
        self.range(&field("burst"), throttle.burst.into(), 0, 5000, "API Gateway burst");
        if !(throttle.rate > 0.0 && throttle.rate <= 10000.0) {
            self.error(
                &field("rate"),
                format!("{} is out of range; API Gateway allows 0 < rate <= 10000", throttle.rate),
            );
        }
    }

    fn jwt(&mut self, jwt: &Jwt) {
        let here = ["api", "auth", "jwt"];
        let host = |scheme: &str| {
            jwt.issuer.strip_prefix(scheme).map(|rest| rest.split(['/', '?', '#']).next().unwrap_or("").to_string())
        };
        // Plain http only for an issuer on this machine (a test's, or dev's
        // local one), as the authorizer's key fetcher allows it.
        let loopback = |h: &String| {
            let name =
                h.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(h.as_str(), |(n, _)| n);
            matches!(name, "127.0.0.1" | "localhost" | "[::1]")
        };
        let host = host("https://").or_else(|| host("http://").filter(loopback));
        if !host.is_some_and(|h| !h.is_empty() && !h.contains(char::is_whitespace)) {
            self.error(
                &[&here[..], &["issuer"]].concat(),
                format!(
                    "`{}` is not an https URL; tokens are checked against the keys published at \
                     <issuer>/.well-known/openid-configuration, which must be fetched over HTTPS",
                    jwt.issuer
                ),
            );
        }
        if jwt.audience.is_empty() || jwt.audience.iter().any(|a| a.trim().is_empty()) {
            self.error(
                &[&here[..], &["audience"]].concat(),
                "name at least one accepted audience (an app client id), and no empty one",
            );
        }
        if jwt.name_claim.as_deref().is_some_and(|c| c.trim().is_empty()) {
            self.error(
                &[&here[..], &["name_claim"]].concat(),
                "an empty claim name; leave it out for name, email, sub",
            );
        }
    }

    /// The authorizer function (declared, or the shipped one) only authorizes.
    fn authorizer(&mut self, s: &Stack) {
        let name = AUTHORIZER_FUNCTION;
        let Some(f) = s.functions.get(name) else { return };
        if f.queue.is_some() {
            self.error(
                &["functions", name, "queue"],
                "the `authorizer` function runs the sign-in check of `api.auth.jwt` and consumes no queue",
            );
        }
        for (key, route) in &s.api.routes {
            if route.function() == Some(name) {
                self.error(
                    &["api", "routes", key],
                    "the `authorizer` function runs the sign-in check of `api.auth.jwt`; route to another function",
                );
            }
        }
    }

    fn route(&mut self, s: &Stack, key: &str, route: &Route) {
        let here = ["api", "routes", key];
        let key_ok = if key.starts_with('$') {
            chat_core::SPECIAL_ROUTES.contains(&key)
        } else {
            !key.is_empty() && key.len() <= 128 && !key.chars().any(char::is_control)
        };
        if !key_ok {
            self.error(
                &here,
                "route keys are `$connect`, `$disconnect`, `$default` or an action name (1..=128 characters)",
            );
        }
        if let Some(throttle) = &route.throttle {
            let path = ["api", "routes", key, "throttle"];
            if key == "$disconnect" {
                self.error(
                    &path,
                    "`$disconnect` runs once a connection is gone; nothing can refuse it, so it takes no throttle",
                );
            }
            self.throttle(&path, throttle);
        }
        if let Some(body) = route.mock() {
            self.mock(key, body);
            return;
        }
        if let Some(function) = route.function()
            && !s.functions.contains_key(function)
        {
            let known: Vec<&str> = s.functions.keys().map(String::as_str).collect();
            let path = if self.map.find(&["api", "routes", key, "function"]).is_some() {
                vec!["api", "routes", key, "function"]
            } else {
                here.to_vec()
            };
            self.error(&path, format!("no function `{function}`; defined functions: {}", known.join(", ")));
        }
        if let Some(schema) = &route.schema {
            let path = ["api", "routes", key, "schema"];
            if key == "$connect" || key == "$disconnect" {
                self.error(
                    &path,
                    format!("`{key}` carries no message body to validate; schemas belong on message routes"),
                );
            } else {
                let full = s.dir.join(schema);
                match std::fs::read_to_string(&full) {
                    Err(e) => self.error(&path, format!("cannot read schema `{}`: {e}", schema.display())),
                    Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                        Err(e) => self.error(&path, format!("schema `{}` is not JSON: {e}", schema.display())),
                        Ok(v) if !v.is_object() => self.error(
                            &path,
                            format!("schema `{}` must be a JSON object (JSON Schema draft 4)", schema.display()),
                        ),
                        Ok(_) => {}
                    },
                }
            }
        }
    }

    /// `{ mock: '<body>' }`: a route API Gateway answers itself. Only a
    /// message route can be one (`$connect` and `$disconnect` carry no frame
    /// to answer), with nothing beside `mock`, and a body API Gateway sends as
    /// written: 1..=32 KiB, without `$` or `#`, which its response template
    /// (Apache Velocity) would read as references and directives (API Gateway
    /// developer guide, "API Gateway mapping template and access logging
    /// variable reference for WebSocket APIs").
    fn mock(&mut self, key: &str, body: &str) {
        let here = ["api", "routes", key, "mock"];
        if key == "$connect" || key == "$disconnect" {
            self.error(
                &here,
                format!("`{key}` carries no frame to answer; `mock` belongs on message routes such as `ping`"),
            );
        }
        for beside in ["function", "schema"] {
            if self.map.find(&["api", "routes", key, beside]).is_some() {
                self.error(
                    &["api", "routes", key, beside],
                    format!("a `mock` route is answered by API Gateway itself; remove `{beside}` or `mock`"),
                );
            }
        }
        if body.is_empty() {
            self.error(&here, "an empty body; write the frame API Gateway answers with, e.g. '{\"type\":\"pong\"}'");
        } else if body.len() > MAX_MOCK_BYTES {
            self.error(&here, format!("{} bytes; a mock body is at most {MAX_MOCK_BYTES} bytes (32 KiB)", body.len()));
        } else if let Some(bad) = body.chars().find(|c| matches!(c, '$' | '#')) {
            self.error(
                &here,
                format!(
                    "has `{bad}`, which API Gateway's response template (Apache Velocity) would not send as written; \
                     leave `$` and `#` out of a mock body"
                ),
            );
        }
    }

    /// `domain`: names ACM can issue a certificate for (lowercase, no
    /// wildcard, no trailing dot), two different ones, both in `zone`.
    fn domain(&mut self, s: &Stack, d: &Domain) {
        let websocket = d.websocket_name();
        let mut valid = true;
        // A defaulted `ws.{name}` is wrong only where `name` is.
        let written = self.map.find(&["domain", "websocket"]).is_some();
        for (key, name) in [("name", d.name.as_str()), ("websocket", websocket)] {
            if key == "websocket" && !written && !valid {
                continue;
            }
            if let Err(why) = check_dns_name(name) {
                self.error(&["domain", key], why);
                valid = false;
            }
        }
        if valid && websocket == d.name {
            self.error(
                &["domain", "websocket"],
                format!("`{websocket}` is the website's name too; the WebSocket endpoint needs a name of its own (default `ws.{}`)", d.name),
            );
        }
        if let Some(zone) = &d.zone {
            match check_dns_name(zone) {
                Err(why) => self.error(&["domain", "zone"], why),
                Ok(()) => {
                    let outside: Vec<String> =
                        d.names().iter().filter(|n| !in_zone(n, zone)).map(|n| format!("`{n}`")).collect();
                    if valid && !outside.is_empty() {
                        self.error(
                            &["domain", "zone"],
                            format!(
                                "{} not in zone `{zone}`; the zone must be a suffix of both names",
                                outside.join(" and ") + if outside.len() == 1 { " is" } else { " are" }
                            ),
                        );
                    }
                }
            }
        }
        if !s.website.cdn {
            self.error(
                &["domain", "name"],
                "the website's name is a CloudFront alias; `domain` needs `website.cdn: true`",
            );
        }
    }

    fn website(&mut self, s: &Stack) {
        let source = s.dir.join(&s.website.source);
        if !source.is_dir() {
            self.error(
                &["website", "source"],
                format!("folder `{}` does not exist (relative to stack.yaml)", s.website.source.display()),
            );
        }
    }
}

/// A name ACM issues a certificate for and Route 53 holds: at most 253
/// characters, at least two labels of 1..=63 characters of a-z, 0-9 and `-`
/// (not first or last), lowercase, without a trailing dot or a wildcard.
pub fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{name}` must be 1..=253 characters (a DNS name)"));
    }
    if name.ends_with('.') {
        return Err(format!("`{name}`: write the name without the trailing dot"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("`{name}` is not a domain name such as `chat.example.com`"));
    }
    for label in labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{name}` is not a valid DNS name: each label is 1..=63 characters of a-z, 0-9 and `-` (lowercase, not first or last; no wildcard)"
            ));
        }
    }
    Ok(())
}

/// Whether `name` is `zone` or a name under it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// `name`: 1..=24 characters of a-z, 0-9 and single `-`, starting with a letter.
fn check_stack_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 24 {
        return Err(format!("`{name}` must be 1..=24 characters; it prefixes every AWS name"));
    }
    if !is_logical_name(name, 24) || name.contains("--") {
        return Err(format!(
            "`{name}` may use only a-z, 0-9 and single `-`, starting with a letter and not ending with `-` (S3 and IAM names derive from it)"
        ));
    }
    Ok(())
}

/// Checks `--stage` (it is not in stack.yaml, so errors carry no position).
pub fn check_stage(stage: &str) -> Result<(), UsageError> {
    let valid = stage.len() <= 16 && is_logical_name(stage, 16) && !stage.contains("--");
    if valid {
        Ok(())
    } else {
        Err(UsageError(format!(
            "--stage `{stage}`: stages are 1..=16 characters of a-z, 0-9 and `-`, starting with a letter"
        )))
    }
}

fn is_logical_name(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`...
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().take(parts.len() - 1).all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Physical names. Everything AWS sees is derived here, from `name` and the
/// stage, so that discovery needs no state file and stages never collide.
impl Stack {
    /// `{name}-{stage}`: at most 24 + 1 + 16 = 41 characters.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.name, self.stage)
    }

    /// The tags every resource carries: the user's plus `wschat:stack` and `wschat:stage`.
    pub fn resource_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert(TAG_STACK.into(), self.name.clone());
        tags.insert(TAG_STAGE.into(), self.stage.clone());
        tags
    }

    /// `chat.post_rate`, or 90% of API Gateway's default account throttle in
    /// `region`: 9,000 posts a second, or 2,250 where the throttle is 2,500.
    pub fn post_rate(&self, region: &str) -> i32 {
        self.chat.post_rate.unwrap_or_else(|| defaults::post_rate(region))
    }

    pub fn table_name(&self) -> String {
        format!("{}-connections", self.prefix())
    }

    /// The delivery ledger: which shard parts of a notice the queue's
    /// consumer has posted, so that a redelivered record is not posted twice.
    pub fn deliveries_table_name(&self) -> String {
        format!("{}-deliveries", self.prefix())
    }

    /// The chat's history, when `chat.history` is on.
    pub fn messages_table_name(&self) -> String {
        format!("{}-messages", self.prefix())
    }

    /// Presence at scale (docs/presence.md): count buckets of the people
    /// online, and the digests of joins and leaves.
    pub fn presence_table_name(&self) -> String {
        format!("{}-presence", self.prefix())
    }

    /// The GSI the room fan-out queries.
    pub fn room_index_name(&self) -> &'static str {
        chat_core::ROOM_INDEX
    }

    /// Queue names allow 80 characters: 41 + 1 + 30 + 4 fits.
    pub fn queue_name(&self) -> String {
        format!("{}-{}", self.prefix(), self.queue.name)
    }

    pub fn dlq_name(&self) -> String {
        format!("{}-dlq", self.queue_name())
    }

    /// Function names allow 64 characters: 41 + 1 + 20 fits.
    /// The function that runs the authorizer, with `auth: jwt`.
    pub fn authorizer_function(&self) -> Option<&'static str> {
        matches!(self.api.auth, Auth::Jwt(_)).then_some(AUTHORIZER_FUNCTION)
    }

    /// The name of the API's authorizer.
    pub fn authorizer_name(&self) -> String {
        format!("{}-jwt", self.prefix())
    }

    pub fn function_name(&self, function: &str) -> String {
        format!("{}-{function}", self.prefix())
    }

    /// Role names allow 64 characters, like functions.
    pub fn role_name(&self, function: &str) -> String {
        self.function_name(function)
    }

    /// The IAM path of the stack's roles: `/wschat/{name}/{stage}/`. IAM
    /// lists roles by path, so the roles of functions that left stack.yaml
    /// are found too.
    pub fn role_path(&self) -> String {
        format!("/wschat/{}/{}/", self.name, self.stage)
    }

    pub fn log_group_name(&self, function: &str) -> String {
        format!("/aws/lambda/{}", self.function_name(function))
    }

    /// The API's name; APIs are found by their tags, the name is for people.
    pub fn api_name(&self) -> String {
        self.prefix()
    }

    pub fn api_stage(&self) -> &str {
        self.api.stage_name()
    }

    /// `wss://{api_id}.execute-api.{region}.{dns suffix}/{stage}`
    /// (`amazonaws.com`, or `amazonaws.com.cn` in China: [`dns_suffix`]).
    /// With `domain`, `wss://{domain.websocket}` (its API mapping has no path).
    pub fn websocket_url(&self, api_id: &str, region: &str) -> String {
        if let Some(domain) = &self.domain {
            return format!("wss://{}", domain.websocket_name());
        }
        format!("wss://{api_id}.execute-api.{region}.{}/{}", dns_suffix(region), self.api_stage())
    }

    /// S3 names are global and at most 63 characters: `{prefix}-{account}-{region}`,
    /// with the prefix shortened and made unique by a hash when it does not fit.
    pub fn bucket_name(&self, account: &str, region: &str) -> String {
        let suffix = format!("-{account}-{region}");
        fit(&self.prefix(), &suffix, 63)
    }

    /// Origin Access Control names allow 64 characters.
    pub fn oac_name(&self) -> String {
        format!("{}-site", self.prefix())
    }

    /// The bucket's regional REST endpoint, CloudFront's origin:
    /// `{bucket}.s3.{region}.{dns suffix}`.
    pub fn bucket_domain(&self, account: &str, region: &str) -> String {
        format!("{}.s3.{region}.{}", self.bucket_name(account, region), dns_suffix(region))
    }

    /// The distribution's comment (at most 128 characters): says whose it is in the console.
    pub fn distribution_comment(&self) -> String {
        format!("wschat stack {}, stage {}: website", self.name, self.stage)
    }

    /// The inline policy of a function's role (one per role, so the role's name serves).
    pub fn role_policy_name(&self, function: &str) -> String {
        self.role_name(function)
    }

    /// The statement id of the permission that lets API Gateway invoke a function.
    pub fn permission_statement_id(&self) -> String {
        format!("{}-apigateway", self.prefix())
    }

    /// An API Gateway model name (`[a-zA-Z0-9]+`): the route key's letters and
    /// digits, then `digest` (a short hash of the schema). Naming models by
    /// their content lets a route's reference alone tell whether the schema
    /// changed, which matters where models cannot be listed (moto has no GetModels).
    pub fn model_name(&self, route_key: &str, digest: &str) -> String {
        let key: String = route_key.chars().filter(char::is_ascii_alphanumeric).take(100).collect();
        format!("{key}{digest}")
    }

    /// `https://{api_id}.execute-api.{region}.{dns suffix}/{stage}`: where the
    /// handlers post to connections (the Management API).
    pub fn management_endpoint(&self, api_id: &str, region: &str) -> String {
        format!("https://{api_id}.execute-api.{region}.{}/{}", dns_suffix(region), self.api_stage())
    }

    /// The ARNs of this stack's resources in one account, partition and region.
    pub fn arns<'a>(&'a self, partition: &'a str, region: &'a str, account: &'a str) -> Arns<'a> {
        Arns { stack: self, partition, region, account }
    }
}

/// ARNs of a stack's resources, derived from their names like everything else.
#[derive(Debug, Clone, Copy)]
pub struct Arns<'a> {
    stack: &'a Stack,
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl Arns<'_> {
    pub fn table(&self) -> String {
        format!("arn:{}:dynamodb:{}:{}:table/{}", self.partition, self.region, self.account, self.stack.table_name())
    }

    pub fn deliveries_table(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition,
            self.region,
            self.account,
            self.stack.deliveries_table_name()
        )
    }

    pub fn messages_table(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition,
            self.region,
            self.account,
            self.stack.messages_table_name()
        )
    }

    pub fn presence_table(&self) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition,
            self.region,
            self.account,
            self.stack.presence_table_name()
        )
    }

    pub fn room_index(&self) -> String {
        format!("{}/index/{}", self.table(), self.stack.room_index_name())
    }

    pub fn queue(&self) -> String {
        format!("arn:{}:sqs:{}:{}:{}", self.partition, self.region, self.account, self.stack.queue_name())
    }

    pub fn dlq(&self) -> String {
        format!("arn:{}:sqs:{}:{}:{}", self.partition, self.region, self.account, self.stack.dlq_name())
    }

    pub fn function(&self, function: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition,
            self.region,
            self.account,
            self.stack.function_name(function)
        )
    }

    pub fn role(&self, function: &str) -> String {
        format!(
            "arn:{}:iam::{}:role{}{}",
            self.partition,
            self.account,
            self.stack.role_path(),
            self.stack.role_name(function)
        )
    }

    /// The log group itself (tagging); its streams are `{this}:*`.
    pub fn log_group(&self, function: &str) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            self.partition,
            self.region,
            self.account,
            self.stack.log_group_name(function)
        )
    }

    /// What `execute-api:ManageConnections` is granted on: `method` (`POST`
    /// posts to a connection, `DELETE` closes it, `GET` reads it) on this
    /// stage's connections (API Gateway developer guide, "Use @connections
    /// commands in your backend service").
    pub fn connections(&self, api_id: &str, method: &str) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{api_id}/{}/{method}/@connections/*",
            self.partition,
            self.region,
            self.account,
            self.stack.api_stage()
        )
    }

    /// The `SourceArn` of the invoke permission: any route of this stage.
    pub fn api_invoke(&self, api_id: &str) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{api_id}/{}/*",
            self.partition,
            self.region,
            self.account,
            self.stack.api_stage()
        )
    }

    /// What invokes an authorizer's function: the `SourceArn` of its
    /// permission ("arn:aws:execute-api:region:account-id:api-id/authorizers/authorizer-id",
    /// API Gateway developer guide, "Configure a Lambda authorizer", and
    /// terraform-provider-aws's aws_apigatewayv2_authorizer example).
    pub fn authorizer_invoke(&self, api_id: &str, authorizer_id: &str) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{api_id}/authorizers/{authorizer_id}",
            self.partition, self.region, self.account
        )
    }

    /// The WebSocket API, for tagging.
    pub fn api(&self, api_id: &str) -> String {
        format!("arn:{}:apigateway:{}::/apis/{api_id}", self.partition, self.region)
    }

    /// A stage of the WebSocket API, for tagging.
    pub fn stage(&self, api_id: &str, stage: &str) -> String {
        format!("{}/stages/{stage}", self.api(api_id))
    }

    /// The website bucket.
    pub fn bucket(&self) -> String {
        format!("arn:{}:s3:::{}", self.partition, self.stack.bucket_name(self.account, self.region))
    }

    /// A CloudFront distribution (global: no region in the ARN).
    pub fn distribution(&self, id: &str) -> String {
        format!("arn:{}:cloudfront::{}:distribution/{id}", self.partition, self.account)
    }

    /// An AWS_PROXY integration's URI for a function.
    pub fn integration_uri(&self, function: &str) -> String {
        format!(
            "arn:{}:apigateway:{}:lambda:path/2015-03-31/functions/{}/invocations",
            self.partition,
            self.region,
            self.function(function)
        )
    }
}

/// `base + suffix` when it fits in `limit`; otherwise the base cut short plus
/// 8 hex digits of its FNV-1a hash, so that distinct bases stay distinct.
fn fit(base: &str, suffix: &str, limit: usize) -> String {
    if base.len() + suffix.len() <= limit {
        return format!("{base}{suffix}");
    }
    let hash = base.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let keep = limit.saturating_sub(suffix.len() + 9);
    let cut = base[..keep.min(base.len())].trim_end_matches('-');
    format!("{cut}-{hash:08x}{suffix}")
}

/// Positions of keys and values in a YAML document, by path.
///
/// Built once from saphyr's event stream. A path names mapping keys from the
/// root (`["functions", "chat", "memory"]`); sequence items use their index.
#[derive(Debug, Default)]
pub struct SourceMap {
    /// path -> position of its value: 1-based line and column.
    entries: BTreeMap<Vec<String>, (usize, usize)>,
    has_content: bool,
}

impl SourceMap {
    pub fn new(text: &str) -> SourceMap {
        use saphyr_parser::{Event, Parser};

        enum Frame {
            Map { path: Vec<String>, key: Option<String> },
            Seq { path: Vec<String>, index: usize },
        }

        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        // Records a value (scalar or collection start) at `pos`; returns the
        // path of that value, for collections.
        fn place(
            stack: &mut [Frame],
            map: &mut SourceMap,
            pos: (usize, usize),
            scalar: Option<&str>,
        ) -> Option<Vec<String>> {
            map.has_content = true;
            match stack.last_mut() {
                None => Some(Vec::new()),
                Some(Frame::Map { path, key }) => match key.take() {
                    None => {
                        // This is a key; collections as keys are not used in stack.yaml.
                        *key = scalar.map(str::to_string);
                        None
                    }
                    Some(k) => {
                        let mut p = path.clone();
                        p.push(k);
                        map.entries.insert(p.clone(), pos);
                        Some(p)
                    }
                },
                Some(Frame::Seq { path, index }) => {
                    let mut p = path.clone();
                    p.push(index.to_string());
                    *index += 1;
                    map.entries.insert(p.clone(), pos);
                    Some(p)
                }
            }
        }
        while let Some(Ok((event, span))) = parser.next_event() {
            let pos = (span.start.line(), span.start.col() + 1);
            match event {
                Event::Scalar(value, ..) => {
                    place(&mut stack, &mut map, pos, Some(&value));
                }
                Event::MappingStart(..) => {
                    if let Some(path) = place(&mut stack, &mut map, pos, None) {
                        stack.push(Frame::Map { path, key: None });
                    }
                }
                Event::SequenceStart(..) => {
                    if let Some(path) = place(&mut stack, &mut map, pos, None) {
                        stack.push(Frame::Seq { path, index: 0 });
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::Alias(_) => {
                    place(&mut stack, &mut map, pos, None);
                }
                _ => {}
            }
        }
        map
    }

    /// True when the document holds no value at all (empty or only comments).
    pub fn is_empty(&self) -> bool {
        !self.has_content
    }

    /// The value position of `path`, if the document has it.
    pub fn find(&self, path: &[&str]) -> Option<(usize, usize)> {
        let key: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        self.entries.get(&key).copied()
    }

    /// The best position for an error about `path`: its value, else the
    /// nearest ancestor that is written down, else the top of the file.
    pub fn position(&self, path: &[&str]) -> (usize, usize) {
        (0..=path.len()).rev().find_map(|n| self.find(&path[..n])).unwrap_or((1, 1))
    }
}

#[cfg(test)]
mod tests;
