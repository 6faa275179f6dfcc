//! `wschat plan / deploy / status / destroy` against a real moto server,
//! through the AWS realism proxy ([`test_support::realism`]), so that AWS's
//! rules apply: API Gateway's one writer per API, IAM propagation, Lambda
//! states, the SQS and S3 name rules, DynamoDB's TTL rules, throttling and
//! eventual consistency.
//!
//! Every test runs the `wschat` binary on its own temp project with its own
//! stack name, so tests share one moto (and one proxy, every behaviour on)
//! and run in parallel; tests that set behaviours of their own start a proxy
//! of their own. What the tool did is read back with SDK calls of the test's
//! own, straight from moto ([`Inventory`]), not through the code under test.

mod ci;
mod domain;
mod domain_reuse;
mod faults;
mod kill_loop;
mod lifecycle;
mod observability;
mod policy;
mod realism;
mod signin;
mod stages;
mod website;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::Value;
use test_support::realism::{Behaviours, Realism};
use test_support::{ACCOUNT_ID, Moto, REGION};
use wschat_engine::aws::Aws;

/// moto with the realism proxy in front: where deploy tests send wschat.
pub struct Cloud {
    moto: Arc<Moto>,
    pub realism: Realism,
}

thread_local! {
    /// The moto server of the test running on this thread (libtest runs each
    /// test on a thread of its own): one of the binary's shared servers
    /// ([`Moto::shared`]), for all of the test's clouds, so that what one of
    /// its proxies made, the others and its SDK clients see.
    static MOTO: Arc<Moto> = Moto::shared();
    static SHARED: Arc<Cloud> = Arc::new(Cloud::own(MOTO.with(Arc::clone), behaviours()));
}

impl Cloud {
    /// The test's cloud: its moto behind a proxy with every behaviour on
    /// ([`behaviours`]).
    pub fn shared() -> Arc<Cloud> {
        SHARED.with(Arc::clone)
    }

    /// A proxy of its own, with `behaviours`, in front of the test's moto.
    pub fn with(behaviours: Behaviours) -> Cloud {
        Cloud::own(MOTO.with(Arc::clone), behaviours)
    }

    /// A proxy with `behaviours` in front of `moto`.
    pub fn own(moto: Arc<Moto>, behaviours: Behaviours) -> Cloud {
        let realism = Realism::start(&moto.endpoint(), behaviours);
        Cloud { moto, realism }
    }

    pub fn moto(&self) -> &Moto {
        &self.moto
    }

    /// An SDK configuration that talks to AWS through the proxy, as wschat
    /// does (to read what only the proxy knows: deployments, Lambda states).
    pub async fn through_proxy(&self) -> Aws {
        crate::aws_wiring::aws_at(&self.realism.endpoint()).await
    }
}

/// Every behaviour on, as [`Behaviours::aws`] has them, with the SQS name
/// rule shortened from 60 s to 3 s: tests that delete a queue and deploy
/// again wait that out, and the destroy-then-deploy test checks the full rule.
pub fn behaviours() -> Behaviours {
    Behaviours { queue_name_reuse_ms: Some(3_000), ..Behaviours::aws() }
}

use crate::support::{root, wschat};

/// Waits out the proxy's consistency window ([`behaviours`]): a listing or a
/// read within it leaves out what was just made, so a destroy started at once
/// after a deploy could miss the deploy's last creates, as it could on AWS.
pub async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(behaviours().consistency_ms.unwrap_or(0) + 100)).await;
}

/// Once the consistency window is over, `wschat destroy --yes` succeeds.
pub async fn destroy(cloud: &Cloud, project: &Project) {
    settle().await;
    let (out, stderr) = run(cloud, project, &["destroy", "--yes"]);
    assert!(out.status.success(), "{stderr}");
}

