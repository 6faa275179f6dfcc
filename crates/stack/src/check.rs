//! The semantic checks that run on the model after serde: ranges, names AWS
//! would refuse, references between sections, files that must exist. Each
//! failure is recorded at its position, so the user sees every problem at once.

use std::collections::BTreeMap;

use crate::*;

/// Semantic checks; each failure is recorded with its position, so the user
/// sees every problem at once.
pub(crate) struct Checks<'a> {
    pub(crate) map: &'a SourceMap,
    pub(crate) errors: Vec<StackError>,
}

impl Checks<'_> {
    fn error(&mut self, path: &[&str], message: impl Into<String>) {
        let (line, column) = self.map.position(path);
        self.errors.push(StackError { line, column, field: path.join("."), message: message.into() });
    }

    fn range(&mut self, path: &[&str], value: i64, min: i64, max: i64, what: &str) {
        if value < min || value > max {
            self.error(path, format!("{value} is out of range; {what} allows {min}..={max}"));
        }
    }

    pub(crate) fn stack(&mut self, s: &Stack) {
        if let Err(why) = check_stack_name(&s.name) {
            self.error(&["name"], why);
        }
        if let Some(region) = &s.region
            && !is_region(region)
        {
            self.error(&["region"], format!("`{region}` is not an AWS region name such as `us-east-1`"));
        }
        self.tags(&s.tags);
        if s.functions.is_empty() {
            self.error(&["functions"], "at least one function is needed (the shipped stack has `chat` and `notify`)");
        }
        for (name, f) in &s.functions {
            self.function(s, name, f);
        }
        self.table(&s.table);
        self.queue(s);
        self.api(s);
        self.website(s);
        if let Some(domain) = &s.domain {
            self.domain(s, domain);
        }
        self.observability(&s.observability);
        let c = &s.chat;
        self.range(&["chat", "fanout_concurrency"], c.fanout_concurrency.into(), 1, 1000, "fan-out concurrency");
        self.range(&["chat", "welcome_delay"], c.welcome_delay.into(), 0, 900, "SQS message delay (seconds)");
        self.range(&["chat", "shard_size"], c.shard_size.into(), 1, 10_000, "a shard (recipients)");
        self.range(
            &["chat", "max_concurrency"],
            c.max_concurrency.into(),
            2,
            1000,
            "Lambda's ScalingConfig.MaximumConcurrency",
        );
        if let Some(rate) = c.post_rate {
            self.range(&["chat", "post_rate"], rate.into(), 1, 100_000, "the post rate (posts per second)");
        }
        if let Some(h) = &c.history {
            self.range(&["chat", "history", "messages"], h.messages.into(), 1, 200, "the history sent per request");
            self.range(&["chat", "history", "days"], h.days.into(), 1, 365, "the days messages are kept");
        }
        self.range(
            &["chat", "presence"],
            c.presence.into(),
            0,
            100_000,
            "the people online above which joins and leaves go out as digests",
        );
        self.limits(&c.limits);
    }

    /// `observability`: an address SNS takes for an `email` subscription, a
    /// sane threshold, and no e-mail for alarms that are off.
    fn observability(&mut self, o: &Observability) {
        if let Some(email) = &o.alarm_email {
            if let Err(why) = check_email(email) {
                self.error(&["observability", "alarm_email"], why);
            } else if !o.alarms {
                self.error(&["observability", "alarm_email"], "is set but `alarms` is off: nothing would be e-mailed");
            }
        }
        let what = "the fan-out p99 alarm's threshold (milliseconds)";
        self.range(&["observability", "fanout_p99_ms"], o.fanout_p99_ms.into(), 100, 900_000, what);
        let what = "the account's Lambda concurrency quota";
        self.range(&["observability", "concurrency_quota"], o.concurrency_quota.into(), 10, 1_000_000, what);
    }

    /// `chat.limits`, in the ranges chat-core reads its variables in
    /// (`chat_core::config`). Only what stack.yaml sets can be wrong.
    fn limits(&mut self, l: &Limits) {
        for (name, rate) in [("messages", l.messages), ("frames", l.frames)] {
            if let Some(per_second) = rate.rate
                && !(0.01..=1000.0).contains(&per_second)
            {
                self.error(
                    &["chat", "limits", name, "rate"],
                    format!("{per_second} is out of range; a client's {name} a second are 0.01..=1000"),
                );
            }
            if let Some(burst) = rate.burst {
                let what = format!("a client's burst of {name}");
                self.range(&["chat", "limits", name, "burst"], burst.into(), 1, 10_000, &what);
            }
        }
        if let Some(n) = l.close_after {
            let what = "the count of frames refused without a pause that closes a client";
            self.range(&["chat", "limits", "close_after"], n.into(), 1, 1000, what);
        }
        if let Some(n) = l.cooldown {
            self.range(&["chat", "limits", "cooldown"], n.into(), 0, 86_400, "the cool-down (seconds)");
        }
    }

    /// Tags go on every resource, so they must pass the strictest of the
    /// services' rules: 1..=128 characters for a key and at most 256 for a
    /// value (every service); only letters, digits, spaces and `+ - = . _ : /`
    /// (DynamoDB's set, the narrowest: it has no `@`, which the others allow;
    /// DynamoDB Developer Guide, "Tagging restrictions"); no `aws:` prefix in
    /// any case; keys unique regardless of case (IAM); and at most 50 on one
    /// resource, counting wschat's own (CloudFront's limit per distribution,
    /// which carries the most of wschat's).
    fn tags(&mut self, tags: &BTreeMap<String, String>) {
        let max = MAX_TAGS - OWN_TAGS.len();
        if tags.len() > max {
            self.error(
                &["tags"],
                format!(
                    "{} tags; at most {max} are allowed: AWS allows {MAX_TAGS} tags on a resource (CloudFront on a distribution), and wschat adds up to {} of its own ({})",
                    tags.len(),
                    OWN_TAGS.len(),
                    OWN_TAGS.join(", ")
                ),
            );
        }
        let allowed = "ASCII letters, digits, spaces and `+ - = . _ : /`";
        let mut seen: BTreeMap<String, &String> = BTreeMap::new();
        for (key, value) in tags {
            let path = ["tags", key.as_str()];
            if key.is_empty() || key.chars().count() > 128 {
                self.error(&path, "tag keys are 1..=128 characters");
            } else if key.to_ascii_lowercase().starts_with("aws:") || key.starts_with("wschat:") {
                self.error(&path, "tag keys starting with `aws:` (in any case) or `wschat:` are reserved");
            } else if let Some(bad) = key.chars().find(|c| !tag_char(*c)) {
                self.error(&path, format!("tag key has `{bad}`; AWS allows {allowed}"));
            }
            if value.chars().count() > 256 {
                self.error(&path, "tag values are at most 256 characters");
            } else if let Some(bad) = value.chars().find(|c| !tag_char(*c)) {
                self.error(&path, format!("tag value has `{bad}`; AWS allows {allowed}"));
            } else if value.to_ascii_lowercase().starts_with("aws:") {
                self.error(&path, "tag values starting with `aws:` are reserved by AWS");
            }
            if let Some(other) = seen.insert(key.to_lowercase(), key) {
                self.error(&path, format!("tag keys must differ in more than case (IAM): `{other}` is there too"));
            }
        }
    }

    fn function(&mut self, s: &Stack, name: &str, f: &Function) {
        if !is_logical_name(name, 20) {
            self.error(
                &["functions", name],
                "function names are 1..=20 characters of a-z, 0-9 and `-`, starting with a letter",
            );
        }
        if !s.dir.join(&f.crate_dir).join("Cargo.toml").is_file() {
            self.error(
                &["functions", name, "crate"],
                format!(
                    "no Cargo.toml in `{}`; `crate` is the handler crate's folder, relative to stack.yaml",
                    f.crate_dir.display()
                ),
            );
        }
        self.range(&["functions", name, "memory"], f.memory.into(), 128, 10240, "Lambda memory (MB)");
        self.range(&["functions", name, "timeout"], f.timeout.into(), 1, 900, "Lambda timeout (seconds)");
        self.range(&["functions", name, "batch"], f.batch.into(), 1, 10, "an SQS batch");
        if let Some(queue) = &f.queue
            && *queue != s.queue.name
        {
            self.error(
                &["functions", name, "queue"],
                format!("no queue `{queue}`; the stack's queue is `{}` (queue.name)", s.queue.name),
            );
        }
        for key in f.environment.keys() {
            let path = ["functions", name, "environment", key.as_str()];
            let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.error(&path, "environment names are letters, digits and `_`, starting with a letter");
            } else if key.starts_with("AWS_") || key.starts_with("WSCHAT_") || key.starts_with("LAMBDA_") {
                self.error(&path, "names starting with AWS_, LAMBDA_ or WSCHAT_ are reserved");
            }
        }
    }

    fn table(&mut self, t: &Table) {
        let ok = !t.ttl_attribute.is_empty() && t.ttl_attribute.len() <= 255;
        if !ok {
            self.error(&["table", "ttl_attribute"], "attribute names are 1..=255 bytes");
        }
    }

    fn queue(&mut self, s: &Stack) {
        let q = &s.queue;
        if !is_logical_name(&q.name, 30) {
            self.error(
                &["queue", "name"],
                "queue names are 1..=30 characters of a-z, 0-9 and `-`, starting with a letter",
            );
        }
        self.range(
            &["queue", "visibility_timeout"],
            q.visibility_timeout.into(),
            0,
            43200,
            "SQS visibility timeout (seconds)",
        );
        self.range(&["queue", "max_receive_count"], q.max_receive_count.into(), 1, 1000, "an SQS redrive policy");
        self.range(&["queue", "delay_seconds"], q.delay_seconds.into(), 0, 900, "SQS delay (seconds)");
        let consumers: Vec<(&String, &Function)> =
            s.functions.iter().filter(|(_, f)| f.queue.as_deref() == Some(q.name.as_str())).collect();
        if consumers.is_empty() && !s.functions.is_empty() {
            self.error(
                &["queue", "name"],
                format!("no function consumes queue `{}`; add `queue: {}` to the notify function", q.name, q.name),
            );
        }
        for (name, f) in consumers {
            if q.visibility_timeout < f.timeout {
                self.error(
                    &["queue", "visibility_timeout"],
                    format!(
                        "{} s is less than the timeout of its consumer `{name}` ({} s); Lambda requires at least that",
                        q.visibility_timeout, f.timeout
                    ),
                );
            }
        }
    }

    fn api(&mut self, s: &Stack) {
        let api = &s.api;
        if let Some(stage) = &api.stage {
            let valid = !stage.is_empty()
                && stage.len() <= 128
                && stage.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                self.error(
                    &["api", "stage"],
                    "API Gateway stage names are 1..=128 characters of A-Z, a-z, 0-9, `-` and `_`",
                );
            }
        }
        let field = api.route_selection.strip_prefix("$request.body.");
        if !field.is_some_and(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        {
            self.error(&["api", "route_selection"], "expected `$request.body.<field>`, e.g. `$request.body.action`");
        }
        if api.routes.is_empty() {
            self.error(&["api", "routes"], "no routes; map route keys such as `$connect` and `send` to functions");
        }
        for (key, route) in &api.routes {
            self.route(s, key, route);
        }
        if let Auth::Jwt(jwt) = &api.auth {
            self.jwt(jwt);
            self.authorizer(s);
        }
        self.throttle(&["api", "throttle"], &api.throttle);
    }

    /// `api.throttle` or a route's `throttle`: what a stage's route settings take.
    fn throttle(&mut self, path: &[&str], throttle: &Throttle) {
        let field = |name: &'static str| [path, &[name]].concat();
        self.range(&field("burst"), throttle.burst.into(), 0, 5000, "API Gateway burst");
        if !(throttle.rate > 0.0 && throttle.rate <= 10000.0) {
            self.error(
                &field("rate"),
                format!("{} is out of range; API Gateway allows 0 < rate <= 10000", throttle.rate),
            );
        }
    }

    fn jwt(&mut self, jwt: &Jwt) {
        let here = ["api", "auth", "jwt"];
        let host = |scheme: &str| {
            jwt.issuer.strip_prefix(scheme).map(|rest| rest.split(['/', '?', '#']).next().unwrap_or("").to_string())
        };
        // Plain http only for an issuer on this machine (a test's, or dev's
        // local one), as the authorizer's key fetcher allows it.
        let loopback = |h: &String| {
            let name =
                h.rsplit_once(':').filter(|(_, port)| port.parse::<u16>().is_ok()).map_or(h.as_str(), |(n, _)| n);
            matches!(name, "127.0.0.1" | "localhost" | "[::1]")
        };
        let host = host("https://").or_else(|| host("http://").filter(loopback));
        if !host.is_some_and(|h| !h.is_empty() && !h.contains(char::is_whitespace)) {
            self.error(
                &[&here[..], &["issuer"]].concat(),
                format!(
                    "`{}` is not an https URL; tokens are checked against the keys published at \
                     <issuer>/.well-known/openid-configuration, which must be fetched over HTTPS",
                    jwt.issuer
                ),
            );
        }
        if jwt.audience.is_empty() || jwt.audience.iter().any(|a| a.trim().is_empty()) {
            self.error(
                &[&here[..], &["audience"]].concat(),
                "name at least one accepted audience (an app client id), and no empty one",
            );
        }
        if jwt.name_claim.as_deref().is_some_and(|c| c.trim().is_empty()) {
            self.error(
                &[&here[..], &["name_claim"]].concat(),
                "an empty claim name; leave it out for name, email, sub",
            );
        }
    }

    /// The authorizer function (declared, or the shipped one) only authorizes.
    fn authorizer(&mut self, s: &Stack) {
        let name = AUTHORIZER_FUNCTION;
        let Some(f) = s.functions.get(name) else { return };
        if f.queue.is_some() {
            self.error(
                &["functions", name, "queue"],
                "the `authorizer` function runs the sign-in check of `api.auth.jwt` and consumes no queue",
            );
        }
        for (key, route) in &s.api.routes {
            if route.function() == Some(name) {
                self.error(
                    &["api", "routes", key],
                    "the `authorizer` function runs the sign-in check of `api.auth.jwt`; route to another function",
                );
            }
        }
    }

    fn route(&mut self, s: &Stack, key: &str, route: &Route) {
        let here = ["api", "routes", key];
        let key_ok = if key.starts_with('$') {
            chat_core::SPECIAL_ROUTES.contains(&key)
        } else {
            !key.is_empty() && key.len() <= 128 && !key.chars().any(char::is_control)
        };
        if !key_ok {
            self.error(
                &here,
                "route keys are `$connect`, `$disconnect`, `$default` or an action name (1..=128 characters)",
            );
        }
        if let Some(throttle) = &route.throttle {
            let path = ["api", "routes", key, "throttle"];
            if key == "$disconnect" {
                self.error(
                    &path,
                    "`$disconnect` runs once a connection is gone; nothing can refuse it, so it takes no throttle",
                );
            }
            self.throttle(&path, throttle);
        }
        if let Some(body) = route.mock() {
            self.mock(key, body);
            return;
        }
        if let Some(function) = route.function()
            && !s.functions.contains_key(function)
        {
            let known: Vec<&str> = s.functions.keys().map(String::as_str).collect();
            let path = if self.map.find(&["api", "routes", key, "function"]).is_some() {
                vec!["api", "routes", key, "function"]
            } else {
                here.to_vec()
            };
            self.error(&path, format!("no function `{function}`; defined functions: {}", known.join(", ")));
        }
        if let Some(schema) = &route.schema {
            let path = ["api", "routes", key, "schema"];
            if key == "$connect" || key == "$disconnect" {
                self.error(
                    &path,
                    format!("`{key}` carries no message body to validate; schemas belong on message routes"),
                );
            } else {
                let full = s.dir.join(schema);
                match std::fs::read_to_string(&full) {
                    Err(e) => self.error(&path, format!("cannot read schema `{}`: {e}", schema.display())),
                    Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                        Err(e) => self.error(&path, format!("schema `{}` is not JSON: {e}", schema.display())),
                        Ok(v) if !v.is_object() => self.error(
                            &path,
                            format!("schema `{}` must be a JSON object (JSON Schema draft 4)", schema.display()),
                        ),
                        Ok(_) => {}
                    },
                }
            }
        }
    }

    /// `{ mock: '<body>' }`: a route API Gateway answers itself. Only a
    /// message route can be one (`$connect` and `$disconnect` carry no frame
    /// to answer), with nothing beside `mock`, and a body API Gateway sends as
    /// written: 1..=32 KiB, without `$` or `#`, which its response template
    /// (Apache Velocity) would read as references and directives (API Gateway
    /// developer guide, "API Gateway mapping template and access logging
    /// variable reference for WebSocket APIs").
    fn mock(&mut self, key: &str, body: &str) {
        let here = ["api", "routes", key, "mock"];
        if key == "$connect" || key == "$disconnect" {
            self.error(
                &here,
                format!("`{key}` carries no frame to answer; `mock` belongs on message routes such as `ping`"),
            );
        }
        for beside in ["function", "schema"] {
            if self.map.find(&["api", "routes", key, beside]).is_some() {
                self.error(
                    &["api", "routes", key, beside],
                    format!("a `mock` route is answered by API Gateway itself; remove `{beside}` or `mock`"),
                );
            }
        }
        if body.is_empty() {
            self.error(&here, "an empty body; write the frame API Gateway answers with, e.g. '{\"type\":\"pong\"}'");
        } else if body.len() > MAX_MOCK_BYTES {
            self.error(&here, format!("{} bytes; a mock body is at most {MAX_MOCK_BYTES} bytes (32 KiB)", body.len()));
        } else if let Some(bad) = body.chars().find(|c| matches!(c, '$' | '#')) {
            self.error(
                &here,
                format!(
                    "has `{bad}`, which API Gateway's response template (Apache Velocity) would not send as written; \
                     leave `$` and `#` out of a mock body"
                ),
            );
        }
    }

    /// `domain`: names ACM can issue a certificate for (lowercase, no
    /// wildcard, no trailing dot), two different ones, both in `zone`.
    fn domain(&mut self, s: &Stack, d: &Domain) {
        let websocket = d.websocket_name();
        let mut valid = true;
        // A defaulted `ws.{name}` is wrong only where `name` is.
        let written = self.map.find(&["domain", "websocket"]).is_some();
        for (key, name) in [("name", d.name.as_str()), ("websocket", websocket)] {
            if key == "websocket" && !written && !valid {
                continue;
            }
            if let Err(why) = check_dns_name(name) {
                self.error(&["domain", key], why);
                valid = false;
            }
        }
        if valid {
            valid = self.first_names(d, s.region.as_deref().unwrap_or(CLOUDFRONT_REGION));
        }
        if valid && websocket == d.name {
            self.error(
                &["domain", "websocket"],
                format!("`{websocket}` is the website's name too; the WebSocket endpoint needs a name of its own (default `ws.{}`)", d.name),
            );
        }
        if let Some(zone) = &d.zone {
            match check_dns_name(zone) {
                Err(why) => self.error(&["domain", "zone"], why),
                Ok(()) => {
                    let outside: Vec<String> =
                        d.names().iter().filter(|n| !in_zone(n, zone)).map(|n| format!("`{n}`")).collect();
                    if valid && !outside.is_empty() {
                        self.error(
                            &["domain", "zone"],
                            format!(
                                "{} not in zone `{zone}`; the zone must be a suffix of both names",
                                outside.join(" and ") + if outside.len() == 1 { " is" } else { " are" }
                            ),
                        );
                    }
                }
            }
        }
        if !s.website.cdn {
            self.error(
                &["domain", "name"],
                "the website's name is a CloudFront alias; `domain` needs `website.cdn: true`",
            );
        }
    }

    /// A certificate's first name "cannot exceed 64 octets (characters),
    /// including periods" (ACM API Reference, RequestCertificate,
    /// DomainName: RFC 5280's limit on the Common Name; the other names may
    /// have up to 253). Whether the names that are first names in `region`
    /// fit.
    pub(crate) fn first_names(&mut self, d: &Domain, region: &str) -> bool {
        let mut fit = true;
        for (key, name) in d.first_names(region) {
            if name.len() <= MAX_FIRST_NAME {
                continue;
            }
            let why = if key == "name" {
                format!(
                    "ACM takes at most {MAX_FIRST_NAME} for a certificate's first name, which the website's name is. \
                     Choose a shorter one (the WebSocket's name may be longer)"
                )
            } else {
                format!(
                    "outside us-east-1 the WebSocket's name is the first name of a certificate of its own (in {region}), \
                     and ACM takes at most {MAX_FIRST_NAME}. Choose a shorter one, or deploy to us-east-1, where one \
                     certificate covers both names"
                )
            };
            self.error(&["domain", key], format!("`{name}` has {} characters; {why}", name.len()));
            fit = false;
        }
        fit
    }

    fn website(&mut self, s: &Stack) {
        let source = s.dir.join(&s.website.source);
        if !source.is_dir() {
            self.error(
                &["website", "source"],
                format!("folder `{}` does not exist (relative to stack.yaml)", s.website.source.display()),
            );
        }
    }
}

