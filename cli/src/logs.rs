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

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;
use aws_sdk_cloudwatchlogs::operation::start_live_tail::StartLiveTailOutput;
use aws_sdk_cloudwatchlogs::types::error::StartLiveTailResponseStreamError;
use aws_sdk_cloudwatchlogs::types::{FilteredLogEvent, LiveTailSessionLogEvent, StartLiveTailResponseStream};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::date_time::{DateTime, Format};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::cli::{Args, LogsArgs};
use wschat_engine::aws::{Aws, AwsContext, Missing};
use wschat_stack::UsageError;
use wschat_stack::{self as stack, Stack};

/// `--since`: where the events start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// This long before now.
    Ago(Duration),
    /// At this time, in milliseconds since the epoch (CloudWatch's unit).
    At(i64),
}

impl Since {
    /// The start in milliseconds since the epoch, now being `now_ms`.
    pub fn start(self, now_ms: i64) -> i64 {
        match self {
            Since::Ago(ago) => now_ms.saturating_sub(i64::try_from(ago.as_millis()).unwrap_or(i64::MAX)),
            Since::At(ms) => ms,
        }
    }
}

impl FromStr for Since {
    type Err = String;

    fn from_str(s: &str) -> Result<Since, String> {
        let s = s.trim();
        if let Some(ago) = duration(s) {
            return Ok(Since::Ago(ago));
        }
        DateTime::from_str(s, Format::DateTimeWithOffset)
            .ok()
            .and_then(|t| t.to_millis().ok())
            .map(Since::At)
            .ok_or_else(|| {
                format!("`{s}` is neither a duration (30s, 10m, 2h, 1d) nor an RFC 3339 time (2025-05-01T12:00:00Z)")
            })
    }
}

/// `30s`, `10m`, `2h`, `1d`.
fn duration(s: &str) -> Option<Duration> {
    let unit: u64 = match s.as_bytes().last()? {
        b's' => 1,
        b'm' => 60,
        b'h' => 3_600,
        b'd' => 86_400,
        _ => return None,
    };
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit).map(Duration::from_secs)
}

/// One line of `wschat logs --json`: a CloudWatch Logs event as it is, with
/// the function it belongs to. The fields are FilterLogEvents' own names;
/// `eventId` is null for events from Live Tail, which gives them none.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLine<'a> {
    pub function: &'a str,
    pub log_group: &'a str,
    pub log_stream: &'a str,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub ingestion_time: Option<i64>,
    pub event_id: Option<&'a str>,
    /// Unchanged, trailing newline and all.
    pub message: &'a str,
}

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

/// How often a follow polls FilterLogEvents. Its quota is 5 requests a
/// second per account and region, shared with everything else that reads
/// logs (CloudWatch Logs quotas; re:Post "How do I determine throttling in my
/// CloudWatch logs?"): three groups every 2 s leave most of it to others.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The longest wait between polls while FilterLogEvents throttles.
const THROTTLED_INTERVAL: Duration = Duration::from_secs(30);

/// How far before the newest event shown a poll starts again: events reach
/// CloudWatch seconds after their timestamp, and an event of another
/// function can arrive with an older timestamp than one already shown. The
/// overlap is shown once ([`Seen`]).
const LOOKBACK_MS: i64 = 10_000;

/// How far before the previous poll the next one starts when no event came
/// since: bounds what each poll scans, and tolerates that much clock skew.
const SCAN_WINDOW_MS: i64 = 5 * 60_000;

/// At most this many log groups per Live Tail session (StartLiveTail's API
/// reference: `logGroupIdentifiers`, "You can include up to 10 log groups").
const LIVE_TAIL_MAX_GROUPS: usize = 10;

/// Live Tail sends an update every second, empty or not (StartLiveTail's API
/// reference); this long without one is a stalled session.
const LIVE_TAIL_SILENCE: Duration = Duration::from_secs(30);

/// A follow: what it reads, and where events go.
struct Tail<'a> {
    logs: &'a Client,
    printer: &'a Printer,
    filter: Option<&'a str>,
    start: i64,
    /// `--endpoint-url` is set (moto, LocalStack).
    emulated: bool,
}

/// How a Live Tail session ended.
enum Ended {
    /// After three hours, by SessionTimeoutException: a new one starts.
    TimedOut,
    /// Any other way: the follow polls instead.
    Otherwise(String),
}

