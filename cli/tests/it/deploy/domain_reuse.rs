//! `domain:` with a certificate the user already has in ACM: one that no
//! wschat stack tagged and that covers the names is used as it is (never
//! requested, validated, tagged or deleted), against moto through the
//! realism proxy. The certificates are self-signed ones made with the
//! `openssl` CLI and imported (ImportCertificate), so they are ISSUED at
//! once; each test has names of its own (`{name}.example.com`).

use std::collections::BTreeSet;

use serde_json::Value;
use wschat_engine::aws::Aws;

use super::domain::{create_zone, is_domain_call, names};
use super::kill_loop::{KillPoint, forwarded_mutating, kill_loop};
use super::{Cloud, Inventory, Project, behaviours, destroy, mutating, run, sdk, settle};

/// The shipped stack with `domain:` in the zone `{name}.example.com`.
fn stack_with_domain(name: &str) -> String {
    super::domain::stack_with_domain(name, true)
}

/// The tag the user put on their certificate, to see that nothing changes it.
const USER_TAG: (&str, &str) = ("owner", "the-user");

/// Imports into us-east-1 a self-signed certificate (RSA 2048, 30 days) for
/// `domains` (the first is its CN), tagged [`USER_TAG`]; returns its ARN.
async fn import(aws: &Aws, domains: &[String]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let sans: Vec<String> = domains.iter().map(|d| format!("DNS:{d}")).collect();
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .arg("-subj")
        .arg(format!("/CN={}", domains[0]))
        .arg("-addext")
        .arg(format!("subjectAltName={}", sans.join(",")))
        .output()
        .expect("running openssl (the tests make their certificates with it)");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let blob = |path: &std::path::Path| aws_sdk_acm::primitives::Blob::new(std::fs::read(path).unwrap());
    let tag = aws_sdk_acm::types::Tag::builder().key(USER_TAG.0).value(USER_TAG.1).build().unwrap();
    let imported = aws
        .acm_in("us-east-1")
        .import_certificate()
        .certificate(blob(&cert))
        .private_key(blob(&key))
        .tags(tag)
        .send()
        .await
        .unwrap();
    imported.certificate_arn.unwrap()
}

/// A certificate's status and tags, as moto has them.
async fn certificate(aws: &Aws, arn: &str) -> (String, BTreeSet<(String, String)>) {
    let acm = aws.acm_in("us-east-1");
    let described = acm.describe_certificate().certificate_arn(arn).send().await.unwrap().certificate.unwrap();
    let tags = acm.list_tags_for_certificate().certificate_arn(arn).send().await.unwrap();
    let tags = tags.tags().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect();
    (described.status().unwrap().as_str().to_string(), tags)
}

fn user_tags() -> BTreeSet<(String, String)> {
    BTreeSet::from([(USER_TAG.0.to_string(), USER_TAG.1.to_string())])
}

/// The ARNs of the certificates tagged with the stack.
async fn stack_certificates(aws: &Aws, name: &str) -> Vec<String> {
    let acm = aws.acm_in("us-east-1");
    let mut out = Vec::new();
    for summary in acm.list_certificates().send().await.unwrap().certificate_summary_list() {
        let arn = summary.certificate_arn().unwrap();
        // Other tests delete theirs meanwhile (moto is shared).
        let Ok(tags) = acm.list_tags_for_certificate().certificate_arn(arn).send().await else { continue };
        if tags.tags().iter().any(|t| t.key() == "wschat:stack" && t.value() == Some(name)) {
            out.push(arn.to_string());
        }
    }
    out
}

