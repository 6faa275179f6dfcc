//! Presence benchmark (issue #23): a crowd joining, chatting and a tenth
//! leaving, over the fan-out benchmark's simulated AWS, before (f84f0a9's
//! presence, [`before`]) and after (chat-core's handlers and the presence
//! table), side by side in one run.
//!
//! ```sh
//! cargo run --release -p chat-core --example presence
//! cargo run --release -p chat-core --example presence -- --sizes 1000,10000 --messages 5
//! ```
//!
//! **The crowd.** `N` people connect at API Gateway's 500 new connections a
//! second; half use the page (JSON), half wscat (compat), each with a
//! 16-character name. The history holds 50 earlier messages. When the joins
//! are done, 10 people (alternately page and wscat) say something to
//! everyone, 15 s apart; then a tenth of the crowd (as many pages as wscat)
//! disconnects, 500 a second. Each phase starts when the after side has
//! nothing left to do (queue empty), and both sides use the same times. The
//! hour ends 3,600 s after the first join.
//!
//! **The pages.** Before (`wwwroot/app.js` at f84f0a9): a page sends `list`
//! when its welcome arrives (or 5 s after it connected, if it has not), 100 ms
//! after the last `joined`/`left` it received, and every 5 minutes as a
//! keepalive. After (docs/presence.md): a page sends `list` once, on its
//! welcome (one page: at most 200 people, an eventually consistent Scan
//! page), and `ping` every 9 minutes, which API Gateway answers itself (a
//! MOCK integration: no Lambda, no DynamoDB); this benchmark counts the
//! pings (two billed messages each) and does not run them. wscat sends
//! nothing but its chat message.
//!
//! **After: every event runs.** chat-core's `handle_websocket` handles every
//! `$connect`, `list`, `send`/`sendmessage` and `$disconnect`, and
//! `handle_sqs` every notice and digest, over [`sim`]'s simulated AWS:
//! DynamoDB's latency and billing (item sizes as DynamoDB computes them, from
//! the items `src/aws/` writes), SQS with delays, the account's throttle of
//! 10,000 posts a second (a burst of 5,000; a 429 is answered at once), a
//! 128 KB frame limit (413), the notify function as an event source mapping
//! (concurrency `chat.max_concurrency`, batches of 10, 120 ms cold starts,
//! a 10 s timeout). Time is tokio's paused clock. Nothing fails but what the
//! throttle refuses, and no connection vanishes. Each person connects from an
//! address of their own, so `$connect` reads that address's ban and each
//! frame writes its rate bucket (`chat.limits`), as on AWS; nobody floods.
//!
//! **Before: the real code where it can run, a count model where it cannot.**
//! f84f0a9's `$connect`, `send` and `$disconnect` run for every event (their
//! reads, writes and queue messages are measured). Delivering what they
//! queue cannot run: at 100,000 the joins queue 5,000,000,000 posts, and
//! each `joined` makes every page Scan the whole table. So each repeated call
//! runs once with the real code over the simulated AWS, per size and kind,
//! and is multiplied by how often the count model ([`model`]) says it
//! happens: the fan-out of a welcome, of a `joined`, of a `left` and of a
//! chat message (chat-core's `handle_sqs`, whose fan-out of these notices is
//! f84f0a9's), each to its kind's mean number of recipients, and `list`
//! (f84f0a9's: a consistent Scan of the whole table, one frame) at the mean
//! table size of each cause (a welcome, a `joined`, a `left`, the
//! keepalive). Reads, posts and duration grow linearly with both, so the
//! products are the sums. A backed-up queue fills every batch: the notify
//! function's invocations are its records over 10. How the debounce is
//! modelled (the arrival times of notices under the throttle): see
//! [`model`]. At 1,000 (`--whole-up-to`) before also runs whole, every
//! notice through the throttle and every page's timers, as a check of the
//! model; the output prints both.
//!
//! **A chat message while the crowd joins** (a run of its own, so that it
//! adds nothing to the table's other rows): one message to everyone, sent
//! halfway through the joins; the time until everyone has it.
//!
//! **Cost** of the crowd's first hour, at us-east-1's list prices as in the
//! fan-out benchmark: API Gateway $1.00 a million messages (each post and
//! each client frame, in 32 KB increments; pings and pongs) and $0.25 a
//! million connection-minutes; Lambda $0.20 a million invocations and
//! $0.0000166667 a GB-second (256 MB); DynamoDB on demand $0.125 a million
//! read units and $0.625 a million write units; SQS $0.40 a million requests
//! (sends, and a receive and a delete per notify invocation). Before, it is
//! the cost of what the hour's events cause, though the throttle delivers
//! most of it long after the hour.

