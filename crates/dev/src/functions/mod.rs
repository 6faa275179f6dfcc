//! The functions `wschat dev` runs as processes: every function of
//! stack.yaml whose crate is not one of the shipped handlers (`chat`,
//! `notify`, `authorizer`, whose code is compiled into `wschat` and runs in
//! process). Each is built for this machine with `cargo build` (a debug,
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
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tracing::{info, warn};
use wschat_engine::crates::{Crate, locate};
use wschat_stack::Stack;

use runtime::{Answer, RuntimeApi};

/// The packages whose handlers are compiled into `wschat`: dev runs them in process.
pub const BUILT_IN: [&str; 3] = ["chat", "notify", "authorizer"];

/// A function running as a process.
pub struct Function {
    pub name: String,
    api: RuntimeApi,
    /// The function's own timeout (`functions.<name>.timeout`).
    timeout: Duration,
}

impl Function {
    /// Hands `event` to the process and waits for its answer.
    pub async fn invoke(&self, event: String) -> Answer {
        self.api.invoke(event, self.timeout).await
    }
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
    /// in. `management` is dev's Management API (`http://host:port/{stage}`).
    pub async fn start(stack: &Stack, management: &str, region: &str) -> Result<Functions> {
        // The shipped crates run in process: no `cargo metadata` for them.
        let built_in = |dir: &Path| package_name(&stack.dir.join(dir)).is_some_and(|p| BUILT_IN.contains(&p.as_str()));
        let own = stack.functions.iter().filter(|(_, f)| !built_in(&f.crate_dir)).map(|(name, _)| name);
        let crates = locate(stack, own)?;
        let mut by_name = BTreeMap::new();
        for (name, krate) in &crates {
            if BUILT_IN.contains(&krate.package.as_str()) {
                continue;
            }
            let crate_dir = &stack.functions[name].crate_dir;
            let bootstrap = build(name, crate_dir, krate)?;
            let arn = format!("arn:aws:lambda:{region}:000000000000:function:{}", stack.function_name(name));
            let api = RuntimeApi::start(arn).await.context("starting a Lambda Runtime API")?;
            let env = vec![
                ("AWS_LAMBDA_FUNCTION_NAME", stack.function_name(name)),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", stack.functions[name].memory.to_string()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
                ("AWS_REGION", region.to_string()),
                ("AWS_DEFAULT_REGION", region.to_string()),
                // The SDK signs its calls; dev's Management API takes any signature.
                ("AWS_ACCESS_KEY_ID", "wschat-dev".to_string()),
                ("AWS_SECRET_ACCESS_KEY", "wschat-dev".to_string()),
                (chat_core::config::vars::MANAGEMENT_ENDPOINT, management.to_string()),
                (chat_core::config::vars::METRICS_NAMESPACE, stack.metrics_namespace()),
            ];
            info!("function   {name}: {} (crate {})", bootstrap.display(), crate_dir.display());
            let api_address = api.address();
            let function = Arc::new(Function {
                name: name.clone(),
                api,
                timeout: Duration::from_secs(stack.functions[name].timeout.max(1) as u64),
            });
            // It runs as long as dev; the process is killed with it.
            tokio::spawn(supervise(function.clone(), bootstrap, api_address, env));
            by_name.insert(name.clone(), function);
        }
        Ok(Functions { by_name })
    }
}

/// Runs the function's process, and starts it again each time it exits.
async fn supervise(function: Arc<Function>, bootstrap: PathBuf, api: String, env: Vec<(&'static str, String)>) {
    loop {
        let stdout = match std::io::stderr().as_fd_owned() {
            Some(fd) => Stdio::from(fd),
            None => Stdio::inherit(),
        };
        let child = tokio::process::Command::new(&bootstrap)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            // The function's logs: stderr, as dev's own (stdout is --json's).
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => {
                warn!("function `{}`: starting {}: {e}", function.name, bootstrap.display());
                function.api.fail_waiting(&format!("the function's process could not start: {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let nexts = function.api.nexts();
        let status = child.wait().await;
        let why = match status {
            Ok(status) => format!("the function's process exited ({status})"),
            Err(e) => format!("the function's process was lost: {e}"),
        };
        warn!("function `{}`: {why}; starting it again", function.name);
        function.api.fail_in_flight(&why);
        if function.api.nexts() == nexts {
            // It never asked for an event: Lambda answers with the init error.
            function.api.fail_waiting(&why);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

trait FdOwned {
    fn as_fd_owned(&self) -> Option<std::os::fd::OwnedFd>;
}

impl FdOwned for std::io::Stderr {
    fn as_fd_owned(&self) -> Option<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned().ok()
    }
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

/// `cargo build` of the function's binary for this machine; its path.
fn build(function: &str, crate_dir: &Path, krate: &Crate) -> Result<PathBuf> {
    info!("building   {function} (crate {}) for this machine", crate_dir.display());
    let out = std::process::Command::new("cargo")
        .args(["build", "--message-format", "json-render-diagnostics", "--bin", &krate.bin, "--manifest-path"])
        .arg(&krate.manifest)
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
