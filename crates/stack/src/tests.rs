use super::*;

/// A project folder with the files the shipped stack.yaml refers to.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        for krate in ["lambdas/chat", "lambdas/notify", "lambdas/authorizer"] {
            std::fs::create_dir_all(dir.path().join(krate)).unwrap();
            std::fs::write(dir.path().join(krate).join("Cargo.toml"), "[package]\n").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("wwwroot")).unwrap();
        std::fs::create_dir_all(dir.path().join("schemas")).unwrap();
        std::fs::write(dir.path().join("schemas/send.json"), r#"{"type":"object"}"#).unwrap();
        std::fs::write(dir.path().join("schemas/broken.json"), "{not json").unwrap();
        Project { dir }
    }

    fn parse(&self, text: &str) -> Result<Stack, StackErrors> {
        parse(text, &self.dir.path().join("stack.yaml"), "dev")
    }

    /// The one error of `text`, as (line, column, field, message).
    fn error(&self, text: &str) -> StackError {
        let errors = self.parse(text).expect_err("expected an error").errors;
        assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
        errors.into_iter().next().unwrap()
    }
}

const MINIMAL: &str = "\
name: wschat
functions:
  chat: { crate: lambdas/chat }
  notify: { crate: lambdas/notify, queue: notifications }
";

#[test]
fn the_shipped_stack_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let stack = load(&root.join("stack.yaml"), "dev").unwrap();
    assert_eq!(stack.name, "wschat");
    assert_eq!(stack.functions.len(), 2);
    let every: Vec<&str> = chat_core::SPECIAL_ROUTES.iter().chain(chat_core::ACTIONS).copied().collect();
    let keys: Vec<&str> = stack.api.routes.keys().map(String::as_str).collect();
    for key in every {
        assert!(keys.contains(&key), "shipped stack.yaml lacks route {key}");
    }
}

#[test]
fn a_minimal_stack_gets_defaults() {
    let stack = Project::new().parse(MINIMAL).unwrap();
    let chat = &stack.functions["chat"];
    assert_eq!((chat.memory, chat.timeout, chat.architecture), (256, 10, Architecture::X86_64));
    assert_eq!(stack.queue.name, "notifications");
    assert_eq!(stack.table.ttl_attribute, "expiresAt");
    assert_eq!(stack.api.route_selection, "$request.body.action");
    assert_eq!(stack.api_stage(), "dev", "the API stage defaults to --stage");
    assert_eq!(stack.api.routes.len(), 16, "every protocol route (history and typing included) on `chat`, and `ping`");
    assert!(stack.api.routes.iter().all(|(k, r)| r.function() == Some("chat") || k == PING_ROUTE));
    assert!(stack.website.cdn);
    assert_eq!(stack.website.price_class, PriceClass::PriceClass100);
}

#[test]
fn physical_names_derive_from_name_and_stage() {
    let stack = Project::new().parse(MINIMAL).unwrap();
    assert_eq!(stack.table_name(), "wschat-dev-connections");
    assert_eq!(stack.queue_name(), "wschat-dev-notifications");
    assert_eq!(stack.dlq_name(), "wschat-dev-notifications-dlq");
    assert_eq!(stack.function_name("chat"), "wschat-dev-chat");
    assert_eq!(stack.log_group_name("chat"), "/aws/lambda/wschat-dev-chat");
    assert_eq!(stack.bucket_name("123456789012", "us-east-1"), "wschat-dev-123456789012-us-east-1");
    assert_eq!(stack.websocket_url("abc123", "eu-west-1"), "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev");
    let tags = stack.resource_tags();
    assert_eq!(tags[TAG_STACK], "wschat");
    assert_eq!(tags[TAG_STAGE], "dev");
}

#[test]
fn long_names_fit_aws_limits_and_stay_distinct() {
    let project = Project::new();
    let long = MINIMAL.replace("name: wschat", "name: abcdefghijklmnopqrstuvwx");
    let a = parse(&long, &project.dir.path().join("stack.yaml"), "production-east").unwrap();
    let b = parse(&long, &project.dir.path().join("stack.yaml"), "production-west").unwrap();
    for (account, region) in [("123456789012", "ap-southeast-4"), ("123456789012", "us-gov-west-1")] {
        let (x, y) = (a.bucket_name(account, region), b.bucket_name(account, region));
        assert!(x.len() <= 63 && y.len() <= 63, "{x} / {y}");
        assert_ne!(x, y);
        assert!(x.ends_with(&format!("-{account}-{region}")));
        assert!(!x.contains("--"), "{x}");
    }
    for name in ["chat", "notify", "abcdefghijklmnopqrst"] {
        assert!(a.function_name(name).len() <= 64);
    }
    assert!(a.dlq_name().len() <= 80);
}

#[test]
fn unknown_keys_name_the_position_and_the_allowed_keys() {
    let text = MINIMAL.replace("chat: { crate: lambdas/chat }", "chat: { crate: lambdas/chat, memroy: 512 }");
    let e = Project::new().error(&text);
    assert_eq!((e.line, e.field.as_str()), (3, "functions.chat"));
    assert!(e.message.contains("unknown field `memroy`"), "{e:?}");
    assert!(e.message.contains("memory"), "lists the allowed keys: {e:?}");
}

#[test]
fn an_unknown_top_level_key_is_refused() {
    let e = Project::new().error(&format!("{MINIMAL}databse: {{}}\n"));
    assert_eq!(e.line, 5);
    assert_eq!(e.column, 1);
    assert!(e.message.contains("unknown field `databse`"), "{e:?}");
}

#[test]
fn wrong_types_name_the_field() {
    let text = MINIMAL.replace("chat: { crate: lambdas/chat }", "chat: { crate: lambdas/chat, memory: lots }");
    let e = Project::new().error(&text);
    assert_eq!(e.line, 3);
    assert_eq!(e.field, "functions.chat.memory");
    assert!(e.message.contains("invalid type"), "{e:?}");
}

