//! The people of a run, the events they make, and the simulation that runs them.

use super::*;

/// Which code handles the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// f84f0a9's handlers ([`before`]), no presence table.
    Before,
    /// chat-core's handlers, with the presence table.
    After,
}

/// How the JSON pages behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pages {
    /// They send only what the schedule says.
    Passive,
    /// docs/presence.md's page: `list` when the welcome arrives (its pings
    /// are counted, not run).
    After,
    /// f84f0a9's `wwwroot/app.js`: `list` when the welcome arrives or 5 s
    /// after connecting (`WELCOME_WAIT_MS`), 100 ms after the last
    /// `joined`/`left` (`refreshList`), and every 5 minutes (`HEARTBEAT_MS`)
    /// until the hour ends.
    Before,
}

/// Something a person (or their page) does.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    Connect(usize),
    List(usize),
    /// Person, and the chat message's number.
    Send(usize, u32),
    Leave(usize),
    /// A before page's timers: the debounce's `list`, going online without
    /// a welcome, the keepalive.
    Refresh(usize),
    Online(usize),
    Heartbeat(usize),
}

/// The events to run, by when.
pub type Schedule = BTreeMap<(Instant, u64), Event>;

/// A connection id of API Gateway's length (16 characters).
pub fn connection_id(person: usize) -> String {
    format!("C{person:014}=")
}

pub fn person_of(connection_id: &str) -> usize {
    connection_id[1..15].parse().expect("a simulated connection id")
}

/// Half the crowd uses the page (JSON), half wscat (compat).
pub fn is_json(person: usize) -> bool {
    person % 2 == 1
}

/// Everyone connects from an address of their own, as API Gateway reports it.
pub(super) fn source_ip(person: usize) -> String {
    format!("10.{}.{}.{}", person >> 16 & 255, person >> 8 & 255, person & 255)
}

/// A display name as long as the chat's anonymous ones (16 characters).
pub fn name(person: usize) -> String {
    format!("Anonymous-{person:06}")
}

/// Everything one run owns.
pub struct Sim {
    pub start: Instant,
    /// Epoch ms at `start`.
    pub epoch0: i64,
    pub store: SimStore,
    pub messages: SimMessages,
    pub presence: SimPresence,
    pub ledger: SimLedger,
    pub queue: SimQueue,
    pub poster: SimPoster,
    pub(super) meter: Meter,
    /// Notify instances that are warm and idle.
    pub(super) idle: Mutex<usize>,
}

impl Sim {
    pub fn new(epoch0: i64, pages: Pages) -> Sim {
        let meter: Meter = Arc::default();
        let start = Instant::now();
        Sim {
            start,
            epoch0,
            store: SimStore { rows: MemoryStore::new(), meter: meter.clone() },
            messages: SimMessages { inner: MemoryMessages::new(), meter: meter.clone() },
            presence: SimPresence { inner: MemoryPresence::new(), buckets: Mutex::default(), meter: meter.clone() },
            ledger: SimLedger { inner: MemoryLedger::new(), bytes: Mutex::default(), meter: meter.clone() },
            queue: SimQueue { due: Mutex::default(), sequence: Mutex::default(), meter: meter.clone() },
            poster: SimPoster {
                bucket: Mutex::new(TokenBucket::full(ACCOUNT_RATE, BURST, start)),
                meter: meter.clone(),
                start,
                presence_per_second: Mutex::default(),
                pages,
                received: Mutex::default(),
                message_delivered: Mutex::default(),
            },
            meter,
            idle: Mutex::new(0),
        }
    }

