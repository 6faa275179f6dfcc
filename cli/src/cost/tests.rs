//! The estimate against hand calculations from AWS's published prices, and
//! what each setting moves.
//!
//! The three usages below are worked out by hand: the prices are written
//! here as the pricing pages print them (us-east-1, read in December 2026),
//! not taken from [`super::prices`], and the arithmetic is spelled out event
//! by event. The estimate must come within 10% of each.

use wschat_stack::{Architecture, History};

use super::estimate::{Estimate, Function, Page, Settings, Stated, Usage, estimate};
use super::prices::{self, US_EAST_1};

/// The shipped stack: both functions x86_64 with 256 MB, history of 50
/// messages kept 7 days, presence digests above 100, shards of 500, 9,000
/// posts a second, batches of 10, the page (22 files, 137 KB) behind
/// CloudFront, logs kept 30 days, 16 metrics, 8 alarms, a dashboard.
fn shipped() -> Settings {
    let x86 = Function { memory_mb: 256, architecture: Architecture::X86_64 };
    Settings {
        chat: x86,
        notify: x86,
        authorizer: None,
        history: Some(History { messages: 50, days: 7 }),
        presence: 100,
        shard_size: 500,
        post_rate: 9000,
        batch: 10,
        page: Some(Page { files: 22, bytes: 137_000 }),
        log_retention_days: 30,
        metrics: 16,
        alarms: 8,
        dashboards: 1,
    }
}

fn usage(online: f64, hours_online: f64, messages_per_person_day: f64, room_size: Option<f64>) -> Usage {
    Usage::stated(&Stated { online, hours_online, messages_per_person_day, room_size, message_bytes: 200.0 })
}

fn within_10_percent(estimate: &Estimate, by_hand: f64) {
    let total = estimate.total();
    let off = (total - by_hand).abs() / by_hand;
    eprintln!("estimate ${total:.2}, by hand ${by_hand:.2}: {:+.2}%", (total - by_hand) / by_hand * 100.0);
    assert!(
        off <= 0.10,
        "the estimate says ${total:.2} a month, the hand calculation ${by_hand:.2}: {:.1}% off",
        off * 100.0
    );
}

// us-east-1 list prices, as the pricing pages print them.
/// API Gateway WebSocket: per million messages, the first billion a month, then past it.
const API_MESSAGE: f64 = 1.00 / 1e6;
const API_MESSAGE_PAST_1B: f64 = 0.80 / 1e6;
const API_MINUTE: f64 = 0.25 / 1e6;
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
const LAMBDA_GB_S_X86: f64 = 0.0000166667;
const LAMBDA_GB_S_ARM: f64 = 0.0000133334;
const SQS_REQUEST: f64 = 0.40 / 1e6;
const DYNAMODB_WRITE: f64 = 0.625 / 1e6;
const DYNAMODB_READ: f64 = 0.125 / 1e6;
const DYNAMODB_GB_MONTH: f64 = 0.25;
const CLOUDFRONT_REQUEST: f64 = 0.01 / 10_000.0;
const CLOUDFRONT_GB: f64 = 0.085;
const LOGS_GB: f64 = 0.50;
const LOGS_GB_MONTH: f64 = 0.03;
const METRIC: f64 = 0.30;
const ALARM: f64 = 0.10;
const DASHBOARD: f64 = 3.00;

const DAYS: f64 = 730.0 / 24.0;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn api_messages(n: f64) -> f64 {
    if n <= 1e9 { n * API_MESSAGE } else { 1e9 * API_MESSAGE + (n - 1e9) * API_MESSAGE_PAST_1B }
}

/// The CloudWatch lines every usage has: logs of `invocations`, the metrics,
/// 8 alarms (the shipped stack's) and a dashboard.
fn cloudwatch(invocations: f64, metrics: f64) -> f64 {
    let logged = invocations * 1000.0 / GIB; // a KB of log lines an invocation
    let stored = logged / DAYS * 30.0; // kept 30 days
    logged * LOGS_GB + stored * LOGS_GB_MONTH + metrics * METRIC + 8.0 * ALARM + DASHBOARD
}

