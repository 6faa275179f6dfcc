//! The website: the private bucket, its files and generated `config.json`,
//! the Origin Access Control and the CloudFront distribution, read back with
//! the test's own SDK calls. Each test writes a small page of its own into
//! its project's `wwwroot/` (the shipped page is not used).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use test_support::{ACCOUNT_ID, REGION};

use super::{Cloud, Inventory, Project, changes, deploy, deployed, json, mutating, run, sdk};

const INDEX: &str = "<!doctype html><title>chat</title><script src=app.js></script>\n";
/// A page with a Content-Security-Policy, whose connect-src deploy pins to the chat's origin.
const SECURE: &str = "<!doctype html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'self'; connect-src 'self' wss:; object-src 'none'\"><title>secure</title>\n";

/// A small page: what the project's `wwwroot/` holds, by path.
fn page() -> BTreeMap<&'static str, &'static str> {
    [
        ("index.html", INDEX),
        ("secure.html", SECURE),
        ("app.js", "fetch('config.json').then(r => r.json()).then(c => new WebSocket(c.websocketUrl));\n"),
        ("style.css", "body { font-family: sans-serif; }\n"),
        ("assets/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>\n"),
        ("assets/vendor.3f9a8c1b.js", "/* hashed */\n"),
        // Stale: the generated config.json must win over it.
        ("config.json", "{\"websocketUrl\": \"ws://localhost:8080\"}\n"),
    ]
    .into()
}

fn write_page(project: &Project, files: &BTreeMap<&str, &str>) {
    let root = project.path().join("wwwroot");
    for (path, text) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
}