/// A temp project: stack.yaml (the shipped one, renamed), its schemas and
/// crates, and small zips in `target/wschat` as `wschat build` would leave them.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(name: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        for krate in ["lambdas/chat", "lambdas/notify", "lambdas/authorizer"] {
            std::fs::create_dir_all(dir.path().join(krate)).unwrap();
            std::fs::copy(root().join(krate).join("Cargo.toml"), dir.path().join(krate).join("Cargo.toml")).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("wwwroot")).unwrap();
        std::fs::create_dir_all(dir.path().join("schemas")).unwrap();
        for entry in std::fs::read_dir(root().join("schemas")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join("schemas").join(path.file_name().unwrap())).unwrap();
        }
        let project = Project { dir };
        project.write_stack(&Project::shipped_stack(name));
        project.write_zip("chat", "chat v1");
        project.write_zip("notify", "notify v1");
        project
    }

    /// The shipped stack.yaml with another `name`.
    pub fn shipped_stack(name: &str) -> String {
        let text = std::fs::read_to_string(root().join("stack.yaml")).unwrap();
        assert!(text.contains("\nname: wschat\n"), "the shipped stack.yaml changed shape");
        text.replace("\nname: wschat\n", &format!("\nname: {name}\n"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_stack(&self, yaml: &str) {
        std::fs::write(self.path().join("stack.yaml"), yaml).unwrap();
    }

    pub fn stack(&self) -> String {
        std::fs::read_to_string(self.path().join("stack.yaml")).unwrap()
    }

    /// A zip holding an executable `bootstrap` that prints `marker`.
    pub fn write_zip(&self, function: &str, marker: &str) {
        let zips = self.path().join("target/wschat");
        std::fs::create_dir_all(&zips).unwrap();
        let file = std::fs::File::create(zips.join(format!("{function}.zip"))).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .unix_permissions(0o755);
        zip.start_file("bootstrap", options).unwrap();
        zip.write_all(format!("#!/bin/sh\necho {marker}\n").as_bytes()).unwrap();
        zip.finish().unwrap();
    }

    /// Base64 SHA-256 of a function's zip, as Lambda reports `CodeSha256`.
    pub fn zip_sha(&self, function: &str) -> String {
        let bytes = std::fs::read(self.path().join(format!("target/wschat/{function}.zip"))).unwrap();
        wschat::build::sha256_base64(&bytes)
    }
}

/// `wschat` in `project`, pointed at the proxy in front of moto.
pub fn cli(cloud: &Cloud, project: &Project, args: &[&str]) -> Command {
    let mut cmd = wschat(project.path());
    cmd.envs(cloud.realism.env()).arg("--endpoint-url").arg(cloud.realism.endpoint()).args(args);
    cmd
}

/// Runs `wschat` and returns its output, with stderr as text.
pub fn run(cloud: &Cloud, project: &Project, args: &[&str]) -> (Output, String) {
    let out = cli(cloud, project, args).output().expect("running wschat");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

/// Runs `wschat --json ARGS`, asserts success and returns the document.
pub fn json(cloud: &Cloud, project: &Project, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (out, stderr) = run(cloud, project, &all);
    assert!(out.status.success(), "wschat {args:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("wschat {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

pub fn deploy(cloud: &Cloud, project: &Project) -> Value {
    json(cloud, project, &["deploy", "--no-build"])
}

/// A new project `name`, deployed to the shared cloud (stage `dev`), with
/// the test's SDK and what the deploy made: the start of the tests that
/// change a deployed stack and compare.
pub async fn deployed(name: &str) -> (Arc<Cloud>, Project, Aws, Inventory) {
    let cloud = Cloud::shared();
    let project = Project::new(name);
    deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let inventory = Inventory::read(&aws, name, "dev").await;
    (cloud, project, aws, inventory)
}

pub fn deploy_stage(cloud: &Cloud, project: &Project, stage: &str) -> Value {
    json(cloud, project, &["deploy", "--no-build", "--stage", stage])
}

/// The changes of a plan or deploy report, as `action kind name` strings, sorted.
pub fn changes(report: &Value) -> Vec<String> {
    let mut out: Vec<String> = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            format!("{} {} {}", c["action"].as_str().unwrap(), c["kind"].as_str().unwrap(), c["name"].as_str().unwrap())
        })
        .collect();
    out.sort();
    out
}

pub fn mutating(report: &Value) -> u64 {
    report["calls"]["mutating"].as_u64().expect("calls.mutating")
}

/// What AWS (moto) holds for one stack and stage, read with plain SDK calls.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inventory {
    /// The connections table.
    pub table: Option<Value>,
    /// The delivery ledger table.
    pub deliveries: Option<Value>,
    /// The chat's history.
    pub messages: Option<Value>,
    /// Presence: the count of people online and the digests.
    pub presence: Option<Value>,
    pub queue: Option<Value>,
    pub dlq: Option<Value>,
    /// Function name -> configuration summary.
    pub functions: BTreeMap<String, Value>,
    /// Role name -> trust policy and inline policies (decoded).
    pub roles: BTreeMap<String, Value>,
    /// APIs tagged with this stack and stage.
    pub apis: Vec<Value>,
    /// Of the first API.
    pub routes: Vec<Value>,
    /// With each MOCK integration's integration responses.
    pub integrations: Vec<Value>,
    /// Route key -> its route responses, when [`Inventory::read_route_responses`]
    /// read them (moto cannot list them: through the proxy).
    pub route_responses: BTreeMap<String, Vec<Value>>,
    pub stages: Vec<Value>,
    pub authorizers: Vec<Value>,
    /// Function name -> statements with this stack's statement id.
    pub permissions: BTreeMap<String, Vec<Value>>,
    /// Function name -> mappings.
    pub mappings: BTreeMap<String, Vec<Value>>,
    pub log_groups: Vec<Value>,
    /// The website bucket's settings and policy.
    pub bucket: Option<Value>,
    /// Key -> Content-Type, Cache-Control, ETag and body of every object.
    pub objects: BTreeMap<String, Value>,
    /// Origin access controls named `{name}-{stage}-site`.
    pub oacs: Vec<Value>,
    /// Distributions tagged with this stack and stage.
    pub distributions: Vec<Value>,
    /// The alarm topic `{name}-{stage}-alarms`, its tags and subscriptions.
    pub topic: Option<Value>,
    /// Alarms named `{name}-{stage}-*` tagged with this stack and stage, by key.
    pub alarms: BTreeMap<String, Value>,
    /// The dashboard `{name}-{stage}`'s body.
    pub dashboard: Option<Value>,
}

impl Inventory {
    pub async fn read(aws: &Aws, name: &str, stage: &str) -> Inventory {
        let prefix = format!("{name}-{stage}");
        let mut inv = Inventory::default();

        let ddb = aws.dynamodb();
        inv.table = read_table(&ddb, &format!("{prefix}-connections")).await;
        inv.deliveries = read_table(&ddb, &format!("{prefix}-deliveries")).await;
        inv.messages = read_table(&ddb, &format!("{prefix}-messages")).await;
        inv.presence = read_table(&ddb, &format!("{prefix}-presence")).await;

        let sqs = aws.sqs();
        for (slot, queue) in
            [(&mut inv.queue, format!("{prefix}-notifications")), (&mut inv.dlq, format!("{prefix}-notifications-dlq"))]
        {
            let Ok(url) = sqs.get_queue_url().queue_name(&queue).send().await else { continue };
            let url = url.queue_url.unwrap();
            let mut attributes = test_support::aws::queue_attributes(&sqs, &url).await;
            let tags = sqs.list_queue_tags().queue_url(&url).send().await.unwrap();
            for volatile in [
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesDelayed",
                "ApproximateNumberOfMessagesNotVisible",
            ] {
                attributes.remove(volatile);
            }
            *slot = Some(
                serde_json::json!({ "url": url, "attributes": attributes, "tags": tags.tags.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>() }),
            );
        }

        let lambda = aws.lambda();
        let iam = aws.iam();
        for function in ["chat", "notify", "authorizer"] {
            let fname = format!("{prefix}-{function}");
            if let Ok(f) = lambda.get_function().function_name(&fname).send().await {
                let c = f.configuration.unwrap();
                inv.functions.insert(
                    function.to_string(),
                    serde_json::json!({
                        "arn": c.function_arn(),
                        "runtime": c.runtime().map(|r| r.as_str().to_string()),
                        "handler": c.handler(),
                        "role": c.role(),
                        "architectures": c.architectures().iter().map(|a| a.as_str().to_string()).collect::<Vec<_>>(),
                        "memory": c.memory_size(),
                        "timeout": c.timeout(),
                        "environment": c.environment().and_then(|e| e.variables()).cloned().unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
                        "code_sha256": c.code_sha256(),
                        "last_modified": c.last_modified(),
                        "tags": f.tags.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
                    }),
                );
            }
            if let Ok(policy) = lambda.get_policy().function_name(&fname).send().await {
                let doc: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
                let sid = format!("{prefix}-apigateway");
                let statements: Vec<Value> = doc["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["Sid"] == Value::String(sid.clone()))
                    .cloned()
                    .collect();
                if !statements.is_empty() {
                    inv.permissions.insert(function.to_string(), statements);
                }
            }
            let mappings = lambda.list_event_source_mappings().function_name(&fname).send().await.unwrap();
            let mappings: Vec<Value> = mappings
                .event_source_mappings()
                .iter()
                .map(|m| {
                    serde_json::json!({
                        "uuid": m.uuid(),
                        "source": m.event_source_arn(),
                        "batch": m.batch_size(),
                        "response_types": m.function_response_types().iter().map(|t| t.as_str().to_string()).collect::<Vec<_>>(),
                        "maximum_concurrency": m.scaling_config().and_then(|c| c.maximum_concurrency()),
                    })
                })
                .collect();
            if !mappings.is_empty() {
                inv.mappings.insert(function.to_string(), mappings);
            }
            if let Ok(role) = iam.get_role().role_name(&fname).send().await {
                let role = role.role.unwrap();
                let mut policies = BTreeMap::new();
                for policy in iam.list_role_policies().role_name(&fname).send().await.unwrap().policy_names() {
                    let doc = iam.get_role_policy().role_name(&fname).policy_name(policy).send().await.unwrap();
                    policies.insert(policy.to_string(), decode(&doc.policy_document));
                }
                inv.roles.insert(
                    fname.clone(),
                    serde_json::json!({
                        "trust": decode(role.assume_role_policy_document().unwrap()),
                        "policies": policies,
                        "tags": role.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect::<BTreeMap<_, _>>(),
                    }),
                );
            }
        }

        let apigw = aws.apigatewayv2();
        let apis = apigw.get_apis().send().await.unwrap();
        for api in apis.items() {
            let tags = api.tags().cloned().unwrap_or_default();
            if tags.get("wschat:stack").map(String::as_str) == Some(name)
                && tags.get("wschat:stage").map(String::as_str) == Some(stage)
            {
                inv.apis.push(serde_json::json!({
                    "id": api.api_id(),
                    "name": api.name(),
                    "protocol": api.protocol_type().map(|p| p.as_str().to_string()),
                    "route_selection": api.route_selection_expression(),
                    "tags": tags.into_iter().collect::<BTreeMap<_, _>>(),
                }));
            }
        }
        if let Some(api_id) = inv.apis.first().and_then(|a| a["id"].as_str()).map(str::to_string) {
            let routes = apigw.get_routes().api_id(&api_id).send().await.unwrap();
            inv.routes = routes
                .items()
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "id": r.route_id(),
                        "key": r.route_key(),
                        "target": r.target(),
                        "authorization": r.authorization_type().map(|a| a.as_str().to_string()),
                        "authorizer_id": r.authorizer_id().filter(|id| !id.is_empty()),
                        "models": r.request_models().cloned().unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
                        "model_selection": r.model_selection_expression(),
                        "response_selection": r.route_response_selection_expression().filter(|e| !e.is_empty()),
                    })
                })
                .collect();
            inv.routes.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
            let integrations = apigw.get_integrations().api_id(&api_id).send().await.unwrap();
            for i in integrations.items() {
                let id = i.integration_id().unwrap();
                let mock = i.integration_type() == Some(&aws_sdk_apigatewayv2::types::IntegrationType::Mock);
                let mut integration = serde_json::json!({
                    "id": id,
                    "type": i.integration_type().map(|t| t.as_str().to_string()),
                    "method": i.integration_method(),
                    "uri": i.integration_uri(),
                });
                if mock {
                    let templates = i.request_templates().cloned().unwrap_or_default();
                    integration["request_templates"] = serde_json::json!(templates);
                    integration["template_selection"] = serde_json::json!(i.template_selection_expression());
                    let responses =
                        apigw.get_integration_responses().api_id(&api_id).integration_id(id).send().await.unwrap();
                    integration["responses"] = responses
                        .items()
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "id": r.integration_response_id(),
                                "key": r.integration_response_key(),
                                "templates": r.response_templates().cloned().unwrap_or_default(),
                                "template_selection": r.template_selection_expression(),
                            })
                        })
                        .collect();
                }
                inv.integrations.push(integration);
            }
            let authorizers = apigw.get_authorizers().api_id(&api_id).send().await.unwrap();
            inv.authorizers = authorizers
                .items()
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "id": a.authorizer_id(),
                        "name": a.name(),
                        "type": a.authorizer_type().map(|t| t.as_str().to_string()),
                        "uri": a.authorizer_uri(),
                        "identity_source": a.identity_source(),
                    })
                })
                .collect();
            let stages = apigw.get_stages().api_id(&api_id).send().await.unwrap();
            inv.stages = stages
                .items()
                .iter()
                .map(|s| {
                    let settings = s.default_route_settings();
                    serde_json::json!({
                        "name": s.stage_name(),
                        "auto_deploy": s.auto_deploy(),
                        "rate": settings.and_then(|r| r.throttling_rate_limit()),
                        "burst": settings.and_then(|r| r.throttling_burst_limit()),
                        // Route key -> [rate, burst].
                        "routes": s
                            .route_settings()
                            .into_iter()
                            .flatten()
                            .map(|(key, r)| (key.clone(), serde_json::json!([r.throttling_rate_limit(), r.throttling_burst_limit()])))
                            .collect::<BTreeMap<_, _>>(),
                        "tags": s.tags().cloned().unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
                    })
                })
                .collect();
        }

        let logs = aws.logs();
        let groups =
            logs.describe_log_groups().log_group_name_prefix(format!("/aws/lambda/{prefix}-")).send().await.unwrap();
        let ours = ["chat", "notify", "authorizer"].map(|f| format!("/aws/lambda/{prefix}-{f}"));
        for group in groups.log_groups().iter().filter(|g| ours.iter().any(|n| Some(n.as_str()) == g.log_group_name()))
        {
            let arn = group.log_group_arn().unwrap();
            let tags = logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            inv.log_groups.push(serde_json::json!({
                "name": group.log_group_name(),
                "retention": group.retention_in_days(),
                "tags": tags.tags.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
            }));
        }
        inv.read_website(aws, name, stage).await;
        inv.read_observability(aws, name, stage).await;
        inv
    }

    async fn read_observability(&mut self, aws: &Aws, name: &str, stage: &str) {
        let prefix = format!("{name}-{stage}");
        let sns = aws.sns();
        let topic = format!("arn:aws:sns:{REGION}:{ACCOUNT_ID}:{prefix}-alarms");
        if sns.get_topic_attributes().topic_arn(&topic).send().await.is_ok() {
            let tags = sns.list_tags_for_resource().resource_arn(&topic).send().await.unwrap();
            let tags: BTreeMap<&str, &str> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
            let subs = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
            let subs: Vec<Value> = subs
                .subscriptions()
                .iter()
                .map(|s| serde_json::json!({ "protocol": s.protocol(), "endpoint": s.endpoint(), "arn": s.subscription_arn() }))
                .collect();
            self.topic = Some(serde_json::json!({ "arn": topic, "tags": tags, "subscriptions": subs }));
        }
        let cloudwatch = aws.cloudwatch();
        let alarms = cloudwatch.describe_alarms().alarm_name_prefix(format!("{prefix}-")).send().await.unwrap();
        for a in alarms.metric_alarms() {
            let arn = a.alarm_arn().unwrap();
            let tags = cloudwatch.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
            let tags: BTreeMap<&str, &str> =
                tags.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())).collect();
            if tags.get("wschat:stack") != Some(&name) || tags.get("wschat:stage") != Some(&stage) {
                continue;
            }
            let metrics: Vec<Value> = a
                .metrics()
                .iter()
                .map(|q| {
                    let stat = q.metric_stat();
                    let metric = stat.and_then(|s| s.metric());
                    serde_json::json!({
                        "id": q.id(),
                        "expression": q.expression(),
                        "metric": metric.and_then(|m| m.metric_name()),
                        "namespace": metric.and_then(|m| m.namespace()),
                        "dimensions": metric.map(|m| m.dimensions().iter().map(|d| (d.name().unwrap_or_default(), d.value().unwrap_or_default())).collect::<BTreeMap<_, _>>()),
                        "stat": stat.and_then(|s| s.stat()),
                        "period": stat.and_then(|s| s.period()),
                    })
                })
                .collect();
            let key = a.alarm_name().unwrap()[prefix.len() + 1..].to_string();
            self.alarms.insert(
                key,
                serde_json::json!({
                    "name": a.alarm_name(),
                    "description": a.alarm_description(),
                    "namespace": a.namespace(),
                    "metric": a.metric_name(),
                    "dimensions": a.dimensions().iter().map(|d| (d.name().unwrap_or_default(), d.value().unwrap_or_default())).collect::<BTreeMap<_, _>>(),
                    "statistic": a.statistic().map(|s| s.as_str().to_string()).or_else(|| a.extended_statistic().map(str::to_string)),
                    "metrics": metrics,
                    "period": a.period(),
                    "evaluation_periods": a.evaluation_periods(),
                    "datapoints_to_alarm": a.datapoints_to_alarm(),
                    "threshold": a.threshold(),
                    "comparison": a.comparison_operator().map(|c| c.as_str().to_string()),
                    "treat_missing_data": a.treat_missing_data(),
                    "actions": a.alarm_actions(),
                    "ok_actions": a.ok_actions(),
                    "tags": tags,
                }),
            );
        }
        if let Ok(d) = cloudwatch.get_dashboard().dashboard_name(&prefix).send().await {
            self.dashboard = d.dashboard_body().and_then(|b| serde_json::from_str(b).ok());
        }
    }

    async fn read_website(&mut self, aws: &Aws, name: &str, stage: &str) {
        let prefix = format!("{name}-{stage}");
        let bucket = format!("{prefix}-{ACCOUNT_ID}-{REGION}");
        let s3 = aws.s3();
        if s3.head_bucket().bucket(&bucket).send().await.is_ok() {
            let block = s3.get_public_access_block().bucket(&bucket).send().await.ok().and_then(|b| {
                b.public_access_block_configuration.map(|c| {
                    serde_json::json!({
                        "BlockPublicAcls": c.block_public_acls,
                        "IgnorePublicAcls": c.ignore_public_acls,
                        "BlockPublicPolicy": c.block_public_policy,
                        "RestrictPublicBuckets": c.restrict_public_buckets,
                    })
                })
            });
            let ownership = s3.get_bucket_ownership_controls().bucket(&bucket).send().await.ok().and_then(|o| {
                o.ownership_controls.and_then(|c| c.rules.first().map(|r| r.object_ownership.as_str().to_string()))
            });
            let encryption = s3.get_bucket_encryption().bucket(&bucket).send().await.ok().and_then(|e| {
                e.server_side_encryption_configuration.and_then(|c| {
                    c.rules
                        .first()
                        .and_then(|r| r.apply_server_side_encryption_by_default.as_ref())
                        .map(|d| d.sse_algorithm.as_str().to_string())
                })
            });
            let tags: BTreeMap<String, String> = s3
                .get_bucket_tagging()
                .bucket(&bucket)
                .send()
                .await
                .map(|t| t.tag_set.into_iter().map(|t| (t.key, t.value)).collect())
                .unwrap_or_default();
            let policy = s3
                .get_bucket_policy()
                .bucket(&bucket)
                .send()
                .await
                .ok()
                .and_then(|p| p.policy)
                .map(|p| serde_json::from_str::<Value>(&p).unwrap());
            self.bucket = Some(serde_json::json!({
                "name": bucket,
                "public_access_block": block,
                "ownership": ownership,
                "encryption": encryption,
                "tags": tags,
                "policy": policy,
            }));
            let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
            for object in listed.contents() {
                let key = object.key().unwrap().to_string();
                let got = s3.get_object().bucket(&bucket).key(&key).send().await.unwrap();
                let (content_type, cache_control, etag) =
                    (got.content_type.clone(), got.cache_control.clone(), got.e_tag.clone());
                let body = got.body.collect().await.unwrap().into_bytes();
                self.objects.insert(
                    key,
                    serde_json::json!({
                        "content_type": content_type,
                        "cache_control": cache_control,
                        "etag": etag.map(|e| e.trim_matches('"').to_string()),
                        "body": String::from_utf8_lossy(&body),
                    }),
                );
            }
        }

        let cf = aws.cloudfront();
        let oacs = cf.list_origin_access_controls().send().await.unwrap();
        for oac in oacs.origin_access_control_list.and_then(|l| l.items).unwrap_or_default() {
            if oac.name == format!("{prefix}-site") {
                self.oacs.push(serde_json::json!({
                    "id": oac.id,
                    "name": oac.name,
                    "origin_type": oac.origin_access_control_origin_type.as_str(),
                    "signing_behavior": oac.signing_behavior.as_str(),
                    "signing_protocol": oac.signing_protocol.as_str(),
                }));
            }
        }
        let distributions = cf.list_distributions().send().await.unwrap();
        for d in distributions.distribution_list.and_then(|l| l.items).unwrap_or_default() {
            let tags = cf.list_tags_for_resource().resource(&d.arn).send().await.unwrap();
            let tags = wschat_engine::aws::from_cloudfront(tags.tags);
            if tags.get("wschat:stack").map(String::as_str) != Some(name)
                || tags.get("wschat:stage").map(String::as_str) != Some(stage)
            {
                continue;
            }
            let config = cf.get_distribution_config().id(&d.id).send().await.unwrap().distribution_config.unwrap();
            let behavior = config.default_cache_behavior.as_ref().unwrap();
            let origins = config.origins.as_ref().map(|o| o.items.clone()).unwrap_or_default();
            self.distributions.push(serde_json::json!({
                "id": d.id,
                "arn": d.arn,
                "domain": d.domain_name,
                "status": d.status,
                "enabled": config.enabled,
                "comment": config.comment,
                "root_object": config.default_root_object,
                "origins": origins.iter().map(|o| o.domain_name.clone()).collect::<Vec<_>>(),
                "viewer_protocol": behavior.viewer_protocol_policy.as_str(),
                "compress": behavior.compress,
                "cache_policy": behavior.cache_policy_id,
                "http_version": config.http_version.as_ref().map(|v| v.as_str().to_string()),
                "price_class": config.price_class.as_ref().map(|p| p.as_str().to_string()),
                "tags": tags,
            }));
        }
    }

    /// The one distribution of the stack.
    pub fn distribution(&self) -> &Value {
        assert_eq!(self.distributions.len(), 1, "expected one distribution: {:#?}", self.distributions);
        &self.distributions[0]
    }

    /// Reads the route responses of every route, through the proxy (`aws`):
    /// moto has no GetRouteResponses. Each is read again straight from moto
    /// (`direct`) with GetRouteResponse, so what is recorded is moto's.
    pub async fn read_route_responses(&mut self, aws: &Aws, direct: &Aws) {
        let Some(api_id) = self.apis.first().and_then(|a| a["id"].as_str()).map(str::to_string) else { return };
        let (proxied, direct) = (aws.apigatewayv2(), direct.apigatewayv2());
        for route in &self.routes {
            let (key, route_id) = (route["key"].as_str().unwrap(), route["id"].as_str().unwrap());
            let listed = proxied.get_route_responses().api_id(&api_id).route_id(route_id).send().await.unwrap();
            let mut responses = Vec::new();
            for listed in listed.items() {
                let id = listed.route_response_id().unwrap();
                let r = direct
                    .get_route_response()
                    .api_id(&api_id)
                    .route_id(route_id)
                    .route_response_id(id)
                    .send()
                    .await
                    .unwrap();
                responses.push(serde_json::json!({ "id": r.route_response_id(), "key": r.route_response_key() }));
            }
            if !responses.is_empty() {
                self.route_responses.insert(key.to_string(), responses);
            }
        }
    }

    /// The integration each route's target names.
    pub fn target_of(&self, key: &str) -> &Value {
        let target = self.route(key)["target"].as_str().unwrap().to_string();
        let id = target.strip_prefix("integrations/").unwrap_or(&target).to_string();
        self.integrations
            .iter()
            .find(|i| i["id"] == id.as_str())
            .unwrap_or_else(|| panic!("route {key} targets {target}, which is not among {:#?}", self.integrations))
    }

    /// The integrations of one type (`AWS_PROXY`, `MOCK`).
    pub fn integrations_of(&self, kind: &str) -> Vec<&Value> {
        self.integrations.iter().filter(|i| i["type"] == kind).collect()
    }

    /// The API id, when there is exactly one API.
    pub fn api_id(&self) -> String {
        assert_eq!(self.apis.len(), 1, "expected one API: {:#?}", self.apis);
        self.apis[0]["id"].as_str().unwrap().to_string()
    }

    pub fn route(&self, key: &str) -> &Value {
        let matching: Vec<&Value> = self.routes.iter().filter(|r| r["key"] == key).collect();
        assert_eq!(matching.len(), 1, "expected one route `{key}`: {:#?}", self.routes);
        matching[0]
    }

    pub fn route_keys(&self) -> Vec<String> {
        self.routes.iter().map(|r| r["key"].as_str().unwrap().to_string()).collect()
    }

    /// Nothing at all: every lookup came back empty.
    pub fn is_empty(&self) -> bool {
        *self == Inventory::default()
    }

    /// No resource kind has more than one instance where the stack wants one.
    pub fn assert_no_duplicates(&self) {
        assert!(self.apis.len() <= 1, "duplicate APIs: {:#?}", self.apis);
        let mut keys = self.route_keys();
        let all = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), all, "duplicate routes: {:#?}", self.routes);
        // One AWS_PROXY integration per function, and one MOCK integration
        // per route that targets one, with one integration response each.
        let mut uris: Vec<&str> =
            self.integrations_of("AWS_PROXY").iter().map(|i| i["uri"].as_str().unwrap_or_default()).collect();
        let all = uris.len();
        uris.sort();
        uris.dedup();
        assert_eq!(uris.len(), all, "duplicate integrations: {:#?}", self.integrations);
        for mock in self.integrations_of("MOCK") {
            let target = format!("integrations/{}", mock["id"].as_str().unwrap());
            let routes = self.routes.iter().filter(|r| r["target"] == target.as_str()).count();
            assert_eq!(routes, 1, "a MOCK integration no route (or several) targets: {mock:#}");
            assert_eq!(mock["responses"].as_array().unwrap().len(), 1, "{mock:#}");
        }
        for (key, responses) in &self.route_responses {
            assert_eq!(responses.len(), 1, "duplicate route responses on {key}: {responses:#?}");
        }
        assert!(self.stages.len() <= 1, "duplicate stages: {:#?}", self.stages);
        assert!(self.authorizers.len() <= 1, "duplicate authorizers: {:#?}", self.authorizers);
        for (function, statements) in &self.permissions {
            assert_eq!(statements.len(), 1, "duplicate permissions on {function}: {statements:#?}");
        }
        for (function, mappings) in &self.mappings {
            assert_eq!(mappings.len(), 1, "duplicate mappings on {function}: {mappings:#?}");
        }
        assert!(self.oacs.len() <= 1, "duplicate origin access controls: {:#?}", self.oacs);
        assert!(self.distributions.len() <= 1, "duplicate distributions: {:#?}", self.distributions);
    }
}