/// 100 people online round the clock, 20 messages each a day, every message
/// to everyone.
#[test]
fn a_hundred_people_each_message_to_everyone_by_hand() {
    let people = 100.0;
    let connections = people * 12.0 * DAYS; // a connection lasts 2 hours at most: 36,500
    let messages = people * 20.0 * DAYS; // 60,833
    // API Gateway. In: the messages, a `list` a connection, a ping every 9
    // minutes. Out: each message to 100, an ack each, a welcome, a history
    // frame and a list reply a connection, a pong a ping, and each join and
    // leave to all 100 (100 online is not above `chat.presence`: no digests).
    let minutes = 100.0 * 730.0 * 60.0;
    let pings = minutes / 9.0 * 2.0;
    let frames = messages + messages * 100.0 + messages + connections * 4.0 + connections * 2.0 * 100.0 + pings;
    let api = api_messages(frames) + minutes * API_MINUTE; // 14.6 million messages: $14.62; $1.10
    // Lambda: the chat function for each message, `$connect`, `list` and
    // `$disconnect` (30 ms each at 0.25 GB); notify for each notice (the
    // message's, the welcome, the join and the leave), 30 ms each and 1 ms a post.
    let chat = messages + connections * 3.0;
    let notices = messages + connections * 3.0;
    let posts = messages * 100.0 + connections * 2.0 + connections * 2.0 * 100.0;
    let notify_seconds = notices * 0.030 + posts * 0.001;
    let lambda = (chat + notices) * LAMBDA_REQUEST + (chat * 0.030 + notify_seconds) * 0.25 * LAMBDA_GB_S_X86;
    // SQS: each notice sent, received and deleted; pollers' idle long polls (15 a minute).
    let sqs = (notices * 3.0 + 15.0 * 730.0 * 60.0) * SQS_REQUEST;
    // DynamoDB writes: a message's limit (1) and its history transaction (2
    // items x 2); a connection's row and count in and out and its list's
    // limit (5); a ledger mark per notice and 2 units per 100 posts.
    let writes = messages * 5.0 + connections * 5.0 + notices + posts / 100.0 * 2.0;
    // Reads, roughly: 4 units a message, 12 a connection.
    let reads = messages * 4.0 + connections * 12.0;
    let dynamodb = writes * DYNAMODB_WRITE + reads * DYNAMODB_READ;
    // The page, loaded once a person a day: 22 requests, 137 KB.
    let loads = people * DAYS;
    let cloudfront = loads * 22.0 * CLOUDFRONT_REQUEST + loads * 137_000.0 / GIB * CLOUDFRONT_GB;
    let by_hand = api + lambda + sqs + dynamodb + cloudfront + cloudwatch(chat + notices, 16.0);
    assert!((25.0..27.0).contains(&by_hand), "the hand calculation itself: ${by_hand:.2}");

    within_10_percent(&estimate(&shipped(), &usage(100.0, 24.0, 20.0, None), &US_EAST_1), by_hand);
}

