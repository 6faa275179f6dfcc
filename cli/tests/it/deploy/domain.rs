//! `domain:`: ACM certificates validated by DNS, the API Gateway custom
//! domain and its mapping, the CloudFront alias and the Route 53 records,
//! against moto through the realism proxy (which refuses to delete a
//! certificate in use and an alias another distribution has). Everything is
//! read back with the test's own SDK calls, straight from moto. Each test
//! has a zone of its own (`{name}.example.com`): moto's API Gateway domains
//! and CloudFront aliases are global to the shared server.

use std::collections::BTreeSet;

use serde_json::Value;
use wschat_engine::aws::Aws;

use super::kill_loop::{KillPoint, forwarded_mutating, kill_loop};
use super::{Cloud, Inventory, Project, behaviours, deploy, destroy, mutating, run, sdk, settle};

/// The site's, the WebSocket's and the zone's names of a test named `name`.
pub(super) fn names(name: &str) -> (String, String, String) {
    let zone = format!("{name}.example.com");
    (format!("chat.{zone}"), format!("ws.chat.{zone}"), zone)
}

/// The shipped stack with `domain:` (and `zone:` when `with_zone`).
pub(super) fn stack_with_domain(name: &str, with_zone: bool) -> String {
    let (site, _, zone) = names(name);
    let mut text = Project::shipped_stack(name);
    text.push_str(&format!("\ndomain:\n  name: {site}\n"));
    if with_zone {
        text.push_str(&format!("  zone: {zone}\n"));
    }
    text
}

/// A public hosted zone in moto; its id.
pub(super) async fn create_zone(aws: &Aws, zone: &str) -> String {
    let created = aws
        .route53()
        .create_hosted_zone()
        .name(zone)
        .caller_reference(format!("{zone}-{}", std::process::id()))
        .send()
        .await
        .unwrap();
    created.hosted_zone.unwrap().id.trim_start_matches("/hostedzone/").to_string()
}

/// Deletes a hosted zone the stack's destroy left empty (moto lists every
/// zone it holds to every lookup).
pub(super) async fn delete_zone(aws: &Aws, zone_id: &str) {
    aws.route53().delete_hosted_zone().id(zone_id).send().await.unwrap();
}

/// What moto holds of one stack's domain, read with the SDK.
#[derive(Debug, Default)]
struct Domain {
    /// The certificates tagged with the stack, described.
    certificates: Vec<aws_sdk_acm::types::CertificateDetail>,
    /// The zone's records other than its NS and SOA: (name, type, value or alias target).
    records: BTreeSet<(String, String, String)>,
    api_domain: Option<aws_sdk_apigatewayv2::operation::get_domain_name::GetDomainNameOutput>,
    mappings: Vec<aws_sdk_apigatewayv2::types::ApiMapping>,
}

impl Domain {
    async fn read(aws: &Aws, name: &str, zone_id: Option<&str>) -> Domain {
        let (_, ws, _) = names(name);
        let mut domain = Domain::default();
        let acm = aws.acm_in("us-east-1");
        for summary in acm.list_certificates().send().await.unwrap().certificate_summary_list() {
            let arn = summary.certificate_arn().unwrap();
            // Another test's destroy on the shared moto may delete a
            // certificate between the listing and these reads: it is not ours.
            let Ok(tags) = acm.list_tags_for_certificate().certificate_arn(arn).send().await else { continue };
            if tags.tags().iter().any(|t| t.key() == "wschat:stack" && t.value() == Some(name)) {
                let Ok(described) = acm.describe_certificate().certificate_arn(arn).send().await else { continue };
                domain.certificates.push(described.certificate.unwrap());
            }
        }
        if let Some(zone_id) = zone_id {
            let sets = aws.route53().list_resource_record_sets().hosted_zone_id(zone_id).send().await.unwrap();
            for set in sets.resource_record_sets() {
                let kind = set.r#type().as_str().to_string();
                if kind == "NS" || kind == "SOA" {
                    continue;
                }
                let value = match set.alias_target() {
                    Some(alias) => alias.dns_name().trim_end_matches('.').to_string(),
                    None => set.resource_records().iter().map(|r| r.value()).collect::<Vec<_>>().join(","),
                };
                domain.records.insert((set.name().trim_end_matches('.').to_string(), kind, value));
            }
        }
        let apigw = aws.apigatewayv2();
        if let Ok(got) = apigw.get_domain_name().domain_name(&ws).send().await {
            domain.api_domain = Some(got);
            domain.mappings = apigw.get_api_mappings().domain_name(&ws).send().await.unwrap().items().to_vec();
        }
        domain
    }

    fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.records.is_empty() && self.api_domain.is_none()
    }

    /// The records ACM asks for, as (name, type, value).
    fn validation_records(&self) -> BTreeSet<(String, String, String)> {
        self.certificates
            .iter()
            .flat_map(|c| c.domain_validation_options())
            .filter_map(|o| o.resource_record())
            .map(|r| {
                (r.name().trim_end_matches('.').to_string(), r.r#type().as_str().to_string(), r.value().to_string())
            })
            .collect()
    }

    fn api_target(&self) -> String {
        let config = &self.api_domain.as_ref().unwrap().domain_name_configurations()[0];
        config.api_gateway_domain_name().unwrap().trim_end_matches('.').to_string()
    }
}

/// The distribution's aliases, certificate ARN and minimum protocol, from its configuration.
async fn viewer(aws: &Aws, id: &str) -> (Vec<String>, Option<String>, Option<String>, Option<String>) {
    let config = aws.cloudfront().get_distribution_config().id(id).send().await.unwrap().distribution_config.unwrap();
    let aliases = config.aliases.map(|a| a.items().to_vec()).unwrap_or_default();
    let viewer =
        config.viewer_certificate.unwrap_or_else(|| aws_sdk_cloudfront::types::ViewerCertificate::builder().build());
    (
        aliases,
        viewer.acm_certificate_arn.clone(),
        viewer.minimum_protocol_version.as_ref().map(|p| p.as_str().to_string()),
        viewer.ssl_support_method.as_ref().map(|p| p.as_str().to_string()),
    )
}

