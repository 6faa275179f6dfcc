//! `wschat build` of the shipped functions and the authorizer, and the
//! artifact test: the zipped `bootstrap`s run as real processes against a minimal Lambda Runtime API
//! served here, with moto as `AWS_ENDPOINT_URL`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use test_support::Moto;
use test_support::runtime_api::RuntimeApi;

use crate::support::{root, run, wschat};

/// A `wschat` command that finds cargo-lambda and zig in the project's `.venv`
/// even under a plain `cargo test`.
fn wschat_with_tools(dir: &Path) -> std::process::Command {
    let mut cmd = wschat(dir);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(test_support::venv_bin()).chain(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    cmd
}

/// A project whose stack has the shipped functions (this workspace's
/// crates) and sign-in, so that one build makes every handler's zip: chat,
/// notify and the authorizer. (Building the shipped stack apart would build
/// chat-core twice, with and without the authorizer's features.)
fn project() -> &'static tempfile::TempDir {
    static PROJECT: OnceLock<tempfile::TempDir> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let krate = |name: &str| root().join("lambdas").join(name).display().to_string();
        let stack = format!(
            "name: demo\nfunctions:\n  chat: {{ crate: {} }}\n  notify: {{ crate: {}, queue: notifications }}\n  authorizer: {{ crate: {} }}\napi:\n  auth:\n    jwt: {{ issuer: 'https://issuer.example', audience: web }}\n",
            krate("chat"),
            krate("notify"),
            krate("authorizer"),
        );
        std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
        std::fs::create_dir(dir.path().join("wwwroot")).unwrap();
        dir
    })
}

/// Runs `wschat build --json` on [`project`] and returns its document. The
/// handlers compile where the shipped stack's would (`$CARGO_TARGET_DIR/lambda`
/// or the workspace's `target/lambda`), so dependencies are reused.
///
/// Without the `lambda` profile's optimizations, LTO and single codegen unit
/// (cargo reads profile settings from the environment): what these tests
/// check (the same zips twice, a glibc Amazon Linux 2023 has, bootstraps that
/// run against a Runtime API and moto) does not depend on them, and they made
/// the cross-build the slowest step of the test suite (cold, 703 s of CPU
/// with LTO off; 205 s at opt-level 0, these tests included).
fn build_json() -> Value {
    let (out, stderr) = run(wschat_with_tools(project().path())
        .env("CARGO_TARGET_DIR", test_support::target_dir())
        .env("CARGO_PROFILE_LAMBDA_LTO", "false")
        .env("CARGO_PROFILE_LAMBDA_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_LAMBDA_OPT_LEVEL", "0")
        .args(["build", "--json"]));
    assert!(out.status.success(), "wschat build failed:\n{stderr}");
    eprintln!("{stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--json output: {e}\n{}", String::from_utf8_lossy(&out.stdout)))
}

/// The first build of this test binary, shared by its tests.
fn built() -> &'static Value {
    static BUILT: OnceLock<Value> = OnceLock::new();
    BUILT.get_or_init(build_json)
}

fn zip_of(report: &Value, function: &str) -> PathBuf {
    PathBuf::from(
        report["functions"][function]["zip"].as_str().unwrap_or_else(|| panic!("no zip for {function}: {report}")),
    )
}

/// The `bootstrap` entry of a zip: its bytes and unix mode.
fn bootstrap_in(zip: &Path) -> (Vec<u8>, u32) {
    let file = std::fs::File::open(zip).unwrap_or_else(|e| panic!("opening {}: {e}", zip.display()));
    let mut archive = zip::ZipArchive::new(file).unwrap();
    assert_eq!(archive.len(), 1, "a Lambda zip holds only bootstrap");
    let mut entry = archive.by_name("bootstrap").expect("a bootstrap entry");
    let mode = entry.unix_mode().expect("a unix mode");
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    (bytes, mode)
}

