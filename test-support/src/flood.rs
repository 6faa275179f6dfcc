//! Clients of `wschat dev` for flood control, each from a loopback address of
//! its own (127.0.0.0/8 is all this machine's), as people on other machines:
//! a script that floods, a bystander who talks, newcomers who join. The flood
//! tests (`cli/tests/it/dev/flood.rs`) and the flood benchmark
//! (`cli/examples/flood.rs`) both drive them.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket to `url` (`ws://127.0.0.1:PORT/stage?query`) from `ip`; the
/// HTTP status of a refused upgrade otherwise.
pub async fn connect_from(url: &str, ip: Ipv4Addr) -> Result<Socket, u16> {
    let port = url.trim_start_matches("ws://").split(['/', '?']).next().and_then(|a| a.rsplit(':').next());
    let port: u16 = port.and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in {url}"));
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.bind(SocketAddr::from((ip, 0))).unwrap_or_else(|e| panic!("binding {ip}: {e}"));
    let stream = socket.connect(SocketAddr::from(([127, 0, 0, 1], port))).await.expect("connecting");
    match tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("connecting from {ip}: {e}"),
    }
}

/// A JSON client from `ip` named `name`, once its welcome has come.
pub async fn join(url: &str, ip: Ipv4Addr, name: &str) -> Socket {
    let mut ws = connect_from(&format!("{url}?username={name}&format=json"), ip).await.expect("joining");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a welcome");
        let frame = frame.expect("the connection is open").expect("a frame");
        if frame.to_text().is_ok_and(|t| t.contains(r#""type":"welcome""#)) {
            return ws;
        }
    }
}

/// What a flooding script saw.
#[derive(Debug, Default)]
pub struct Flood {
    /// Frames it sent.
    pub sent: usize,
    /// When its first frame was refused over a limit of `chat.limits`.
    pub first_refusal: Option<Duration>,
    /// When its connection was closed, if it was.
    pub closed: Option<Duration>,
    /// The error frames naming a limit.
    pub refusals: Vec<Value>,
}

/// Sends `frame` at `rate` a second for `duration` from `ws` (25 at a time),
/// reading what comes back, until then or until the chat closes the
/// connection.
pub async fn flood(ws: Socket, frame: &'static str, rate: u32, duration: Duration) -> Flood {
    let started = Instant::now();
    let (mut sink, mut source) = ws.split();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut seen = Flood::default();
        loop {
            let message = tokio::select! {
                _ = &mut stopped => break,
                message = source.next() => message,
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if value["type"] == "error" && value.get("limit").is_some() {
                        seen.first_refusal.get_or_insert(started.elapsed());
                        seen.refusals.push(value);
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    seen.closed = Some(started.elapsed());
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
        seen
    });
    let mut sent = 0;
    let every = Duration::from_secs_f64(25.0 / f64::from(rate.max(25)));
    let mut tick = tokio::time::interval(every);
    while started.elapsed() < duration && !reader.is_finished() {
        tick.tick().await;
        let burst = (0..25).map(|_| Ok(Message::text(frame)));
        if sink.send_all(&mut futures::stream::iter(burst)).await.is_err() {
            break;
        }
        sent += 25;
    }
    // The script stops by itself: whatever comes after is not the chat closing it.
    let _ = stop.send(());
    let mut seen = reader.await.expect("the flood's reader");
    seen.sent = sent;
    seen
}

/// What a bystander saw while saying `count` things, one every `every`.
#[derive(Debug, Default)]
pub struct Bystander {
    /// How long each of its messages took to come back to it (the chat
    /// broadcasts to the sender too); `None` when it never came within 10 s.
    pub latencies: Vec<Option<Duration>>,
    /// Messages of `from`'s it received meanwhile (the flood fanned out).
    pub flooded: usize,
}

/// Sends `count` messages from `ws`, one every `every`, each waiting until it
/// comes back, counting the messages whose text is `flood_text`.
pub async fn talk(ws: Socket, count: usize, every: Duration, flood_text: &str) -> Bystander {
    let (mut say, mut hear) = ws.split();
    let mut seen = Bystander::default();
    for n in 0..count {
        let text = format!("hello {n}");
        say.send(Message::text(json!({"action": "send", "text": text}).to_string())).await.expect("talking");
        let sent = Instant::now();
        let mut latency = None;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(10), hear.next()).await {
            let value: Value = serde_json::from_str(frame.to_text().unwrap_or("null")).unwrap_or(Value::Null);
            if value["text"] == flood_text {
                seen.flooded += 1;
            }
            if value["text"] == text.as_str() {
                latency = Some(sent.elapsed());
                break;
            }
        }
        seen.latencies.push(latency);
        tokio::time::sleep(every).await;
    }
    // What the flood fanned out after the last message.
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_millis(500), hear.next()).await {
        let value: Value = serde_json::from_str(frame.to_text().unwrap_or("null")).unwrap_or(Value::Null);
        if value["text"] == flood_text {
            seen.flooded += 1;
        }
    }
    seen
}

/// Newcomers from 127.0.1.x, one every `every`: how many were refused.
pub async fn newcomers(url: &str, count: u8, every: Duration) -> usize {
    let mut refused = 0;
    let mut open = Vec::new();
    for i in 0..count {
        match connect_from(&format!("{url}?username=new{i}"), Ipv4Addr::new(127, 0, 1, 10 + i)).await {
            Ok(ws) => open.push(ws),
            Err(_) => refused += 1,
        }
        tokio::time::sleep(every).await;
    }
    refused
}
