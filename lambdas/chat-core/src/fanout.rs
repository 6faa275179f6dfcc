//! The notify side: one batch of queued notices, fanned out to their
//! recipients.
//!
//! - **Sharding.** A notice to everyone, when the table holds more than
//!   `shard_size` rows (by DynamoDB's `ItemCount` or the presence count,
//!   the larger, so no scan is needed to plan), becomes one segment of a parallel scan per `shard_size` rows: the
//!   invocation that reads the notice writes segments 1.. to the queue and
//!   delivers segment 0 itself, and Lambda's concurrency delivers the rest
//!   alongside. A segment that turns out to hold more than a page writes its
//!   continuation to the queue before it posts its page. A room with more
//!   than `shard_size` members is split the same way, into lists of
//!   recipients. Smaller notices are delivered in the invocation that reads
//!   them, as they always were.
//! - **Pace.** One notice's posts stay under `post_rate` per second in all:
//!   each shard posts at its share of it, the rate divided by how many of the
//!   notice's shards can run at once (its shards, or the mapping's maximum
//!   concurrency times its batch size, whichever is fewer); an invocation
//!   takes at least the rate divided by the maximum concurrency, since no
//!   more invocations than that run at once, however Lambda fills batches.
//!   The records of a batch share their invocation's rate: the first whose
//!   recipients are known posts at the batch's. A try again in place goes
//!   ahead of the first tries waiting.
//! - **Pipelined.** The records' recipients are looked up at once, and each
//!   record's posts start as soon as its own are known: a batch of segments
//!   does not wait for its slowest page. A record waits only for the earlier
//!   records of other notices, so that a recipient of both gets them in
//!   queue order.
//! - **Per-recipient outcomes.** A post that fails in a way that may pass (a
//!   429, a 5xx) is tried again in place,
//!   [`IN_PLACE_TRIES`] times in all, twice at once and then 20, 40 and 80 ms
//!   later, each try one request (the fan-out's poster makes no retries of
//!   its own) through the pace; a post with no answer within `post_timeout`
//!   is not (each more try would hold the batch another timeout). Then that recipient's
//!   remaining frames are re-enqueued with the attempt count and a backoff,
//!   up to [`MAX_ATTEMPTS`] times; the record itself succeeds. A refused post
//!   (400, 403, 413) is logged and dropped. Gone (410) deletes the row.
//! - **Redelivery is harmless.** Every record has a key in the delivery
//!   ledger (the notice id and the shard). Posts are recorded in parts as they
//!   go, and the record is marked done at the end: a record SQS delivers again
//!   skips whatever was posted, and a done record is skipped whole.
//! - **Time.** When the invocation's deadline draws near, it stops starting
//!   posts and hands the recipients it has not reached on, through the queue.
//!
//! Each recipient gets its frames in queue order, one at a time. Each record
//! of the batch adds `fanout_concurrency` posts in flight.
//!
//! On real processes (`--example fanout_processes`: eight `notify`
//! processes, moto, a simulated Management API) a broadcast to 4,000 people
//! took 3.84 times the floor with the SDK's retries and everything planned
//! before the first post, and 1.52 to 1.78 times with this (the paused-clock
//! benchmark says 1.35 for the same shape; docs/dev/scaling.md).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracing::{error, info, warn};

mod delivery;

use delivery::{Delivery, Pacer, Tally, Totals, releasable};

use crate::event::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use crate::handler::{Ports, Settings, now_millis};
use crate::metrics::Metric;
use crate::notice::{Notice, Recipient, Segment, Target};
use crate::ports::{Connection, PortError, PortResult, ScanPage};

/// Invocations that try a recipient (the first, and four it was re-enqueued
/// to) before its frames are dropped.
pub const MAX_ATTEMPTS: u32 = 5;

/// Tries of a post in one invocation before the recipient is re-enqueued.
/// A transient failure usually passes within a second: trying again here
/// keeps a broadcast's tail short, where a queue round trip costs seconds
/// (the re-enqueued part waits for the end of its invocation, then for a
/// poller and an instance). Each try is a single request
/// (`lambda::fanout_poster` turns the SDK's retries off), so every
/// one of them is paced.
pub const IN_PLACE_TRIES: u32 = 5;

