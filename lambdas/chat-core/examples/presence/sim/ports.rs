//! chat-core's ports over the memory ones, behind simulated latency, billing and throttles.

use super::*;

/// The connections table.
pub struct SimStore {
    pub rows: MemoryStore,
    pub(super) meter: Meter,
}

impl SimStore {
    pub(super) fn read(&self, units: f64) {
        meter(&self.meter, |t| t.reads[Table::Connections as usize] += units);
    }

    pub(super) fn write(&self, units: f64) {
        meter(&self.meter, |t| t.writes[Table::Connections as usize] += units);
    }
}

#[async_trait]
impl ConnectionStore for SimStore {
    async fn put(&self, c: &Connection) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        self.write(write_units(row_bytes(c)));
        self.rows.put(c).await
    }
    async fn get(&self, id: &str) -> PortResult<Option<Connection>> {
        tokio::time::sleep(CALL).await;
        let row = self.rows.get(id).await?;
        self.read(read_units(row.as_ref().map_or(1, row_bytes), true));
        Ok(row)
    }
    async fn delete(&self, id: &str) -> PortResult<Option<Connection>> {
        tokio::time::sleep(CALL).await;
        let row = self.rows.delete(id).await?;
        self.write(write_units(row.as_ref().map_or(1, row_bytes)));
        Ok(row)
    }
    /// A consistent Scan, 1 MB a page, one page after another.
    async fn all(&self) -> PortResult<Vec<Connection>> {
        let rows = self.rows.all().await?;
        let mut page = 0;
        for row in &rows {
            let bytes = row_bytes(row);
            if page + bytes > SCAN_PAGE_BYTES {
                tokio::time::sleep(QUERY).await;
                self.read(read_units(page, true));
                page = 0;
            }
            page += bytes;
        }
        tokio::time::sleep(QUERY).await;
        self.read(read_units(page, true));
        Ok(rows)
    }
    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        tokio::time::sleep(QUERY).await;
        let rows = self.rows.in_room(room).await?;
        self.read(read_units(rows.iter().map(row_bytes).sum(), false));
        Ok(rows)
    }
    /// DescribeTable's `ItemCount`: no read units.
    async fn estimate(&self) -> PortResult<u64> {
        tokio::time::sleep(CALL).await;
        self.rows.estimate().await
    }
    /// An eventually consistent Scan page.
    async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
        tokio::time::sleep(QUERY).await;
        let out = self.rows.scan_page(page).await?;
        self.read(read_units(out.0.iter().map(row_bytes).sum(), false));
        Ok(out)
    }
    async fn mark_typing(&self, id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
        tokio::time::sleep(CALL).await;
        self.write(1.0);
        self.rows.mark_typing(id, now, every_ms).await
    }
}

/// The messages table (the chat's history).
pub struct SimMessages {
    pub inner: MemoryMessages,
    pub(super) meter: Meter,
}

#[async_trait]
impl MessageStore for SimMessages {
    async fn put(&self, m: &ChatMessage) -> PortResult<Put> {
        tokio::time::sleep(CALL).await;
        // With a clientId: a transaction of the message and its record, billed twice.
        let units = match m.client_id {
            Some(_) => 2.0 * (write_units(message_bytes(m)) + write_units(dedupe_bytes(m))),
            None => write_units(message_bytes(m)),
        };
        meter(&self.meter, |t| t.writes[Table::History as usize] += units);
        self.inner.put(m).await
    }
    /// A consistent Query for `limit + 2` items, as `DynamoMessages::page`
    /// asks (its filter on `expiresAt` reads them all the same).
    async fn page(&self, conversation: &str, window: Window<'_>, limit: usize, now: i64) -> PortResult<Page> {
        tokio::time::sleep(QUERY).await;
        let (mut read, _) = self.inner.page(conversation, window, limit + 2, now).await?;
        let units = read_units(read.iter().map(message_bytes).sum(), true);
        meter(&self.meter, |t| t.reads[Table::History as usize] += units);
        let more = read.len() > limit;
        match window {
            Window::Since(_) => read.truncate(limit),
            _ => {
                let extra = read.len().saturating_sub(limit);
                read.drain(..extra);
            }
        }
        Ok((read, more))
    }
}