/// 10,000 online at once, each person 8 hours a day (30,000 people), 10
/// messages each a day, in rooms of 25.
#[test]
fn ten_thousand_online_in_rooms_of_25_by_hand() {
    let people = 10_000.0 * 24.0 / 8.0;
    let connections = people * 4.0 * DAYS; // 8 hours is 4 connections: 3.65 million
    let messages = people * 10.0 * DAYS; // 9.1 million
    // Above 100 online, joins and leaves go out as digests: windows sized for
    // 4% of 9,000 posts a second, 10,000 / 360 = 28 s, so 40 s windows (5 s
    // doubled); with 2.8 joins and leaves a second every window has some.
    let digests = 730.0 * 3600.0 / 40.0; // 65,700, each to 10,000
    let minutes = 10_000.0 * 730.0 * 60.0;
    let pings = minutes / 9.0 * 2.0;
    let frames = messages + messages * 25.0 + messages + connections * 4.0 + digests * 10_000.0 + pings;
    let api = api_messages(frames) + minutes * API_MINUTE; // 1.015 billion: $1,012.24; $109.50
    // A digest to 10,000 is 20 segments of 500, in 3 notify invocations.
    let chat = messages + connections * 3.0;
    let notices = messages + connections;
    let notify = notices + digests * 3.0;
    let records = notices + digests * 20.0;
    let posts = messages * 25.0 + connections * 2.0 + digests * 10_000.0;
    let notify_seconds = records * 0.030 + posts * 0.001;
    let lambda = (chat + notify) * LAMBDA_REQUEST + (chat * 0.030 + notify_seconds) * 0.25 * LAMBDA_GB_S_X86;
    let sqs = (notices * 3.0 + digests * 9.0 + 15.0 * 730.0 * 60.0) * SQS_REQUEST;
    // Writes: a digest note at each join and leave too (7 a connection).
    let writes = messages * 5.0 + connections * 7.0 + records + posts / 100.0 * 2.0;
    // Reads: 2.5 a message (the sender, the ledger, the room), 12 a
    // connection, and a digest reads the 10,000 rows (800 KB, eventually
    // consistent: 98 units) and 20 ledgers.
    let reads = messages * 2.5 + connections * 12.0 + digests * 120.0;
    // Storage: 300,000 messages a day for 7 days, about 730 bytes each with
    // their clientId records, and a day of the ledger (2 KB per 100 posts).
    let stored = (people * 10.0 * 7.0 * 730.0 + posts / DAYS / 100.0 * 2_100.0) / GIB;
    let dynamodb = writes * DYNAMODB_WRITE + reads * DYNAMODB_READ + stored * DYNAMODB_GB_MONTH;
    let loads = people * DAYS;
    let cloudfront = loads * 22.0 * CLOUDFRONT_REQUEST + loads * 137_000.0 / GIB * CLOUDFRONT_GB;
    let by_hand = api + lambda + sqs + dynamodb + cloudfront + cloudwatch(chat + notify, 16.0);
    assert!((1_250.0..1_320.0).contains(&by_hand), "the hand calculation itself: ${by_hand:.2}");

    within_10_percent(&estimate(&shipped(), &usage(10_000.0, 8.0, 10.0, Some(25.0)), &US_EAST_1), by_hand);
}