#[test]
fn an_unknown_architecture_lists_the_allowed_ones() {
    let text = MINIMAL.replace("chat: { crate: lambdas/chat }", "chat: { crate: lambdas/chat, architecture: arm }");
    let e = Project::new().error(&text);
    assert_eq!(e.field, "functions.chat.architecture");
    assert!(e.message.contains("x86_64") && e.message.contains("arm64"), "{e:?}");
}

#[test]
fn a_missing_required_field_is_named() {
    let e = Project::new().error("name: wschat\n");
    assert!(e.message.contains("missing required field `functions`"), "{e:?}");
}

#[test]
fn names_aws_would_reject() {
    let project = Project::new();
    for bad in ["WsChat", "ws_chat", "-wschat", "wschat-", "ws--chat", "abcdefghijklmnopqrstuvwxy", "9chat"] {
        let e = project.error(&MINIMAL.replace("name: wschat", &format!("name: \"{bad}\"")));
        assert_eq!((e.line, e.column, e.field.as_str()), (1, 7, "name"), "{bad}: {e:?}");
    }
    let e = project.error(&MINIMAL.replace("notify: {", "Notify_Fn: {"));
    assert_eq!((e.line, e.column, e.field.as_str()), (4, 14, "functions.Notify_Fn"));
    let e = project.error(&format!("{MINIMAL}region: mars-north\n"));
    assert_eq!((e.line, e.field.as_str()), (5, "region"));
    let e = project.error(&format!("{MINIMAL}api: {{ stage: \"pr od\" }}\n"));
    assert_eq!(e.field, "api.stage");
    let e = project.error(&format!("{MINIMAL}tags: {{ \"aws:owner\": me }}\n"));
    assert_eq!(e.field, "tags.aws:owner");
}

