//! The handlers' configuration, from the environment variables `wschat deploy`
//! sets on each function (and `wschat dev` on nothing: it passes [`Settings`]
//! directly).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `WSCHAT_TABLE` | the connections table | required |
//! | `WSCHAT_QUEUE_URL` | the notification queue | required by `chat` |
//! | `WSCHAT_FANOUT_CONCURRENCY` | posts in flight during a fan-out, 1..=1000 | 32 |
//! | `WSCHAT_SHARD_SIZE` | recipients one invocation takes on; a larger notice is sharded, 1..=10000 | 500 |
//! | `WSCHAT_POST_RATE` | posts per second one broadcast may make, across all invocations, 1..=100000 | 9000 |
//! | `WSCHAT_MAX_CONCURRENCY` | the queue mapping's maximum concurrency (`ScalingConfig`), 2..=1000 | 10 |
//! | `WSCHAT_BATCH_SIZE` | records per invocation from the queue (the mapping's batch size), 1..=10 | 10 |
//! | `WSCHAT_DELIVERIES_TABLE` | the delivery ledger table, which makes redelivery harmless | none: no ledger |
//! | `WSCHAT_WELCOME_DELAY` | seconds before welcome and join notice, 0..=900 | 1 |
//! | `WSCHAT_TTL_ATTRIBUTE` | the table's TTL attribute | `expiresAt` |
//! | `WSCHAT_MANAGEMENT_ENDPOINT` | the Management API; overrides `https://{domainName}/{stage}` | required by `notify` |
//! | `WSCHAT_MESSAGES_TABLE` | the messages table, the chat's history (`chat.history`) | none: history off |
//! | `WSCHAT_HISTORY_MESSAGES` | messages a history frame carries at most, 1..=200 | 50 |
//! | `WSCHAT_HISTORY_DAYS` | days a message is kept (its TTL), 1..=365 | 7 |
//! | `WSCHAT_PRESENCE_TABLE` | the presence table: the count online and the digests | none: no count, no digests |
//! | `WSCHAT_PRESENCE` | people online above which joins and leaves go out as digests, 0..=100000 | 100 |
//! | `WSCHAT_MESSAGE_RATE`, `WSCHAT_MESSAGE_BURST` | chat messages a client may send a second (0.01..=1000), and at once (1..=10000) | 2, 20 |
//! | `WSCHAT_FRAME_RATE`, `WSCHAT_FRAME_BURST` | other frames a client may send a second, and at once | 10, 50 |
//! | `WSCHAT_CLOSE_AFTER` | frames refused, since the client last paused, before it is closed, 1..=1000 | 10 |
//! | `WSCHAT_COOLDOWN` | seconds a closed client may not reconnect, 0..=86400 | 60 |
//!
//! `AWS_ENDPOINT_URL` (standard, read by aws-config) sends every AWS call elsewhere.
//!
//! The `authorizer` function reads [`JwtVars`]: `WSCHAT_JWT_ISSUER` (required),
//! `WSCHAT_JWT_AUDIENCE` (required; comma-separated) and `WSCHAT_JWT_NAME_CLAIM`.

use crate::handler::Settings;
use crate::limits::{Limits, Rate};