/// 100,000 online round the clock, 5 messages each a day, in rooms of 50,
/// on arm64 functions of 512 MB, without history.
#[test]
fn a_hundred_thousand_in_rooms_of_50_on_arm64_without_history_by_hand() {
    let arm = Function { memory_mb: 512, architecture: Architecture::Arm64 };
    let settings = Settings { chat: arm, notify: arm, history: None, metrics: 15, ..shipped() };
    let people = 100_000.0;
    let connections = people * 12.0 * DAYS; // 36.5 million
    let messages = people * 5.0 * DAYS; // 15.2 million
    // Digest windows: 100,000 / 360 = 278 s, so 320 s; 8,212 a month, each to 100,000.
    let digests = 730.0 * 3600.0 / 320.0;
    let minutes = 100_000.0 * 730.0 * 60.0; // 4.38 billion
    let pings = minutes / 9.0 * 2.0;
    // Without history, a welcome is one frame (no history frame).
    let frames = messages + messages * 50.0 + messages + connections * 3.0 + digests * 100_000.0 + pings;
    let api = api_messages(frames) + minutes * API_MINUTE; // 2.69 billion: $2,355.90; $1,095
    // A digest to 100,000: 200 segments, in 21 notify invocations.
    let chat = messages + connections * 3.0;
    let notices = messages + connections;
    let notify = notices + digests * 21.0;
    let records = notices + digests * 200.0;
    let posts = messages * 50.0 + connections + digests * 100_000.0;
    let notify_seconds = records * 0.030 + posts * 0.001;
    let lambda = (chat + notify) * LAMBDA_REQUEST + (chat * 0.030 + notify_seconds) * 0.5 * LAMBDA_GB_S_ARM;
    let sqs = (notices * 3.0 + digests * 63.0 + 15.0 * 730.0 * 60.0) * SQS_REQUEST;
    // Writes: a message's limit only (no history).
    let writes = messages + connections * 7.0 + records + posts / 100.0 * 2.0;
    // Reads: a connection no longer reads a history page: 7; a digest reads
    // 100,000 rows (977 units) and 200 ledgers.
    let reads = messages * 2.5 + connections * 7.0 + digests * 1_180.0;
    let dynamodb = writes * DYNAMODB_WRITE + reads * DYNAMODB_READ;
    let loads = people * DAYS;
    let cloudfront = loads * 22.0 * CLOUDFRONT_REQUEST + loads * 137_000.0 / GIB * CLOUDFRONT_GB;
    let by_hand = api + lambda + sqs + dynamodb + cloudfront + cloudwatch(chat + notify, 15.0);
    assert!((3_900.0..4_200.0).contains(&by_hand), "the hand calculation itself: ${by_hand:.2}");

    within_10_percent(&estimate(&settings, &usage(100_000.0, 24.0, 5.0, Some(50.0)), &US_EAST_1), by_hand);
}

fn quantity(e: &Estimate, service: &str, what: &str) -> f64 {
    e.line(service, what).unwrap_or_else(|| panic!("no line `{service}: {what}` in {:#?}", e.lines)).quantity
}

fn cost(e: &Estimate, service: &str, what: &str) -> f64 {
    e.line(service, what).unwrap_or_else(|| panic!("no line `{service}: {what}` in {:#?}", e.lines)).cost
}

#[test]
fn doubling_the_room_doubles_the_messages_delivered_and_nothing_a_connection_costs() {
    let small = estimate(&shipped(), &usage(1_000.0, 24.0, 20.0, Some(20.0)), &US_EAST_1);
    let large = estimate(&shipped(), &usage(1_000.0, 24.0, 20.0, Some(40.0)), &US_EAST_1);
    let delivered = |e: &Estimate| quantity(e, "API Gateway", "chat messages delivered");
    assert_eq!(delivered(&large), 2.0 * delivered(&small));
    for what in ["chat messages in", "joins and leaves", "keepalive pings and pongs", "connection minutes"] {
        assert_eq!(quantity(&large, "API Gateway", what), quantity(&small, "API Gateway", what), "{what}");
    }
    assert!(large.total() > small.total());
}

#[test]
fn arm64_costs_a_fifth_less_per_gb_second_than_x86() {
    let usage = usage(1_000.0, 24.0, 20.0, None);
    let x86 = estimate(&shipped(), &usage, &US_EAST_1);
    let arm = Function { memory_mb: 256, architecture: Architecture::Arm64 };
    let arm64 = estimate(&Settings { chat: arm, notify: arm, ..shipped() }, &usage, &US_EAST_1);
    for what in ["chat: duration", "notify: duration"] {
        assert_eq!(quantity(&arm64, "Lambda", what), quantity(&x86, "Lambda", what), "the same GB-seconds");
        let ratio = cost(&arm64, "Lambda", what) / cost(&x86, "Lambda", what);
        assert!((ratio - 0.8).abs() < 0.001, "{what}: arm64 at {ratio} of x86");
    }
    assert!(arm64.total() < x86.total());
    // Twice the memory, twice the GB-seconds.
    let big = Function { memory_mb: 512, ..shipped().chat };
    let doubled = estimate(&Settings { chat: big, ..shipped() }, &usage, &US_EAST_1);
    assert_eq!(quantity(&doubled, "Lambda", "chat: duration"), 2.0 * quantity(&x86, "Lambda", "chat: duration"));
}

