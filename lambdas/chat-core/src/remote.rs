//! The ports over HTTP: how the shipped `chat` and `notify` binaries reach
//! `wschat dev`'s in-memory tables and queue when dev runs them as processes
//! (`wschat dev --processes`), as they reach DynamoDB and SQS on AWS.
//!
//! Each port call is one `POST` of a [`Call`] as JSON to the URL in
//! `WSCHAT_DEV_PORTS`, answered with a [`Reply`]. [`serve`] answers a call
//! from a set of [`Ports`] (dev's); [`Remote`] (feature `remote`) makes the
//! calls, and is every port but the Management API, which a process reaches
//! over HTTP already (`WSCHAT_MANAGEMENT_ENDPOINT`).
//!
//! Dev's URL carries a secret it makes at start-up, so that only the
//! processes it started (which it gives the URL) reach its tables.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Ports;
use crate::limits::{Bucket, Rate};
use crate::ports::{Change, ChatMessage, Connection, DigestWindow, Member, PortError, PortResult, ScanPage, Window};

/// The variable that names dev's ports URL in a process it runs.
pub const DEV_PORTS: &str = "WSCHAT_DEV_PORTS";

/// One port call: the port's method and its arguments, owned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Call {
    // ConnectionStore
    PutConnection {
        connection: Connection,
    },
    GetConnection {
        connection_id: String,
    },
    DeleteConnection {
        connection_id: String,
    },
    AllConnections,
    InRoom {
        room: String,
    },
    Estimate,
    ScanPage {
        segment: u32,
        of: u32,
        after: Option<String>,
        limit: usize,
    },
    MarkTyping {
        connection_id: String,
        now: i64,
        every_ms: i64,
    },
    // Notifier
    Send {
        messages: Vec<(String, u32)>,
    },
    // Ledger
    LedgerRead {
        key: String,
    },
    LedgerRecord {
        key: String,
        part: u32,
        delivered: Vec<String>,
    },
    LedgerFinish {
        key: String,
    },
    // MessageStore
    PutMessage {
        message: ChatMessage,
    },
    /// `before` or `since` (at most one) chooses the window; neither is the latest.
    Page {
        conversation: String,
        before: Option<String>,
        since: Option<String>,
        limit: usize,
        now: i64,
    },
    // Presence
    Arrive {
        connection: Connection,
    },
    Depart {
        connection: Connection,
    },
    Count {
        now: i64,
    },
    Note {
        window: DigestWindow,
        change: Change,
        who: Member,
    },
    Digest {
        window: DigestWindow,
    },
    Admit {
        who: String,
        bucket: Bucket,
        rate: Rate,
        now: i64,
    },
    Ban {
        who: String,
        until: i64,
    },
    Banned {
        who: String,
        now: i64,
    },
}

/// The answer to a [`Call`]: its result, or the port's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reply {
    Ok(Value),
    Gone,
    Refused(String),
    Failed(String),
}

impl Reply {
    fn of<T: Serialize>(result: PortResult<T>) -> Reply {
        match result {
            Ok(value) => serde_json::to_value(value).map_or_else(|e| Reply::Failed(e.to_string()), Reply::Ok),
            Err(PortError::Gone) => Reply::Gone,
            Err(PortError::Refused(why)) => Reply::Refused(why),
            Err(PortError::Failed(why)) => Reply::Failed(why),
        }
    }

    /// The result it carries, as `T`.
    pub fn into_result<T: DeserializeOwned>(self) -> PortResult<T> {
        match self {
            Reply::Ok(value) => serde_json::from_value(value)
                .map_err(|e| PortError::Failed(format!("the ports' answer is not the one expected: {e}"))),
            Reply::Gone => Err(PortError::Gone),
            Reply::Refused(why) => Err(PortError::Refused(why)),
            Reply::Failed(why) => Err(PortError::Failed(why)),
        }
    }
}

