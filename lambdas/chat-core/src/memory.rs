//! In-memory ports, for `wschat dev`, the fan-out benchmark and fast unit
//! tests: a [`ConnectionStore`], a [`Ledger`], a [`MessageStore`] and a
//! [`Presence`].

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::history::{ID_END, dedupe_scope, repeats};
use crate::limits::{Admission, Bucket, Rate, gcra};
use crate::ports::{
    Change, ChatMessage, Connection, ConnectionStore, Digest, DigestWindow, Ledger, Member, MessageStore, Page,
    PortResult, Presence, Progress, Put, ScanPage, Window,
};
use crate::presence::{DIGEST_NAMES, bucket, live_from};

/// Connections ordered as DynamoDB orders a scan: by a hash of the partition
/// key. A parallel scan's segment `i` of `n` is the `i`-th of `n` equal
/// ranges of the hash, as DynamoDB splits a table's key space.
#[derive(Debug, Default)]
pub struct MemoryStore {
    rows: Mutex<BTreeMap<(u64, String), Connection>>,
    /// Each row's `typingAt` (epoch ms), as the DynamoDB row holds it.
    typing: Mutex<HashMap<String, i64>>,
    /// What [`ConnectionStore::estimate`] answers instead of the row count
    /// (see [`MemoryStore::lag_item_count`]).
    item_count: Mutex<Option<u64>>,
}

/// FNV-1a, 64 bits: stable across builds, unlike std's `DefaultHasher`.
fn key_hash(connection_id: &str) -> u64 {
    connection_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

fn key(connection_id: &str) -> (u64, String) {
    (key_hash(connection_id), connection_id.to_string())
}

/// The first hash of segment `segment` of `of`, or `None` past the last.
fn segment_start(segment: u32, of: u32) -> Option<u64> {
    let start = (u128::from(segment) << 64).div_ceil(u128::from(of.max(1)));
    u64::try_from(start).ok()
}

/// Locks `mutex`. A panic while holding one of these locks cannot leave a
/// half-written value: every operation is a single map call.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn rows(&self) -> MutexGuard<'_, BTreeMap<(u64, String), Connection>> {
        lock(&self.rows)
    }

    /// Makes [`ConnectionStore::estimate`] answer `count` whatever the rows
    /// are, as DynamoDB's `ItemCount` does between its refreshes ("DynamoDB
    /// updates this value approximately every six hours", API Reference,
    /// TableDescription): a new or fast-growing table reads low. `None`
    /// counts the rows again.
    pub fn lag_item_count(&self, count: Option<u64>) {
        *lock(&self.item_count) = count;
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn put(&self, connection: &Connection) -> PortResult<()> {
        self.rows().insert(key(&connection.connection_id), connection.clone());
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> PortResult<Option<Connection>> {
        Ok(self.rows().get(&key(connection_id)).cloned())
    }

    async fn delete(&self, connection_id: &str) -> PortResult<Option<Connection>> {
        lock(&self.typing).remove(connection_id);
        Ok(self.rows().remove(&key(connection_id)))
    }

    async fn all(&self) -> PortResult<Vec<Connection>> {
        Ok(self.rows().values().cloned().collect())
    }

    async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
        Ok(self.rows().values().filter(|c| c.room.as_deref() == Some(room)).cloned().collect())
    }

    async fn estimate(&self) -> PortResult<u64> {
        let lagging = *lock(&self.item_count);
        Ok(lagging.unwrap_or_else(|| self.rows().len() as u64))
    }

    async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
        let Some(first) = segment_start(page.segment, page.of) else { return Ok((Vec::new(), None)) };
        let start = match page.after {
            Some(after) => Bound::Excluded(key(after)),
            None => Bound::Included((first, String::new())),
        };
        let end = match segment_start(page.segment + 1, page.of) {
            Some(next) => Bound::Excluded((next, String::new())),
            None => Bound::Unbounded,
        };
        let rows = self.rows();
        let mut range = rows.range((start, end));
        let taken: Vec<Connection> = range.by_ref().take(page.limit.max(1)).map(|(_, c)| c.clone()).collect();
        let more = range.next().is_some();
        let after = taken.last().filter(|_| more).map(|c| c.connection_id.clone());
        Ok((taken, after))
    }

    async fn mark_typing(&self, connection_id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
        // The rows' lock first, then the marks', as everywhere.
        let rows = self.rows();
        if !rows.contains_key(&key(connection_id)) {
            return Ok(false);
        }
        let mut typing = lock(&self.typing);
        match typing.get(connection_id) {
            Some(at) if now - at < every_ms => Ok(false),
            _ => {
                typing.insert(connection_id.to_string(), now);
                Ok(true)
            }
        }
    }
}

/// The messages table in maps: messages by conversation and id, and the
/// de-duplication records by conversation and `clientId`, under one lock so
/// that a message and its record are written together.
#[derive(Debug, Default)]
pub struct MemoryMessages {
    tables: Mutex<Messages>,
}

