//! Deploys and destroys killed part-way (`WSCHAT_TEST_EXIT_AFTER_MUTATIONS`),
//! then run again: they converge, with no duplicates and nothing leaked.

use aws_sdk_apigatewayv2::types::ProtocolType;
use futures::StreamExt;
use test_support::Moto;
use wschat::aws::{TEST_EXIT_CODE, TEST_EXIT_ENV};

use super::{Inventory, Project, cli, deploy, json, mutating, sdk};

/// A converged stack: one of everything, configured as a full deploy leaves it.
fn assert_complete(inv: &Inventory, baseline: &Inventory) {
    inv.assert_no_duplicates();
    assert_eq!(inv.apis.len(), 1);
    assert_eq!(inv.route_keys(), baseline.route_keys());
    assert_eq!(inv.integrations.len(), 1);
    let target = format!("integrations/{}", inv.integrations[0]["id"].as_str().unwrap());
    assert!(inv.routes.iter().all(|r| r["target"] == target), "{:#?}", inv.routes);
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

async fn output(cmd: std::process::Command) -> std::process::Output {
    tokio::process::Command::from(cmd).output().await.expect("running wschat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deploy_killed_after_any_of_its_mutating_calls_converges_on_the_next_run() {
    let moto = Moto::shared();
    let aws = sdk(&moto).await;
    let full = Project::new("flt-full");
    let n = mutating(&deploy(&moto, &full));
    let baseline = Inventory::read(&aws, "flt-full", "dev").await;
    assert!(n >= 46, "a full deploy made {n} mutating calls");

    let results: Vec<()> = futures::stream::iter(1..=n)
        .map(|k| {
            let (moto, aws, baseline) = (&moto, &aws, &baseline);
            async move {
                let name = format!("flt-{k}");
                let project = Project::new(&name);
                let mut killed = cli(moto, &project, &["deploy", "--no-build"]);
                killed.env(TEST_EXIT_ENV, k.to_string());
                let out = output(killed).await;
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(TEST_EXIT_CODE), "k={k}: {stderr}");
                assert!(out.stdout.is_empty(), "k={k}: a killed deploy printed a result");
                // Requests the dead process had in flight still land (on AWS
                // too); let moto finish them so the next deploy sees them.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;

                let resumed = output(cli(moto, &project, &["--json", "deploy", "--no-build"])).await;
                assert!(resumed.status.success(), "k={k}: {}", String::from_utf8_lossy(&resumed.stderr));
                let resumed: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
                // Calls in flight when the process died may or may not have
                // reached moto: up to one wave's concurrency is uncertain.
                // Models are the one thing made twice, on moto only: it cannot
                // list them, so a model no route references yet is not found.
                let models_again = super::report_ids(&resumed, "model").len() as u64;
                assert!(
                    mutating(&resumed) - models_again <= n - k + wschat::apply::CONCURRENCY as u64,
                    "k={k}: the resumed deploy redid work: {} mutating calls after {k} of {n}",
                    mutating(&resumed)
                );
                let inv = Inventory::read(aws, &name, "dev").await;
                assert_complete(&inv, baseline);

                let again = output(cli(moto, &project, &["--json", "deploy", "--no-build"])).await;
                let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
                assert_eq!(mutating(&again), 0, "k={k}: not converged: {again:#}");

                let destroyed = output(cli(moto, &project, &["destroy", "--yes"])).await;
                assert!(destroyed.status.success(), "k={k}: {}", String::from_utf8_lossy(&destroyed.stderr));
                let left = Inventory::read(aws, &name, "dev").await;
                assert!(left.is_empty(), "k={k}: leaked {left:#?}");
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    assert_eq!(results.len() as u64, n);
}

#[tokio::test]
async fn a_destroy_killed_part_way_finishes_when_run_again() {
    let moto = Moto::shared();
    let project = Project::new("flt-destroy");
    deploy(&moto, &project);
    let aws = sdk(&moto).await;

    let mut killed = cli(&moto, &project, &["destroy", "--yes"]);
    killed.env(TEST_EXIT_ENV, "3");
    let out = killed.output().unwrap();
    assert_eq!(out.status.code(), Some(TEST_EXIT_CODE), "{}", String::from_utf8_lossy(&out.stderr));
    let partial = Inventory::read(&aws, "flt-destroy", "dev").await;
    assert!(!partial.is_empty(), "the killed destroy had already finished");

    let finished = json(&moto, &project, &["destroy", "--yes"]);
    assert!(!finished["deleted"].as_array().unwrap().is_empty());
    let left = Inventory::read(&aws, "flt-destroy", "dev").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[tokio::test]
async fn a_duplicate_api_is_deleted_and_the_one_serving_the_stage_is_kept() {
    let moto = Moto::shared();
    let project = Project::new("flt-dup");
    let first = deploy(&moto, &project);
    let aws = sdk(&moto).await;
    let api = Inventory::read(&aws, "flt-dup", "dev").await.api_id();
    // What a killed deploy's in-flight CreateApi leaves behind.
    let tags = [("wschat:stack", "flt-dup"), ("wschat:stage", "dev"), ("project", "wschat")];
    let mut create = aws.apigatewayv2().create_api().name("flt-dup-dev").protocol_type(ProtocolType::Websocket);
    for (k, v) in tags {
        create = create.tags(k, v);
    }
    let extra = create.route_selection_expression("$request.body.action").send().await.unwrap().api_id.unwrap();

    let plan = json(&moto, &project, &["plan"]);
    assert_eq!(super::changes(&plan), ["delete api api"], "{plan:#}");
    assert_eq!(plan["changes"][0]["id"], extra.as_str());
    assert_eq!(plan["changes"][0]["reason"], "duplicate");
    let repaired = deploy(&moto, &project);
    assert_eq!(mutating(&repaired), 1, "{repaired:#}");
    assert_eq!(repaired["urls"]["websocket"], first["urls"]["websocket"]);
    let inv = Inventory::read(&aws, "flt-dup", "dev").await;
    assert_eq!(inv.api_id(), api);
}
