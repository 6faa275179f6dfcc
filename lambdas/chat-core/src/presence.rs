//! Who is online (`docs/presence.md`), at a cost per event that does not grow
//! with the crowd:
//!
//! - **The count** is kept in the presence table ([`Presence`]), one counter
//!   per minute in which connections' rows expire: `$connect` adds one to
//!   its row's minute, and whoever deletes a row takes one off. The count
//!   is the sum of the minutes still to come, one small Query, so a
//!   connection that vanished without `$disconnect` stops counting when its
//!   row expires, as the TTL removes it, and a lost update heals within the
//!   rows' three hours.
//! - **Joins and leaves** go to everyone one by one while at most
//!   `chat.presence` people are online (the seeds' texts, with `count` for
//!   JSON clients). Above it each is noted in the current digest window, and
//!   the window's first event enqueues the digest, delayed to just after the
//!   window ends: the notify function renders it then ([`crate::fanout`]),
//!   and spreads it over the next window, at most 7% of `chat.post_rate`. A
//!   window is long enough for a digest at 4%: 5 s up to 1,800 people at
//!   9,000 posts a second, 320 s at 100,000. Window lengths double (5, 10,
//!   20... 640 s), so a longer window holds whole shorter ones: when the crowd
//!   grows past a length, one more digest goes out, not one per event. While
//!   a crowd joins, digests overlap (the crowd is larger by the time one goes
//!   than when its window opened); at 500 joins a second to 100,000 the
//!   presence benchmark measures at most a fifth of the account's throttle.
//! - **The online list** is served a page at a time (one Scan page, never
//!   the whole table), with the count and a cursor to the next page.

use tracing::warn;

use crate::handler::{Ports, Settings, leave_delay};
use crate::metrics::Metric;
use crate::notice::{Notice, Target};
use crate::ports::{Change, Connection, DigestWindow, Format, Member, PortResult, ScanPage};
use crate::protocol::{self, Count, MAX_COMPAT_LIST_BYTES, Payload};

/// The width of a count bucket, in seconds.
pub const BUCKET_SECONDS: i64 = 60;
/// People a digest names of those who joined, and of those who left.
pub const DIGEST_NAMES: usize = 10;
/// The shortest digest window, in seconds.
pub const MIN_WINDOW_SECONDS: u32 = 5;
/// The longest digest window: 5 s doubled 7 times, within the 15 minutes
/// SQS delays a message at most.
pub const MAX_WINDOW_SECONDS: u32 = 640;
/// The share of `chat.post_rate` one digest may take at most, in percent.
pub const DIGEST_SHARE_PERCENT: u64 = 7;
/// The share a window is sized for, in percent: half of the above, so that
/// while a crowd joins (500 a second, more people by the time the digest
/// goes than when its window opened) one window's digest is done before the
/// next one's starts.
pub const WINDOW_SHARE_PERCENT: u64 = 4;
/// Seconds after its window ends that a digest goes out, for events noted
/// at the last moment (and clocks a little apart) to make it.
pub const DIGEST_LAG_SECONDS: i64 = 2;
/// People one JSON list page holds at most.
pub const LIST_PAGE: usize = 200;
/// Rows a compat list reads per Scan page.
const COMPAT_PAGE: usize = 1000;

/// The count bucket of a row that expires at `expires_at` (epoch seconds).
pub fn bucket(expires_at: i64) -> i64 {
    expires_at.div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS
}

/// The first bucket still counted at `now` (epoch ms).
pub fn live_from(now: i64) -> i64 {
    bucket(now.div_euclid(1000))
}

/// Posts a second a digest of `window` to `count` people makes: spread over
/// the window that follows, and at most [`DIGEST_SHARE_PERCENT`] of `post_rate`.
pub fn digest_rate(count: u64, window: DigestWindow, post_rate: u32) -> u64 {
    let most = (u64::from(post_rate.max(1)) * DIGEST_SHARE_PERCENT / 100).max(1);
    count.div_ceil(u64::from(window.seconds.max(1))).clamp(1, most)
}

/// The digest window's length for `count` people online: the shortest of 5,
/// 10, 20... 640 s in which one digest to all of them, at
/// [`WINDOW_SHARE_PERCENT`] of `post_rate`, is done. Lengths double so that
/// windows nest (each starts at a multiple of its length): a crowd that
/// grows past one length opens one longer window, which holds the shorter
/// one it was in.
pub fn window_seconds(count: u64, post_rate: u32) -> u32 {
    let budget = (u64::from(post_rate.max(1)) * WINDOW_SHARE_PERCENT / 100).max(1);
    let needed = count.div_ceil(budget);
    let mut seconds = MIN_WINDOW_SECONDS;
    while u64::from(seconds) < needed && seconds < MAX_WINDOW_SECONDS {
        seconds *= 2;
    }
    seconds
}