/// The pause after the `n`-th failed try in place (from 1): none after the
/// first, then 20, 40 and 80 ms; 140 ms in all, so a recipient that fails
/// every try holds its slot for about five posts' time. A longer pause
/// holds the whole batch (Lambda's invocation ends with its slowest record).
fn in_place_pause(n: u32) -> Duration {
    match n {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis(20 << (n - 2).min(6)),
    }
}

/// Posts recorded in the ledger at a time: a crash repeats at most this many
/// (plus the posts in flight).
pub const CHECKPOINT_EVERY: usize = 100;

/// Most segments one notice is split into.
const MAX_SEGMENTS: u64 = 100_000;

/// SQS's longest delay, in seconds.
const MAX_DELAY_SECONDS: u32 = 900;

/// The largest queue message SQS takes, in bytes (256 KiB), less room for
/// SendMessageBatch's own framing.
const MAX_BODY: usize = 250_000;

/// Bytes a recipient adds to a shard's body, beyond its connection id.
const RECIPIENT_BYTES: usize = 64;

/// A connection this young that answers 410 may not be established yet (API
/// Gateway accepts posts only once `$connect` has returned): its row is kept,
/// and its `$disconnect` or the TTL removes it if it really is gone.
const GONE_GRACE_MILLIS: i64 = 10_000;

/// Seconds before the `attempt`-th re-enqueued try: 0 (the tries in place
/// were the quick ones), then 1, 2, 4...
fn backoff_seconds(attempt: u32) -> u32 {
    match attempt {
        0 | 1 => 0,
        n => 1 << (n - 2).min(9),
    }
}