    pub fn ports(&self, side: Side) -> Ports<'_> {
        Ports {
            store: &self.store,
            notifier: &self.queue,
            poster: &self.poster,
            ledger: &self.ledger,
            messages: Some(&self.messages),
            presence: match side {
                Side::Before => None,
                Side::After => Some(&self.presence),
            },
            metrics: None,
        }
    }

    pub fn tally(&self) -> Tally {
        self.meter.lock().unwrap().clone()
    }

    /// Epoch milliseconds at `at`.
    pub fn epoch(&self, at: Instant) -> i64 {
        self.epoch0 + (at - self.start).as_millis() as i64
    }

    /// The instant `seconds` after the start.
    pub fn at(&self, seconds: f64) -> Instant {
        self.start + Duration::from_secs_f64(seconds)
    }

    /// The row `$connect` writes for `person`, had it connected at `at`.
    pub fn row(&self, person: usize, at: Instant) -> Connection {
        let connected_at = self.epoch(at);
        Connection {
            connection_id: connection_id(person),
            name: name(person),
            sub: None,
            format: if is_json(person) { Format::Json } else { Format::Compat },
            room: None,
            connected_at,
            expires_at: connected_at / 1000 + chat_core::CONNECTION_TTL_SECONDS,
        }
    }

    pub(super) fn websocket_event(&self, event: Event) -> WebSocketEvent {
        let now = self.epoch(Instant::now());
        let (person, route, body) = match event {
            Event::Connect(p) => (p, "$connect", None),
            Event::Leave(p) => (p, "$disconnect", None),
            Event::List(p) => (p, "list", Some(r#"{"action":"list"}"#.to_string())),
            Event::Send(p, n) if is_json(p) => (
                p,
                "send",
                Some(format!(
                    r#"{{"action":"send","text":"msg#{n} has anyone tried the new build?","clientId":"c{p}-{n}"}}"#
                )),
            ),
            Event::Send(p, n) => {
                (p, "sendmessage", Some(format!(r#"{{"action":"sendmessage","data":"msg#{n} works for me"}}"#)))
            }
            Event::Refresh(_) | Event::Online(_) | Event::Heartbeat(_) => unreachable!("a page's own timer"),
        };
        let event_type = match route {
            "$connect" => "CONNECT",
            "$disconnect" => "DISCONNECT",
            _ => "MESSAGE",
        };
        let query = matches!(event, Event::Connect(_)).then(|| {
            let format = if is_json(person) { "json" } else { "compat" };
            [("username".to_string(), name(person)), ("format".to_string(), format.to_string())].into()
        });
        WebSocketEvent {
            request_context: RequestContext {
                route_key: route.into(),
                event_type: event_type.into(),
                connection_id: connection_id(person),
                connected_at: if matches!(event, Event::Connect(_)) { now } else { 0 },
                request_time_epoch: now,
                identity: Some(Identity { source_ip: source_ip(person), user_agent: None }),
                ..RequestContext::default()
            },
            body,
            query_string_parameters: query,
            ..WebSocketEvent::default()
        }
    }
}

/// One invocation of the chat function.
pub(super) async fn chat_call(sim: &Sim, side: Side, settings: &Settings, event: Event) {
    let began = Instant::now();
    let ws = sim.websocket_event(event);
    match side {
        Side::Before => drop(before::handle_websocket(sim.ports(side), settings, &ws).await),
        Side::After => drop(chat_core::handle_websocket(sim.ports(side), settings, &ws).await),
    }
    let took = (Instant::now() - began).as_secs_f64();
    meter(&sim.meter, |t| {
        t.chat += 1.0;
        t.chat_gb_s += took * MEMORY_GB;
        if matches!(event, Event::List(_) | Event::Send(..)) {
            t.inbound += 1.0;
        }
        if matches!(event, Event::List(_)) {
            t.lists += 1.0;
        }
    });
}

/// One invocation of the notify function: the batch, and the ids of the
/// records SQS delivers again (all of them if it was killed).
pub(super) async fn notify_call(
    sim: &Sim,
    side: Side,
    settings: &Settings,
    batch: Vec<Message>,
) -> (Vec<Message>, Vec<String>) {
    let began = Instant::now();
    let cold = {
        let mut idle = sim.idle.lock().unwrap();
        let cold = *idle == 0;
        *idle = idle.saturating_sub(1);
        cold
    };
    if cold {
        tokio::time::sleep(COLD_START).await;
    }
    let records = batch
        .iter()
        .map(|m| SqsRecord { message_id: m.id.clone(), body: m.body.clone(), ..SqsRecord::default() })
        .collect();
    let event = SqsEvent { records };
    let deadline = began + TIMEOUT;
    let handled =
        tokio::time::timeout_at(deadline, chat_core::handle_sqs(sim.ports(side), settings, &event, Some(deadline)))
            .await;
    let failed = match handled {
        Ok(response) => response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect(),
        Err(_) => batch.iter().map(|m| m.id.clone()).collect(),
    };
    let took = (Instant::now() - began).as_secs_f64();
    meter(&sim.meter, |t| {
        t.notify += 1.0;
        t.records += batch.len() as f64;
        t.notify_gb_s += took * MEMORY_GB;
        // The mapping's ReceiveMessage and DeleteMessageBatch.
        t.sqs += 2.0;
    });
    *sim.idle.lock().unwrap() += 1;
    (batch, failed)
}

/// What the before pages hold: who is online (welcomed, or 5 s on), who
/// left, and each page's pending debounce.
#[derive(Default)]
pub(super) struct PageState {
    pub(super) online: HashMap<usize, bool>,
    pub(super) gone: HashMap<usize, bool>,
    pub(super) refresh: HashMap<usize, Instant>,
}

/// Runs `schedule`, and (when `deliver`) the notify function over the queue,
/// until nothing is left to do. The pages add their own `list`s (and
/// timers) to the schedule as they receive frames ([`Pages`]).
pub async fn run(sim: &Sim, side: Side, settings: &Settings, mut schedule: Schedule, deliver: bool) {
    let mut sequence = u64::MAX / 2;
    let mut next = || {
        sequence += 1;
        sequence
    };
    let mut pages = PageState::default();
    let mut calls = FuturesUnordered::new();
    let mut running = FuturesUnordered::new();
    let max_concurrency = settings.max_concurrency.max(1) as usize;
    let hour_end = sim.at(HOUR);
    loop {
        let now = Instant::now();
        for (id, kind) in sim.poster.take_received() {
            let person = person_of(&id);
            match (sim.poster.pages, kind) {
                (Pages::After, Kind::Welcome) => {
                    schedule.insert((now, next()), Event::List(person));
                }
                (Pages::Before, Kind::Welcome) => {
                    schedule.insert((now, next()), Event::Online(person));
                }
                (Pages::Before, Kind::Presence) => {
                    let due = now + DEBOUNCE;
                    pages.refresh.insert(person, due);
                    schedule.insert((due, next()), Event::Refresh(person));
                }
                _ => {}
            }
        }
        while let Some(entry) = schedule.first_entry() {
            let at = entry.key().0;
            if at > now {
                break;
            }
            let event = entry.remove();
            let list = match event {
                Event::Refresh(p) => pages.refresh.get(&p) == Some(&at),
                Event::Online(p) => {
                    let was = pages.online.insert(p, true).unwrap_or_default();
                    if !was {
                        schedule.insert((at + HEARTBEAT, next()), Event::Heartbeat(p));
                    }
                    !was
                }
                Event::Heartbeat(p) => {
                    let alive = !pages.gone.contains_key(&p) && at < hour_end;
                    if alive {
                        schedule.insert((at + HEARTBEAT, next()), Event::Heartbeat(p));
                    }
                    alive
                }
                Event::Connect(p) | Event::Leave(p) => {
                    if sim.poster.pages == Pages::Before && is_json(p) {
                        match event {
                            Event::Connect(_) => drop(schedule.insert((at + WELCOME_WAIT, next()), Event::Online(p))),
                            _ => drop(pages.gone.insert(p, true)),
                        }
                    }
                    calls.push(chat_call(sim, side, settings, event));
                    continue;
                }
                Event::List(_) | Event::Send(..) => {
                    calls.push(chat_call(sim, side, settings, event));
                    continue;
                }
            };
            if list {
                let p = match event {
                    Event::Refresh(p) | Event::Online(p) | Event::Heartbeat(p) => p,
                    _ => unreachable!(),
                };
                calls.push(chat_call(sim, side, settings, Event::List(p)));
            }
        }
        while deliver && running.len() < max_concurrency {
            let batch = sim.queue.take(settings.batch_size.max(1) as usize);
            if batch.is_empty() {
                break;
            }
            running.push(notify_call(sim, side, settings, batch));
        }
        let queued = if deliver { sim.queue.next_due() } else { None };
        if calls.is_empty() && running.is_empty() && schedule.is_empty() && queued.is_none() {
            return;
        }
        let mut wake = schedule.first_key_value().map(|(&(at, _), _)| at);
        if running.len() < max_concurrency
            && let Some(due) = queued
        {
            wake = Some(wake.map_or(due, |w| w.min(due)));
        }
        let wake = wake.unwrap_or(now + Duration::from_secs(3600)).max(now);
        tokio::select! {
            // In order, not at random: the same run every time.
            biased;
            Some(()) = calls.next(), if !calls.is_empty() => {}
            Some((batch, failed)) = running.next(), if !running.is_empty() => {
                for message in batch {
                    if !failed.contains(&message.id) {
                        continue;
                    }
                    if message.receives + 1 < MAX_RECEIVES {
                        sim.queue.put(message.body, message.receives + 1, Instant::now() + VISIBILITY);
                    }
                }
            }
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}