/// The window an event at `now` (epoch ms) belongs to.
pub fn window_at(now: i64, count: u64, post_rate: u32) -> DigestWindow {
    let seconds = window_seconds(count, post_rate);
    DigestWindow { seconds, index: now.div_euclid(i64::from(seconds) * 1000) }
}

/// Seconds from `now` (epoch ms) until a window's digest is due.
pub fn digest_delay(window: DigestWindow, now: i64) -> u32 {
    let due = window.end_ms() + DIGEST_LAG_SECONDS * 1000;
    ((due - now).max(0) + 999).div_euclid(1000).min(i64::from(MAX_WINDOW_SECONDS)) as u32
}

/// How many are online at `now`, if the chat keeps a count, and when it was
/// read (this function's clock, never before `now`); a failure to read it
/// only leaves it out.
pub(crate) async fn count(ports: Ports<'_>, now: i64) -> Option<Count> {
    let presence = ports.presence?;
    match presence.count(now).await {
        Ok(online) => {
            // Every reading of the count is the metric's latest.
            ports.record(Metric::Online, online as f64);
            Some(Count { online, at_us: read_at(now) })
        }
        Err(e) => {
            warn!(error = %e, "reading how many are online; leaving the count out");
            None
        }
    }
}

/// When a count is read, in epoch microseconds: this process's clock, never
/// before the event at `now` (epoch ms), and never the same twice here.
fn read_at(now: i64) -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
        .max(now.saturating_mul(1000));
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let at = clock.max(last + 1);
        match LAST.compare_exchange_weak(last, at, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return at,
            Err(seen) => last = seen,
        }
    }
}

/// Counts in the connection `$connect` has just stored, and says how its
/// join goes out: the count after it, for its welcome, and the queue message
/// that announces it (none when a digest already is on its way).
pub(crate) async fn arrived(
    ports: Ports<'_>,
    settings: &Settings,
    row: &Connection,
    now: i64,
) -> (Option<Count>, Option<(String, u32)>) {
    if let Some(presence) = ports.presence
        && let Err(e) = presence.arrive(row).await
    {
        warn!(connection = %row.connection_id, error = %e, "counting a new connection; the count is one short until its row expires");
    }
    let count = count(ports, now).await;
    (count, announce(ports, settings, Change::Joined, row, count, now).await)
}

/// Counts out a connection whose row the caller has just deleted, and
/// announces that it left. Failures are logged: the row is gone either way.
pub(crate) async fn departed(ports: Ports<'_>, settings: &Settings, row: &Connection, now: i64) {
    if let Some(presence) = ports.presence
        && let Err(e) = presence.depart(row).await
    {
        warn!(connection = %row.connection_id, error = %e, "counting a connection out; the count is one over until its row expires");
    }
    let count = count(ports, now).await;
    if let Some((body, delay)) = announce(ports, settings, Change::Left, row, count, now).await
        && let Err(e) = ports.notifier.send(body, delay).await
    {
        warn!(connection = %row.connection_id, error = %e, "queueing the leave notice");
    }
}

/// The queue message that announces a join or a leave: the notice itself
/// while at most `chat.presence` are online (or the count is unknown), else
/// the window's digest, if this is the window's first event.
async fn announce(
    ports: Ports<'_>,
    settings: &Settings,
    change: Change,
    row: &Connection,
    count: Option<Count>,
    now: i64,
) -> Option<(String, u32)> {
    if let (Some(presence), Some(Count { online, .. })) = (ports.presence, count)
        && online > u64::from(settings.presence)
    {
        let window = window_at(now, online, settings.post_rate);
        return match presence.note(window, change, &Member::of(row)).await {
            Ok(true) => {
                let trigger = Notice::new(Target::Digest(window), None, Payload::default()).at(window.end_ms());
                Some((trigger.to_body(), digest_delay(window, now)))
            }
            Ok(false) => None,
            Err(e) => {
                warn!(connection = %row.connection_id, error = %e, "noting a join or leave in the digest; it goes unannounced");
                None
            }
        };
    }
    let id = Some(row.connection_id.clone());
    Some(match change {
        Change::Joined => {
            let notice = Notice::new(Target::All, id, protocol::joined(row, count, now)).at(now);
            (notice.to_body(), settings.welcome_delay)
        }
        Change::Left => {
            let notice = Notice::new(Target::All, id, protocol::left(row, count, now)).at(now);
            (notice.to_body(), leave_delay(row.connected_at, now, settings.welcome_delay))
        }
    })
}