/// Handles one batch from the notification queue: fans each notice out,
/// re-enqueues what may still be delivered later, and reports the records
/// SQS should deliver again. `deadline` is the invocation's (Lambda's
/// context); without one, the batch is delivered however long it takes.
pub async fn handle_sqs(
    ports: Ports<'_>,
    settings: &Settings,
    event: &SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let started = Instant::now();
    let mut records = Vec::new();
    let mut failed = Vec::new();
    for record in &event.records {
        match Notice::from_body(&record.body) {
            Ok(notice) => records.push(Record::new(record.message_id.clone(), notice)),
            Err(e) => {
                // A poison message: retrying cannot help, but reporting it
                // sends it to the dead-letter queue where it can be looked at.
                error!(message = %record.message_id, error = %e, "a queue message that is not a notice");
                failed.push(record.message_id.clone());
            }
        }
    }

    // What earlier deliveries of these records did.
    let progress = futures::future::join_all(records.iter().map(|r| ports.ledger.read(&r.key))).await;
    for (record, progress) in records.iter_mut().zip(progress) {
        match progress {
            Ok(progress) if progress.done => {
                info!(message = %record.message_id, key = %record.key, "delivered before; skipping it");
                record.skip = true;
            }
            Ok(progress) => record.delivered = progress.delivered,
            Err(e) => {
                error!(message = %record.message_id, key = %record.key, error = %e, "reading the delivery ledger");
                record.failed = true;
            }
        }
    }

    let stop_at = deadline.map(|deadline| {
        let budget = deadline.saturating_duration_since(started);
        // Time for the posts in flight to end and the rest to be handed on;
        // at least half of the invocation goes to posting.
        let margin = (settings.post_timeout + Duration::from_secs(1)).min(budget / 2);
        deadline - margin
    });
    let delivery = Delivery {
        ports,
        settings,
        pacer: Pacer::new(f64::from(settings.post_rate.max(1)) / f64::from(settings.max_concurrency.max(1))),
        stop_at,
        now: now_millis(),
        tallies: Mutex::new(records.iter().map(|_| Tally::default()).collect()),
        keys: records.iter().map(|r| r.key.clone()).collect(),
        ats: records.iter().map(|r| r.notice.at).collect(),
        lanes: Mutex::default(),
        slots: tokio::sync::Semaphore::new(0),
    };

    // Every record's recipients, looked up at once (lookups are shared), and
    // each record's posts started as soon as its recipients are known, so
    // that a batch of segments does not wait for its slowest page. A record
    // is let out after every earlier record of another notice, so that a
    // recipient of two notices still gets them in queue order; the parts of
    // one notice reach different recipients, and need not wait for each other.
    let notices: Vec<String> =
        records.iter().map(|r| r.notice.id.clone().unwrap_or_else(|| r.message_id.clone())).collect();
    // The invocation's share of the rate: each record's with recipients. A
    // part of a notice (a segment, a list of recipients) holds its share from
    // the start, known from its body, so that the first records let out post
    // at the batch's rate, not at theirs alone; the batch still posts at no
    // more than its records' shares. Another record's share is known once its
    // recipients are.
    let shares: Vec<Option<(u32, u32)>> = records
        .iter()
        .map(|r| {
            let part = matches!(r.notice.target, Target::Segment(_) | Target::Recipients(_));
            (part && !r.skip && !r.failed).then_some((r.notice.shards, r.notice.pace))
        })
        .collect();
    let plan = Planner { ports, settings, estimate: OnceCell::new(), pages: Mutex::default(), rooms: Mutex::default() };
    let (lanes, queued) = futures::channel::mpsc::unbounded::<String>();
    let planning = async {
        let mut pending: futures::stream::FuturesUnordered<_> =
            records.iter_mut().enumerate().map(|(index, record)| plan.plan(index, record)).collect();
        let mut planned: Vec<Option<(&mut Record, Vec<Recipient>)>> = notices.iter().map(|_| None).collect();
        let mut released = vec![false; notices.len()];
        let mut shares = shares;
        let mut slots = 0;
        let mut share = |shares: &[Option<(u32, u32)>]| {
            delivery.pacer.set_rate(invocation_rate(settings, shares.iter().flatten().copied()));
            // Each record brings its own `fanout_concurrency` posts in
            // flight: a batch of ten shards runs like ten invocations of one.
            let wanted = settings.fanout_concurrency.max(1) * shares.iter().flatten().count();
            if wanted > slots {
                delivery.slots.add_permits(wanted - slots);
            } else {
                delivery.slots.forget_permits(slots - wanted);
            }
            slots = wanted;
        };
        share(&shares);
        while let Some((index, record, recipients)) = pending.next().await {
            planned[index] = Some((record, recipients));
            while let Some(index) = releasable(&notices, &released, |i| planned[i].is_some()) {
                released[index] = true;
                let Some((record, recipients)) = planned[index].take() else { continue };
                let busy = delivery.release(index, record, recipients, &lanes) > 0;
                shares[index] = busy.then_some((record.notice.shards, record.notice.pace));
                share(&shares);
            }
        }
        lanes.close_channel();
    };
    let delivering = async {
        let mut queued = queued;
        let mut running = futures::stream::FuturesUnordered::new();
        loop {
            tokio::select! {
                next = queued.next() => match next {
                    Some(connection) => running.push(delivery.deliver(connection)),
                    None => break,
                },
                Some(()) = running.next(), if !running.is_empty() => {}
            }
        }
        while running.next().await.is_some() {}
    };
    futures::join!(planning, delivering);
    let recipients = delivery.lanes.into_inner().unwrap_or_else(|p| p.into_inner()).seen;
    let tallies = delivery.tallies.into_inner().unwrap_or_else(|p| p.into_inner());

    // The fan-out's time, each record's from its event to its last post.
    let now = now_millis();
    for record in records.iter().filter(|r| r.recipients > 0 && r.notice.at > 0) {
        ports.record(Metric::FanoutMs, (now - record.notice.at).max(0) as f64);
    }
    let mut totals = Totals::default();
    let finishing = records.iter().zip(tallies).filter(|(r, _)| !r.skip).map(|(record, tally)| {
        totals.add(&tally);
        async move { (record.message_id.clone(), finish(ports, record, tally).await) }
    });
    for (message_id, ok) in futures::future::join_all(finishing.collect::<Vec<_>>()).await {
        if !ok {
            failed.push(message_id);
        }
    }
    // The batch's counts are the metrics' too.
    for (metric, n) in [
        (Metric::Posts, totals.posted),
        (Metric::Gone, totals.gone),
        (Metric::Refused, totals.dropped),
        (Metric::HandedOn, totals.handed_on),
    ] {
        ports.count(metric, n as u64);
    }
    info!(
        notices = records.len(),
        recipients,
        posted = totals.posted,
        gone = totals.gone,
        retried = totals.retried,
        handed_on = totals.handed_on,
        dropped = totals.dropped,
        failed = failed.len(),
        "fanned out"
    );
    SqsBatchResponse {
        batch_item_failures: failed.into_iter().map(|item_identifier| BatchItemFailure { item_identifier }).collect(),
    }
}

