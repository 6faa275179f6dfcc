//! Flood control (`chat.limits`): a client over its rate is refused before
//! anything is stored or fanned out, closed when it keeps going, and kept
//! out for the cool-down; others never notice; a person typing is never
//! refused. Over memory ports, and the buckets against moto.

use chat_core::aws::DynamoPresence;
use chat_core::limits::{Admission, Bucket, Limits, Rate};
use chat_core::memory::MemoryPresence;
use chat_core::now_millis;
use chat_core::ports::Presence;
use serde_json::{Value, json};

use crate::support::{Aws, Chat, connect_event};

const FLOODER: &str = "F1oodEr0000000=";
const BYSTANDER: &str = "By5tander00000=";

fn limits() -> Limits {
    Limits {
        messages: Rate { per_second: 2.0, burst: 5 },
        frames: Rate { per_second: 10.0, burst: 20 },
        close_after: 10,
        cooldown_seconds: 60,
    }
}

async fn chat() -> Chat {
    let mut chat = Chat::new();
    chat.settings.limits = limits();
    chat
}

fn send(text: &str) -> String {
    json!({"action": "send", "text": text}).to_string()
}

fn errors(frames: &[Value]) -> Vec<&Value> {
    frames.iter().filter(|f| f["type"] == "error").collect()
}

