//! `wschat cost`: what the stack costs a month at AWS's list prices, for a
//! usage the user states, line by line.
//!
//! The estimate is pure ([`estimate::estimate`]: settings and a usage in,
//! priced lines out) and the prices are a table ([`prices`]), both tested
//! without AWS (`cargo test -p wschat --lib cost`). This file reads what the
//! estimate needs from stack.yaml and the page's folder, and prints it.

pub mod deployed;
pub mod estimate;
pub mod measured;
pub mod prices;
#[cfg(test)]
mod tests;

use anyhow::Result;
use chat_core::metrics::Metric;
use serde_json::json;
use wschat_stack::{Stack, UsageError};

use crate::cli::{Args, CostArgs};
use estimate::{Estimate, Function, Measured, Page, Recipients, Settings, Stated, Usage, quantity};
use wschat_engine::aws::Aws;

/// The functions that emit `metric` (docs/guide/metrics.md): each is a custom
/// metric of its own, a name with one `Function` value.
fn emitted_by(metric: Metric) -> &'static [&'static str] {
    match metric {
        Metric::ConnectionsOpened
        | Metric::ConnectionsClosed
        | Metric::MessagesIn
        | Metric::HistoryWrites
        | Metric::FloodRefused
        | Metric::FloodDisconnected => &["chat"],
        Metric::Online => &["chat", "notify"],
        Metric::Posts
        | Metric::Gone
        | Metric::Refused
        | Metric::Retried
        | Metric::HandedOn
        | Metric::FanoutMs
        | Metric::DeliveryMs
        | Metric::LedgerWrites => &["notify"],
    }
}

/// Custom metrics the stack's handlers emit: without history, no `HistoryWrites`.
pub fn custom_metrics(history: bool) -> u32 {
    Metric::ALL.iter().filter(|m| history || **m != Metric::HistoryWrites).map(|m| emitted_by(*m).len() as u32).sum()
}

/// `wschat cost`'s usage where the user states none of it.
pub const HOURS_ONLINE: f64 = 24.0;
pub const MESSAGES_PER_USER_DAY: f64 = 20.0;
pub const MESSAGE_BYTES: f64 = 200.0;

/// The stack's function on the routes (`$connect`'s, else the first route's)
/// and its function on the queue, by their stack.yaml names.
pub fn roles(stack: &Stack) -> Result<(String, String)> {
    let unsupported = |what: &str| {
        UsageError(format!(
            "wschat cost models the shipped handlers: {what}; stack.yaml ({}) has none",
            stack.file.display()
        ))
    };
    let chat = stack
        .api
        .routes
        .get("$connect")
        .or_else(|| stack.api.routes.values().find(|r| r.function().is_some()))
        .and_then(|r| r.function())
        .ok_or_else(|| unsupported("a function on the routes"))?;
    let notify = stack
        .functions
        .iter()
        .find(|(_, f)| f.queue.is_some())
        .map(|(name, _)| name)
        .ok_or_else(|| unsupported("a function on the queue"))?;
    Ok((chat.to_string(), notify.clone()))
}

/// What the estimate needs of `stack` in `region`, with `page` the website's files.
pub fn settings(stack: &Stack, region: &str, page: Option<Page>) -> Result<Settings> {
    let function = |name: &str| {
        let f = &stack.functions[name];
        Function { memory_mb: f.memory.max(0) as u32, architecture: f.architecture }
    };
    let (chat, notify) = roles(stack)?;
    let consumer = &stack.functions[&notify];
    Ok(Settings {
        chat: function(&chat),
        notify: function(&notify),
        authorizer: stack.authorizer_function().map(function),
        history: stack.chat.history,
        presence: stack.chat.presence.max(0) as u32,
        shard_size: stack.chat.shard_size.max(1) as u32,
        post_rate: stack.post_rate(region).max(1) as u32,
        batch: consumer.batch.max(1) as u32,
        page: if stack.website.cdn { page } else { None },
        log_retention_days: wschat_engine::resources::log_group::RETENTION_DAYS as u32,
        metrics: custom_metrics(stack.chat.history.is_some()),
        alarms: wschat_engine::resources::alarm_rules::count(stack) as u32,
        dashboards: u32::from(stack.observability.dashboard),
    })
}

