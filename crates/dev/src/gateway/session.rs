//! One connection's life: the upgrade and `$connect`, frames in and out, and its end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::now_millis;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tracing::{debug, info, warn};

use super::connections::{Link, OUTGOING_FRAMES};
use super::events::loggable_query;
use super::responses::{ENDPOINT_TIMED_OUT, INTERNAL_SERVER_ERROR, TOO_MANY_REQUESTS, aws_error, gateway_error};
use super::{Gateway, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES, Unanswered};
use crate::new_id;

/// Each socket's read and write buffer. Small buffers keep an idle
/// connection cheap: 1,000 connections take about 34 MiB with 8 KiB, 154 MiB
/// with tungstenite's default 128 KiB.
const BUFFER_BYTES: usize = 8 * 1024;
/// How long a closing socket waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// `GET /{stage}`: `$connect`, then the upgrade and the connection's life.
pub async fn upgrade(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    mut ws: WebSocketUpgrade,
) -> Response {
    let Some(token) = gateway.tracker.token().filter(|_| !*gateway.shutdown.borrow()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the gateway is shutting down").into_response();
    };
    let id = new_id();
    // Throttled before the authorizer and `$connect`: 429 with `{"message":
    // "Too Many Requests"}`, as a stage throttled to 0 answers every upgrade
    // (hashicorp/terraform-provider-aws#14742; the body: pulumi/pulumi-aws#2363).
    // The error type is the one API Gateway's 429s carry elsewhere; no source
    // shows the headers of this one.
    if let Some(throttles) = &gateway.throttles
        && !throttles.admit("$connect")
    {
        info!("throttle   {id} $connect -> 429; $connect is not run");
        return aws_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", TOO_MANY_REQUESTS);
    }
    let now = now_millis();
    let (tx, rx) = mpsc::channel(OUTGOING_FRAMES);
    let link = Arc::new(Link {
        tx,
        deleted: Notify::new(),
        connected_at: now,
        source_ip: peer.ip().to_string(),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string),
        last_active: AtomicI64::new(now),
    });
    let query_text = loggable_query(&query);
    let mut event = gateway.connect_event(&link, &id, &query, &headers);
    if let Some(verifier) = &gateway.sign_in {
        match gateway.authorize(verifier, &id, &event).await {
            Ok(context) => event["requestContext"]["authorizer"] = context,
            Err(refused) => return refused,
        }
    }
    if gateway.routes.has("$connect") {
        let response = match gateway.invoke(event).await {
            Ok(response) => response,
            Err(Unanswered::Failed) => {
                info!("connect    {id} ?{query_text} -> 502 {INTERNAL_SERVER_ERROR}");
                return (StatusCode::BAD_GATEWAY, INTERNAL_SERVER_ERROR).into_response();
            }
            Err(Unanswered::TimedOut) => {
                // API Gateway's INTEGRATION_TIMEOUT answer, 504 (REST API
                // gateway response types; WebSocket APIs have no gateway
                // responses to change it with).
                info!("connect    {id} ?{query_text} -> 504 {ENDPOINT_TIMED_OUT}");
                return gateway_error(StatusCode::GATEWAY_TIMEOUT, ENDPOINT_TIMED_OUT);
            }
        };
        if !(200..300).contains(&response.status_code) {
            info!("connect    {id} ?{query_text} -> {} refused", response.status_code);
            let status = StatusCode::from_u16(response.status_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, response.body.unwrap_or_default()).into_response();
        }
        info!("connect    {id} ?{query_text} -> {}", response.status_code);
        // API Gateway completes the handshake with the subprotocol `$connect`
        // names, and with none when it names none, whatever the client
        // offered (browsers then drop the connection: localstack#6521).
        let chosen = response.headers.iter().flatten().find(|(k, _)| k.eq_ignore_ascii_case("Sec-WebSocket-Protocol"));
        if let Some(protocol) = chosen.and_then(|(_, v)| HeaderValue::from_str(v).ok()) {
            ws.set_selected_protocol(protocol);
        }
    } else {
        info!("connect    {id} ?{query_text}");
    }
    // Open before the 101: posts made from now on wait in the channel.
    gateway.connections.insert(&id, link.clone());
    let failed = (gateway.clone(), id.clone(), link.clone(), token.clone());
    ws.read_buffer_size(BUFFER_BYTES)
        .write_buffer_size(BUFFER_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |e| {
            let (gateway, id, link, token) = failed;
            tokio::spawn(async move {
                warn!("upgrading connection {id}: {e}");
                gateway.disconnected(&id, &link, 1006, "").await;
                drop(token);
            });
        })
        .on_upgrade(move |socket| async move {
            session(&gateway, &id, &link, rx, socket).await;
            drop(token);
        })
}

