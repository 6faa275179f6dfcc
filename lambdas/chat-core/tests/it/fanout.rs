//! The notify path with real adapters: rows in DynamoDB (moto), posts through
//! the Management API adapter to a local HTTP server that speaks
//! `POST /{stage}/@connections/{id}`, answers 410 for chosen ids and measures
//! how many posts are in flight at once.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::Message;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chat_core::aws::{DynamoLedger, DynamoStore, SqsNotifier};
use chat_core::notice::{Notice, Target};
use chat_core::ports::{Connection, ConnectionStore, Format, Ledger, NoLedger, Notifier, Poster};
use chat_core::protocol::Payload;
use chat_core::{Ports, Settings, handle_sqs};

use crate::support::{Aws, sqs_event};

/// What the local Management API does and saw.
#[derive(Default)]
struct Gateway {
    /// Answer 410 with API Gateway's `GoneException`.
    gone: HashSet<String>,
    /// Answer a bare 410, as a gateway that only knows the status might.
    bare_gone: HashSet<String>,
    /// Answer 403 with API Gateway's `ForbiddenException`.
    forbidden: HashSet<String>,
    /// Answer 413 with `PayloadTooLargeException`.
    too_large: HashSet<String>,
    /// Answer 500.
    failing: Mutex<HashSet<String>>,
    /// Answer 500 this many more times.
    fail_first: Mutex<std::collections::HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    posts: AtomicUsize,
    received: Mutex<BTreeMap<String, Vec<String>>>,
}