/// The longest first name (Common Name) of an ACM certificate.
const MAX_FIRST_NAME: usize = 64;

/// A name ACM issues a certificate for and Route 53 holds: at most 253
/// characters, at least two labels of 1..=63 characters of a-z, 0-9 and `-`
/// (not first or last), lowercase, without a trailing dot or a wildcard.
pub fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err(format!("`{name}` must be 1..=253 characters (a DNS name)"));
    }
    if name.ends_with('.') {
        return Err(format!("`{name}`: write the name without the trailing dot"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("`{name}` is not a domain name such as `chat.example.com`"));
    }
    for label in labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!(
                "`{name}` is not a valid DNS name: each label is 1..=63 characters of a-z, 0-9 and `-` (lowercase, not first or last; no wildcard)"
            ));
        }
    }
    Ok(())
}

/// Whether `name` is `zone` or a name under it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// `name`: 1..=24 characters of a-z, 0-9 and single `-`, starting with a letter.
/// An address for an SNS `email` subscription: `local@domain`, the domain a
/// DNS name with a dot, no spaces, at most 254 characters (RFC 5321's path
/// limit). SNS checks no more before it sends the confirmation message.
fn check_email(email: &str) -> Result<(), String> {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && check_dns_name(&domain.to_ascii_lowercase()).is_ok()
        });
    if valid { Ok(()) } else { Err(format!("`{email}` is not an e-mail address such as `ops@example.com`")) }
}

fn check_stack_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 24 {
        return Err(format!("`{name}` must be 1..=24 characters; it prefixes every AWS name"));
    }
    if !is_logical_name(name, 24) || name.contains("--") {
        return Err(format!(
            "`{name}` may use only a-z, 0-9 and single `-`, starting with a letter and not ending with `-` (S3 and IAM names derive from it)"
        ));
    }
    Ok(())
}

/// Checks `--stage` (it is not in stack.yaml, so errors carry no position).
pub fn check_stage(stage: &str) -> Result<(), UsageError> {
    let valid = stage.len() <= 16 && is_logical_name(stage, 16) && !stage.contains("--");
    if valid {
        Ok(())
    } else {
        Err(UsageError(format!(
            "--stage `{stage}`: stages are 1..=16 characters of a-z, 0-9 and `-`, starting with a letter"
        )))
    }
}

fn is_logical_name(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`...
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().take(parts.len() - 1).all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}
