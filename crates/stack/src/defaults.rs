//! The values stack.yaml fields take when they are left out.

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
/// The fan-out p99 alarm's threshold: 10 s from a notice's event to its last
/// post, well above a broadcast to 10,000 people at the default post rate.
pub fn fanout_p99_ms() -> i32 {
    10_000
}
/// Lambda's default concurrency quota per region (Lambda Developer Guide,
/// "Lambda quotas": 1,000 concurrent executions).
pub fn concurrency_quota() -> i32 {
    1_000
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

/// API Gateway's default account throttle in `region`, requests a second.
pub fn account_throttle(region: &str) -> i32 {
    if LOW_THROTTLE.contains(&region) { 2_500 } else { 10_000 }
}

/// 90% of API Gateway's default account throttle in `region`.
pub fn post_rate(region: &str) -> i32 {
    if LOW_THROTTLE.contains(&region) { 2_250 } else { chat_core::config::DEFAULT_POST_RATE as i32 }
}