/// Posts per second for an invocation holding records of notices split into
/// `(shards, pace)` each: every record's share of `post_rate` (the rate over
/// the shards of its notice that can run at once), and at least the rate over
/// the maximum concurrency, plus the pace of each paced record (a digest,
/// whose segments the queue spaces so that one runs at a time); never more
/// than the rate.
fn invocation_rate(settings: &Settings, records: impl Iterator<Item = (u32, u32)>) -> f64 {
    let at_once = f64::from(settings.max_concurrency.max(1) * settings.batch_size.max(1));
    let post_rate = f64::from(settings.post_rate.max(1));
    let (mut shares, mut paced, mut unpaced) = (0.0, 0.0, false);
    for (shards, pace) in records {
        if pace > 0 {
            paced += f64::from(pace);
        } else {
            unpaced = true;
            shares += post_rate / f64::from(shards.max(1)).min(at_once);
        }
    }
    let floor = if unpaced { post_rate / f64::from(settings.max_concurrency.max(1)) } else { 0.0 };
    (shares.max(floor) + paced).min(post_rate)
}

/// One record of the batch.
struct Record {
    message_id: String,
    notice: Notice,
    key: String,
    /// Posted to by an earlier delivery of this record.
    delivered: HashSet<String>,
    /// Done before: nothing to do.
    skip: bool,
    /// Something failed that only a redelivery can repair.
    failed: bool,
    /// Recipients this invocation posts to.
    recipients: usize,
}

impl Record {
    fn new(message_id: String, notice: Notice) -> Record {
        let key = notice.ledger_key(&message_id);
        Record { message_id, notice, key, delivered: HashSet::new(), skip: false, failed: false, recipients: 0 }
    }
}

fn recipient(c: Connection) -> Recipient {
    Recipient { connection: c.connection_id, format: c.format, connected_at: c.connected_at }
}

/// A page of a scan, and the key to go on from.
type Page = (Vec<Connection>, Option<String>);

/// Finds each record's recipients, and writes the shards of the notices
/// that are too large for one invocation. Lookups are shared within the
/// batch: ten small broadcasts cost one scan, not ten.
struct Planner<'a> {
    ports: Ports<'a>,
    settings: &'a Settings,
    estimate: OnceCell<u64>,
    pages: Cells<(u32, u32, Option<String>), Page>,
    rooms: Cells<String, Vec<Connection>>,
}

/// Lookups shared by key: the first caller reads, the others wait for it.
type Cells<K, V> = Mutex<HashMap<K, Arc<OnceCell<V>>>>;

/// The shared lookup of `key` in `cells`.
fn cell<K: std::hash::Hash + Eq, V>(cells: &Cells<K, V>, key: K) -> Arc<OnceCell<V>> {
    cells.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_default().clone()
}

