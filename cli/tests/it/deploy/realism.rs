//! Each rule AWS enforces and moto does not, one at a time, through a proxy of
//! the test's own: the proxy answers as AWS does (checked with the SDK's own
//! typed errors), and wschat gets through it. Each test fails without the
//! part of wschat that answers its rule.

use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::realism::{Behaviours, Freeze};
use wschat_engine::aws::Aws;

use super::{Cloud, Ended, Inventory, Project, cli, deploy, json, kill_at, mutating, run, sdk};

/// Only the behaviour under test, on top of plain forwarding.
fn only(change: impl FnOnce(&mut Behaviours)) -> Behaviours {
    let mut behaviours = Behaviours::default();
    change(&mut behaviours);
    behaviours
}

/// How many calls the proxy refused with `code`.
fn refused(cloud: &Cloud, code: &str) -> usize {
    cloud.realism.stats().refused.get(code).copied().unwrap_or(0)
}

fn resource<'a>(status: &'a Value, kind: &str, name: &str) -> &'a Value {
    status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind && r["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {status:#}"))
}

/// The proxy's errors are AWS's as the SDK reads them: the typed error, not
/// an unhandled one, so that what wschat matches on is what AWS sends.
#[tokio::test]
async fn the_proxy_answers_with_the_errors_the_sdk_knows_from_aws() {
    let cloud = Cloud::with(only(|b| {
        b.one_writer_per_api = true;
        b.api_write_ms = 300;
        b.queue_name_reuse_ms = Some(60_000);
        b.table_creating_ms = Some(60_000);
        b.consistency_ms = Some(60_000);
        b.tagging_index_ms = Some(60_000);
        b.acm_rates = true;
        b.domain_write_ms = Some(60_000);
    }));
    let direct = sdk(&cloud).await;
    let aws = cloud.through_proxy().await;

    // Two writes to one API at once: one of them is refused with 409.
    let api = websocket_api(&direct.apigatewayv2(), "rl-wire").await;
    // A client without wschat's serialization or retry: the raw answer.
    let raw = without_retries(&aws);
    let model = |name: &'static str| {
        raw.create_model().api_id(&api).name(name).content_type("application/json").schema("{}").send()
    };
    let (a, b) = tokio::join!(model("a"), model("b"));
    let conflict = [a, b].into_iter().find_map(Result::err).expect("one of two overlapping writes is refused");
    let conflict = conflict.into_service_error();
    assert!(conflict.is_conflict_exception(), "{conflict:?}");
    assert_eq!(
        aws_sdk_apigatewayv2::error::ProvideErrorMetadata::message(&conflict),
        Some("Unable to complete operation due to concurrent modification. Please try again later.")
    );

    // SQS: a deleted queue's name, and a queue not visible yet.
    let sqs = aws.sqs();
    let url = sqs.create_queue().queue_name("rl-wire-q").send().await.unwrap().queue_url.unwrap();
    let missing = sqs.get_queue_url().queue_name("rl-wire-q").send().await.unwrap_err().into_service_error();
    assert!(missing.is_queue_does_not_exist(), "{missing:?}");
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let again = sqs.create_queue().queue_name("rl-wire-q").send().await.unwrap_err().into_service_error();
    assert!(again.is_queue_deleted_recently(), "{again:?}");

    // DynamoDB: a table still CREATING, and DescribeTable not seeing it yet.
    let ddb = aws.dynamodb();
    let key = |k: aws_sdk_dynamodb::types::KeyType| {
        aws_sdk_dynamodb::types::KeySchemaElement::builder().attribute_name("id").key_type(k).build().unwrap()
    };
    ddb.create_table()
        .table_name("rl-wire-t")
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(key(aws_sdk_dynamodb::types::KeyType::Hash))
        .send()
        .await
        .unwrap();
    let unseen = ddb.describe_table().table_name("rl-wire-t").send().await.unwrap_err().into_service_error();
    assert!(unseen.is_resource_not_found_exception(), "{unseen:?}");
    let ttl = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("exp")
        .build()
        .unwrap();
    let busy = ddb
        .update_time_to_live()
        .table_name("rl-wire-t")
        .time_to_live_specification(ttl)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(busy.is_resource_in_use_exception(), "{busy:?}");

    // ACM: a second ListCertificates within the second is throttled, as the
    // SDK knows a throttle; a certificate just requested is missing from the
    // Tagging API's GetResources.
    use aws_sdk_acm::error::ProvideErrorMetadata as _;
    let acm = aws_sdk_acm::Client::from_conf(
        aws_sdk_acm::config::Builder::from(aws.sdk_config())
            .region(aws_sdk_acm::config::Region::new("us-east-1"))
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build(),
    );
    acm.list_certificates().send().await.unwrap();
    let throttled = acm.list_certificates().send().await.unwrap_err();
    assert_eq!(throttled.code(), Some("ThrottlingException"), "{throttled:?}");
    let tag = aws_sdk_acm::types::Tag::builder().key("wschat:stack").value("rl-wire").build().unwrap();
    let arn = acm
        .request_certificate()
        .domain_name("rl-wire.example.com")
        .tags(tag)
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap();
    let tagged = |client: aws_sdk_resourcegroupstagging::Client| async move {
        let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder().key("wschat:stack").values("rl-wire");
        let got = client.get_resources().resource_type_filters("acm:certificate").tag_filters(filter.build());
        let got = got.send().await.unwrap();
        got.resource_tag_mapping_list().iter().filter_map(|m| m.resource_arn().map(str::to_string)).collect::<Vec<_>>()
    };
    assert_eq!(tagged(direct.tagging_in("us-east-1")).await, [arn.as_str()], "moto finds it");
    assert_eq!(tagged(aws.tagging_in("us-east-1")).await, Vec::<String>::new(), "not in the index yet");
    direct.acm_in("us-east-1").delete_certificate().certificate_arn(&arn).send().await.unwrap();

    // API Gateway: a second custom domain change within the account's window is 429.
    let domain = |name: &'static str| {
        raw.create_domain_name()
            .domain_name(name)
            .domain_name_configurations(
                aws_sdk_apigatewayv2::types::DomainNameConfiguration::builder()
                    .certificate_arn("arn:aws:acm:us-east-1:123456789012:certificate/rl-wire")
                    .endpoint_type(aws_sdk_apigatewayv2::types::EndpointType::Regional)
                    .build(),
            )
            .send()
    };
    domain("a.rl-wire.example.com").await.unwrap();
    let turn = domain("b.rl-wire.example.com").await.unwrap_err().into_service_error();
    assert!(turn.is_too_many_requests_exception(), "{turn:?}");
    direct.apigatewayv2().delete_domain_name().domain_name("a.rl-wire.example.com").send().await.unwrap();
}