#[test]
fn building_twice_gives_identical_zips_that_run_on_al2023() {
    let first = built().clone();
    let second = build_json();
    for function in ["chat", "notify", "authorizer"] {
        let (a, b) = (&first["functions"][function], &second["functions"][function]);
        assert_eq!(a["sha256"], b["sha256"], "{function}: the same source gives the same zip");
        assert_eq!(a["architecture"], "x86_64");
        let zip = zip_of(&second, function);
        let bytes = std::fs::read(&zip).unwrap();
        assert_eq!(b["size"].as_u64(), Some(bytes.len() as u64));
        assert_eq!(b["sha256"].as_str(), Some(wschat::build::sha256_base64(&bytes).as_str()));
        assert!(zip.ends_with(format!("target/wschat/{function}.zip")), "{}", zip.display());

        let (bootstrap, mode) = bootstrap_in(&zip);
        assert_eq!(mode & 0o777, 0o755, "{function}: bootstrap is executable");
        let glibc = wschat::build::glibc_needed(&bootstrap).unwrap().expect("a glibc binary");
        let parts: Vec<u32> = glibc.split('.').map(|p| p.parse().unwrap()).collect();
        assert!(parts.as_slice() <= [2, 34].as_slice(), "{function} needs glibc {glibc}; Amazon Linux 2023 has 2.34");
        eprintln!("{function}: {} bytes zipped, bootstrap {} bytes, needs glibc {glibc}", bytes.len(), bootstrap.len());
    }
}

/// A project outside this workspace (no `.venv`) whose functions are this workspace's crates.
fn foreign_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (chat, notify) = (root().join("lambdas/chat"), root().join("lambdas/notify"));
    let stack = format!(
        "name: demo\nfunctions:\n  chat: {{ crate: {} }}\n  notify: {{ crate: {}, queue: notifications }}\n",
        chat.display(),
        notify.display()
    );
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    std::fs::create_dir(dir.path().join("wwwroot")).unwrap();
    dir
}

/// PATH with cargo and the system, plus `extra`; HOME and CARGO_HOME empty.
fn bare_env(cmd: &mut std::process::Command, extra: Option<&Path>, home: &Path) {
    let cargo = Path::new(env!("CARGO")).parent().unwrap().to_path_buf();
    let dirs = extra.map(Path::to_path_buf).into_iter().chain([cargo, "/usr/bin".into(), "/bin".into()]);
    cmd.env("PATH", std::env::join_paths(dirs).unwrap()).env("HOME", home).env("CARGO_HOME", home);
}

#[test]
fn build_without_cargo_lambda_says_how_to_install_it() {
    let project = foreign_project();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = wschat(project.path());
    bare_env(cmd.arg("build"), None, home.path());
    let (out, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cargo-lambda is not installed") && stderr.contains("pip install cargo-lambda"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn build_without_zig_says_so() {
    let project = foreign_project();
    let home = tempfile::tempdir().unwrap();
    // cargo-lambda alone, without the environment that holds zig.
    let tools = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(test_support::venv_bin().join("cargo-lambda"), tools.path().join("cargo-lambda"))
        .unwrap();
    let mut cmd = wschat(project.path());
    bare_env(cmd.arg("build"), Some(tools.path()), home.path());
    let (out, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Zig is not installed") && stderr.contains("pip3 install ziglang"), "{stderr}");
    assert!(stderr.contains("error: `cargo lambda build` failed for chat, notify (x86_64"), "{stderr}");
    assert!(out.stdout.is_empty(), "cargo-lambda's output stays off stdout");
}

/// One run of a bootstrap for one event: what it answered and how long it took.
struct Invocation {
    /// The path it posted to (`invocation/{id}/response`, `.../error` or `init/error`) and the body.
    result: (String, String),
    /// From spawning the process to its first `/next`: the cold start's init.
    init: Duration,
    /// From spawning the process to its result.
    total: Duration,
    /// Its stdout: the function's logs.
    logs: String,
}

/// Runs `bootstrap` as Lambda would, for one `event`, with `env` beside the runtime's own variables.
async fn invoke(bootstrap: &Path, env: &[(&str, String)], event: Value) -> Invocation {
    let mut all = invoke_all(bootstrap, env, vec![event]).await;
    let (path, body, _) = all.results.remove(0);
    Invocation { result: (path, body), init: all.init, total: all.total, logs: all.logs }
}

/// One instance of a bootstrap that handled several events in turn: a cold
/// start, then warm invocations.
struct Invocations {
    /// Each event's (path, body) and the time from the `/next` that handed
    /// it out to its result.
    results: Vec<(String, String, Duration)>,
    init: Duration,
    total: Duration,
    logs: String,
}

/// Runs `bootstrap` as Lambda would, handing it `events` one after another
/// in one process, behind test-support's Runtime API.
async fn invoke_all(bootstrap: &Path, env: &[(&str, String)], events: Vec<Value>) -> Invocations {
    let api = RuntimeApi::start().await;
    let logs = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let mut child = api.spawn(bootstrap, "wschat-dev-chat", env, logs.reopen().unwrap().into());
    let count = events.len();
    let mut results = Vec::new();
    let all_within = Instant::now() + Duration::from_secs(60);
    for event in events {
        let wait = all_within.saturating_duration_since(Instant::now());
        match api.invoke(event, Duration::from_secs(30), wait).await {
            Some(outcome) => results.push(outcome),
            None => break,
        }
    }
    let total = started.elapsed();
    child.kill().await.unwrap();
    let logs = std::fs::read_to_string(logs.path()).unwrap();
    assert_eq!(results.len(), count, "not every result came from the bootstrap within 60 s; its logs:\n{logs}");
    let init = api.nexts().first().map(|at| *at - started).expect("the bootstrap asked for an event");
    let results = results.into_iter().map(|o| (o.took(), o)).map(|(took, o)| (o.path, o.body, took)).collect();
    Invocations { results, init, total, logs }
}

/// `function`'s bootstrap from the shared build's zip (built first, if no test
/// has yet), extracted into `dir` as Lambda does (mode included).
async fn extracted(function: &'static str, dir: &tempfile::TempDir) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = dir.path().join(function);
    tokio::task::spawn_blocking(move || {
        let (bytes, mode) = bootstrap_in(&zip_of(built(), function));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bootstrap");
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777)).unwrap();
        path
    })
    .await
    .unwrap()
}

