//! A chat over real handler code and the in-memory store, driven by real API
//! Gateway event JSON (`tests/fixtures`), with an in-process queue and a
//! gateway that delivers into per-connection inboxes and answers 410 for
//! connections that are not open, as API Gateway does.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use chat_core::event::{SqsBatchResponse, SqsEvent, WebSocketEvent, WebSocketResponse};
use chat_core::memory::{MemoryLedger, MemoryMessages, MemoryPresence, MemoryStore};
use chat_core::ports::{Connection, ConnectionStore, Notifier, PortError, PortResult, Poster};
use chat_core::{Ports, Settings, handle_sqs, handle_websocket};
use serde_json::{Value, json};
use test_support::Moto;

/// A fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A `$connect` event for `id` with these query-string parameters.
pub fn connect_event(id: &str, query: &[(&str, &str)]) -> WebSocketEvent {
    let mut event = fixture("connect.json");
    event["requestContext"]["connectionId"] = json!(id);
    if query.is_empty() {
        let object = event.as_object_mut().unwrap();
        object.remove("queryStringParameters");
        object.remove("multiValueQueryStringParameters");
    } else {
        event["queryStringParameters"] = query.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        event["multiValueQueryStringParameters"] = query.iter().map(|(k, v)| (k.to_string(), json!([v]))).collect();
    }
    serde_json::from_value(event).expect("connect fixture")
}

/// A message event of `id` on `route_key`.
pub fn message_event(id: &str, route_key: &str, body: &str) -> WebSocketEvent {
    let mut event = fixture("message.json");
    event["requestContext"]["connectionId"] = json!(id);
    event["requestContext"]["routeKey"] = json!(route_key);
    event["body"] = json!(body);
    serde_json::from_value(event).expect("message fixture")
}

pub fn disconnect_event(id: &str) -> WebSocketEvent {
    let mut event = fixture("disconnect.json");
    event["requestContext"]["connectionId"] = json!(id);
    serde_json::from_value(event).expect("disconnect fixture")
}

/// An SQS batch with one record per body, ids `m0`, `m1`...
pub fn sqs_event(bodies: &[String]) -> SqsEvent {
    let mut event = fixture("sqs.json");
    let template = event["Records"][0].clone();
    event["Records"] = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(format!("m{i}"));
            record["body"] = json!(body);
            record
        })
        .collect();
    serde_json::from_value(event).expect("sqs fixture")
}

/// The route API Gateway selects with `$request.body.action` among `routes`.
pub fn route_for(routes: &BTreeSet<String>, body: &str) -> String {
    let action = serde_json::from_str::<Value>(body).ok().and_then(|v| v.get("action")?.as_str().map(str::to_string));
    match action {
        Some(action) if routes.contains(&action) => action,
        _ => "$default".to_string(),
    }
}

/// An in-process queue that records each message and its delay.
#[derive(Default)]
pub struct Queue {
    pub sent: Mutex<Vec<(String, u32)>>,
    pub broken: Mutex<bool>,
}

#[async_trait]
impl Notifier for Queue {
    async fn send(&self, body: String, delay_seconds: u32) -> PortResult<()> {
        if *self.broken.lock().unwrap() {
            return Err(PortError::Failed("the queue is down".into()));
        }
        self.sent.lock().unwrap().push((body, delay_seconds));
        Ok(())
    }
}

/// A gateway: posts to open connections land in their inbox; any other id is
/// 410 Gone; ids in `failing` answer a retryable error, ids in `refused` a
/// final one (403), ids in `stuck` never answer. Every post takes `latency`.
#[derive(Default)]
pub struct Gateway {
    pub open: Mutex<BTreeSet<String>>,
    pub inbox: Mutex<BTreeMap<String, Vec<Vec<u8>>>>,
    pub failing: Mutex<HashSet<String>>,
    pub refused: Mutex<HashSet<String>>,
    /// Fail the next post to these, once each.
    pub fail_once: Mutex<HashSet<String>>,
    pub stuck: Mutex<HashSet<String>>,
    pub latency: Mutex<std::time::Duration>,
    pub posts: std::sync::atomic::AtomicUsize,
    /// The connections closed with `DELETE @connections`, in order.
    pub closed: Mutex<Vec<String>>,
}