mod before;
mod model;
mod report;
mod sim;

use chat_core::Settings;
use chat_core::history::EVERYONE;
use chat_core::notice::{Notice, Target};
use chat_core::ports::{ChatMessage, ConnectionStore, MessageStore};
use report::*;
use sim::{Event, Kind, Pages, Schedule, Side, Sim, Table, Tally};
use tokio::time::Instant;

/// API Gateway's new connections a second.
const JOIN_RATE: f64 = 500.0;
/// The page's ping (docs/presence.md).
const PING_SECONDS: f64 = 540.0;
const HOUR: f64 = 3600.0;
/// Earlier messages in the history.
const HISTORY: usize = 50;
/// Epoch ms of the first join, fixed (2100-01-01T00:02:03.457Z) so that
/// digest windows fall the same way on every run, and not round, so that
/// timestamps weigh in DynamoDB what real ones do. The notify function
/// reads the wall clock for the count it puts in a digest: a count read
/// before the crowd's time sees every bucket of its hour, so it is the
/// crowd's count.
const EPOCH: i64 = 4_102_444_923_457;

/// What the output rests on (the module's docs say it at length).
const ASSUMPTIONS: &str = "\
### The model

- The crowd: N people connect at 500 a second, half the page (JSON), half wscat (compat), names of
  16 characters; the history holds 50 messages. Then 10 chat messages to everyone, 15 s apart; then a
  tenth of the crowd leaves, 500 a second. A phase starts when the after side is idle; the hour ends
  3,600 s after the first join. Nothing fails but what the throttle refuses; nobody vanishes.
- AWS: DynamoDB calls take 5 ms (Query/Scan page 10 ms) and are billed from the items' real sizes
  (4 KB a read unit, half when eventually consistent, at least one; 1 KB a write unit, twice in a
  transaction); SQS 10 ms; a post 20 ms behind one 10,000/s token bucket (burst 5,000; 429 above it);
  frames over 128 KB refused (413); notify: 10 concurrent invocations, batches of 10, 120 ms cold
  starts; both functions 256 MB. Time is tokio's paused clock.
- After: chat-core's handlers run for every event (chat.presence 100, chat.limits' defaults: each
  $connect reads its address's ban, each frame writes its rate bucket). A page sends `list` once, on
  its welcome, and pings every 9 minutes: API Gateway answers the ping (MOCK), so it is counted (a
  message in, a message out) and not run.
- Before: f84f0a9's $connect, send and $disconnect run for every event. Each repeated call (the fan-out
  of a welcome, a joined, a left and a chat message; a list at the mean table size of its cause) runs
  once with the real code and is multiplied by the count model's number of them. The page sends list
  on its welcome (or 5 s after connecting), 100 ms after its last joined/left, and every 5 minutes.
  Notices queue first-in first-out in front of the 10,000/s throttle; a page receives one whenever the
  gateway finishes one, at random around that gap, and sends `list` when 100 ms pass without the next
  (so a burst unthrottled makes one list at its end; past 1,000 people online, nearly every notice
  makes one). Not modelled: list replies' share of the throttle, and the posts the fan-out gives up on
  after five tries of 429s: run whole at 1,000, 40% of the posts are lost so, and the model counts
  about 10% more lists and read units than the whole run (its line above). Before's cost is what the
  hour's events cause, though most of it is delivered days later.
- Prices (us-east-1): API Gateway $1.00/million messages (32 KB increments) and $0.25/million
  connection-minutes; Lambda $0.20/million invocations + $0.0000166667/GB-s; DynamoDB $0.125/million
  read units, $0.625/million write units; SQS $0.40/million requests.";

