//! stack.yaml's `api`: routes, their targets, throttles and models, and sign-in.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::*;

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
