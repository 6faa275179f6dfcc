//! The lifecycle: deploy from empty, redeploy, change, drift, destroy.

use serde_json::{Value, json};
use test_support::{ACCOUNT_ID, REGION};

use super::{Cloud, Inventory, Project, changes, deploy, deployed, json, model, mutating, report_ids, run, sdk};

/// Every `Resource` of every statement of a policy document.
fn resources(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Resource"] {
            Value::Array(list) => list.iter().map(|r| r.as_str().unwrap().to_string()).collect(),
            Value::String(one) => vec![one.clone()],
            other => panic!("unexpected Resource {other}"),
        })
        .collect()
}

/// The actions granted on `resource`, sorted.
fn actions_on(policy: &Value, resource: &str) -> Vec<String> {
    let mut out: Vec<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Resource"].as_array().unwrap().iter().any(|r| r == resource))
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

fn actions(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn deploy_from_empty_creates_every_resource_as_stack_yaml_says() {
    let cloud = Cloud::shared();
    let project = Project::new("lc-create");
    let report = deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let mut inv = Inventory::read(&aws, "lc-create", "dev").await;
    inv.read_route_responses(&cloud.through_proxy().await, &aws).await;
    inv.assert_no_duplicates();
    let api = inv.api_id();
    let p = "lc-create-dev";
    let arn = |service: &str, rest: &str| format!("arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{rest}");

    // The report: URL, counts, waves.
    assert_eq!(report["urls"]["websocket"], format!("wss://{api}.execute-api.{REGION}.amazonaws.com/dev"));
    // 39 backend resources (with the four tables, the one route model,
    // LambdaSharp's `send`, and `ping`'s MOCK integration, integration
    // response and route response), and the website's bucket, files, OAC,
    // distribution and bucket policy; and the alarm topic, the eight alarms
    // and the dashboard.
    assert_eq!(report["counts"]["create"], 54, "{report:#}");
    assert_eq!(report["counts"]["unchanged"], 0);
    // The stage waits for the routes its route settings name.
    assert_eq!(report["waves"], 6);
    assert!(mutating(&report) >= 54);

    let want_tags = |tags: &Value| {
        assert_eq!(tags["wschat:stack"], "lc-create", "{tags}");
        assert_eq!(tags["wschat:stage"], "dev", "{tags}");
        assert_eq!(tags["project"], "wschat", "{tags}");
    };

    // DynamoDB.
    let table = inv.table.as_ref().expect("table");
    assert_eq!(table["billing"], "PAY_PER_REQUEST");
    assert_eq!(table["keys"], json!(["connectionId HASH"]));
    assert_eq!(
        table["indexes"],
        json!([{"name": "room-index", "keys": ["room HASH", "connectionId RANGE"], "projection": "ALL"}])
    );
    assert_eq!(table["ttl_status"], "ENABLED");
    assert_eq!(table["ttl_attribute"], "expiresAt");
    want_tags(&table["tags"]);
    // The keyed tables, each on demand, without an index, expiring, and
    // tagged as the connections table: the delivery ledger (a shard's
    // parts), the history (a conversation's messages in time order) and
    // presence (count buckets and digests, by key and part).
    for (what, keyed, keys, attributes) in [
        (
            "the delivery ledger table",
            &inv.deliveries,
            json!(["shard HASH", "part RANGE"]),
            json!({"shard": "S", "part": "N"}),
        ),
        (
            "the messages table",
            &inv.messages,
            json!(["conversation HASH", "id RANGE"]),
            json!({"conversation": "S", "id": "S"}),
        ),
        ("the presence table", &inv.presence, json!(["key HASH", "part RANGE"]), json!({"key": "S", "part": "N"})),
    ] {
        let keyed = keyed.as_ref().expect(what);
        assert_eq!(keyed["billing"], "PAY_PER_REQUEST", "{what}");
        assert_eq!(keyed["keys"], keys, "{what}");
        assert_eq!(keyed["attributes"], attributes, "{what}");
        assert_eq!(keyed["indexes"], json!([]), "{what}");
        assert_eq!(keyed["ttl_status"], "ENABLED", "{what}");
        assert_eq!(keyed["ttl_attribute"], "expiresAt", "{what}");
        want_tags(&keyed["tags"]);
        assert_eq!(keyed["tags"], table["tags"], "{what}");
    }

    // SQS.
    let queue = inv.queue.as_ref().expect("queue");
    let dlq = inv.dlq.as_ref().expect("dlq");
    assert_eq!(queue["attributes"]["VisibilityTimeout"], "60");
    assert_eq!(queue["attributes"]["DelaySeconds"], "0");
    let redrive: Value = serde_json::from_str(queue["attributes"]["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], arn("sqs", &format!("{p}-notifications-dlq")));
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "5");
    assert_eq!(dlq["attributes"]["MessageRetentionPeriod"], "1209600");
    want_tags(&queue["tags"]);
    want_tags(&dlq["tags"]);
    let queue_url = queue["url"].as_str().unwrap();

    // Lambda.
    for (function, sha) in [("chat", project.zip_sha("chat")), ("notify", project.zip_sha("notify"))] {
        let f = &inv.functions[function];
        assert_eq!(f["runtime"], "provided.al2023");
        assert_eq!(f["handler"], "bootstrap");
        assert_eq!(f["architectures"], json!(["x86_64"]));
        assert_eq!(f["memory"], 256);
        assert_eq!(f["timeout"], 10);
        assert_eq!(f["role"], format!("arn:aws:iam::{ACCOUNT_ID}:role/wschat/lc-create/dev/{p}-{function}"));
        assert_eq!(f["code_sha256"], sha);
        want_tags(&f["tags"]);
        let env = &f["environment"];
        assert_eq!(env["WSCHAT_TABLE"], format!("{p}-connections"));
        assert_eq!(env["WSCHAT_QUEUE_URL"], queue_url);
        assert_eq!(env["WSCHAT_FANOUT_CONCURRENCY"], "32");
        assert_eq!(env["WSCHAT_WELCOME_DELAY"], "1");
        assert_eq!(env["WSCHAT_TTL_ATTRIBUTE"], "expiresAt");
        // Both count and digest presence, with chat.presence's default.
        assert_eq!(env["WSCHAT_PRESENCE_TABLE"], format!("{p}-presence"));
        assert_eq!(env["WSCHAT_PRESENCE"], "100");
        // Their metrics, one namespace per stack and stage.
        assert_eq!(env["WSCHAT_METRICS_NAMESPACE"], format!("wschat/{p}"));
    }
    // Only the queue's consumer fans out.
    let notify_env = &inv.functions["notify"]["environment"];
    assert_eq!(notify_env["WSCHAT_SHARD_SIZE"], "500");
    assert_eq!(notify_env["WSCHAT_POST_RATE"], "9000");
    assert_eq!(notify_env["WSCHAT_MAX_CONCURRENCY"], "10");
    assert_eq!(notify_env["WSCHAT_BATCH_SIZE"], "10");
    assert_eq!(notify_env["WSCHAT_DELIVERIES_TABLE"], format!("{p}-deliveries"));
    // Only the route handler keeps and reads the history.
    let chat_env = &inv.functions["chat"]["environment"];
    assert_eq!(chat_env["WSCHAT_MESSAGES_TABLE"], format!("{p}-messages"));
    assert_eq!((&chat_env["WSCHAT_HISTORY_MESSAGES"], &chat_env["WSCHAT_HISTORY_DAYS"]), (&json!("50"), &json!("7")));
    for var in ["WSCHAT_MESSAGES_TABLE", "WSCHAT_HISTORY_MESSAGES", "WSCHAT_HISTORY_DAYS"] {
        assert!(notify_env.get(var).is_none(), "{var} on notify: {notify_env:#}");
    }
    for var in [
        "WSCHAT_SHARD_SIZE",
        "WSCHAT_POST_RATE",
        "WSCHAT_MAX_CONCURRENCY",
        "WSCHAT_BATCH_SIZE",
        "WSCHAT_DELIVERIES_TABLE",
    ] {
        assert!(chat_env.get(var).is_none(), "{var} on the chat function");
    }
    // Only the route handler admits frames against chat.limits (chat-core's defaults).
    let limits = [
        ("WSCHAT_MESSAGE_RATE", "2"),
        ("WSCHAT_MESSAGE_BURST", "20"),
        ("WSCHAT_FRAME_RATE", "10"),
        ("WSCHAT_FRAME_BURST", "50"),
        ("WSCHAT_CLOSE_AFTER", "10"),
        ("WSCHAT_COOLDOWN", "60"),
    ];
    for (var, value) in limits {
        assert_eq!(chat_env[var], value, "{var}");
        assert!(notify_env.get(var).is_none(), "{var} on notify");
    }
    assert_eq!(
        inv.functions["notify"]["environment"]["WSCHAT_MANAGEMENT_ENDPOINT"],
        format!("https://{api}.execute-api.{REGION}.amazonaws.com/dev")
    );
    assert!(inv.functions["chat"]["environment"].get("WSCHAT_MANAGEMENT_ENDPOINT").is_none());
    assert_eq!(inv.mappings.len(), 1, "only notify consumes the queue: {:#?}", inv.mappings);
    let mapping = &inv.mappings["notify"][0];
    assert_eq!(mapping["source"], arn("sqs", &format!("{p}-notifications")));
    assert_eq!(mapping["batch"], 10);
    assert_eq!(mapping["response_types"], json!(["ReportBatchItemFailures"]));
    // ScalingConfig, as Lambda (moto) reports it: chat.max_concurrency's default.
    assert_eq!(mapping["maximum_concurrency"], 10);
    assert_eq!(inv.permissions.len(), 1, "only chat serves routes: {:#?}", inv.permissions);
    let statement = &inv.permissions["chat"][0];
    assert_eq!(statement["Principal"]["Service"], "apigateway.amazonaws.com");
    assert_eq!(statement["Action"], "lambda:InvokeFunction");
    assert_eq!(statement["Condition"]["ArnLike"]["AWS:SourceArn"], arn("execute-api", &format!("{api}/dev/*")));

    // IAM: exact ARNs, nothing wider, and only what each function does.
    for function in ["chat", "notify"] {
        let role = &inv.roles[&format!("{p}-{function}")];
        assert_eq!(role["trust"]["Statement"][0]["Principal"]["Service"], "lambda.amazonaws.com");
        assert_eq!(role["trust"]["Statement"][0]["Action"], "sts:AssumeRole");
        want_tags(&role["tags"]);
        let policies = role["policies"].as_object().unwrap();
        assert_eq!(policies.len(), 1, "{policies:#?}");
        let policy = &policies[&format!("{p}-{function}")];
        let mut got = resources(policy);
        got.sort();
        got.dedup();
        let connections = arn("dynamodb", &format!("table/{p}-connections"));
        let deliveries = arn("dynamodb", &format!("table/{p}-deliveries"));
        let messages = arn("dynamodb", &format!("table/{p}-messages"));
        let presence = arn("dynamodb", &format!("table/{p}-presence"));
        let queue = arn("sqs", &format!("{p}-notifications"));
        let (posts, closes) = (
            arn("execute-api", &format!("{api}/dev/POST/@connections/*")),
            arn("execute-api", &format!("{api}/dev/DELETE/@connections/*")),
        );
        let mut want = vec![
            connections.clone(),
            presence.clone(),
            arn("dynamodb", &format!("table/{p}-connections/index/room-index")),
            queue.clone(),
            posts.clone(),
            arn("logs", &format!("log-group:/aws/lambda/{p}-{function}:*")),
        ];
        // Only the queue's consumer keeps the delivery ledger; only the route
        // handler closes a flooder (DELETE @connections).
        if function == "notify" {
            want.push(deliveries.clone());
        } else {
            want.extend([messages.clone(), closes.clone()]);
        }
        want.sort();
        assert_eq!(got, want, "{function}: {policy:#}");
        let actions = actions(policy);
        assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}");
        assert!(actions.contains(&"execute-api:ManageConnections".to_string()));
        // Both send to the queue: chat its notifications, notify the shards of a big one.
        let (sends, receives) =
            (actions.contains(&"sqs:SendMessage".to_string()), actions.contains(&"sqs:ReceiveMessage".to_string()));
        assert_eq!((sends, receives), if function == "chat" { (true, false) } else { (true, true) }, "{function}");
        assert!(actions_on(policy, &queue).contains(&"sqs:SendMessage".to_string()), "{function}: {policy:#}");
        // Only the route handler writes connection rows; notify reads them,
        // deletes stale ones and reads the item count (DescribeTable).
        let on_table = actions_on(policy, &connections);
        let want_table: &[&str] = if function == "chat" {
            &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"]
        } else {
            &["dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Scan"]
        };
        assert_eq!(on_table, want_table, "{function}: {policy:#}");
        let on_ledger = actions_on(policy, &deliveries);
        let want_ledger: &[&str] = if function == "chat" { &[] } else { &["dynamodb:PutItem", "dynamodb:Query"] };
        assert_eq!(on_ledger, want_ledger, "{function}: {policy:#}");
        let on_messages = actions_on(policy, &messages);
        let want_messages: &[&str] =
            if function == "chat" { &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"] } else { &[] };
        assert_eq!(on_messages, want_messages, "{function}: {policy:#}");
        assert_eq!(actions_on(policy, &posts), ["execute-api:ManageConnections"], "{function}: {policy:#}");
        let on_presence = actions_on(policy, &presence);
        // The route handler also bans a flooder it closes (PutItem).
        let want_presence: &[&str] = if function == "chat" {
            &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
        } else {
            &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]
        };
        assert_eq!(on_presence, want_presence, "{function}: {policy:#}");
    }

    // API Gateway.
    assert_eq!(inv.apis[0]["name"], p);
    assert_eq!(inv.apis[0]["protocol"], "WEBSOCKET");
    assert_eq!(inv.apis[0]["route_selection"], "$request.body.action");
    want_tags(&inv.apis[0]["tags"]);
    assert_eq!(inv.integrations.len(), 2, "chat's, and ping's MOCK: {:#?}", inv.integrations);
    let integration = inv.integrations_of("AWS_PROXY")[0];
    assert_eq!(integration["method"], "POST");
    assert_eq!(
        integration["uri"],
        format!(
            "arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{}/invocations",
            arn("lambda", &format!("function:{p}-chat"))
        )
    );
    let target = format!("integrations/{}", integration["id"].as_str().unwrap());
    let model_ids = report_ids(&report, "model");
    assert_eq!(model_ids.len(), 1, "{report:#}");
    let stack: serde_norway::Value = serde_norway::from_str(&project.stack()).unwrap();
    let mut keys: Vec<String> =
        stack["api"]["routes"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_string()).collect();
    keys.sort();
    assert_eq!(inv.route_keys(), keys);
    // `ping`: API Gateway answers it itself. Its MOCK integration answers
    // 200 whatever the frame holds, its integration response sends the
    // pong, and its route response sends that back: the route is two-way.
    let mock = inv.target_of("ping");
    assert_eq!(mock["type"], "MOCK", "{mock:#}");
    assert_eq!(mock["request_templates"], json!({"$default": "{\"statusCode\": 200}"}));
    assert_eq!(mock["template_selection"], "\\$default");
    let responses = mock["responses"].as_array().unwrap();
    assert_eq!(responses.len(), 1, "{mock:#}");
    assert_eq!(responses[0]["key"], "$default");
    assert_eq!(responses[0]["templates"], json!({"$default": "{\"type\":\"pong\"}"}));
    assert_eq!(responses[0]["template_selection"], "\\$default");
    assert_eq!(inv.route("ping")["response_selection"], "$default");
    let route_responses: Vec<(&String, Vec<&Value>)> =
        inv.route_responses.iter().map(|(k, r)| (k, r.iter().map(|r| &r["key"]).collect())).collect();
    assert_eq!(route_responses, [(&"ping".to_string(), vec![&json!("$default")])], "only ping is two-way");
    for route in inv.routes.iter().filter(|r| r["key"] != "ping") {
        let key = route["key"].as_str().unwrap();
        assert_eq!(route["target"], target, "{key}");
        assert_eq!(route["response_selection"], Value::Null, "{key}: one-way");
        assert_eq!(route["authorization"], "NONE", "{key}");
        let schema = stack["api"]["routes"][key]["schema"].as_str();
        match schema {
            None => assert_eq!(route["models"], json!({}), "{key}"),
            Some(file) => {
                let name = route["models"]["$default"].as_str().unwrap_or_else(|| panic!("{key} has no model"));
                assert_eq!(route["model_selection"], "$request.body.action", "{key}");
                let want: Value =
                    serde_json::from_str(&std::fs::read_to_string(project.path().join(file)).unwrap()).unwrap();
                assert_eq!(model(&aws, &api, &model_ids[name]).await, (name.to_string(), want), "{key}");
            }
        }
    }
    assert_eq!(inv.stages.len(), 1);
    let stage = &inv.stages[0];
    assert_eq!(stage["name"], "dev");
    assert_eq!(stage["auto_deploy"], true);
    // Every route's default, and the routes with a throttle of their own.
    assert_eq!(stage["rate"], 200.0);
    assert_eq!(stage["burst"], 400);
    assert_eq!(
        stage["routes"],
        json!({
            "$connect": [500.0, 500],
            "send": [5.0, 100],
            "sendmessage": [5.0, 100],
            "post": [5.0, 100],
            "broadcast": [5.0, 100],
            "typing": [15.0, 100],
            "rename": [5.0, 100],
            "list": [500.0, 1000],
            "history": [500.0, 1000],
            "ping": [1000.0, 2000],
        })
    );
    want_tags(&stage["tags"]);

    // Logs.
    assert_eq!(inv.log_groups.len(), 2);
    for group in &inv.log_groups {
        assert_eq!(group["retention"], 30);
        want_tags(&group["tags"]);
    }

    // Observability: the topic, without a subscriber (no alarm_email).
    let topic = inv.topic.as_ref().expect("the alarm topic");
    want_tags(&topic["tags"]);
    assert_eq!(topic["subscriptions"], json!([]));
    let topic_arn = arn("sns", &format!("{p}-alarms"));
    assert_eq!(topic["arn"], topic_arn.as_str());
    let keys: Vec<&str> = inv.alarms.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "chat-errors",
            "concurrency",
            "dead-letters",
            "fanout-p99",
            "notify-errors",
            "posts-throttle",
            "queue-age",
            "throttles"
        ]
    );
    for (key, alarm) in &inv.alarms {
        want_tags(&alarm["tags"]);
        assert_eq!(alarm["actions"], json!([topic_arn]), "{key} notifies the topic");
        assert_eq!(alarm["ok_actions"], json!([topic_arn]), "{key} says when it is over");
        assert_eq!(alarm["treat_missing_data"], "notBreaching", "{key}: a quiet chat is a healthy one");
        assert!(alarm["description"].as_str().unwrap().len() > 80, "{key} says what to do: {alarm:#}");
    }
    // A poison notice in the dead-letter queue raises its alarm within 5
    // minutes: the first minute SQS's metric shows it is enough.
    let dead = &inv.alarms["dead-letters"];
    assert_eq!(
        (&dead["namespace"], &dead["metric"], &dead["statistic"]),
        (&json!("AWS/SQS"), &json!("ApproximateNumberOfMessagesVisible"), &json!("Maximum"))
    );
    assert_eq!(dead["dimensions"], json!({ "QueueName": format!("{p}-notifications-dlq") }));
    assert_eq!((&dead["comparison"], &dead["threshold"]), (&json!("GreaterThanThreshold"), &json!(0.0)));
    let period = dead["period"].as_i64().unwrap();
    assert!(period * dead["datapoints_to_alarm"].as_i64().unwrap() <= 300, "{dead:#}");
    assert!(dead["description"].as_str().unwrap().contains("wschat logs notify"), "{dead:#}");
    let notify = &inv.alarms["notify-errors"];
    assert_eq!(notify["dimensions"], json!({ "FunctionName": format!("{p}-notify") }));
    let p99 = &inv.alarms["fanout-p99"];
    assert_eq!((&p99["namespace"], &p99["statistic"]), (&json!(format!("wschat/{p}")), &json!("p99")));
    assert_eq!(p99["threshold"], 10_000.0);
    // Throttles of both functions, summed by metric math.
    let throttles = &inv.alarms["throttles"];
    let inputs: Vec<&Value> =
        throttles["metrics"].as_array().unwrap().iter().filter(|m| m["metric"] == "Throttles").collect();
    assert_eq!(inputs.len(), 2, "{throttles:#}");
    // The dashboard: its widgets name this stack's API, functions and queues.
    let dashboard = inv.dashboard.as_ref().expect("the dashboard");
    let text = dashboard.to_string();
    for name in [api.as_str(), &format!("{p}-notify"), &format!("{p}-chat"), &format!("{p}-notifications-dlq")] {
        assert!(text.contains(name), "the dashboard does not show {name}: {dashboard:#}");
    }
    let widgets = dashboard["widgets"].as_array().unwrap();
    assert!(widgets.iter().any(|w| w["properties"]["title"] == "People online"), "{dashboard:#}");
    let alarm_widget = widgets.iter().find(|w| w["type"] == "alarm").expect("an alarm widget");
    assert_eq!(alarm_widget["properties"]["alarms"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn a_second_deploy_makes_no_mutating_call_and_plan_says_no_changes() {
    let (cloud, project, aws, before) = deployed("lc-again").await;

    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "a no-op deploy mutated: {again:#}");
    assert_eq!(again["counts"]["unchanged"], 54);
    assert_eq!(again["waves"], 0);
    assert_eq!(changes(&again), Vec::<String>::new());
    let api = before.api_id();
    assert_eq!(again["urls"]["websocket"], format!("wss://{api}.execute-api.{REGION}.amazonaws.com/dev"));
    assert_eq!(Inventory::read(&aws, "lc-again", "dev").await, before, "a no-op deploy changed something");

    let plan = json(&cloud, &project, &["plan"]);
    assert_eq!(changes(&plan), Vec::<String>::new());
    assert_eq!(plan["counts"]["unchanged"], 54);
    assert_eq!(mutating(&plan), 0, "{plan:#}");
    let (out, _) = run(&cloud, &project, &["plan"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes"), "{}", String::from_utf8_lossy(&out.stdout));

    // -v logs each AWS call on stderr as it ends, one line per call the report counts;
    // stdout stays the JSON document alone.
    let (out, stderr) = run(&cloud, &project, &["-v", "--json", "plan"]);
    assert!(out.status.success(), "{stderr}");
    let plan: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON document alone");
    let ended: Vec<&str> = stderr.lines().filter(|l| l.contains(" DEBUG AWS ") && l.contains(" ms")).collect();
    assert_eq!(ended.len() as u64, plan["calls"]["total"].as_u64().unwrap(), "{stderr}");
    assert!(ended.iter().any(|l| l.contains("AWS STS.GetCallerIdentity done in ")), "{stderr}");
    assert!(ended.iter().any(|l| l.contains("AWS ApiGatewayV2.GetApis done in ")), "{stderr}");
    // Routes, integrations, MOCK integrations and models all need the API's
    // routes, and two kinds its integrations: discovery lists each once.
    for listing in ["GetRoutes", "GetIntegrations"] {
        let calls = ended.iter().filter(|l| l.contains(&format!("AWS ApiGatewayV2.{listing} done in "))).count();
        assert_eq!(calls, 1, "{listing}: {stderr}");
    }
}

#[tokio::test]
async fn plan_shows_exactly_the_changes_of_stack_yaml_and_deploy_applies_only_them() {
    let (cloud, project, aws, before) = deployed("lc-change").await;

    // Memory, a new route, a removed route (with a throttle of its own), a
    // changed schema, IAM auth on $connect, another throttle for `typing`.
    let list = "    list:        { function: chat, throttle: { rate: 500, burst: 1000 } }";
    let typing = "    typing:      { function: chat, throttle: { rate: 15, burst: 100 } }";
    let stack = project.stack();
    assert!(stack.contains(list) && stack.contains(typing), "the shipped stack.yaml changed shape");
    let stack = stack
        .replace("chat:   { crate: lambdas/chat }", "chat:   { crate: lambdas/chat, memory: 512 }")
        .replace(list, "    hello:       chat")
        .replace(typing, "    typing:      { function: chat, throttle: { rate: 20, burst: 50 } }")
        .replace("  routes:\n", "  auth: iam\n  routes:\n");
    project.write_stack(&stack);
    let schema_path = project.path().join("schemas/send.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    schema["description"] = json!("send, with a description");
    std::fs::write(&schema_path, schema.to_string()).unwrap();

    let plan = json(&cloud, &project, &["plan"]);
    let new_model = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "model")
        .and_then(|c| c["name"].as_str())
        .expect("a new model")
        .to_string();
    assert!(new_model.starts_with("send"), "{new_model}");
    let expected = vec![
        format!("create model {new_model}"),
        "create route hello".to_string(),
        "delete route list".to_string(),
        "update function chat".to_string(),
        "update route $connect".to_string(),
        "update route send".to_string(),
        "update stage dev".to_string(),
    ];
    assert_eq!(changes(&plan), expected, "{plan:#}");
    let field = |kind: &str, name: &str| -> Value {
        plan["changes"].as_array().unwrap().iter().find(|c| c["kind"] == kind && c["name"] == name).unwrap()["fields"]
            .clone()
    };
    assert_eq!(field("function", "chat"), json!([{"field": "memory", "from": "256", "to": "512"}]));
    assert_eq!(field("route", "$connect"), json!([{"field": "authorization", "from": "NONE", "to": "AWS_IAM"}]));
    assert_eq!(field("route", "send")[0]["field"], "request model");
    assert_eq!(field("route", "send")[0]["to"], new_model.as_str());
    // A throttle is the stage's alone: `typing`'s route does not change.
    assert_eq!(
        field("stage", "dev"),
        json!([
            {"field": "throttle of route typing", "from": "15/s, burst 100", "to": "20/s, burst 50"},
            {"field": "throttle of route list", "from": "500/s, burst 1000", "to": "(the stage's default)"},
        ])
    );

    let applied = deploy(&cloud, &project);
    assert_eq!(changes(&applied), expected, "{applied:#}");
    // One call per change: UpdateFunctionConfiguration, CreateModel, CreateRoute, DeleteRoute, UpdateRoute x2;
    // and the stage's two: DeleteRouteSettings (list's entry, which API Gateway
    // would keep after its route goes, and then refuse every UpdateStage for)
    // and UpdateStage.
    assert_eq!(mutating(&applied), 8, "{applied:#}");

    let after = Inventory::read(&aws, "lc-change", "dev").await;
    after.assert_no_duplicates();
    assert_eq!(after.functions["chat"]["memory"], 512);
    assert_eq!(after.functions["notify"], before.functions["notify"], "notify was not to change");
    assert!(after.route_keys().contains(&"hello".to_string()));
    assert!(!after.route_keys().contains(&"list".to_string()));
    assert_eq!(after.route("hello")["target"], before.route("send")["target"]);
    assert_eq!(after.route("$connect")["authorization"], "AWS_IAM");
    assert_eq!(after.route("send")["models"]["$default"], new_model.as_str());
    let model_id = &report_ids(&applied, "model")[&new_model];
    assert_eq!(model(&aws, &before.api_id(), model_id).await, (new_model.clone(), schema));
    assert_eq!(after.route("broadcast"), before.route("broadcast"), "an unchanged route changed");
    assert_eq!(after.route("typing"), before.route("typing"), "a throttle changed its route");
    assert_eq!(after.apis, before.apis);
    // Read back from moto: `list`'s entry gone, `typing`'s new, the rest as they were.
    let mut routes = before.stages[0]["routes"].clone();
    routes.as_object_mut().unwrap().remove("list");
    routes["typing"] = json!([20.0, 50]);
    assert_eq!(after.stages[0]["routes"], routes);
    assert_eq!((&after.stages[0]["rate"], &after.stages[0]["burst"]), (&json!(200.0), &json!(400)));

    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "{again:#}");
}

#[tokio::test]
async fn status_shows_what_was_deleted_behind_its_back_and_deploy_recreates_it() {
    let (cloud, project, aws, before) = deployed("lc-drift").await;
    let api = before.api_id();
    let p = "lc-drift-dev";

    let ok = json(&cloud, &project, &["status"]);
    assert!(ok["resources"].as_array().unwrap().iter().all(|r| r["state"] == "ok"), "{ok:#}");
    assert_eq!(ok["urls"]["websocket"], format!("wss://{api}.execute-api.{REGION}.amazonaws.com/dev"));

    // Behind the tool's back: delete a route, the queue mapping, a role
    // policy and a log group, and change a function's memory.
    let route_id = before.route("send")["id"].as_str().unwrap().to_string();
    aws.apigatewayv2().delete_route().api_id(&api).route_id(&route_id).send().await.unwrap();
    let uuid = before.mappings["notify"][0]["uuid"].as_str().unwrap().to_string();
    aws.lambda().delete_event_source_mapping().uuid(&uuid).send().await.unwrap();
    let role = format!("{p}-notify");
    aws.iam().delete_role_policy().role_name(&role).policy_name(&role).send().await.unwrap();
    aws.logs().delete_log_group().log_group_name(format!("/aws/lambda/{p}-chat")).send().await.unwrap();
    aws.lambda()
        .update_function_configuration()
        .function_name(format!("{p}-chat"))
        .memory_size(1024)
        .send()
        .await
        .unwrap();

    let status = json(&cloud, &project, &["status"]);
    assert_eq!(mutating(&status), 0);
    let states: Vec<String> = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] != "ok")
        .map(|r| {
            format!("{} {} {}", r["state"].as_str().unwrap(), r["kind"].as_str().unwrap(), r["name"].as_str().unwrap())
        })
        .collect();
    // moto cannot list models (no GetModels), so with the route gone nothing
    // shows that its model is still there: status says missing, deploy
    // creates it again and the old copy waits for destroy. On AWS, GetModels
    // finds the model and neither happens.
    let model = before.route("send")["models"]["$default"].as_str().unwrap().to_string();
    let mut states = states;
    states.sort();
    assert_eq!(
        states,
        [
            "drifted function chat".to_string(),
            "missing log_group chat".to_string(),
            "missing mapping notify".to_string(),
            format!("missing model {model}"),
            "missing role_policy notify".to_string(),
            "missing route send".to_string(),
        ],
        "{status:#}"
    );
    let chat = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "function" && r["name"] == "chat")
        .unwrap();
    assert_eq!(chat["fields"], json!([{"field": "memory", "from": "1024", "to": "256"}]));
    let (out, _) = run(&cloud, &project, &["status"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("missing") && table.contains("memory: 1024 → 256"), "{table}");

    let repaired = deploy(&cloud, &project);
    assert_eq!(
        changes(&repaired),
        [
            "create log_group chat".to_string(),
            "create mapping notify".to_string(),
            format!("create model {model}"),
            "create role_policy notify".to_string(),
            "create route send".to_string(),
            "update function chat".to_string(),
        ],
        "{repaired:#}"
    );
    let after = Inventory::read(&aws, "lc-drift", "dev").await;
    after.assert_no_duplicates();
    assert_eq!(after.functions["chat"]["memory"], 256);
    assert_eq!(after.roles, before.roles);
    assert_eq!(after.route("send")["models"], before.route("send")["models"]);
    assert_eq!(after.route("send")["target"], before.route("send")["target"]);
    let status = json(&cloud, &project, &["status"]);
    assert!(status["resources"].as_array().unwrap().iter().all(|r| r["state"] == "ok"), "{status:#}");
}

#[tokio::test]
async fn destroy_deletes_everything_of_the_stack_and_a_second_destroy_finds_nothing() {
    let cloud = Cloud::shared();
    let project = Project::new("lc-destroy");
    deploy(&cloud, &project);
    // A neighbour whose names share the prefix `lc-destroy-dev`: it must survive.
    let neighbour = Project::new("lc-destroy");
    let (out, stderr) = super::run(&cloud, &neighbour, &["deploy", "--no-build", "--stage", "dev-x"]);
    assert!(out.status.success(), "{stderr}");
    let aws = sdk(&cloud).await;
    let neighbour_before = Inventory::read(&aws, "lc-destroy", "dev-x").await;
    assert!(!neighbour_before.is_empty());

    let api_id = Inventory::read(&aws, "lc-destroy", "dev").await.api_id();
    let report = json(&cloud, &project, &["destroy", "--yes"]);
    // Log groups, roles and functions of two functions, the mapping, the
    // connections table, the delivery ledger, the messages and presence,
    // both queues, the API, the bucket, the distribution and the OAC;
    // routes, integrations and their responses, policies, permissions and
    // the bucket's policy and files go with them; the alarm topic, the eight
    // alarms and the dashboard.
    assert_eq!(report["deleted"].as_array().unwrap().len(), 27, "{report:#}");
    let inv = Inventory::read(&aws, "lc-destroy", "dev").await;
    assert!(inv.is_empty(), "left behind: {inv:#?}");
    assert_eq!(inv.deliveries, None, "the delivery ledger is left");
    assert_eq!(inv.messages, None, "the messages table is left");
    assert_eq!(inv.presence, None, "the presence table is left");
    let api = aws.apigatewayv2().get_api().api_id(&api_id).send().await;
    assert!(api.is_err_and(|e| e.into_service_error().is_not_found_exception()), "the API is still there");
    assert_eq!(Inventory::read(&aws, "lc-destroy", "dev-x").await, neighbour_before, "destroy touched another stage");

    let again = json(&cloud, &project, &["destroy", "--yes"]);
    assert_eq!(again["deleted"], json!([]));
    assert_eq!(mutating(&again), 0);
    let (out, _) = super::run(&cloud, &project, &["destroy", "--yes"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing to destroy"));
}

#[tokio::test]
async fn destroy_refuses_without_yes_when_stdin_is_not_a_terminal() {
    let (cloud, project, aws, before) = deployed("lc-refuse").await;
    let (out, stderr) = run(&cloud, &project, &["destroy"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(Inventory::read(&aws, "lc-refuse", "dev").await, before);
}

#[tokio::test]
async fn a_function_or_queue_renamed_in_stack_yaml_leaves_nothing_behind() {
    let cloud = Cloud::shared();
    let project = Project::new("lc-rename");
    deploy(&cloud, &project);
    let stack = project
        .stack()
        .replace(
            "notify: { crate: lambdas/notify, queue: notifications }",
            "fanout: { crate: lambdas/notify, queue: events }",
        )
        .replace("\nfunctions:", "\nqueue: { name: events }\nfunctions:");
    project.write_stack(&stack);
    let plan = json(&cloud, &project, &["plan"]);
    let deletes: Vec<String> = changes(&plan).into_iter().filter(|c| c.starts_with("delete")).collect();
    assert_eq!(
        deletes,
        [
            "delete alarm notify-errors",
            "delete function notify",
            "delete log_group notify",
            "delete mapping notify <- lc-rename-dev-notifications",
            "delete queue notifications",
            "delete queue notifications-dlq",
            "delete role notify",
        ],
        "{plan:#}"
    );
    project.write_zip("fanout", "fanout v1");
    let applied = deploy(&cloud, &project);
    assert_eq!(changes(&applied), changes(&plan));

    let aws = sdk(&cloud).await;
    let p = "lc-rename-dev";
    assert!(aws.lambda().get_function().function_name(format!("{p}-notify")).send().await.is_err());
    assert!(aws.iam().get_role().role_name(format!("{p}-notify")).send().await.is_err());
    let mappings = aws.lambda().list_event_source_mappings().function_name(format!("{p}-notify")).send().await.unwrap();
    assert!(mappings.event_source_mappings().is_empty(), "{mappings:?}");
    for queue in ["notifications", "notifications-dlq"] {
        assert!(aws.sqs().get_queue_url().queue_name(format!("{p}-{queue}")).send().await.is_err(), "{queue} is left");
    }
    let groups =
        aws.logs().describe_log_groups().log_group_name_prefix(format!("/aws/lambda/{p}-")).send().await.unwrap();
    let mut names: Vec<&str> = groups.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    names.sort();
    assert_eq!(names, [format!("/aws/lambda/{p}-chat"), format!("/aws/lambda/{p}-fanout")]);
    let fanout = aws.lambda().list_event_source_mappings().function_name(format!("{p}-fanout")).send().await.unwrap();
    assert_eq!(fanout.event_source_mappings().len(), 1);
    assert_eq!(
        fanout.event_source_mappings()[0].event_source_arn(),
        Some(format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{p}-events").as_str())
    );
    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "{again:#}");
}

#[tokio::test]
async fn new_code_is_uploaded_and_the_same_code_is_not() {
    let (cloud, project, aws, before) = deployed("lc-code").await;

    // The same bytes written again: nothing to upload.
    project.write_zip("chat", "chat v1");
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);

    project.write_zip("chat", "chat v2");
    let plan = json(&cloud, &project, &["plan"]);
    assert_eq!(changes(&plan), ["update function chat"]);
    let fields = &plan["changes"][0]["fields"];
    assert_eq!(fields[0]["field"], "code");
    assert_eq!(fields[0]["from"], before.functions["chat"]["code_sha256"]);
    assert_eq!(fields[0]["to"], project.zip_sha("chat"));
    let applied = deploy(&cloud, &project);
    // UpdateFunctionCode only.
    assert_eq!(mutating(&applied), 1, "{applied:#}");
    let after = Inventory::read(&aws, "lc-code", "dev").await;
    assert_eq!(after.functions["chat"]["code_sha256"], project.zip_sha("chat"));
    assert_eq!(after.functions["notify"], before.functions["notify"]);
}

#[tokio::test]
async fn a_new_max_concurrency_reaches_the_mapping_in_one_deploy_and_then_nothing_changes() {
    let (cloud, project, aws, before) = deployed("lc-scale").await;
    assert_eq!(before.mappings["notify"][0]["maximum_concurrency"], 10);

    assert!(project.stack().contains("\nchat:\n"), "the shipped stack.yaml changed shape");
    project.write_stack(&project.stack().replace("\nchat:\n", "\nchat:\n  max_concurrency: 25\n"));
    let plan = json(&cloud, &project, &["plan"]);
    // The mapping's ScalingConfig, and the variable the consumer paces by.
    let expected = ["update function notify", "update mapping notify"];
    assert_eq!(changes(&plan), expected, "{plan:#}");
    let mapping = plan["changes"].as_array().unwrap().iter().find(|c| c["kind"] == "mapping").unwrap();
    assert_eq!(mapping["fields"], json!([{"field": "maximum concurrency", "from": "10", "to": "25"}]));
    let function = plan["changes"].as_array().unwrap().iter().find(|c| c["name"] == "notify").unwrap();
    assert_eq!(
        function["fields"],
        json!([{"field": "environment", "from": "WSCHAT_MAX_CONCURRENCY=10", "to": "WSCHAT_MAX_CONCURRENCY=25"}])
    );

    let applied = deploy(&cloud, &project);
    assert_eq!(changes(&applied), expected, "{applied:#}");
    // UpdateFunctionConfiguration, UpdateEventSourceMapping.
    assert_eq!(mutating(&applied), 2, "{applied:#}");
    let after = Inventory::read(&aws, "lc-scale", "dev").await;
    after.assert_no_duplicates();
    let mapping = &after.mappings["notify"][0];
    assert_eq!(mapping["uuid"], before.mappings["notify"][0]["uuid"], "the mapping was replaced, not updated");
    assert_eq!(mapping["maximum_concurrency"], 25);
    assert_eq!(after.functions["notify"]["environment"]["WSCHAT_MAX_CONCURRENCY"], "25");
    assert!(after.functions["chat"]["environment"].get("WSCHAT_MAX_CONCURRENCY").is_none());

    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "{again:#}");
    assert_eq!(changes(&again), Vec::<String>::new());
}

/// `plan --graph` draws every resource with its action, and an edge for each
/// reference a spec declares: what it needs to exist first.
#[test]
fn plan_graph_draws_each_resource_and_each_reference() {
    let cloud = Cloud::shared();
    let project = Project::new("lc-graph");
    let (out, stderr) = run(&cloud, &project, &["plan", "--graph"]);
    assert!(out.status.success(), "{stderr}");
    let dot = String::from_utf8_lossy(&out.stdout);
    assert!(dot.starts_with("digraph plan {") && dot.trim_end().ends_with('}'), "{dot}");
    let node = regex_lite::Regex::new(r#"(?m)^  "([^"]+)" \[label="([^"]+)", color="(\w+)"\];$"#).unwrap();
    let edge = regex_lite::Regex::new(r#"(?m)^  "([^"]+)" -> "([^"]+)";$"#).unwrap();
    let nodes: Vec<(String, String)> = node.captures_iter(&dot).map(|c| (c[1].to_string(), c[2].to_string())).collect();
    let edges: Vec<(String, String)> = edge.captures_iter(&dot).map(|c| (c[1].to_string(), c[2].to_string())).collect();
    // From empty, every resource is created.
    assert_eq!(nodes.len(), 54, "{dot}");
    assert!(nodes.iter().all(|(_, label)| label.starts_with("+ create\\n")), "{dot}");
    let names: Vec<&str> = nodes.iter().map(|(n, _)| n.as_str()).collect();
    for (from, to) in &edges {
        assert!(names.contains(&from.as_str()) && names.contains(&to.as_str()), "{from} -> {to}: {dot}");
        assert_ne!(from, to);
    }
    // What the shipped stack's resources need, known from what they are.
    let has = |from: &str, to: &str| edges.iter().any(|(f, t)| f == from && t.starts_with(to));
    for (from, to) in [
        ("route send", "integration chat"),
        ("route send", "route model send"),
        ("route send", "WebSocket API api"),
        ("route ping", "MOCK integration ping"),
        ("route ping", "integration response ping"),
        ("integration response ping", "MOCK integration ping"),
        ("route response ping", "route ping"),
        ("MOCK integration ping", "WebSocket API api"),
        ("integration chat", "Lambda function chat"),
        ("Lambda function chat", "IAM role chat"),
        ("Lambda function chat", "log group chat"),
        ("Lambda function chat", "SQS queue notifications"),
        ("Lambda function notify", "WebSocket API api"),
        ("queue mapping notify", "Lambda function notify"),
        ("queue mapping notify", "role policy notify"),
        ("queue mapping notify", "SQS queue notifications"),
        ("SQS queue notifications", "dead-letter queue dlq"),
        ("role policy chat", "IAM role chat"),
        ("role policy chat", "WebSocket API api"),
        ("invoke permission chat", "Lambda function chat"),
        ("API stage dev", "WebSocket API api"),
        ("site files site", "S3 bucket site"),
        ("site files site", "WebSocket API api"),
        ("CloudFront distribution site", "origin access control site"),
        ("bucket policy site", "CloudFront distribution site"),
        ("bucket policy site", "S3 bucket site"),
    ] {
        assert!(has(from, to), "no edge {from} -> {to}: {dot}");
    }
    // And nothing that needs nothing points anywhere.
    assert!(names.contains(&"DynamoDB table deliveries"), "{dot}");
    for root in [
        "IAM role chat",
        "DynamoDB table connections",
        "DynamoDB table deliveries",
        "WebSocket API api",
        "S3 bucket site",
    ] {
        assert!(!edges.iter().any(|(f, _)| f == root), "{root} has an edge: {dot}");
    }
}

#[tokio::test]
async fn history_off_deletes_the_messages_table_and_the_access_to_it_and_on_brings_them_back() {
    let cloud = Cloud::shared();
    let project = Project::new("lc-history");
    let on = project.stack();
    assert!(on.contains("\n  history: { messages: 50, days: 7 }\n"), "the shipped stack.yaml changed shape");
    deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let p = "lc-history-dev";
    let messages_arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{p}-messages");
    let before = Inventory::read(&aws, "lc-history", "dev").await;
    assert!(before.messages.is_some());
    assert!(before.roles[&format!("{p}-chat")].to_string().contains(&messages_arn));

    project.write_stack(&on.replace("\n  history: { messages: 50, days: 7 }\n", "\n  history: false\n"));
    let off = deploy(&cloud, &project);
    assert_eq!(changes(&off), ["delete table messages", "update function chat", "update role_policy chat"], "{off:#}");
    let after = Inventory::read(&aws, "lc-history", "dev").await;
    assert_eq!(after.messages, None, "the messages table is left");
    let chat = &after.functions["chat"]["environment"];
    for var in ["WSCHAT_MESSAGES_TABLE", "WSCHAT_HISTORY_MESSAGES", "WSCHAT_HISTORY_DAYS"] {
        assert!(chat.get(var).is_none(), "{var} is left on the chat function: {chat:#}");
    }
    assert!(!after.roles[&format!("{p}-chat")].to_string().contains("-messages"), "{:#?}", after.roles);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0, "history off converged in one deploy");

    project.write_stack(
        &on.replace("\n  history: { messages: 50, days: 7 }\n", "\n  history: { messages: 20, days: 2 }\n"),
    );
    deploy(&cloud, &project);
    let again = Inventory::read(&aws, "lc-history", "dev").await;
    assert_eq!(again.messages.as_ref().map(|t| &t["keys"]), before.messages.as_ref().map(|t| &t["keys"]));
    let chat = &again.functions["chat"]["environment"];
    assert_eq!((&chat["WSCHAT_HISTORY_MESSAGES"], &chat["WSCHAT_HISTORY_DAYS"]), (&json!("20"), &json!("2")));
    assert!(again.roles[&format!("{p}-chat")].to_string().contains(&messages_arn));
}

/// `ping` as the shipped stack has it: MOCK, answered by API Gateway.
const PING_MOCK: &str = "    ping:        { mock: '{\"type\":\"pong\"}', throttle: { rate: 1000, burst: 2000 } }\n";

/// What the inventory says about route `ping`: its integration's type, its
/// route response selection, the bodies of its integration responses and
/// the keys of its route responses.
fn ping(inv: &Inventory) -> (Value, Value, Vec<Value>, Vec<Value>) {
    let integration = inv.target_of("ping");
    let bodies = integration["responses"]
        .as_array()
        .map(|r| r.iter().map(|r| r["templates"]["$default"].clone()).collect())
        .unwrap_or_default();
    let keys =
        inv.route_responses.get("ping").map(|r| r.iter().map(|r| r["key"].clone()).collect()).unwrap_or_default();
    (integration["type"].clone(), inv.route("ping")["response_selection"].clone(), bodies, keys)
}

#[tokio::test]
async fn a_mock_route_switched_to_a_function_and_back_converges_and_removing_it_leaves_nothing() {
    let cloud = Cloud::shared();
    let project = Project::new("lc-mock");
    let shipped = project.stack();
    assert!(shipped.contains(PING_MOCK), "the shipped stack.yaml changed shape");
    deploy(&cloud, &project);
    let (aws, proxied) = (sdk(&cloud).await, cloud.through_proxy().await);
    let read = || async {
        let mut inv = Inventory::read(&aws, "lc-mock", "dev").await;
        inv.read_route_responses(&proxied, &aws).await;
        inv.assert_no_duplicates();
        inv
    };
    let mocked = (json!("MOCK"), json!("$default"), vec![json!(r#"{"type":"pong"}"#)], vec![json!("$default")]);
    let before = read().await;
    assert_eq!(ping(&before), mocked);

    // To the chat function: a one-way route on chat's integration, re-created
    // (DeleteRoute takes its route response), and the MOCK integration and
    // its response deleted.
    // Its throttle stays: the stage's entry for `ping` outlives the route's
    // replacement (API Gateway keys it by route key), and nothing else changes.
    project.write_stack(
        &shipped.replace(PING_MOCK, "    ping:        { function: chat, throttle: { rate: 1000, burst: 2000 } }\n"),
    );
    let plan = json(&cloud, &project, &["plan"]);
    let expected = [
        "delete integration_response ping",
        "delete mock_integration ping",
        "delete route_response ping",
        "replace route ping",
    ];
    assert_eq!(changes(&plan), expected, "{plan:#}");
    let applied = deploy(&cloud, &project);
    assert_eq!(changes(&applied), expected, "{applied:#}");
    let function = read().await;
    assert_eq!(function.route("ping")["target"], before.route("send")["target"]);
    assert_eq!(function.route("ping")["response_selection"], Value::Null);
    assert_eq!(function.integrations_of("MOCK"), Vec::<&Value>::new());
    assert_eq!(function.route_responses, Default::default());
    assert_eq!(mutating(&deploy(&cloud, &project)), 0, "not converged");

    // And back: the route is updated in place once its integration answers.
    project.write_stack(&shipped);
    let applied = deploy(&cloud, &project);
    assert_eq!(
        changes(&applied),
        [
            "create integration_response ping",
            "create mock_integration ping",
            "create route_response ping",
            "update route ping",
        ],
        "{applied:#}"
    );
    let back = read().await;
    assert_eq!(ping(&back), mocked);
    assert_eq!(back.route("ping")["id"], function.route("ping")["id"]);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0, "not converged");

    // A new body is one update of the integration response.
    let v2 = "    ping:        { mock: '{\"type\":\"pong\",\"v\":2}', throttle: { rate: 1000, burst: 2000 } }\n";
    project.write_stack(&shipped.replace(PING_MOCK, v2));
    let applied = deploy(&cloud, &project);
    assert_eq!(changes(&applied), ["update integration_response ping"], "{applied:#}");
    assert_eq!(mutating(&applied), 1, "{applied:#}");
    assert_eq!(ping(&read().await).2, [json!(r#"{"type":"pong","v":2}"#)]);

    // Without `ping`: nothing of it is left, its throttle included.
    project.write_stack(&shipped.replace(PING_MOCK, ""));
    let applied = deploy(&cloud, &project);
    assert_eq!(
        changes(&applied),
        [
            "delete integration_response ping",
            "delete mock_integration ping",
            "delete route ping",
            "delete route_response ping",
            "update stage dev",
        ],
        "{applied:#}"
    );
    let gone = read().await;
    assert!(gone.stages[0]["routes"].get("ping").is_none(), "{:#}", gone.stages[0]);
    assert!(!gone.route_keys().contains(&"ping".to_string()));
    assert_eq!(gone.integrations_of("MOCK"), Vec::<&Value>::new());
    assert_eq!(gone.route_responses, Default::default());
    assert_eq!(gone.integrations.len(), 1, "{:#?}", gone.integrations);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0, "not converged");
}