/// Answers `call` from `ports`. A call to a port that is not there (the
/// history or the presence table is off) fails, as a call to a table the
/// function was not given would.
pub async fn serve(ports: &Ports<'_>, call: Call) -> Reply {
    let missing = |port: &str| Reply::Failed(format!("wschat dev has no {port} (it is off in stack.yaml)"));
    let (store, ledger) = (ports.store, ports.ledger);
    match call {
        Call::PutConnection { connection } => Reply::of(store.put(&connection).await),
        Call::GetConnection { connection_id } => Reply::of(store.get(&connection_id).await),
        Call::DeleteConnection { connection_id } => Reply::of(store.delete(&connection_id).await),
        Call::AllConnections => Reply::of(store.all().await),
        Call::InRoom { room } => Reply::of(store.in_room(&room).await),
        Call::Estimate => Reply::of(store.estimate().await),
        Call::ScanPage { segment, of, after, limit } => {
            Reply::of(store.scan_page(ScanPage { segment, of, after: after.as_deref(), limit }).await)
        }
        Call::MarkTyping { connection_id, now, every_ms } => {
            Reply::of(store.mark_typing(&connection_id, now, every_ms).await)
        }
        Call::Send { messages } => Reply::of(ports.notifier.send_many(messages).await),
        Call::LedgerRead { key } => Reply::of(ledger.read(&key).await),
        Call::LedgerRecord { key, part, delivered } => Reply::of(ledger.record(&key, part, &delivered).await),
        Call::LedgerFinish { key } => Reply::of(ledger.finish(&key).await),
        Call::PutMessage { message } => match ports.messages {
            Some(messages) => Reply::of(messages.put(&message).await),
            None => missing("history"),
        },
        Call::Page { conversation, before, since, limit, now } => match ports.messages {
            Some(messages) => {
                let window = match (&before, &since) {
                    (Some(id), _) => Window::Before(id),
                    (None, Some(id)) => Window::Since(id),
                    (None, None) => Window::Latest,
                };
                Reply::of(messages.page(&conversation, window, limit, now).await)
            }
            None => missing("history"),
        },
        presence_call => match ports.presence {
            Some(presence) => match presence_call {
                Call::Arrive { connection } => Reply::of(presence.arrive(&connection).await),
                Call::Depart { connection } => Reply::of(presence.depart(&connection).await),
                Call::Count { now } => Reply::of(presence.count(now).await),
                Call::Note { window, change, who } => Reply::of(presence.note(window, change, &who).await),
                Call::Digest { window } => Reply::of(presence.digest(window).await),
                Call::Admit { who, bucket, rate, now } => Reply::of(presence.admit(&who, bucket, rate, now).await),
                Call::Ban { who, until } => Reply::of(presence.ban(&who, until).await),
                Call::Banned { who, now } => Reply::of(presence.banned(&who, now).await),
                other => Reply::Failed(format!("not a port call: {other:?}")),
            },
            None => missing("presence table"),
        },
    }
}

#[cfg(feature = "remote")]
pub use client::Remote;

#[cfg(feature = "remote")]
mod client {
    use std::time::Duration;

    use async_trait::async_trait;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::Client;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::rt::TokioExecutor;
    use serde::de::DeserializeOwned;

    use super::{Call, DEV_PORTS, Reply};
    use crate::limits::{Admission, Bucket, Rate};
    use crate::ports::{
        Change, ChatMessage, Connection, ConnectionStore, Digest, DigestWindow, Ledger, Member, MessageStore, Notifier,
        Page, PortError, PortResult, Presence, Progress, Put, ScanPage, Window,
    };

    /// A call that takes longer failed (as an SDK call past its timeout).
    const TIMEOUT: Duration = Duration::from_secs(10);

    /// Every port but the Management API, reached over HTTP at dev's ports URL.
    #[derive(Clone)]
    pub struct Remote {
        url: hyper::Uri,
        client: Client<HttpConnector, Full<Bytes>>,
    }

    impl Remote {
        /// The ports at `url` (`http://...`).
        pub fn new(url: &str) -> Result<Remote, String> {
            let url: hyper::Uri = url.parse().map_err(|e| format!("{DEV_PORTS} `{url}` is not a URL: {e}"))?;
            if url.scheme_str() != Some("http") {
                return Err(format!("{DEV_PORTS} `{url}` is not an http:// URL"));
            }
            Ok(Remote { url, client: Client::builder(TokioExecutor::new()).build_http() })
        }

        /// The ports `WSCHAT_DEV_PORTS` names, when it is set (only `wschat
        /// dev` sets it).
        pub fn from_env() -> Option<Result<Remote, String>> {
            std::env::var(DEV_PORTS).ok().filter(|url| !url.is_empty()).map(|url| Remote::new(&url))
        }