/// Requests `count` certificates in us-east-1 for names of no stack
/// (`n{i}.others-{name}.example.org`), every tenth tagged as another wschat
/// stack's; their ARNs.
async fn other_certificates(aws: &Aws, name: &str, count: usize) -> Vec<String> {
    use aws_sdk_acm::types::{Tag, ValidationMethod};
    let acm = aws.acm_in("us-east-1");
    let requests = (0..count).map(|i| {
        let acm = acm.clone();
        async move {
            let mut request = acm
                .request_certificate()
                .domain_name(format!("n{i}.others-{name}.example.org"))
                .validation_method(ValidationMethod::Dns);
            if i % 10 == 0 {
                for (key, value) in [("wschat:stack", format!("others-{name}")), ("wschat:stage", "dev".to_string())] {
                    request = request.tags(Tag::builder().key(key).value(value).build().unwrap());
                }
            }
            request.send().await.unwrap().certificate_arn.unwrap()
        }
    });
    futures::future::join_all(requests).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_with_a_zone_is_deployed_read_back_kept_and_removed() {
    // A proxy of its own, to count what it refused.
    let cloud = Cloud::with(behaviours());
    let aws = sdk(&cloud).await;
    let name = "dom-zone";
    let (site, ws, zone) = names(name);
    let zone_id = create_zone(&aws, &zone).await;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name, true));
    // us-east-1 holds every CloudFront certificate of an account: 100 others
    // there, ten of them another stack's.
    let others = other_certificates(&aws, name, 100).await;

    let started = std::time::Instant::now();
    let report = deploy(&cloud, &project);
    eprintln!(
        "deploy with a domain: {} calls ({} mutating), {} waves, {:.1} s",
        report["calls"]["total"],
        report["calls"]["mutating"],
        report["waves"],
        started.elapsed().as_secs_f64()
    );
    assert_eq!(report["urls"]["websocket"], format!("wss://{ws}"));
    assert_eq!(report["urls"]["website"], format!("https://{site}"));

    let inv = Inventory::read(&aws, name, "dev").await;
    let domain = Domain::read(&aws, name, Some(&zone_id)).await;
    // One certificate (us-east-1 serves both), ISSUED, for both names.
    assert_eq!(domain.certificates.len(), 1, "{:#?}", domain.certificates);
    let certificate = &domain.certificates[0];
    assert_eq!(certificate.status().map(|s| s.as_str()), Some("ISSUED"));
    let covered: BTreeSet<&str> = certificate.subject_alternative_names().iter().map(String::as_str).collect();
    assert_eq!(covered, BTreeSet::from([site.as_str(), ws.as_str()]));
    let arn = certificate.certificate_arn().unwrap().to_string();
    // The API Gateway domain: REGIONAL, TLS 1.2, dualstack (the AAAA alias
    // below has IPv6 behind it), this certificate, mapped to the stage.
    let api_domain = domain.api_domain.as_ref().expect("the API Gateway domain");
    let config = &api_domain.domain_name_configurations()[0];
    assert_eq!(config.endpoint_type().map(|e| e.as_str()), Some("REGIONAL"));
    assert_eq!(config.security_policy().map(|p| p.as_str()), Some("TLS_1_2"));
    assert_eq!(config.ip_address_type().map(|t| t.as_str()), Some("dualstack"));
    assert_eq!(config.certificate_arn(), Some(arn.as_str()));
    assert_eq!(domain.mappings.len(), 1, "{:#?}", domain.mappings);
    assert_eq!(domain.mappings[0].api_id(), Some(inv.api_id().as_str()));
    assert_eq!(domain.mappings[0].stage(), Some("dev"));
    assert_eq!(domain.mappings[0].api_mapping_key().unwrap_or_default(), "");
    // CloudFront: the alias, the certificate by SNI, TLSv1.2_2021.
    let distribution = inv.distribution();
    let (aliases, cert, minimum, sni) = viewer(&aws, distribution["id"].as_str().unwrap()).await;
    assert_eq!(aliases, [site.as_str()]);
    assert_eq!(cert.as_deref(), Some(arn.as_str()));
    assert_eq!(minimum.as_deref(), Some("TLSv1.2_2021"));
    assert_eq!(sni.as_deref(), Some("sni-only"));
    // Route 53: the validation CNAMEs exactly as ACM asks, and A/AAAA aliases.
    let mut want = domain.validation_records();
    let cf = distribution["domain"].as_str().unwrap().to_string();
    for kind in ["A", "AAAA"] {
        want.insert((site.clone(), kind.to_string(), cf.clone()));
        want.insert((ws.clone(), kind.to_string(), domain.api_target()));
    }
    assert_eq!(domain.records, want);
    // The page connects to the custom name; notify posts on the execute-api host.
    let config: Value = serde_json::from_str(inv.objects["config.json"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(config["websocketUrl"], format!("wss://{ws}"));
    let endpoint = inv.functions["notify"]["environment"]["WSCHAT_MANAGEMENT_ENDPOINT"].as_str().unwrap().to_string();
    assert!(endpoint.starts_with(&format!("https://{}.execute-api.", inv.api_id())), "{endpoint}");

    // Nothing to do the second time. What it read of ACM does not grow with
    // the 100 others: one listing, the stack's certificate by its tags, its
    // tags twice (is it the user's? is it the stack's?) and itself, at ACM's
    // rates (the proxy throttles beyond them).
    settle().await;
    cloud.realism.reset_stats();
    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "{again:#}");
    let answered = |service: &str, operation: &str| {
        let log = cloud.realism.log();
        log.iter().filter(|r| r.service == service && r.operation == operation && r.refused.is_none()).count()
    };
    let reads = [
        ("ListCertificates", answered("acm", "ListCertificates")),
        ("GetResources", answered("tagging", "GetResources")),
        ("ListTagsForCertificate", answered("acm", "ListTagsForCertificate")),
        ("DescribeCertificate", answered("acm", "DescribeCertificate")),
    ];
    assert_eq!(reads.map(|(_, n)| n), [1, 1, 2, 1], "{reads:?}");
    // Gone again: moto reads every certificate it lists, for every domain test's listing.
    let acm = aws.acm_in("us-east-1");
    futures::future::join_all(others.iter().map(|arn| acm.delete_certificate().certificate_arn(arn).send())).await;

    // A domain an earlier wschat made IPv4-only (API Gateway's default) is
    // made dualstack in place, the same domain and target. The change to
    // IPv4 goes through the proxy, so deploy's UpdateDomainName comes within
    // the account's one domain change per window, and waits its turn. The
    // window lasts until deploy has been refused once (however long a loaded
    // machine takes it to get there), then ends.
    use aws_sdk_apigatewayv2::types::{DomainNameConfiguration, EndpointType, IpAddressType, SecurityPolicy};
    let proxied = cloud.through_proxy().await;
    // The deploy's own domain changes were just now: this one is let through.
    cloud.realism.update(|b| b.domain_write_ms = Some(0));
    let ipv4 = DomainNameConfiguration::builder()
        .certificate_arn(&arn)
        .endpoint_type(EndpointType::Regional)
        .security_policy(SecurityPolicy::Tls12)
        .ip_address_type(IpAddressType::Ipv4)
        .build();
    proxied.apigatewayv2().update_domain_name().domain_name(&ws).domain_name_configurations(ipv4).send().await.unwrap();
    cloud.realism.update(|b| b.domain_write_ms = Some(600_000));
    cloud.realism.reset_stats();
    let (out, stderr) = std::thread::scope(|scope| {
        let deploy = scope.spawn(|| run(&cloud, &project, &["--json", "deploy", "--no-build"]));
        let refused = |r: &test_support::realism::Record| r.operation == "UpdateDomainName" && r.refused.is_some();
        while !deploy.is_finished() && !cloud.realism.log().iter().any(refused) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        cloud.realism.update(|b| b.domain_write_ms = Some(0));
        deploy.join().unwrap()
    });
    assert!(out.status.success(), "{stderr}");
    let repaired: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(stderr.contains("one custom domain change every 30 s per account"), "{stderr}");
    let forwarded = cloud.realism.stats().forwarded_mutating;
    assert_eq!(forwarded, 1, "one UpdateDomainName reached API Gateway: {repaired:#}");
    let turns: Vec<Option<String>> =
        cloud.realism.log().into_iter().filter(|r| r.operation == "UpdateDomainName").map(|r| r.refused).collect();
    assert_eq!(turns.first(), Some(&Some("TooManyRequestsException".to_string())), "{turns:?}");
    assert_eq!(turns.last(), Some(&None), "{turns:?}");
    cloud.realism.update(|b| b.domain_write_ms = behaviours().domain_write_ms);
    let now = Domain::read(&aws, name, Some(&zone_id)).await;
    let config = &now.api_domain.as_ref().expect("the same API Gateway domain").domain_name_configurations()[0];
    assert_eq!(config.ip_address_type().map(|t| t.as_str()), Some("dualstack"));
    assert_eq!(now.api_target(), domain.api_target());

    // status: the certificate, the mapping, and DNS (these names are not registered).
    let status = super::json(&cloud, &project, &["status"]);
    let rows = status["resources"].as_array().unwrap();
    let row = |kind: &str| rows.iter().find(|r| r["kind"] == kind).unwrap_or_else(|| panic!("no {kind}: {status:#}"));
    assert_eq!(row("certificate")["state"], "ok");
    assert!(row("certificate")["detail"].as_str().unwrap().contains("ISSUED"), "{status:#}");
    assert!(row("api_mapping")["detail"].as_str().unwrap().contains("stage dev"), "{status:#}");
    let dns = status["dns"].as_array().unwrap();
    assert_eq!(dns.len(), 2, "{status:#}");
    assert!(dns.iter().all(|d| d["resolves"] == "does not resolve"), "{status:#}");
    assert_eq!(dns[1]["target"], domain.api_target());

    // The validation records rewritten with another TTL (by the user or
    // another tool, through AWS): Route 53 deletes a record set only as the
    // zone has it, so what goes below must be deleted as it is now.
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    for (name, kind, value) in domain.validation_records() {
        let set = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::from(kind.as_str()))
            .ttl(60)
            .resource_records(ResourceRecord::builder().value(value).build().unwrap())
            .build()
            .unwrap();
        let change = Change::builder().action(ChangeAction::Upsert).resource_record_set(set).build().unwrap();
        let batch = ChangeBatch::builder().changes(change).build().unwrap();
        proxied
            .route53()
            .change_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .change_batch(batch)
            .send()
            .await
            .unwrap();
    }

    // Without `domain:`, all of it goes; the distribution keeps serving.
    project.write_stack(&Project::shipped_stack(name));
    settle().await;
    cloud.realism.reset_stats();
    let removed = deploy(&cloud, &project);
    let gone = Domain::read(&aws, name, Some(&zone_id)).await;
    assert!(gone.is_empty(), "left behind: {gone:#?}\n{removed:#}");
    // ACM refused to delete the certificate while CloudFront and API Gateway
    // still held it, and deploy waited that out.
    let refused = cloud.realism.stats().refused;
    assert!(refused.get("ResourceInUseException").is_some_and(|n| *n >= 1), "{refused:?}");
    let inv = Inventory::read(&aws, name, "dev").await;
    let (aliases, cert, _, _) = viewer(&aws, inv.distribution()["id"].as_str().unwrap()).await;
    assert!(aliases.is_empty() && cert.unwrap_or_default().is_empty());
    let config: Value = serde_json::from_str(inv.objects["config.json"]["body"].as_str().unwrap()).unwrap();
    assert!(config["websocketUrl"].as_str().unwrap().contains(".execute-api."), "{config}");

    destroy(&cloud, &project).await;
    assert!(Inventory::read(&aws, name, "dev").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_zone_deploy_prints_the_records_acm_asks_for() {
    let cloud = Cloud::shared();
    let aws = sdk(&cloud).await;
    let name = "dom-nozone";
    let (site, ws, _) = names(name);
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name, false));
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");

    let domain = Domain::read(&aws, name, None).await;
    let printed: BTreeSet<(String, String, String)> = stderr
        .lines()
        .filter_map(|l| l.split_once("create this DNS record to validate ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(": ").map(|(_, record)| record))
        .map(|record| {
            let parts: Vec<&str> = record.split(' ').collect();
            (parts[0].trim_end_matches('.').to_string(), parts[1].to_string(), parts[2].to_string())
        })
        .collect();
    assert!(!printed.is_empty(), "no records printed: {stderr}");
    assert_eq!(printed, domain.validation_records(), "{stderr}");
    // And where each name must point.
    let inv = Inventory::read(&aws, name, "dev").await;
    let cf = inv.distribution()["domain"].as_str().unwrap().to_string();
    for (host, target) in [(site.as_str(), cf), (ws.as_str(), domain.api_target())] {
        let line = format!("create this DNS record (domain has no zone): {host}. CNAME {target}.");
        assert!(stderr.contains(&line), "no `{line}` in {stderr}");
    }

    destroy(&cloud, &project).await;
    assert!(Domain::read(&aws, name, None).await.is_empty());
    assert!(Inventory::read(&aws, name, "dev").await.is_empty());
}

/// The calls of the domain's kinds.
pub(super) fn is_domain_call(service: &str, operation: &str) -> bool {
    matches!(service, "acm" | "route53")
        || operation.contains("DomainName")
        || operation.contains("ApiMapping")
        || operation.starts_with("CreateDistribution")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deploy_with_a_domain_killed_after_any_of_its_mutating_calls_converges() {
    let aws = sdk(&Cloud::shared()).await;
    // A full deploy's mutating calls that reached AWS: a kill point after each.
    let full = "dom-kill-full";
    let project = Project::new(full);
    create_zone(&aws, &names(full).2).await;
    project.write_stack(&stack_with_domain(full, true));
    let cloud = Cloud::with(behaviours());
    deploy(&cloud, &project);
    let forwarded = forwarded_mutating(&cloud);
    let points: Vec<usize> = (1..=forwarded.len()).collect();
    let domain_calls = forwarded.iter().filter(|(service, operation)| is_domain_call(service, operation)).count();
    eprintln!("kill points: {} mutating calls, {domain_calls} of them the domain's", points.len());
    assert!(domain_calls >= 8, "{forwarded:?}");
    let (out, stderr) = run(&cloud, &project, &["destroy", "--yes"]);
    assert!(out.status.success(), "{stderr}");

    kill_loop(&points, |k| async move {
        {
            let (cloud, aws) = KillPoint::cloud().await;
            let aws = &aws;
            let name = format!("dom-kill-{k}");
            let zone_id = create_zone(aws, &names(&name).2).await;
            let project = Project::new(&name);
            project.write_stack(&stack_with_domain(&name, true));
            let point = KillPoint::kill(cloud, project, k, true).await;
            point.resume().await;
            let domain = Domain::read(aws, &name, Some(&zone_id)).await;
            assert_eq!(domain.certificates.len(), 1, "k={k}: {:#?}", domain.certificates);
            assert_eq!(domain.mappings.len(), 1, "k={k}");
            assert_eq!(domain.records.len(), domain.validation_records().len() + 4, "k={k}: {:#?}", domain.records);
            point.assert_converged().await;
            point.destroy().await;
            let left = Domain::read(aws, &name, Some(&zone_id)).await;
            assert!(left.is_empty(), "k={k}: left behind {left:#?}");
            assert!(Inventory::read(aws, &name, "dev").await.is_empty(), "k={k}");
            delete_zone(aws, &zone_id).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_another_distribution_has_stops_deploy_with_what_to_do() {
    let cloud = Cloud::shared();
    let aws = sdk(&cloud).await;
    let (first, second) = ("dom-alias-a", "dom-alias-b");
    let (site, _, _) = names(first);
    let a = Project::new(first);
    a.write_stack(&stack_with_domain(first, false));
    deploy(&cloud, &a);
    // The second stack wants the first one's website name (with a WebSocket name of its own).
    let b = Project::new(second);
    let mut text = Project::shipped_stack(second);
    text.push_str(&format!("\ndomain:\n  name: {site}\n  websocket: ws.{second}.example.com\n"));
    b.write_stack(&text);
    settle().await;
    let (out, stderr) = run(&cloud, &b, &["deploy", "--no-build"]);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("CNAMEAlreadyExists"), "{stderr}");
    assert!(stderr.contains("another CloudFront distribution"), "{stderr}");
    for project in [&b, &a] {
        destroy(&cloud, project).await;
    }
    for name in [first, second] {
        assert!(Domain::read(&aws, name, None).await.is_empty(), "{name}");
        assert!(Inventory::read(&aws, name, "dev").await.is_empty(), "{name}");
    }
}

/// Records at the stack's names that it did not make (an alias to another
/// distribution, a CNAME) are never taken over: deploy stops before any
/// change, naming them and what to do, and they stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_stack_did_not_make_stop_deploy_before_any_change() {
    use aws_sdk_route53::types::{
        AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
    };
    let cloud = Cloud::with(behaviours());
    let aws = sdk(&cloud).await;
    let name = "dom-theirs";
    let (site, ws, zone) = names(name);
    let zone_id = create_zone(&aws, &zone).await;
    let other = AliasTarget::builder()
        .dns_name("d2other.cloudfront.net")
        .hosted_zone_id("Z2FDTNDATAQYW2")
        .evaluate_target_health(false)
        .build()
        .unwrap();
    let theirs = [
        ResourceRecordSet::builder().name(&site).r#type(RrType::A).alias_target(other).build().unwrap(),
        ResourceRecordSet::builder()
            .name(&ws)
            .r#type(RrType::Cname)
            .ttl(300)
            .resource_records(ResourceRecord::builder().value("elsewhere.example.net").build().unwrap())
            .build()
            .unwrap(),
    ];
    for set in theirs {
        let change = Change::builder().action(ChangeAction::Create).resource_record_set(set).build().unwrap();
        let batch = ChangeBatch::builder().changes(change).build().unwrap();
        aws.route53().change_resource_record_sets().hosted_zone_id(&zone_id).change_batch(batch).send().await.unwrap();
    }
    let before = Domain::read(&aws, name, Some(&zone_id)).await.records;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name, true));

    let (out, stderr) = super::run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("`{site}` A (alias to d2other.cloudfront.net)")), "{stderr}");
    assert!(stderr.contains(&format!("`{ws}` CNAME (elsewhere.example.net)")), "{stderr}");
    assert!(stderr.contains("which this stack did not make") && stderr.contains("delete them"), "{stderr}");
    assert_eq!(cloud.realism.stats().mutating, 0, "{stderr}");
    assert_eq!(Domain::read(&aws, name, Some(&zone_id)).await.records, before);
    assert!(Inventory::read(&aws, name, "dev").await.is_empty(), "nothing was made");
}