#[async_trait]
impl Poster for Gateway {
    async fn post(&self, connection_id: &str, data: &[u8]) -> PortResult<()> {
        self.posts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.stuck.lock().unwrap().contains(connection_id) {
            std::future::pending::<()>().await;
        }
        if self.fail_once.lock().unwrap().remove(connection_id) {
            return Err(PortError::Failed(format!("503 posting to {connection_id}")));
        }
        if self.refused.lock().unwrap().contains(connection_id) {
            return Err(PortError::Refused(format!("403 posting to {connection_id}")));
        }
        if self.failing.lock().unwrap().contains(connection_id) {
            return Err(PortError::Failed(format!("500 posting to {connection_id}")));
        }
        if !self.open.lock().unwrap().contains(connection_id) {
            return Err(PortError::Gone);
        }
        self.inbox.lock().unwrap().entry(connection_id.to_string()).or_default().push(data.to_vec());
        Ok(())
    }

    async fn close(&self, connection_id: &str) -> PortResult<()> {
        self.open.lock().unwrap().remove(connection_id);
        self.closed.lock().unwrap().push(connection_id.to_string());
        Ok(())
    }
}

/// One chat: the handlers over a memory store, the queue and the gateway.
pub struct Chat {
    pub store: MemoryStore,
    pub ledger: MemoryLedger,
    /// The history, used when `history` is on (as `chat.history` is by default).
    pub messages: MemoryMessages,
    pub history: bool,
    /// The count and the digests, used when `counting` is on (as deploy sets it).
    pub presence: MemoryPresence,
    pub counting: bool,
    pub queue: Queue,
    pub gateway: Gateway,
    /// What the handlers counted, over every call.
    pub metrics: chat_core::metrics::Metrics,
    pub settings: Settings,
    /// The stack's routes; frames whose action is not here land on `$default`.
    pub routes: BTreeSet<String>,
}

impl Chat {
    /// The shipped stack: every action has its route.
    pub fn new() -> Chat {
        Chat::with_routes(chat_core::ACTIONS)
    }