/// The reply to `list` for `caller`, from the page after `cursor`.
///
/// JSON: one Scan page of at most [`LIST_PAGE`] rows, with the count and the
/// cursor of the next page. Compat: go-apigw-webchat's `connections: ...`,
/// read a page at a time until it would pass [`MAX_COMPAT_LIST_BYTES`], then
/// cut with ` ... and N more`. Neither reads the whole table.
pub(crate) async fn list_reply(
    ports: Ports<'_>,
    caller: &Connection,
    cursor: Option<&str>,
    now: i64,
) -> PortResult<String> {
    let store = ports.store;
    let count = count(ports, now).await;
    // DynamoDB's TTL removes an expired row within days, not at once: its
    // connection is long gone (API Gateway closes every one after 2 hours).
    let live = |row: &Connection| row.expires_at <= 0 || row.expires_at > now.div_euclid(1000);
    if caller.format == Format::Json {
        let (mut rows, next) = store.scan_page(ScanPage { segment: 0, of: 1, after: cursor, limit: LIST_PAGE }).await?;
        rows.retain(live);
        return Ok(protocol::list_page(&rows, count, next.as_deref()));
    }
    let prefix = "connections: ".len();
    let mut ids: Vec<String> = Vec::new();
    let mut bytes = prefix;
    let mut after = cursor.map(str::to_string);
    let mut cut = false;
    'pages: loop {
        let page = ScanPage { segment: 0, of: 1, after: after.as_deref(), limit: COMPAT_PAGE };
        let (rows, next) = store.scan_page(page).await?;
        for row in rows.into_iter().filter(live) {
            // The id, a space before it, and room for the cut's own words.
            if bytes + row.connection_id.len() + 1 + " ... and 1000000000 more".len() > MAX_COMPAT_LIST_BYTES {
                cut = true;
                break 'pages;
            }
            bytes += row.connection_id.len() + 1;
            ids.push(row.connection_id);
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let remaining = cut.then(|| count.map_or(0, |c| c.online.saturating_sub(ids.len() as u64).max(1)));
    Ok(protocol::compat_list(&ids, remaining))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_in_the_minute_they_expire() {
        assert_eq!(bucket(1_764_614_459), 1_764_614_400);
        assert_eq!(bucket(1_764_614_460), 1_764_614_460);
        assert_eq!(live_from(1_764_614_459_999), 1_764_614_400);
        assert_eq!(bucket(-1), -60, "before the epoch, still a whole minute");
    }

    #[test]
    fn windows_keep_digests_within_a_few_percent_of_the_post_rate() {
        assert_eq!(window_seconds(0, 9000), 5);
        assert_eq!(window_seconds(101, 9000), 5);
        assert_eq!(window_seconds(1800, 9000), 5);
        assert_eq!(window_seconds(1801, 9000), 10);
        assert_eq!(window_seconds(3601, 9000), 20);
        assert_eq!(window_seconds(100_000, 9000), 320);
        assert_eq!(window_seconds(10_000_000, 9000), 640, "within SQS's longest delay");
        for (count, rate) in [(1_000, 9000), (10_000, 9000), (100_000, 9000), (50_000, 2250), (9, 180)] {
            let seconds = window_seconds(count, rate);
            let posts_per_second = count as f64 / f64::from(seconds);
            assert!(posts_per_second <= f64::from(rate) / 25.0 || seconds == 640, "{count} at {rate}: {seconds} s");
        }
        // A digest spreads over the window after it, at most 7% of the rate.
        let window = |seconds| DigestWindow { seconds, index: 0 };
        assert_eq!(digest_rate(100_000, window(320), 9000), 313);
        assert_eq!(digest_rate(1_000_000, window(640), 9000), 630);
        assert_eq!(digest_rate(3, window(5), 9000), 1);
        // Windows nest: a longer one starts where a shorter one does.
        let (short, long) = (window_at(1_764_614_455_000, 1500, 9000), window_at(1_764_614_455_000, 3000, 9000));
        assert_eq!((short.seconds, long.seconds), (5, 10));
        assert_eq!(long.index * 10, short.index * 5 - 5, "the 10 s window holds the 5 s one");
    }

    #[test]
    fn a_digest_is_due_two_seconds_after_its_window() {
        let window = window_at(1_764_614_401_500, 100, 9000);
        assert_eq!(window, DigestWindow { seconds: 5, index: 352_922_880 });
        assert_eq!(window.end_ms(), 1_764_614_405_000);
        assert_eq!(digest_delay(window, 1_764_614_401_500), 6, "3.5 s to the end, 2 s after it, rounded up");
        assert_eq!(digest_delay(window, 1_764_614_410_000), 0);
    }
}