/// moto keeps route responses but cannot list them (GetRouteResponses is a
/// 500), takes any key and any number of them, and answers a delete of a
/// gone integration response with a 500: the proxy answers as AWS does.
#[tokio::test]
async fn route_responses_are_listed_one_default_per_route_and_a_gone_response_is_not_found() {
    let cloud = Cloud::with(only(|b| b.one_route_response = true));
    // Straight to moto without retries: a 500 is answered at once.
    let direct = without_retries(&sdk(&cloud).await);
    let proxied = cloud.through_proxy().await.apigatewayv2();
    let api = websocket_api(&direct, "rl-rr").await;
    let route = |key: &'static str| {
        proxied.create_route().api_id(&api).route_key(key).route_response_selection_expression("$default").send()
    };
    let (ping, other) =
        (route("ping").await.unwrap().route_id.unwrap(), route("other").await.unwrap().route_id.unwrap());
    let list = |route: String| proxied.get_route_responses().api_id(&api).route_id(route).send();
    assert!(list(ping.clone()).await.unwrap().items().is_empty());
    // The proof that moto cannot list them itself.
    let unlisted = direct.get_route_responses().api_id(&api).route_id(&ping).send().await.unwrap_err();
    assert_eq!(unlisted.raw_response().map(|r| r.status().as_u16()), Some(500), "{unlisted:?}");

    let create = |route: &str, key: &str| {
        proxied.create_route_response().api_id(&api).route_id(route).route_response_key(key).send()
    };
    let made = create(&ping, "$default").await.unwrap().route_response_id.unwrap();
    let listed = list(ping.clone()).await.unwrap();
    let listed: Vec<(Option<&str>, Option<&str>)> =
        listed.items().iter().map(|r| (r.route_response_id(), r.route_response_key())).collect();
    assert_eq!(listed, [(Some(made.as_str()), Some("$default"))]);
    assert!(list(other.clone()).await.unwrap().items().is_empty(), "another route's are its own");

    // One `$default` per route, and no other key; a conflict that is not
    // another writer's is not retried.
    proxied.get_api().api_id(&api).send().await.unwrap();
    let before = cloud.realism.stats().operations.get("CreateRouteResponse").copied().unwrap_or(0);
    let second = create(&ping, "$default").await.unwrap_err().into_service_error();
    assert!(second.is_conflict_exception(), "{second:?}");
    assert_eq!(cloud.realism.stats().operations["CreateRouteResponse"], before + 1, "retried");
    let keyed = create(&other, "$other").await.unwrap_err().into_service_error();
    assert!(keyed.is_bad_request_exception(), "{keyed:?}");
    assert_eq!(refused(&cloud, "ConflictException") + refused(&cloud, "BadRequestException"), 2);
    create(&other, "$default").await.unwrap();

    // Deleting what is gone is NotFound, as AWS says it.
    let delete = || proxied.delete_route_response().api_id(&api).route_id(&ping).route_response_id(&made).send();
    delete().await.unwrap();
    let gone = delete().await.unwrap_err().into_service_error();
    assert!(gone.is_not_found_exception(), "{gone:?}");
    assert!(list(ping.clone()).await.unwrap().items().is_empty());
    let mock = proxied
        .create_integration()
        .api_id(&api)
        .integration_type(aws_sdk_apigatewayv2::types::IntegrationType::Mock)
        .send()
        .await
        .unwrap()
        .integration_id
        .unwrap();
    let response = proxied
        .create_integration_response()
        .api_id(&api)
        .integration_id(&mock)
        .integration_response_key("$default")
        .send()
        .await
        .unwrap()
        .integration_response_id
        .unwrap();
    let delete = || {
        proxied
            .delete_integration_response()
            .api_id(&api)
            .integration_id(&mock)
            .integration_response_id(&response)
            .send()
    };
    delete().await.unwrap();
    let gone = delete().await.unwrap_err().into_service_error();
    assert!(gone.is_not_found_exception(), "{gone:?}");

    // A deleted route's listing is NotFound, and its route responses went with it.
    proxied.delete_route().api_id(&api).route_id(&other).send().await.unwrap();
    let gone = list(other.clone()).await.unwrap_err().into_service_error();
    assert!(gone.is_not_found_exception(), "{gone:?}");
}