/// The zone's records other than NS and SOA, as (name, type).
async fn records(aws: &Aws, zone_id: &str) -> BTreeSet<(String, String)> {
    let sets = aws.route53().list_resource_record_sets().hosted_zone_id(zone_id).send().await.unwrap();
    sets.resource_record_sets()
        .iter()
        .map(|s| (s.name().trim_end_matches('.').to_string(), s.r#type().as_str().to_string()))
        .filter(|(_, kind)| kind != "NS" && kind != "SOA")
        .collect()
}

/// The certificate of the API Gateway domain, if it exists.
async fn api_domain_certificate(aws: &Aws, ws: &str) -> Option<String> {
    let got = aws.apigatewayv2().get_domain_name().domain_name(ws).send().await.ok()?;
    got.domain_name_configurations().first().and_then(|c| c.certificate_arn()).map(str::to_string)
}

/// The viewer certificate of the stack's distribution.
async fn distribution_certificate(aws: &Aws, inv: &Inventory) -> Option<String> {
    let id = inv.distribution()["id"].as_str().unwrap();
    let config = aws.cloudfront().get_distribution_config().id(id).send().await.unwrap().distribution_config.unwrap();
    config.viewer_certificate.and_then(|v| v.acm_certificate_arn)
}

/// The ACM operations the proxy saw.
fn acm_calls(cloud: &Cloud) -> Vec<(String, bool)> {
    cloud.realism.log().into_iter().filter(|r| r.service == "acm").map(|r| (r.operation, r.mutating)).collect()
}

/// `wschat --json ARGS`: the document and stderr.
fn json_and_stderr(cloud: &Cloud, project: &Project, args: &[&str]) -> (Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (out, stderr) = run(cloud, project, &all);
    assert!(out.status.success(), "wschat {args:?} failed: {stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

fn kinds(report: &Value) -> BTreeSet<String> {
    report["changes"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap().to_string()).collect()
}

/// After destroy: nothing of the stack in moto, the user's certificate as it was.
async fn assert_only_the_users_certificate_is_left(aws: &Aws, name: &str, zone_id: &str, arn: &str) {
    let (_, ws, _) = names(name);
    let left = Inventory::read(aws, name, "dev").await;
    assert!(left.is_empty(), "{name}: destroy left {left:#?}");
    assert!(api_domain_certificate(aws, &ws).await.is_none(), "{name}: the API Gateway domain is left");
    assert_eq!(records(aws, zone_id).await, BTreeSet::new(), "{name}");
    assert_eq!(stack_certificates(aws, name).await, Vec::<String>::new(), "{name}");
    assert_eq!(certificate(aws, arn).await, ("ISSUED".to_string(), user_tags()), "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_the_user_has_is_used_never_changed_and_left_by_destroy() {
    // A proxy of its own, to read its log.
    let cloud = Cloud::with(behaviours());
    let aws = sdk(&cloud).await;
    let name = "reuse-both";
    let (site, ws, zone) = names(name);
    let zone_id = create_zone(&aws, &zone).await;
    // `*.{zone}` covers the site's name, `*.chat.{zone}` the WebSocket's.
    let arn = import(&aws, &[format!("*.{zone}"), format!("*.chat.{zone}")]).await;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name));
    let note = format!("certificate: using {arn} for {site}, {ws} (yours, not managed by wschat");

    let (plan, stderr) = json_and_stderr(&cloud, &project, &["plan"]);
    assert!(stderr.contains(&note), "plan does not say it uses the user's certificate: {stderr}");
    let planned = kinds(&plan);
    assert!(!planned.contains("certificate") && !planned.contains("validation_record"), "{plan:#}");
    assert!(planned.contains("api_domain") && planned.contains("dns_record"), "{plan:#}");

    cloud.realism.reset_stats();
    let (report, stderr) = json_and_stderr(&cloud, &project, &["deploy", "--no-build"]);
    assert!(stderr.contains(&note), "{stderr}");
    eprintln!(
        "deploy with the user's certificate: {} calls ({} mutating)",
        report["calls"]["total"],
        mutating(&report)
    );
    assert_eq!(report["urls"]["websocket"], format!("wss://{ws}"));
    // ACM was only read: no RequestCertificate, no tags, nothing deleted.
    let acm = acm_calls(&cloud);
    assert!(acm.iter().all(|(_, mutating)| !mutating), "{acm:?}");
    assert!(!acm.iter().any(|(op, _)| op == "RequestCertificate"), "{acm:?}");
    // The API Gateway domain and the distribution serve it.
    let inv = Inventory::read(&aws, name, "dev").await;
    assert_eq!(api_domain_certificate(&aws, &ws).await.as_deref(), Some(arn.as_str()));
    assert_eq!(distribution_certificate(&aws, &inv).await.as_deref(), Some(arn.as_str()));
    // The zone has the aliases and no validation records.
    let want: BTreeSet<(String, String)> =
        [&site, &ws].iter().flat_map(|n| ["A", "AAAA"].map(|k| (n.to_string(), k.to_string()))).collect();
    assert_eq!(records(&aws, &zone_id).await, want);
    assert_eq!(stack_certificates(&aws, name).await, Vec::<String>::new());
    assert_eq!(certificate(&aws, &arn).await, ("ISSUED".to_string(), user_tags()));

    settle().await;
    let (again, _) = json_and_stderr(&cloud, &project, &["deploy", "--no-build"]);
    assert_eq!(mutating(&again), 0, "{again:#}");

    // status has no certificate of the stack's, and says which one serves.
    let (status, stderr) = json_and_stderr(&cloud, &project, &["status"]);
    assert!(stderr.contains(&note), "{stderr}");
    let rows = status["resources"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["kind"] != "certificate"), "{status:#}");
    assert!(rows.iter().all(|r| r["state"] == "ok"), "{status:#}");

    settle().await;
    cloud.realism.reset_stats();
    let (out, stderr) = run(&cloud, &project, &["destroy", "--yes"]);
    assert!(out.status.success(), "{stderr}");
    let acm = acm_calls(&cloud);
    assert!(acm.iter().all(|(_, mutating)| !mutating), "destroy changed ACM: {acm:?}");
    assert_only_the_users_certificate_is_left(&aws, name, &zone_id, &arn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_covers_only_the_site_is_not_used() {
    let cloud = Cloud::with(behaviours());
    let aws = sdk(&cloud).await;
    let name = "reuse-site-only";
    let (site, ws, zone) = names(name);
    let zone_id = create_zone(&aws, &zone).await;
    // Covers `chat.{zone}`, but a wildcard is one label: not `ws.chat.{zone}`.
    let arn = import(&aws, &[format!("*.{zone}")]).await;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name));
    let (report, stderr) = json_and_stderr(&cloud, &project, &["deploy", "--no-build"]);
    eprintln!(
        "deploy with a certificate of its own: {} calls ({} mutating)",
        report["calls"]["total"],
        mutating(&report)
    );
    assert!(!stderr.contains("yours, not managed by wschat"), "{stderr}");
    assert!(acm_calls(&cloud).iter().any(|(op, _)| op == "RequestCertificate"));
    let own = stack_certificates(&aws, name).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_ne!(own[0], arn);
    let inv = Inventory::read(&aws, name, "dev").await;
    assert_eq!(api_domain_certificate(&aws, &ws).await.as_deref(), Some(own[0].as_str()));
    assert_eq!(distribution_certificate(&aws, &inv).await.as_deref(), Some(own[0].as_str()));
    assert!(records(&aws, &zone_id).await.iter().any(|(_, kind)| kind == "CNAME"), "validation records");
    assert!(records(&aws, &zone_id).await.contains(&(site, "A".to_string())));
    assert_eq!(certificate(&aws, &arn).await, ("ISSUED".to_string(), user_tags()));

    destroy(&cloud, &project).await;
    assert_only_the_users_certificate_is_left(&aws, name, &zone_id, &arn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_keeps_its_own_certificate_when_one_of_the_users_covers_the_names_too() {
    let cloud = Cloud::with(behaviours());
    let aws = sdk(&cloud).await;
    let name = "reuse-keep-own";
    let (_, ws, zone) = names(name);
    let zone_id = create_zone(&aws, &zone).await;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name));
    let (first, _) = json_and_stderr(&cloud, &project, &["deploy", "--no-build"]);
    assert!(kinds(&first).contains("certificate"), "{first:#}");
    let own = stack_certificates(&aws, name).await;
    assert_eq!(own.len(), 1, "{own:?}");
    // Now the user has one that covers both names: nothing churns.
    let arn = import(&aws, &[format!("*.{zone}"), format!("*.chat.{zone}")]).await;
    settle().await;
    let (again, stderr) = json_and_stderr(&cloud, &project, &["deploy", "--no-build"]);
    assert_eq!(mutating(&again), 0, "{again:#}");
    assert!(!stderr.contains("yours, not managed by wschat"), "{stderr}");
    assert_eq!(api_domain_certificate(&aws, &ws).await.as_deref(), Some(own[0].as_str()));

    destroy(&cloud, &project).await;
    assert_only_the_users_certificate_is_left(&aws, name, &zone_id, &arn).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deploy_with_the_users_certificate_killed_at_any_of_its_domain_calls_converges() {
    let aws = sdk(&Cloud::shared()).await;
    // Which of a full deploy's mutating calls that reached AWS are the domain's.
    let full = "reuse-kill-full";
    let zone = names(full).2;
    let zone_id = create_zone(&aws, &zone).await;
    let arn = import(&aws, &[format!("*.{zone}"), format!("*.chat.{zone}")]).await;
    let project = Project::new(full);
    project.write_stack(&stack_with_domain(full));
    let cloud = Cloud::with(behaviours());
    super::deploy(&cloud, &project);
    let forwarded = forwarded_mutating(&cloud);
    let points: Vec<usize> =
        (1..=forwarded.len()).filter(|&k| is_domain_call(&forwarded[k - 1].0, &forwarded[k - 1].1)).collect();
    eprintln!("kill points (of {} mutating calls): {points:?}", forwarded.len());
    assert!(points.len() >= 4, "{forwarded:?}");
    destroy(&cloud, &project).await;
    assert_only_the_users_certificate_is_left(&aws, full, &zone_id, &arn).await;

    kill_loop(&points, |k| async move {
        {
            let (cloud, aws) = KillPoint::cloud().await;
            let aws = &aws;
            let name = format!("reuse-kill-{k}");
            let zone = names(&name).2;
            let zone_id = create_zone(aws, &zone).await;
            let arn = import(aws, &[format!("*.{zone}"), format!("*.chat.{zone}")]).await;
            let project = Project::new(&name);
            project.write_stack(&stack_with_domain(&name));
            let point = KillPoint::kill(cloud, project, k, true).await;
            point.resume().await;
            let (_, ws, _) = names(&name);
            assert_eq!(api_domain_certificate(aws, &ws).await.as_deref(), Some(arn.as_str()), "k={k}");
            assert_eq!(records(aws, &zone_id).await.len(), 4, "k={k}");
            point.assert_converged().await;
            let acm = acm_calls(&point.cloud);
            assert!(acm.iter().all(|(_, mutating)| !mutating), "k={k}: {acm:?}");
            point.destroy().await;
            assert_only_the_users_certificate_is_left(aws, &name, &zone_id, &arn).await;
            super::domain::delete_zone(aws, &zone_id).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_domain_removes_what_the_stack_made_and_leaves_the_users_certificate() {
    let cloud = Cloud::with(behaviours());
    let aws = sdk(&cloud).await;
    let name = "reuse-removed";
    let (_, ws, zone) = names(name);
    let zone_id = create_zone(&aws, &zone).await;
    let arn = import(&aws, &[format!("*.{zone}"), format!("*.chat.{zone}")]).await;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name));
    json_and_stderr(&cloud, &project, &["deploy", "--no-build"]);
    assert_eq!(records(&aws, &zone_id).await.len(), 4);

    // Without `domain:` the stack no longer names the zone: the API domain remembers it.
    project.write_stack(&Project::shipped_stack(name));
    settle().await;
    cloud.realism.reset_stats();
    let (removed, _) = json_and_stderr(&cloud, &project, &["deploy", "--no-build"]);
    assert_eq!(records(&aws, &zone_id).await, BTreeSet::new(), "{removed:#}");
    assert!(api_domain_certificate(&aws, &ws).await.is_none(), "{removed:#}");
    let inv = Inventory::read(&aws, name, "dev").await;
    assert_eq!(distribution_certificate(&aws, &inv).await.unwrap_or_default(), "");
    let acm = acm_calls(&cloud);
    assert!(acm.iter().all(|(_, mutating)| !mutating), "{acm:?}");
    assert_eq!(certificate(&aws, &arn).await, ("ISSUED".to_string(), user_tags()));
    settle().await;
    assert_eq!(mutating(&super::deploy(&cloud, &project)), 0);

    destroy(&cloud, &project).await;
    assert_only_the_users_certificate_is_left(&aws, name, &zone_id, &arn).await;
}
