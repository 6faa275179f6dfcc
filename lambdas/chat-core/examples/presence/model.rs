//! The count model of the page before #23, which says how many `list`
//! requests f84f0a9's page sends and how long the presence notices take,
//! where running them is impossible (at 100,000, a join's notice alone is
//! 100,000 posts, and each makes a page Scan the whole table).
//!
//! - **Delivery.** Every notice queued (welcome, `joined`, chat message,
//!   `left`) waits for the ones due before it, then takes its recipients
//!   divided by the account's 10,000 posts a second: a fluid first-in,
//!   first-out queue in front of the throttle. A notice reaches the people
//!   connected before its event who are still connected when it starts.
//!   `list` replies are left out of the throttle, which makes notices arrive
//!   sooner and closer together than they would: it understates before.
//! - **The debounce.** A page sends `list` 100 ms after the last
//!   `joined`/`left` it received. A page receives one notice each time the
//!   gateway finishes one (the gap is the notice's own delivery time when
//!   the queue is backed up, the time between events when it is not: 2 ms
//!   within a burst of 500 joins a second). Ten notify invocations, 429s
//!   and the re-enqueued recipients scramble the order, so the arrivals at
//!   one page are taken as random (Poisson) around that mean gap: a notice
//!   is a page's last for 100 ms, and makes it send `list`, with probability
//!   `exp(-0.1 s / gap)`. Within an unthrottled burst that is nil (one list
//!   at the burst's end); once a notice takes the gateway more than 100 ms
//!   (1,000 people online) nearly every notice makes its own `list`.
//! - **The welcome's `list` and the keepalive.** A JSON page sends `list` when
//!   its welcome arrives, or 5 s after it connected if the welcome has not
//!   come (`WELCOME_WAIT_MS`), then every 5 minutes while connected.
//! - Each `list` Scans the table as it is then: people connected, less those
//!   who left.
//! - Not modelled: the fan-out gives up on a recipient after five tries of
//!   429s, and at 1,000 a whole run loses 40% of the presence posts so; its
//!   pages then get fewer, sparser notices, and send about 10% fewer
//!   `list`s than this model says (and read about 10% less).

/// The API Gateway account throttle, posts a second.
const RATE: f64 = crate::sim::ACCOUNT_RATE;
/// `refreshList`'s debounce.
const DEBOUNCE: f64 = 0.1;
/// `WELCOME_WAIT_MS`: a page is online this long after it connected, welcome or not.
const WELCOME_WAIT: f64 = 5.0;
/// `HEARTBEAT_MS`: the keepalive `list`.
const HEARTBEAT: f64 = 300.0;

/// What the crowd does, in seconds from the start.
pub struct Timeline {
    pub people: usize,
    /// Joins a second.
    pub join_rate: f64,
    /// Seconds after its `$connect` that a welcome or `joined` is queued for.
    pub welcome_delay: f64,
    /// Each chat message: when it is sent.
    pub messages: Vec<f64>,
    pub leave_start: f64,
    /// Who leaves, in the order they leave, at `join_rate`.
    pub leavers: Vec<usize>,
    pub hour: f64,
    /// A chat message sent while the crowd joins, timed but not counted.
    pub probe: f64,
}

impl Timeline {
    pub fn joined_at(&self, person: usize) -> f64 {
        person as f64 / self.join_rate
    }

    /// How many had connected by `t` (person `k` connects at `k / join_rate`).
    fn connected_by(&self, t: f64) -> usize {
        if t < 0.0 { 0 } else { ((t * self.join_rate).floor() as usize + 1).min(self.people) }
    }

    /// How many had left by `t`.
    fn left_by(&self, t: f64) -> usize {
        if t < self.leave_start {
            0
        } else {
            (((t - self.leave_start) * self.join_rate).floor() as usize + 1).min(self.leavers.len())
        }
    }

    /// Leavers among the first `connected` people (leavers are spread evenly).
    fn leavers_below(&self, connected: usize) -> usize {
        self.leavers.partition_point(|&p| p < connected)
    }

    /// People connected at `t`.
    pub fn online(&self, t: f64) -> usize {
        self.connected_by(t) - self.left_by(t)
    }

    /// Of the people connected before an event at `event`, those still
    /// connected at `t`, less `exclude`.
    fn audience(&self, event: f64, t: f64, exclude: usize) -> f64 {
        let before = self.connected_by(event);
        // Leaves go in the leavers' order: those gone by `t` are the first ones.
        let gone = self.left_by(t).min(self.leavers_below(before));
        before.saturating_sub(gone + exclude) as f64
    }
}

/// `list` requests of one cause: how many, and the rows the table held on
/// average when they were sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Lists {
    pub count: f64,
    rows: f64,
}

impl Lists {
    fn add(&mut self, count: f64, rows: usize) {
        self.count += count;
        self.rows += count * rows as f64;
    }

    pub fn mean_rows(&self) -> usize {
        if self.count > 0.0 { (self.rows / self.count).round() as usize } else { 0 }
    }
}