/// A stage's route settings: moto has no UpdateStage and no
/// DeleteRouteSettings, and takes any key; the proxy does both on moto's
/// stage (read back straight from moto), as AWS merges and clears them, and
/// refuses an entry that names no route, a deleted route's left-behind one
/// included.
#[tokio::test]
async fn route_settings_name_routes_merge_on_update_and_are_cleared_one_key_at_a_time() {
    use aws_sdk_apigatewayv2::types::RouteSettings;
    let cloud = Cloud::with(only(|b| b.route_settings_name_routes = true));
    let direct = without_retries(&sdk(&cloud).await);
    let proxied = cloud.through_proxy().await.apigatewayv2();
    let api = websocket_api(&direct, "rl-rs").await;
    let mut routes = std::collections::BTreeMap::new();
    for key in ["typing", "send"] {
        let id = proxied.create_route().api_id(&api).route_key(key).send().await.unwrap().route_id.unwrap();
        routes.insert(key, id);
    }
    let throttle = |rate: f64, burst: i32| {
        RouteSettings::builder().throttling_rate_limit(rate).throttling_burst_limit(burst).build()
    };
    let stage = || proxied.create_stage().api_id(&api).stage_name("dev").auto_deploy(true);
    // What moto holds, by route key: (rate, burst).
    let held = || async {
        let got = direct.get_stage().api_id(&api).stage_name("dev").send().await.unwrap();
        let routes: std::collections::BTreeMap<String, (Option<f64>, Option<i32>)> = got
            .route_settings()
            .into_iter()
            .flatten()
            .map(|(k, r)| (k.clone(), (r.throttling_rate_limit(), r.throttling_burst_limit())))
            .collect();
        let default = got.default_route_settings().map(|d| (d.throttling_rate_limit(), d.throttling_burst_limit()));
        (default, routes)
    };
    let keyed = |entries: &[(&str, f64, i32)]| {
        entries
            .iter()
            .map(|(k, r, b)| (k.to_string(), (Some(*r), Some(*b))))
            .collect::<std::collections::BTreeMap<_, _>>()
    };

    // An entry must name a route.
    let refused = stage().route_settings("nope", throttle(1.0, 1)).send().await.unwrap_err().into_service_error();
    assert!(refused.is_not_found_exception(), "{refused:?}");
    assert!(refused.to_string().contains("Unable to find Route by key nope"), "{refused}");
    stage()
        .default_route_settings(throttle(200.0, 400))
        .route_settings("typing", throttle(20.0, 50))
        .send()
        .await
        .unwrap();
    assert_eq!(held().await, (Some((Some(200.0), Some(400))), keyed(&[("typing", 20.0, 50)])));

    // The proof that moto has no UpdateStage.
    let unsupported = direct.update_stage().api_id(&api).stage_name("dev").send().await.unwrap_err();
    assert_eq!(unsupported.raw_response().map(|r| r.status().as_u16()), Some(500), "{unsupported:?}");

    // UpdateStage merges: `typing` stays as it was, `send` comes, the default changes.
    let update = || proxied.update_stage().api_id(&api).stage_name("dev");
    update()
        .default_route_settings(throttle(100.0, 50))
        .route_settings("send", throttle(5.0, 10))
        .send()
        .await
        .unwrap();
    assert_eq!(held().await, (Some((Some(100.0), Some(50))), keyed(&[("send", 5.0, 10), ("typing", 20.0, 50)])));
    let refused = update().route_settings("nope", throttle(1.0, 1)).send().await.unwrap_err().into_service_error();
    assert!(refused.is_not_found_exception(), "{refused:?}");

    // DeleteRouteSettings clears one key; a second time it is NotFound.
    let clear =
        |key: &'static str| proxied.delete_route_settings().api_id(&api).stage_name("dev").route_key(key).send();
    clear("typing").await.unwrap();
    assert_eq!(held().await.1, keyed(&[("send", 5.0, 10)]));
    let gone = clear("typing").await.unwrap_err().into_service_error();
    assert!(gone.is_not_found_exception(), "{gone:?}");

    // A deleted route leaves its entry behind, and every UpdateStage is
    // refused until the entry is cleared.
    proxied.delete_route().api_id(&api).route_id(&routes["send"]).send().await.unwrap();
    assert_eq!(held().await.1, keyed(&[("send", 5.0, 10)]));
    let stale = update().auto_deploy(true).send().await.unwrap_err().into_service_error();
    assert!(stale.is_not_found_exception() && stale.to_string().contains("key send"), "{stale:?}");
    clear("send").await.unwrap();
    update().auto_deploy(true).send().await.unwrap();
    assert_eq!(held().await.1, keyed(&[]));
}

