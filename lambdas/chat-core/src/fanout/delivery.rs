//! The delivery of one batch: each recipient's lane of frames, the pacer,
//! and the posts with their tries in place.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{error, warn};

use super::{CHECKPOINT_EVERY, GONE_GRACE_MILLIS, IN_PLACE_TRIES, Record, in_place_pause};
use crate::handler::{Ports, Settings, delete_stale};
use crate::metrics::Metric;
use crate::notice::Recipient;
use crate::ports::{Format, PortError};

/// One recipient's frames not yet posted, in queue order, with the record
/// each came from. A lane is open while its frames are being posted; frames
/// of a record let out later join it.
pub(super) struct Lane {
    pub(super) recipient: Recipient,
    pub(super) frames: VecDeque<(usize, Arc<str>)>,
}

/// Why a recipient's lane closed before its frames ran out: frames for it
/// that come later go the same way, so that none overtakes another.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Closed {
    Gone,
    Retry,
    HandOn,
}

/// The recipients' lanes.
#[derive(Default)]
pub(super) struct Lanes {
    pub(super) open: HashMap<String, Lane>,
    pub(super) closed: HashMap<String, Closed>,
    /// Recipients of the batch, for its log line.
    pub(super) seen: usize,
}

/// The first record not yet let out that may be: its recipients are known
/// (`planned`) and every earlier record of another notice is out.
pub(super) fn releasable(notices: &[String], released: &[bool], planned: impl Fn(usize) -> bool) -> Option<usize> {
    (0..notices.len()).find(|&i| !released[i] && planned(i) && (0..i).all(|j| released[j] || notices[j] == notices[i]))
}

/// What happened to one record's recipients in this invocation.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) posted: usize,
    pub(super) gone: usize,
    pub(super) dropped: usize,
    /// Posted to and not yet in the ledger.
    pub(super) unsaved: Vec<String>,
    /// Ledger parts written.
    pub(super) parts: u32,
    /// To try again later.
    pub(super) retry: Vec<Recipient>,
    /// Not reached before the deadline.
    pub(super) hand_on: Vec<Recipient>,
}

/// The batch's counts, for its log line.
#[derive(Default)]
pub(super) struct Totals {
    pub(super) posted: usize,
    pub(super) gone: usize,
    pub(super) dropped: usize,
    pub(super) retried: usize,
    pub(super) handed_on: usize,
}

impl Totals {
    pub(super) fn add(&mut self, tally: &Tally) {
        self.posted += tally.posted;
        self.gone += tally.gone;
        self.dropped += tally.dropped;
        self.retried += tally.retry.len();
        self.handed_on += tally.hand_on.len();
    }
}

/// Posts at most `rate` per second in all, spaced evenly. Time lost (a slow
/// post) is not made up with a burst. A try again goes ahead of first tries:
/// first tries take their turns one after another, none more than
/// [`PACER_HORIZON`] ahead, while a try again takes the next turn free, so a
/// recipient that failed waits that long at most, not for every post queued.
pub(super) struct Pacer {
    /// The next free turn, and the time between turns.
    turns: Mutex<(Instant, Duration)>,
    /// First tries queue here for their turn.
    first_tries: tokio::sync::Mutex<()>,
}

/// How far ahead a first try may take its turn.
const PACER_HORIZON: Duration = Duration::from_millis(5);

fn interval(rate: f64) -> Duration {
    if rate > 0.0 { Duration::from_secs_f64(1.0 / rate) } else { Duration::ZERO }
}

impl Pacer {
    pub(super) fn new(rate: f64) -> Pacer {
        Pacer { turns: Mutex::new((Instant::now(), interval(rate))), first_tries: tokio::sync::Mutex::new(()) }
    }

    /// Changes the rate from the next turn on.
    pub(super) fn set_rate(&self, rate: f64) {
        self.turns.lock().unwrap_or_else(|p| p.into_inner()).1 = interval(rate);
    }

    /// Waits for a turn: a first try's, or a try again's (`again`).
    pub(super) async fn wait(&self, again: bool) {
        let queued = if again { None } else { Some(self.first_tries.lock().await) };
        let at = loop {
            let now = Instant::now();
            let turn = {
                let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
                let at = turns.0.max(now);
                if again || at <= now + PACER_HORIZON {
                    turns.0 = at + turns.1;
                    Ok(at)
                } else {
                    Err(at)
                }
            };
            match turn {
                Ok(at) => break at,
                Err(at) => tokio::time::sleep_until(at - PACER_HORIZON).await,
            }
        };
        drop(queued);
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
    }
}