#[derive(Debug, Default)]
struct Messages {
    messages: BTreeMap<(String, String), ChatMessage>,
    /// (conversation, [`dedupe_scope`]) to the message id and its expiry.
    seen: HashMap<(String, String), (String, i64)>,
}

impl MemoryMessages {
    pub fn new() -> MemoryMessages {
        MemoryMessages::default()
    }

    /// How many messages it holds, in every conversation.
    pub fn len(&self) -> usize {
        lock(&self.tables).messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl MessageStore for MemoryMessages {
    async fn put(&self, message: &ChatMessage) -> PortResult<Put> {
        let mut tables = lock(&self.tables);
        if message.client_id.is_some() {
            let seen = (message.conversation.clone(), dedupe_scope(message));
            let now = message.timestamp / 1000;
            if let Some((id, expires_at)) = tables.seen.get(&seen).filter(|(_, expires_at)| *expires_at > now) {
                let _ = expires_at;
                let first = tables.messages.get(&(message.conversation.clone(), id.clone()));
                return Ok(match first {
                    Some(first) if repeats(first, message) => {
                        Put::Duplicate { id: first.id.clone(), timestamp: first.timestamp }
                    }
                    _ => Put::Conflict,
                });
            }
            tables.seen.insert(seen, (message.id.clone(), message.expires_at));
        }
        tables.messages.insert((message.conversation.clone(), message.id.clone()), message.clone());
        Ok(Put::Stored)
    }

    async fn page(&self, conversation: &str, window: Window<'_>, limit: usize, now: i64) -> PortResult<Page> {
        let tables = lock(&self.tables);
        let at = |id: &str| (conversation.to_string(), id.to_string());
        let (start, end) = match window {
            Window::Latest => (Bound::Included(at("")), Bound::Excluded(at(ID_END))),
            Window::Before(id) => (Bound::Included(at("")), Bound::Excluded(at(id))),
            Window::Since(id) => (Bound::Excluded(at(id)), Bound::Excluded(at(ID_END))),
        };
        let range = tables.messages.range((start, end)).map(|(_, m)| m).filter(|m| m.expires_at > now);
        let mut taken: Vec<ChatMessage> = match window {
            Window::Since(_) => range.take(limit + 1).cloned().collect(),
            _ => range.rev().take(limit + 1).cloned().collect(),
        };
        let more = taken.len() > limit;
        taken.truncate(limit);
        if !matches!(window, Window::Since(_)) {
            taken.reverse();
        }
        Ok((taken, more))
    }
}

/// The presence table in maps: the count by the minute rows expire in, and
/// the digests by window, as the DynamoDB items hold them.
#[derive(Debug, Default)]
pub struct MemoryPresence {
    buckets: Mutex<BTreeMap<i64, i64>>,
    digests: Mutex<HashMap<DigestWindow, Digest>>,
    /// Rate buckets by who and bucket, and each who's strikes.
    limits: Mutex<HashMap<(String, Bucket), i64>>,
    strikes: Mutex<HashMap<String, u32>>,
    /// Bans by who, until when (epoch ms).
    bans: Mutex<HashMap<String, i64>>,
}

impl MemoryPresence {
    pub fn new() -> MemoryPresence {
        MemoryPresence::default()
    }

    fn add(&self, connection: &Connection, n: i64) {
        // Expired minutes are kept (one small entry a minute of activity):
        // `count` leaves them out, as it does the items DynamoDB's TTL has
        // not deleted yet.
        *lock(&self.buckets).entry(bucket(connection.expires_at)).or_default() += n;
    }
}

#[async_trait]
impl Presence for MemoryPresence {
    async fn arrive(&self, connection: &Connection) -> PortResult<()> {
        self.add(connection, 1);
        Ok(())
    }

    async fn depart(&self, connection: &Connection) -> PortResult<()> {
        self.add(connection, -1);
        Ok(())
    }

    /// A read, as the Query of the presence table is: it changes nothing,
    /// so counts at different clocks (an event's, the fan-out's) agree.
    async fn count(&self, now: i64) -> PortResult<u64> {
        let sum: i64 = lock(&self.buckets).range(live_from(now)..).map(|(_, n)| n).sum();
        Ok(sum.max(0) as u64)
    }

    async fn note(&self, window: DigestWindow, change: Change, who: &Member) -> PortResult<bool> {
        let mut digests = lock(&self.digests);
        digests.retain(|w, _| w.end_ms() > window.end_ms() - 3_600_000);
        let digest = digests.entry(window).or_default();
        let first = digest.joined_count + digest.left_count == 0;
        let (count, names) = match change {
            Change::Joined => (&mut digest.joined_count, &mut digest.joined),
            Change::Left => (&mut digest.left_count, &mut digest.left),
        };
        *count += 1;
        if names.len() < DIGEST_NAMES {
            names.push(who.clone());
        }
        Ok(first)
    }

    async fn digest(&self, window: DigestWindow) -> PortResult<Digest> {
        Ok(lock(&self.digests).get(&window).cloned().unwrap_or_default())
    }

    async fn admit(&self, who: &str, bucket: Bucket, rate: Rate, now: i64) -> PortResult<Admission> {
        // The buckets' lock first, then the strikes', as everywhere.
        let mut limits = lock(&self.limits);
        let key = (who.to_string(), bucket);
        let mut strikes = lock(&self.strikes);
        let before = limits.get(&key).copied();
        match gcra(before, now, rate) {
            Ok(at) => {
                limits.insert(key, at);
                // A full bucket: the client paused, and its strikes are forgiven.
                if before.is_none_or(|before| before <= now) {
                    strikes.remove(who);
                }
                Ok(Admission::Admitted)
            }
            Err(retry_after_ms) => {
                let count = strikes.entry(who.to_string()).or_default();
                *count += 1;
                Ok(Admission::Refused { strikes: *count, retry_after_ms })
            }
        }
    }

    async fn ban(&self, who: &str, until: i64) -> PortResult<()> {
        lock(&self.bans).insert(who.to_string(), until);
        Ok(())
    }

    async fn banned(&self, who: &str, now: i64) -> PortResult<Option<i64>> {
        Ok(lock(&self.bans).get(who).copied().filter(|until| *until > now))
    }
}

/// A ledger in a map.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: Mutex<HashMap<String, Progress>>,
}

impl MemoryLedger {
    pub fn new() -> MemoryLedger {
        MemoryLedger::default()
    }

