//! Deploys and destroys killed part-way (SIGKILL where the realism proxy
//! froze them), then run again: they converge, with no duplicates and
//! nothing leaked, with every AWS behaviour of the proxy on.

use aws_sdk_apigatewayv2::types::ProtocolType;
use test_support::realism::Freeze;

use super::kill_loop::{KillPoint, kill_loop};
use super::{Cloud, Ended, Inventory, Project, behaviours, deploy, json, kill_at, mutating, sdk};

/// A converged stack: one of everything, configured as a full deploy leaves it.
fn assert_complete(inv: &Inventory, baseline: &Inventory) {
    inv.assert_no_duplicates();
    assert_eq!(inv.apis.len(), 1);
    assert_eq!(inv.route_keys(), baseline.route_keys());
    // chat's integration for every route but `ping`, which API Gateway
    // answers itself: its MOCK integration, with its integration response,
    // and its route response.
    assert_eq!(inv.integrations.len(), 2, "{:#?}", inv.integrations);
    let proxy = inv.integrations_of("AWS_PROXY");
    assert_eq!(proxy.len(), 1, "{:#?}", inv.integrations);
    let target = format!("integrations/{}", proxy[0]["id"].as_str().unwrap());
    assert!(inv.routes.iter().filter(|r| r["key"] != "ping").all(|r| r["target"] == target), "{:#?}", inv.routes);
    let mock = inv.target_of("ping");
    assert_eq!(mock["type"], "MOCK");
    assert_eq!(mock["request_templates"], serde_json::json!({"$default": "{\"statusCode\": 200}"}));
    assert_eq!(mock["responses"][0]["templates"], serde_json::json!({"$default": "{\"type\":\"pong\"}"}));
    assert_eq!(inv.route("ping")["response_selection"], "$default");
    let route_responses: Vec<(&String, usize)> = inv.route_responses.iter().map(|(k, r)| (k, r.len())).collect();
    assert_eq!(route_responses, [(&"ping".to_string(), 1)], "{:#?}", inv.route_responses);
    let models = |i: &Inventory| i.routes.iter().map(|r| r["models"].clone()).collect::<Vec<_>>();
    assert_eq!(models(inv), models(baseline));
    assert_eq!(inv.stages.len(), 1);
    assert_eq!(inv.functions.len(), 2);
    assert_eq!(inv.permissions.len(), 1);
    assert_eq!(inv.mappings.len(), 1);
    assert_eq!(inv.roles.len(), 2);
    assert!(inv.roles.values().all(|r| r["policies"].as_object().unwrap().len() == 1), "{:#?}", inv.roles);
    assert_eq!(inv.log_groups.len(), 2);
    assert!(inv.table.is_some() && inv.queue.is_some() && inv.dlq.is_some());
    assert_eq!(inv.table.as_ref().unwrap()["ttl_status"], "ENABLED");
    let ledger = inv.deliveries.as_ref().expect("the delivery ledger table");
    assert_eq!(ledger["keys"], serde_json::json!(["shard HASH", "part RANGE"]));
    assert_eq!(ledger["ttl_status"], "ENABLED");
    let presence = inv.presence.as_ref().expect("the presence table");
    assert_eq!(presence["keys"], serde_json::json!(["key HASH", "part RANGE"]));
    assert_eq!(presence["ttl_status"], "ENABLED");
    assert_eq!(inv.mappings["notify"][0]["maximum_concurrency"], 10);
    let queue_url = &inv.queue.as_ref().unwrap()["url"];
    assert!(inv.functions.values().all(|f| f["environment"]["WSCHAT_QUEUE_URL"] == *queue_url));
    // The website: a private, tagged bucket whose policy names the one
    // distribution, and config.json with this stack's URL.
    let bucket = inv.bucket.as_ref().expect("the website bucket");
    assert_eq!(bucket["public_access_block"], baseline.bucket.as_ref().unwrap()["public_access_block"]);
    assert_eq!(bucket["encryption"], "AES256");
    assert_eq!(bucket["ownership"], "BucketOwnerEnforced");
    assert_eq!(bucket["tags"].as_object().unwrap().len(), 3, "{bucket:#}");
    assert_eq!(inv.oacs.len(), 1);
    let distribution = inv.distribution();
    assert_eq!(
        bucket["policy"]["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"], distribution["arn"],
        "{bucket:#}"
    );
    assert_eq!(inv.objects.keys().collect::<Vec<_>>(), ["config.json"]);
    let api = inv.api_id();
    assert!(inv.objects["config.json"]["body"].as_str().unwrap().contains(&api), "{:#?}", inv.objects);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deploy_killed_after_any_of_its_mutating_calls_converges_on_the_next_run() {
    let aws = sdk(&Cloud::shared()).await;
    // The count that matters is of mutating calls that reached AWS: the
    // proxy's refusals (throttling, IAM propagation...) changed nothing.
    let full = Project::new("flt-full");
    let cloud = Cloud::with(behaviours());
    deploy(&cloud, &full);
    let n = cloud.realism.stats().forwarded_mutating;
    let baseline = Inventory::read(&aws, "flt-full", "dev").await;
    assert!(n >= 40, "a full deploy made {n} mutating calls");

    let points: Vec<usize> = (1..=n).collect();
    kill_loop(&points, |k| {
        let baseline = &baseline;
        async move {
            let (cloud, aws) = KillPoint::cloud().await;
            let aws = &aws;
            let name = format!("flt-{k}");
            // The last few calls may not come in every run.
            let point = KillPoint::kill(cloud, Project::new(&name), k, k + 3 > n).await;

            point.cloud.realism.reset_stats();
            let resumed = point.resume().await;
            // Calls in flight when the process died may or may not have
            // reached moto: up to one wave's concurrency is uncertain.
            // Models are the one thing made twice, on moto only: it cannot
            // list them, so a model no route references yet is not found.
            let models_again = super::report_ids(&resumed, "model").len();
            let redone = point.cloud.realism.stats().forwarded_mutating;
            assert!(
                redone - models_again <= n - k + wschat_engine::apply::CONCURRENCY,
                "k={k}: the resumed deploy redid work: {redone} mutating calls reached AWS after {k} of {n}"
            );
            let mut inv = Inventory::read(aws, &name, "dev").await;
            inv.read_route_responses(&point.cloud.through_proxy().await, aws).await;
            assert_complete(&inv, baseline);

            point.assert_converged().await;
            point.destroy().await;
            let left = Inventory::read(aws, &name, "dev").await;
            assert!(left.is_empty(), "k={k}: leaked {left:#?}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_destroy_killed_part_way_finishes_when_run_again() {
    let cloud = Cloud::with(behaviours());
    let project = Project::new("flt-destroy");
    deploy(&cloud, &project);
    let aws = sdk(&cloud).await;

    let killed = kill_at(&cloud, &project, &["destroy", "--yes"], Freeze::AfterMutations(3)).await;
    assert!(matches!(killed, Ended::Killed), "{killed:?}");
    let partial = Inventory::read(&aws, "flt-destroy", "dev").await;
    assert!(!partial.is_empty(), "the killed destroy had already finished");

    let finished = json(&cloud, &project, &["destroy", "--yes"]);
    assert!(!finished["deleted"].as_array().unwrap().is_empty());
    let left = Inventory::read(&aws, "flt-destroy", "dev").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[tokio::test]
async fn a_duplicate_api_is_deleted_and_the_one_serving_the_stage_is_kept() {
    let cloud = Cloud::shared();
    let project = Project::new("flt-dup");
    let first = deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let api = Inventory::read(&aws, "flt-dup", "dev").await.api_id();
    // What a killed deploy's in-flight CreateApi leaves behind.
    let tags = [("wschat:stack", "flt-dup"), ("wschat:stage", "dev"), ("project", "wschat")];
    let mut create = aws.apigatewayv2().create_api().name("flt-dup-dev").protocol_type(ProtocolType::Websocket);
    for (k, v) in tags {
        create = create.tags(k, v);
    }
    let extra = create.route_selection_expression("$request.body.action").send().await.unwrap().api_id.unwrap();

    let plan = json(&cloud, &project, &["plan"]);
    assert_eq!(super::changes(&plan), ["delete api api"], "{plan:#}");
    assert_eq!(plan["changes"][0]["id"], extra.as_str());
    assert_eq!(plan["changes"][0]["reason"], "duplicate");
    let repaired = deploy(&cloud, &project);
    assert_eq!(mutating(&repaired), 1, "{repaired:#}");
    assert_eq!(repaired["urls"]["websocket"], first["urls"]["websocket"]);
    let inv = Inventory::read(&aws, "flt-dup", "dev").await;
    assert_eq!(inv.api_id(), api);
}