/// The website's files and their bytes, and `config.json`, which deploy
/// writes beside them: the files deploy would upload from the website folder.
pub fn page(stack: &Stack) -> Result<Page> {
    let files = wschat_engine::resources::site::read_source(&stack.dir.join(&stack.website.source))?;
    Ok(page_of(&files))
}

/// The page of `files` (the website folder as deploy reads it), with the
/// `config.json` deploy generates in place of any the folder has.
pub fn page_of(files: &[wschat_engine::resources::site::File]) -> Page {
    let config = wschat_stack::website::CONFIG_KEY;
    let mut page = Page { files: 1, bytes: 1024 };
    for file in files.iter().filter(|f| f.key != config) {
        page.files += 1;
        page.bytes += file.size;
    }
    page
}

/// The region to price: `--region`, stack.yaml's, the environment's, else us-east-1.
fn region(stack: &Stack, flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| stack.region.clone())
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| prices::US_EAST_1.region.to_string())
}

/// `wschat cost`.
pub async fn run(args: &Args, cost: &CostArgs) -> Result<()> {
    // clap lets `requires` go when the required flag conflicts with one given.
    if cost.days.is_some() && !cost.measured {
        return Err(
            UsageError("--days counts the days --measured reads; price a stated usage without it".into()).into()
        );
    }
    let stack = wschat_stack::load(&args.file, &args.stage)?;
    let region = region(&stack, args.aws.region.as_deref());
    let (prices, warning) = prices::for_region(&region);
    let page = if stack.website.cdn { Some(page(&stack)?) } else { None };
    let settings = settings(&stack, &region, page)?;
    let (shown, usage) = match cost.connections {
        Some(online) => {
            let stated = Stated {
                online,
                hours_online: cost.hours_online,
                messages_per_person_day: cost.messages_per_user_day,
                room_size: cost.room_size,
                message_bytes: cost.message_bytes,
            };
            if let Some(room) = stated.room_size
                && room > stated.online
            {
                return Err(UsageError(format!(
                    "--room-size {room} is more than --connections {}: a room holds people who are online",
                    stated.online
                ))
                .into());
            }
            (Shown::Stated(stated), Usage::stated(&stated))
        }
        None => {
            let aws = Aws::load(&args.aws.for_stack(&stack)).await?;
            let measured = measured::read(&aws, &stack, cost.days.unwrap_or(measured::DAYS)).await?;
            (Shown::Measured(measured), Usage::measured(&settings, &measured, cost.message_bytes))
        }
    };
    let estimate = estimate::estimate(&settings, &usage, prices);
    if let Some(warning) = &warning {
        eprintln!("warning: {warning}");
    }
    let header = Header { stack: &stack, region: &region, prices: prices.region, shown, usage, warning };
    if args.json {
        println!("{}", report(&header, &estimate));
    } else {
        print!("{}", table(&header, &estimate));
    }
    Ok(())
}

/// Where the usage came from.
pub enum Shown {
    Stated(Stated),
    Measured(Measured),
}

/// What the output says besides the lines.
pub struct Header<'a> {
    pub stack: &'a Stack,
    pub region: &'a str,
    /// The region whose prices were used.
    pub prices: &'a str,
    pub shown: Shown,
    /// The usage priced.
    pub usage: Usage,
    pub warning: Option<String>,
}

impl Header<'_> {
    /// Who the messages go to, for people.
    fn to_whom(&self) -> String {
        match self.usage.recipients {
            Recipients::Everyone => "everyone online".to_string(),
            Recipients::Room(r) => format!("rooms of {}", quantity(r)),
        }
    }
}

/// Dollars and cents, grouped: `$1,234.50`; under a cent, `<$0.01`.
pub fn usd(v: f64) -> String {
    if v > 0.0 && v < 0.005 {
        return "<$0.01".to_string();
    }
    let cents = (v * 100.0).round();
    format!("${}.{:02}", estimate::group((cents / 100.0).trunc()), (cents % 100.0) as u32)
}