/// How a connection ended.
enum Ending {
    /// The client sent a close frame.
    Client(u16, String),
    /// The gateway closes: timeouts, DeleteConnection, shutdown, limits.
    Gateway(u16, &'static str),
    /// The TCP connection went away without a close frame.
    Lost,
}

/// One connection's life: frames in, frames out, and the limits.
async fn session(
    gateway: &Arc<Gateway>,
    id: &str,
    link: &Link,
    mut outgoing: mpsc::Receiver<Message>,
    mut socket: WebSocket,
) {
    let mut shutdown = gateway.shutdown.clone();
    let end_of_life = Instant::now() + gateway.limits.lifetime;
    let mut idle_until = Instant::now() + gateway.limits.idle;
    let ending = loop {
        if *shutdown.borrow_and_update() {
            break Ending::Gateway(1001, "Going away");
        }
        tokio::select! {
            _ = shutdown.changed() => break Ending::Gateway(1001, "Going away"),
            () = tokio::time::sleep_until(idle_until) => break Ending::Gateway(1001, "Going away"),
            () = tokio::time::sleep_until(end_of_life) => break Ending::Gateway(1001, "Going away"),
            () = link.deleted.notified() => {
                // What was posted before the delete is delivered first, as
                // API Gateway delivers a post it answered 200 (the chat
                // posts why it closes a connection, then closes it).
                while let Ok(frame) = outgoing.try_recv() {
                    if socket.send(frame).await.is_err() {
                        break;
                    }
                }
                break Ending::Gateway(1000, "");
            }
            out = outgoing.recv() => match out {
                Some(frame) => {
                    if socket.send(frame).await.is_err() {
                        break Ending::Lost;
                    }
                }
                None => break Ending::Gateway(1011, ""),
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    idle_until = Instant::now() + gateway.limits.idle;
                    link.last_active.store(now_millis(), Ordering::Relaxed);
                    gateway.message(id, link, text.as_bytes(), false).await;
                }
                Some(Ok(Message::Binary(data))) => {
                    idle_until = Instant::now() + gateway.limits.idle;
                    link.last_active.store(now_millis(), Ordering::Relaxed);
                    gateway.message(id, link, &data, true).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    break match frame {
                        Some(CloseFrame { code, reason }) => Ending::Client(code, reason.as_str().to_string()),
                        None => Ending::Client(1005, String::new()),
                    };
                }
                Some(Err(e)) => break ending_of(e),
                None => break Ending::Lost,
            },
        }
    };
    // From here on, posts to this connection are 410 Gone.
    gateway.connections.remove(id);
    let (code, reason) = match &ending {
        Ending::Client(code, reason) => {
            // Reading on sends the close reply the socket queued.
            let _ = tokio::time::timeout(CLOSE_WAIT, socket.recv()).await;
            (*code, reason.clone())
        }
        Ending::Gateway(code, reason) => {
            let close = CloseFrame { code: *code, reason: (*reason).into() };
            if socket.send(Message::Close(Some(close))).await.is_ok() {
                // Wait for the client's close frame (the closing handshake);
                // past a read error, give it a moment to read ours before the
                // socket drops.
                let handshake = async {
                    loop {
                        match socket.recv().await {
                            Some(Ok(Message::Close(_))) | None => break,
                            Some(Ok(_)) => {}
                            Some(Err(_)) => {
                                tokio::time::sleep(CLOSE_WAIT / 4).await;
                                break;
                            }
                        }
                    }
                };
                let _ = tokio::time::timeout(CLOSE_WAIT, handshake).await;
            }
            (*code, reason.to_string())
        }
        Ending::Lost => (1006, String::new()),
    };
    drop(socket);
    gateway.disconnected(id, link, code, &reason).await;
}

/// A read error: a frame or message past the limits is 1009, anything else a lost connection.
fn ending_of(error: axum::Error) -> Ending {
    let inner = error.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(e)) => {
            debug!("closing with 1009: {e}");
            Ending::Gateway(1009, "Message too big")
        }
        Some(tungstenite::Error::Utf8(_)) => Ending::Gateway(1007, "Invalid frame payload data"),
        Some(tungstenite::Error::Protocol(e)) => {
            debug!("closing with 1002: {e}");
            Ending::Gateway(1002, "Protocol error")
        }
        _ => {
            debug!("reading a frame: {inner}");
            Ending::Lost
        }
    }
}

impl Gateway {
    /// A connection closed: it can receive nothing more, and `$disconnect` runs.
    async fn disconnected(self: &Arc<Self>, id: &str, link: &Link, code: u16, reason: &str) {
        self.connections.remove(id);
        if self.routes.has("$disconnect") {
            let outcome = match self.invoke(self.disconnect_event(link, id, code, reason)).await {
                Ok(response) => response.status_code.to_string(),
                Err(Unanswered::Failed) => INTERNAL_SERVER_ERROR.into(),
                Err(Unanswered::TimedOut) => ENDPOINT_TIMED_OUT.into(),
            };
            info!("disconnect {id} {code} {reason:?} -> {outcome}");
        } else {
            info!("disconnect {id} {code} {reason:?}");
        }
    }
}
