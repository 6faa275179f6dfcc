//! The handlers' configuration, from the environment variables `wschat deploy`
//! sets on each function (and `wschat dev` on nothing: it passes [`Settings`]
//! directly).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `WSCHAT_TABLE` | the connections table | required |
//! | `WSCHAT_QUEUE_URL` | the notification queue | required by `chat` |
//! | `WSCHAT_FANOUT_CONCURRENCY` | posts in flight during a fan-out, 1..=1000 | 32 |
//! | `WSCHAT_WELCOME_DELAY` | seconds before welcome and join notice, 0..=900 | 1 |
//! | `WSCHAT_TTL_ATTRIBUTE` | the table's TTL attribute | `expiresAt` |
//! | `WSCHAT_MANAGEMENT_ENDPOINT` | the Management API; overrides `https://{domainName}/{stage}` | required by `notify` |
//!
//! `AWS_ENDPOINT_URL` (standard, read by aws-config) sends every AWS call elsewhere.

use crate::handler::Settings;

/// The variable names, for `wschat deploy` to set and the binaries to read.
pub mod vars {
    pub const TABLE: &str = "WSCHAT_TABLE";
    pub const QUEUE_URL: &str = "WSCHAT_QUEUE_URL";
    pub const FANOUT_CONCURRENCY: &str = "WSCHAT_FANOUT_CONCURRENCY";
    pub const WELCOME_DELAY: &str = "WSCHAT_WELCOME_DELAY";
    pub const TTL_ATTRIBUTE: &str = "WSCHAT_TTL_ATTRIBUTE";
    pub const MANAGEMENT_ENDPOINT: &str = "WSCHAT_MANAGEMENT_ENDPOINT";
}

pub const DEFAULT_FANOUT_CONCURRENCY: usize = 32;
pub const DEFAULT_WELCOME_DELAY: u32 = 1;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table: String,
    pub queue_url: Option<String>,
    pub ttl_attribute: String,
    pub management_endpoint: Option<String>,
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
        let fanout_concurrency = match var(vars::FANOUT_CONCURRENCY) {
            None => DEFAULT_FANOUT_CONCURRENCY,
            Some(v) => v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or(ConfigError::Invalid {
                name: vars::FANOUT_CONCURRENCY,
                value: v,
                expected: "a whole number in 1..=1000",
            })?,
        };
        let welcome_delay = match var(vars::WELCOME_DELAY) {
            None => DEFAULT_WELCOME_DELAY,
            Some(v) => v.parse().ok().filter(|n| *n <= 900).ok_or(ConfigError::Invalid {
                name: vars::WELCOME_DELAY,
                value: v,
                expected: "seconds in 0..=900 (the SQS delay limit)",
            })?,
        };
        Ok(Config {
            table,
            queue_url: var(vars::QUEUE_URL),
            ttl_attribute: var(vars::TTL_ATTRIBUTE).unwrap_or_else(|| DEFAULT_TTL_ATTRIBUTE.to_string()),
            management_endpoint: var(vars::MANAGEMENT_ENDPOINT).map(|e| e.trim_end_matches('/').to_string()),
            settings: Settings { fanout_concurrency, welcome_delay },
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
        assert_eq!(c.settings, Settings { fanout_concurrency: 32, welcome_delay: 1 });
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
        ])
        .unwrap();
        assert_eq!(c.queue_url.as_deref(), Some("http://q"));
        assert_eq!(c.settings, Settings { fanout_concurrency: 7, welcome_delay: 0 });
        assert_eq!(c.ttl_attribute, "ttl");
        assert_eq!(c.management_endpoint_for("x.example", "prod"), "http://127.0.0.1:9");
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
        ] {
            let err = config(&[("WSCHAT_TABLE", "t"), (name, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{name}=`{value}` is not valid")), "{err}");
        }
    }
}