        async fn call<T: DeserializeOwned>(&self, call: Call) -> PortResult<T> {
            let failed = |e: String| PortError::Failed(format!("wschat dev's ports: {e}"));
            let body = serde_json::to_vec(&call).map_err(|e| failed(e.to_string()))?;
            let request = hyper::Request::post(self.url.clone())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| failed(e.to_string()))?;
            let exchange = async {
                let response = self.client.request(request).await.map_err(|e| failed(e.to_string()))?;
                let status = response.status();
                let body = response.into_body().collect().await.map_err(|e| failed(e.to_string()))?.to_bytes();
                if !status.is_success() {
                    return Err(failed(format!("{status}: {}", String::from_utf8_lossy(&body))));
                }
                serde_json::from_slice::<Reply>(&body).map_err(|e| failed(e.to_string()))
            };
            let reply = tokio::time::timeout(TIMEOUT, exchange)
                .await
                .map_err(|_| failed(format!("no answer within {} s", TIMEOUT.as_secs())))??;
            reply.into_result()
        }
    }

    #[async_trait]
    impl ConnectionStore for Remote {
        async fn put(&self, connection: &Connection) -> PortResult<()> {
            self.call(Call::PutConnection { connection: connection.clone() }).await
        }
        async fn get(&self, connection_id: &str) -> PortResult<Option<Connection>> {
            self.call(Call::GetConnection { connection_id: connection_id.into() }).await
        }
        async fn delete(&self, connection_id: &str) -> PortResult<Option<Connection>> {
            self.call(Call::DeleteConnection { connection_id: connection_id.into() }).await
        }
        async fn all(&self) -> PortResult<Vec<Connection>> {
            self.call(Call::AllConnections).await
        }
        async fn in_room(&self, room: &str) -> PortResult<Vec<Connection>> {
            self.call(Call::InRoom { room: room.into() }).await
        }
        async fn estimate(&self) -> PortResult<u64> {
            self.call(Call::Estimate).await
        }
        async fn scan_page(&self, page: ScanPage<'_>) -> PortResult<(Vec<Connection>, Option<String>)> {
            let ScanPage { segment, of, after, limit } = page;
            self.call(Call::ScanPage { segment, of, after: after.map(str::to_string), limit }).await
        }
        async fn mark_typing(&self, connection_id: &str, now: i64, every_ms: i64) -> PortResult<bool> {
            self.call(Call::MarkTyping { connection_id: connection_id.into(), now, every_ms }).await
        }
    }

    #[async_trait]
    impl Notifier for Remote {
        async fn send(&self, body: String, delay_seconds: u32) -> PortResult<()> {
            self.call(Call::Send { messages: vec![(body, delay_seconds)] }).await
        }
        async fn send_many(&self, messages: Vec<(String, u32)>) -> PortResult<()> {
            self.call(Call::Send { messages }).await
        }
    }

    #[async_trait]
    impl Ledger for Remote {
        async fn read(&self, key: &str) -> PortResult<Progress> {
            self.call(Call::LedgerRead { key: key.into() }).await
        }
        async fn record(&self, key: &str, part: u32, delivered: &[String]) -> PortResult<()> {
            self.call(Call::LedgerRecord { key: key.into(), part, delivered: delivered.to_vec() }).await
        }
        async fn finish(&self, key: &str) -> PortResult<()> {
            self.call(Call::LedgerFinish { key: key.into() }).await
        }
    }

    #[async_trait]
    impl MessageStore for Remote {
        async fn put(&self, message: &ChatMessage) -> PortResult<Put> {
            self.call(Call::PutMessage { message: message.clone() }).await
        }
        async fn page(&self, conversation: &str, window: Window<'_>, limit: usize, now: i64) -> PortResult<Page> {
            let (before, since) = match window {
                Window::Latest => (None, None),
                Window::Before(id) => (Some(id.to_string()), None),
                Window::Since(id) => (None, Some(id.to_string())),
            };
            self.call(Call::Page { conversation: conversation.into(), before, since, limit, now }).await
        }
    }

    #[async_trait]
    impl Presence for Remote {
        async fn arrive(&self, connection: &Connection) -> PortResult<()> {
            self.call(Call::Arrive { connection: connection.clone() }).await
        }
        async fn depart(&self, connection: &Connection) -> PortResult<()> {
            self.call(Call::Depart { connection: connection.clone() }).await
        }
        async fn count(&self, now: i64) -> PortResult<u64> {
            self.call(Call::Count { now }).await
        }
        async fn note(&self, window: DigestWindow, change: Change, who: &Member) -> PortResult<bool> {
            self.call(Call::Note { window, change, who: who.clone() }).await
        }
        async fn digest(&self, window: DigestWindow) -> PortResult<Digest> {
            self.call(Call::Digest { window }).await
        }
        async fn admit(&self, who: &str, bucket: Bucket, rate: Rate, now: i64) -> PortResult<Admission> {
            self.call(Call::Admit { who: who.into(), bucket, rate, now }).await
        }
        async fn ban(&self, who: &str, until: i64) -> PortResult<()> {
            self.call(Call::Ban { who: who.into(), until }).await
        }
        async fn banned(&self, who: &str, now: i64) -> PortResult<Option<i64>> {
            self.call(Call::Banned { who: who.into(), now }).await
        }
    }
}
