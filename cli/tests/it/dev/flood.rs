//! Flood control end to end in `wschat dev` with the shipped stack.yaml
//! (issue #24's targets): each client from its own 127.0.0.x address, one of
//! them a script sending 2,500 frames a second for up to 8 s. The flood stops
//! by itself: the chat closes the script's connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Server;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A WebSocket to `server` with `query`, from `ip` (a loopback address of
/// its own, as another machine would have): the HTTP status of a refused
/// upgrade otherwise.
async fn connect_from(server: &Server, ip: Ipv4Addr, query: &str) -> Result<Socket, u16> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((ip, 0))).unwrap();
    let stream = socket.connect(SocketAddr::from(([127, 0, 0, 1], server.port))).await.unwrap();
    match tokio_tungstenite::client_async(server.url(query), MaybeTlsStream::Plain(stream)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("connecting from {ip}: {e}"),
    }
}

/// What the flooder saw: when its first frame was refused, when its
/// connection was closed, and how many frames it sent.
#[derive(Debug, Default)]
struct Flood {
    first_refusal: Option<Duration>,
    closed: Option<Duration>,
    sent: usize,
    refusals: Vec<Value>,
}

/// Sends `frame` at 2,500 a second for up to 8 s from `ws`, reading what
/// comes back, until the chat closes the connection.
async fn flood(ws: Socket, frame: &'static str) -> Flood {
    let started = Instant::now();
    let (mut sink, mut source) = ws.split();
    let reader = tokio::spawn(async move {
        let mut seen = Flood::default();
        while let Some(Ok(message)) = source.next().await {
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if value["type"] == "error" && value.get("limit").is_some() {
                        seen.first_refusal.get_or_insert(started.elapsed());
                        seen.refusals.push(value);
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        seen.closed = Some(started.elapsed());
        seen
    });
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while started.elapsed() < Duration::from_secs(8) && !reader.is_finished() {
        tick.tick().await;
        // 25 frames every 10 ms: 2,500 a second.
        let burst = (0..25).map(|_| Ok(Message::text(frame)));
        if sink.send_all(&mut futures::stream::iter(burst)).await.is_err() {
            break;
        }
        sent += 25;
    }
    let mut seen = tokio::time::timeout(Duration::from_secs(5), reader).await.expect("the flood ends").unwrap();
    seen.sent = sent;
    seen
}

async fn join(server: &Server, ip: Ipv4Addr, name: &str) -> Socket {
    let mut ws = connect_from(server, ip, &format!("username={name}&format=json")).await.expect("joining");
    // The welcome (and the history after it) come a second after `$connect`.
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a welcome").unwrap().unwrap();
        if frame.to_text().is_ok_and(|t| t.contains(r#""type":"welcome""#)) {
            return ws;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_flood_is_cut_short_and_nobody_else_notices() {
    let server = Server::start(&[]);
    let bystander = join(&server, Ipv4Addr::new(127, 0, 0, 2), "bystander").await;
    let flooder = join(&server, Ipv4Addr::new(127, 0, 0, 3), "mallory").await;

    let flooding = tokio::spawn(flood(flooder, r#"{"action":"send","text":"buy now"}"#));
    // The bystander says something every half second and hears itself back.
    let (mut say, mut hear) = bystander.split();
    let latencies = tokio::spawn(async move {
        let mut latencies = Vec::new();
        let mut flooded = 0;
        for n in 0..10 {
            let text = format!("hello {n}");
            say.send(Message::text(json!({"action": "send", "text": text}).to_string())).await.unwrap();
            let sent = Instant::now();
            loop {
                let frame =
                    tokio::time::timeout(Duration::from_secs(5), hear.next()).await.expect("a frame").unwrap().unwrap();
                let value: Value = serde_json::from_str(frame.to_text().unwrap_or("null")).unwrap_or(Value::Null);
                if value["text"] == "buy now" {
                    flooded += 1;
                }
                if value["text"] == text.as_str() {
                    latencies.push(sent.elapsed());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (latencies, flooded)
    });
    // Newcomers arrive meanwhile, each from its own address.
    let mut refused = 0;
    let mut newcomers = Vec::new();
    for i in 0..24u8 {
        match connect_from(&server, Ipv4Addr::new(127, 0, 1, 10 + i), &format!("username=new{i}")).await {
            Ok(ws) => newcomers.push(ws),
            Err(_) => refused += 1,
        }
        tokio::time::sleep(Duration::from_millis(80)).await;
    }

    let seen = flooding.await.unwrap();
    let (latencies, flooded) = latencies.await.unwrap();
    let (refusal, closed) = (seen.first_refusal.expect("refused"), seen.closed.expect("closed"));
    eprintln!(
        "send flood: {} frames sent, first refusal at {refusal:?}, closed at {closed:?}; bystander latencies {latencies:?}; \
         {flooded} flood messages reached the bystander; {refused} of 24 newcomers refused",
        seen.sent
    );
    assert!(closed - refusal < Duration::from_secs(2), "closed {:?} after passing its limit", closed - refusal);
    assert!(seen.sent < 2500 * 8, "the flood stopped early: the connection was closed");
    assert!(latencies.iter().all(|l| *l < Duration::from_secs(2)), "{latencies:?}");
    assert!(refused * 4 <= 24, "{refused} of 24 newcomers refused");
    // chat.limits.messages: 2 a second, 20 at once.
    let allowed = (2.0 * closed.as_secs_f64()).ceil() as usize + 20;
    assert!(flooded <= allowed, "{flooded} flood messages fanned out, more than {allowed}");
    assert!(flooded >= 1, "the burst went through: the limit is a rate, not a ban");
    let last = &seen.refusals.last().unwrap()["error"];
    assert!(last.as_str().unwrap().contains("you may reconnect in 60 s"), "{last}");

    // The cool-down: the script's address is refused, the others are not.
    for _ in 0..3 {
        assert_eq!(connect_from(&server, Ipv4Addr::new(127, 0, 0, 3), "username=mallory").await.err(), Some(429));
    }
    assert!(connect_from(&server, Ipv4Addr::new(127, 0, 2, 1), "username=someone").await.is_ok());
    server.wait_for_log("closed a flooder").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typing_flood_is_cut_short_too() {
    let server = Server::start(&[]);
    let flooder = join(&server, Ipv4Addr::new(127, 0, 0, 4), "typist").await;
    let seen = flood(flooder, r#"{"action":"typing","conversation":"everyone"}"#).await;
    let (refusal, closed) = (seen.first_refusal.expect("refused"), seen.closed.expect("closed"));
    eprintln!("typing flood: {} frames sent, first refusal at {refusal:?}, closed at {closed:?}", seen.sent);
    assert!(closed - refusal < Duration::from_secs(2));
    assert!(seen.refusals.iter().all(|r| r["limit"] == "frames"), "{:?}", seen.refusals);
    assert_eq!(connect_from(&server, Ipv4Addr::new(127, 0, 0, 4), "").await.err(), Some(429));
}
