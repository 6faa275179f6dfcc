//! Flood control (`chat.limits`): what one client may send, so that a script
//! can neither silence the chat nor run up its bill.
//!
//! API Gateway throttles per account, per stage and per route, never per
//! client, and AWS WAF cannot sit in front of a WebSocket API: a per-client
//! limit has to live in the chat. Every frame a connection sends is admitted
//! against one of two rates before anything is stored, counted or fanned out:
//! chat messages (`send`, `sendMessage`, `chat`...) and `rename`, which
//! reach everyone, against `messages`; every other frame (`typing`, which
//! reaches the others at most every 3 s however often it is sent, `list`,
//! `history`, a frame `$default` echoes...) against `frames`. The bucket is the connection's, or, signed in, the
//! person's (`sub`), shared by all of their connections.
//!
//! Each bucket is GCRA (the generic cell rate algorithm: a token bucket kept
//! as one time, when it will next be full), held in the presence table and
//! updated with conditional writes, so that it holds across Lambda
//! invocations running at once. A frame over the limit gets an error frame
//! naming the limit and counts a strike; a frame that finds its bucket full
//! (the client paused) clears them. A client that keeps sending over its
//! rate never lets its bucket fill, whatever share of its frames gets in:
//! at `close_after` strikes its connection is closed (`DELETE
//! @connections`, after a frame that says why) and its identity, the `sub`
//! or else the source IP, is refused at `$connect` for `cooldown` seconds.

use std::ops::Sub;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A rate: `per_second` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// Milliseconds between two frames at the rate (at least 1).
    pub fn interval_ms(self) -> i64 {
        (1000.0 / self.per_second.max(0.001)).ceil().max(1.0) as i64
    }

    /// How far ahead of now the bucket's time may run: `burst - 1` intervals.
    pub fn tolerance_ms(self) -> i64 {
        self.interval_ms() * i64::from(self.burst.max(1) - 1)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_second = self.per_second;
        if per_second >= 1.0 && per_second.fract() == 0.0 {
            write!(f, "{per_second} a second")?;
        } else {
            write!(f, "one every {:.1} s", 1.0 / per_second)?;
        }
        write!(f, ", {} at once", self.burst)
    }
}

/// The limits of `chat.limits`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Chat messages (`send`, `sendmessage`, `post`, `broadcast`,
    /// `sendMessage`, `chat`) and `rename`.
    pub messages: Rate,
    /// Every other frame.
    pub frames: Rate,
    /// Frames refused, since the client last let its bucket fill, before
    /// the connection is closed.
    pub close_after: u32,
    /// Seconds a closed client is refused at `$connect`.
    pub cooldown_seconds: u32,
}

/// Defaults a person typing never meets and a script always does: Sendbird
/// allows a user 5 messages a second, Pusher a connection 10 client events a
/// second, Discord 120 events a minute.
pub const DEFAULT_LIMITS: Limits = Limits {
    messages: Rate { per_second: 2.0, burst: 20 },
    frames: Rate { per_second: 10.0, burst: 50 },
    close_after: 10,
    cooldown_seconds: 60,
};

/// Which of the two rates a frame is admitted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Bucket {
    Messages,
    Frames,
}

impl Bucket {
    /// The bucket a frame of `action` is admitted against (`None`: a frame
    /// `$default` echoes). A rename reaches everyone, as a message does;
    /// `typing` does too, but at most once every 3 s per connection however
    /// often it is sent.
    pub fn of(action: Option<crate::protocol::Action>) -> Bucket {
        use crate::protocol::Action;
        match action {
            Some(action) if action.is_message() || action == Action::Rename => Bucket::Messages,
            _ => Bucket::Frames,
        }
    }

    /// Its name in `chat.limits`, and in the error frame's `limit`.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Messages => "messages",
            Bucket::Frames => "frames",
        }
    }

    pub fn rate(self, limits: &Limits) -> Rate {
        match self {
            Bucket::Messages => limits.messages,
            Bucket::Frames => limits.frames,
        }
    }

    /// The attribute (DynamoDB) that holds its time.
    pub fn attribute(self) -> &'static str {
        match self {
            Bucket::Messages => "messagesAt",
            Bucket::Frames => "framesAt",
        }
    }
}

/// What admitting a frame decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Admission {
    Admitted,
    /// Over the limit: the strikes so far (since the bucket was last full),
    /// this one included, and
    /// in how many milliseconds a frame would be admitted.
    Refused {
        strikes: u32,
        retry_after_ms: i64,
    },
}

/// GCRA: the bucket's new time if a frame at `now` is admitted, else how
/// long until one would be. `at` is the bucket's time (epoch ms, absent for
/// a new bucket).
pub fn gcra(at: Option<i64>, now: i64, rate: Rate) -> Result<i64, i64> {
    let at = at.unwrap_or(now).max(now);
    let ahead = at - now;
    if ahead > rate.tolerance_ms() { Err(ahead - rate.tolerance_ms()) } else { Ok(at + rate.interval_ms()) }
}