/// The variable names, for `wschat deploy` to set and the binaries to read.
pub mod vars {
    pub const TABLE: &str = "WSCHAT_TABLE";
    pub const QUEUE_URL: &str = "WSCHAT_QUEUE_URL";
    pub const FANOUT_CONCURRENCY: &str = "WSCHAT_FANOUT_CONCURRENCY";
    pub const SHARD_SIZE: &str = "WSCHAT_SHARD_SIZE";
    pub const POST_RATE: &str = "WSCHAT_POST_RATE";
    pub const MAX_CONCURRENCY: &str = "WSCHAT_MAX_CONCURRENCY";
    pub const BATCH_SIZE: &str = "WSCHAT_BATCH_SIZE";
    pub const DELIVERIES_TABLE: &str = "WSCHAT_DELIVERIES_TABLE";
    pub const WELCOME_DELAY: &str = "WSCHAT_WELCOME_DELAY";
    pub const TTL_ATTRIBUTE: &str = "WSCHAT_TTL_ATTRIBUTE";
    pub const MANAGEMENT_ENDPOINT: &str = "WSCHAT_MANAGEMENT_ENDPOINT";
    pub const MESSAGES_TABLE: &str = "WSCHAT_MESSAGES_TABLE";
    pub const HISTORY_MESSAGES: &str = "WSCHAT_HISTORY_MESSAGES";
    pub const HISTORY_DAYS: &str = "WSCHAT_HISTORY_DAYS";
    pub const PRESENCE_TABLE: &str = "WSCHAT_PRESENCE_TABLE";
    pub const PRESENCE: &str = "WSCHAT_PRESENCE";
    pub const MESSAGE_RATE: &str = "WSCHAT_MESSAGE_RATE";
    pub const MESSAGE_BURST: &str = "WSCHAT_MESSAGE_BURST";
    pub const FRAME_RATE: &str = "WSCHAT_FRAME_RATE";
    pub const FRAME_BURST: &str = "WSCHAT_FRAME_BURST";
    pub const CLOSE_AFTER: &str = "WSCHAT_CLOSE_AFTER";
    pub const COOLDOWN: &str = "WSCHAT_COOLDOWN";
    pub const JWT_ISSUER: &str = "WSCHAT_JWT_ISSUER";
    pub const JWT_AUDIENCE: &str = "WSCHAT_JWT_AUDIENCE";
    pub const JWT_NAME_CLAIM: &str = "WSCHAT_JWT_NAME_CLAIM";
    pub const METRICS_NAMESPACE: &str = "WSCHAT_METRICS_NAMESPACE";
}

/// The CloudWatch namespace of the metrics when `WSCHAT_METRICS_NAMESPACE`
/// is unset.
pub const DEFAULT_METRICS_NAMESPACE: &str = "wschat";

/// The authorizer's configuration: `api.auth.jwt`, from the environment.
pub struct JwtVars;