#[test]
fn history_off_removes_the_history_writes_its_storage_and_its_metric() {
    let usage = usage(1_000.0, 24.0, 20.0, Some(10.0));
    let on = estimate(&shipped(), &usage, &US_EAST_1);
    let off = estimate(&Settings { history: None, metrics: 15, ..shipped() }, &usage, &US_EAST_1);
    // A message with a clientId is a transaction of two items: 4 write units.
    let messages = 1_000.0 * 20.0 * DAYS;
    assert_eq!(quantity(&on, "DynamoDB", "writes: history"), messages * 4.0);
    assert!(off.line("DynamoDB", "writes: history").is_none(), "{:#?}", off.lines);
    let other = "writes: connections, presence, limits, ledger";
    let on_other = quantity(&on, "DynamoDB", other);
    let off_other = quantity(&off, "DynamoDB", other);
    // The welcome's history frame is one post fewer a connection: 2 ledger units per 100 posts.
    assert!((on_other - off_other) / on_other < 0.01, "{on_other} vs {off_other}");
    // 20,000 messages a day kept 7 days, about 730 bytes each with its record.
    let history_gb = 20_000.0 * 7.0 * 730.0 / GIB;
    let dropped = quantity(&on, "DynamoDB", "storage") - quantity(&off, "DynamoDB", "storage");
    assert!((dropped - history_gb).abs() / history_gb < 0.01, "{dropped} GB vs {history_gb} GB");
    assert_eq!(quantity(&off, "CloudWatch", "custom metrics"), 15.0);
    assert!(off.total() < on.total());
}

#[test]
fn joins_and_leaves_go_to_everyone_up_to_chat_presence_and_as_digests_above() {
    // 100 online (chat.presence: 100): each join and leave posts to all 100.
    let at = estimate(&shipped(), &usage(100.0, 24.0, 0.0, None), &US_EAST_1);
    let connections = 100.0 * 12.0 * DAYS;
    assert_eq!(quantity(&at, "API Gateway", "joins and leaves"), connections * 2.0 * 100.0);
    // With a lower threshold the same crowd gets a digest per 5 s window
    // that had a join or a leave: 2,400 a day, a window in 36 has one.
    let digests = estimate(&Settings { presence: 50, ..shipped() }, &usage(100.0, 24.0, 0.0, None), &US_EAST_1);
    let windows = 730.0 * 3600.0 / 5.0;
    let per_second = 2.0 * 100.0 * 12.0 / 86_400.0;
    let expected = windows * (1.0 - (-per_second * 5.0_f64).exp()) * 100.0;
    let got = quantity(&digests, "API Gateway", "joins and leaves");
    assert!((got - expected).abs() < 1.0, "{got} vs {expected}");
    assert!(got < quantity(&at, "API Gateway", "joins and leaves"));
}

#[test]
fn messages_are_metered_in_32_kb_units() {
    let small = estimate(&shipped(), &usage(100.0, 24.0, 20.0, Some(10.0)), &US_EAST_1);
    let stated = Stated {
        online: 100.0,
        hours_online: 24.0,
        messages_per_person_day: 20.0,
        room_size: Some(10.0),
        message_bytes: 32_768.0,
    };
    let large = estimate(&shipped(), &Usage::stated(&stated), &US_EAST_1);
    // A 32 KB text is one frame in; out, with its JSON around it, two.
    assert_eq!(
        quantity(&large, "API Gateway", "chat messages in"),
        quantity(&small, "API Gateway", "chat messages in")
    );
    let out = |e: &Estimate| quantity(e, "API Gateway", "chat messages delivered");
    assert_eq!(out(&large), 2.0 * out(&small));
}