impl Planner<'_> {
    /// Record `index`'s recipients (none for a record to skip, or whose
    /// lookup fails, which fails the record).
    async fn plan<'r>(&self, index: usize, record: &'r mut Record) -> (usize, &'r mut Record, Vec<Recipient>) {
        let recipients = if record.skip || record.failed {
            Vec::new()
        } else {
            self.recipients(record).await.unwrap_or_else(|e| {
                error!(message = %record.message_id, target = ?record.notice.target, error = %e, "finding the recipients of a notice");
                record.failed = true;
                Vec::new()
            })
        };
        (index, record, recipients)
    }

    async fn recipients(&self, record: &mut Record) -> PortResult<Vec<Recipient>> {
        let shard_size = self.settings.shard_size.max(1);
        match record.notice.target.clone() {
            Target::All => self.everyone(record, None).await,
            Target::Digest(window) => {
                let presence = self.ports.presence.ok_or_else(|| {
                    PortError::Failed("a presence digest, but this function has no presence table".into())
                })?;
                let digest = presence.digest(window).await?;
                let count = crate::presence::count(self.ports, now_millis()).await;
                record.notice.payload = crate::protocol::digest(&digest, count, window.end_ms());
                let online = count.map_or_else(|| self.settings.shard_size as u64, |c| c.online);
                let pace = crate::presence::digest_rate(online, window, self.settings.post_rate);
                let online = count.map(|c| c.online);
                info!(message = %record.message_id, joined = digest.joined_count, left = digest.left_count, online, "rendered a presence digest");
                // Spread over the next window, and at most 7% of the post
                // rate: the rest is the chat's.
                self.everyone(record, Some(pace)).await
            }
            Target::Segment(Segment { index, of, after }) => self.segment(record, index, of, after).await,
            Target::Room(code) => {
                let members = cell(&self.rooms, code.clone());
                let members = members.get_or_try_init(|| self.ports.store.in_room(&code)).await?.clone();
                let members: Vec<Recipient> = members.into_iter().map(recipient).collect();
                if members.len() <= shard_size {
                    return Ok(members);
                }
                let mut groups = groups(&record.notice, members, shard_size).into_iter();
                let mine = groups.next().unwrap_or_default();
                let rest: Vec<Vec<Recipient>> = groups.collect();
                let shards = rest.len() as u32 + 1;
                let bodies = rest
                    .into_iter()
                    .enumerate()
                    .map(|(n, group)| {
                        let shard = format!("r{}", n + 1);
                        (record.notice.part(Target::Recipients(group), shard, shards, 0).to_body(), 0)
                    })
                    .collect();
                self.ports.notifier.send_many(bodies).await?;
                info!(message = %record.message_id, room = %code, shards, "sharded a notice to a room");
                record.notice.shards = shards;
                Ok(mine)
            }
            Target::Connection(id) => Ok(self.ports.store.get(&id).await?.into_iter().map(recipient).collect()),
            Target::Recipients(recipients) => Ok(recipients),
        }
    }

    /// How many rows a broadcast to everyone reads, to size its segments
    /// without a scan: the table's `ItemCount`, or the presence count when
    /// the chat keeps one, whichever is larger. DynamoDB refreshes
    /// `ItemCount` about every six hours (API Reference, TableDescription),
    /// so a new or fast-growing table reads low, even 0, and a big broadcast
    /// would run as one segment, a page at a time; the presence count is
    /// current to the minute. A failure to read the count only leaves it out.
    async fn everyone_size(&self) -> PortResult<u64> {
        let (listed, count) =
            futures::join!(self.ports.store.estimate(), crate::presence::count(self.ports, now_millis()));
        Ok(listed?.max(count.map_or(0, |c| c.online)))
    }

    /// Everyone: one segment of a parallel scan per `shard_size` rows of the
    /// table (by [`Planner::everyone_size`], so no scan is needed to plan); the
    /// other segments go to the queue, and this invocation delivers the first.
    /// With a `pace` (posts a second), segments are delayed in the queue so
    /// that the notice reaches everyone at about that rate, within SQS's
    /// longest delay.
    async fn everyone(&self, record: &mut Record, pace: Option<u64>) -> PortResult<Vec<Recipient>> {
        let shard_size = self.settings.shard_size.max(1);
        let estimate = *self.estimate.get_or_try_init(|| self.everyone_size()).await?;
        let of = estimate.div_ceil(shard_size as u64).clamp(1, MAX_SEGMENTS) as u32;
        if of > 1 {
            let spacing = pace.map_or(0.0, |rate| {
                let paced = shard_size as f64 / rate.max(1) as f64;
                paced.min(f64::from(MAX_DELAY_SECONDS) / f64::from(of - 1))
            });
            if let Some(rate) = pace {
                // The segments carry it: each posts at the digest's pace.
                let spaced = shard_size as f64 / spacing.max(f64::EPSILON);
                record.notice.pace = (rate as f64).max(spaced).min(f64::from(u32::MAX)) as u32;
            }
            let shards = (1..of)
                .map(|index| {
                    let segment = Target::Segment(Segment { index, of, after: None });
                    let delay = (f64::from(index) * spacing).floor() as u32;
                    (record.notice.part(segment, format!("s{index}.{of}"), of, 0).to_body(), delay)
                })
                .collect();
            // This invocation's own page is read while the others are queued:
            // their invocations' reads would otherwise come first.
            let (sent, _) = futures::join!(self.ports.notifier.send_many(shards), self.page(0, of, None));
            sent?;
            info!(message = %record.message_id, estimate, segments = of, "sharded a notice to everyone");
        }
        record.notice.shards = of;
        self.segment(record, 0, of, None).await
    }

    /// A page of segment `index` of `of`, read once for the batch.
    async fn page(&self, index: u32, of: u32, after: Option<String>) -> PortResult<Page> {
        let page = cell(&self.pages, (index, of, after.clone()));
        let limit = page_limit(self.settings.shard_size);
        let read = || self.ports.store.scan_page(ScanPage { segment: index, of, after: after.as_deref(), limit });
        Ok(page.get_or_try_init(read).await?.clone())
    }

    /// A page of segment `index` of `of`; the rest of the segment, if any, is
    /// written to the queue first, so that another invocation reads on while
    /// this one posts.
    async fn segment(
        &self,
        record: &mut Record,
        index: u32,
        of: u32,
        after: Option<String>,
    ) -> PortResult<Vec<Recipient>> {
        let (rows, next) = self.page(index, of, after.clone()).await?;
        if let Some(next) = next {
            let segment = Target::Segment(Segment { index, of, after: Some(next.clone()) });
            let rest = record.notice.part(segment, format!("s{index}.{of}>{next}"), record.notice.shards, 0);
            if let Err(e) = self.ports.notifier.send(rest.to_body(), 0).await {
                // This page is still delivered; the redelivery skips it and
                // tries the rest again.
                error!(message = %record.message_id, error = %e, "queueing the rest of a segment");
                record.failed = true;
            }
        }
        Ok(rows.into_iter().map(recipient).collect())
    }
}