#[tokio::test]
async fn writes_to_one_api_go_one_at_a_time() {
    // Overlapping writes allowed, so that the proxy measures how many wschat sends at once.
    let cloud = Cloud::with(only(|b| b.api_write_ms = 30));
    let project = Project::new("rl-serial");
    deploy(&cloud, &project);
    let stats = cloud.realism.stats();
    assert!(stats.operations["CreateRoute"] >= 13 && stats.operations["CreateModel"] >= 1, "{stats:#?}");
    assert_eq!(stats.max_api_writes_in_flight, 1, "{stats:#?}");
    // Reads and other services' calls still overlap.
    assert!(stats.max_in_flight > 1, "{stats:#?}");

    // With AWS's rule on, nothing of wschat's own is refused.
    let cloud = Cloud::with(only(|b| {
        b.one_writer_per_api = true;
        b.api_write_ms = 30;
    }));
    let project = Project::new("rl-serial2");
    deploy(&cloud, &project);
    assert_eq!(refused(&cloud, "ConflictException"), 0, "{:#?}", cloud.realism.stats());
}

#[tokio::test]
async fn a_conflict_with_another_writer_is_retried() {
    let cloud = Cloud::with(only(|b| {
        b.one_writer_per_api = true;
        b.foreign_writer_fraction = 0.3;
    }));
    let project = Project::new("rl-foreign");
    let report = deploy(&cloud, &project);
    assert!(refused(&cloud, "ConflictException") >= 3, "{:#?}", cloud.realism.stats());
    let inv = Inventory::read(&sdk(&cloud).await, "rl-foreign", "dev").await;
    inv.assert_no_duplicates();
    assert_eq!(inv.route_keys().len(), 16, "{report:#}");
}