impl JwtVars {
    pub fn from_env() -> Result<crate::auth::JwtConfig, ConfigError> {
        JwtVars::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<crate::auth::JwtConfig, ConfigError> {
        let var = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let issuer =
            var(vars::JWT_ISSUER).ok_or(ConfigError::Missing { name: vars::JWT_ISSUER, what: "the token issuer" })?;
        let audience: Vec<String> = var(vars::JWT_AUDIENCE)
            .map(|a| a.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect())
            .unwrap_or_default();
        if audience.is_empty() {
            return Err(ConfigError::Missing {
                name: vars::JWT_AUDIENCE,
                what: "the accepted audiences, comma-separated",
            });
        }
        Ok(crate::auth::JwtConfig { issuer, audience, name_claim: var(vars::JWT_NAME_CLAIM) })
    }
}

pub const DEFAULT_FANOUT_CONCURRENCY: usize = 32;
pub const DEFAULT_SHARD_SIZE: usize = 500;
/// Below API Gateway's default account throttle of 10,000 requests per
/// second, which every `@connections` call of the account shares.
pub const DEFAULT_POST_RATE: u32 = 9000;

/// The highest `WSCHAT_POST_RATE` (and `chat.post_rate`) there is.
pub const MAX_POST_RATE: u32 = 100_000;
pub const DEFAULT_MAX_CONCURRENCY: u32 = 10;
pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// A post to `@connections` takes 20–30 ms; one that takes 2 s is stuck
/// (aws-sdk-js-v3#7632 and aws-sdk-go-v2#1534 describe calls that hang until
/// the function times out), and is retried like any transient failure.
pub const DEFAULT_POST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
pub const DEFAULT_WELCOME_DELAY: u32 = 1;
/// Messages a conversation's history sends at once (`WSCHAT_HISTORY_MESSAGES`).
pub const DEFAULT_HISTORY_MESSAGES: u32 = 50;
/// Days a message is kept (`WSCHAT_HISTORY_DAYS`).
pub const DEFAULT_HISTORY_DAYS: u32 = 7;
/// People online above which joins and leaves go out as digests (`WSCHAT_PRESENCE`).
pub const DEFAULT_PRESENCE: u32 = 100;
pub const DEFAULT_TTL_ATTRIBUTE: &str = "expiresAt";

/// A variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set; it names {what} (`wschat deploy` sets it)")]
    Missing { name: &'static str, what: &'static str },
    #[error("{name}=`{value}` is not valid; expected {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

/// Everything a handler binary reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub table: String,
    pub queue_url: Option<String>,
    pub ttl_attribute: String,
    pub management_endpoint: Option<String>,
    /// The delivery ledger; without it a redelivered record is posted again.
    pub deliveries_table: Option<String>,
    /// The chat's history; without it nothing is stored.
    pub messages_table: Option<String>,
    /// The presence table; without it there is no count and no digest.
    pub presence_table: Option<String>,
    /// The CloudWatch namespace of the function's metrics ([`crate::metrics`]).
    pub metrics_namespace: String,
    pub settings: Settings,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads variables through `var`; empty values count as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let table =
            var(vars::TABLE).ok_or(ConfigError::Missing { name: vars::TABLE, what: "the connections table" })?;
        let number = |name: &'static str, default: u64, min: u64, max: u64, expected: &'static str| match var(name) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().ok().filter(|n| (min..=max).contains(n)).ok_or(ConfigError::Invalid {
                name,
                value: v,
                expected,
            }),
        };
        let rate = |name: &'static str, default: f64| match var(name) {
            None => Ok(default),
            Some(v) => v.parse::<f64>().ok().filter(|r| (0.01..=1000.0).contains(r)).ok_or(ConfigError::Invalid {
                name,
                value: v,
                expected: "frames a second in 0.01..=1000",
            }),
        };
        const BURST: &str = "frames in 1..=10000";
        let d = Settings::default();
        let settings = Settings {
            fanout_concurrency: number(
                vars::FANOUT_CONCURRENCY,
                d.fanout_concurrency as u64,
                1,
                1000,
                "a whole number in 1..=1000",
            )? as usize,
            welcome_delay: number(
                vars::WELCOME_DELAY,
                d.welcome_delay.into(),
                0,
                900,
                "seconds in 0..=900 (the SQS delay limit)",
            )? as u32,
            shard_size: number(vars::SHARD_SIZE, d.shard_size as u64, 1, 10_000, "a whole number in 1..=10000")?
                as usize,
            post_rate: number(
                vars::POST_RATE,
                d.post_rate.into(),
                1,
                MAX_POST_RATE.into(),
                "posts per second in 1..=100000",
            )? as u32,
            max_concurrency: number(
                vars::MAX_CONCURRENCY,
                d.max_concurrency.into(),
                2,
                1000,
                "a whole number in 2..=1000",
            )? as u32,
            batch_size: number(vars::BATCH_SIZE, d.batch_size.into(), 1, 10, "a whole number in 1..=10")? as u32,
            history_messages: number(
                vars::HISTORY_MESSAGES,
                d.history_messages as u64,
                1,
                200,
                "a whole number in 1..=200",
            )? as usize,
            history_days: number(vars::HISTORY_DAYS, d.history_days.into(), 1, 365, "days in 1..=365")? as u32,
            presence: number(vars::PRESENCE, d.presence.into(), 0, 100_000, "people in 0..=100000")? as u32,
            limits: Limits {
                messages: Rate {
                    per_second: rate(vars::MESSAGE_RATE, d.limits.messages.per_second)?,
                    burst: number(vars::MESSAGE_BURST, d.limits.messages.burst.into(), 1, 10_000, BURST)? as u32,
                },
                frames: Rate {
                    per_second: rate(vars::FRAME_RATE, d.limits.frames.per_second)?,
                    burst: number(vars::FRAME_BURST, d.limits.frames.burst.into(), 1, 10_000, BURST)? as u32,
                },
                close_after: number(vars::CLOSE_AFTER, d.limits.close_after.into(), 1, 1000, "frames in 1..=1000")?
                    as u32,
                cooldown_seconds: number(
                    vars::COOLDOWN,
                    d.limits.cooldown_seconds.into(),
                    0,
                    86_400,
                    "seconds in 0..=86400",
                )? as u32,
            },
            ..d
        };
        Ok(Config {
            table,
            queue_url: var(vars::QUEUE_URL),
            ttl_attribute: var(vars::TTL_ATTRIBUTE).unwrap_or_else(|| DEFAULT_TTL_ATTRIBUTE.to_string()),
            management_endpoint: var(vars::MANAGEMENT_ENDPOINT).map(|e| e.trim_end_matches('/').to_string()),
            deliveries_table: var(vars::DELIVERIES_TABLE),
            messages_table: var(vars::MESSAGES_TABLE),
            presence_table: var(vars::PRESENCE_TABLE),
            metrics_namespace: var(vars::METRICS_NAMESPACE).unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_string()),
            settings,
        })
    }

    /// The queue URL, which the `chat` function cannot do without.
    pub fn require_queue_url(&self) -> Result<&str, ConfigError> {
        self.queue_url.as_deref().ok_or(ConfigError::Missing { name: vars::QUEUE_URL, what: "the notification queue" })
    }

    /// The Management API endpoint, which the `notify` function cannot do
    /// without: an SQS event carries no request context to derive it from.
    pub fn require_management_endpoint(&self) -> Result<&str, ConfigError> {
        self.management_endpoint.as_deref().ok_or(ConfigError::Missing {
            name: vars::MANAGEMENT_ENDPOINT,
            what: "the API Gateway Management API endpoint, https://{api-id}.execute-api.{region}.amazonaws.com/{stage}",
        })
    }

    /// The Management API endpoint for an event from `domain_name` and `stage`:
    /// the override when set, else `https://{domainName}/{stage}`.
    pub fn management_endpoint_for(&self, domain_name: &str, stage: &str) -> String {
        match &self.management_endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("https://{domain_name}/{stage}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let c = config(&[("WSCHAT_TABLE", "t")]).unwrap();
        assert_eq!(c.table, "t");
        assert_eq!(c.ttl_attribute, "expiresAt");
        assert_eq!(c.settings, Settings::default());
        assert_eq!((c.settings.fanout_concurrency, c.settings.welcome_delay, c.settings.shard_size), (32, 1, 500));
        assert_eq!((c.settings.post_rate, c.settings.max_concurrency, c.settings.batch_size), (9000, 10, 10));
        assert_eq!(c.deliveries_table, None);
        assert_eq!(c.messages_table, None, "history is off without its table");
        assert_eq!((c.settings.history_messages, c.settings.history_days), (50, 7));
        assert_eq!(
            (c.presence_table.as_deref(), c.settings.presence),
            (None, 100),
            "no count without the presence table"
        );
        assert_eq!(c.queue_url, None);
        assert!(c.require_queue_url().unwrap_err().to_string().contains("WSCHAT_QUEUE_URL is not set"));
        assert!(c.require_management_endpoint().unwrap_err().to_string().contains("WSCHAT_MANAGEMENT_ENDPOINT"));
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(&[
            ("WSCHAT_TABLE", "wschat-dev-connections"),
            ("WSCHAT_QUEUE_URL", "http://q"),
            ("WSCHAT_FANOUT_CONCURRENCY", "7"),
            ("WSCHAT_WELCOME_DELAY", "0"),
            ("WSCHAT_TTL_ATTRIBUTE", "ttl"),
            ("WSCHAT_MANAGEMENT_ENDPOINT", "http://127.0.0.1:9/"),
            ("WSCHAT_SHARD_SIZE", "250"),
            ("WSCHAT_POST_RATE", "500"),
            ("WSCHAT_MAX_CONCURRENCY", "4"),
            ("WSCHAT_BATCH_SIZE", "3"),
            ("WSCHAT_DELIVERIES_TABLE", "wschat-dev-deliveries"),
            ("WSCHAT_MESSAGES_TABLE", "wschat-dev-messages"),
            ("WSCHAT_HISTORY_MESSAGES", "200"),
            ("WSCHAT_HISTORY_DAYS", "30"),
            ("WSCHAT_PRESENCE_TABLE", "wschat-dev-presence"),
            ("WSCHAT_PRESENCE", "0"),
            ("WSCHAT_MESSAGE_RATE", "0.5"),
            ("WSCHAT_MESSAGE_BURST", "5"),
            ("WSCHAT_FRAME_RATE", "20"),
            ("WSCHAT_FRAME_BURST", "100"),
            ("WSCHAT_CLOSE_AFTER", "3"),
            ("WSCHAT_COOLDOWN", "600"),
        ])
        .unwrap();
        assert_eq!(c.messages_table.as_deref(), Some("wschat-dev-messages"));
        assert_eq!(c.presence_table.as_deref(), Some("wschat-dev-presence"));
        assert_eq!(c.queue_url.as_deref(), Some("http://q"));
        assert_eq!(c.deliveries_table.as_deref(), Some("wschat-dev-deliveries"));
        assert_eq!(
            c.settings,
            Settings {
                fanout_concurrency: 7,
                welcome_delay: 0,
                shard_size: 250,
                post_rate: 500,
                max_concurrency: 4,
                batch_size: 3,
                history_messages: 200,
                history_days: 30,
                presence: 0,
                limits: Limits {
                    messages: Rate { per_second: 0.5, burst: 5 },
                    frames: Rate { per_second: 20.0, burst: 100 },
                    close_after: 3,
                    cooldown_seconds: 600,
                },
                ..Settings::default()
            }
        );
        assert_eq!(c.ttl_attribute, "ttl");
        assert_eq!(c.management_endpoint_for("x.example", "prod"), "http://127.0.0.1:9");
    }

    #[test]
    fn the_authorizer_reads_its_issuer_audiences_and_name_claim() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let config = JwtVars::from_vars(vars(&[
            ("WSCHAT_JWT_ISSUER", "https://issuer.example"),
            ("WSCHAT_JWT_AUDIENCE", " a, b ,, "),
            ("WSCHAT_JWT_NAME_CLAIM", "nickname"),
        ]))
        .unwrap();
        assert_eq!(config.issuer, "https://issuer.example");
        assert_eq!(config.audience, ["a", "b"]);
        assert_eq!(config.name_claim.as_deref(), Some("nickname"));
        let missing = JwtVars::from_vars(vars(&[("WSCHAT_JWT_ISSUER", "https://issuer.example")])).unwrap_err();
        assert!(missing.to_string().contains("WSCHAT_JWT_AUDIENCE is not set"), "{missing}");
        assert!(JwtVars::from_vars(vars(&[])).unwrap_err().to_string().contains("WSCHAT_JWT_ISSUER"));
    }

    #[test]
    fn the_endpoint_comes_from_the_event_without_an_override() {
        let c = config(&[("WSCHAT_TABLE", "t")]).unwrap();
        assert_eq!(
            c.management_endpoint_for("abc.execute-api.us-east-1.amazonaws.com", "prod"),
            "https://abc.execute-api.us-east-1.amazonaws.com/prod"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(
            config(&[]).unwrap_err(),
            ConfigError::Missing { name: "WSCHAT_TABLE", what: "the connections table" }
        );
        for (name, value) in [
            ("WSCHAT_FANOUT_CONCURRENCY", "0"),
            ("WSCHAT_FANOUT_CONCURRENCY", "1001"),
            ("WSCHAT_FANOUT_CONCURRENCY", "many"),
            ("WSCHAT_WELCOME_DELAY", "901"),
            ("WSCHAT_WELCOME_DELAY", "-1"),
            ("WSCHAT_SHARD_SIZE", "0"),
            ("WSCHAT_POST_RATE", "100001"),
            ("WSCHAT_MAX_CONCURRENCY", "1"),
            ("WSCHAT_BATCH_SIZE", "11"),
            ("WSCHAT_HISTORY_MESSAGES", "0"),
            ("WSCHAT_HISTORY_MESSAGES", "201"),
            ("WSCHAT_HISTORY_DAYS", "0"),
            ("WSCHAT_HISTORY_DAYS", "366"),
            ("WSCHAT_PRESENCE", "100001"),
            ("WSCHAT_PRESENCE", "-1"),
            ("WSCHAT_MESSAGE_RATE", "0"),
            ("WSCHAT_FRAME_RATE", "fast"),
            ("WSCHAT_FRAME_BURST", "0"),
            ("WSCHAT_CLOSE_AFTER", "0"),
            ("WSCHAT_COOLDOWN", "86401"),
        ] {
            let err = config(&[("WSCHAT_TABLE", "t"), (name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{name}=`{value}` is not valid")), "{err}");
        }
    }
}
