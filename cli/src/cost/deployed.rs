//! What the deployed stack costs beside what stack.yaml would: `plan` prints
//! how a change moves the monthly estimate.
//!
//! The settings the estimate needs are read back from what discovery found,
//! not from a copy of the last stack.yaml: the functions' memory,
//! architecture and environment (which carries `chat.presence`, the fan-out's
//! settings and the history's), the queue mapping's batch, the distribution,
//! the alarms and the dashboard. No extra AWS call.

use serde::Serialize;
use wschat_engine::resources::{FoundSet, alarm, authorizer, dashboard, distribution, function, mapping};
use wschat_stack::{AUTHORIZER_FUNCTION, Architecture, History, Stack};

use super::estimate::{self, Function, Page, Settings, Stated, Usage};
use super::prices::Prices;

/// The usage `plan` prices both sides at: `wschat cost`'s defaults at 1,000
/// people online.
pub const PLAN_USAGE: Stated = Stated {
    online: 1_000.0,
    hours_online: super::HOURS_ONLINE,
    messages_per_person_day: super::MESSAGES_PER_USER_DAY,
    room_size: None,
    message_bytes: super::MESSAGE_BYTES,
};

/// How a change moves the monthly estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    /// What the deployed stack costs a month; `None` when nothing is deployed.
    pub before: Option<f64>,
    /// What it costs once the change is deployed.
    pub after: f64,
    /// What moved, by service, in USD a month (only the services that did).
    pub services: Vec<(String, f64)>,
}

impl Moved {
    /// Whether the estimate moves by a cent or more.
    pub fn moves(&self) -> bool {
        (self.after - self.before.unwrap_or(0.0)).abs() >= 0.005
    }

    /// One line for people, after the plan.
    pub fn line(&self) -> String {
        let usage = format!(
            "at {} online, {} messages a person a day to everyone (`wschat cost` prices other usages)",
            estimate::quantity(PLAN_USAGE.online),
            PLAN_USAGE.messages_per_person_day
        );
        let Some(before) = self.before else {
            return format!("Monthly estimate once deployed, {usage}: {}\n", super::usd(self.after));
        };
        let by = self.services.iter().map(|(s, d)| format!("{s} {}", signed(*d))).collect::<Vec<_>>().join(", ");
        format!(
            "Monthly estimate {usage}: {} -> {} ({}{})\n",
            super::usd(before),
            super::usd(self.after),
            signed(self.after - before),
            if by.is_empty() { String::new() } else { format!(": {by}") }
        )
    }
}

fn signed(usd: f64) -> String {
    if usd < 0.0 { format!("-{}", super::usd(-usd)) } else { format!("+{}", super::usd(usd)) }
}

/// The estimate's move from `deployed` (`None`: nothing is) to `wanted`, at [`PLAN_USAGE`].
pub fn moved(deployed: Option<&Settings>, wanted: &Settings, prices: &Prices) -> Moved {
    let usage = Usage::stated(&PLAN_USAGE);
    let after = estimate::estimate(wanted, &usage, prices);
    let Some(deployed) = deployed else {
        return Moved { before: None, after: after.total(), services: Vec::new() };
    };
    let before = estimate::estimate(deployed, &usage, prices);
    let mut services: Vec<(String, f64)> = Vec::new();
    for line in before.lines.iter().map(|l| (l, -1.0)).chain(after.lines.iter().map(|l| (l, 1.0))) {
        let (line, sign) = line;
        match services.iter_mut().find(|(s, _)| s == line.service) {
            Some((_, d)) => *d += sign * line.cost,
            None => services.push((line.service.to_string(), sign * line.cost)),
        }
    }
    services.retain(|(_, d)| d.abs() >= 0.005);
    Moved { before: Some(before.total()), after: after.total(), services }
}

/// The settings of the stack as deployed, read from what discovery found;
/// `None` when its functions are not there. `wanted` (stack.yaml's) fills
/// what the deployed stack does not say, and `page` is the website's files.
pub fn settings(stack: &Stack, wanted: &Settings, found: &FoundSet, page: Page) -> Option<Settings> {
    let (chat, notify) = super::roles(stack).ok()?;
    let function = |name: &str| {
        let name = stack.function_name(name);
        found.of::<function::Function>().map(|(_, f)| f).find(|f| f.name == name)
    };
    let shape = |f: &function::Found| Function {
        memory_mb: f.memory.max(0) as u32,
        architecture: if f.architecture == Architecture::Arm64.as_str() {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        },
    };
    let (chat_found, notify_found) = (function(&chat)?, function(&notify)?);
    let var = |f: &function::Found, name: &str| f.environment.get(name).and_then(|v| v.parse::<i64>().ok());
    use chat_core::config::vars;
    let history = match (var(chat_found, vars::HISTORY_MESSAGES), var(chat_found, vars::HISTORY_DAYS)) {
        (Some(messages), Some(days)) => Some(History { messages: messages as i32, days: days as i32 }),
        _ => None,
    };
    let authorizer = found.of::<authorizer::Authorizer>().next().map(|_| {
        function(AUTHORIZER_FUNCTION)
            .map(shape)
            .or(wanted.authorizer)
            .unwrap_or(Function { memory_mb: 128, architecture: Architecture::X86_64 })
    });
    let notify_name = stack.function_name(&notify);
    let batch = found.of::<mapping::Mapping>().map(|(_, m)| m).find(|m| m.function_name.ends_with(&notify_name));
    Some(Settings {
        chat: shape(chat_found),
        notify: shape(notify_found),
        authorizer,
        history,
        presence: var(chat_found, vars::PRESENCE).map_or(wanted.presence, |v| v.max(0) as u32),
        shard_size: var(notify_found, vars::SHARD_SIZE).map_or(wanted.shard_size, |v| v.max(1) as u32),
        post_rate: var(notify_found, vars::POST_RATE).map_or(wanted.post_rate, |v| v.max(1) as u32),
        batch: batch.map_or(wanted.batch, |m| m.batch_size.max(1) as u32),
        page: found.of::<distribution::Distribution>().next().map(|_| page),
        log_retention_days: wanted.log_retention_days,
        metrics: super::custom_metrics(history.is_some()),
        alarms: found.of::<alarm::Alarm>().count() as u32,
        dashboards: found.of::<dashboard::Dashboard>().count() as u32,
    })
}