/// Outside us-east-1 the WebSocket's name is the first name of the API's own
/// certificate, which ACM limits to 64 characters; with the region from
/// `--region` (or the AWS configuration), plan says so before any call.
#[test]
fn outside_us_east_1_a_websocket_name_over_64_characters_stops_plan_before_any_call() {
    let cloud = Cloud::with(behaviours());
    let name = "dom-longws";
    let (site, _, _) = names(name);
    let ws = format!("{}.{site}", "w".repeat(64 - site.len()));
    let project = Project::new(name);
    project.write_stack(&format!("{}  websocket: {ws}\n", stack_with_domain(name, false)));
    let line = project.stack().lines().position(|l| l.starts_with("  websocket:")).unwrap() + 1;

    let (out, stderr) = super::run(&cloud, &project, &["--region", "eu-west-1", "plan"]);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("stack.yaml:{line}:14")), "{stderr}");
    assert!(stderr.contains(&format!("`{ws}` has {} characters", ws.len())), "{stderr}");
    assert_eq!(cloud.realism.stats().calls, 0, "{stderr}");
    // In us-east-1 one certificate covers both names, the website's first.
    let (out, stderr) = super::run(&cloud, &project, &["--region", "us-east-1", "plan"]);
    assert!(out.status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_us_east_1_the_site_and_the_api_have_a_certificate_each() {
    let cloud = Cloud::shared();
    let name = "dom-eu";
    let (site, ws, zone) = names(name);
    let eu = Aws::load(&wschat_engine::aws::AwsTarget {
        region: Some("eu-west-1".into()),
        profile: None,
        endpoint_url: Some(cloud.moto().endpoint()),
        credentials: Some(aws_credential_types::Credentials::from_keys(
            test_support::ACCESS_KEY_ID,
            test_support::SECRET_ACCESS_KEY,
            None,
        )),
    })
    .await
    .unwrap();
    let zone_id = create_zone(&eu, &zone).await;
    let project = Project::new(name);
    let text = stack_with_domain(name, true).replacen("\nname: ", "\nregion: eu-west-1\nname: ", 1);
    project.write_stack(&text);
    deploy(&cloud, &project);

    // CloudFront's certificate in us-east-1 for the site, the API's in eu-west-1.
    let mine = |aws: &Aws| {
        let acm = aws.acm();
        async move {
            let mut found = Vec::new();
            for summary in acm.list_certificates().send().await.unwrap().certificate_summary_list() {
                let arn = summary.certificate_arn().unwrap();
                // Gone between the listing and here: another test's, on the shared moto.
                let Ok(tags) = acm.list_tags_for_certificate().certificate_arn(arn).send().await else { continue };
                if tags.tags().iter().any(|t| t.key() == "wschat:stack" && t.value() == Some(name)) {
                    let c = acm.describe_certificate().certificate_arn(arn).send().await.unwrap().certificate.unwrap();
                    found.push((c.domain_name().unwrap().to_string(), arn.to_string(), c.status().unwrap().clone()));
                }
            }
            found
        }
    };
    let us = sdk(&cloud).await;
    let (global, regional) = (mine(&us).await, mine(&eu).await);
    assert_eq!(global.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), [site.as_str()], "{global:?}");
    assert_eq!(regional.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), [ws.as_str()], "{regional:?}");
    assert!(global.iter().chain(&regional).all(|c| c.2.as_str() == "ISSUED"));
    let domain = eu.apigatewayv2().get_domain_name().domain_name(&ws).send().await.unwrap();
    assert_eq!(domain.domain_name_configurations()[0].certificate_arn(), Some(regional[0].1.as_str()));
    let distributions = us.cloudfront().list_distributions().send().await.unwrap();
    let ours = distributions
        .distribution_list
        .and_then(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.aliases.as_ref().is_some_and(|a| a.items().contains(&site)))
        .expect("the distribution with the site's alias");
    let (_, cert, _, _) = viewer(&us, &ours.id).await;
    assert_eq!(cert.as_deref(), Some(global[0].1.as_str()));
    // Both certificates' validation records are in the zone.
    let records = Domain::read(&us, name, Some(&zone_id)).await.records;
    assert_eq!(records.iter().filter(|r| r.1 == "CNAME").count(), 2, "{records:#?}");

    settle().await;
    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "{again:#}");
    destroy(&cloud, &project).await;
    assert!(mine(&us).await.is_empty() && mine(&eu).await.is_empty());
    // Nothing of the stack is left: a plan would create everything.
    let plan = super::json(&cloud, &project, &["plan"]);
    assert!(plan["changes"].as_array().unwrap().iter().all(|c| c["action"] == "create"), "{plan:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_deploy_rides_out_a_throttle_on_the_first_call_of_every_operation() {
    let cloud = Cloud::with(test_support::realism::Behaviours { throttle_first_calls: true, ..behaviours() });
    let aws = sdk(&cloud).await;
    let name = "dom-throttle";
    let zone_id = create_zone(&aws, &names(name).2).await;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name, true));
    deploy(&cloud, &project);
    let refused = cloud.realism.stats().refused;
    assert!(refused.get("ThrottlingException").is_some_and(|n| *n > 0), "ACM was throttled: {refused:?}");
    let domain = Domain::read(&aws, name, Some(&zone_id)).await;
    assert_eq!(domain.records.len(), domain.validation_records().len() + 4, "{domain:#?}");
    settle().await;
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
    destroy(&cloud, &project).await;
    assert!(Domain::read(&aws, name, Some(&zone_id)).await.is_empty());
}

