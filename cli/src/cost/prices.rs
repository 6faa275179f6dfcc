//! AWS list prices that `wschat cost` multiplies by, each with the pricing
//! page it was read from. Pay-as-you-go, on-demand, in USD, without the free
//! tier (the estimate never subtracts it).
//!
//! Only us-east-1's are here. AWS prices other regions differently (most a
//! little higher) and publishes them on the same pages; an estimate for
//! another region uses these and says so ([`for_region`]).

/// One price: `usd` for every `per` units, and from `above` units a month
/// on, the next tier's price, where a tier is within reach of a chat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub usd: f64,
    pub per: f64,
    /// `(units a month, usd per `per`)`: the price of every unit past the first `units`.
    pub above: Option<(f64, f64)>,
    /// The AWS pricing page that lists it.
    pub source: &'static str,
}

impl Price {
    const fn new(usd: f64, per: f64, source: &'static str) -> Price {
        Price { usd, per, above: None, source }
    }

    /// What `units` in a month cost.
    pub fn cost(&self, units: f64) -> f64 {
        match self.above {
            Some((from, usd)) if units > from => (from * self.usd + (units - from) * usd) / self.per,
            _ => units * self.usd / self.per,
        }
    }

    /// The price for people: `$1.00 per million messages`, `$0.0000166667 per GB-second`.
    pub fn shown(&self, unit: &str) -> String {
        let one = unit.strip_suffix('s').unwrap_or(unit);
        let per = if self.per == 1.0 {
            one.to_string()
        } else if self.per == 1e6 {
            format!("million {unit}")
        } else {
            format!("{} {unit}", super::estimate::group(self.per))
        };
        let first = format!("{} per {per}", dollars(self.usd));
        match self.above {
            Some((from, next)) => format!("{first} ({} past {})", dollars(next), super::estimate::quantity(from)),
            None => first,
        }
    }
}

/// A price in dollars, to the cent or as precise as the price list: `$1.00`, `$0.625`.
fn dollars(usd: f64) -> String {
    let shown = format!("{usd}");
    match shown.split_once('.') {
        Some((_, cents)) if cents.len() >= 2 => format!("${shown}"),
        _ => format!("${usd:.2}"),
    }
}

/// Every price the estimate uses, in one region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub region: &'static str,
    pub api_messages: Price,
    pub api_connection_minutes: Price,
    pub lambda_requests: Price,
    pub lambda_gb_seconds_x86: Price,
    pub lambda_gb_seconds_arm: Price,
    pub sqs_requests: Price,
    pub dynamodb_writes: Price,
    pub dynamodb_reads: Price,
    pub dynamodb_storage: Price,
    pub cloudfront_requests: Price,
    pub cloudfront_data_out: Price,
    pub logs_ingestion: Price,
    pub logs_storage: Price,
    pub custom_metrics: Price,
    pub alarms: Price,
    pub dashboards: Price,
}

const API_GATEWAY: &str = "https://aws.amazon.com/api-gateway/pricing/";
const LAMBDA: &str = "https://aws.amazon.com/lambda/pricing/";
const SQS: &str = "https://aws.amazon.com/sqs/pricing/";
const DYNAMODB: &str = "https://aws.amazon.com/dynamodb/pricing/on-demand/";
const CLOUDFRONT: &str = "https://aws.amazon.com/cloudfront/pricing/";
const CLOUDWATCH: &str = "https://aws.amazon.com/cloudwatch/pricing/";

/// US East (N. Virginia).
pub const US_EAST_1: Prices = Prices {
    region: "us-east-1",
    // WebSocket APIs: $1.00 per million messages for the first billion a
    // month, $0.80 per million after; messages are metered in 32 KB
    // increments, sent and received alike.
    api_messages: Price { above: Some((1e9, 0.80)), ..Price::new(1.00, 1e6, API_GATEWAY) },
    // WebSocket APIs: $0.25 per million connection minutes.
    api_connection_minutes: Price::new(0.25, 1e6, API_GATEWAY),
    // $0.20 per million requests, either architecture.
    lambda_requests: Price::new(0.20, 1e6, LAMBDA),
    // Duration, first 6 billion GB-seconds a month: x86 $0.0000166667 per
    // GB-second; arm64 (first 7.5 billion) $0.0000133334, 20% less.
    lambda_gb_seconds_x86: Price::new(0.000_016_666_7, 1.0, LAMBDA),
    lambda_gb_seconds_arm: Price::new(0.000_013_333_4, 1.0, LAMBDA),
    // Standard queues: $0.40 per million requests (from 1 million to 100
    // billion a month); each 64 KB chunk of a payload is a request.
    sqs_requests: Price::new(0.40, 1e6, SQS),
    // On-demand, Standard table class, since the price cut of 1 November
    // 2024: $0.625 per million write request units, $0.125 per million read
    // request units; storage $0.25 per GB-month (past the first 25 GB).
    dynamodb_writes: Price::new(0.625, 1e6, DYNAMODB),
    dynamodb_reads: Price::new(0.125, 1e6, DYNAMODB),
    dynamodb_storage: Price::new(0.25, 1.0, DYNAMODB),
    // Pay as you go, United States, Mexico and Canada (and Europe, the same):
    // HTTPS requests $0.0100 per 10,000; data transfer out to the internet
    // $0.085 per GB for the first 10 TB a month.
    cloudfront_requests: Price::new(0.01, 10_000.0, CLOUDFRONT),
    cloudfront_data_out: Price::new(0.085, 1.0, CLOUDFRONT),
    // Logs: collect (ingest) $0.50 per GB, Standard log class, which is also
    // the first tier of Lambda's vended logs; store (archive) $0.03 per GB-month.
    logs_ingestion: Price::new(0.50, 1.0, CLOUDWATCH),
    logs_storage: Price::new(0.03, 1.0, CLOUDWATCH),
    // Metrics: $0.30 per metric a month for the first 10,000 (a metric is a
    // name and a set of dimension values); alarms: $0.10 per standard
    // resolution alarm metric a month; dashboards: $3.00 each a month.
    custom_metrics: Price::new(0.30, 1.0, CLOUDWATCH),
    alarms: Price::new(0.10, 1.0, CLOUDWATCH),
    dashboards: Price::new(3.00, 1.0, CLOUDWATCH),
};

/// The regions whose prices are here.
pub const KNOWN: [&Prices; 1] = [&US_EAST_1];

/// The prices to estimate `region` with, and a warning when they are
/// another region's.
pub fn for_region(region: &str) -> (&'static Prices, Option<String>) {
    match KNOWN.iter().find(|p| p.region == region) {
        Some(prices) => (prices, None),
        None => {
            let known: Vec<&str> = KNOWN.iter().map(|p| p.region).collect();
            let warning = format!(
                "wschat knows the list prices of {} only: this estimate of {region} uses them, and {region}'s \
                 are different (most regions' are a little higher); see each line's pricing page",
                known.join(", ")
            );
            (&US_EAST_1, Some(warning))
        }
    }
}
