//! `wschat logs`: the functions' log lines from CloudWatch Logs, interleaved
//! by time, and with `--follow` the new ones as they arrive.
//!
//! Events are read with `FilterLogEvents`, one log group per function.
//! `--follow` then uses Live Tail (`StartLiveTail`), and polls
//! `FilterLogEvents` where Live Tail is refused, unavailable, or ends.
//!
//! Events go to stdout: `TIME FUNCTION LEVEL message key=value...` for the
//! handlers' JSON lines, anything else as it is, or with `--json` one
//! [`EventLine`] per line. Notes go to stderr.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;
use aws_sdk_cloudwatchlogs::types::{FilteredLogEvent, LiveTailSessionLogEvent};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use crate::cli::{Args, LogsArgs};

mod print;
pub mod since;
mod tail;
#[cfg(test)]
mod tests;

pub use print::EventLine;
use print::{Printer, time_text};
pub use since::Since;
use tail::{Tail, is_broken_pipe};
use wschat_engine::aws::{Aws, AwsContext, Missing};
use wschat_stack::UsageError;
use wschat_stack::{self as stack, Stack};

/// A function's log group.
#[derive(Debug, Clone)]
struct Group {
    function: String,
    name: String,
    /// Without the `:*` suffix: Live Tail refuses ARNs that end with it.
    arn: String,
}

/// A log event, from FilterLogEvents or Live Tail.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    function: String,
    group: String,
    stream: String,
    timestamp: i64,
    ingestion_time: Option<i64>,
    id: Option<String>,
    message: String,
}

impl Event {
    fn filtered(group: &Group, event: FilteredLogEvent) -> Event {
        Event {
            function: group.function.clone(),
            group: group.name.clone(),
            stream: event.log_stream_name.unwrap_or_default(),
            timestamp: event.timestamp.unwrap_or_default(),
            ingestion_time: event.ingestion_time,
            id: event.event_id,
            message: event.message.unwrap_or_default(),
        }
    }

    fn live(group: &Group, event: &LiveTailSessionLogEvent) -> Event {
        Event {
            function: group.function.clone(),
            group: group.name.clone(),
            stream: event.log_stream_name().unwrap_or_default().to_string(),
            timestamp: event.timestamp().unwrap_or_default(),
            ingestion_time: event.ingestion_time(),
            id: None,
            message: event.message().unwrap_or_default().to_string(),
        }
    }
}

/// Runs `wschat logs`.
pub async fn run(args: &Args, logs_args: &LogsArgs) -> Result<()> {
    let stack = stack::load(&args.file, &args.stage)?;
    let functions = selected(&stack, &logs_args.functions)?;
    let target = args.aws.for_stack(&stack);
    let aws = Aws::load(&target).await?;
    let account = aws.account().await?;
    let arns = stack.arns(&account.partition, aws.region(), &account.id);
    let logs = aws.logs();
    let existing = existing_groups(&logs, &stack).await?;
    let (groups, missing): (Vec<Group>, Vec<Group>) = functions
        .iter()
        .map(|f| Group { function: f.clone(), name: stack.log_group_name(f), arn: arns.log_group(f) })
        .partition(|g| existing.contains(&g.name));
    if groups.is_empty() {
        anyhow::bail!(
            "no log group of stack `{}`, stage `{}` exists in {} yet: {}; `wschat deploy` creates them",
            stack.name,
            stack.stage,
            aws.region(),
            listed(&missing)
        );
    }
    if !missing.is_empty() {
        eprintln!("note: no log group yet for {}; showing the others", listed(&missing));
    }
    let printer = Printer::stdout(args.json, &groups);
    let filter = logs_args.filter.as_deref();
    let start = logs_args.since.start(now_ms());
    let outcome = if logs_args.follow {
        let tail = Tail { logs: &logs, printer: &printer, filter, start, emulated: aws.endpoint_url().is_some() };
        tokio::select! {
            outcome = tail.follow(groups) => outcome,
            // Ctrl-C ends a follow as the user asked, not as a failure.
            Ok(()) = tokio::signal::ctrl_c() => Ok(()),
        }
    } else {
        show(&logs, &printer, &groups, start, filter).await
    };
    match outcome {
        // `wschat logs | head`: the reader has all it wants.
        Err(err) if is_broken_pipe(&err) => Ok(()),
        other => other,
    }
}