fn fixture(name: &str) -> Value {
    let path = root().join("lambdas/chat-core/tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every line a function logs is one JSON object, as CloudWatch expects: a
/// log entry, or an embedded-metric-format document (`chat_core::metrics`).
/// Returns the metric documents.
fn assert_json_logs(logs: &str) -> Vec<Value> {
    assert!(!logs.trim().is_empty(), "the function logged nothing");
    let mut metrics = Vec::new();
    for line in logs.lines() {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        if entry["_aws"]["CloudWatchMetrics"].is_array() {
            metrics.push(entry);
        } else {
            assert!(entry["level"].is_string() && entry["timestamp"].is_string(), "{line}");
        }
    }
    metrics
}

/// The connections table as the shipped stack has it, keyed by `connectionId`.
async fn connections_table(ddb: &aws_sdk_dynamodb::Client, table: &str) {
    let key = KeySchemaElement::builder().attribute_name("connectionId").key_type(KeyType::Hash).build().unwrap();
    let attribute = AttributeDefinition::builder()
        .attribute_name("connectionId")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap();
    ddb.create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key)
        .attribute_definitions(attribute)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_bootstrap_connects_a_client_against_moto() {
    let moto = Moto::shared();
    let aws = crate::aws_wiring::aws_for(&moto).await;
    let table = "artifact-test-connections";
    connections_table(&aws.dynamodb(), table).await;
    let queue_url =
        aws.sqs().create_queue().queue_name("artifact-test-notifications").send().await.unwrap().queue_url.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let bootstrap = extracted("chat", &dir).await;
    let mut env = moto.env();
    env.extend([
        ("WSCHAT_TABLE", table.to_string()),
        ("WSCHAT_QUEUE_URL", queue_url.clone()),
        ("WSCHAT_WELCOME_DELAY", "0".to_string()),
        ("WSCHAT_FANOUT_CONCURRENCY", "8".to_string()),
        ("WSCHAT_METRICS_NAMESPACE", "wschat/artifact-test".to_string()),
    ]);
    let mut event = fixture("connect.json");
    event["queryStringParameters"] = json!({"username": "alice", "format": "json"});
    let id = event["requestContext"]["connectionId"].as_str().unwrap().to_string();

    let run = invoke(&bootstrap, &env, event).await;
    eprintln!("chat bootstrap: init {:?}, first response after {:?}", run.init, run.total);
    assert!(run.result.0.ends_with("/response"), "{:?}\n{}", run.result, run.logs);
    assert_eq!(serde_json::from_str::<Value>(&run.result.1).unwrap(), json!({"statusCode": 200}));
    // The connect is counted on the function's log, in the configured namespace.
    let metrics = assert_json_logs(&run.logs);
    assert_eq!(metrics.len(), 1, "one metrics document an invocation:\n{}", run.logs);
    assert_eq!(metrics[0]["ConnectionsOpened"], json!(1.0));
    assert_eq!(metrics[0]["Function"], "chat");
    assert_eq!(metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "wschat/artifact-test");
    // With the invocation's request id, as its log lines have it.
    let logged = run
        .logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|l| l["span"]["requestId"].as_str().map(str::to_string));
    assert_eq!(metrics[0]["requestId"].as_str(), logged.as_deref(), "{}", run.logs);
    assert!(logged.is_some_and(|id| !id.is_empty()));

    let item = aws
        .dynamodb()
        .get_item()
        .table_name(table)
        .key("connectionId", AttributeValue::S(id.clone()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the connection's row");
    let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    assert_eq!((s("name"), s("format")), (Some("alice".into()), Some("json".into())));
    assert_eq!(item["connectedAt"].as_n().unwrap(), "1732262400000");
    assert_eq!(item["expiresAt"].as_n().unwrap(), &(1732262400 + 3 * 3600).to_string());

    let mut bodies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bodies.len() < 2 && Instant::now() < deadline {
        let got = aws
            .sqs()
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        bodies
            .extend(got.messages().iter().filter_map(|m| m.body()).map(|b| serde_json::from_str::<Value>(b).unwrap()));
    }
    let welcome = bodies
        .iter()
        .find(|b| b["target"] == json!({"connection": id}))
        .unwrap_or_else(|| panic!("no welcome: {bodies:?}"));
    let text = format!("Welcome! - connected on {id}");
    assert_eq!(welcome["payload"]["compat"], text.as_str());
    let json_welcome: Value = serde_json::from_str(welcome["payload"]["json"].as_str().unwrap()).unwrap();
    assert_eq!((json_welcome["type"].as_str(), json_welcome["text"].as_str()), (Some("welcome"), Some(text.as_str())));
    let joined = bodies.iter().find(|b| b["target"] == "all").unwrap_or_else(|| panic!("no join notice: {bodies:?}"));
    assert_eq!(joined["exclude"], id.as_str());
    assert_eq!(joined["payload"]["compat"], r##"{"action":"message","from":"#host","text":"alice joined"}"##);
}

/// The frames posted to each connection.
type Posts = Arc<Mutex<BTreeMap<String, Vec<String>>>>;

/// A Management API that records what it is asked to post.
async fn management_api() -> (String, Posts) {
    let posts: Posts = Arc::default();
    let app = axum::Router::new()
        .route(
            "/{stage}/@connections/{id}",
            axum::routing::post(
                |State(posts): State<Posts>, UrlPath((_stage, id)): UrlPath<(String, String)>, body: Bytes| async move {
                    posts.lock().unwrap().entry(id).or_default().push(String::from_utf8_lossy(&body).into_owned());
                    StatusCode::OK
                },
            ),
        )
        .with_state(posts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}/prod"), posts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notify_bootstrap_delivers_a_queued_notice() {
    let moto = Moto::shared();
    let aws = crate::aws_wiring::aws_for(&moto).await;
    let table = "artifact-notify-connections";
    let ddb = aws.dynamodb();
    connections_table(&ddb, table).await;
    for (id, name) in [("a=", "alice"), ("b=", "bob")] {
        ddb.put_item()
            .table_name(table)
            .item("connectionId", AttributeValue::S(id.into()))
            .item("name", AttributeValue::S(name.into()))
            .item("format", AttributeValue::S("compat".into()))
            .item("connectedAt", AttributeValue::N("1".into()))
            .item("expiresAt", AttributeValue::N("2".into()))
            .send()
            .await
            .unwrap();
    }
    let (endpoint, posts) = management_api().await;

    let dir = tempfile::tempdir().unwrap();
    let bootstrap = extracted("notify", &dir).await;
    let mut env = moto.env();
    env.extend([("WSCHAT_TABLE", table.to_string()), ("WSCHAT_MANAGEMENT_ENDPOINT", endpoint)]);
    let notice = json!({"target": "all", "exclude": "b=", "payload": {"compat": "hello from the queue", "json": "{}"}});
    let mut event = fixture("sqs.json");
    event["Records"][0]["body"] = json!(notice.to_string());

    let run = invoke(&bootstrap, &env, event).await;
    eprintln!("notify bootstrap: init {:?}, first response after {:?}", run.init, run.total);
    assert!(run.result.0.ends_with("/response"), "{:?}\n{}", run.result, run.logs);
    assert_eq!(serde_json::from_str::<Value>(&run.result.1).unwrap(), json!({"batchItemFailures": []}));
    let metrics = assert_json_logs(&run.logs);
    let posts = posts.lock().unwrap().clone();
    assert_eq!(posts, BTreeMap::from([("a=".to_string(), vec!["hello from the queue".to_string()])]));
    // The post is counted, in the default namespace.
    assert_eq!(metrics.len(), 1, "{}", run.logs);
    assert_eq!((&metrics[0]["Posts"], &metrics[0]["Function"]), (&json!(1.0), &json!("notify")));
    assert_eq!(metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "wschat");
}

/// A REQUEST authorizer event for `$connect`, as API Gateway sends it.
fn authorizer_event(token: &str) -> Value {
    let mut connect = fixture("connect.json");
    connect["queryStringParameters"] = json!({ "token": token });
    json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect",
        "headers": connect["headers"],
        "queryStringParameters": connect["queryStringParameters"],
        "requestContext": connect["requestContext"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_bootstrap_verifies_tokens_cold_and_warm() {
    // `wschat dev --issuer local` is the issuer: discovery and keys over HTTP, and /login.
    let issuer = crate::dev::Server::start(&["--issuer", "local"]);
    let reply = test_support::http_request(issuer.port, "GET", "/issuer/login?name=Grace", "");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let token = serde_json::from_slice::<Value>(&reply.body).unwrap()["id_token"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let bootstrap = extracted("authorizer", &dir).await;
    let env = [
        ("WSCHAT_JWT_ISSUER", format!("{}/issuer", issuer.http_root())),
        ("WSCHAT_JWT_AUDIENCE", "wschat-dev".to_string()),
    ];
    // Another signature of the right length: the first character changed.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{first}{}", &signature[1..]);
    let events = vec![authorizer_event(&token), authorizer_event(&token), authorizer_event(&forged)];
    let runs = invoke_all(&bootstrap, &env, events).await;
    let [(cold_path, cold, cold_time), (warm_path, warm, warm_time), (refused_path, refused, refused_time)] =
        <[_; 3]>::try_from(runs.results).unwrap();
    eprintln!(
        "authorizer bootstrap: init {:?}; first token (fetches the keys) {cold_time:?}; warm {warm_time:?}; refusal {refused_time:?}",
        runs.init
    );
    for (path, body) in [(&cold_path, &cold), (&warm_path, &warm)] {
        assert!(path.ends_with("/response"), "{path}: {body}\n{}", runs.logs);
        let answer: Value = serde_json::from_str(body).unwrap();
        let statement = &answer["policyDocument"]["Statement"][0];
        assert_eq!(
            (&statement["Effect"], &statement["Action"], &statement["Resource"]),
            (
                &json!("Allow"),
                &json!("execute-api:Invoke"),
                &json!("arn:aws:execute-api:us-east-1:123456789012:abc123/dev/$connect")
            )
        );
        assert_eq!(answer["context"]["name"], "Grace");
        assert_eq!(answer["principalId"], answer["context"]["sub"]);
    }
    // A refusal is an error named Unauthorized, which API Gateway answers with 401.
    assert!(refused_path.ends_with("/error"), "{refused_path}: {refused}");
    assert_eq!(serde_json::from_str::<Value>(&refused).unwrap()["errorMessage"], "Unauthorized", "{refused}");
    assert_json_logs(&runs.logs);
    let refusal = runs.logs.lines().find(|l| l.contains("\"refused\"")).expect("a refusal logged");
    let refusal: Value = serde_json::from_str(refusal).unwrap();
    assert!(refusal["reason"].as_str().is_some_and(|r| r.contains("InvalidSignature")), "{refusal}");
    drop(issuer);
}