    pub fn with_routes(actions: &[&str]) -> Chat {
        Chat {
            store: MemoryStore::new(),
            ledger: MemoryLedger::new(),
            messages: MemoryMessages::new(),
            history: true,
            presence: MemoryPresence::new(),
            counting: true,
            queue: Queue::default(),
            metrics: Default::default(),
            gateway: Gateway::default(),
            settings: Settings { fanout_concurrency: 4, welcome_delay: 1, ..Settings::default() },
            routes: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    pub fn ports(&self) -> Ports<'_> {
        let messages = self.history.then_some(&self.messages as &dyn chat_core::ports::MessageStore);
        let presence = self.counting.then_some(&self.presence as &dyn chat_core::ports::Presence);
        Ports {
            store: &self.store,
            notifier: &self.queue,
            poster: &self.gateway,
            ledger: &self.ledger,
            messages,
            presence,
            metrics: Some(&self.metrics),
        }
    }

    pub async fn handle(&self, event: &WebSocketEvent) -> WebSocketResponse {
        handle_websocket(self.ports(), &self.settings, event).await
    }

    /// Connects `id` and, like API Gateway, opens it only when `$connect` answered 2xx.
    pub async fn connect(&self, id: &str, query: &[(&str, &str)]) -> WebSocketResponse {
        let response = self.handle(&connect_event(id, query)).await;
        if (200..300).contains(&response.status_code) {
            self.gateway.open.lock().unwrap().insert(id.to_string());
        }
        response
    }

    /// Connects `id` at `at` (epoch ms: the event's `connectedAt` and `requestTimeEpoch`).
    pub async fn connect_at(&self, id: &str, query: &[(&str, &str)], at: i64) -> WebSocketResponse {
        let mut event = connect_event(id, query);
        event.request_context.connected_at = at;
        event.request_context.request_time_epoch = at;
        let response = self.handle(&event).await;
        if (200..300).contains(&response.status_code) {
            self.gateway.open.lock().unwrap().insert(id.to_string());
        }
        response
    }

    /// `$disconnect` of `id` at `at` (epoch ms).
    pub async fn disconnect_at(&self, id: &str, at: i64) -> WebSocketResponse {
        self.gateway.open.lock().unwrap().remove(id);
        let mut event = disconnect_event(id);
        event.request_context.request_time_epoch = at;
        self.handle(&event).await
    }

    /// Connects, delivers the welcome and join notices, and empties every inbox.
    pub async fn join(&self, id: &str, query: &[(&str, &str)]) {
        assert_eq!(self.connect(id, query).await.status_code, 200, "connecting {id}");
        self.deliver().await;
        self.gateway.inbox.lock().unwrap().clear();
    }

    /// Sends one frame from `id`, routed as API Gateway would.
    pub async fn send(&self, id: &str, body: &str) -> WebSocketResponse {
        let route = route_for(&self.routes, body);
        self.handle(&message_event(id, &route, body)).await
    }

    /// Sends one frame from `id` at `at` (the event's `requestTimeEpoch`, epoch ms).
    pub async fn send_at(&self, id: &str, body: &str, at: i64) -> WebSocketResponse {
        let route = route_for(&self.routes, body);
        let mut event = message_event(id, &route, body);
        event.request_context.request_time_epoch = at;
        self.handle(&event).await
    }

    pub async fn disconnect(&self, id: &str) -> WebSocketResponse {
        self.gateway.open.lock().unwrap().remove(id);
        self.handle(&disconnect_event(id)).await
    }

    /// The client vanished without a `$disconnect` (its row stays).
    pub fn vanish(&self, id: &str) {
        self.gateway.open.lock().unwrap().remove(id);
    }

    /// Takes every queued message.
    pub fn take_queue(&self) -> Vec<(String, u32)> {
        std::mem::take(&mut *self.queue.sent.lock().unwrap())
    }

    /// Hands every queued message to the notify handler as one SQS batch.
    pub async fn deliver(&self) -> SqsBatchResponse {
        let bodies: Vec<String> = self.take_queue().into_iter().map(|(body, _)| body).collect();
        handle_sqs(self.ports(), &self.settings, &sqs_event(&bodies), None).await
    }

    /// Hands queued messages to the notify handler one per batch, as many
    /// Lambda invocations would, until the queue is empty (what the
    /// fan-out enqueues included). Returns how many invocations ran.
    pub async fn drain(&self) -> usize {
        let mut invocations = 0;
        loop {
            let queued = self.take_queue();
            if queued.is_empty() {
                return invocations;
            }
            for (body, _) in queued {
                invocations += 1;
                let response = handle_sqs(self.ports(), &self.settings, &sqs_event(&[body]), None).await;
                assert!(response.batch_item_failures.is_empty(), "{response:?}");
            }
        }
    }

    /// `n` open connections, stored directly (no `$connect`), in `room` if given.
    pub async fn crowd(&self, n: usize, room: Option<&str>) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let id = format!("crowd{i:05}=");
            let row = Connection {
                connection_id: id.clone(),
                name: format!("user{i}"),
                sub: None,
                format: if i % 2 == 0 { chat_core::ports::Format::Compat } else { chat_core::ports::Format::Json },
                room: room.map(str::to_string),
                connected_at: 1,
                expires_at: chat_core::now_millis() / 1000 + chat_core::CONNECTION_TTL_SECONDS,
            };
            self.store.put(&row).await.unwrap();
            chat_core::ports::Presence::arrive(&self.presence, &row).await.unwrap();
            self.gateway.open.lock().unwrap().insert(id.clone());
            ids.push(id);
        }
        ids
    }

    /// How many frames each connection received so far (and keeps them).
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.gateway.inbox.lock().unwrap().iter().map(|(id, frames)| (id.clone(), frames.len())).collect()
    }

    pub fn posts(&self) -> usize {
        self.gateway.posts.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Takes the frames `id` received so far, as text.
    pub fn received(&self, id: &str) -> Vec<String> {
        let frames = self.gateway.inbox.lock().unwrap().remove(id).unwrap_or_default();
        frames.into_iter().map(|f| String::from_utf8(f).expect("a text frame")).collect()
    }

    /// The JSON frames `id` received so far.
    pub fn received_json(&self, id: &str) -> Vec<Value> {
        self.received(id).iter().map(|f| serde_json::from_str(f).unwrap_or_else(|e| panic!("{f}: {e}"))).collect()
    }

    pub async fn row(&self, id: &str) -> Option<Connection> {
        self.store.get(id).await.unwrap()
    }

    pub async fn rows(&self) -> Vec<Connection> {
        self.store.all().await.unwrap()
    }
}