#[test]
fn stage_names_are_checked() {
    assert!(check_stage("dev").is_ok());
    assert!(check_stage("pr-42").is_ok());
    for bad in ["", "Prod", "a_b", "seventeen-chars-x", "-x"] {
        assert!(check_stage(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn memory_and_timeout_out_of_lambdas_range() {
    let project = Project::new();
    let text =
        MINIMAL.replace("chat: { crate: lambdas/chat }", "chat: { crate: lambdas/chat, memory: 64, timeout: 901 }");
    let errors = project.parse(&text).unwrap_err().errors;
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!((errors[0].line, errors[0].column), (3, 40));
    assert_eq!(errors[0].field, "functions.chat.memory");
    assert!(errors[0].message.contains("128..=10240"), "{errors:?}");
    assert_eq!((errors[1].line, errors[1].column), (3, 53));
    assert!(errors[1].message.contains("1..=900"), "{errors:?}");
    for (memory, ok) in [(127, false), (128, true), (10240, true), (10241, false)] {
        let text = MINIMAL
            .replace("chat: { crate: lambdas/chat }", &format!("chat: {{ crate: lambdas/chat, memory: {memory} }}"));
        assert_eq!(project.parse(&text).is_ok(), ok, "memory {memory}");
    }
}

#[test]
fn a_route_to_an_undefined_function() {
    let text = format!("{MINIMAL}api:\n  routes:\n    $connect: chat\n    send: {{ function: chatt }}\n");
    let e = Project::new().error(&text);
    assert_eq!((e.line, e.column), (8, 23));
    assert_eq!(e.field, "api.routes.send.function");
    assert!(e.message.contains("no function `chatt`") && e.message.contains("chat, notify"), "{e:?}");
    let text = format!("{MINIMAL}api:\n  routes:\n    $connect: nope\n");
    let e = Project::new().error(&text);
    assert_eq!((e.line, e.column, e.field.as_str()), (7, 15, "api.routes.$connect"));
}

#[test]
fn an_unknown_special_route_is_refused() {
    let text = format!("{MINIMAL}api:\n  routes:\n    $connected: chat\n");
    let e = Project::new().error(&text);
    assert_eq!(e.field, "api.routes.$connected");
}

#[test]
fn a_schema_file_that_is_missing_or_not_json() {
    let project = Project::new();
    let text = format!(
        "{MINIMAL}api:\n  routes:\n    $connect: chat\n    send: {{ function: chat, schema: schemas/nope.json }}\n"
    );
    let e = project.error(&text);
    assert_eq!((e.line, e.field.as_str()), (8, "api.routes.send.schema"));
    assert!(e.message.contains("cannot read schema `schemas/nope.json`"), "{e:?}");
    let text = text.replace("nope.json", "broken.json");
    let e = project.error(&text);
    assert!(e.message.contains("is not JSON"), "{e:?}");
    let text = text.replace("broken.json", "send.json");
    assert!(project.parse(&text).is_ok());
}

#[test]
fn a_schema_on_connect_is_refused() {
    let text = format!("{MINIMAL}api:\n  routes:\n    $connect: {{ function: chat, schema: schemas/send.json }}\n");
    let e = Project::new().error(&text);
    assert_eq!(e.field, "api.routes.$connect.schema");
}

#[test]
fn a_website_source_that_does_not_exist() {
    let e = Project::new().error(&format!("{MINIMAL}website:\n  source: public\n"));
    assert_eq!((e.line, e.column, e.field.as_str()), (6, 11, "website.source"));
    assert!(e.message.contains("folder `public` does not exist"), "{e:?}");
}

#[test]
fn a_missing_crate_folder() {
    let e = Project::new().error(&MINIMAL.replace("lambdas/chat }", "lambdas/chatt }"));
    assert_eq!((e.line, e.field.as_str()), (3, "functions.chat.crate"));
}

#[test]
fn an_empty_file() {
    let project = Project::new();
    for text in ["", "\n\n", "# only a comment\n"] {
        let e = project.error(text);
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("the file is empty"), "{e:?}");
    }
}

#[test]
fn a_yaml_syntax_error_has_a_position() {
    let e = Project::new().error("name: wschat\nfunctions: {\n  chat: [\n");
    assert!(e.line >= 2, "{e:?}");
}

#[test]
fn the_queue_must_outlast_its_consumer() {
    let text = MINIMAL.replace("queue: notifications }", "queue: notifications, timeout: 120 }");
    let e = Project::new().error(&text);
    assert_eq!(e.field, "queue.visibility_timeout");
    assert!(e.message.contains("notify"), "{e:?}");
}

#[test]
fn a_queue_nobody_consumes_or_a_consumer_without_queue() {
    let project = Project::new();
    let e = project.error(&MINIMAL.replace(", queue: notifications", ""));
    assert!(e.message.contains("no function consumes queue `notifications`"), "{e:?}");
    let text = MINIMAL
        .replace("queue: notifications }", "queue: notifications }\n  other: { crate: lambdas/chat, queue: events }");
    let e = project.error(&text);
    assert_eq!(e.field, "functions.other.queue");
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = "name: Bad_Name\nfunctions:\n  chat: { crate: lambdas/chat, memory: 1 }\n  notify: { crate: lambdas/notify, queue: notifications }\nwebsite: { source: nowhere }\n";
    let err = Project::new().parse(text).unwrap_err();
    assert_eq!(err.errors.len(), 3, "{err}");
    let shown = err.to_string();
    assert!(shown.lines().all(|l| l.contains("stack.yaml:")), "{shown}");
}

#[test]
fn source_map_positions() {
    let map = SourceMap::new("a:\n  b: 1\n  c:\n    - x\n    - y\n");
    assert_eq!(map.find(&["a", "b"]), Some((2, 6)));
    assert_eq!(map.find(&["a", "c", "1"]), Some((5, 7)));
    assert_eq!(map.position(&["a", "nope"]), map.find(&["a"]).unwrap());
    assert_eq!(map.position(&["zzz"]), (1, 1));
}

#[test]
fn tags_every_service_would_refuse_are_errors_with_their_position() {
    let project = Project::new();
    // `@` passes IAM, Lambda and CloudFront, but not DynamoDB.
    let e = project.error(&format!("{MINIMAL}tags:\n  owner: a@b.c\n"));
    assert_eq!((e.line, e.column, e.field.as_str()), (6, 10, "tags.owner"), "{e:?}");
    assert!(e.message.contains("`@`") && e.message.contains("+ - = . _ : /"), "{e:?}");
    let e = project.error(&format!("{MINIMAL}tags:\n  \"cost#centre\": x\n"));
    assert_eq!(e.field, "tags.cost#centre");
    assert!(e.message.contains("tag key has `#`"), "{e:?}");
    let e = project.error(&format!("{MINIMAL}tags:\n  AWS:owner: me\n"));
    assert!(e.message.contains("reserved"), "{e:?}");
    let e = project.error(&format!("{MINIMAL}tags:\n  team: chat\n  Team: web\n"));
    assert!(e.message.contains("differ in more than case"), "{e:?}");
    let e = project.error(&format!("{MINIMAL}tags:\n  team: \"{}\"\n", "x".repeat(257)));
    assert!(e.message.contains("at most 256"), "{e:?}");
    // Letters, digits, spaces and the punctuation every service takes.
    let ok = project.parse(&format!("{MINIMAL}tags:\n  \"cost centre\": \"a-1 + b_2 = c.d:e/f\"\n")).unwrap();
    assert_eq!(ok.tags["cost centre"], "a-1 + b_2 = c.d:e/f");
}

#[test]
fn tags_leave_room_for_wschats_own_under_cloudfronts_fifty() {
    let project = Project::new();
    let tags = |n: usize| (0..n).map(|i| format!("  t{i}: v\n")).collect::<String>();
    let ok = project.parse(&format!("{MINIMAL}tags:\n{}", tags(MAX_TAGS - OWN_TAGS.len())));
    assert!(ok.is_ok(), "{:?}", ok.err());
    let e = project.error(&format!("{MINIMAL}tags:\n{}", tags(MAX_TAGS - OWN_TAGS.len() + 1)));
    assert_eq!((e.line, e.field.as_str()), (6, "tags"), "{e:?}");
    assert!(e.message.contains("48 tags; at most 47"), "{e:?}");
    assert!(e.message.contains("wschat:config"), "{e:?}");
}

#[test]
fn urls_take_the_partitions_dns_suffix() {
    let stack = Project::new().parse(MINIMAL).unwrap();
    assert_eq!(stack.websocket_url("abc", "cn-north-1"), "wss://abc.execute-api.cn-north-1.amazonaws.com.cn/dev");
    assert_eq!(
        stack.management_endpoint("abc", "cn-northwest-1"),
        "https://abc.execute-api.cn-northwest-1.amazonaws.com.cn/dev"
    );
    assert_eq!(stack.websocket_url("abc", "us-gov-west-1"), "wss://abc.execute-api.us-gov-west-1.amazonaws.com/dev");
    assert_eq!(dns_suffix("us-isob-east-1"), "sc2s.sgov.gov");
    assert_eq!(dns_suffix("us-iso-east-1"), "c2s.ic.gov");
    assert_eq!(dns_suffix("eu-west-1"), "amazonaws.com");
    assert!(stack.bucket_domain("1", "cn-north-1").ends_with(".s3.cn-north-1.amazonaws.com.cn"));
}

#[test]
fn a_region_s_partition_is_the_sdks_table_s() {
    for (region, partition) in [
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-isob-east-1", "aws-iso-b"),
        ("us-iso-east-1", "aws-iso"),
        ("eusc-de-east-1", "aws-eusc"),
    ] {
        assert_eq!(crate::partition(region), partition, "{region}");
    }
}

#[test]
fn the_fanout_settings_default_to_the_handlers_own() {
    let chat = Project::new().parse(MINIMAL).unwrap().chat;
    assert_eq!(chat.shard_size as usize, chat_core::config::DEFAULT_SHARD_SIZE);
    assert_eq!(chat.max_concurrency as u32, chat_core::config::DEFAULT_MAX_CONCURRENCY);
    assert_eq!((chat.shard_size, chat.max_concurrency, chat.post_rate), (500, 10, None));
    assert_eq!(chat, Chat::default());
}

#[test]
fn the_post_rate_defaults_to_nine_tenths_of_the_regions_throttle() {
    let stack = Project::new().parse(MINIMAL).unwrap();
    assert_eq!(stack.post_rate("us-east-1"), chat_core::config::DEFAULT_POST_RATE as i32);
    assert_eq!(stack.post_rate("us-east-1"), 9000);
    assert_eq!(stack.post_rate("eu-south-1"), 2250, "Milan's default throttle is 2,500 requests per second");
    assert_eq!(stack.post_rate("mx-central-1"), 2250);
    let set = Project::new().parse(&format!("{MINIMAL}chat:\n  post_rate: 4000\n")).unwrap();
    assert_eq!((set.post_rate("us-east-1"), set.post_rate("eu-south-1")), (4000, 4000), "a rate set is kept");
}

#[test]
fn the_fanout_settings_out_of_range_name_their_position() {
    let project = Project::new();
    let text = format!("{MINIMAL}chat:\n  shard_size: 0\n  max_concurrency: 1\n  post_rate: 100001\n");
    let errors = project.parse(&text).unwrap_err().errors;
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_eq!((errors[0].line, errors[0].column, errors[0].field.as_str()), (6, 15, "chat.shard_size"));
    assert!(errors[0].message.contains("1..=10000"), "{errors:?}");
    assert_eq!((errors[1].line, errors[1].column, errors[1].field.as_str()), (7, 20, "chat.max_concurrency"));
    assert!(errors[1].message.contains("2..=1000") && errors[1].message.contains("MaximumConcurrency"), "{errors:?}");
    assert_eq!((errors[2].line, errors[2].column, errors[2].field.as_str()), (8, 14, "chat.post_rate"));
    assert!(errors[2].message.contains("1..=100000"), "{errors:?}");
    for (field, value, ok) in [
        ("shard_size", 1, true),
        ("shard_size", 10000, true),
        ("shard_size", 10001, false),
        ("max_concurrency", 2, true),
        ("max_concurrency", 1000, true),
        ("max_concurrency", 1001, false),
        ("post_rate", 0, false),
        ("post_rate", 1, true),
        ("post_rate", 100000, true),
    ] {
        let text = format!("{MINIMAL}chat:\n  {field}: {value}\n");
        assert_eq!(project.parse(&text).is_ok(), ok, "{field}: {value}");
    }
}

#[test]
fn the_delivery_ledger_is_named_beside_the_connections_table() {
    let stack = Project::new().parse(MINIMAL).unwrap();
    assert_eq!(stack.deliveries_table_name(), "wschat-dev-deliveries");
    let arns = stack.arns("aws", "us-east-1", "123456789012");
    assert_eq!(arns.deliveries_table(), "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-dev-deliveries");
    assert_eq!(arns.table(), "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-dev-connections");
}

#[test]
fn a_jwt_auth_is_read_and_checked_with_positions() {
    let jwt = "api:\n  auth:\n    jwt:\n      issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example\n      audience: [client-a, client-b]\n      name_claim: nickname\n";
    let text = format!("{MINIMAL}{jwt}");
    let stack = Project::new().parse(&text).unwrap();
    let Auth::Jwt(read) = &stack.api.auth else { panic!("{:?}", stack.api.auth) };
    assert_eq!(read.audience, ["client-a", "client-b"]);
    assert_eq!(read.name_claim.as_deref(), Some("nickname"));
    // The authorizer function comes with it: the shipped crate, with the defaults.
    assert_eq!(stack.authorizer_function(), Some(AUTHORIZER_FUNCTION));
    assert_eq!(stack.functions[AUTHORIZER_FUNCTION].crate_dir, PathBuf::from("lambdas/authorizer"));
    assert_eq!(stack.functions[AUTHORIZER_FUNCTION].queue, None);
    assert_eq!(stack.authorizer_name(), "wschat-dev-jwt");
    // Without sign-in there is none.
    assert_eq!(Project::new().parse(MINIMAL).unwrap().authorizer_function(), None);
    assert!(!Project::new().parse(MINIMAL).unwrap().functions.contains_key(AUTHORIZER_FUNCTION));

    let bad =
        "api:\n  auth:\n    jwt:\n      issuer: http://issuer.example.com\n      audience: []\n      name_claim: ' '\n";
    let errors = Project::new().parse(&format!("{MINIMAL}{bad}")).unwrap_err().errors;
    let fields: Vec<(&str, usize, usize)> = errors.iter().map(|e| (e.field.as_str(), e.line, e.column)).collect();
    assert_eq!(
        fields,
        [("api.auth.jwt.issuer", 8, 15), ("api.auth.jwt.audience", 9, 17), ("api.auth.jwt.name_claim", 10, 19),],
        "{errors:#?}"
    );
    assert!(errors[0].message.contains("not an https URL"), "{errors:?}");

    let unknown = "api:\n  auth:\n    jwt:\n      issuer: https://x.example\n      audience: a\n      audiences: [b]\n";
    let err = Project::new().parse(&format!("{MINIMAL}{unknown}")).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("audiences") && message.contains(":10:"), "{message}");
}

#[test]
fn a_single_audience_may_be_a_string() {
    let text = format!("{MINIMAL}api:\n  auth:\n    jwt: {{ issuer: 'https://x.example', audience: only }}\n");
    let stack = Project::new().parse(&text).unwrap();
    let Auth::Jwt(jwt) = &stack.api.auth else { panic!("{:?}", stack.api.auth) };
    assert_eq!(jwt.audience, ["only"]);
}

#[test]
fn an_issuer_over_plain_http_is_only_for_this_machine() {
    let with = |issuer: &str| format!("{MINIMAL}api:\n  auth:\n    jwt: {{ issuer: '{issuer}', audience: a }}\n");
    for issuer in ["http://127.0.0.1:9000/issuer", "http://localhost:8080", "http://[::1]:1/x"] {
        assert!(Project::new().parse(&with(issuer)).is_ok(), "{issuer}");
    }
    for issuer in ["http://issuer.example.com", "http://127.0.0.1.example.com/", "ftp://127.0.0.1", "https://"] {
        let error = Project::new().error(&with(issuer));
        assert_eq!(error.field, "api.auth.jwt.issuer", "{issuer}");
    }
}

#[test]
fn the_authorizer_function_only_authorizes() {
    let text = format!(
        "{MINIMAL}  authorizer: {{ crate: lambdas/authorizer, queue: notifications }}\napi:\n  auth:\n    jwt: {{ issuer: 'https://x.example', audience: a }}\n"
    );
    let errors = Project::new().parse(&text).unwrap_err().errors;
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"functions.authorizer.queue"), "{errors:#?}");
    // A declared authorizer function is used as it is declared.
    let own = format!(
        "{MINIMAL}  authorizer: {{ crate: lambdas/authorizer, memory: 512 }}\napi:\n  auth:\n    jwt: {{ issuer: 'https://x.example', audience: a }}\n"
    );
    assert_eq!(Project::new().parse(&own).unwrap().functions[AUTHORIZER_FUNCTION].memory, 512);
}