/// The presence table: chat-core's `MemoryPresence`, with the items'
/// sizes kept beside it.
pub struct SimPresence {
    pub(super) inner: MemoryPresence,
    pub(super) buckets: Mutex<BTreeMap<i64, i64>>,
    pub(super) meter: Meter,
}

impl SimPresence {
    pub(super) async fn add(&self, c: &Connection, by: i64) {
        tokio::time::sleep(CALL).await;
        let minute = bucket(c.expires_at);
        let count = {
            let mut buckets = self.buckets.lock().unwrap();
            let n = buckets.entry(minute).or_default();
            *n += by;
            *n
        };
        let units = write_units(bucket_bytes(minute, count));
        meter(&self.meter, |t| t.writes[Table::Presence as usize] += units);
    }
}

#[async_trait]
impl Presence for SimPresence {
    async fn arrive(&self, c: &Connection) -> PortResult<()> {
        self.add(c, 1).await;
        self.inner.arrive(c).await
    }
    async fn depart(&self, c: &Connection) -> PortResult<()> {
        self.add(c, -1).await;
        self.inner.depart(c).await
    }
    /// An eventually consistent Query of the buckets still to come.
    async fn count(&self, now: i64) -> PortResult<u64> {
        tokio::time::sleep(QUERY).await;
        let bytes: usize =
            self.buckets.lock().unwrap().range(live_from(now)..).map(|(m, n)| bucket_bytes(*m, *n)).sum();
        meter(&self.meter, |t| t.reads[Table::Presence as usize] += read_units(bytes, false));
        self.inner.count(now).await
    }
    /// One UpdateItem, and a second that names the first ten of each kind.
    async fn note(&self, window: DigestWindow, change: Change, who: &Member) -> PortResult<bool> {
        tokio::time::sleep(CALL).await;
        let first = self.inner.note(window, change, who).await?;
        let digest = self.inner.digest(window).await?;
        let nth = match change {
            Change::Joined => digest.joined_count,
            Change::Left => digest.left_count,
        };
        let units = write_units(digest_bytes(window, &digest));
        let named = nth <= DIGEST_NAMES as u64;
        if named {
            tokio::time::sleep(CALL).await;
        }
        meter(&self.meter, |t| {
            t.writes[Table::Presence as usize] += if named { 2.0 * units } else { units };
            t.digests += f64::from(u8::from(first));
        });
        Ok(first)
    }
    /// A consistent GetItem.
    async fn digest(&self, window: DigestWindow) -> PortResult<Digest> {
        tokio::time::sleep(CALL).await;
        let digest = self.inner.digest(window).await?;
        let units = read_units(digest_bytes(window, &digest), true);
        meter(&self.meter, |t| t.reads[Table::Presence as usize] += units);
        Ok(digest)
    }
    /// Conditional UpdateItems of an item well under 1 KB: one when the
    /// frame is admitted at the first try (a bucket full or new, as every
    /// bucket in this crowd is), three when it is refused (two failed
    /// conditions, which DynamoDB bills too, and the strike).
    async fn admit(&self, who: &str, bucket: Bucket, rate: Rate, now: i64) -> PortResult<Admission> {
        tokio::time::sleep(CALL).await;
        let admission = self.inner.admit(who, bucket, rate, now).await?;
        let units = match admission {
            Admission::Admitted => 1.0,
            Admission::Refused { .. } => 3.0,
        };
        meter(&self.meter, |t| t.writes[Table::Presence as usize] += units);
        Ok(admission)
    }
    async fn ban(&self, who: &str, until: i64) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        meter(&self.meter, |t| t.writes[Table::Presence as usize] += 1.0);
        self.inner.ban(who, until).await
    }
    /// A consistent GetItem of the ban item (absent: still one read unit).
    async fn banned(&self, who: &str, now: i64) -> PortResult<Option<i64>> {
        tokio::time::sleep(CALL).await;
        meter(&self.meter, |t| t.reads[Table::Presence as usize] += read_units(1, true));
        self.inner.banned(who, now).await
    }
}