#[test]
fn past_a_billion_messages_api_gateway_charges_the_lower_tier() {
    let price = US_EAST_1.api_messages;
    assert_eq!(price.cost(1e9), 1_000.0);
    assert!((price.cost(3e9) - (1_000.0 + 1_600.0)).abs() < 1e-6);
    // The lines share the tiered total: they add up to it.
    let e = estimate(&shipped(), &usage(100_000.0, 24.0, 5.0, Some(50.0)), &US_EAST_1);
    let api: Vec<_> = e.lines.iter().filter(|l| l.service == "API Gateway" && l.unit == "messages").collect();
    let messages: f64 = api.iter().map(|l| l.quantity).sum();
    let billed: f64 = api.iter().map(|l| l.cost).sum();
    assert!((billed - price.cost(messages)).abs() < 1e-6);
}

#[test]
fn every_price_cites_its_aws_pricing_page_and_other_regions_are_named_as_unknown() {
    let e = estimate(&shipped(), &usage(100.0, 24.0, 20.0, None), &US_EAST_1);
    for line in &e.lines {
        assert!(line.price.source.starts_with("https://aws.amazon.com/"), "{line:?}");
        assert!(line.price.source.ends_with("/pricing/") || line.price.source.ends_with("/on-demand/"), "{line:?}");
    }
    let (_, none) = prices::for_region("us-east-1");
    assert!(none.is_none());
    let (used, warning) = prices::for_region("eu-west-1");
    assert_eq!(used.region, "us-east-1");
    let warning = warning.unwrap();
    assert!(warning.contains("eu-west-1") && warning.contains("us-east-1"), "{warning}");
}

#[test]
fn the_custom_metrics_are_each_name_times_the_functions_that_emit_it() {
    // 15 names; Online is emitted by chat and notify: 16.
    assert_eq!(super::custom_metrics(true), 16);
    assert_eq!(super::custom_metrics(false), 15);
}

#[test]
fn the_shipped_stack_yaml_reads_as_the_shipped_settings() {
    let root = test_support::workspace_root();
    let file = root.join("stack.yaml");
    let stack = wschat_stack::parse(&std::fs::read_to_string(&file).unwrap(), &file, "dev").unwrap();
    let page = super::page(&stack).unwrap();
    let settings = super::settings(&stack, "us-east-1", Some(page)).unwrap();
    assert_eq!(Settings { page: Some(Page { files: 22, bytes: 137_000 }), ..settings.clone() }, shipped());
    assert!(page.files >= 10 && page.bytes > 50_000, "{page:?}");
    // 90% of the region's throttle.
    assert_eq!(super::settings(&stack, "af-south-1", None).unwrap().post_rate, 2_250);
}

#[test]
fn a_stated_usage_is_people_taking_turns_on_the_connections() {
    let u = Usage::stated(&Stated {
        online: 1_000.0,
        hours_online: 3.0,
        messages_per_person_day: 4.0,
        room_size: None,
        message_bytes: 200.0,
    });
    // 8,000 people a day, 2 connections each (3 hours, 2 at most each), 32,000 messages.
    assert_eq!(u.page_loads_per_day, 8_000.0);
    assert_eq!(u.connections_per_day, 16_000.0);
    assert_eq!(u.messages_per_day, 32_000.0);
    assert_eq!(u.recipients(), 1_000.0);
}

