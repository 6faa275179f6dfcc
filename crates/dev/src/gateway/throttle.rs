//! Route throttling: a token bucket per route key, as API Gateway throttles a stage.

use std::collections::HashMap;
use std::sync::Mutex;

use chat_core::limits::TokenBucket;
use tokio::time::Instant;

/// The stage's route throttling: a token bucket per route key, shared by
/// every connection of the stage, at the route's own `throttle` (the stage's
/// `RouteSettings`) or else `api.throttle` (its `DefaultRouteSettings`).
///
/// "API Gateway throttles requests to your API using the token bucket
/// algorithm, where a token counts for a request" (API Gateway developer
/// guide, "Protect your WebSocket APIs in API Gateway"), and route-level
/// throttling sets limits "for a specific stage or for individual routes"
/// (same page). The stage's default is not one bucket for the stage: "Per-API,
/// per-stage throttling limits are applied at the API method level for a
/// stage" (developer guide, "Throttle requests to your REST APIs", "How
/// throttling limit settings are applied"): each route has its own bucket
/// at the default limits, so a flood on `typing` throttles `typing` alone.
/// `$connect` is one of the requests: a stage whose throttling is 0 refuses
/// every connection with 429 (hashicorp/terraform-provider-aws#14742, a
/// WebSocket stage; terraform-aws-modules/terraform-aws-apigateway-v2#8).
/// `$disconnect` is not counted: nothing can refuse a closed connection.
#[derive(Debug)]
pub struct Throttles {
    buckets: HashMap<String, Throttle>,
}

impl Throttles {
    /// A full bucket for `$connect` and for each route of the stack but `$disconnect`.
    pub fn new(api: &wschat_stack::Api) -> Throttles {
        let keys = api.routes.keys().map(String::as_str).chain(["$connect"]).filter(|key| *key != "$disconnect");
        let buckets = keys
            .map(|key| {
                let throttle = api.throttle_of(key);
                (key.to_string(), Throttle::new(throttle.rate, throttle.burst))
            })
            .collect();
        Throttles { buckets }
    }

    /// Takes a token of route `key`'s bucket for a request arriving now;
    /// `false` when it is throttled.
    pub(super) fn admit(&self, key: &str) -> bool {
        self.admit_at(key, Instant::now())
    }

    fn admit_at(&self, key: &str, now: Instant) -> bool {
        self.buckets.get(key).is_none_or(|throttle| throttle.admit_at(now))
    }
}

/// One route's token bucket: `burst` tokens, refilled at `rate` tokens a
/// second, one token a request.
#[derive(Debug)]
pub struct Throttle {
    bucket: Mutex<TokenBucket<Instant>>,
}

impl Throttle {
    /// A full bucket.
    pub fn new(rate: f64, burst: i32) -> Throttle {
        let bucket = TokenBucket::full(rate.max(0.0), f64::from(burst.max(0)), Instant::now());
        Throttle { bucket: Mutex::new(bucket) }
    }

    /// Takes a token for a request arriving at `now`; `false` when it is throttled.
    fn admit_at(&self, now: Instant) -> bool {
        self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take(now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_throttle_is_a_token_bucket_of_burst_tokens_refilled_at_the_rate() {
        let throttle = Throttle::new(2.0, 3);
        // Just after the bucket was filled: a refill is measured from then.
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        // A full bucket: the burst passes, the next request is throttled.
        assert_eq!((0..4).map(|_| throttle.admit_at(at(0))).collect::<Vec<_>>(), [true, true, true, false]);
        // Two tokens a second: one more after 0.5 s, not before.
        assert!(!throttle.admit_at(at(499)));
        assert!(throttle.admit_at(at(500)));
        assert!(!throttle.admit_at(at(500)));
        // Idle time fills the bucket up to the burst, no further.
        assert_eq!((0..4).map(|_| throttle.admit_at(at(60_000))).collect::<Vec<_>>(), [true, true, true, false]);
        // A burst of 0 lets nothing through, as a stage throttled to 0.
        let closed = Throttle::new(100.0, 0);
        assert!(!closed.admit_at(start + Duration::from_secs(10)));
    }

    #[test]
    fn each_route_key_has_a_bucket_of_its_own_at_its_throttle_or_the_stages_default() {
        let mut api = wschat_stack::Api {
            routes: wschat_stack::default_routes("chat"),
            throttle: wschat_stack::Throttle { rate: 0.001, burst: 2 },
            ..wschat_stack::Api::default()
        };
        api.routes.insert("typing".into(), wschat_stack::Route::on("chat").throttled(0.001, 3));
        // Every request at the instant the buckets were filled: none refills
        // while the loop runs (at `$connect`'s 500 a second, a slow loop did).
        let now = Instant::now();
        let throttles = Throttles::new(&api);
        let taken = |key: &str| (0..1000).take_while(|_| throttles.admit_at(key, now)).count();
        // `typing`'s own burst, then nothing: the others are untouched.
        assert_eq!(taken("typing"), 3);
        assert_eq!(taken("$default"), 2, "the stage's default, a bucket of its own");
        assert_eq!(taken("createRoom"), 2, "and another");
        assert_eq!(taken("send"), 100, "the shipped throttle of send");
        assert_eq!(taken("$connect"), 500, "API Gateway's new connections a second");
        // `$disconnect` is never throttled, nor a key without a route.
        assert_eq!((taken("$disconnect"), taken("nothing")), (1000, 1000));
    }
}