/// Notices of one kind: how many, and their mean number of recipients.
#[derive(Debug, Default, Clone, Copy)]
pub struct Notices {
    pub count: f64,
    recipients: f64,
}

impl Notices {
    pub fn mean(&self) -> usize {
        if self.count > 0.0 { (self.recipients / self.count).round() as usize } else { 0 }
    }

    pub fn posts(&self) -> f64 {
        self.recipients
    }
}

/// What the model yields.
#[derive(Debug, Default)]
pub struct Before {
    pub joined: Notices,
    pub left: Notices,
    pub messages: Notices,
    pub welcome_lists: Lists,
    pub join_lists: Lists,
    pub leave_lists: Lists,
    pub keepalive_lists: Lists,
    /// When the last `joined` was delivered, seconds from the start.
    pub joins_delivered: f64,
    /// The longest a chat message took to reach everyone, from its send.
    pub message_delay: f64,
    /// How long the probe took to reach everyone.
    pub probe_delay: f64,
}

#[derive(Clone, Copy)]
enum Queued {
    Welcome(usize),
    Joined(usize),
    Message(usize),
    Probe,
    Left,
}

/// Runs the model over `timeline`, half the crowd JSON pages.
pub fn before(timeline: &Timeline) -> Before {
    let n = timeline.people;
    let mut queue: Vec<(f64, Queued)> = Vec::with_capacity(2 * n + timeline.messages.len() + timeline.leavers.len());
    for person in 0..n {
        let due = timeline.joined_at(person) + timeline.welcome_delay;
        queue.push((due, Queued::Welcome(person)));
        queue.push((due, Queued::Joined(person)));
    }
    queue.extend(timeline.messages.iter().enumerate().map(|(m, &at)| (at, Queued::Message(m))));
    queue.push((timeline.probe, Queued::Probe));
    queue.extend(
        timeline
            .leavers
            .iter()
            .enumerate()
            .map(|(j, _)| (timeline.leave_start + j as f64 / timeline.join_rate, Queued::Left)),
    );
    queue.sort_by(|a, b| a.0.total_cmp(&b.0));

    let mut out = Before::default();
    let mut free = 0.0_f64;
    let mut welcomed = vec![f64::INFINITY; n];
    // Presence notices as delivered: start, JSON recipients, and whether a join's.
    let mut presence: Vec<(f64, f64, bool)> = Vec::with_capacity(n + timeline.leavers.len());
    for (due, queued) in queue {
        let start = due.max(free);
        let (event, exclude) = match queued {
            Queued::Welcome(_) => (due, 0),
            Queued::Joined(_) => (due - timeline.welcome_delay, 1),
            Queued::Message(_) | Queued::Probe => (due, 0),
            Queued::Left => (due, 0),
        };
        let posts = match queued {
            Queued::Welcome(person) => {
                welcomed[person] = start;
                if crate::sim::is_json(person) { 2.0 } else { 1.0 }
            }
            // Not the joiner itself, nor anyone who connected after it.
            Queued::Joined(person) => timeline.audience(event, start, exclude).min(person as f64),
            Queued::Message(_) | Queued::Probe | Queued::Left => timeline.audience(event, start, exclude),
        };
        free = start + posts / RATE;
        match queued {
            Queued::Welcome(_) => {}
            Queued::Joined(_) => {
                out.joined.count += 1.0;
                out.joined.recipients += posts;
                out.joins_delivered = free;
                presence.push((start, posts / 2.0, true));
            }
            Queued::Left => {
                out.left.count += 1.0;
                out.left.recipients += posts;
                presence.push((start, posts / 2.0, false));
            }
            Queued::Message(m) => {
                out.messages.count += 1.0;
                out.messages.recipients += posts;
                out.message_delay = out.message_delay.max(free - timeline.messages[m]);
            }
            Queued::Probe => out.probe_delay = free - timeline.probe,
        }
    }

    for (i, &(start, pages, join)) in presence.iter().enumerate() {
        let gap = presence.get(i + 1).map_or(f64::INFINITY, |next| next.0 - start);
        let fired = pages * (-DEBOUNCE / gap).exp();
        let rows = timeline.online(start + gap.min(1.0));
        if join { out.join_lists.add(fired, rows) } else { out.leave_lists.add(fired, rows) }
    }

    let leaves: std::collections::HashMap<usize, f64> = timeline
        .leavers
        .iter()
        .enumerate()
        .map(|(j, &p)| (p, timeline.leave_start + j as f64 / timeline.join_rate))
        .collect();
    for person in (0..n).filter(|&p| crate::sim::is_json(p)) {
        let first = welcomed[person].min(timeline.joined_at(person) + WELCOME_WAIT);
        out.welcome_lists.add(1.0, timeline.online(first));
        let end = leaves.get(&person).copied().unwrap_or(f64::INFINITY).min(timeline.hour);
        let mut at = first + HEARTBEAT;
        while at < end {
            out.keepalive_lists.add(1.0, timeline.online(at));
            at += HEARTBEAT;
        }
    }
    out
}
