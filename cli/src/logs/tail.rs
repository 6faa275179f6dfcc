//! `--follow`: Live Tail, and polling FilterLogEvents where Live Tail is
//! refused, unavailable, or ends.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsError;
use aws_sdk_cloudwatchlogs::operation::start_live_tail::StartLiveTailOutput;
use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream;
use aws_sdk_cloudwatchlogs::types::error::StartLiveTailResponseStreamError;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;

use super::print::*;
use super::*;

/// How often a follow polls FilterLogEvents. Its quota is 5 requests a
/// second per account and region, shared with everything else that reads
/// logs (CloudWatch Logs quotas; re:Post "How do I determine throttling in my
/// CloudWatch logs?"): three groups every 2 s leave most of it to others.
pub(super) const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The longest wait between polls while FilterLogEvents throttles.
pub(super) const THROTTLED_INTERVAL: Duration = Duration::from_secs(30);

/// How far before the newest event shown a poll starts again: events reach
/// CloudWatch seconds after their timestamp, and an event of another
/// function can arrive with an older timestamp than one already shown. The
/// overlap is shown once ([`Seen`]).
pub(super) const LOOKBACK_MS: i64 = 10_000;

/// How far before the previous poll the next one starts when no event came
/// since: bounds what each poll scans, and tolerates that much clock skew.
pub(super) const SCAN_WINDOW_MS: i64 = 5 * 60_000;

/// At most this many log groups per Live Tail session (StartLiveTail's API
/// reference: `logGroupIdentifiers`, "You can include up to 10 log groups").
pub(super) const LIVE_TAIL_MAX_GROUPS: usize = 10;

/// Live Tail sends an update every second, empty or not (StartLiveTail's API
/// reference); this long without one is a stalled session.
pub(super) const LIVE_TAIL_SILENCE: Duration = Duration::from_secs(30);

/// A follow: what it reads, and where events go.
pub(super) struct Tail<'a> {
    pub(super) logs: &'a Client,
    pub(super) printer: &'a Printer,
    pub(super) filter: Option<&'a str>,
    pub(super) start: i64,
    /// `--endpoint-url` is set (moto, LocalStack).
    pub(super) emulated: bool,
}

/// How a Live Tail session ended.
pub(super) enum Ended {
    /// After three hours, by SessionTimeoutException: a new one starts.
    TimedOut,
    /// Any other way: the follow polls instead.
    Otherwise(String),
}

impl Tail<'_> {
    /// The events since `start`, then the new ones until Ctrl-C.
    pub(super) async fn follow(&self, mut groups: Vec<Group>) -> Result<()> {
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
    pub(super) async fn live_tail(&self, groups: &[Group]) -> Option<StartLiveTailOutput> {
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
    pub(super) async fn stream(
        &self,
        groups: &[Group],
        mut session: StartLiveTailOutput,
        seen: &mut Seen,
    ) -> Result<Ended> {
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
    pub(super) async fn poll(&self, groups: &mut Vec<Group>, seen: &mut Seen, mut scanned: i64) -> Result<()> {
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
pub(super) fn group_of<'a>(groups: &'a [Group], identifier: &str) -> Option<&'a Group> {
    let identifier = identifier.strip_suffix(":*").unwrap_or(identifier);
    groups.iter().find(|g| g.arn == identifier || g.name == identifier)
}

/// FilterLogEvents' answers that pass by themselves: ThrottlingException
/// (the common error of every CloudWatch Logs action; RequestLimitExceeded in
/// re:Post's "How do I determine throttling in my CloudWatch logs?") and
/// ServiceUnavailableException (its API reference).
pub(super) fn is_throttled(err: &anyhow::Error) -> bool {
    const CODES: &[&str] =
        &["ThrottlingException", "Throttling", "RequestLimitExceeded", "ServiceUnavailableException"];
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<SdkError<FilterLogEventsError, HttpResponse>>())
        .any(|e| e.code().is_some_and(|code| CODES.contains(&code)))
}

pub(super) fn is_broken_pipe(err: &anyhow::Error) -> bool {
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
pub(super) struct NoHostPrefix;

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
