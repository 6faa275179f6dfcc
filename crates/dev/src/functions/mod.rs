//! The functions `wschat dev` runs as processes: every function of
//! stack.yaml whose crate is not one of the shipped handlers (`chat`,
//! `notify`, `authorizer`, whose code is compiled into `wschat` and runs in
//! process), and with `--processes` the shipped `chat` and `notify` too (the
//! authorizer's check is the gateway's own in dev). Each is built for this machine with `cargo build` (a debug,
//! incremental build) and runs as Lambda runs a custom runtime: a process
//! with `AWS_LAMBDA_RUNTIME_API` pointing at a Runtime API of its own
//! ([`runtime`]), taking one event at a time. `WSCHAT_MANAGEMENT_ENDPOINT`
//! is dev's own Management API, so a handler that posts to
//! `https://{domainName}/{stage}` on AWS posts back to dev unchanged.
//!
//! A process that exits is started again; the invocation it held is a
//! failed one (API Gateway's `Internal server error`), and dev stays up.

pub mod runtime;

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tokio::sync::watch;
use tracing::{info, warn};
use wschat_engine::aws::AwsTarget;
use wschat_engine::crates::{Crate, locate};
use wschat_stack::Stack;

use runtime::{Answer, RuntimeApi};

/// The packages whose handlers are compiled into `wschat`: dev runs them in
/// process, unless `--processes`.
pub const BUILT_IN: [&str; 3] = ["chat", "notify", "authorizer"];

/// The shipped authorizer: dev's gateway checks tokens itself, so it never
/// runs as a process.
const AUTHORIZER: &str = "authorizer";

/// A function running as a process.
pub struct Function {
    pub name: String,
    /// The function's own timeout (`functions.<name>.timeout`).
    timeout: Duration,
    arn: String,
    env: Vec<(String, String)>,
    /// Built with `--release` (`wschat dev --release`).
    release: bool,
    /// The process new invocations go to; a swap replaces it.
    current: RwLock<Option<Arc<Instance>>>,
}

/// One version of a function's code: its processes, behind one Runtime API.
struct Instance {
    api: RuntimeApi,
    bootstrap: PathBuf,
    /// Processes started for it: one more whenever an event finds none idle,
    /// up to [`MAX_PROCESSES`], as Lambda starts instances.
    processes: AtomicUsize,
    /// Set when a newer version took over: its processes end once idle.
    retired: watch::Sender<bool>,
}

/// The most processes one function runs at once in dev (Lambda's default
/// concurrency is 1,000 an account; a laptop is not).
pub const MAX_PROCESSES: usize = 10;

impl Function {
    /// Hands `event` to a process of the current code, starting another
    /// when none is idle, and waits for its answer.
    pub async fn invoke(self: &Arc<Self>, event: String) -> Answer {
        // Queued under the lock a swap takes: once a swap returns, nothing
        // more reaches the old processes, so they can end when idle.
        let (answer, instance) = {
            let current = self.current.read().unwrap();
            let Some(instance) = current.as_ref() else {
                return Answer::Error("the function has no process".into());
            };
            (instance.api.enqueue(event, self.timeout), instance.clone())
        };
        // More events waiting than processes waiting for one: another process.
        if instance.api.queued() > instance.api.idle() && instance.processes.load(Ordering::Relaxed) < MAX_PROCESSES {
            self.start_process(&instance);
        }
        answer.await
    }

    fn start_process(self: &Arc<Self>, instance: &Arc<Instance>) {
        instance.processes.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(supervise(self.clone(), instance.clone()));
    }

    /// New invocations go to processes of `bootstrap`; the old processes
    /// finish what they were handed, then end.
    async fn swap(self: &Arc<Self>, bootstrap: PathBuf) -> Result<()> {
        let api = RuntimeApi::start(self.arn.clone()).await.context("starting a Lambda Runtime API")?;
        let (retired, _) = watch::channel(false);
        let new = Arc::new(Instance { api, bootstrap, processes: AtomicUsize::new(0), retired });
        self.start_process(&new);
        let old = self.current.write().unwrap().replace(new);
        if let Some(old) = old {
            old.retired.send_replace(true);
        }
        Ok(())
    }
}