/// The rows one page of a segment may read: a quarter more than
/// `shard_size`. DynamoDB splits a parallel scan's segments by a hash of the
/// key (Developer Guide, "Parallel scan"), so a segment planned for `n` rows
/// holds about `n` give or take a few `√n`: of 4,000 rows in 8 segments of
/// 500, three held 500 or more (moto splits by hash too). At exactly
/// `shard_size`, each of those wrote a continuation of a few rows to the
/// queue, and each cost another invocation, a second late. With the
/// headroom, a segment is one page unless the table has grown well past the
/// count it was planned from.
fn page_limit(shard_size: usize) -> usize {
    shard_size.max(1).saturating_add(shard_size / 4)
}

/// Splits `recipients` into groups of at most `size` whose shard bodies fit
/// in a queue message.
fn groups(notice: &Notice, recipients: Vec<Recipient>, size: usize) -> Vec<Vec<Recipient>> {
    let base = notice.to_body().len() + 200;
    let mut groups: Vec<Vec<Recipient>> = Vec::new();
    let mut bytes = base;
    for recipient in recipients {
        let adds = recipient.connection.len() + RECIPIENT_BYTES;
        match groups.last_mut() {
            Some(group) if group.len() < size && bytes + adds <= MAX_BODY => {
                bytes += adds;
                group.push(recipient);
            }
            _ => {
                bytes = base + adds;
                groups.push(vec![recipient]);
            }
        }
    }
    groups
}