/// The functions asked for, in stack.yaml's order, or all of them.
fn selected(stack: &Stack, asked: &[String]) -> Result<Vec<String>, UsageError> {
    let unknown: Vec<&str> = asked.iter().map(String::as_str).filter(|f| !stack.functions.contains_key(*f)).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = stack.functions.keys().map(String::as_str).collect();
        let plural = if unknown.len() == 1 { "" } else { "s" };
        return Err(UsageError(format!(
            "unknown function{plural} {}; stack `{}` has {}",
            quoted(&unknown),
            stack.name,
            quoted(&known)
        )));
    }
    Ok(stack.functions.keys().filter(|f| asked.is_empty() || asked.contains(f)).cloned().collect())
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn listed(groups: &[Group]) -> String {
    groups.iter().map(|g| format!("{} (`{}`)", g.function, g.name)).collect::<Vec<_>>().join(", ")
}

/// The names of the stack's log groups that exist.
async fn existing_groups(logs: &Client, stack: &Stack) -> Result<BTreeSet<String>> {
    let groups = wschat_engine::resources::log_group::list_stack_groups(logs, stack).await?;
    Ok(groups.into_iter().filter_map(|g| g.log_group_name).collect())
}

/// Every event of one group from `start` on, through every page (a page may
/// be empty while a `nextToken` says there is more: FilterLogEvents' API
/// reference). `None` when the group does not exist.
async fn read_group(
    logs: &Client,
    group: &Group,
    start: i64,
    filter: Option<&str>,
) -> Result<Option<Vec<Event>>, SdkError<FilterLogEventsError, HttpResponse>> {
    let mut pages = logs
        .filter_log_events()
        .log_group_name(&group.name)
        .start_time(start)
        .set_filter_pattern(filter.map(str::to_string))
        .into_paginator()
        .send();
    let mut events = Vec::new();
    while let Some(page) = pages.next().await {
        // ResourceNotFoundException ("The specified resource does not exist":
        // FilterLogEvents' API reference): the group went since it was listed.
        let Some(page) = page.or_missing()? else { return Ok(None) };
        events.extend(page.events.unwrap_or_default().into_iter().map(|e| Event::filtered(group, e)));
    }
    Ok(Some(events))
}

/// What one read of every group found.
struct Batch {
    /// Ordered by timestamp; equal timestamps keep each group's order (by
    /// timestamp, ingestion time, then PutLogEvents request: FilterLogEvents'
    /// API reference), and across groups stack.yaml's order of functions.
    events: Vec<Event>,
    /// The groups that no longer exist.
    gone: Vec<Group>,
}

/// Reads every group at once from `start` on.
async fn read_all(logs: &Client, groups: &[Group], start: i64, filter: Option<&str>) -> Result<Batch> {
    let reads = groups.iter().map(|group| async move {
        let doing = || format!("reading the events of log group `{}`", group.name);
        read_group(logs, group, start, filter).await.aws_context(doing).map(|events| (group, events))
    });
    let mut batch = Batch { events: Vec::new(), gone: Vec::new() };
    for (group, events) in futures::future::try_join_all(reads).await? {
        match events {
            Some(events) => batch.events.extend(events),
            None => batch.gone.push(group.clone()),
        }
    }
    batch.events.sort_by_key(|e| e.timestamp);
    Ok(batch)
}

/// `wschat logs` without `--follow`.
async fn show(logs: &Client, printer: &Printer, groups: &[Group], start: i64, filter: Option<&str>) -> Result<()> {
    let batch = read_all(logs, groups, start, filter).await?;
    if !batch.gone.is_empty() {
        eprintln!("note: no log group any more for {}", listed(&batch.gone));
    }
    if batch.events.is_empty() {
        let matching = filter.map(|f| format!(" matching `{f}`")).unwrap_or_default();
        eprintln!("note: no log events{matching} since {}", time_text(start));
    }
    printer.print(&batch.events)
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