#[tokio::test]
async fn a_flooder_is_refused_then_closed_and_kept_out_while_a_bystander_goes_on() {
    let chat = chat().await;
    let at = now_millis();
    chat.connect_at(FLOODER, &[("username", "mallory"), ("format", "json")], at).await;
    chat.connect_at(BYSTANDER, &[("username", "bob"), ("format", "json")], at).await;
    chat.drain().await;
    chat.gateway.inbox.lock().unwrap().clear();

    // 40 messages at once: the burst of 5 goes through, 9 are refused with
    // the limit named, the 10th refusal closes the connection, the rest are dropped.
    for n in 0..40 {
        chat.send_at(FLOODER, &send(&format!("spam {n}")), at + 10).await;
    }
    // The bystander is not slowed down by any of it.
    assert_eq!(chat.send_at(BYSTANDER, &send("hello"), at + 10).await.status_code, 200);
    chat.drain().await;

    assert_eq!(chat.messages.len(), 5 + 1, "the flooder's burst and the bystander's message were stored, nothing else");
    let to_flooder = chat.received_json(FLOODER);
    let refusals = errors(&to_flooder);
    assert_eq!(refusals.len(), 10, "{refusals:?}");
    assert!(refusals.iter().all(|e| e["limit"] == "messages"));
    assert!(
        refusals[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("slow down: chat.limits.messages allows 2 a second, 5 at once"),
        "{}",
        refusals[0]
    );
    let closing = refusals.last().unwrap()["error"].as_str().unwrap();
    assert!(closing.starts_with("closed: chat.limits.messages allows 2 a second, 5 at once"), "{closing}");
    assert!(closing.ends_with("you may reconnect in 60 s"), "{closing}");
    assert_eq!(*chat.gateway.closed.lock().unwrap(), [FLOODER], "closed once, with DELETE @connections");

    let to_bystander = chat.received_json(BYSTANDER);
    let texts: Vec<&str> =
        to_bystander.iter().filter(|f| f["type"] == "message").map(|f| f["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["spam 0", "spam 1", "spam 2", "spam 3", "spam 4", "hello"]);
    assert!(errors(&to_bystander).is_empty());

    // API Gateway runs `$disconnect` for the closed connection; then the
    // flooder's address is refused until its cool-down ends.
    chat.disconnect_at(FLOODER, at + 20).await;
    let again = chat.connect_at("F1oodEr0000001=", &[("username", "mallory2")], at + 30_000).await;
    assert_eq!(again.status_code, 429);
    assert_eq!(again.body.as_deref(), Some("closed for flooding; you may reconnect in 31 s"));
    assert_eq!(chat.row("F1oodEr0000001=").await, None, "nothing stored for a refused connection");
    let later = chat.connect_at("F1oodEr0000002=", &[("username", "mallory3")], at + 61_000).await;
    assert_eq!(later.status_code, 200, "after the cool-down");
}

#[tokio::test]
async fn other_frames_have_their_own_bucket_and_typing_cannot_silence_messages() {
    let chat = chat().await;
    let at = now_millis();
    chat.connect_at(FLOODER, &[("format", "json")], at).await;
    chat.drain().await;
    chat.gateway.inbox.lock().unwrap().clear();
    // 25 typing frames at once: 20 pass the frames bucket, 5 are refused.
    for _ in 0..25 {
        chat.send_at(FLOODER, r#"{"action":"typing","conversation":"everyone"}"#, at + 1).await;
    }
    let refused = chat.received_json(FLOODER);
    assert_eq!(errors(&refused).len(), 5);
    assert!(errors(&refused).iter().all(|e| e["limit"] == "frames" && e["action"] == "typing"));
    // Its messages still go: another bucket, and an admitted frame clears the strikes.
    assert_eq!(chat.send_at(FLOODER, &send("still here"), at + 1).await.status_code, 200);
    assert_eq!(chat.messages.len(), 1);
    assert!(chat.gateway.closed.lock().unwrap().is_empty());
    // Garbage for `$default` counts as frames too.
    for _ in 0..30 {
        chat.send_at(FLOODER, "not json at all", at + 2).await;
    }
    assert_eq!(*chat.gateway.closed.lock().unwrap(), [FLOODER], "ten refused in a row: closed");
}

#[tokio::test]
async fn one_person_signed_in_twice_shares_one_bucket_and_is_banned_by_sub() {
    let chat = chat().await;
    let at = now_millis();
    let signed_in = |id: &str| {
        let mut event = connect_event(id, &[("format", "json")]);
        let context = json!({"principalId": "u-1", "sub": "u-1", "name": "Grace", "integrationLatency": 41});
        event.request_context.authorizer = Some(serde_json::from_value(context).unwrap());
        event.request_context.connected_at = at;
        event.request_context.request_time_epoch = at;
        event
    };
    for id in ["Tab1==", "Tab2=="] {
        assert_eq!(chat.handle(&signed_in(id)).await.status_code, 200);
        chat.gateway.open.lock().unwrap().insert(id.to_string());
    }
    for n in 0..4 {
        chat.send_at("Tab1==", &send(&format!("one {n}")), at + 5).await;
        chat.send_at("Tab2==", &send(&format!("two {n}")), at + 5).await;
    }
    assert_eq!(chat.messages.len(), 5, "the person's burst, across both tabs");
    for _ in 0..20 {
        chat.send_at("Tab2==", &send("more"), at + 5).await;
    }
    assert_eq!(*chat.gateway.closed.lock().unwrap(), ["Tab2=="]);
    assert!(chat.presence.banned("sub:u-1", at + 10).await.unwrap().is_some(), "the sub is banned, not the address");
    assert!(chat.presence.banned("ip:203.0.113.10", at + 10).await.unwrap().is_none());
    assert_eq!(chat.handle(&signed_in("Tab3==")).await.status_code, 429);
}

#[tokio::test]
async fn a_person_typing_at_human_speed_for_five_minutes_is_never_refused_by_the_defaults() {
    let chat = Chat::new();
    let at = now_millis();
    chat.connect_at(BYSTANDER, &[("format", "json")], at).await;
    // A message every 2 s, in bursts of 5, each with its typing notice, for 5 minutes.
    for burst in 0..30 {
        for n in 0..5 {
            let now = at + burst * 10_000 + n * 400;
            chat.send_at(BYSTANDER, r#"{"action":"typing","conversation":"everyone"}"#, now).await;
            chat.send_at(BYSTANDER, &send(&format!("{burst}.{n}")), now + 200).await;
        }
    }
    chat.drain().await;
    assert!(errors(&chat.received_json(BYSTANDER)).is_empty());
    assert_eq!(chat.messages.len(), 150);
}

#[tokio::test]
async fn the_buckets_in_dynamodb_admit_what_memory_admits_and_hold_under_concurrent_frames() {
    // Writes one at a time, as AWS makes each item's; moto alone can let two
    // conditional writes pass at once.
    let aws = Aws::atomic().await;
    let dynamo = DynamoPresence::new(aws.dynamodb(), aws.presence_table("limits").await);
    let memory = MemoryPresence::new();
    let rate = Rate { per_second: 4.0, burst: 3 };
    let at = now_millis();
    // A pattern of frames at different times: both decide alike.
    for offset in [0, 0, 0, 0, 100, 250, 300, 1000, 1000, 1000, 1000, 5000] {
        let d = dynamo.admit("conn:x=", Bucket::Messages, rate, at + offset).await.unwrap();
        let m = memory.admit("conn:x=", Bucket::Messages, rate, at + offset).await.unwrap();
        assert_eq!(d, m, "at +{offset} ms");
    }
    // Strikes count refusals in a row.
    for _ in 0..3 {
        dynamo.admit("conn:y=", Bucket::Frames, rate, at).await.unwrap();
    }
    assert_eq!(
        dynamo.admit("conn:y=", Bucket::Frames, rate, at).await.unwrap(),
        Admission::Refused { strikes: 1, retry_after_ms: 250 }
    );
    assert!(matches!(
        dynamo.admit("conn:y=", Bucket::Frames, rate, at).await.unwrap(),
        Admission::Refused { strikes: 2, .. }
    ));
    // Fifty frames at once from parallel invocations: exactly the burst passes.
    let admitted = futures::future::join_all(
        (0..50).map(|_| dynamo.admit("sub:crowd", Bucket::Messages, Rate { per_second: 1.0, burst: 10 }, at)),
    )
    .await
    .into_iter()
    .filter(|a| *a.as_ref().unwrap() == Admission::Admitted)
    .count();
    assert_eq!(admitted, 10);
    // Bans end when they say.
    dynamo.ban("ip:198.51.100.7", at + 60_000).await.unwrap();
    assert_eq!(dynamo.banned("ip:198.51.100.7", at).await.unwrap(), Some(at + 60_000));
    assert_eq!(dynamo.banned("ip:198.51.100.7", at + 60_000).await.unwrap(), None);
    assert_eq!(dynamo.banned("ip:198.51.100.8", at).await.unwrap(), None);
}
