//! Large notices over memory ports: sharding, per-recipient outcomes, the
//! delivery ledger, pacing and the invocation's deadline. What each
//! connection received is counted at the gateway, frame by frame.

use std::collections::BTreeMap;
use std::time::Duration;

use chat_core::fanout::{CHECKPOINT_EVERY, MAX_ATTEMPTS};
use chat_core::notice::{Notice, Target};
use chat_core::ports::{ConnectionStore, Ledger};
use chat_core::protocol::Payload;
use chat_core::{Settings, handle_sqs};
use tokio::time::Instant;

use crate::support::{Chat, sqs_event};

fn notice(target: Target, text: &str) -> Notice {
    Notice::new(target, None, Payload { compat: text.into(), json: format!(r#"{{"text":"{text}"}}"#) })
}

fn sharded(shard_size: usize) -> Chat {
    let mut chat = Chat::new();
    chat.settings = Settings { shard_size, fanout_concurrency: 8, ..Settings::default() };
    chat
}

/// Every connection of `ids` received exactly one frame.
fn once_each(chat: &Chat, ids: &[String]) {
    let counts = chat.counts();
    let wrong: BTreeMap<&String, usize> =
        ids.iter().map(|id| (id, counts.get(id).copied().unwrap_or(0))).filter(|(_, n)| *n != 1).collect();
    assert!(wrong.is_empty(), "connections that did not get exactly one frame: {wrong:?}");
}

#[tokio::test]
async fn a_broadcast_larger_than_a_shard_is_split_into_segments_that_reach_everyone_once() {
    let chat = sharded(40);
    let ids = chat.crowd(250, None).await;
    chat.queue.sent.lock().unwrap().push((notice(Target::All, "hello").to_body(), 0));

    // The first invocation plans: ceil(250 / 40) = 7 segments, 6 of them queued.
    let first = chat.take_queue();
    let response = handle_sqs(chat.ports(), &chat.settings, &sqs_event(&[first[0].0.clone()]), None).await;
    assert!(response.batch_item_failures.is_empty());
    let planned = chat.posts();
    assert!(planned <= 40, "the planner posts one page at most, not {planned}");
    let queued = chat.queue.sent.lock().unwrap().clone();
    let segments: Vec<Notice> = queued.iter().map(|(body, _)| Notice::from_body(body).unwrap()).collect();
    let shards: Vec<&str> = segments.iter().map(|n| n.shard.as_str()).filter(|s| !s.contains('>')).collect();
    assert_eq!(shards, ["s1.7", "s2.7", "s3.7", "s4.7", "s5.7", "s6.7"]);
    assert!(segments.iter().all(|n| n.shards == 7 && n.id == Notice::from_body(&first[0].0).unwrap().id));

    let invocations = chat.drain().await;
    assert!(invocations >= 6, "{invocations}");
    once_each(&chat, &ids);
    assert_eq!(chat.posts(), 250, "one post per connection");
}

/// DynamoDB's `ItemCount` lags by up to six hours: a table that filled up
/// since reads 0. The presence count is current, so the broadcast is still
/// split by how many are online.
#[tokio::test]
async fn a_broadcast_is_split_by_the_online_count_when_the_item_count_lags() {
    let mut chat = sharded(40);
    chat.counting = true;
    let ids = chat.crowd(250, None).await;
    chat.store.lag_item_count(Some(0));
    chat.queue.sent.lock().unwrap().push((notice(Target::All, "hello").to_body(), 0));

    let first = chat.take_queue();
    handle_sqs(chat.ports(), &chat.settings, &sqs_event(&[first[0].0.clone()]), None).await;
    let queued = chat.queue.sent.lock().unwrap().clone();
    let segments: Vec<Notice> = queued.iter().map(|(body, _)| Notice::from_body(body).unwrap()).collect();
    assert!(segments.iter().all(|n| n.shards == 7), "ceil(250 / 40) segments: {segments:#?}");
    assert_eq!(segments.iter().filter(|n| !n.shard.contains('>')).count(), 6);
    chat.drain().await;
    once_each(&chat, &ids);
}

#[tokio::test]
async fn a_segment_longer_than_a_page_goes_on_in_another_invocation() {
    // The table grew since DynamoDB last counted it: one segment, and more
    // rows than a page holds.
    let chat = sharded(10);
    let ids = chat.crowd(35, None).await;
    let mut small = notice(Target::All, "grown");
    small.target = Target::Segment(chat_core::notice::Segment { index: 0, of: 1, after: None });
    small.shard = "s0.1".into();
    chat.queue.sent.lock().unwrap().push((small.to_body(), 0));
    let invocations = chat.drain().await;
    assert_eq!(invocations, 3, "pages of 12, 12 and 11: a page reads a quarter more than the shard size");
    once_each(&chat, &ids);
}

#[tokio::test]
async fn a_small_broadcast_is_delivered_by_the_invocation_that_reads_it() {
    let chat = sharded(1000);
    let ids = chat.crowd(300, None).await;
    chat.queue.sent.lock().unwrap().push((notice(Target::All, "small").to_body(), 0));
    assert_eq!(chat.drain().await, 1);
    once_each(&chat, &ids);
}

#[tokio::test]
async fn a_large_room_is_split_into_recipient_lists() {
    let chat = sharded(30);
    let members = chat.crowd(100, Some("0f3a9c21")).await;
    let outsiders = {
        let mut others = Vec::new();
        for i in 0..5 {
            let id = format!("out{i}=");
            chat.store
                .put(&chat_core::ports::Connection {
                    connection_id: id.clone(),
                    name: id.clone(),
                    sub: None,
                    format: Default::default(),
                    room: None,
                    connected_at: 1,
                    expires_at: 0,
                })
                .await
                .unwrap();
            chat.gateway.open.lock().unwrap().insert(id.clone());
            others.push(id);
        }
        others
    };
    let mut to_room = notice(Target::Room("0f3a9c21".into()), "in the room");
    to_room.exclude = Some(members[0].clone());
    chat.queue.sent.lock().unwrap().push((to_room.to_body(), 0));
    let first = chat.take_queue();
    handle_sqs(chat.ports(), &chat.settings, &sqs_event(&[first[0].0.clone()]), None).await;
    let shards: Vec<String> =
        chat.queue.sent.lock().unwrap().iter().map(|(b, _)| Notice::from_body(b).unwrap().shard).collect();
    assert_eq!(shards, ["r1", "r2", "r3"], "100 members in groups of 30");
    chat.drain().await;
    once_each(&chat, &members[1..]);
    let counts = chat.counts();
    assert!(!counts.contains_key(&members[0]), "the sender is excluded");
    assert!(outsiders.iter().all(|id| !counts.contains_key(id)), "only the room's members");
}

#[tokio::test]
async fn a_redelivered_record_posts_nothing_it_posted_before() {
    let chat = sharded(1000);
    let ids = chat.crowd(50, None).await;
    let body = notice(Target::All, "once").to_body();
    for _ in 0..3 {
        let response = handle_sqs(chat.ports(), &chat.settings, &sqs_event(std::slice::from_ref(&body)), None).await;
        assert!(response.batch_item_failures.is_empty());
    }
    once_each(&chat, &ids);
    assert_eq!(chat.posts(), 50, "the second and third deliveries posted nothing");
}

#[tokio::test(start_paused = true)]
async fn an_invocation_that_dies_midway_is_repeated_without_the_posts_it_recorded() {
    let mut chat = sharded(1000);
    chat.settings.fanout_concurrency = 4;
    *chat.gateway.latency.lock().unwrap() = Duration::from_millis(10);
    let ids = chat.crowd(500, None).await;
    let body = notice(Target::All, "crash").to_body();

    // Killed (its future dropped) after about 250 posts: Lambda's timeout, an
    // out-of-memory kill.
    let event = sqs_event(std::slice::from_ref(&body));
    let run = handle_sqs(chat.ports(), &chat.settings, &event, None);
    assert!(tokio::time::timeout(Duration::from_millis(625), run).await.is_err());
    let before = chat.counts();
    let posted_before: usize = before.values().sum();
    assert!((200..300).contains(&posted_before), "{posted_before}");
    let key = Notice::from_body(&body).unwrap().ledger_key("m0");
    let recorded = chat.ledger.read(&key).await.unwrap().delivered;
    assert_eq!(recorded.len() % CHECKPOINT_EVERY, 0);
    assert!(recorded.len() >= posted_before - CHECKPOINT_EVERY - 4, "{} recorded", recorded.len());

    // SQS delivers the record again: it skips every recorded post.
    let response = handle_sqs(chat.ports(), &chat.settings, &sqs_event(&[body]), None).await;
    assert!(response.batch_item_failures.is_empty());
    let counts = chat.counts();
    assert!(ids.iter().all(|id| counts.get(id).copied().unwrap_or(0) >= 1), "nobody is missed");
    assert!(recorded.iter().all(|id| counts[id] == 1), "a recorded post is never repeated");
    let twice = counts.values().filter(|n| **n > 1).count();
    assert!(twice <= CHECKPOINT_EVERY + 4, "{twice} repeats: at most the unrecorded posts and those in flight");
    assert_eq!(twice, posted_before - recorded.len());
}

#[tokio::test(start_paused = true)]
async fn a_failure_that_passes_is_tried_again_in_place_without_the_queue() {
    let chat = sharded(1000);
    let ids = chat.crowd(30, None).await;
    for id in &ids[..3] {
        chat.gateway.fail_once.lock().unwrap().insert(id.clone());
    }
    chat.queue.sent.lock().unwrap().push((notice(Target::All, "x").to_body(), 0));
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    assert!(chat.take_queue().is_empty(), "nothing re-enqueued");
    once_each(&chat, &ids);
    assert_eq!(chat.posts(), 33);
}

#[tokio::test]
async fn a_refused_post_is_dropped_and_not_retried() {
    let chat = sharded(1000);
    let ids = chat.crowd(10, None).await;
    chat.gateway.refused.lock().unwrap().insert(ids[3].clone());
    chat.queue.sent.lock().unwrap().push((notice(Target::All, "x").to_body(), 0));
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    assert!(chat.take_queue().is_empty(), "nothing to retry");
    assert!(chat.row(&ids[3]).await.is_some(), "a refusal is not a gone connection");
    once_each(&chat, &[&ids[..3], &ids[4..]].concat());
    assert_eq!(chat.posts(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_post_that_never_answers_times_out_is_tried_in_place_then_re_enqueued_alone() {
    let mut chat = sharded(1000);
    chat.settings.post_timeout = Duration::from_secs(2);
    let ids = chat.crowd(20, None).await;
    chat.gateway.stuck.lock().unwrap().insert(ids[5].clone());
    chat.queue.sent.lock().unwrap().push((notice(Target::All, "x").to_body(), 0));
    let started = Instant::now();
    assert!(chat.deliver().await.batch_item_failures.is_empty());
    // One try of 2 s: a post that does not answer is not tried again in
    // place, where each try would hold the batch another 2 s.
    let took = started.elapsed();
    let expected = Duration::from_millis(2000);
    assert!(took.abs_diff(expected) <= Duration::from_millis(5), "the stuck post held the batch {took:?}");
    assert_eq!(chat.posts(), 19 + 1);
    let queued = chat.take_queue();
    assert_eq!(queued.len(), 1);
    let retry = Notice::from_body(&queued[0].0).unwrap();
    assert_eq!(retry.attempt, 1);
    assert!(matches!(&retry.target, Target::Recipients(r) if r.len() == 1 && r[0].connection == ids[5]));
    assert!(MAX_ATTEMPTS > retry.attempt);
}

#[tokio::test(start_paused = true)]
async fn recipients_not_reached_before_the_deadline_are_handed_on() {
    let mut chat = sharded(1000);
    chat.settings.fanout_concurrency = 1;
    chat.settings.post_timeout = Duration::from_secs(1);
    *chat.gateway.latency.lock().unwrap() = Duration::from_millis(10);
    let ids = chat.crowd(300, None).await;
    let body = notice(Target::All, "late").to_body();
    // 4 s left: posts stop 2 s before the end (the post timeout and a
    // second), so about 200 of 300 posts of 10 ms fit.
    let deadline = Instant::now() + Duration::from_secs(4);
    let response = handle_sqs(chat.ports(), &chat.settings, &sqs_event(&[body]), Some(deadline)).await;
    assert!(response.batch_item_failures.is_empty());
    assert!(Instant::now() <= deadline - Duration::from_secs(1), "it ended in time");
    let posted = chat.posts();
    assert!((190..=210).contains(&posted), "{posted}");
    let queued = chat.take_queue();
    assert_eq!(queued.len(), 1);
    let rest = Notice::from_body(&queued[0].0).unwrap();
    assert_eq!((rest.shard.as_str(), rest.attempt), ("+0", 0));
    assert!(matches!(&rest.target, Target::Recipients(r) if r.len() == 300 - posted));
    chat.queue.sent.lock().unwrap().push((queued[0].0.clone(), 0));
    chat.drain().await;
    once_each(&chat, &ids);
}

#[tokio::test(start_paused = true)]
async fn posts_keep_to_the_notice_share_of_the_rate() {
    let mut chat = sharded(1000);
    chat.settings.post_rate = 100;
    let ids = chat.crowd(101, None).await;
    chat.queue.sent.lock().unwrap().push((notice(Target::All, "paced").to_body(), 0));
    let started = Instant::now();
    chat.deliver().await;
    assert_eq!(started.elapsed(), Duration::from_secs(1), "101 posts at 100 a second");
    once_each(&chat, &ids);

    // One of four shards that run at once gets a quarter of the rate.
    chat.settings.max_concurrency = 8;
    chat.settings.batch_size = 10;
    let mut shard = notice(Target::All, "shard");
    shard.target = Target::Segment(chat_core::notice::Segment { index: 0, of: 4, after: None });
    shard.shards = 4;
    shard.shard = "s0.4".into();
    let posts = chat.posts();
    let started = Instant::now();
    handle_sqs(chat.ports(), &chat.settings, &sqs_event(&[shard.to_body()]), None).await;
    let posted = chat.posts() - posts;
    let expected = Duration::from_secs_f64((posted - 1) as f64 / 25.0);
    let took = started.elapsed();
    assert!(took.abs_diff(expected) <= Duration::from_millis(2), "{posted} posts took {took:?}, not {expected:?}");
}

#[tokio::test]
async fn the_excluded_connection_is_left_out_of_every_shard() {
    let chat = sharded(2);
    let ids = chat.crowd(6, None).await;
    let mut to_others = notice(Target::All, "not you");
    to_others.exclude = Some(ids[4].clone());
    chat.queue.sent.lock().unwrap().push((to_others.to_body(), 0));
    chat.drain().await;
    let counts = chat.counts();
    assert!(!counts.contains_key(&ids[4]), "{counts:?}");
    once_each(&chat, &[&ids[..4], &ids[5..]].concat());
}

#[tokio::test]
async fn a_connection_made_after_the_notice_does_not_receive_it_from_a_later_shard() {
    let chat = sharded(2);
    let ids = chat.crowd(4, None).await;
    // crowd() connects at 1 ms; the notice is of an event at 5 ms.
    let body = notice(Target::All, "before you came").at(5).to_body();
    let late = chat_core::ports::Connection {
        connection_id: "late=".into(),
        name: "late".into(),
        sub: None,
        format: Default::default(),
        room: None,
        connected_at: 6,
        expires_at: 0,
    };
    chat.store.put(&late).await.unwrap();
    chat.gateway.open.lock().unwrap().insert("late=".into());
    chat.queue.sent.lock().unwrap().push((body, 0));
    chat.drain().await;
    assert!(!chat.counts().contains_key("late="));
    once_each(&chat, &ids);
}

/// The memory store with segment `held`'s scan held until `go` is notified,
/// as a slow page of DynamoDB's would be.
struct Held<'a> {
    store: &'a chat_core::memory::MemoryStore,
    held: u32,
    go: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl chat_core::ports::ConnectionStore for Held<'_> {
    async fn put(&self, c: &chat_core::ports::Connection) -> chat_core::ports::PortResult<()> {
        self.store.put(c).await
    }
    async fn get(&self, id: &str) -> chat_core::ports::PortResult<Option<chat_core::ports::Connection>> {
        self.store.get(id).await
    }
    async fn delete(&self, id: &str) -> chat_core::ports::PortResult<Option<chat_core::ports::Connection>> {
        self.store.delete(id).await
    }
    async fn all(&self) -> chat_core::ports::PortResult<Vec<chat_core::ports::Connection>> {
        self.store.all().await
    }
    async fn in_room(&self, room: &str) -> chat_core::ports::PortResult<Vec<chat_core::ports::Connection>> {
        self.store.in_room(room).await
    }
    async fn estimate(&self) -> chat_core::ports::PortResult<u64> {
        self.store.estimate().await
    }
    async fn scan_page(
        &self,
        page: chat_core::ports::ScanPage<'_>,
    ) -> chat_core::ports::PortResult<(Vec<chat_core::ports::Connection>, Option<String>)> {
        if page.segment == self.held {
            self.go.notified().await;
        }
        self.store.scan_page(page).await
    }
    async fn mark_typing(&self, id: &str, now: i64, every_ms: i64) -> chat_core::ports::PortResult<bool> {
        self.store.mark_typing(id, now, every_ms).await
    }
}

/// The connections of segment `index` of `of`.
async fn segment_ids(chat: &Chat, index: u32, of: u32) -> Vec<String> {
    let page = chat_core::ports::ScanPage { segment: index, of, after: None, limit: 1000 };
    chat.store.scan_page(page).await.unwrap().0.into_iter().map(|c| c.connection_id).collect()
}

fn segment(of: &Notice, index: u32, shards: u32) -> String {
    let target = Target::Segment(chat_core::notice::Segment { index, of: shards, after: None });
    of.part(target, format!("s{index}.{shards}"), shards, 0).to_body()
}

/// Waits until `ids` have received a frame each, or panics after a while.
async fn until_received(chat: &Chat, ids: &[String]) {
    for _ in 0..500 {
        let counts = chat.counts();
        if ids.iter().all(|id| counts.contains_key(id)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{} of {} connections received nothing",
        ids.iter().filter(|id| !chat.counts().contains_key(*id)).count(),
        ids.len()
    );
}

#[tokio::test]
async fn a_segment_posts_while_another_of_its_batch_is_still_being_read() {
    // Segments of about 100 rows: each one page.
    let chat = sharded(200);
    chat.crowd(300, None).await;
    let (first, second) = (segment_ids(&chat, 1, 3).await, segment_ids(&chat, 2, 3).await);
    let hello = notice(Target::All, "hello");
    let store = Held { store: &chat.store, held: 1, go: tokio::sync::Notify::new() };
    let ports = chat_core::Ports { store: &store, ..chat.ports() };
    let batch = sqs_event(&[segment(&hello, 1, 3), segment(&hello, 2, 3)]);
    let delivered = handle_sqs(ports, &chat.settings, &batch, None);
    let watched = async {
        until_received(&chat, &second).await;
        let early: Vec<&String> = first.iter().filter(|id| chat.counts().contains_key(*id)).collect();
        assert!(early.is_empty(), "segment 1 is still being read: {early:?}");
        store.go.notify_one();
    };
    let (response, ()) = tokio::join!(delivered, watched);
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    once_each(&chat, &[first, second].concat());
}

#[tokio::test]
async fn a_later_notice_waits_for_an_earlier_ones_recipients_and_keeps_queue_order() {
    let chat = sharded(200);
    chat.crowd(300, None).await;
    let first = segment_ids(&chat, 1, 3).await;
    let someone = first[0].clone();
    let store = Held { store: &chat.store, held: 1, go: tokio::sync::Notify::new() };
    let ports = chat_core::Ports { store: &store, ..chat.ports() };
    // The second record is another notice, to a recipient the first one's
    // held page holds: it is known at once, and must still come second.
    let direct = notice(Target::Connection(someone.clone()), "just you");
    let batch = sqs_event(&[segment(&notice(Target::All, "everyone"), 1, 3), direct.to_body()]);
    let delivered = handle_sqs(ports, &chat.settings, &batch, None);
    let watched = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(chat.posts(), 0, "nothing goes out before the first notice's recipients are known");
        store.go.notify_one();
    };
    let (response, ()) = tokio::join!(delivered, watched);
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    once_each(&chat, &first[1..]);
    assert_eq!(chat.received(&someone), ["everyone", "just you"]);
}