/// The delivery ledger.
pub struct SimLedger {
    pub(super) inner: MemoryLedger,
    pub(super) bytes: Mutex<HashMap<String, usize>>,
    pub(super) meter: Meter,
}

impl SimLedger {
    pub(super) fn put(&self, key: &str, part: u32, delivered: &[String]) {
        let size = ledger_bytes(key, part, delivered);
        *self.bytes.lock().unwrap().entry(key.to_string()).or_default() += size;
        meter(&self.meter, |t| t.writes[Table::Ledger as usize] += write_units(size));
    }
}

#[async_trait]
impl Ledger for SimLedger {
    /// A consistent Query of the record's parts.
    async fn read(&self, key: &str) -> PortResult<Progress> {
        tokio::time::sleep(QUERY).await;
        let bytes = self.bytes.lock().unwrap().get(key).copied().unwrap_or_default();
        meter(&self.meter, |t| t.reads[Table::Ledger as usize] += read_units(bytes, true));
        self.inner.read(key).await
    }
    async fn record(&self, key: &str, part: u32, delivered: &[String]) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        self.put(key, part.max(1), delivered);
        self.inner.record(key, part, delivered).await
    }
    async fn finish(&self, key: &str) -> PortResult<()> {
        tokio::time::sleep(CALL).await;
        self.put(key, 0, &[]);
        self.inner.finish(key).await
    }
}

// ------------------------------------------------------------ SQS

pub struct Message {
    pub(super) id: String,
    pub body: String,
    pub(super) receives: u32,
}

/// The notification queue: messages by when they become visible.
pub struct SimQueue {
    pub(super) due: Mutex<BTreeMap<(Instant, u64), Message>>,
    pub(super) sequence: Mutex<u64>,
    pub(super) meter: Meter,
}

impl SimQueue {
    pub fn put(&self, body: String, receives: u32, at: Instant) {
        let n = {
            let mut sequence = self.sequence.lock().unwrap();
            *sequence += 1;
            *sequence
        };
        self.due.lock().unwrap().insert((at, n), Message { id: format!("m{n}"), body, receives });
    }

    pub(super) fn take(&self, max: usize) -> Vec<Message> {
        let now = Instant::now();
        let mut due = self.due.lock().unwrap();
        let mut batch = Vec::new();
        while batch.len() < max && due.first_key_value().is_some_and(|(&(at, _), _)| at <= now) {
            batch.push(due.pop_first().unwrap().1);
        }
        batch
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        self.due.lock().unwrap().first_key_value().map(|(&(at, _), _)| at)
    }

    /// Every message, delivered or not, in the order they were sent.
    pub fn take_all(&self) -> Vec<Message> {
        let mut all: Vec<((Instant, u64), Message)> =
            std::mem::take(&mut *self.due.lock().unwrap()).into_iter().collect();
        all.sort_by_key(|((_, n), _)| *n);
        all.into_iter().map(|(_, m)| m).collect()
    }
}

#[async_trait]
impl Notifier for SimQueue {
    async fn send(&self, body: String, delay: u32) -> PortResult<()> {
        tokio::time::sleep(SQS).await;
        meter(&self.meter, |t| t.sqs += 1.0);
        self.put(body, 0, Instant::now() + Duration::from_secs(delay.into()));
        Ok(())
    }
    async fn send_many(&self, messages: Vec<(String, u32)>) -> PortResult<()> {
        let calls = messages.len().div_ceil(10);
        tokio::time::sleep(SQS * calls.div_ceil(8) as u32).await;
        meter(&self.meter, |t| t.sqs += calls as f64);
        let now = Instant::now();
        for (body, delay) in messages {
            self.put(body, 0, now + Duration::from_secs(delay.into()));
        }
        Ok(())
    }
}

// ------------------------------------------------------------ API Gateway