impl Tail<'_> {
    /// The events since `start`, then the new ones until Ctrl-C.
    async fn follow(&self, mut groups: Vec<Group>) -> Result<()> {
        let mut seen = Seen::default();
        let names = groups.iter().map(|g| g.function.as_str()).collect::<Vec<_>>().join(", ");
        eprintln!("following {names} (Ctrl-C to stop)");
        let mut from = self.start;
        let scanned = loop {
            // Each session starts before the read that catches up to it (the
            // events since `start`, or those between two sessions), so that
            // an event that arrives meanwhile is in one or the other (or in
            // both: shown once).
            let session = self.live_tail(&groups).await;
            let read = now_ms();
            let batch = read_all(self.logs, &groups, from, self.filter).await?;
            self.printer.print(&seen.news(batch.events))?;
            let Some(session) = session else { break read };
            match self.stream(&groups, session, &mut seen).await? {
                Ended::TimedOut => {
                    from = self.start.max(seen.newest.saturating_sub(LOOKBACK_MS)).max(now_ms() - SCAN_WINDOW_MS);
                }
                Ended::Otherwise(how) => {
                    tracing::debug!("Live Tail session ended ({how}); polling FilterLogEvents");
                    break now_ms();
                }
            }
        };
        self.poll(&mut groups, &mut seen, scanned).await
    }

    /// Starts a Live Tail session, or says in a debug line why not.
    async fn live_tail(&self, groups: &[Group]) -> Option<StartLiveTailOutput> {
        if groups.len() > LIVE_TAIL_MAX_GROUPS {
            tracing::debug!("Live Tail takes at most {LIVE_TAIL_MAX_GROUPS} log groups; polling FilterLogEvents");
            return None;
        }
        let mut request = self
            .logs
            .start_live_tail()
            .set_log_group_identifiers(Some(groups.iter().map(|g| g.arn.clone()).collect()))
            .set_log_event_filter_pattern(self.filter.map(str::to_string))
            .customize()
            // Any refusal means polling instead, at once: no retries. The
            // SDK would retry StartLiveTail's LimitExceededException (too many
            // sessions) as throttling.
            .config_override(aws_sdk_cloudwatchlogs::config::Builder::default().retry_config(RetryConfig::disabled()));
        if self.emulated {
            request = request.interceptor(NoHostPrefix);
        }
        match request.send().await {
            Ok(output) => Some(output),
            // StartLiveTail's errors (API reference): AccessDeniedException
            // (a role that may filter but not tail), InvalidOperationException,
            // InvalidParameterException, LimitExceededException (concurrent
            // sessions), ResourceNotFoundException; an emulator without it
            // answers that it knows no such operation. Polling works in each case.
            Err(err) => {
                tracing::debug!("Live Tail refused ({}); polling FilterLogEvents", DisplayErrorContext(&err));
                None
            }
        }
    }

    /// Shows a session's events until it ends.
    async fn stream(&self, groups: &[Group], mut session: StartLiveTailOutput, seen: &mut Seen) -> Result<Ended> {
        let mut warned = false;
        loop {
            let received = match tokio::time::timeout(LIVE_TAIL_SILENCE, session.response_stream.recv()).await {
                Ok(received) => received,
                Err(_) => return Ok(Ended::Otherwise(format!("no update for {} s", LIVE_TAIL_SILENCE.as_secs()))),
            };
            match received {
                Ok(Some(StartLiveTailResponseStream::SessionUpdate(update))) => {
                    if update.session_metadata().is_some_and(|m| m.sampled()) && !warned {
                        warned = true;
                        // LiveTailSessionUpdate: more than 500 matching events a second are sampled down to 500.
                        eprintln!("note: Live Tail samples: over 500 events a second match, not all are shown");
                    }
                    // Only events since `start`, as the reads do. (moto 5.2's StartLiveTail
                    // answers once with events it holds already, of whichever group it
                    // finds last, then closes the stream; the reads have them all.)
                    let mut events: Vec<Event> = update
                        .session_results()
                        .iter()
                        .filter_map(|e| group_of(groups, e.log_group_identifier()?).map(|g| Event::live(g, e)))
                        .filter(|e| e.timestamp >= self.start)
                        .collect();
                    events.sort_by_key(|e| e.timestamp);
                    self.printer.print(&seen.news(events))?;
                }
                Ok(Some(StartLiveTailResponseStream::SessionStart(start))) => {
                    tracing::debug!("Live Tail session {} started", start.session_id().unwrap_or("(no id)"));
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(Ended::Otherwise("the stream closed".into())),
                Err(err) => {
                    let timeout =
                        err.as_service_error().map(StartLiveTailResponseStreamError::is_session_timeout_exception);
                    return Ok(match timeout {
                        Some(true) => Ended::TimedOut,
                        _ => Ended::Otherwise(DisplayErrorContext(&err).to_string()),
                    });
                }
            }
        }
    }

    /// Polls FilterLogEvents every [`POLL_INTERVAL`], for ever.
    async fn poll(&self, groups: &mut Vec<Group>, seen: &mut Seen, mut scanned: i64) -> Result<()> {
        let mut interval = POLL_INTERVAL;
        loop {
            tokio::time::sleep(interval).await;
            let from = self.start.max(seen.newest.saturating_sub(LOOKBACK_MS)).max(scanned - SCAN_WINDOW_MS);
            let polled = now_ms();
            match read_all(self.logs, groups, from, self.filter).await {
                Ok(batch) => {
                    interval = POLL_INTERVAL;
                    scanned = polled;
                    if !batch.gone.is_empty() {
                        eprintln!("note: no log group any more for {}; following the others", listed(&batch.gone));
                        groups.retain(|g| !batch.gone.iter().any(|gone| gone.name == g.name));
                        if groups.is_empty() {
                            anyhow::bail!("every log group followed was deleted");
                        }
                    }
                    self.printer.print(&seen.news(batch.events))?;
                }
                // The SDK retried with backoff already; a follow waits longer and goes on.
                Err(err) if is_throttled(&err) => {
                    interval = (interval * 2).min(THROTTLED_INTERVAL);
                    tracing::debug!("{}; polling again in {} s", wschat_engine::aws::report(&err), interval.as_secs());
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// The group a Live Tail event names, by ARN or name ("The name or ARN of
/// the log group": LiveTailSessionLogEvent).
fn group_of<'a>(groups: &'a [Group], identifier: &str) -> Option<&'a Group> {
    let identifier = identifier.strip_suffix(":*").unwrap_or(identifier);
    groups.iter().find(|g| g.arn == identifier || g.name == identifier)
}

/// FilterLogEvents' answers that pass by themselves: ThrottlingException
/// (the common error of every CloudWatch Logs action; RequestLimitExceeded in
/// re:Post's "How do I determine throttling in my CloudWatch logs?") and
/// ServiceUnavailableException (its API reference).
fn is_throttled(err: &anyhow::Error) -> bool {
    const CODES: &[&str] =
        &["ThrottlingException", "Throttling", "RequestLimitExceeded", "ServiceUnavailableException"];
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<SdkError<FilterLogEventsError, HttpResponse>>())
        .any(|e| e.code().is_some_and(|code| CODES.contains(&code)))
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// StartLiveTail with `--endpoint-url`: sent to that address as it is. The
/// SDK puts the operation's host prefix `stream-` before the endpoint's host
/// (for `stream-logs.{region}.amazonaws.com`), which turns `127.0.0.1` into
/// `stream-127.0.0.1`. Other SDKs have `disable_host_prefix_injection` for
/// this, "when using custom endpoints such as VPC endpoints or local testing
/// tools" (AWS SDKs and Tools Reference Guide, Host prefix injection); the
/// Rust SDK reads no such setting.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "wschat::NoHostPrefix"
    }

    // The operation stores its prefix before serialization
    // (`read_before_execution`); the endpoint is applied after it.
    fn modify_before_serialization(
        &self,
        _context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

/// The events shown so far, so that each is shown once when reads overlap:
/// polls that start before the newest event shown, and a Live Tail session
/// beside the reads around it. FilterLogEvents' events are known by their
/// `eventId`. Live Tail's have none, so they are known by log group, stream,
/// timestamp and message: two such events that are identical in all four
/// are shown once. The handlers' lines never are (each carries its own
/// microsecond timestamp), nor Lambda's (each names its request).
#[derive(Debug, Default)]
struct Seen {
    ids: BTreeSet<(i64, String, String)>,
    /// The prints of the events shown, and whether each came with an id.
    prints: BTreeMap<Print, Shown>,
    /// The newest timestamp shown.
    newest: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Print {
    timestamp: i64,
    group: String,
    stream: String,
    message: String,
}

/// How the events with one print were shown.
#[derive(Debug, Default)]
struct Shown {
    with_id: bool,
    without_id: bool,
}

/// How long [`Seen`] remembers an event, before the newest one shown: longer
/// than any overlap of two reads ([`LOOKBACK_MS`], the seconds between
/// StartLiveTail and the read after it).
const REMEMBER_MS: i64 = 60_000;

impl Seen {
    /// The events of `events` not shown before, now remembered as shown.
    fn news(&mut self, events: Vec<Event>) -> Vec<Event> {
        let news: Vec<Event> = events.into_iter().filter(|e| self.first_time(e)).collect();
        if let Some(newest) = news.iter().map(|e| e.timestamp).max() {
            self.newest = self.newest.max(newest);
            self.forget_before(self.newest.saturating_sub(REMEMBER_MS));
        }
        news
    }

    fn first_time(&mut self, event: &Event) -> bool {
        let print = Print {
            timestamp: event.timestamp,
            group: event.group.clone(),
            stream: event.stream.clone(),
            message: event.message.clone(),
        };
        let shown = self.prints.entry(print).or_default();
        match &event.id {
            // Another of FilterLogEvents' events with the same print is another event.
            Some(id) => {
                let new = self.ids.insert((event.timestamp, event.group.clone(), id.clone())) && !shown.without_id;
                shown.with_id = true;
                new
            }
            None => {
                let new = !shown.with_id && !shown.without_id;
                shown.without_id = true;
                new
            }
        }
    }

    fn forget_before(&mut self, floor: i64) {
        self.ids = self.ids.split_off(&(floor, String::new(), String::new()));
        let first = Print { timestamp: floor, group: String::new(), stream: String::new(), message: String::new() };
        self.prints = self.prints.split_off(&first);
    }
}

/// Where events go, and how they look.
struct Printer {
    json: bool,
    /// ANSI colours for the level.
    color: bool,
    /// The longest function name, to align the messages.
    width: usize,
}

impl Printer {
    /// Colours only when stdout is a terminal and NO_COLOR is unset (no-color.org).
    fn stdout(json: bool, groups: &[Group]) -> Printer {
        let color = !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let width = groups.iter().map(|g| g.function.len()).max().unwrap_or(0);
        Printer { json, color, width }
    }

    fn print(&self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        for event in events {
            writeln!(out, "{}", self.line(event))?;
        }
        Ok(out.flush()?)
    }

    fn line(&self, event: &Event) -> String {
        if self.json {
            let line = EventLine {
                function: &event.function,
                log_group: &event.group,
                log_stream: &event.stream,
                timestamp: event.timestamp,
                ingestion_time: event.ingestion_time,
                event_id: event.id.as_deref(),
                message: &event.message,
            };
            return serde_json::to_string(&line).expect("an event serializes");
        }
        let head = format!("{} {:<width$}", time_text(event.timestamp), event.function, width = self.width);
        match Structured::parse(&event.message) {
            Some(s) => {
                let mut line = format!("{head} {}", level_text(&s.level, self.color));
                if !s.message.is_empty() {
                    line.push(' ');
                    line.push_str(&s.message);
                }
                for (key, value) in &s.fields {
                    line.push_str(&format!(" {key}={}", value_text(value)));
                }
                line
            }
            None => format!("{head} {}", event.message.trim_end_matches(['\n', '\r'])),
        }
    }
}

/// A handler's JSON line (tracing-subscriber's JSON format, as chat-core's
/// `init_logging` sets it up: the event's fields flattened beside
/// `timestamp` and `level`, and the current span under `span`).
#[derive(Debug, PartialEq)]
struct Structured {
    level: String,
    message: String,
    /// The event's fields, then its span's (without the span's name), each by key.
    fields: Vec<(String, Value)>,
}

impl Structured {
    fn parse(line: &str) -> Option<Structured> {
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(line.trim()) else { return None };
        let Some(Value::String(level)) = object.remove("level") else { return None };
        // Without flatten_event, the fields are under `fields`.
        let mut fields = match object.remove("fields") {
            Some(Value::Object(fields)) => fields,
            Some(other) => Map::from_iter([("fields".to_string(), other)]),
            None => Map::new(),
        };
        // The time shown is CloudWatch's; the others are tracing's own.
        for key in ["timestamp", "target", "threadName", "threadId", "filename", "line_number", "spans"] {
            object.remove(key);
        }
        let span = object.remove("span");
        fields.extend(object);
        let message = match fields.remove("message") {
            Some(Value::String(message)) => message,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
        if let Some(Value::Object(span)) = span {
            fields.extend(span.into_iter().filter(|(key, _)| key != "name"));
        }
        Some(Structured { level, message, fields })
    }
}

/// A field's value: strings bare unless they need quotes, the rest as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') => {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// The level, five wide, coloured as tracing-subscriber colours it on a terminal.
fn level_text(level: &str, color: bool) -> String {
    let padded = format!("{level:<5}");
    let code = match level.to_ascii_uppercase().as_str() {
        "ERROR" | "FATAL" => "31",
        "WARN" | "WARNING" => "33",
        "INFO" => "32",
        "DEBUG" => "34",
        "TRACE" => "35",
        _ => return padded,
    };
    if color { format!("\x1b[{code}m{padded}\x1b[0m") } else { padded }
}

/// `2025-05-01T12:00:00.123Z`: UTC, to the millisecond (CloudWatch's precision).
fn time_text(ms: i64) -> String {
    match DateTime::from_secs(ms.div_euclid(1000)).fmt(Format::DateTime) {
        Ok(seconds) => format!("{}.{:03}Z", seconds.trim_end_matches('Z'), ms.rem_euclid(1000)),
        Err(_) => ms.to_string(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(function: &str, timestamp: i64, id: Option<&str>, message: &str) -> Event {
        Event {
            function: function.into(),
            group: format!("/aws/lambda/t-dev-{function}"),
            stream: "2025/05/01/[$LATEST]abc".into(),
            timestamp,
            ingestion_time: Some(timestamp + 5),
            id: id.map(str::to_string),
            message: message.into(),
        }
    }

    fn plain() -> Printer {
        Printer { json: false, color: false, width: 6 }
    }

    #[test]
    fn since_takes_durations_and_rfc_3339_times() {
        assert_eq!("30s".parse(), Ok(Since::Ago(Duration::from_secs(30))));
        assert_eq!("10m".parse(), Ok(Since::Ago(Duration::from_secs(600))));
        assert_eq!("2h".parse(), Ok(Since::Ago(Duration::from_secs(7_200))));
        assert_eq!("1d".parse(), Ok(Since::Ago(Duration::from_secs(86_400))));
        assert_eq!("2025-05-01T12:00:00Z".parse(), Ok(Since::At(1_746_100_800_000)));
        assert_eq!("2025-05-01T14:00:00.5+02:00".parse(), Ok(Since::At(1_746_100_800_500)));
        for bad in ["", "m", "10", "10x", "-5m", "1.5h", "ten minutes", "2025-05-01", "99999999999999999999d"] {
            let err = bad.parse::<Since>().unwrap_err();
            assert!(err.contains("neither a duration"), "{bad}: {err}");
        }
        assert_eq!(Since::Ago(Duration::from_secs(600)).start(1_000_000), 400_000);
        assert_eq!(Since::At(5).start(1_000_000), 5);
    }

    #[test]
    fn a_handler_line_shows_time_function_level_message_and_fields() {
        let line = r#"{"timestamp":"2025-05-01T12:00:00.123456Z","level":"INFO","message":"joined room","room":"general","count":3,"who":"Ada Lovelace","span":{"requestId":"r-1","name":"Lambda runtime invoke"}}"#;
        assert_eq!(
            plain().line(&event("chat", 1_746_100_800_123, Some("1"), &format!("{line}\n"))),
            r#"2025-05-01T12:00:00.123Z chat   INFO  joined room count=3 room=general who="Ada Lovelace" requestId=r-1"#
        );
    }

    #[test]
    fn unflattened_fields_and_missing_messages_are_shown_too() {
        let line = r#"{"level":"WARN","fields":{"message":"slow","ms":1200},"target":"chat"}"#;
        assert_eq!(plain().line(&event("notify", 0, None, line)), "1970-01-01T00:00:00.000Z notify WARN  slow ms=1200");
        let line = r#"{"level":"DEBUG","connection":"abc="}"#;
        assert_eq!(
            plain().line(&event("chat", 0, None, line)),
            r#"1970-01-01T00:00:00.000Z chat   DEBUG connection="abc=""#
        );
    }

    #[test]
    fn other_lines_are_shown_as_they_are() {
        let report = "REPORT RequestId: 8f5 Duration: 2.11 ms\tBilled Duration: 3 ms\n";
        assert_eq!(
            plain().line(&event("chat", 1_000, None, report)),
            "1970-01-01T00:00:01.000Z chat   REPORT RequestId: 8f5 Duration: 2.11 ms\tBilled Duration: 3 ms"
        );
        // JSON, but not a handler's line.
        let other = r#"{"time":"x","type":"platform.start"}"#;
        assert_eq!(plain().line(&event("chat", 0, None, other)), format!("1970-01-01T00:00:00.000Z chat   {other}"));
    }

    #[test]
    fn levels_are_coloured_only_when_asked() {
        let line = r#"{"level":"ERROR","message":"boom"}"#;
        let coloured = Printer { json: false, color: true, width: 4 }.line(&event("chat", 0, None, line));
        assert_eq!(coloured, "1970-01-01T00:00:00.000Z chat \x1b[31mERROR\x1b[0m boom");
        assert!(!plain().line(&event("chat", 0, None, line)).contains('\x1b'));
    }

    #[test]
    fn json_lines_carry_the_event_unchanged() {
        let printer = Printer { json: true, color: true, width: 4 };
        let line: Value = serde_json::from_str(&printer.line(&event("chat", 7, Some("42"), "hi\n"))).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "function": "chat",
                "logGroup": "/aws/lambda/t-dev-chat",
                "logStream": "2025/05/01/[$LATEST]abc",
                "timestamp": 7,
                "ingestionTime": 12,
                "eventId": "42",
                "message": "hi\n",
            })
        );
    }

    #[test]
    fn overlapping_reads_show_each_event_once() {
        let mut seen = Seen::default();
        // Two of FilterLogEvents' events with the same text: two events.
        let first = vec![event("chat", 10, Some("1"), "a"), event("chat", 10, Some("2"), "a")];
        assert_eq!(seen.news(first.clone()).len(), 2);
        // A poll that starts before the newest event shown.
        let again = vec![first[1].clone(), event("chat", 11, Some("3"), "b")];
        assert_eq!(seen.news(again), vec![event("chat", 11, Some("3"), "b")]);
        // Live Tail's copies (no id) of events shown, and of one not shown yet, twice.
        let live = vec![event("chat", 10, None, "a"), event("chat", 12, None, "c"), event("chat", 12, None, "c")];
        assert_eq!(seen.news(live), vec![event("chat", 12, None, "c")]);
        // ...and FilterLogEvents' copy of that one afterwards.
        assert!(seen.news(vec![event("chat", 12, Some("4"), "c")]).is_empty());
        // Another function's event with the same text is another event.
        assert_eq!(seen.news(vec![event("notify", 12, None, "c")]).len(), 1);
    }

    #[test]
    fn seen_forgets_what_no_read_can_return_again() {
        let mut seen = Seen::default();
        seen.news(vec![event("chat", 1_000, Some("1"), "old")]);
        seen.news(vec![event("chat", 1_000 + REMEMBER_MS + 1, Some("2"), "new")]);
        assert_eq!(seen.ids.len(), 1);
        assert_eq!(seen.prints.len(), 1);
        assert_eq!(seen.newest, 1_000 + REMEMBER_MS + 1);
    }

    #[test]
    fn live_tail_events_are_matched_to_their_group_by_arn_or_name() {
        let groups = vec![Group {
            function: "chat".into(),
            name: "/aws/lambda/t-dev-chat".into(),
            arn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/t-dev-chat".into(),
        }];
        assert!(group_of(&groups, "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/t-dev-chat").is_some());
        assert!(group_of(&groups, "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/t-dev-chat:*").is_some());
        assert!(group_of(&groups, "/aws/lambda/t-dev-chat").is_some());
        assert!(group_of(&groups, "/aws/lambda/t-dev-notify").is_none());
    }
}
