//! `wschat policy`: the deployer's IAM policy is complete (every call of a
//! stack's life is allowed by it) and least-privilege (no wildcard action,
//! no unscoped resource outside the documented list).

use std::collections::BTreeSet;

use serde_json::Value;
use test_support::realism::iam_actions::iam_actions;

use super::domain::{create_zone, names, stack_with_domain};
use super::signin::{Issuer, with_jwt};
use super::{Cloud, Project, behaviours, deploy, json, run, sdk};

/// IAM actions, from the calls the proxy logged since its last reset.
fn actions_called(cloud: &Cloud) -> BTreeSet<String> {
    cloud.realism.log().iter().flat_map(|r| iam_actions(&r.service, &r.operation)).collect()
}

/// What a stack's life calls, through a proxy of its own: (what the reads
/// call: plan, status, status --metrics and logs; what everything calls:
/// those, a deploy, one that changes code and memory and adds an alarm e-mail, one that
/// changes nothing, cost --measured and destroy).
fn life(cloud: &Cloud, project: &Project) -> (BTreeSet<String>, BTreeSet<String>) {
    cloud.realism.reset_stats();
    json(cloud, project, &["plan"]);
    deploy(cloud, project);
    let created = actions_called(cloud);
    cloud.realism.reset_stats();
    let reads = |cloud: &Cloud| {
        json(cloud, project, &["plan"]);
        json(cloud, project, &["status"]);
        json(cloud, project, &["status", "--metrics"]);
        let (out, stderr) = run(cloud, project, &["logs", "--since", "1h"]);
        assert!(out.status.success(), "{stderr}");
    };
    reads(cloud);
    let read = actions_called(cloud);
    let mut all: BTreeSet<String> = created.union(&read).cloned().collect();
    cloud.realism.reset_stats();
    project.write_zip("chat", "chat v2");
    // (Not the tags: moto answers TagResource of an API Gateway stage 404.)
    let changed =
        project.stack().replace("chat:   { crate: lambdas/chat }", "chat:   { crate: lambdas/chat, memory: 512 }")
            + "observability: { alarm_email: ops@example.com }\n";
    project.write_stack(&changed);
    deploy(cloud, project);
    deploy(cloud, project);
    let _ = run(cloud, project, &["cost", "--measured"]);
    std::thread::sleep(std::time::Duration::from_millis(behaviours().consistency_ms.unwrap_or(0) + 100));
    json(cloud, project, &["destroy", "--yes"]);
    all.extend(actions_called(cloud));
    (read, all)
}

/// `wschat policy` for `project`, as a list of (sid, actions, resources).
fn policy(cloud: &Cloud, project: &Project, read_only: bool) -> Vec<(String, Vec<String>, Vec<String>)> {
    let args: &[&str] = if read_only { &["policy", "--read-only"] } else { &["policy"] };
    let (out, stderr) = run(cloud, project, args);
    assert!(out.status.success(), "{stderr}");
    let document: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(document["Version"], "2012-10-17");
    let strings = |v: &Value| match v {
        Value::String(s) => vec![s.clone()],
        v => v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect(),
    };
    document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow");
            (s["Sid"].as_str().unwrap().to_string(), strings(&s["Action"]), strings(&s["Resource"]))
        })
        .collect()
}

/// Every action called is in the policy; no action is a wildcard; a
/// resource that is not one of the stack's own names is in a statement the
/// documented list explains.
fn check(policy: &[(String, Vec<String>, Vec<String>)], called: &BTreeSet<String>, own: &[String], what: &str) {
    let allowed: BTreeSet<&String> = policy.iter().flat_map(|(_, actions, _)| actions).collect();
    let missing: Vec<&String> = called.iter().filter(|a| !allowed.contains(a)).collect();
    assert!(missing.is_empty(), "{what}: the policy does not allow {missing:?}");
    let documented: Vec<&str> = wschat_engine::policy::WHY.iter().map(|(sid, _)| *sid).collect();
    for (sid, actions, resources) in policy {
        for action in actions {
            assert!(!action.contains('*') && !action.contains('?'), "{what}: {sid} has a wildcard action {action}");
        }
        let scoped = resources.iter().all(|r| own.iter().any(|o| r.contains(o.as_str())));
        assert!(
            scoped || documented.contains(&sid.as_str()),
            "{what}: {sid} is not scoped to the stack: {resources:?}"
        );
    }
}

#[tokio::test]
async fn every_call_of_a_stack_s_life_is_allowed_by_its_policy_and_no_more() {
    let cloud = Cloud::with(behaviours());
    let aws = sdk(&cloud).await;

    let project = Project::new("pol-shipped");
    let (reads, all) = life(&cloud, &project);
    let own = |name: &str| vec![format!("{name}-dev"), format!("/wschat/{name}/dev/")];
    check(&policy(&cloud, &project, false), &all, &own("pol-shipped"), "shipped");
    check(&policy(&cloud, &project, true), &reads, &own("pol-shipped"), "shipped, read-only");
    let read_only: BTreeSet<String> = policy(&cloud, &project, true).into_iter().flat_map(|(_, a, _)| a).collect();
    for write in ["lambda:CreateFunction", "iam:PassRole", "s3:PutObject", "apigateway:POST", "sqs:DeleteQueue"] {
        assert!(!read_only.contains(write), "--read-only allows {write}");
    }
    for action in
        ["lambda:CreateFunction", "lambda:UpdateFunctionCode", "iam:PassRole", "sns:Subscribe", "s3:DeleteBucket"]
    {
        assert!(all.contains(action), "{action} was not called: {all:#?}");
    }

    // With a domain in a hosted zone, and sign-in.
    let issuer = Issuer::start();
    let name = "pol-domain";
    let (_, ws, zone) = names(name);
    let zone_id = create_zone(&aws, &zone).await;
    let project = Project::new(name);
    project.write_zip("authorizer", "authorizer v1");
    let domain = stack_with_domain(name, true);
    project.write_stack(&(with_jwt(name, &issuer.url) + &domain[Project::shipped_stack(name).len()..]));
    let printed = policy(&cloud, &project, false);
    let (reads, all) = life(&cloud, &project);
    let mut own = own(name);
    own.extend([format!("hostedzone/{zone_id}"), format!("/domainnames/{ws}"), "/domainnames".to_string()]);
    check(&printed, &all, &own, "domain and sign-in");
    check(&policy(&cloud, &project, true), &reads, &own, "domain and sign-in, read-only");
    for action in ["acm:RequestCertificate", "route53:ChangeResourceRecordSets"] {
        assert!(all.contains(action), "{action} was not called: {all:#?}");
    }
    super::domain::delete_zone(&aws, &zone_id).await;
}