    /// How many records the ledger knows of.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn read(&self, key: &str) -> PortResult<Progress> {
        Ok(lock(&self.entries).get(key).cloned().unwrap_or_default())
    }

    async fn record(&self, key: &str, _part: u32, delivered: &[String]) -> PortResult<()> {
        lock(&self.entries).entry(key.to_string()).or_default().delivered.extend(delivered.iter().cloned());
        Ok(())
    }

    async fn finish(&self, key: &str) -> PortResult<()> {
        let mut entries = lock(&self.entries);
        let entry = entries.entry(key.to_string()).or_default();
        entry.done = true;
        entry.delivered.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::ports::Format;

    fn row(id: &str) -> Connection {
        Connection::new(id, id, Format::Compat, 0)
    }

    async fn store(n: usize) -> MemoryStore {
        let store = MemoryStore::new();
        for i in 0..n {
            store.put(&row(&format!("c{i}="))).await.unwrap();
        }
        store
    }

    /// Every row of segment `segment` of `of`, page by page.
    async fn whole_segment(store: &MemoryStore, segment: u32, of: u32, limit: usize) -> Vec<String> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = ScanPage { segment, of, after: after.as_deref(), limit };
            let (rows, next) = store.scan_page(page).await.unwrap();
            assert!(rows.len() <= limit);
            ids.extend(rows.into_iter().map(|c| c.connection_id));
            match next {
                Some(next) => after = Some(next),
                None => return ids,
            }
        }
    }

    #[tokio::test]
    async fn segments_cover_every_row_exactly_once() {
        let store = store(1000).await;
        for of in [1, 2, 7, 64] {
            let mut seen = Vec::new();
            for segment in 0..of {
                seen.extend(whole_segment(&store, segment, of, 33).await);
            }
            let unique: BTreeSet<&String> = seen.iter().collect();
            assert_eq!((seen.len(), unique.len()), (1000, 1000), "{of} segments");
        }
        // Segments share the rows about evenly, as DynamoDB's do.
        let sizes: Vec<usize> = futures::future::join_all((0..4).map(|s| whole_segment(&store, s, 4, 1000)))
            .await
            .iter()
            .map(Vec::len)
            .collect();
        assert!(sizes.iter().all(|n| (150..=350).contains(n)), "{sizes:?}");
    }

    #[tokio::test]
    async fn a_page_says_where_to_go_on_only_when_more_follow() {
        let store = store(10).await;
        let (rows, next) = store.scan_page(ScanPage { segment: 0, of: 1, after: None, limit: 10 }).await.unwrap();
        assert_eq!((rows.len(), next), (10, None));
        let (rows, next) = store.scan_page(ScanPage { segment: 0, of: 1, after: None, limit: 4 }).await.unwrap();
        assert_eq!(next.as_deref(), Some(rows[3].connection_id.as_str()));
        assert_eq!(store.estimate().await.unwrap(), 10);
    }

    #[tokio::test]
    async fn the_ledger_adds_up_parts_and_forgets_them_when_done() {
        let ledger = MemoryLedger::new();
        assert_eq!(ledger.read("n#").await.unwrap(), Progress::default());
        ledger.record("n#", 1, &["a".into(), "b".into()]).await.unwrap();
        ledger.record("n#", 2, &["c".into()]).await.unwrap();
        let progress = ledger.read("n#").await.unwrap();
        assert_eq!(progress.delivered.len(), 3);
        assert!(!progress.done);
        ledger.finish("n#").await.unwrap();
        assert_eq!(ledger.read("n#").await.unwrap(), Progress { done: true, delivered: Default::default() });
    }
}