/// A table's billing, keys (with their attribute types), indexes, TTL and tags.
async fn read_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Option<Value> {
    let t = ddb.describe_table().table_name(table).send().await.ok()?.table.unwrap();
    let ttl = ddb.describe_time_to_live().table_name(table).send().await.unwrap();
    let ttl = ttl.time_to_live_description.unwrap();
    let tags = ddb.list_tags_of_resource().resource_arn(t.table_arn().unwrap()).send().await.unwrap();
    Some(serde_json::json!({
        "billing": t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str().to_string()),
        "keys": t.key_schema().iter().map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str())).collect::<Vec<_>>(),
        "attributes": t.attribute_definitions().iter().map(|a| (a.attribute_name().to_string(), a.attribute_type().as_str().to_string())).collect::<BTreeMap<_, _>>(),
        "indexes": t.global_secondary_indexes().iter().map(|i| serde_json::json!({
            "name": i.index_name(),
            "keys": i.key_schema().iter().map(|k| format!("{} {}", k.attribute_name(), k.key_type().as_str())).collect::<Vec<_>>(),
            "projection": i.projection().and_then(|p| p.projection_type()).map(|p| p.as_str().to_string()),
        })).collect::<Vec<_>>(),
        "ttl_status": ttl.time_to_live_status().map(|s| s.as_str().to_string()),
        "ttl_attribute": ttl.attribute_name(),
        "tags": tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect::<BTreeMap<_, _>>(),
    }))
}