#[test]
fn history_is_on_by_default_and_takes_a_switch_or_its_settings() {
    let project = Project::new();
    let on = Some(History { messages: 50, days: 7 });
    assert_eq!(project.parse(MINIMAL).unwrap().chat.history, on);
    assert_eq!(History::default(), History { messages: 50, days: 7 });
    assert_eq!(History::default().messages as u32, chat_core::config::DEFAULT_HISTORY_MESSAGES);
    assert_eq!(History::default().days as u32, chat_core::config::DEFAULT_HISTORY_DAYS);
    for (yaml, want) in [
        ("false", None),
        ("true", on),
        ("{}", on),
        ("{ messages: 20 }", Some(History { messages: 20, days: 7 })),
        ("\n    messages: 200\n    days: 365", Some(History { messages: 200, days: 365 })),
    ] {
        let stack = project.parse(&format!("{MINIMAL}chat:\n  history: {yaml}\n")).unwrap();
        assert_eq!(stack.chat.history, want, "history: {yaml}");
    }
}

#[test]
fn bad_history_settings_name_their_position() {
    let project = Project::new();
    let text = format!("{MINIMAL}chat:\n  history:\n    messages: 0\n    days: 366\n");
    let errors = project.parse(&text).unwrap_err().errors;
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!((errors[0].line, errors[0].column, errors[0].field.as_str()), (7, 15, "chat.history.messages"));
    assert!(errors[0].message.contains("1..=200"), "{errors:?}");
    assert_eq!((errors[1].line, errors[1].column, errors[1].field.as_str()), (8, 11, "chat.history.days"));
    assert!(errors[1].message.contains("1..=365"), "{errors:?}");

    for (yaml, says) in [
        ("  history: 7\n", "expected `false`, `true` or a map"),
        ("  history: { keep: 3 }\n", "unknown field `keep`"),
        ("  history: { days: many }\n", "invalid type"),
    ] {
        let errors = project.parse(&format!("{MINIMAL}chat:\n{yaml}")).unwrap_err().errors;
        assert_eq!(errors.len(), 1, "{yaml}: {errors:#?}");
        assert_eq!(errors[0].line, 6, "{yaml}: {errors:#?}");
        assert!(errors[0].field.starts_with("chat.history"), "{yaml}: {errors:#?}");
        assert!(errors[0].message.contains(says), "{yaml}: {errors:#?}");
    }
}