#[tokio::test]
async fn new_roles_and_policies_are_waited_for_until_lambda_can_use_them() {
    // 6 s: the functions' first CreateFunction, and the retry after it, fall
    // inside it however loaded the machine is (with 2.5 s, a loaded run saw
    // one refusal, not two).
    let cloud = Cloud::with(only(|b| b.iam_propagation_ms = Some(6_000)));
    let project = Project::new("rl-iam");
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    // CreateFunction was refused with both of Lambda's messages, and waited out.
    let log = cloud.realism.log();
    let refusals = log.iter().filter(|r| r.operation == "CreateFunction" && r.refused.is_some()).count();
    assert!(refusals >= 2, "{log:#?}");
    assert!(stderr.contains("to become assumable by Lambda"), "{stderr}");

    // A new policy before a new queue mapping: Lambda checks the policy.
    // Behind the tool's back: the consumer's policy and mapping go.
    let aws = sdk(&cloud).await;
    let inv = Inventory::read(&aws, "rl-iam", "dev").await;
    let role = "rl-iam-dev-notify";
    aws.iam().delete_role_policy().role_name(role).policy_name(role).send().await.unwrap();
    let uuid = inv.mappings["notify"][0]["uuid"].as_str().unwrap();
    aws.lambda().delete_event_source_mapping().uuid(uuid).send().await.unwrap();
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    let log = cloud.realism.log();
    assert!(
        log.iter().any(|r| r.operation == "CreateEventSourceMapping" && r.refused.is_some()),
        "the mapping was not refused: {log:#?}"
    );
    assert!(stderr.contains("to reach Lambda"), "{stderr}");

    // A role change: the function was moved to another role; deploy puts it
    // back on a role that is new again.
    let through = cloud.through_proxy().await;
    let other = "rl-iam-other";
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let other_arn =
        aws.iam().create_role().role_name(other).assume_role_policy_document(trust).send().await.unwrap().role.unwrap();
    through
        .lambda()
        .update_function_configuration()
        .function_name("rl-iam-dev-chat")
        .role(other_arn.arn())
        .send()
        .await
        .unwrap();
    let chat_role = "rl-iam-dev-chat";
    for policy in aws.iam().list_role_policies().role_name(chat_role).send().await.unwrap().policy_names() {
        aws.iam().delete_role_policy().role_name(chat_role).policy_name(policy).send().await.unwrap();
    }
    aws.iam().delete_role().role_name(chat_role).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cloud.realism.reset_stats();
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    let log = cloud.realism.log();
    assert!(
        log.iter().any(|r| r.operation == "UpdateFunctionConfiguration" && r.refused.is_some()),
        "the role change was not refused: {log:#?}"
    );
    let inv = Inventory::read(&aws, "rl-iam", "dev").await;
    assert!(inv.functions["chat"]["role"].as_str().unwrap().ends_with("/rl-iam-dev-chat"), "{inv:#?}");
}