fn decode(policy: &str) -> Value {
    let text = percent_encoding::percent_decode_str(policy).decode_utf8().unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Name -> physical id of the resources of `kind` a deploy report lists.
pub fn report_ids(report: &Value, kind: &str) -> BTreeMap<String, String> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind)
        .map(|c| (c["name"].as_str().unwrap().to_string(), c["id"].as_str().unwrap().to_string()))
        .collect()
}

/// A model's name and schema, read with GetModel (moto has no GetModels, so
/// the id comes from the deploy report).
pub async fn model(aws: &Aws, api_id: &str, model_id: &str) -> (String, Value) {
    let model = aws.apigatewayv2().get_model().api_id(api_id).model_id(model_id).send().await.unwrap();
    (model.name.unwrap(), serde_json::from_str(&model.schema.unwrap()).unwrap())
}

/// The test's own SDK configuration: straight to moto, past the proxy, so
/// that what it reads is moto's state as it is.
pub async fn sdk(cloud: &Cloud) -> Aws {
    crate::aws_wiring::aws_for(cloud.moto()).await
}

/// How a run that [`kill_at`] watched ended.
#[derive(Debug)]
pub enum Ended {
    /// Killed (SIGKILL) where the proxy froze.
    Killed,
    /// It finished before the freeze point came.
    Finished(std::process::ExitStatus, String),
}

/// Runs `wschat ARGS` and kills it with SIGKILL right where the proxy
/// freezes (after the Nth mutating call reached moto, say), as a crash, a
/// lost laptop lid or Ctrl-C would: calls it had at moto finish there, and
/// nothing after reaches AWS. The proxy answers again afterwards.
pub async fn kill_at(cloud: &Cloud, project: &Project, args: &[&str], freeze: test_support::realism::Freeze) -> Ended {
    use tokio::io::AsyncReadExt;
    cloud.realism.freeze_after(freeze);
    let mut cmd = tokio::process::Command::from(cli(cloud, project, args));
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawning wschat");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let started = std::time::Instant::now();
    let ended = loop {
        if cloud.realism.frozen(std::time::Duration::from_millis(20)).await {
            child.kill().await.expect("killing wschat");
            break None;
        }
        if let Some(status) = child.try_wait().expect("waiting for wschat") {
            break Some(status);
        }
        assert!(started.elapsed().as_secs() < 300, "wschat {args:?} neither finished nor froze in 300 s");
    };
    let stderr = reader.await.unwrap_or_default();
    cloud.realism.thaw();
    match ended {
        None => Ended::Killed,
        Some(status) => Ended::Finished(status, stderr),
    }
}