async fn post_to_connection(
    State(gateway): State<Arc<Gateway>>,
    Path((_stage, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    gateway.posts.fetch_add(1, Ordering::SeqCst);
    let now = gateway.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    gateway.max_in_flight.fetch_max(now, Ordering::SeqCst);
    // Long enough that posts overlap whenever the bound allows it.
    tokio::time::sleep(Duration::from_millis(30)).await;
    gateway.in_flight.fetch_sub(1, Ordering::SeqCst);
    if gateway.gone.contains(&id) {
        return (StatusCode::GONE, [("x-amzn-ErrorType", "GoneException")], r#"{"message":null}"#).into_response();
    }
    if gateway.forbidden.contains(&id) {
        return (StatusCode::FORBIDDEN, [("x-amzn-ErrorType", "ForbiddenException")], r#"{"message":"Forbidden"}"#)
            .into_response();
    }
    if gateway.too_large.contains(&id) {
        let kind = [("x-amzn-ErrorType", "PayloadTooLargeException")];
        return (StatusCode::PAYLOAD_TOO_LARGE, kind, r#"{"message":"Message too long"}"#).into_response();
    }
    if gateway.bare_gone.contains(&id) {
        return StatusCode::GONE.into_response();
    }
    let fail_now = gateway.fail_first.lock().unwrap().get_mut(&id).is_some_and(|left| {
        let fail = *left > 0;
        *left = left.saturating_sub(1);
        fail
    });
    if fail_now || gateway.failing.lock().unwrap().contains(&id) {
        return (StatusCode::INTERNAL_SERVER_ERROR, r#"{"message":"Internal server error"}"#).into_response();
    }
    gateway.received.lock().unwrap().entry(id).or_default().push(String::from_utf8_lossy(&body).into_owned());
    StatusCode::OK.into_response()
}

/// Serves `gateway` on 127.0.0.1 and returns the stage endpoint, `http://127.0.0.1:PORT/prod`.
async fn serve(gateway: Arc<Gateway>) -> String {
    let app = axum::Router::new()
        .route("/{stage}/@connections/{id}", axum::routing::post(post_to_connection))
        .with_state(gateway);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://127.0.0.1:{port}/prod")
}

fn connection(id: &str) -> Connection {
    Connection { expires_at: 1732273200, ..Connection::new(id, id, Format::Compat, 1732262400000) }
}

/// The connection ids the table holds, as DynamoDB reports them.
async fn ids_in_table(aws: &Aws, table: &str) -> BTreeSet<String> {
    let items = aws.dynamodb().scan().table_name(table).send().await.unwrap();
    items.items().iter().map(|item| item["connectionId"].as_s().unwrap().clone()).collect()
}

fn notice_to_all(text: &str) -> String {
    Notice::new(Target::All, None, Payload { compat: text.into(), json: "{}".into() }).to_body()
}

struct Rig {
    aws: Aws,
    table: String,
    store: DynamoStore,
    notifier: SqsNotifier,
    queue: String,
    endpoint: String,
}

impl Rig {
    async fn new(label: &str, gateway: Arc<Gateway>, ids: &[String]) -> Rig {
        let aws = Aws::new().await;
        let table = aws.table(label).await;
        let queue = aws.queue(label).await;
        let store = DynamoStore::new(aws.dynamodb(), &table, "expiresAt").with_page_size(10);
        for id in ids {
            store.put(&connection(id)).await.unwrap();
        }
        let notifier = SqsNotifier::new(aws.sqs(), &queue);
        let endpoint = serve(gateway).await;
        Rig { aws, table, store, notifier, queue, endpoint }
    }

    /// The poster the notify binary builds. The SDK configuration points at
    /// moto (AWS_ENDPOINT_URL); the Management API endpoint must win.
    fn poster(&self) -> impl Poster {
        chat_core::lambda::fanout_poster(&self.aws.sdk, &self.endpoint, Settings::default().post_timeout)
    }

    /// Up to ten messages from the queue, waiting up to `wait_seconds` for
    /// the first (SQS's long polling).
    async fn receive(&self, wait_seconds: i32) -> Vec<Message> {
        let out = self
            .aws
            .sqs()
            .receive_message()
            .queue_url(&self.queue)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .unwrap();
        out.messages.unwrap_or_default()
    }

    /// The handlers' ports over this rig, with no history and no presence.
    fn ports<'a>(&'a self, poster: &'a dyn Poster, ledger: &'a dyn Ledger) -> Ports<'a> {
        Ports { ledger, ..Ports::new(&self.store, &self.notifier, poster) }
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("conn{i:02}=")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_rows_are_deleted_live_ones_kept_and_concurrency_stays_bounded() {
    let all = ids(60);
    let gone: HashSet<String> = all.iter().step_by(7).cloned().collect();
    let bare_gone: HashSet<String> = HashSet::from([all[3].clone()]);
    let gateway = Arc::new(Gateway { gone: gone.clone(), bare_gone: bare_gone.clone(), ..Gateway::default() });
    let rig = Rig::new("fanout", gateway.clone(), &all).await;
    let poster = rig.poster();
    let ports = rig.ports(&poster, &NoLedger);
    let settings = Settings { fanout_concurrency: 5, welcome_delay: 1, ..Settings::default() };

    let response = handle_sqs(ports, &settings, &sqs_event(&[notice_to_all("hi all")]), None).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let stale: BTreeSet<String> = gone.union(&bare_gone).cloned().collect();
    let live: BTreeSet<String> = all.iter().filter(|id| !stale.contains(*id)).cloned().collect();
    assert_eq!(ids_in_table(&rig.aws, &rig.table).await, live, "exactly the stale rows are gone");
    let received = gateway.received.lock().unwrap().clone();
    assert_eq!(received.keys().cloned().collect::<BTreeSet<_>>(), live);
    assert!(received.values().all(|frames| frames == &["hi all"]), "{received:?}");
    assert_eq!(gateway.posts.load(Ordering::SeqCst), 60);
    assert_eq!(gateway.max_in_flight.load(Ordering::SeqCst), 5, "the bound is reached and never exceeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_of_one_posts_one_at_a_time_per_record_and_each_recipient_in_order() {
    let gateway = Arc::new(Gateway::default());
    let rig = Rig::new("serial", gateway.clone(), &ids(8)).await;
    let poster = rig.poster();
    let ports = rig.ports(&poster, &NoLedger);
    let settings = Settings { fanout_concurrency: 1, welcome_delay: 1, ..Settings::default() };
    let bodies = [notice_to_all("one"), notice_to_all("two")];
    assert!(handle_sqs(ports, &settings, &sqs_event(&bodies), None).await.batch_item_failures.is_empty());
    assert_eq!(gateway.posts.load(Ordering::SeqCst), 16);
    assert_eq!(gateway.max_in_flight.load(Ordering::SeqCst), 2, "one post in flight for each of the two records");
    let received = gateway.received.lock().unwrap().clone();
    assert!(received.values().all(|frames| frames == &["one", "two"]), "{received:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_re_enqueues_only_that_recipient_and_deletes_nothing() {
    let all = ids(6);
    let gateway = Arc::new(Gateway { failing: Mutex::new(HashSet::from([all[2].clone()])), ..Gateway::default() });
    let rig = Rig::new("failing", gateway.clone(), &all).await;
    let poster = rig.poster();
    let ports = rig.ports(&poster, &NoLedger);
    let settings = Settings { fanout_concurrency: 4, welcome_delay: 1, ..Settings::default() };
    let direct =
        Notice::new(Target::Connection(all[0].clone()), None, Payload { compat: "just you".into(), json: "{}".into() });
    let everyone = notice_to_all("everyone");
    let bodies = [direct.to_body(), everyone.clone()];
    let response = handle_sqs(ports, &settings, &sqs_event(&bodies), None).await;
    assert!(response.batch_item_failures.is_empty(), "no record fails for one recipient: {response:?}");
    assert_eq!(ids_in_table(&rig.aws, &rig.table).await, all.iter().cloned().collect(), "no row is deleted");
    assert_eq!(gateway.received.lock().unwrap()[&all[0]], ["just you", "everyone"]);
    assert_eq!(gateway.received.lock().unwrap().len(), 5, "everyone but the failing one");

    // What SQS holds now: one retry, for that recipient alone, a second later.
    let messages = rig.receive(5).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let retry = Notice::from_body(messages[0].body().unwrap()).unwrap();
    let original = Notice::from_body(&everyone).unwrap();
    assert_eq!((retry.id.clone(), retry.shard.as_str(), retry.attempt), (original.id, "~1", 1));
    match &retry.target {
        Target::Recipients(recipients) => {
            assert_eq!(recipients.iter().map(|r| r.connection.as_str()).collect::<Vec<_>>(), [all[2].as_str()]);
        }
        other => panic!("a retry names its recipients, not {other:?}"),
    }

    // Once the connection answers again, the retry delivers to it alone.
    gateway.failing.lock().unwrap().clear();
    let posts = gateway.posts.load(Ordering::SeqCst);
    let response = handle_sqs(ports, &settings, &sqs_event(&[retry.to_body()]), None).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(gateway.posts.load(Ordering::SeqCst), posts + 1);
    assert_eq!(gateway.received.lock().unwrap()[&all[2]], ["everyone"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_reports_410_as_gone_403_and_413_as_refused_and_delivers_the_bytes() {
    let gateway = Arc::new(Gateway {
        gone: HashSet::from(["old=".to_string()]),
        forbidden: HashSet::from(["forbidden=".to_string()]),
        too_large: HashSet::from(["large=".to_string()]),
        ..Gateway::default()
    });
    let rig = Rig::new("poster", gateway.clone(), &[]).await;
    let poster = rig.poster();
    assert!(matches!(poster.post("old=", b"x").await, Err(chat_core::ports::PortError::Gone)));
    for id in ["forbidden=", "large="] {
        let refused = poster.post(id, b"x").await;
        assert!(matches!(&refused, Err(chat_core::ports::PortError::Refused(_))), "{id}: {refused:?}");
    }
    let posts = gateway.posts.load(Ordering::SeqCst);
    assert_eq!(posts, 3, "a refusal is not retried by the SDK either");
    poster.post("new/+=", "héllo".as_bytes()).await.unwrap();
    assert_eq!(gateway.received.lock().unwrap()["new/+="], ["héllo"]);
}

/// Receives from the queue and hands each batch to the notify handler, as
/// Lambda's event source mapping does (deleting what succeeded), until the
/// queue stays empty for 3 s after the last batch (longer than the backoff
/// of a second try). Returns the bodies handled.
async fn drain(rig: &Rig, ports: Ports<'_>, settings: &Settings) -> Vec<String> {
    let sqs = rig.aws.sqs();
    let mut handled = Vec::new();
    let mut idle = std::time::Instant::now();
    while idle.elapsed() < Duration::from_secs(3) {
        let messages = rig.receive(1).await;
        if messages.is_empty() {
            continue;
        }
        let bodies: Vec<String> = messages.iter().map(|m| m.body().unwrap().to_string()).collect();
        let response = handle_sqs(ports, settings, &sqs_event(&bodies), None).await;
        let failed: HashSet<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        assert!(failed.is_empty(), "{failed:?}");
        for m in &messages {
            sqs.delete_message()
                .queue_url(&rig.queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
        handled.extend(bodies);
        idle = std::time::Instant::now();
    }
    handled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_broadcast_through_sqs_and_dynamodb_reaches_each_connection_once() {
    let all = ids(120);
    let gone: HashSet<String> = HashSet::from([all[7].clone(), all[70].clone()]);
    let flaky = all[33].clone();
    let forbidden = all[90].clone();
    let gateway = Arc::new(Gateway {
        gone: gone.clone(),
        forbidden: HashSet::from([forbidden.clone()]),
        // The handler tries a post in place, one request a try (the
        // fan-out's poster makes no retries): the first invocation fails it.
        fail_first: Mutex::new([(flaky.clone(), chat_core::fanout::IN_PLACE_TRIES as usize)].into()),
        ..Gateway::default()
    });
    let rig = Rig::new("sharded", gateway.clone(), &all).await;
    let ledger = DynamoLedger::new(rig.aws.dynamodb(), rig.aws.ledger_table("sharded").await);
    let poster = rig.poster();
    let ports = rig.ports(&poster, &ledger);
    let settings = Settings { shard_size: 25, fanout_concurrency: 4, ..Settings::default() };
    rig.notifier.send(notice_to_all("to everyone"), 0).await.unwrap();

    let handled = drain(&rig, ports, &settings).await;
    let shards: BTreeSet<String> = handled.iter().map(|b| Notice::from_body(b).unwrap().shard).collect();
    for segment in 1..5 {
        assert!(shards.contains(&format!("s{segment}.5")), "segment {segment} of ceil(120 / 25) = 5: {shards:?}");
    }
    assert!(shards.iter().any(|s| s.ends_with("~1")), "the flaky connection was retried alone: {shards:?}");

    let received = gateway.received.lock().unwrap().clone();
    let live: BTreeSet<String> = all.iter().filter(|id| !gone.contains(*id)).cloned().collect();
    let reached: BTreeSet<String> = live.iter().filter(|id| **id != forbidden).cloned().collect();
    assert_eq!(received.keys().cloned().collect::<BTreeSet<_>>(), reached, "every live connection but the refused one");
    // Without a presence table nobody is told the gone ones left: no digest
    // could gather them, and a broadcast each would cost the crowd squared.
    assert!(received.values().all(|frames| frames == &["to everyone"]), "each exactly once");
    assert_eq!(ids_in_table(&rig.aws, &rig.table).await, live, "the gone rows are deleted, the refused one kept");
    let retried_refused = handled.iter().any(|body| {
        matches!(Notice::from_body(body).unwrap().target, Target::Recipients(r) if r.iter().any(|r| r.connection == forbidden))
    });
    assert!(!retried_refused, "a refused post is not re-enqueued");

    // Every record delivered again, as SQS may: nothing is posted twice.
    let posts = gateway.posts.load(Ordering::SeqCst);
    let response = handle_sqs(ports, &settings, &sqs_event(&handled), None).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(gateway.posts.load(Ordering::SeqCst), posts, "the ledger in DynamoDB remembers every record");
}