/// How a function's process reaches dev.
pub struct Reach {
    /// dev's Management API, `http://host:port/{stage}` (`WSCHAT_MANAGEMENT_ENDPOINT`).
    pub management: String,
    /// dev's tables and queue over HTTP ([`crate::ports`], `WSCHAT_DEV_PORTS`),
    /// which the shipped handlers use instead of DynamoDB and SQS.
    pub ports: String,
    /// The queue's URL (`WSCHAT_QUEUE_URL`): the SQS queue's with
    /// `--aws-store`, else a placeholder.
    pub queue_url: String,
}

/// The stack's functions that run as processes, by their stack.yaml names.
#[derive(Default)]
pub struct Functions {
    by_name: BTreeMap<String, Arc<Function>>,
}

impl Functions {
    pub fn get(&self, function: &str) -> Option<&Arc<Function>> {
        self.by_name.get(function)
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Builds and starts every function of `stack` whose crate is not built
    /// in, or with `--processes` every one but the authorizer; `reach` is
    /// how they reach dev. With `--watch`, each is rebuilt and swapped when
    /// its sources change.
    pub async fn start(stack: &Stack, reach: &Reach, aws: &AwsTarget, dev: &crate::DevArgs) -> Result<Functions> {
        let region = aws.region.as_deref().unwrap_or("us-east-1");
        // The shipped crates run in process unless --processes: no `cargo
        // metadata` for them.
        let in_process = |dir: &Path| {
            package_name(&stack.dir.join(dir))
                .is_some_and(|p| if dev.processes { p == AUTHORIZER } else { BUILT_IN.contains(&p.as_str()) })
        };
        let own = stack.functions.iter().filter(|(_, f)| !in_process(&f.crate_dir)).map(|(name, _)| name);
        let crates = locate(stack, own)?;
        let watch = dev.watch;
        if watch {
            let shipped: Vec<&String> = stack.functions.keys().filter(|f| !crates.contains_key(*f)).collect();
            if !shipped.is_empty() {
                info!(
                    "--watch: {} run wschat's own handlers, compiled into it; edits to their crates need wschat rebuilt",
                    shipped.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                );
            }
        }
        if crates.is_empty() {
            return Ok(Functions::default());
        }
        // What deploy gives each function (its stack.yaml `environment`, the
        // tables' and the fan-out's settings), in a placeholder account.
        let account = wschat_engine::aws::Account { id: "000000000000".into(), partition: "aws".into() };
        let deployed =
            wschat_engine::resources::Env::without_sources(stack.clone(), region.to_string(), account, BTreeMap::new());
        let mut by_name = BTreeMap::new();
        for (name, krate) in crates {
            let spec = wschat_engine::resources::function::spec(&deployed, &name, &Default::default());
            let crate_dir = stack.functions[&name].crate_dir.clone();
            let bootstrap = build(&name, &crate_dir, &krate, dev.release)?;
            let function = Arc::new(Function {
                name: name.clone(),
                timeout: Duration::from_secs(stack.functions[&name].timeout.max(1) as u64),
                arn: deployed.arns().function(&name),
                env: spec
                    .environment
                    .into_iter()
                    // As the in-process fan-out: --no-throttle lifts its pace.
                    .map(|(k, v)| match k.as_str() {
                        chat_core::config::vars::POST_RATE if dev.no_throttle => {
                            (k, chat_core::config::MAX_POST_RATE.to_string())
                        }
                        _ => (k, v),
                    })
                    .chain([
                        ("AWS_LAMBDA_FUNCTION_NAME".into(), stack.function_name(&name)),
                        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), stack.functions[&name].memory.to_string()),
                        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".to_string()),
                        ("AWS_REGION".into(), region.to_string()),
                        ("AWS_DEFAULT_REGION".into(), region.to_string()),
                        (chat_core::config::vars::MANAGEMENT_ENDPOINT.into(), reach.management.clone()),
                        (chat_core::config::vars::QUEUE_URL.into(), reach.queue_url.clone()),
                        (chat_core::remote::DEV_PORTS.into(), reach.ports.clone()),
                    ])
                    .chain(credentials(aws, dev.aws_store))
                    .collect(),
                current: RwLock::new(None),
                release: dev.release,
            });
            function.swap(bootstrap.clone()).await?;
            info!("function   {name}: {} (crate {})", bootstrap.display(), crate_dir.display());
            if watch {
                tokio::spawn(rebuild_on_change(function.clone(), crate_dir, krate));
            }
            by_name.insert(name, function);
        }
        Ok(Functions { by_name })
    }
}