/// The posts a month of `usage` makes, as the notify function's `Posts`
/// metric would count them, read back as a measured day: the recipients
/// come out as stated, for rooms, and as everyone for a broadcast.
#[test]
fn measured_posts_give_back_who_the_messages_went_to() {
    use super::estimate::{Measured, Recipients};
    let days_per_month = super::estimate::HOURS_PER_MONTH / 24.0;
    for (online, room) in [(1_000.0, Some(30.0)), (5_000.0, Some(2.0)), (400.0, None), (20_000.0, None)] {
        let stated = usage(online, 4.0, 12.0, room);
        let month = estimate(&shipped(), &stated, &US_EAST_1);
        let measured = Measured {
            days: 7.0,
            online,
            connections_per_day: stated.connections_per_day,
            messages_per_day: stated.messages_per_day,
            posts_per_day: month.posts / days_per_month,
        };
        let back = Usage::measured(&shipped(), &measured, 200.0);
        match (room, back.recipients) {
            (Some(room), Recipients::Room(r)) => {
                assert!((r - room).abs() < 1e-6, "{online} online, rooms of {room}: {r}")
            }
            (None, Recipients::Everyone) => {}
            (room, got) => panic!("{online} online, rooms of {room:?}: measured as {got:?}"),
        }
        assert_eq!(back.online, online);
        assert_eq!(back.messages_per_day, stated.messages_per_day);
        // Within a cent a month of the stated usage's bill (page loads differ: a connection is one).
        let again = estimate(&shipped(), &Usage { page_loads_per_day: stated.page_loads_per_day, ..back }, &US_EAST_1);
        assert!((again.total() - month.total()).abs() < 0.01, "{} vs {}", again.total(), month.total());
    }
    // Fewer posts than the welcomes and presence alone: one recipient a message, not fewer.
    let quiet =
        Measured { days: 1.0, online: 50.0, connections_per_day: 100.0, messages_per_day: 10.0, posts_per_day: 0.0 };
    assert_eq!(Usage::measured(&shipped(), &quiet, 200.0).recipients, Recipients::Room(1.0));
}

/// `plan`'s line: what the deployed settings cost beside stack.yaml's, by
/// service, at the plan's usage.
#[test]
fn a_change_moves_the_estimate_by_the_services_it_touches() {
    use super::deployed::{PLAN_USAGE, moved};
    let same = moved(Some(&shipped()), &shipped(), &US_EAST_1);
    assert!(!same.moves(), "{same:?}");
    assert_eq!(same.services, []);

    let bigger = Settings { chat: Function { memory_mb: 1024, architecture: Architecture::X86_64 }, ..shipped() };
    let up = moved(Some(&shipped()), &bigger, &US_EAST_1);
    let at = Usage::stated(&PLAN_USAGE);
    let before = estimate(&shipped(), &at, &US_EAST_1).total();
    let after = estimate(&bigger, &at, &US_EAST_1).total();
    assert_eq!((up.before, up.after), (Some(before), after));
    assert_eq!(up.services.len(), 1, "{up:?}");
    assert_eq!(up.services[0].0, "Lambda");
    assert!((up.services[0].1 - (after - before)).abs() < 1e-9, "{up:?}");
    assert!(up.line().contains(&format!("+{}", super::usd(after - before))), "{}", up.line());

    // No alarms, no dashboard: CloudWatch goes down by their list prices.
    let quiet = Settings { alarms: 0, dashboards: 0, ..shipped() };
    let down = moved(Some(&shipped()), &quiet, &US_EAST_1);
    let saved = 8.0 * prices::US_EAST_1.alarms.usd + prices::US_EAST_1.dashboards.usd;
    assert_eq!(down.services.len(), 1, "{down:?}");
    assert!((down.services[0].1 + saved).abs() < 1e-9, "{down:?}");
    assert!(down.line().contains(&format!("CloudWatch -{}", super::usd(saved))), "{}", down.line());

    let first = moved(None, &shipped(), &US_EAST_1);
    assert!(first.moves() && first.before.is_none());
    assert!(first.line().starts_with("Monthly estimate once deployed"), "{}", first.line());
}

#[test]
fn the_page_is_what_deploy_uploads_with_its_own_config_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "0123456789").unwrap();
    // Replaced by the generated config.json, and a dot file deploy never uploads.
    std::fs::write(dir.path().join("config.json"), "{}").unwrap();
    std::fs::write(dir.path().join(".env"), "SECRET=1").unwrap();
    let files = wschat_engine::resources::site::read_source(dir.path()).unwrap();
    assert_eq!(super::page_of(&files), Page { files: 2, bytes: 10 + 1024 });
}