/// The Management API behind the account's throttle (10,000 posts a second,
/// a burst of 5,000): a post above it is answered 429 at once; a frame over
/// 128 KB is refused (413). Nothing else fails.
pub struct SimPoster {
    pub(super) bucket: Mutex<TokenBucket<Instant>>,
    pub(super) meter: Meter,
    pub(super) start: Instant,
    /// Presence posts in each second since the start.
    pub presence_per_second: Mutex<Vec<u32>>,
    /// Whether the pages react to what they receive.
    pub(super) pages: Pages,
    /// What JSON pages received that they react to: welcomes and presence frames.
    pub(super) received: Mutex<Vec<(String, Kind)>>,
    /// When the last frame of each chat message (by its `msg#n` marker) was delivered.
    pub message_delivered: Mutex<BTreeMap<u32, Instant>>,
}

impl SimPoster {
    pub(super) fn admit(&self) -> bool {
        self.bucket.lock().unwrap().take(Instant::now())
    }

    pub(super) fn take_received(&self) -> Vec<(String, Kind)> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

/// What a frame is, from its first bytes.
pub fn kind_of(frame: &[u8]) -> Kind {
    if let Some(rest) = frame.strip_prefix(b"{\"type\":\"") {
        let end = rest.iter().position(|&b| b == b'"').unwrap_or(0);
        return match &rest[..end] {
            b"welcome" => Kind::Welcome,
            b"history" => Kind::History,
            b"joined" | b"left" | b"renamed" | b"presence" => Kind::Presence,
            b"list" => Kind::List,
            b"message" => Kind::Message,
            _ => Kind::Other,
        };
    }
    if frame.starts_with(b"Welcome! ") {
        Kind::Welcome
    } else if frame.starts_with(b"connections: ") {
        Kind::List
    } else if frame.starts_with(b"{\"action\":\"message\",\"from\":\"#host\"") {
        Kind::Presence
    } else if frame.windows(4).any(|w| w == b"msg#") {
        Kind::Message
    } else {
        Kind::Other
    }
}

/// The `n` of a chat message's `msg#n` marker.
pub(super) fn marker(frame: &[u8]) -> Option<u32> {
    let at = frame.windows(4).position(|w| w == b"msg#")? + 4;
    let digits: String = frame[at..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
    digits.parse().ok()
}

#[async_trait]
impl Poster for SimPoster {
    /// Nobody floods here: only a flooder is closed.
    async fn close(&self, _connection_id: &str) -> PortResult<()> {
        tokio::time::sleep(POST).await;
        Ok(())
    }

    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()> {
        if !self.admit() {
            meter(&self.meter, |t| t.throttled += 1.0);
            tokio::time::sleep(THROTTLED).await;
            return Err(PortError::Failed("429 LimitExceededException".into()));
        }
        tokio::time::sleep(POST).await;
        let kind = kind_of(data);
        if data.len() > MAX_FRAME {
            meter(&self.meter, |t| {
                t.refused += 1.0;
                t.largest = t.largest.max(data.len());
            });
            return Err(PortError::Refused("413 PayloadTooLargeException".into()));
        }
        meter(&self.meter, |t| {
            t.posts[kind as usize] += 1.0;
            t.billed += data.len().div_ceil(BILLING_CHUNK).max(1) as f64;
            t.largest = t.largest.max(data.len());
        });
        let now = Instant::now();
        if self.pages != Pages::Passive && matches!(kind, Kind::Welcome | Kind::Presence) && data.starts_with(b"{") {
            self.received.lock().unwrap().push((connection_id.to_string(), kind));
        }
        match kind {
            Kind::Presence => {
                let second = (now - self.start).as_secs() as usize;
                let mut per_second = self.presence_per_second.lock().unwrap();
                if per_second.len() <= second {
                    per_second.resize(second + 1, 0);
                }
                per_second[second] += 1;
            }
            Kind::Message => {
                if let Some(n) = marker(data) {
                    self.message_delivered.lock().unwrap().insert(n, now);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

// ------------------------------------------------------------ the crowd