/// What a function's SDK calls go with. With `--aws-store`, the tables and
/// the queue are real (moto, LocalStack or AWS): this process's credentials
/// and `--endpoint-url`, so that the function reaches what dev does.
/// Otherwise only dev's Management API answers, and takes any signature.
fn credentials(aws: &AwsTarget, aws_store: bool) -> Vec<(String, String)> {
    if !aws_store {
        return vec![
            ("AWS_ACCESS_KEY_ID".into(), "wschat-dev".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "wschat-dev".into()),
        ];
    }
    let mut passed: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| (k.starts_with("AWS_") && k != "AWS_LAMBDA_RUNTIME_API") || k == "HOME")
        .collect();
    if let Some(profile) = &aws.profile {
        passed.push(("AWS_PROFILE".into(), profile.clone()));
    }
    if let Some(endpoint) = &aws.endpoint_url {
        passed.push(("AWS_ENDPOINT_URL".into(), endpoint.clone()));
    }
    if let Some(c) = &aws.credentials {
        passed.push(("AWS_ACCESS_KEY_ID".into(), c.access_key_id().to_string()));
        passed.push(("AWS_SECRET_ACCESS_KEY".into(), c.secret_access_key().to_string()));
        if let Some(token) = c.session_token() {
            passed.push(("AWS_SESSION_TOKEN".into(), token.to_string()));
        }
    }
    passed
}