/// Enqueues a record's retries and hand-ons and settles its ledger entry.
/// Returns whether the record succeeded (else SQS delivers it again).
async fn finish(ports: Ports<'_>, record: &Record, tally: Tally) -> bool {
    let notice = &record.notice;
    let shard = &notice.shard;
    let mut bodies = Vec::new();
    if !tally.retry.is_empty() {
        let attempt = notice.attempt + 1;
        if attempt >= MAX_ATTEMPTS {
            let ids: Vec<&str> = tally.retry.iter().map(|r| r.connection.as_str()).collect();
            error!(key = %record.key, attempts = attempt, connections = ?ids, "giving up on posting a notice to these connections");
        } else {
            let groups = groups(notice, tally.retry, usize::MAX);
            let several = groups.len() > 1;
            for (n, group) in groups.into_iter().enumerate() {
                let suffix = if several { format!(".{n}") } else { String::new() };
                let part = notice.part(
                    Target::Recipients(group),
                    format!("{shard}~{attempt}{suffix}"),
                    notice.shards,
                    attempt,
                );
                bodies.push((part.to_body(), backoff_seconds(attempt)));
            }
        }
    }
    if !tally.hand_on.is_empty() {
        for (n, group) in groups(notice, tally.hand_on, usize::MAX).into_iter().enumerate() {
            let part = notice.part(Target::Recipients(group), format!("{shard}+{n}"), notice.shards, notice.attempt);
            bodies.push((part.to_body(), 0));
        }
    }
    let mut ok = !record.failed;
    if !bodies.is_empty()
        && let Err(e) = ports.notifier.send_many(bodies).await
    {
        error!(key = %record.key, error = %e, "queueing the recipients to try again; SQS will deliver the notice again");
        ok = false;
    }
    if ok {
        match ports.ledger.finish(&record.key).await {
            Ok(()) => ports.count(Metric::LedgerWrites, 1),
            Err(e) => warn!(key = %record.key, error = %e, "marking a notice delivered in the ledger"),
        }
    } else if !tally.unsaved.is_empty()
        && let Err(e) = ports.ledger.record(&record.key, tally.parts + 1, &tally.unsaved).await
    {
        warn!(key = %record.key, error = %e, "recording deliveries in the ledger; a redelivery may repeat them");
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Format;

    #[test]
    fn backoff_doubles() {
        assert_eq!((1..=5).map(backoff_seconds).collect::<Vec<_>>(), [0, 1, 2, 4, 8]);
        let pauses = [0, 20, 40, 80].map(Duration::from_millis);
        assert_eq!((1..IN_PLACE_TRIES).map(in_place_pause).collect::<Vec<_>>(), pauses);
    }

    #[test]
    fn an_invocation_posts_at_its_records_share_of_the_rate() {
        let settings = Settings { post_rate: 9000, max_concurrency: 10, batch_size: 10, ..Settings::default() };
        let rate = |shards: &[u32]| invocation_rate(&settings, shards.iter().map(|s| (*s, 0)));
        assert_eq!(rate(&[1]), 9000.0, "a notice that is not split has the whole rate");
        assert_eq!(rate(&[4, 4]), 4500.0, "two of four shards: half");
        assert_eq!(rate(&[500; 10]), 900.0, "ten of a notice split further than 100 can run at once");
        assert_eq!(rate(&[500]), 900.0, "at least the rate over the maximum concurrency");
        assert_eq!(rate(&[1, 2, 500]), 9000.0, "never more than the rate");
        let paced = |records: &[(u32, u32)]| invocation_rate(&settings, records.iter().copied());
        assert_eq!(paced(&[(200, 313)]), 313.0, "a digest's segment goes at the digest's pace");
        assert_eq!(paced(&[(200, 313), (200, 313)]), 626.0);
        assert_eq!(paced(&[(200, 313), (500, 0)]), 1213.0, "beside a message's shard");
    }

    #[test]
    fn groups_respect_the_count_and_the_message_size() {
        let notice =
            Notice::new(Target::All, None, crate::protocol::Payload { compat: "x".repeat(100_000), json: "{}".into() });
        let recipients: Vec<Recipient> = (0..5000)
            .map(|i| Recipient { connection: format!("conn{i:06}="), format: Format::Json, connected_at: 0 })
            .collect();
        let by_count = groups(&notice, recipients.clone()[..25].to_vec(), 10);
        assert_eq!(by_count.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
        let by_size = groups(&notice, recipients, usize::MAX);
        assert!(by_size.len() > 1);
        assert_eq!(by_size.iter().map(Vec::len).sum::<usize>(), 5000);
        for group in &by_size {
            let body = notice.part(Target::Recipients(group.clone()), "~1.10".into(), 1, 1).to_body();
            assert!(body.len() <= MAX_BODY, "{}", body.len());
        }
    }
}