fn md5_hex(text: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

fn ops(report: &Value) -> BTreeMap<String, u64> {
    report["calls"]["operations"]
        .as_object()
        .expect("calls.operations")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn op_counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The invalidations of a distribution, each as its sorted paths.
async fn invalidations(aws: &wschat_engine::aws::Aws, distribution: &str) -> Vec<Vec<String>> {
    let cf = aws.cloudfront();
    let list = cf.list_invalidations().distribution_id(distribution).send().await.unwrap();
    let mut out = Vec::new();
    for summary in list.invalidation_list.and_then(|l| l.items).unwrap_or_default() {
        let got = cf.get_invalidation().distribution_id(distribution).id(&summary.id).send().await.unwrap();
        let batch = got.invalidation.unwrap().invalidation_batch.unwrap();
        let mut paths = batch.paths.unwrap().items.unwrap_or_default();
        paths.sort();
        out.push(paths);
    }
    out
}

#[tokio::test]
async fn deploy_serves_the_page_from_a_private_bucket_through_cloudfront() {
    let cloud = Cloud::shared();
    let project = Project::new("web-create");
    write_page(&project, &page());
    let report = deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let inv = Inventory::read(&aws, "web-create", "dev").await;
    inv.assert_no_duplicates();
    let api = inv.api_id();
    let wss = format!("wss://{api}.execute-api.{REGION}.amazonaws.com/dev");
    let bucket_name = format!("web-create-dev-{ACCOUNT_ID}-{REGION}");
    let want_tags = json!({"project": "wschat", "wschat:stack": "web-create", "wschat:stage": "dev"});

    // The bucket: private, ACLs off, encrypted, tagged.
    let bucket = inv.bucket.as_ref().expect("the website bucket");
    assert_eq!(bucket["name"], bucket_name);
    assert_eq!(
        bucket["public_access_block"],
        json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true})
    );
    assert_eq!(bucket["ownership"], "BucketOwnerEnforced");
    assert_eq!(bucket["encryption"], "AES256");
    assert_eq!(bucket["tags"], want_tags);

    // Every file with its type and caching, and config.json generated.
    let want: BTreeMap<&str, (&str, &str)> = [
        ("index.html", ("text/html; charset=utf-8", "no-cache")),
        ("secure.html", ("text/html; charset=utf-8", "no-cache")),
        ("app.js", ("text/javascript; charset=utf-8", "public, max-age=300")),
        ("style.css", ("text/css; charset=utf-8", "public, max-age=300")),
        ("assets/logo.svg", ("image/svg+xml", "public, max-age=300")),
        ("assets/vendor.3f9a8c1b.js", ("text/javascript; charset=utf-8", "public, max-age=31536000, immutable")),
        ("config.json", ("application/json", "no-cache")),
    ]
    .into();
    assert_eq!(inv.objects.keys().map(String::as_str).collect::<Vec<_>>(), want.keys().copied().collect::<Vec<_>>());
    for (key, (content_type, cache_control)) in &want {
        let object = &inv.objects[*key];
        assert_eq!(object["content_type"], *content_type, "{key}");
        assert_eq!(object["cache_control"], *cache_control, "{key}");
        if *key != "config.json" && *key != "secure.html" {
            assert_eq!(object["body"], page()[key], "{key}");
            assert_eq!(object["etag"], md5_hex(page()[key]), "{key}");
        }
    }
    let config: Value = serde_json::from_str(inv.objects["config.json"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(config, json!({ "websocketUrl": wss, "server": wss }));
    // The page's CSP allows connections to its own chat and nowhere else.
    let origin = wss.rsplit_once('/').unwrap().0;
    let pinned = SECURE.replace("connect-src 'self' wss:", &format!("connect-src 'self' {origin}"));
    assert_eq!(inv.objects["secure.html"]["body"], pinned.as_str());
    assert_eq!(inv.objects["secure.html"]["etag"], md5_hex(&pinned));

    // The OAC, and the distribution in front of the bucket.
    assert_eq!(inv.oacs.len(), 1);
    let oac = &inv.oacs[0];
    assert_eq!(oac["name"], "web-create-dev-site");
    assert_eq!(
        (&oac["origin_type"], &oac["signing_behavior"], &oac["signing_protocol"]),
        (&json!("s3"), &json!("always"), &json!("sigv4"))
    );
    let distribution = inv.distribution();
    assert_eq!(distribution["origins"], json!([format!("{bucket_name}.s3.{REGION}.amazonaws.com")]));
    assert_eq!(distribution["root_object"], "index.html");
    assert_eq!(distribution["viewer_protocol"], "redirect-to-https");
    assert_eq!(distribution["http_version"], "http2and3");
    assert_eq!(distribution["compress"], true);
    assert_eq!(distribution["cache_policy"], "658327ea-f89d-4fab-a63d-7e88639e58f6");
    assert_eq!(distribution["price_class"], "PriceClass_100");
    assert_eq!(distribution["enabled"], true);
    assert!(distribution["comment"].as_str().unwrap().contains("web-create"), "{distribution:#}");
    let tags = distribution["tags"].as_object().unwrap();
    for (k, v) in want_tags.as_object().unwrap() {
        assert_eq!(&tags[k], v, "{tags:?}");
    }
    assert_eq!(tags["wschat:config"].as_str().unwrap().len(), 16, "the configuration hash: {tags:?}");

    // The bucket policy: CloudFront, for this distribution only, read only.
    let policy = &bucket["policy"];
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{policy:#}");
    assert_eq!(statements[0]["Effect"], "Allow");
    assert_eq!(statements[0]["Principal"], json!({"Service": "cloudfront.amazonaws.com"}));
    assert_eq!(statements[0]["Action"], "s3:GetObject");
    assert_eq!(statements[0]["Resource"], format!("arn:aws:s3:::{bucket_name}/*"));
    assert_eq!(
        statements[0]["Condition"],
        json!({"StringEquals": {"AWS:SourceArn": format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{}", distribution["id"].as_str().unwrap())}})
    );
    assert_eq!(distribution["arn"], statements[0]["Condition"]["StringEquals"]["AWS:SourceArn"]);

    // The report: both URLs, the bucket and the distribution.
    let website = format!("https://{}", distribution["domain"].as_str().unwrap());
    assert_eq!(report["urls"], json!({ "website": website, "websocket": wss }));
    assert_eq!(report["website"]["bucket"], bucket_name);
    assert_eq!(report["website"]["objects"], page().len());
    assert_eq!(report["website"]["distribution"]["id"], distribution["id"]);
    assert_eq!(report["website"]["distribution"]["status"], "Deployed");
    // A fresh distribution needs no invalidation; one call per file.
    assert_eq!(ops(&report).get("PutObject"), Some(&(page().len() as u64)), "{report:#}");
    assert_eq!(ops(&report).get("CreateInvalidation"), None, "{report:#}");

    // status: the bucket, the object count, the distribution's state, both URLs.
    let status = json(&cloud, &project, &["status"]);
    assert_eq!(status["urls"], report["urls"]);
    assert_eq!(status["website"]["objects"], page().len());
    assert_eq!(status["website"]["distribution"]["status"], "Deployed");
    let row = |kind: &str| -> Value {
        status["resources"].as_array().unwrap().iter().find(|r| r["kind"] == kind).unwrap().clone()
    };
    assert_eq!(row("bucket")["id"], bucket_name);
    assert_eq!(row("site")["detail"], format!("{} objects", page().len()));
    assert_eq!(row("distribution")["detail"], "Deployed");
    assert!(status["resources"].as_array().unwrap().iter().all(|r| r["state"] == "ok"), "{status:#}");
    let (out, _) = run(&cloud, &project, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("website:   {website}\nwebsocket: {wss}\n")), "{text}");
    assert!(text.contains(&format!("{} objects", page().len())) && text.contains("Deployed"), "{text}");
}

#[tokio::test]
async fn deploy_ends_by_printing_both_urls() {
    let cloud = Cloud::shared();
    let project = Project::new("web-print");
    write_page(&project, &page());
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    let aws = sdk(&cloud).await;
    let inv = Inventory::read(&aws, "web-print", "dev").await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let n = lines.len();
    assert!(n >= 2, "{stdout}");
    assert_eq!(lines[n - 2], format!("website:   https://{}", inv.distribution()["domain"].as_str().unwrap()));
    assert_eq!(lines[n - 1], format!("websocket: wss://{}.execute-api.{REGION}.amazonaws.com/dev", inv.api_id()));
    // Progress names the website's resources on stderr.
    for what in ["S3 bucket", "site files", "origin access control", "CloudFront distribution", "bucket policy"] {
        assert!(stderr.contains(what), "{what} is not in the progress: {stderr}");
    }
}

#[tokio::test]
async fn redeploy_uploads_nothing_one_changed_file_is_one_upload_and_one_invalidation_and_a_deleted_file_goes() {
    let cloud = Cloud::shared();
    let project = Project::new("web-sync");
    write_page(&project, &page());
    deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let before = Inventory::read(&aws, "web-sync", "dev").await;
    let distribution = before.distribution()["id"].as_str().unwrap().to_string();

    // Nothing changed: no upload, no call that changes anything.
    let again = deploy(&cloud, &project);
    assert_eq!(mutating(&again), 0, "{again:#}");
    assert_eq!(ops(&again), BTreeMap::new());
    assert_eq!(changes(&again), Vec::<String>::new());
    assert_eq!(Inventory::read(&aws, "web-sync", "dev").await, before);
    assert_eq!(invalidations(&aws, &distribution).await, Vec::<Vec<String>>::new());

    // One file changed: plan says so, deploy uploads it alone and invalidates its path.
    let app = "console.log('v2');\n";
    write_page(&project, &[("app.js", app)].into());
    let plan = json(&cloud, &project, &["plan"]);
    assert_eq!(changes(&plan), ["update site site"], "{plan:#}");
    assert_eq!(plan["changes"][0]["fields"], json!([{"field": "upload", "from": "0 new, 1 changed", "to": "app.js"}]));
    let changed = deploy(&cloud, &project);
    assert_eq!(ops(&changed), op_counts(&[("CreateInvalidation", 1), ("PutObject", 1)]), "{changed:#}");
    assert_eq!(invalidations(&aws, &distribution).await, [["/app.js"]]);
    let after = Inventory::read(&aws, "web-sync", "dev").await;
    assert_eq!(after.objects["app.js"]["body"], app);
    assert_eq!(after.objects["app.js"]["etag"], md5_hex(app));
    for key in ["index.html", "style.css", "config.json"] {
        assert_eq!(after.objects[key], before.objects[key], "{key} was not to change");
    }

    // The page itself changed: it is invalidated at `/` too.
    let index = "<!doctype html><title>chat v2</title>\n";
    write_page(&project, &[("index.html", index)].into());
    let changed = deploy(&cloud, &project);
    assert_eq!(ops(&changed), op_counts(&[("CreateInvalidation", 1), ("PutObject", 1)]), "{changed:#}");
    let all = invalidations(&aws, &distribution).await;
    assert_eq!(all.len(), 2);
    assert!(all.contains(&vec!["/".to_string(), "/index.html".to_string()]));

    // A file deleted locally: its object goes, and its path is invalidated.
    std::fs::remove_file(project.path().join("wwwroot/style.css")).unwrap();
    let deleted = deploy(&cloud, &project);
    assert_eq!(ops(&deleted), op_counts(&[("CreateInvalidation", 1), ("DeleteObjects", 1)]), "{deleted:#}");
    let after = Inventory::read(&aws, "web-sync", "dev").await;
    assert!(!after.objects.contains_key("style.css"), "{:#?}", after.objects);
    assert_eq!(after.objects.len(), before.objects.len() - 1);
    assert!(invalidations(&aws, &distribution).await.contains(&vec!["/style.css".to_string()]));

    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
}

#[tokio::test]
async fn destroy_empties_every_version_and_leaves_no_bucket_distribution_or_oac() {
    let cloud = Cloud::shared();
    let project = Project::new("web-destroy");
    write_page(&project, &page());
    deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let before = Inventory::read(&aws, "web-destroy", "dev").await;
    let bucket = before.bucket.as_ref().unwrap()["name"].as_str().unwrap().to_string();
    let distribution = before.distribution()["id"].as_str().unwrap().to_string();
    let oac = before.oacs[0]["id"].as_str().unwrap().to_string();

    // Behind the tool's back: versioning on, old versions, a delete marker,
    // and more objects than one listing page holds.
    let s3 = aws.s3();
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for version in ["v1", "v2", "v3"] {
        s3.put_object().bucket(&bucket).key("notes.txt").body(version.as_bytes().to_vec().into()).send().await.unwrap();
    }
    s3.delete_object().bucket(&bucket).key("notes.txt").send().await.unwrap();
    let puts = (0..1010).map(|i| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move { s3.put_object().bucket(bucket).key(format!("bulk/{i:04}")).body(b"x".to_vec().into()).send().await }
    });
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(puts).buffer_unordered(32).collect().await;
    assert!(results.iter().all(Result::is_ok));

    let report = json(&cloud, &project, &["destroy", "--yes"]);
    let deleted: Vec<String> = report["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| ["bucket", "distribution", "origin_access_control"].contains(&c["kind"].as_str().unwrap()))
        .map(|c| format!("{} {}", c["kind"].as_str().unwrap(), c["id"].as_str().unwrap()))
        .collect();
    assert_eq!(deleted.len(), 3, "{report:#}");
    for want in
        [format!("bucket {bucket}"), format!("distribution {distribution}"), format!("origin_access_control {oac}")]
    {
        assert!(deleted.contains(&want), "{want} not in {deleted:?}");
    }
    // Two pages of versions: two DeleteObjects calls at least.
    assert!(ops(&report)["DeleteObjects"] >= 2, "{report:#}");

    let left = Inventory::read(&aws, "web-destroy", "dev").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(s3.head_bucket().bucket(&bucket).send().await.is_err(), "the bucket is still there");
    let cf = aws.cloudfront();
    let gone = cf.get_distribution().id(&distribution).send().await;
    assert!(gone.is_err_and(|e| e.into_service_error().is_no_such_distribution()));
    let gone = cf.get_origin_access_control().id(&oac).send().await;
    assert!(gone.is_err_and(|e| e.into_service_error().is_no_such_origin_access_control()));
}

fn position(log: &[String], op: &str) -> usize {
    log.iter().position(|o| o == op).unwrap_or_else(|| panic!("no {op} in {log:?}"))
}

/// On its own moto, where a new distribution stays InProgress for a while
/// (moto's state manager; 15 s, so that the quick stack below is still
/// InProgress when its destroy starts on a loaded machine: moto's
/// UpdateDistribution does not make a Deployed one InProgress again, as
/// CloudFront's does, and then destroy rightly has nothing to wait for), as on AWS: `deploy --wait` waits for it, and
/// destroy disables it, waits until it is Deployed, deletes it with its
/// ETag and only then deletes the OAC, even though moto would delete an
/// enabled distribution at once. A destroy killed after the disable finishes
/// on the next run. The order is the proxy's log of the calls.
#[tokio::test]
async fn a_distribution_is_disabled_then_waited_for_then_deleted_and_the_oac_after_it() {
    let cloud = Cloud::own(std::sync::Arc::new(test_support::Moto::start()), super::behaviours());
    let reply = cloud.moto().post(
        "/moto-api/state-manager/set-transition",
        r#"{"model_name": "cloudfront::distribution", "transition": {"progression": "time", "seconds": 15}}"#,
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    let aws = sdk(&cloud).await;

    // deploy --wait: polls until the new distribution is Deployed.
    let waited = Project::new("web-wait");
    let started = std::time::Instant::now();
    cloud.realism.reset_stats();
    let (out, stderr) = run(&cloud, &waited, &["--json", "deploy", "--no-build", "--wait"]);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["website"]["distribution"]["status"], "Deployed", "{report:#}");
    assert!(started.elapsed().as_secs_f64() >= 5.0, "deploy --wait did not wait");
    let ops = cloud.realism.operations();
    let create = position(&ops, "CreateDistributionWithTags");
    assert!(ops[create..].iter().filter(|o| *o == "GetDistribution").count() >= 2, "{ops:?}");

    // Without --wait: the deploy returns at once, says why the site is not up yet, and prints the URL.
    let quick = Project::new("web-quick");
    let (out, stderr) = run(&cloud, &quick, &["--json", "deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["website"]["distribution"]["status"], "InProgress", "{report:#}");
    assert!(report["urls"]["website"].as_str().unwrap().starts_with("https://"), "{report:#}");
    assert!(stderr.contains("--wait"), "{stderr}");

    // Destroy right away, while the distribution is still InProgress (but
    // past the consistency window: the queue mapping, often the deploy's
    // last create, is left out of listings within it).
    super::settle().await;
    cloud.realism.reset_stats();
    let (out, stderr) = run(&cloud, &quick, &["destroy", "--yes"]);
    assert!(out.status.success(), "{stderr}");
    let ops = cloud.realism.operations();
    let disable = position(&ops, "UpdateDistribution");
    let delete = position(&ops, "DeleteDistribution");
    let oac = position(&ops, "DeleteOriginAccessControl");
    assert!(disable < delete && delete < oac, "{ops:?}");
    assert!(
        ops[disable..delete].contains(&"GetDistribution".to_string()),
        "no wait between disable and delete: {ops:?}"
    );
    // One disable reached CloudFront (the log also has the calls the proxy
    // refused as throttled, 3% of them, which the SDK sends again).
    let disables = cloud.realism.log().into_iter().filter(|r| r.operation == "UpdateDistribution");
    assert_eq!(disables.filter(|r| r.refused.is_none()).count(), 1, "{ops:?}");
    let left = Inventory::read(&aws, "web-quick", "dev").await;
    assert!(left.is_empty(), "destroy left: {left:#?}");

    // A destroy killed right after the disable leaves a disabled distribution;
    // the next destroy does not disable it again, waits, deletes it, then the OAC.
    let freeze = test_support::realism::Freeze::AfterOperation("UpdateDistribution".into());
    let killed = super::kill_at(&cloud, &waited, &["destroy", "--yes"], freeze).await;
    assert!(matches!(killed, super::Ended::Killed), "{killed:?}");
    let partial = Inventory::read(&aws, "web-wait", "dev").await;
    assert_eq!(partial.distribution()["enabled"], false, "{partial:#?}");
    assert_eq!(partial.oacs.len(), 1);
    cloud.realism.reset_stats();
    let (out, stderr) = run(&cloud, &waited, &["destroy", "--yes"]);
    assert!(out.status.success(), "{stderr}");
    let ops = cloud.realism.operations();
    assert!(!ops.contains(&"UpdateDistribution".to_string()), "disabled twice: {ops:?}");
    assert!(position(&ops, "GetDistribution") < position(&ops, "DeleteDistribution"), "{ops:?}");
    assert!(position(&ops, "DeleteDistribution") < position(&ops, "DeleteOriginAccessControl"), "{ops:?}");
    let left = Inventory::read(&aws, "web-wait", "dev").await;
    assert!(left.is_empty(), "destroy left: {left:#?}");
}

#[tokio::test]
async fn without_cdn_the_bucket_stays_private_and_switching_cdn_adds_and_removes_cloudfront() {
    let cloud = Cloud::shared();
    let project = Project::new("web-nocdn");
    write_page(&project, &page());
    project.write_stack(&format!("{}\nwebsite: {{ cdn: false }}\n", project.stack()));
    let (out, stderr) = run(&cloud, &project, &["deploy", "--no-build"]);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let bucket = format!("web-nocdn-dev-{ACCOUNT_ID}-{REGION}");
    assert!(stdout.contains(&format!("website:   s3://{bucket} (private")), "{stdout}");
    let aws = sdk(&cloud).await;
    let inv = Inventory::read(&aws, "web-nocdn", "dev").await;
    assert!(inv.distributions.is_empty() && inv.oacs.is_empty(), "{inv:#?}");
    let b = inv.bucket.as_ref().unwrap();
    assert_eq!(b["policy"], Value::Null, "no policy: nothing may read the bucket");
    assert_eq!(b["public_access_block"]["RestrictPublicBuckets"], true);
    assert_eq!(inv.objects.len(), page().len());
    let report = deploy(&cloud, &project);
    assert_eq!(mutating(&report), 0, "{report:#}");
    assert_eq!(report["urls"]["website"], Value::Null);
    assert_eq!(report["website"]["cdn"], false);

    // cdn: true adds the OAC, the distribution and the policy.
    project.write_stack(&project.stack().replace("website: { cdn: false }", "website: { cdn: true }"));
    let on = deploy(&cloud, &project);
    assert_eq!(
        changes(&on),
        ["create bucket_policy site", "create distribution site", "create origin_access_control site"],
        "{on:#}"
    );
    let inv = Inventory::read(&aws, "web-nocdn", "dev").await;
    assert_eq!(on["urls"]["website"], format!("https://{}", inv.distribution()["domain"].as_str().unwrap()));
    // And cdn: false again takes them away: the distribution disabled, then deleted.
    project.write_stack(&project.stack().replace("website: { cdn: true }", "website: { cdn: false }"));
    let off = deploy(&cloud, &project);
    assert_eq!(
        changes(&off),
        ["delete bucket_policy site", "delete distribution site", "delete origin_access_control site"],
        "{off:#}"
    );
    assert!(ops(&off).contains_key("UpdateDistribution"), "not disabled first: {off:#}");
    let inv = Inventory::read(&aws, "web-nocdn", "dev").await;
    assert!(inv.distributions.is_empty() && inv.oacs.is_empty(), "{inv:#?}");
    assert_eq!(inv.bucket.as_ref().unwrap()["policy"], Value::Null);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
}

#[tokio::test]
async fn a_price_class_change_updates_the_distribution_in_place() {
    let (cloud, project, aws, before) = deployed("web-price").await;
    project.write_stack(&format!("{}\nwebsite: {{ price_class: PriceClass_All }}\n", project.stack()));
    let plan = json(&cloud, &project, &["plan"]);
    assert_eq!(changes(&plan), ["update distribution site"], "{plan:#}");
    assert_eq!(
        plan["changes"][0]["fields"][0],
        json!({"field": "price class", "from": "PriceClass_100", "to": "PriceClass_All"})
    );
    let applied = deploy(&cloud, &project);
    assert_eq!(ops(&applied), op_counts(&[("TagResource", 1), ("UpdateDistribution", 1)]), "{applied:#}");
    let after = Inventory::read(&aws, "web-price", "dev").await;
    assert_eq!(after.distribution()["id"], before.distribution()["id"]);
    assert_eq!(after.distribution()["price_class"], "PriceClass_All");
    assert_ne!(after.distribution()["tags"]["wschat:config"], before.distribution()["tags"]["wschat:config"]);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
}

#[tokio::test]
async fn website_drift_shows_in_status_and_deploy_repairs_it() {
    let cloud = Cloud::shared();
    let project = Project::new("web-drift");
    write_page(&project, &page());
    deploy(&cloud, &project);
    let aws = sdk(&cloud).await;
    let before = Inventory::read(&aws, "web-drift", "dev").await;
    let bucket = before.bucket.as_ref().unwrap()["name"].as_str().unwrap().to_string();
    let old_oac = before.oacs[0]["id"].as_str().unwrap().to_string();

    // Behind the tool's back: public access allowed again, the policy and a
    // file gone, and the OAC deleted (moto lets an OAC in use go).
    let s3 = aws.s3();
    s3.delete_public_access_block().bucket(&bucket).send().await.unwrap();
    s3.delete_bucket_policy().bucket(&bucket).send().await.unwrap();
    s3.delete_object().bucket(&bucket).key("index.html").send().await.unwrap();
    let cf = aws.cloudfront();
    let etag = cf.get_origin_access_control().id(&old_oac).send().await.unwrap().e_tag.unwrap();
    cf.delete_origin_access_control().id(&old_oac).if_match(etag).send().await.unwrap();

    let status = json(&cloud, &project, &["status"]);
    let states: Vec<String> = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] != "ok")
        .map(|r| format!("{} {}", r["state"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    let mut states = states;
    states.sort();
    assert_eq!(
        states,
        [
            "drifted bucket",
            "drifted distribution",
            "drifted site",
            "missing bucket_policy",
            "missing origin_access_control",
        ],
        "{status:#}"
    );
    let fields = |kind: &str| -> Value {
        status["resources"].as_array().unwrap().iter().find(|r| r["kind"] == kind).unwrap()["fields"].clone()
    };
    assert_eq!(fields("bucket"), json!([{"field": "public access block", "from": "(none)", "to": "all blocked"}]));
    assert_eq!(fields("site"), json!([{"field": "upload", "from": "1 new, 0 changed", "to": "index.html"}]));
    // Only the hash in the tag can tell that the OAC the distribution uses changed.
    assert_eq!(fields("distribution")[0]["field"], "configuration hash");

    let repaired = deploy(&cloud, &project);
    assert_eq!(
        ops(&repaired),
        op_counts(&[
            ("CreateInvalidation", 1),
            ("CreateOriginAccessControl", 1),
            ("PutBucketPolicy", 1),
            ("PutObject", 1),
            ("PutPublicAccessBlock", 1),
            ("TagResource", 1),
            ("UpdateDistribution", 1),
        ]),
        "{repaired:#}"
    );
    let after = Inventory::read(&aws, "web-drift", "dev").await;
    after.assert_no_duplicates();
    assert_eq!(after.bucket, before.bucket);
    assert_eq!(after.objects, before.objects);
    assert_ne!(after.oacs[0]["id"], old_oac.as_str());
    assert_eq!(after.distribution()["id"], before.distribution()["id"]);
    assert_eq!(mutating(&deploy(&cloud, &project)), 0);
    let status = json(&cloud, &project, &["status"]);
    assert!(status["resources"].as_array().unwrap().iter().all(|r| r["state"] == "ok"), "{status:#}");
}
