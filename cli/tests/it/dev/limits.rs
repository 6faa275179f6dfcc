//! API Gateway's limits in `wschat dev`: frame and message sizes, the idle
//! timeout and the maximum lifetime (shortened through the flags).

use std::time::Duration;

use futures::{SinkExt, StreamExt};

use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use super::{Client, Server, alice_and_bob};

#[tokio::test]
async fn a_frame_past_32_kib_closes_with_1009_and_runs_disconnect() {
    let server = Server::start(&[]);
    let (mut alice, mut bob) = alice_and_bob(&server, "username=alice", "username=bob").await;

    // Right at the limit is fine ($default echoes it).
    let largest = "a".repeat(32 * 1024);
    bob.send(&largest).await;
    assert_eq!(bob.next().await.len(), largest.len());

    bob.send(&"b".repeat(32 * 1024 + 1)).await;
    let (code, _) = bob.closed(Duration::from_secs(5)).await;
    assert_eq!(code, 1009);
    assert_eq!(alice.next().await, r##"{"action":"message","from":"#host","text":"bob left"}"##);
    server.wait_for_log(&format!("disconnect {} 1009", bob.id)).await;

    // The others are unaffected.
    alice.send(r#"{"action":"send","text":"still fine"}"#).await;
    assert_eq!(alice.next().await, r#"{"action":"message","from":"alice","text":"still fine"}"#);
}

#[tokio::test]
async fn a_message_past_128_kib_in_small_frames_closes_with_1009() {
    let server = Server::start(&[]);
    let mut alice = Client::join(&server, "username=alice").await;

    // 96 KiB in three frames is one message under the limit.
    let chunk = vec![b'c'; 32 * 1024];
    alice.send_message(Message::Frame(Frame::message(chunk.clone(), OpCode::Data(Data::Text), false))).await;
    alice.send_message(Message::Frame(Frame::message(chunk.clone(), OpCode::Data(Data::Continue), false))).await;
    alice.send_message(Message::Frame(Frame::message(chunk.clone(), OpCode::Data(Data::Continue), true))).await;
    assert_eq!(alice.next().await.len(), 3 * chunk.len());

    // Five frames of 32 KiB are past 128 KiB.
    alice.send_message(Message::Frame(Frame::message(chunk.clone(), OpCode::Data(Data::Text), false))).await;
    for _ in 0..3 {
        alice.send_message(Message::Frame(Frame::message(chunk.clone(), OpCode::Data(Data::Continue), false))).await;
    }
    alice.send_message(Message::Frame(Frame::message(chunk.clone(), OpCode::Data(Data::Continue), true))).await;
    assert_eq!(alice.closed(Duration::from_secs(5)).await.0, 1009);
}

#[tokio::test]
async fn idle_connections_close_after_the_idle_timeout() {
    // The joins take 2 s (the welcome delay twice): idle must outlive them.
    let server = Server::start(&["--idle-timeout", "3"]);
    let mut idle = Client::join(&server, "username=idle").await;
    let mut busy = Client::join(&server, "username=busy").await;
    idle.next().await; // busy joined
    // busy sends a frame every 0.5 s for 4 s and stays; idle sends nothing and goes.
    let busy_frames = async {
        let mut others = Vec::new();
        for _ in 0..8 {
            busy.send("ping").await;
            loop {
                match busy.next().await {
                    ping if ping == "ping" => break,
                    other => others.push(other),
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        others
    };
    let ((code, reason), others) = tokio::join!(idle.closed(Duration::from_secs(6)), busy_frames);
    assert_eq!((code, reason.as_str()), (1001, "Going away"));
    let elapsed = idle.opened.elapsed();
    assert!(elapsed >= Duration::from_secs(3), "closed after {elapsed:?}");
    assert_eq!(others, [r##"{"action":"message","from":"#host","text":"idle left"}"##]);
    server.wait_for_log(&format!("disconnect {} 1001", idle.id)).await;
}

#[tokio::test]
async fn every_connection_closes_at_the_maximum_lifetime() {
    let server = Server::start(&["--max-lifetime", "2"]);
    let mut client = Client::join(&server, "username=short").await;
    // A frame every 0.3 s keeps the connection from idling; the lifetime ends it anyway.
    let closing = async {
        loop {
            match tokio::time::timeout(Duration::from_millis(300), client.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("expected a close frame, got {other:?}"),
                Err(_) => {
                    let _ = client.ws.send(Message::text("keep")).await;
                }
            }
        }
    };
    let code = tokio::time::timeout(Duration::from_secs(6), closing).await.expect("closed by the lifetime");
    assert_eq!(code, Some(1001));
    let elapsed = client.opened.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "closed after {elapsed:?}");
    server.wait_for_log(&format!("disconnect {} 1001", client.id)).await;
}