/// The delivery of one batch.
pub(super) struct Delivery<'a> {
    pub(super) ports: Ports<'a>,
    pub(super) settings: &'a Settings,
    pub(super) pacer: Pacer,
    /// No post starts after this.
    pub(super) stop_at: Option<Instant>,
    /// Epoch milliseconds, for the age of a connection.
    pub(super) now: i64,
    pub(super) tallies: Mutex<Vec<Tally>>,
    pub(super) keys: Vec<String>,
    /// Each record's event time (epoch ms; 0 when its notice has none).
    pub(super) ats: Vec<i64>,
    pub(super) lanes: Mutex<Lanes>,
    /// Posts in flight: `fanout_concurrency` for each record let out.
    pub(super) slots: tokio::sync::Semaphore,
}

impl Delivery<'_> {
    pub(super) fn tally<T>(&self, record: usize, f: impl FnOnce(&mut Tally) -> T) -> T {
        f(&mut self.tallies.lock().unwrap_or_else(|p| p.into_inner())[record])
    }

    pub(super) fn lanes(&self) -> std::sync::MutexGuard<'_, Lanes> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets record `index` out: its frames join its recipients' lanes, and a
    /// recipient without one gets a lane, queued on `lanes`. Returns how many
    /// recipients it has here.
    pub(super) fn release(
        &self,
        index: usize,
        record: &mut Record,
        recipients: Vec<Recipient>,
        lanes: &futures::channel::mpsc::UnboundedSender<String>,
    ) -> usize {
        // The payload, then the frames that follow it, in each format.
        let frames = std::iter::once(&record.notice.payload).chain(&record.notice.then);
        let (compat, json): (Vec<Arc<str>>, Vec<Arc<str>>) =
            frames.map(|p| (Arc::from(p.compat.as_str()), Arc::from(p.json.as_str()))).unzip();
        let mut open = self.lanes();
        for recipient in recipients {
            if record.notice.exclude.as_deref() == Some(recipient.connection.as_str())
                || record.delivered.contains(&recipient.connection)
                || record.notice.predates(recipient.connected_at)
            {
                continue;
            }
            let frames = match recipient.format {
                Format::Compat => &compat,
                Format::Json => &json,
            };
            let mut frames = frames.iter().filter(|f| !f.is_empty()).map(|f| (index, f.clone())).peekable();
            if frames.peek().is_none() {
                continue;
            }
            record.recipients += 1;
            match open.closed.get(&recipient.connection) {
                Some(Closed::Gone) => continue,
                Some(Closed::Retry) => self.tally(index, |t| t.retry.push(recipient)),
                Some(Closed::HandOn) => self.tally(index, |t| t.hand_on.push(recipient)),
                None => match open.open.get_mut(&recipient.connection) {
                    Some(lane) => lane.frames.extend(frames),
                    None => {
                        open.seen += 1;
                        let connection = recipient.connection.clone();
                        open.open.insert(connection.clone(), Lane { recipient, frames: frames.collect() });
                        // The receiving end lives as long as the delivery.
                        let _ = lanes.unbounded_send(connection);
                    }
                },
            }
        }
        record.recipients
    }

    /// The next frame of `connection`'s lane, or none, and the lane closed,
    /// when it has no more.
    pub(super) fn next_frame(&self, connection: &str) -> Option<(usize, Arc<str>)> {
        let mut lanes = self.lanes();
        let next = lanes.open.get_mut(connection)?.frames.pop_front();
        if next.is_none() {
            lanes.open.remove(connection);
        }
        next
    }

    /// Closes `connection`'s lane: the record of the frame in hand
    /// (`current`) and of every frame left go to the retry or the hand-on
    /// list, and frames that come later follow them.
    pub(super) fn close(&self, connection: &str, how: Closed, current: usize) {
        let mut lanes = self.lanes();
        lanes.closed.insert(connection.to_string(), how);
        let Some(lane) = lanes.open.remove(connection) else { return };
        if how == Closed::Gone {
            return;
        }
        let mut records: Vec<usize> = std::iter::once(current).chain(lane.frames.iter().map(|(r, _)| *r)).collect();
        records.dedup();
        for record in records {
            let recipient = lane.recipient.clone();
            match how {
                Closed::Retry => self.tally(record, |t| t.retry.push(recipient)),
                _ => self.tally(record, |t| t.hand_on.push(recipient)),
            }
        }
    }

    /// Posts one recipient's frames in order, as long as its lane has any,
    /// once a slot is free.
    pub(super) async fn deliver(&self, connection: String) {
        let Ok(_slot) = self.slots.acquire().await else { return };
        let Some(recipient) = self.lanes().open.get(&connection).map(|lane| lane.recipient.clone()) else { return };
        let young = self.now - recipient.connected_at < GONE_GRACE_MILLIS;
        while let Some((record, frame)) = self.next_frame(&connection) {
            if self.stop_at.is_some_and(|at| Instant::now() >= at) {
                return self.close(&connection, Closed::HandOn, record);
            }
            let mut tries = 0;
            let outcome = loop {
                tries += 1;
                self.pacer.wait(tries > 1).await;
                let sent = Instant::now();
                let posted = self.ports.poster.post(&connection, frame.as_bytes());
                let outcome = tokio::time::timeout(self.settings.post_timeout, posted).await.unwrap_or_else(|_| {
                    Err(PortError::Failed(format!("no answer within {} ms", self.settings.post_timeout.as_millis())))
                });
                // No answer in time, whichever timer said so: this one, or the
                // poster's own (the SDK's operation timeout is the same length).
                let answered = sent.elapsed() < self.settings.post_timeout;
                let pause = in_place_pause(tries);
                let in_time = self.stop_at.is_none_or(|at| Instant::now() + pause < at);
                match outcome {
                    Err(PortError::Failed(e)) if tries < IN_PLACE_TRIES && in_time && answered => {
                        self.ports.count(Metric::Retried, 1);
                        warn!(connection = %connection, error = %e, tries, "posting a notice; trying again");
                        tokio::time::sleep(pause).await;
                    }
                    outcome => break outcome,
                }
            };
            match outcome {
                Ok(()) => self.posted(record, &connection).await,
                Err(PortError::Gone) => {
                    if young {
                        warn!(connection = %connection, "a connection younger than 10 s is gone; keeping its row");
                    } else {
                        delete_stale(self.ports, self.settings, &connection, self.now).await;
                    }
                    self.tally(record, |t| t.gone += 1);
                    return self.close(&connection, Closed::Gone, record);
                }
                Err(PortError::Refused(reason)) => {
                    error!(connection = %connection, %reason, "API Gateway refused a frame; dropping it");
                    self.tally(record, |t| t.dropped += 1);
                }
                Err(PortError::Failed(e)) => {
                    warn!(connection = %connection, error = %e, "posting a notice; it will be tried again");
                    self.ports.count(Metric::Retried, 1);
                    return self.close(&connection, Closed::Retry, record);
                }
            }
        }
    }

    /// Counts a post, and writes the ledger every [`CHECKPOINT_EVERY`] posts.
    pub(super) async fn posted(&self, record: usize, connection: &str) {
        if self.ats[record] > 0 {
            self.ports.record(Metric::DeliveryMs, (crate::now_millis() - self.ats[record]).max(0) as f64);
        }
        let part = self.tally(record, |t| {
            t.posted += 1;
            t.unsaved.push(connection.to_string());
            if t.unsaved.len() < CHECKPOINT_EVERY {
                return None;
            }
            t.parts += 1;
            Some((t.parts, std::mem::take(&mut t.unsaved)))
        });
        if let Some((part, ids)) = part {
            match self.ports.ledger.record(&self.keys[record], part, &ids).await {
                Ok(()) => self.ports.count(Metric::LedgerWrites, 1),
                Err(e) => {
                    warn!(key = %self.keys[record], error = %e, "recording deliveries in the ledger; the next part will");
                    self.tally(record, |t| t.unsaved.extend(ids));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_posts_evenly() {
        let pacer = Pacer::new(100.0);
        let start = Instant::now();
        for _ in 0..51 {
            pacer.wait(false).await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_try_again_goes_ahead_of_the_first_tries_waiting() {
        let pacer = Arc::new(Pacer::new(100.0));
        let start = Instant::now();
        let first: Vec<_> = (0..20)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move { pacer.wait(false).await })
            })
            .collect();
        tokio::task::yield_now().await;
        pacer.wait(true).await;
        // Twenty first tries take 200 ms; the try again is among the first three.
        assert!(start.elapsed() <= Duration::from_millis(20), "{:?}", start.elapsed());
        for task in first {
            task.await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_millis(200), "21 posts at 100 a second, none of them early");
        pacer.set_rate(1000.0);
        let before = Instant::now();
        pacer.wait(false).await;
        pacer.wait(false).await;
        assert_eq!(before.elapsed(), Duration::from_millis(11), "10 ms to the slot that was next, then 1 ms");
    }
}