#[test]
fn a_domain_defaults_its_websocket_name_and_is_checked_with_positions() {
    let project = Project::new();
    let stack = project.parse(&format!("{MINIMAL}domain:\n  name: chat.example.com\n  zone: example.com\n")).unwrap();
    let domain = stack.domain.as_ref().unwrap();
    assert_eq!(domain.names(), ["chat.example.com", "ws.chat.example.com"]);
    assert_eq!(stack.websocket_url("abc", "us-east-1"), "wss://ws.chat.example.com");
    // The Management API stays on the execute-api host.
    assert_eq!(stack.management_endpoint("abc", "us-east-1"), "https://abc.execute-api.us-east-1.amazonaws.com/dev");

    let cases = [
        ("domain:\n  name: Chat.Example.com\n", (6, 9, "domain.name"), "not a valid DNS name"),
        ("domain:\n  name: localhost\n", (6, 9, "domain.name"), "not a domain name"),
        ("domain:\n  name: chat.example.com.\n", (6, 9, "domain.name"), "trailing dot"),
        ("domain:\n  name: \"*.example.com\"\n", (6, 9, "domain.name"), "no wildcard"),
        (
            "domain:\n  name: he-website-of-a-chat-with-a-rather-long-name-for-acms.example.com\n",
            (6, 9, "domain.name"),
            "has 65 characters; ACM takes at most 64",
        ),
        (
            "domain:\n  name: chat.example.com\n  websocket: chat.example.com\n",
            (7, 14, "domain.websocket"),
            "needs a name of its own",
        ),
        (
            "domain:\n  name: chat.example.com\n  websocket: ws-.example.com\n",
            (7, 14, "domain.websocket"),
            "not a valid DNS name",
        ),
        (
            "domain:\n  name: chat.example.com\n  zone: example.org\n",
            (7, 9, "domain.zone"),
            "not in zone `example.org`",
        ),
        (
            "domain:\n  name: chat.example.com\n  websocket: ws.other.com\n  zone: example.com\n",
            (8, 9, "domain.zone"),
            "`ws.other.com` is not in zone",
        ),
        ("domain:\n  name: chat.example.com\n  zone: ex_ample.com\n", (7, 9, "domain.zone"), "not a valid DNS name"),
        ("domain:\n  name: chat.example.com\nwebsite:\n  cdn: false\n", (6, 9, "domain.name"), "website.cdn: true"),
    ];
    for (yaml, (line, column, field), message) in cases {
        let e = project.error(&format!("{MINIMAL}{yaml}"));
        assert_eq!((e.line, e.column, e.field.as_str()), (line, column, field), "{yaml}: {e:?}");
        assert!(e.message.contains(message), "{yaml}: {e:?}");
    }
    // 64 characters, ACM's most for a certificate's first name.
    project
        .parse(&format!("{MINIMAL}domain:\n  name: e-website-of-a-chat-with-a-rather-long-name-for-acms.example.com\n"))
        .unwrap();
    let e = project.error(&format!("{MINIMAL}domain:\n  name: chat.example.com\n  zones: example.com\n"));
    assert!(e.message.contains("unknown field `zones`"), "{e:?}");
}