/// The key of the bucket a connection's frames are admitted against: the
/// person's when signed in (`sub:<sub>`), else the connection's (`conn:<id>`).
pub fn bucket_key(connection: &crate::ports::Connection) -> String {
    crate::history::identity(connection)
}

/// Who a ban refuses at `$connect`: `sub:<sub>` when signed in, else `ip:<address>`.
pub fn ban_key(sub: Option<&str>, source_ip: Option<&str>) -> Option<String> {
    match (sub, source_ip) {
        (Some(sub), _) => Some(format!("sub:{sub}")),
        (None, Some(ip)) if !ip.is_empty() => Some(format!("ip:{ip}")),
        _ => None,
    }
}

/// A token bucket, for the throttles API Gateway applies by rate and burst
/// (a stage's route throttles in `wschat dev`, and the account's throttle in
/// the benchmarks' simulated Management API). Generic over the clock, so
/// that a paused tokio clock drives it as well as the wall clock.
///
/// `burst` tokens, refilled at `rate` a second; a request takes one.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket<I> {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: I,
}

impl<I: Copy + Ord + Sub<Output = Duration>> TokenBucket<I> {
    /// A full bucket at `now`.
    pub fn full(rate: f64, burst: f64, now: I) -> Self {
        TokenBucket { rate, burst, tokens: burst, at: now }
    }

    /// Refills the bucket up to `now`, then takes a token if there is one:
    /// whether a request at `now` is admitted. Time lost is not made up
    /// beyond the burst.
    pub fn take(&mut self, now: I) -> bool {
        if now > self.at {
            self.tokens = (self.tokens + (now - self.at).as_secs_f64() * self.rate).min(self.burst);
            self.at = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_passes_then_one_a_rate_interval() {
        let start = std::time::Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut bucket = TokenBucket::full(10.0, 2.0, start);
        assert_eq!([bucket.take(at(0)), bucket.take(at(0)), bucket.take(at(0))], [true, true, false]);
        assert!(!bucket.take(at(99)));
        assert!(bucket.take(at(100)));
        // Idle time fills it to the burst, no further.
        assert_eq!([bucket.take(at(60_000)), bucket.take(at(60_000)), bucket.take(at(60_000))], [true, true, false]);
    }

    #[test]
    fn a_bucket_takes_its_burst_at_once_then_its_rate() {
        let rate = Rate { per_second: 2.0, burst: 5 };
        let mut at = None;
        let mut admitted = 0;
        for _ in 0..10 {
            if let Ok(next) = gcra(at, 1_000, rate) {
                at = Some(next);
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5, "the burst");
        assert_eq!(gcra(at, 1_000, rate), Err(500), "the next one in half a second");
        assert!(gcra(at, 1_500, rate).is_ok());
        // A long pause fills the bucket again, and no more than full.
        let rested = gcra(at, 60_000, rate).unwrap();
        assert_eq!(rested, 60_500);
    }

    #[test]
    fn a_person_typing_at_human_speed_is_never_refused() {
        // A message every 2 s, with bursts of 5, for 5 minutes.
        let rate = DEFAULT_LIMITS.messages;
        let mut at = None;
        for second in (0..300).step_by(10) {
            for n in 0..5 {
                let now = i64::from(second) * 1000 + n * 300;
                at = Some(gcra(at, now, rate).unwrap_or_else(|wait| panic!("refused at {now} ms for {wait} ms")));
            }
        }
    }

    #[test]
    fn what_reaches_everyone_is_a_message() {
        use crate::protocol::Action;
        for action in [Action::Send, Action::Broadcast, Action::Chat, Action::RoomMessage, Action::Rename] {
            assert_eq!(Bucket::of(Some(action)), Bucket::Messages, "{}", action.name());
        }
        for action in [Action::Typing, Action::List, Action::History, Action::CreateRoom] {
            assert_eq!(Bucket::of(Some(action)), Bucket::Frames, "{}", action.name());
        }
        assert_eq!(Bucket::of(None), Bucket::Frames, "a frame $default echoes");
    }

    #[test]
    fn rates_read_as_people_say_them() {
        assert_eq!(Rate { per_second: 2.0, burst: 20 }.to_string(), "2 a second, 20 at once");
        assert_eq!(Rate { per_second: 0.5, burst: 3 }.to_string(), "one every 2.0 s, 3 at once");
        assert_eq!(ban_key(Some("u1"), Some("1.2.3.4")).as_deref(), Some("sub:u1"));
        assert_eq!(ban_key(None, Some("1.2.3.4")).as_deref(), Some("ip:1.2.3.4"));
        assert_eq!(ban_key(None, None), None);
    }
}