/// SDK clients for the test binary's moto server, and fresh resources in it.
pub struct Aws {
    pub sdk: aws_config::SdkConfig,
    pub endpoint: String,
    _moto: Arc<Moto>,
    _realism: Option<test_support::realism::Realism>,
}

impl Aws {
    pub async fn new() -> Aws {
        Aws::at(None).await
    }

    /// Through the realism proxy with its DynamoDB writes one item at a time,
    /// as AWS makes them (moto's server may pass one condition twice at once).
    pub async fn atomic() -> Aws {
        let behaviours = test_support::realism::Behaviours { atomic_items: true, ..Default::default() };
        Aws::at(Some(behaviours)).await
    }

    async fn at(realism: Option<test_support::realism::Behaviours>) -> Aws {
        let moto = Moto::shared();
        let realism = realism.map(|behaviours| test_support::realism::Realism::start(&moto.endpoint(), behaviours));
        let endpoint = realism.as_ref().map_or_else(|| moto.endpoint(), |r| r.endpoint());
        let sdk = test_support::aws::sdk_config(&endpoint).await;
        Aws { sdk, endpoint, _moto: moto, _realism: realism }
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    /// The items of `table` under one string hash key, as a Query reads
    /// them (in range key order).
    pub async fn items(&self, table: &str, hash: &str, value: &str) -> Vec<HashMap<String, AttributeValue>> {
        let out = self
            .dynamodb()
            .query()
            .table_name(table)
            .key_condition_expression(format!("{hash} = :k"))
            .expression_attribute_values(":k", AttributeValue::S(value.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("querying table `{table}` in moto: {e}"));
        out.items.unwrap_or_default()
    }

    /// A new connections table, named after `label`, shaped as `wschat deploy` creates it.
    pub async fn table(&self, label: &str) -> String {
        let name = format!("{label}-{}-connections", unique());
        crate::adapters::create_table(&self.dynamodb(), &name).await;
        name
    }

    /// A fresh delivery ledger table, as `wschat deploy` creates it: hash
    /// key `shard` (S), range key `part` (N).
    pub async fn ledger_table(&self, label: &str) -> String {
        self.keyed_table(label, "deliveries", "shard", ("part", ScalarAttributeType::N)).await
    }

    /// A fresh messages table, as `wschat deploy` creates it: hash key
    /// `conversation` (S), range key `id` (S).
    pub async fn messages_table(&self, label: &str) -> String {
        self.keyed_table(label, "messages", "conversation", ("id", ScalarAttributeType::S)).await
    }

    /// A fresh presence table, as `wschat deploy` creates it: hash key `key`
    /// (S), range key `part` (N).
    pub async fn presence_table(&self, label: &str) -> String {
        self.keyed_table(label, "presence", "key", ("part", ScalarAttributeType::N)).await
    }

    /// A fresh table named after `label` and `kind`, with a string hash key
    /// and a range key of the type given.
    async fn keyed_table(&self, label: &str, kind: &str, hash: &str, range: (&str, ScalarAttributeType)) -> String {
        use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType};
        let name = format!("{label}-{}-{kind}", unique());
        let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
        let attribute = |name: &str, kind| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().unwrap()
        };
        self.dynamodb()
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(hash, ScalarAttributeType::S))
            .attribute_definitions(attribute(range.0, range.1))
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key(range.0, KeyType::Range))
            .send()
            .await
            .unwrap_or_else(|e| panic!("creating a {kind} table in moto: {e}"));
        name
    }

    /// A new queue named after `label`; returns its URL.
    pub async fn queue(&self, label: &str) -> String {
        let name = format!("{label}-{}-notifications", unique());
        let out = self.sqs().create_queue().queue_name(&name).send().await.expect("creating a queue in moto");
        out.queue_url.expect("a queue URL")
    }
}

/// A number no other call in this process returns.
fn unique() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