#[test]
fn outside_us_east_1_the_websocket_name_is_a_first_name_too() {
    let project = Project::new();
    // 65 characters: a SAN of the one us-east-1 certificate, or the first
    // name of the API's own certificate anywhere else.
    let ws = "ws-for-a-chat-whose-websocket-name-is-too-long-for-ac.example.com";
    assert_eq!(ws.len(), 65);
    let domain = format!("domain:\n  name: chat.example.com\n  websocket: {ws}\n");
    let text = format!("{MINIMAL}{domain}");
    std::fs::write(project.dir.path().join("stack.yaml"), &text).unwrap();
    let stack = project.parse(&text).unwrap();
    stack.check_region("us-east-1").unwrap();
    let errors = stack.check_region("eu-west-1").expect_err("a 65-character first name").errors;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    assert_eq!((e.line, e.column, e.field.as_str()), (7, 14, "domain.websocket"), "{e:?}");
    assert!(e.message.contains("has 65 characters") && e.message.contains("(in eu-west-1)"), "{e:?}");
    // With `region` in stack.yaml, loading says so.
    let e = project.error(&format!("region: eu-west-1\n{MINIMAL}{domain}"));
    assert_eq!((e.line, e.column, e.field.as_str()), (8, 14, "domain.websocket"), "{e:?}");
    project.parse(&format!("region: us-east-1\n{MINIMAL}{domain}")).unwrap();
}

#[test]
fn dns_names_follow_the_rules_acm_and_route_53_share() {
    for good in ["example.com", "chat.example.com", "a-b.c9.example.co.uk", "xn--bcher-kva.example"] {
        assert_eq!(check_dns_name(good), Ok(()), "{good}");
    }
    let long_label = format!("{}.com", "a".repeat(64));
    let long_name = format!("{}com", "abcdefghi.".repeat(26));
    for bad in
        ["", "com", "-a.com", "a-.com", "a..com", "A.com", "a_b.com", "*.a.com", "a.com.", &long_label, &long_name]
    {
        assert!(check_dns_name(bad).is_err(), "{bad}");
    }
    assert!(in_zone("chat.example.com", "example.com") && in_zone("example.com", "example.com"));
    assert!(!in_zone("chatexample.com", "example.com"));
}