struct Args {
    sizes: Vec<usize>,
    messages: u32,
    message_every: f64,
    /// Sizes up to which before also runs whole, as a check of the model.
    whole_up_to: usize,
}

fn args() -> Args {
    let mut args = Args { sizes: vec![1_000, 10_000, 100_000], messages: 10, message_every: 15.0, whole_up_to: 1_000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => args.sizes = value().split(',').map(|s| s.parse().expect("a size")).collect(),
            "--messages" => args.messages = value().parse().expect("a number of messages"),
            "--message-every" => args.message_every = value().parse().expect("seconds"),
            "--whole-up-to" => args.whole_up_to = value().parse().expect("a size"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// Everyone who leaves, in the order they leave: a tenth, as many pages as wscat.
fn leavers(n: usize) -> Vec<usize> {
    (0..n).filter(|p| p % 20 < 2).collect()
}

/// Who says chat message `m`: alternately a page and wscat.
fn speaker(n: usize, m: u32) -> usize {
    let p = (m as usize * 7919) % n;
    if sim::is_json(p) == m.is_multiple_of(2) { p } else { (p + 1) % n }
}

async fn seed_history(sim: &Sim) {
    for i in 0..HISTORY {
        let at = sim.epoch0 - 3_600_000 + i as i64 * 60_000;
        let message = ChatMessage {
            conversation: EVERYONE.into(),
            id: chat_core::history::new_message_id(at),
            action: "send".into(),
            from: sim::name(i),
            sub: None,
            connection_id: sim::connection_id(i),
            text: format!("msg#{i} an earlier message, about as long as most"),
            timestamp: at,
            client_id: Some(format!("c{i}")),
            expires_at: at / 1000 + 7 * 86_400,
        };
        sim.messages.put(&message).await.unwrap();
    }
}

/// When each phase starts, in seconds from the first join.
struct Phases {
    chat: f64,
    leave: f64,
    end: f64,
}

fn schedule(sim: &Sim, events: impl IntoIterator<Item = (f64, Event)>) -> Schedule {
    events.into_iter().enumerate().map(|(i, (at, e))| ((sim.at(at), i as u64), e)).collect()
}

fn join_events(n: usize) -> impl Iterator<Item = (f64, Event)> {
    (0..n).map(|p| (p as f64 / JOIN_RATE, Event::Connect(p)))
}

fn chat_events(n: usize, args: &Args, start: f64) -> impl Iterator<Item = (f64, Event)> + '_ {
    (0..args.messages).map(move |m| (start + f64::from(m) * args.message_every, Event::Send(speaker(n, m), m)))
}

fn leave_events(n: usize, start: f64) -> impl Iterator<Item = (f64, Event)> {
    leavers(n).into_iter().enumerate().map(move |(j, p)| (start + j as f64 / JOIN_RATE, Event::Leave(p)))
}

/// The next whole second after now.
fn next_second(sim: &Sim) -> f64 {
    (Instant::now() - sim.start).as_secs_f64().floor() + 1.0
}

/// What the after side measured.
struct After {
    join: Tally,
    chat: Tally,
    leave: Tally,
    phases: Phases,
    /// Presence posts in the busiest second of the join phase, and of the leave phase.
    presence_join: f64,
    presence_leave: f64,
    message_delay: f64,
    /// When the last presence post of the join phase was delivered.
    joins_announced: f64,
    pings: f64,
    count: u64,
    online: u64,
}

async fn after(n: usize, args: &Args, settings: &Settings) -> After {
    let sim = Sim::new(EPOCH, Pages::After);
    seed_history(&sim).await;
    let base = sim.tally();
    sim::run(&sim, Side::After, settings, schedule(&sim, join_events(n)), true).await;
    let joined = sim.tally();
    let chat = next_second(&sim);
    sim::run(&sim, Side::After, settings, schedule(&sim, chat_events(n, args, chat)), true).await;
    let chatted = sim.tally();
    let leave = next_second(&sim);
    sim::run(&sim, Side::After, settings, schedule(&sim, leave_events(n, leave)), true).await;
    let left = sim.tally();
    let end = (Instant::now() - sim.start).as_secs_f64();

    let per_second = sim.poster.presence_per_second.lock().unwrap().clone();
    let joins_announced = per_second[..(chat as usize).min(per_second.len())]
        .iter()
        .rposition(|&n| n > 0)
        .map_or(0.0, |s| s as f64 + 1.0);
    let busiest = |from: f64, to: f64| {
        let seconds = &per_second[(from as usize).min(per_second.len())..(to.ceil() as usize).min(per_second.len())];
        f64::from(seconds.iter().copied().max().unwrap_or_default())
    };
    let delivered = sim.poster.message_delivered.lock().unwrap().clone();
    let message_delay = (0..args.messages)
        .filter_map(|m| {
            Some(
                (delivered.get(&m)?.duration_since(sim.start)).as_secs_f64()
                    - (chat + f64::from(m) * args.message_every),
            )
        })
        .fold(0.0, f64::max);
    let now = sim.epoch(Instant::now());
    let count = chat_core::ports::Presence::count(&sim.presence, now).await.unwrap_or_default();
    let online = sim.store.rows.estimate().await.unwrap_or_default();
    let phases = Phases { chat, leave, end };
    let pings = pings(n, &phases);
    After {
        join: joined.since(&base),
        chat: chatted.since(&joined),
        leave: left.since(&chatted),
        presence_join: busiest(0.0, chat),
        presence_leave: busiest(leave, end),
        message_delay,
        joins_announced,
        pings,
        count,
        online,
        phases,
    }
}

/// When the probe, a chat message while the crowd joins, is sent: halfway through.
fn probe_at(n: usize) -> f64 {
    n as f64 / JOIN_RATE / 2.0
}

/// The number of the probe's `msg#`.
const PROBE: u32 = 999_999;

/// After: how long a chat message sent halfway through the joins takes to
/// reach everyone (a run of its own, so that it adds nothing to the others).
async fn after_probe(n: usize, settings: &Settings) -> f64 {
    let sim = Sim::new(EPOCH, Pages::After);
    seed_history(&sim).await;
    let events = join_events(n).chain([(probe_at(n), Event::Send(speaker(n, 0), PROBE))]);
    sim::run(&sim, Side::After, settings, schedule(&sim, events), true).await;
    let delivered = sim.poster.message_delivered.lock().unwrap().get(&PROBE).copied();
    delivered.map_or(f64::INFINITY, |at| (at - sim.start).as_secs_f64() - probe_at(n))
}

/// The after page's pings in the hour: every 9 minutes from its welcome
/// (a second after it connected) while it is connected.
fn pings(n: usize, phases: &Phases) -> f64 {
    let leaving: std::collections::HashMap<usize, f64> =
        leavers(n).into_iter().enumerate().map(|(j, p)| (p, phases.leave + j as f64 / JOIN_RATE)).collect();
    (0..n)
        .filter(|&p| sim::is_json(p))
        .map(|p| {
            let from = p as f64 / JOIN_RATE + 1.0;
            let to = leaving.get(&p).copied().unwrap_or(HOUR).min(HOUR);
            ((to - from) / PING_SECONDS).floor().max(0.0)
        })
        .sum()
}

/// Connection-minutes in the hour (the same on both sides).
fn connection_minutes(n: usize, phases: &Phases) -> f64 {
    let leaving: std::collections::HashMap<usize, f64> =
        leavers(n).into_iter().enumerate().map(|(j, p)| (p, phases.leave + j as f64 / JOIN_RATE)).collect();
    (0..n).map(|p| (leaving.get(&p).copied().unwrap_or(HOUR).min(HOUR) - p as f64 / JOIN_RATE) / 60.0).sum()
}

/// What the before side measured and modelled.
struct BeforeRun {
    join: Tally,
    chat: Tally,
    leave: Tally,
    keepalive: Tally,
    /// One keepalive `list`.
    keepalive_one: Tally,
    model: model::Before,
}

/// A simulated AWS whose table holds `rows` people (all connected at its start).
async fn filled(epoch0: i64, rows: impl Iterator<Item = usize>) -> Sim {
    let sim = Sim::new(epoch0, Pages::Passive);
    seed_history(&sim).await;
    for p in rows {
        sim.store.rows.put(&sim.row(p, sim.start)).await.unwrap();
    }
    sim
}

/// One f84f0a9 `list` by a page, over a table of `rows`.
async fn one_list(epoch0: i64, rows: usize, settings: &Settings) -> Tally {
    let sim = filled(epoch0, 0..rows.max(2)).await;
    let base = sim.tally();
    sim::run(&sim, Side::Before, settings, schedule(&sim, [(0.0, Event::List(1))]), false).await;
    sim.tally().since(&base)
}

/// The fan-out of one queued notice to `rows` people (not its subject).
async fn one_fanout(epoch0: i64, rows: usize, body: &str, subject: Option<usize>, settings: &Settings) -> Tally {
    let people = (0..).filter(|&p| Some(p) != subject).take(rows);
    let sim = filled(epoch0, people).await;
    if let Some(p) = subject.filter(|_| rows == 0) {
        // A welcome: its recipient is the subject.
        sim.store.rows.put(&sim.row(p, sim.start)).await.unwrap();
    }
    let base = sim.tally();
    sim.queue.put(body.to_string(), 0, sim.start);
    sim::run(&sim, Side::Before, settings, Schedule::new(), true).await;
    let mut tally = sim.tally().since(&base);
    // A backed-up queue fills every batch.
    tally.notify = tally.records / f64::from(settings.batch_size.max(1));
    tally
}

/// One queue message of each kind f84f0a9's handlers send, with its subject.
#[derive(Default)]
struct Queued {
    welcome_json: Option<(String, Option<usize>)>,
    welcome_compat: Option<(String, Option<usize>)>,
    joined: Option<(String, Option<usize>)>,
    left: Option<(String, Option<usize>)>,
    message: Option<(String, Option<usize>)>,
}

impl Queued {
    /// Keeps the first of each kind, but the last `joined` (its subject
    /// comes after everyone a representative fan-out reaches).
    fn keep(&mut self, messages: Vec<sim::Message>) {
        for message in messages {
            let notice = Notice::from_body(&message.body).expect("a notice");
            let subject = notice.exclude.as_deref().map(sim::person_of);
            let slot = match &notice.target {
                Target::Connection(id) => {
                    let p = sim::person_of(id);
                    let slot = if sim::is_json(p) { &mut self.welcome_json } else { &mut self.welcome_compat };
                    slot.get_or_insert((message.body, Some(p)));
                    continue;
                }
                Target::All if notice.payload.json.starts_with(r#"{"type":"joined""#) => {
                    self.joined = Some((message.body, subject));
                    continue;
                }
                Target::All if notice.payload.json.starts_with(r#"{"type":"left""#) => &mut self.left,
                Target::All => &mut self.message,
                _ => continue,
            };
            slot.get_or_insert((message.body, subject));
        }
    }
}

async fn before_run(n: usize, args: &Args, settings: &Settings, phases: &Phases) -> BeforeRun {
    let epoch0 = EPOCH;
    let sim = Sim::new(epoch0, Pages::Passive);
    seed_history(&sim).await;
    // What the handlers queue, one of each kind: (body, its subject).
    let mut queued = Queued::default();
    let base = sim.tally();
    sim::run(&sim, Side::Before, settings, schedule(&sim, join_events(n)), false).await;
    queued.keep(sim.queue.take_all());
    let joined = sim.tally();
    sim::run(&sim, Side::Before, settings, schedule(&sim, chat_events(n, args, phases.chat)), false).await;
    queued.keep(sim.queue.take_all());
    let chatted = sim.tally();
    sim::run(&sim, Side::Before, settings, schedule(&sim, leave_events(n, phases.leave)), false).await;
    queued.keep(sim.queue.take_all());
    let left = sim.tally();
    let Queued { welcome_json, welcome_compat, joined: joined_body, left: left_body, message: message_body } = queued;

    let timeline = model::Timeline {
        people: n,
        join_rate: JOIN_RATE,
        welcome_delay: f64::from(settings.welcome_delay),
        messages: (0..args.messages).map(|m| phases.chat + f64::from(m) * args.message_every).collect(),
        leave_start: phases.leave,
        leavers: leavers(n),
        hour: HOUR,
        probe: probe_at(n),
    };
    let model = model::before(&timeline);

    let fanout = |slot: &Option<(String, Option<usize>)>, rows: usize| {
        let (body, subject) = slot.clone().expect("a queued notice of this kind");
        async move { one_fanout(epoch0, rows, &body, subject, settings).await }
    };
    let welcomes = fanout(&welcome_json, 0).await.scaled((n / 2) as f64);
    let mut join = joined.since(&base);
    join.add(&welcomes);
    join.add(&fanout(&welcome_compat, 0).await.scaled((n - n / 2) as f64));
    join.add(&fanout(&joined_body, model.joined.mean()).await.scaled(model.joined.count));
    let lists = |lists: model::Lists| async move {
        if lists.count > 0.0 {
            one_list(epoch0, lists.mean_rows(), settings).await.scaled(lists.count)
        } else {
            Tally::default()
        }
    };
    join.add(&lists(model.welcome_lists).await);
    join.add(&lists(model.join_lists).await);

    let mut chat = chatted.since(&joined);
    if args.messages > 0 {
        chat.add(&fanout(&message_body, model.messages.mean()).await.scaled(model.messages.count));
    }
    let mut leave = left.since(&chatted);
    leave.add(&fanout(&left_body, model.left.mean()).await.scaled(model.left.count));
    leave.add(&lists(model.leave_lists).await);
    let keepalive_one = one_list(epoch0, model.keepalive_lists.mean_rows().max(n / 2), settings).await;
    let keepalive = keepalive_one.scaled(model.keepalive_lists.count);
    BeforeRun { join, chat, leave, keepalive, keepalive_one, model }
}

/// Before, run whole: every notice fanned out through the throttle, every
/// page's welcome, debounce and keepalive run, until nothing is left. Only
/// small crowds: it is the N² the issue is about.
async fn before_whole(n: usize, args: &Args, settings: &Settings, phases: &Phases) -> (Tally, f64) {
    let sim = Sim::new(EPOCH, Pages::Before);
    seed_history(&sim).await;
    let base = sim.tally();
    let events = join_events(n).chain(chat_events(n, args, phases.chat)).chain(leave_events(n, phases.leave));
    sim::run(&sim, Side::Before, settings, schedule(&sim, events), true).await;
    (sim.tally().since(&base), (Instant::now() - sim.start).as_secs_f64())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let args = args();
    let settings = Settings::default();
    let all_wall = std::time::Instant::now();
    eprintln!(
        "settings: chat.presence {}, post_rate {}/s, shard_size {}, max_concurrency {}, batch {}, welcome_delay {} s; \
         account {}/s; {} chat messages {} s apart",
        settings.presence,
        settings.post_rate,
        settings.shard_size,
        settings.max_concurrency,
        settings.batch_size,
        settings.welcome_delay,
        sim::ACCOUNT_RATE,
        args.messages,
        args.message_every,
    );
    let mut verdicts = Vec::new();
    for &n in &args.sizes {
        let wall = std::time::Instant::now();
        let after = after(n, &args, &settings).await;
        let probe = after_probe(n, &settings).await;
        let after_wall = wall.elapsed();
        let before = before_run(n, &args, &settings, &after.phases).await;
        let before_wall = wall.elapsed() - after_wall;
        let nf = n as f64;
        let minutes = connection_minutes(n, &after.phases);
        let before_hour = sum(&[&before.join, &before.chat, &before.leave, &before.keepalive]);
        let after_hour = sum(&[&after.join, &after.chat, &after.leave]);
        let (b, a) = (&before.join, &after.join);
        let m = &before.model;
        let join_seconds = nf / JOIN_RATE;
        let leave_seconds = (leavers(n).len() as f64 / JOIN_RATE).max(1.0);

        let mut rows: Vec<_> = [
            (Table::Connections, "connections table", 1),
            (Table::Presence, "presence table", 2),
            (Table::History, "history", 2),
            (Table::Ledger, "delivery ledger", 2),
        ]
        .into_iter()
        .map(|(table, name, digits)| {
            let metric = format!("read units per join: {name}");
            row(&metric, b.reads[table as usize] / nf, a.reads[table as usize] / nf, digits)
        })
        .collect();
        rows.extend([
            row("read units per join: all", b.reads_total() / nf, a.reads_total() / nf, 1),
            row("`list` requests per join", b.lists / nf, a.lists / nf, 2),
            row("posts per join: all", b.posts_total() / nf, a.posts_total() / nf, 1),
            row(
                "posts per join: presence notices to others",
                b.posts[Kind::Presence as usize] / nf,
                a.posts[Kind::Presence as usize] / nf,
                1,
            ),
            row(
                "posts per join: list replies",
                (b.posts[Kind::List as usize] + b.refused) / nf,
                a.posts[Kind::List as usize] / nf,
                2,
            ),
            text_row(
                "presence posts per second of joining (share of 10,000/s)",
                format!("{} asked", percent(b.posts[Kind::Presence as usize] / join_seconds)),
                percent(a.posts[Kind::Presence as usize] / join_seconds),
            ),
            text_row(
                "presence posts, busiest second of the join phase",
                "100% (backed up)".into(),
                percent(after.presence_join),
            ),
            text_row(
                "presence posts per second of leaving",
                format!("{} asked", percent(m.left.posts() / leave_seconds)),
                percent(after.leave.posts[Kind::Presence as usize] / leave_seconds),
            ),
            text_row(
                "presence posts, busiest second of the leave phase",
                "100% (backed up)".into(),
                percent(after.presence_leave),
            ),
            text_row("every join announced after", seconds(m.joins_delivered), seconds(after.joins_announced)),
            text_row(
                "digests sent while joining, leaving",
                "-".into(),
                format!("{}, {}", after.join.digests, after.leave.digests),
            ),
            text_row("a chat message reaches everyone within", seconds(m.message_delay), seconds(after.message_delay)),
            text_row("... if sent halfway through the joins", seconds(m.probe_delay), seconds(probe)),
            row("chat function invocations (hour)", before_hour.chat, after_hour.chat, 0),
            row("chat function invocations per join", b.chat / nf, a.chat / nf, 2),
            row("notify function invocations (hour)", before_hour.notify, after_hour.notify, 0),
            row("notify function invocations per join", b.notify / nf, a.notify / nf, 3),
            text_row(
                "largest frame a client is sent (bytes)",
                format!(
                    "{}{}",
                    num(before_hour.largest as f64, 0),
                    if before_hour.largest > sim::MAX_FRAME { " > 128 KB" } else { "" }
                ),
                format!(
                    "{}{}",
                    num(after_hour.largest as f64, 0),
                    if after_hour.largest > sim::MAX_FRAME { " > 128 KB" } else { "" }
                ),
            ),
            row("frames refused for size (413)", before_hour.refused, after_hour.refused, 0),
            text_row("posts throttled (429), hour", "not modelled".into(), num(after_hour.throttled, 0)),
            text_row(
                "keepalive: invocations, read units each",
                format!("{}, {}", num(before.keepalive_one.chat, 0), num(before.keepalive_one.reads_total(), 1)),
                "0, 0 (MOCK ping)".into(),
            ),
            row("keepalives in the hour", before.keepalive.lists, after.pings, 0),
            text_row(
                "count shown vs connected, at the end",
                "-".into(),
                format!("{} vs {}", after.count, after.online),
            ),
        ]);
        let (cb, ca) = (Cost::of(&before_hour, 0.0, minutes), Cost::of(&after_hour, after.pings, minutes));
        for (name, x, y) in [
            ("first hour: API Gateway $", cb.api_gateway, ca.api_gateway),
            ("first hour: Lambda $", cb.lambda, ca.lambda),
            ("first hour: DynamoDB $", cb.dynamodb, ca.dynamodb),
            ("first hour: SQS $", cb.sqs, ca.sqs),
            ("first hour: total $", cb.total(), ca.total()),
        ] {
            rows.push(row(name, x, y, 2));
        }
        rows.push(row(
            "cost per join $ (join phase)",
            Cost::of(b, 0.0, 0.0).total() / nf,
            Cost::of(a, 0.0, 0.0).total() / nf,
            6,
        ));

        println!();
        println!("### {} people", num(nf, 0));
        println!();
        println!("| metric | before | after | ratio |");
        println!("|---|--:|--:|--:|");
        for r in &rows {
            println!("| {} | {} | {} | {} |", r.metric, r.before, r.after, r.ratio);
        }
        println!();
        println!(
            "phases: joins 0-{} s, chat from {} s, leaves from {} s, after side idle at {} s; wall: after {:.1} s, before {:.1} s",
            num(join_seconds, 0),
            num(after.phases.chat, 0),
            num(after.phases.leave, 0),
            num(after.phases.end, 0),
            after_wall.as_secs_f64(),
            before_wall.as_secs_f64(),
        );
        println!(
            "before's model: {} lists per join ({} on welcome, {} after a joined at {} rows), {} after a left, {} keepalives",
            num((m.welcome_lists.count + m.join_lists.count) / nf, 2),
            num(m.welcome_lists.count / nf, 2),
            num(m.join_lists.count / nf, 2),
            num(m.join_lists.mean_rows() as f64, 0),
            num(m.leave_lists.count, 0),
            num(m.keepalive_lists.count, 0),
        );
        if n <= args.whole_up_to {
            let wall = std::time::Instant::now();
            let (whole, done) = before_whole(n, &args, &settings, &after.phases).await;
            println!(
                "before, run whole as a check of the model (every notice through the throttle, every page's timers; {:.1} s of wall time): \
                 `list` requests {} (model: {}), read units {} ({}), posts {} ({}), frames refused {} ({}), 429s {}, all done at {}",
                wall.elapsed().as_secs_f64(),
                num(whole.lists, 0),
                num(before_hour.lists, 0),
                num(whole.reads_total(), 0),
                num(before_hour.reads_total(), 0),
                num(whole.posts_total(), 0),
                num(before_hour.posts_total(), 0),
                num(whole.refused, 0),
                num(before_hour.refused, 0),
                num(whole.throttled, 0),
                seconds(done),
            );
        }
        if n == *args.sizes.iter().max().unwrap_or(&0) {
            let presence = (a.posts[Kind::Presence as usize] / join_seconds, after.presence_join);
            verdicts.push((n, a.reads_total() / nf, presence, after_hour.largest, after_hour.refused));
        }
    }

    println!();
    println!("### Targets (issue #23), at the largest size");
    println!();
    for (n, reads, (mean, peak), largest, refused) in verdicts {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "- A join costs at most 10 read units at {}: {} per join, {}.",
            num(n as f64, 0),
            num(reads, 1),
            verdict(reads <= 10.0)
        );
        // The throttle is a rate: what counts is the most presence takes of
        // it in any one second. The work the joins cause is spread over the
        // windows after them, so its mean per second of joining is no rate.
        println!(
            "- Presence posts at most 20% of the 10,000/s throttle while the crowd joins: {} in the busiest second ({}); the joins cause {} per second of joining, delivered over the windows after them.",
            percent(peak),
            verdict(peak <= 2_000.0),
            percent(mean),
        );
        println!(
            "- Every frame under 128 KB, lists included: the largest is {} bytes, {} refused ({}).",
            num(largest as f64, 0),
            num(refused, 0),
            verdict(largest <= sim::MAX_FRAME && refused == 0.0),
        );
        println!("- Keepalive without Lambda or DynamoDB: by the page's design (a MOCK `ping`), not measured here.");
    }
    println!();
    println!("{ASSUMPTIONS}");
    println!();
    println!("wall time: {:.1} s", all_wall.elapsed().as_secs_f64());
}