/// The estimate for people: a table, the total, then what it assumes.
pub fn table(h: &Header, e: &Estimate) -> String {
    let mut out = format!(
        "Monthly cost of stack `{}` (stage `{}`) in {}, at {} list prices; the free tier is not subtracted.\n",
        h.stack.name, h.stack.stage, h.region, h.prices
    );
    out += &match &h.shown {
        Shown::Stated(s) => format!(
            "Usage: {} online at once, {} hours a day each ({} people), {} messages a person a day, to {}.\n\n",
            quantity(s.online),
            s.hours_online,
            quantity(s.people()),
            s.messages_per_person_day,
            h.to_whom()
        ),
        Shown::Measured(m) => format!(
            "Usage measured by the stack's metrics over the last {} days: {} online on average, {} connections, \
             {} messages and {} posts a day; so messages go to {}.\n\n",
            m.days,
            quantity(m.online),
            quantity(m.connections_per_day),
            quantity(m.messages_per_day),
            quantity(m.posts_per_day),
            h.to_whom()
        ),
    };
    let rows: Vec<[String; 5]> = e
        .lines
        .iter()
        .map(|l| {
            [
                l.service.to_string(),
                l.what.to_string(),
                match l.unit.strip_suffix('s') {
                    Some(one) if l.quantity == 1.0 => format!("1 {one}"),
                    _ => format!("{} {}", quantity(l.quantity), l.unit),
                },
                l.price.shown(l.unit),
                usd(l.cost),
            ]
        })
        .collect();
    let heads = ["service", "what", "a month", "price", "cost"].map(str::to_string);
    let width = |i: usize| rows.iter().chain([&heads]).map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3), width(4)];
    let row = |r: &[String; 5]| {
        format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {:>w4$}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        )
    };
    out += &row(&heads);
    for r in &rows {
        out += &row(r);
    }
    let total = ["total".to_string(), String::new(), String::new(), String::new(), usd(e.total())];
    out += &row(&total);
    out += "\nAssumptions (docs/guide/cost.md):\n";
    for a in &e.assumptions {
        out += &format!("- {a}\n");
    }
    if let Some(w) = &h.warning {
        out += &format!("- {w}\n");
    }
    out
}

/// The estimate as one JSON document (`--json`).
pub fn report(h: &Header, e: &Estimate) -> serde_json::Value {
    let lines: Vec<serde_json::Value> = e
        .lines
        .iter()
        .map(|l| {
            json!({
                "service": l.service,
                "what": l.what,
                "quantity": l.quantity,
                "unit": l.unit,
                "price": { "usd": l.price.usd, "per": l.price.per, "above": l.price.above.map(|(from, usd)| json!({ "from": from, "usd": usd })), "source": l.price.source },
                "cost": l.cost,
            })
        })
        .collect();
    json!({
        "stack": h.stack.name,
        "stage": h.stack.stage,
        "region": h.region,
        "prices": h.prices,
        "currency": "USD",
        "hoursPerMonth": estimate::HOURS_PER_MONTH,
        "freeTier": "not subtracted",
        "usage": match &h.shown {
            Shown::Stated(s) => json!({
                "connections": s.online,
                "hoursOnline": s.hours_online,
                "people": s.people(),
                "messagesPerUserDay": s.messages_per_person_day,
                "roomSize": s.room_size,
                "messageBytes": s.message_bytes,
            }),
            Shown::Measured(m) => json!({
                "measuredDays": m.days,
                "connections": m.online,
                "connectionsPerDay": m.connections_per_day,
                "messagesPerDay": m.messages_per_day,
                "postsPerDay": m.posts_per_day,
                "roomSize": match h.usage.recipients {
                    Recipients::Everyone => None,
                    Recipients::Room(r) => Some(r),
                },
                "messageBytes": h.usage.message_bytes,
            }),
        },
        "lines": lines,
        "assumptions": e.assumptions,
        "warnings": h.warning.iter().collect::<Vec<_>>(),
        "total": e.total(),
    })
}