/// ACM answers a RequestCertificate whose idempotency token it saw within the
/// hour with that request's certificate, deleted or not (moto keeps tokens the
/// same hour). Destroy, then deploy at once, twice: each deploy gets a
/// certificate of its own, and the deploy after changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_right_after_destroy_gets_a_new_certificate() {
    let cloud = Cloud::shared();
    let aws = sdk(&cloud).await;
    let name = "dom-again";
    let zone_id = create_zone(&aws, &names(name).2).await;
    let project = Project::new(name);
    project.write_stack(&stack_with_domain(name, true));
    let mut arns = Vec::new();
    for round in 0..3 {
        if round > 0 {
            destroy(&cloud, &project).await;
            assert!(Domain::read(&aws, name, Some(&zone_id)).await.is_empty());
            settle().await;
        }
        deploy(&cloud, &project);
        let domain = Domain::read(&aws, name, Some(&zone_id)).await;
        assert_eq!(domain.certificates.len(), 1, "round {round}: {:#?}", domain.certificates);
        let certificate = &domain.certificates[0];
        assert_eq!(certificate.status().map(|s| s.as_str()), Some("ISSUED"), "round {round}");
        let arn = certificate.certificate_arn().unwrap().to_string();
        assert!(!arns.contains(&arn), "round {round}: {arn} again");
        arns.push(arn);
    }
    settle().await;
    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "{again:#}");
    destroy(&cloud, &project).await;
    assert!(Domain::read(&aws, name, Some(&zone_id)).await.is_empty());
}