/// Runs one process of a version, starting it again each time it exits,
/// until the version is retired and idle.
async fn supervise(function: Arc<Function>, instance: Arc<Instance>) {
    let bootstrap = &instance.bootstrap;
    let mut retired = instance.retired.subscribe();
    loop {
        if *retired.borrow_and_update() {
            break;
        }
        // The function's logs: stderr, as dev's own (stdout is --json's).
        let stdout = match std::io::stderr().as_fd().try_clone_to_owned() {
            Ok(fd) => Stdio::from(fd),
            Err(_) => Stdio::inherit(),
        };
        let child = tokio::process::Command::new(bootstrap)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", instance.api.address())
            .envs(function.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                warn!("function `{}`: starting {}: {e}", function.name, bootstrap.display());
                instance.api.fail_waiting(&format!("the function's process could not start: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let nexts = instance.api.nexts();
        let status = tokio::select! {
            status = child.wait() => status,
            _ = async { let _ = retired.wait_for(|r| *r).await; } => {
                // Retired: what it was handed finishes here, then it ends.
                while !instance.api.is_idle() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let _ = child.kill().await;
                info!("function   {}: the old process ended", function.name);
                break;
            }
        };
        let why = match status {
            Ok(status) => format!("the function's process exited ({status})"),
            Err(e) => format!("the function's process was lost: {e}"),
        };
        warn!("function `{}`: {why}; starting it again", function.name);
        instance.api.fail_in_flight(&why);
        if instance.api.nexts() == nexts {
            // It never asked for an event: Lambda answers with the init error.
            instance.api.fail_waiting(&why);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// How often `--watch` looks at the sources, and how long they must stay
/// unchanged before a build (an editor writes a file in several steps).
const WATCH_EVERY: Duration = Duration::from_millis(200);
const WATCH_QUIET: Duration = Duration::from_millis(150);

/// `--watch`: rebuilds the function when a file under its sources changes,
/// and swaps its process when the build succeeds.
async fn rebuild_on_change(function: Arc<Function>, crate_dir: PathBuf, krate: Crate) {
    let sources = krate.sources.clone();
    let mut seen = snapshot_async(&sources).await;
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let now = snapshot_async(&sources).await;
        if now == seen {
            continue;
        }
        // Wait until the files stop changing.
        let mut settled = now;
        loop {
            tokio::time::sleep(WATCH_QUIET).await;
            let again = snapshot_async(&sources).await;
            if again == settled {
                break;
            }
            settled = again;
        }
        seen = settled;
        let started = std::time::Instant::now();
        info!("function   {}: sources changed; building", function.name);
        let (name, dir, krate, release) = (function.name.clone(), crate_dir.clone(), krate.clone(), function.release);
        let built = tokio::task::spawn_blocking(move || build(&name, &dir, &krate, release)).await;
        match built {
            Ok(Ok(bootstrap)) => match function.swap(bootstrap).await {
                Ok(()) => info!(
                    "function   {}: new code serving (built in {:.1} s)",
                    function.name,
                    started.elapsed().as_secs_f64()
                ),
                Err(e) => warn!("function `{}`: {e:#}; the old code keeps serving", function.name),
            },
            Ok(Err(e)) => warn!("{e:#}\nfunction `{}`: the old code keeps serving", function.name),
            Err(e) => warn!("function `{}`: the build stopped: {e}", function.name),
        }
    }
}

async fn snapshot_async(sources: &[PathBuf]) -> Snapshot {
    let sources = sources.to_vec();
    tokio::task::spawn_blocking(move || snapshot(&sources)).await.unwrap_or_default()
}

/// Every file under `sources` (but `target` and dot folders) with its
/// modification time and length.
type Snapshot = BTreeMap<PathBuf, (std::time::SystemTime, u64)>;

fn snapshot(sources: &[PathBuf]) -> Snapshot {
    let mut files = Snapshot::new();
    let mut folders: Vec<PathBuf> = sources.to_vec();
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    folders.push(path);
                }
            } else if let Ok(modified) = meta.modified() {
                files.insert(path, (modified, meta.len()));
            }
        }
    }
    files
}

/// The `[package]` name in `dir/Cargo.toml`, read plainly (a quick look;
/// `cargo metadata` has the last word).
fn package_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let mut in_package = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(value) = line.strip_prefix("name").map(str::trim_start) {
            return value.strip_prefix('=')?.trim().trim_matches('"').to_string().into();
        }
    }
    None
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    target: Option<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
}

/// `cargo build` of the function's binary for this machine (`--release`
/// with `release`); its path.
fn build(function: &str, crate_dir: &Path, krate: &Crate, release: bool) -> Result<PathBuf> {
    info!("building   {function} (crate {}) for this machine", crate_dir.display());
    let out = std::process::Command::new("cargo")
        .args(["build", "--message-format", "json-render-diagnostics", "--bin", &krate.bin, "--manifest-path"])
        .arg(&krate.manifest)
        .args(release.then_some("--release"))
        .current_dir(&krate.workspace_root)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running `cargo build`; is Rust installed (https://rustup.rs)?")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| !l.trim_start().starts_with("Compiling")).collect();
        bail!(
            "function `{function}`: building crate `{}` failed ({}):\n{}",
            crate_dir.display(),
            out.status,
            errors.join("\n")
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Message>(line).ok())
        .filter(|m| m.reason == "compiler-artifact" && m.target.as_ref().is_some_and(|t| t.name == krate.bin))
        .find_map(|m| m.executable)
        .with_context(|| format!("function `{function}`: cargo built no binary `{}`", krate.bin))
}