#[tokio::test]
async fn a_deploy_right_after_destroy_waits_for_sqs_and_s3_to_release_the_names() {
    // Windows long enough that the deploy's first CreateQueue and CreateBucket
    // fall inside them however loaded the machine is: the destroy deletes the
    // names some seconds before the deploy asks for them again.
    let cloud = Cloud::with(only(|b| {
        b.queue_name_reuse_ms = Some(15_000);
        b.bucket_name_reuse_ms = Some(10_000);
    }));
    let project = Project::new("rl-again");
    deploy(&cloud, &project);
    json(&cloud, &project, &["destroy", "--yes"]);
    let started = Instant::now();
    let (out, stderr) = run(&cloud, &project, &["--json", "deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    assert!(refused(&cloud, "AWS.SimpleQueueService.QueueDeletedRecently") >= 2, "{:#?}", cloud.realism.stats());
    assert!(refused(&cloud, "OperationAborted") >= 1, "{:#?}", cloud.realism.stats());
    assert!(stderr.contains("deleted less than 60 s ago"), "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(4), "it did not wait: {:?}", started.elapsed());
    let inv = Inventory::read(&sdk(&cloud).await, "rl-again", "dev").await;
    assert!(inv.queue.is_some() && inv.dlq.is_some() && inv.bucket.is_some(), "{inv:#?}");
}

/// A deleted queue mapping stays `Deleting` for a while, listed and holding
/// its queue and function. A deploy meanwhile neither takes it for the
/// stack's (it would be gone a moment later, leaving no consumer) nor fails
/// on the 409 a new one gets: it waits, then maps the queue again. Destroy
/// waits until its mapping is gone, so a deploy right after finds nothing.
#[tokio::test]
async fn a_queue_mapping_still_deleting_is_waited_for_by_deploy_and_by_destroy() {
    let cloud = Cloud::with(only(|b| b.mapping_deleting_ms = Some(8_000)));
    let project = Project::new("rl-mapping");
    deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let old = Inventory::read(&aws, "rl-mapping", "dev").await.mappings["notify"][0]["uuid"].clone();
    let old = old.as_str().unwrap().to_string();
    // Deleted behind wschat's back, through AWS (the proxy): `Deleting` now.
    let proxied = cloud.through_proxy().await;
    proxied.lambda().delete_event_source_mapping().uuid(&old).send().await.unwrap();

    let started = Instant::now();
    let (out, stderr) = run(&cloud, &project, &["--json", "deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    assert!(refused(&cloud, "ResourceConflictException") >= 1, "{:#?}", cloud.realism.stats());
    assert!(stderr.contains("to finish deleting"), "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(1), "it did not wait: {:?}", started.elapsed());
    let inv = Inventory::read(&aws, "rl-mapping", "dev").await;
    let mappings = &inv.mappings["notify"];
    assert_eq!(mappings.len(), 1, "{mappings:#?}");
    assert_ne!(mappings[0]["uuid"], old.as_str(), "a new mapping");

    // Destroy returns once Lambda no longer lists the mapping.
    json(&cloud, &project, &["destroy", "--yes"]);
    let function = "rl-mapping-dev-notify";
    let listed = proxied.lambda().list_event_source_mappings().function_name(function).send().await.unwrap();
    assert!(listed.event_source_mappings().is_empty(), "{listed:#?}");
}

#[tokio::test]
async fn a_table_an_interrupted_deploy_left_creating_is_waited_for() {
    let cloud = Cloud::with(only(|b| b.table_creating_ms = Some(3_000)));
    let project = Project::new("rl-creating");
    let killed =
        kill_at(&cloud, &project, &["deploy", "--no-build"], Freeze::AfterOperation("CreateTable".into())).await;
    assert!(matches!(killed, Ended::Killed), "{killed:?}");
    // At once, while DynamoDB still says CREATING: TTL waits for ACTIVE.
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(refused(&cloud, "ResourceInUseException"), 0, "{:#?}", cloud.realism.stats());
    let inv = Inventory::read(&sdk(&cloud).await, "rl-creating", "dev").await;
    assert_eq!(inv.table.unwrap()["ttl_status"], "ENABLED");
    // The ledger's CreateTable ran beside the first one, or comes now: either way TTL is on.
    assert_eq!(inv.deliveries.unwrap()["ttl_status"], "ENABLED");
}

#[tokio::test]
async fn moving_ttl_to_another_attribute_follows_the_once_an_hour_rule() {
    let cloud = Cloud::with(only(|b| b.ttl_change_interval_ms = Some(3_600_000)));
    let project = Project::new("rl-ttl");
    deploy(&cloud, &project);
    project.write_stack(&format!("{}\ntable: {{ ttl_attribute: gone_at }}\n", project.stack()));
    let aws = sdk(&cloud).await;
    let ttl = || async {
        let inv = Inventory::read(&aws, "rl-ttl", "dev").await;
        let table = inv.table.unwrap();
        (table["ttl_attribute"].as_str().map(str::to_string), table["ttl_status"].as_str().map(str::to_string))
    };

    // Before any call, plan says what will happen and when.
    let (out, _) = run(&cloud, &project, &["plan"]);
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(plan.contains("one TTL change per table per hour") && plan.contains("an hour or more"), "{plan}");

    // Within the hour of the first TTL change: refused, said, and the rest deploys.
    let (out, stderr) = run(&cloud, &project, &["--json", "deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("it allows one TTL change per table per hour"), "{stderr}");
    assert_eq!(refused(&cloud, "ValidationException"), 1, "{:#?}", cloud.realism.stats());
    assert_eq!(ttl().await, (Some("expiresAt".into()), Some("ENABLED".into())));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let chat = resource_env(&report);
    assert_eq!(chat.as_deref(), Some("gone_at"), "the handlers write the new attribute at once: {report:#}");

    // An hour later (the proxy's hour ends now): TTL goes off on the old attribute...
    cloud.realism.update(|b| b.ttl_change_interval_ms = Some(0));
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("takes two deploys"), "{stderr}");
    assert_eq!(ttl().await.1.as_deref(), Some("DISABLED"));
    // ... and a deploy an hour after that turns it on for the new one.
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(ttl().await, (Some("gone_at".into()), Some("ENABLED".into())));
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
}

/// `WSCHAT_TTL_ATTRIBUTE` of the chat function, if the deploy report's
/// function update names it.
fn resource_env(report: &Value) -> Option<String> {
    let change = report["changes"].as_array()?.iter().find(|c| c["kind"] == "function" && c["name"] == "chat")?;
    let field = change["fields"].as_array()?.iter().find(|f| f["field"] == "environment")?;
    field["to"].as_str()?.split(", ").find_map(|kv| kv.strip_prefix("WSCHAT_TTL_ATTRIBUTE=")).map(str::to_string)
}

#[tokio::test]
async fn a_function_whose_update_failed_shows_failed_and_the_next_deploy_repairs_it() {
    let cloud = Cloud::with(only(|b| {
        b.function_pending_ms = Some(400);
        b.function_updating_ms = Some(400);
    }));
    let project = Project::new("rl-failed");
    deploy(&cloud, &project);
    // Updates wait for Pending and InProgress instead of colliding with them.
    assert_eq!(refused(&cloud, "ResourceConflictException"), 0, "{:#?}", cloud.realism.stats());

    cloud.realism.update(|b| b.failing_updates = vec!["rl-failed-dev-chat".into()]);
    let stack = project.stack();
    assert!(stack.contains("chat:   { crate: lambdas/chat }"), "the shipped stack.yaml changed shape");
    project
        .write_stack(&stack.replace("chat:   { crate: lambdas/chat }", "chat:   { crate: lambdas/chat, memory: 512 }"));
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(!out.status.success(), "a failed update must fail the deploy");
    assert!(stderr.contains("the update of Lambda function `rl-failed-dev-chat` failed"), "{stderr}");

    let status = json(&cloud, &project, &["status"]);
    let chat = resource(&status, "function", "chat");
    assert_eq!(chat["state"], "failed", "{status:#}");
    let (out, _) = run(&cloud, &project, &["status"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("failed") && table.contains("1 failed"), "{table}");

    // Lambda takes a new update after a failed one: deploy sends it.
    let repaired = deploy(&cloud, &project);
    assert!(repaired["changes"].as_array().unwrap().iter().any(|c| c["kind"] == "function" && c["name"] == "chat"));
    let status = json(&cloud, &project, &["status"]);
    assert_eq!(resource(&status, "function", "chat")["state"], "ok", "{status:#}");
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
}

#[tokio::test]
async fn deploy_prints_the_urls_once_the_stage_serves_the_new_routes() {
    let cloud = Cloud::with(only(|b| b.auto_deploy_ms = Some(1_500)));
    let project = Project::new("rl-stage");
    let report = deploy(&cloud, &project);
    let deployment = report["api_stage"]["deployment"].as_str().expect("a confirmed deployment").to_string();
    // At once, as a client would connect to the printed URL: the stage
    // serves a deployment made after the last route was written.
    let aws = cloud.through_proxy().await;
    let api = Inventory::read(&sdk(&cloud).await, "rl-stage", "dev").await.api_id();
    let stage = aws.apigatewayv2().get_stage().api_id(&api).stage_name("dev").send().await.unwrap();
    assert_eq!(stage.deployment_id(), Some(deployment.as_str()));
    let live = aws.apigatewayv2().get_deployment().api_id(&api).deployment_id(&deployment).send().await.unwrap();
    assert_eq!(live.deployment_status().map(|s| s.as_str()), Some("DEPLOYED"));
    let log = cloud.realism.operations();
    let last_route = log.iter().rposition(|o| o == "CreateRoute").unwrap();
    assert!(log[last_route..].contains(&"GetStage".to_string()), "{log:?}");
    assert!(log[last_route..].iter().any(|o| o.starts_with("GetDeployment")), "{log:?}");

    // A deploy that changes no route waits for nothing.
    let again = deploy(&cloud, &project);
    assert_eq!(again["api_stage"]["deployment"], Value::Null, "{again:#}");
    assert_eq!(mutating(&again), 0);
}

#[tokio::test]
async fn every_call_rides_out_a_throttle() {
    let cloud = Cloud::with(only(|b| b.throttle_first_calls = true));
    let project = Project::new("rl-throttle");
    deploy(&cloud, &project);
    json(&cloud, &project, &["plan"]);
    json(&cloud, &project, &["status"]);
    json(&cloud, &project, &["destroy", "--yes"]);
    let stats = cloud.realism.stats();
    let throttled: usize = [
        "TooManyRequestsException",
        "ThrottlingException",
        "ThrottledException",
        "Throttling",
        "RequestThrottled",
        "SlowDown",
    ]
    .iter()
    .map(|code| stats.refused.get(*code).copied().unwrap_or(0))
    .sum();
    // One refusal per operation any command used.
    assert_eq!(throttled, stats.operations.len(), "{stats:#?}");
}

#[tokio::test]
async fn reads_right_after_a_create_may_miss_it_and_deploy_waits() {
    let cloud = Cloud::with(only(|b| b.consistency_ms = Some(1_500)));
    let project = Project::new("rl-consistency");
    let report = deploy(&cloud, &project);
    assert_eq!(report["counts"]["create"], 54, "{report:#}");
    let log = cloud.realism.log();
    // The waits after CreateFunction and CreateTable saw "not found" first.
    let missed = log.iter().filter(|r| r.status == 404 || (r.operation == "DescribeTable" && r.status == 400)).count();
    assert!(missed >= 2, "{log:#?}");
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
}

/// Test-only switches are gone from the binary: these variables change nothing.
#[test]
fn the_old_test_switches_do_not_change_the_binary() {
    let cloud = Cloud::shared();
    let project = Project::new("rl-switches");
    let log = project.path().join("calls.log");
    let out = cli(&cloud, &project, &["--json", "deploy", "--no-build"])
        .env("WSCHAT_TEST_EXIT_AFTER_MUTATIONS", "1")
        .env("WSCHAT_TEST_CALL_LOG", &log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!log.exists(), "the binary wrote {}", log.display());
}

/// The whole of it, with every behaviour on as `Behaviours::aws` has them
/// (SQS's full 60 s among them): a deploy from empty converges in one run and
/// prints both URLs, a second deploy changes nothing, and a deploy at once
/// after `destroy --yes` succeeds.
#[test]
fn with_every_rule_on_deploy_converges_and_destroy_then_deploy_works() {
    let cloud = Cloud::with(Behaviours::aws());
    let project = Project::new("rl-aws");
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |prefix: &str| stdout.lines().find_map(|l| l.strip_prefix(prefix)).map(str::trim).map(str::to_string);
    let website = line("website:").unwrap_or_else(|| panic!("no website URL: {stdout}"));
    let websocket = line("websocket:").unwrap_or_else(|| panic!("no websocket URL: {stdout}"));
    assert!(website.starts_with("https://") && website.ends_with(".cloudfront.net"), "{stdout}");
    assert!(websocket.starts_with("wss://") && websocket.ends_with(".amazonaws.com/dev"), "{stdout}");
    let stats = cloud.realism.stats();
    assert!(!stats.refused.is_empty(), "the rules refused nothing: {stats:#?}");

    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);

    json(&cloud, &project, &["destroy", "--yes"]);
    let started = Instant::now();
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(50), "SQS's 60 s were not waited out: {stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("websocket: wss://"));
}

/// API Gateway v2 as `aws` has it, without retries: each call's own answer.
fn without_retries(aws: &Aws) -> aws_sdk_apigatewayv2::Client {
    aws_sdk_apigatewayv2::Client::from_conf(
        aws_sdk_apigatewayv2::config::Builder::from(aws.sdk_config())
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build(),
    )
}

/// A WebSocket API named `name`, made with `client`: its id.
async fn websocket_api(client: &aws_sdk_apigatewayv2::Client, name: &str) -> String {
    client
        .create_api()
        .name(name)
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Websocket)
        .route_selection_expression("$request.body.action")
        .send()
        .await
        .unwrap()
        .api_id
        .unwrap()
}