#[test]
fn ping_is_answered_by_api_gateway_by_default_and_in_the_shipped_stack() {
    let pong = Route { target: Target::Mock(r#"{"type":"pong"}"#.into()), schema: None, throttle: None }
        .throttled(1000.0, 2000);
    assert_eq!(Project::new().parse(MINIMAL).unwrap().api.routes[PING_ROUTE], pong);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shipped = load(&root.join("stack.yaml"), "dev").unwrap();
    assert_eq!(shipped.api.routes[PING_ROUTE], pong);
    assert_eq!((pong.function(), pong.mock()), (None, Some(r#"{"type":"pong"}"#)));
}

/// A stack whose routes are `$connect: chat` and `line` (the 8th line).
fn with_route(line: &str) -> String {
    format!("{MINIMAL}api:\n  routes:\n    $connect: chat\n{line}\n")
}

#[test]
fn a_mock_route_takes_its_body_as_written() {
    let stack =
        Project::new().parse(&with_route(r#"    ping: { mock: 'pong #1' }"#.replace('#', "n").as_str())).unwrap();
    assert_eq!(stack.api.routes["ping"].mock(), Some("pong n1"));
    let body = "x".repeat(MAX_MOCK_BYTES);
    let stack = Project::new().parse(&with_route(&format!("    $default: {{ mock: '{body}' }}"))).unwrap();
    assert_eq!(stack.api.routes["$default"].mock().map(str::len), Some(32 * 1024));
}

#[test]
fn a_mock_route_is_refused_on_connect_beside_a_function_or_schema_or_with_a_bad_body() {
    let project = Project::new();
    // Each error is at the value it is about (`at`, in the line).
    for (line, at, field, says) in [
        ("    $disconnect: { mock: 'bye' }", "'bye'", "api.routes.$disconnect.mock", "carries no frame to answer"),
        ("    ping: { function: chat, mock: 'x' }", "chat", "api.routes.ping.function", "remove `function` or `mock`"),
        (
            "    ping: { mock: 'x', schema: schemas/send.json }",
            "schemas/",
            "api.routes.ping.schema",
            "remove `schema` or `mock`",
        ),
        ("    ping: { mock: '' }", "''", "api.routes.ping.mock", "an empty body"),
        ("    ping: { mock: '{\"n\": \"$x\"}' }", "'{", "api.routes.ping.mock", "has `$`"),
        ("    ping: { mock: '#set' }", "'#", "api.routes.ping.mock", "has `#`"),
    ] {
        let e = project.error(&with_route(line));
        let column = line.find(at).unwrap() + 1;
        assert_eq!((e.line, e.column, e.field.as_str()), (8, column, field), "{line}: {e:?}");
        assert!(e.message.contains(says), "{line}: {e:?}");
    }
    let long = format!("    ping: {{ mock: '{}' }}", "x".repeat(MAX_MOCK_BYTES + 1));
    let e = project.error(&with_route(&long));
    assert_eq!((e.line, e.field.as_str()), (8, "api.routes.ping.mock"));
    assert!(e.message.contains("32769 bytes") && e.message.contains("at most 32768"), "{e:?}");
    // Neither a function nor a body: serde says what is missing, where.
    let e = project.error(&with_route("    ping: { schema: schemas/send.json }"));
    assert_eq!(e.line, 8, "{e:?}");
    assert!(e.message.contains("missing required field `function`"), "{e:?}");
}

#[test]
fn a_function_that_serves_only_a_queue_beside_mock_routes_is_still_valid() {
    let text = format!(
        "{MINIMAL}api:\n  routes:\n    $connect: chat\n    $default: chat\n    ping: {{ mock: '{{\"type\":\"pong\"}}' }}\n"
    );
    let stack = Project::new().parse(&text).unwrap();
    let functions: Vec<Option<&str>> = stack.api.routes.values().map(Route::function).collect();
    assert_eq!(functions, [Some("chat"), Some("chat"), None]);
}

#[test]
fn presence_defaults_to_100_and_is_checked_with_its_position() {
    let project = Project::new();
    assert_eq!(project.parse(MINIMAL).unwrap().chat.presence, 100);
    for (value, ok) in [(0, true), (100_000, true), (-1, false), (100_001, false)] {
        let text = format!("{MINIMAL}chat:\n  presence: {value}\n");
        match project.parse(&text) {
            Ok(stack) => {
                assert!(ok, "{value} passed");
                assert_eq!(stack.chat.presence, value);
            }
            Err(errors) => {
                assert!(!ok, "{value}: {errors}");
                let e = &errors.errors[0];
                assert_eq!((e.line, e.column, e.field.as_str()), (6, 13, "chat.presence"), "{e:?}");
                assert!(e.message.contains("0..=100000"), "{e:?}");
            }
        }
    }
    let e = project.error(&format!("{MINIMAL}chat:\n  presence: many\n"));
    assert_eq!((e.line, e.field.as_str()), (6, "chat.presence"), "{e:?}");
}

#[test]
fn the_presence_table_is_named_after_the_stack_and_stage() {
    let stack = Project::new().parse(MINIMAL).unwrap();
    assert_eq!(stack.presence_table_name(), "wschat-dev-presence");
    assert_eq!(
        stack.arns("aws", "eu-west-1", "123456789012").presence_table(),
        "arn:aws:dynamodb:eu-west-1:123456789012:table/wschat-dev-presence"
    );
}

#[test]
fn a_route_takes_a_throttle_of_its_own_and_others_take_api_throttle() {
    let project = Project::new();
    let stack = project
        .parse(&with_route("    typing: { function: chat, throttle: { rate: 20, burst: 50 } }\n    list: chat"))
        .unwrap();
    assert_eq!(stack.api.routes["typing"].throttle, Some(Throttle { rate: 20.0, burst: 50 }));
    assert_eq!(stack.api.throttle_of("typing"), Throttle { rate: 20.0, burst: 50 });
    assert_eq!(stack.api.routes["list"].throttle, None);
    assert_eq!(stack.api.throttle_of("list"), Throttle { rate: 200.0, burst: 400 }, "api.throttle's default");
    assert_eq!(stack.api.throttle_of("$connect"), stack.api.throttle);
    // A mock route takes one too.
    let stack = project.parse(&with_route("    ping: { mock: 'pong', throttle: { rate: 5, burst: 0 } }")).unwrap();
    assert_eq!(stack.api.throttle_of("ping"), Throttle { rate: 5.0, burst: 0 });
}

#[test]
fn a_routes_throttle_is_checked_like_api_throttle_with_its_position() {
    let project = Project::new();
    let e = project.error(&with_route("    typing: { function: chat, throttle: { rate: 0, burst: 50 } }"));
    assert_eq!((e.line, e.column, e.field.as_str()), (8, 49, "api.routes.typing.throttle.rate"), "{e:?}");
    assert!(e.message.contains("0 < rate <= 10000"), "{e:?}");
    let e = project.error(&with_route("    typing: { function: chat, throttle: { rate: 10, burst: 5001 } }"));
    assert_eq!((e.line, e.field.as_str()), (8, "api.routes.typing.throttle.burst"), "{e:?}");
    assert!(e.message.contains("0..=5000"), "{e:?}");
    // Both numbers: an entry without one would take API Gateway's own limits.
    let e = project.error(&with_route("    typing: { function: chat, throttle: { rate: 10 } }"));
    assert!(e.message.contains("missing required field `burst`"), "{e:?}");
    let e = project.error(&with_route("    typing: { function: chat, throttle: { rate: 10, burst: 5, size: 1 } }"));
    assert!(e.message.contains("unknown field `size`"), "{e:?}");
    let e = project.error(&with_route("    $disconnect: { function: chat, throttle: { rate: 10, burst: 5 } }"));
    assert_eq!(e.field, "api.routes.$disconnect.throttle", "{e:?}");
    assert!(e.message.contains("nothing can refuse it"), "{e:?}");
}

#[test]
fn the_shipped_throttles_are_in_stack_yaml_and_the_default_routes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shipped = load(&root.join("stack.yaml"), "dev").unwrap();
    let defaults = Project::new().parse(MINIMAL).unwrap();
    for stack in [&shipped, &defaults] {
        assert_eq!(stack.api.throttle, Throttle { rate: 200.0, burst: 400 });
        let own: Vec<(&str, Throttle)> =
            stack.api.routes.iter().filter_map(|(key, r)| Some((key.as_str(), r.throttle?))).collect();
        let mut want = SHIPPED_THROTTLES.to_vec();
        want.sort_by_key(|(key, _)| *key);
        assert_eq!(own, want);
    }
}

/// API Gateway counts a route, not a client: chat-core can close a flooder
/// only if the route lets more of its frames through than its own limit
/// admits (else the script holds the route and is never refused), and at
/// once its first blast if the route's burst holds the client's burst and
/// `close_after` more. Every shipped route the chat function serves does.
#[test]
fn the_shipped_throttles_let_chat_limits_close_a_flooder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let stack = load(&root.join("stack.yaml"), "dev").unwrap();
    let limits = stack.chat.limits();
    for key in
        stack.api.routes.iter().filter(|(key, r)| r.function().is_some() && !key.starts_with('$')).map(|(key, _)| key)
    {
        let client = chat_core::limits::Bucket::of(chat_core::protocol::Action::from_name(key)).rate(&limits);
        let throttle = stack.api.throttle_of(key);
        let burst = client.burst + limits.close_after;
        assert!(throttle.rate > client.per_second, "{key}: {} a second; a client may send {}", throttle.rate, client);
        assert!(
            throttle.burst as u32 >= burst,
            "{key}: a burst of {}; a blast is closed at once with {burst}",
            throttle.burst
        );
    }
    // `$default` too (every frame that names no route).
    assert!(stack.api.throttle_of("$default").rate > limits.frames.per_second);
}

#[test]
fn chat_limits_default_to_chat_cores_and_take_each_value() {
    let project = Project::new();
    assert_eq!(project.parse(MINIMAL).unwrap().chat.limits(), chat_core::limits::DEFAULT_LIMITS);
    let text = format!(
        "{MINIMAL}chat:\n  limits:\n    messages: {{ rate: 0.5 }}\n    frames: {{ rate: 20, burst: 100 }}\n    close_after: 3\n    cooldown: 600\n"
    );
    let limits = project.parse(&text).unwrap().chat.limits();
    let d = chat_core::limits::DEFAULT_LIMITS;
    assert_eq!(
        limits,
        chat_core::limits::Limits {
            messages: chat_core::limits::Rate { per_second: 0.5, burst: d.messages.burst },
            frames: chat_core::limits::Rate { per_second: 20.0, burst: 100 },
            close_after: 3,
            cooldown_seconds: 600,
        }
    );
}

#[test]
fn bad_chat_limits_name_their_position() {
    let project = Project::new();
    let text = format!(
        "{MINIMAL}chat:\n  limits:\n    messages: {{ rate: 0, burst: 0 }}\n    frames: {{ rate: 1001 }}\n    close_after: 0\n    cooldown: 86401\n"
    );
    let errors = project.parse(&text).unwrap_err().errors;
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (7, "chat.limits.messages.rate"),
            (7, "chat.limits.messages.burst"),
            (8, "chat.limits.frames.rate"),
            (9, "chat.limits.close_after"),
            (10, "chat.limits.cooldown"),
        ],
        "{errors:#?}"
    );
    assert!(errors[0].message.contains("0.01..=1000"), "{errors:#?}");
    assert!(errors[1].message.contains("1..=10000"), "{errors:#?}");
    assert!(errors[3].message.contains("1..=1000"), "{errors:#?}");
    assert!(errors[4].message.contains("0..=86400"), "{errors:#?}");
    let e = project.error(&format!("{MINIMAL}chat:\n  limits:\n    frames: {{ rate: 1, size: 2 }}\n"));
    assert!(e.message.contains("unknown field `size`"), "{e:?}");
    assert!(e.field.starts_with("chat.limits"), "{e:?}");
}

#[test]
fn observability_is_on_by_default_and_takes_a_switch_or_its_settings() {
    let project = Project::new();
    let on = Observability {
        alarms: true,
        dashboard: true,
        alarm_email: None,
        fanout_p99_ms: 10_000,
        concurrency_quota: 1_000,
    };
    assert_eq!(project.parse(MINIMAL).unwrap().observability, on);
    for (yaml, want) in [
        ("false", Observability { alarms: false, dashboard: false, ..on.clone() }),
        ("true", on.clone()),
        ("{ dashboard: false }", Observability { dashboard: false, ..on.clone() }),
        (
            "\n  alarm_email: Ops@Example.COM\n  fanout_p99_ms: 2500",
            Observability { alarm_email: Some("Ops@Example.COM".into()), fanout_p99_ms: 2500, ..on.clone() },
        ),
    ] {
        let stack = project.parse(&format!("{MINIMAL}observability: {yaml}\n")).unwrap();
        assert_eq!(stack.observability, want, "observability: {yaml}");
    }
    let stack = project.parse(MINIMAL).unwrap();
    assert_eq!(stack.alarm_topic_name(), "wschat-dev-alarms");
    assert_eq!(stack.alarm_name("dead-letters"), "wschat-dev-dead-letters");
    assert_eq!(stack.dashboard_name(), "wschat-dev");
    let arns = stack.arns("aws", "eu-west-1", "123456789012");
    assert_eq!(arns.alarm_topic(), "arn:aws:sns:eu-west-1:123456789012:wschat-dev-alarms");
    assert_eq!(arns.alarm("queue-age"), "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:wschat-dev-queue-age");
}

#[test]
fn bad_observability_settings_name_their_position() {
    let project = Project::new();
    for (yaml, line, column, field, says) in [
        ("  alarm_email: ops\n", 6, 16, "observability.alarm_email", "is not an e-mail address"),
        ("  alarm_email: 'a b@example.com'\n", 6, 16, "observability.alarm_email", "is not an e-mail address"),
        ("  alarm_email: ops@localhost\n", 6, 16, "observability.alarm_email", "is not an e-mail address"),
        ("  alarms: false\n  alarm_email: ops@example.com\n", 7, 16, "observability.alarm_email", "`alarms` is off"),
        ("  fanout_p99_ms: 50\n", 6, 18, "observability.fanout_p99_ms", "100..=900000"),
        ("  alarm: true\n", 6, 3, "observability", "unknown field `alarm`"),
    ] {
        let e = project.error(&format!("{MINIMAL}observability:\n{yaml}"));
        assert_eq!((e.line, e.column, e.field.as_str()), (line, column, field), "{yaml}: {e:?}");
        assert!(e.message.contains(says), "{yaml}: {e:?}");
    }
    let e = project.error(&format!("{MINIMAL}observability: 3\n"));
    assert!(e.message.contains("expected `false`, `true` or a map"), "{e:?}");
}
