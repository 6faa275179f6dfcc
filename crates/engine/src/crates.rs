//! Where each function's code is: its crate's package, binary and
//! workspace, from `cargo metadata` (once per workspace). `wschat build`
//! builds them for Lambda; `wschat dev` builds the ones it runs as
//! processes for this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use wschat_stack::{Architecture, Stack};

/// A function's crate, as cargo sees it.
#[derive(Debug, Clone)]
pub struct Crate {
    pub package: String,
    /// The one binary target: it becomes `bootstrap`.
    pub bin: String,
    pub workspace_root: PathBuf,
    pub manifest: PathBuf,
    pub architecture: Architecture,
    /// The crate's folder and those of the path crates it depends on, as far
    /// as its workspace lists them: where a change changes its code.
    pub sources: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<Target>,
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    /// Set for a path dependency: its folder.
    #[serde(default)]
    path: Option<PathBuf>,
}

/// `package`'s folder and its path dependencies' folders, transitively
/// through the packages `workspace` lists.
fn sources(workspace: &Metadata, package: &Package) -> Vec<PathBuf> {
    let folder = |p: &Package| p.manifest_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut found = vec![folder(package)];
    let mut queue: Vec<PathBuf> = package.dependencies.iter().filter_map(|d| d.path.clone()).collect();
    while let Some(dir) = queue.pop() {
        if found.contains(&dir) {
            continue;
        }
        if let Some(dep) = workspace.packages.iter().find(|p| folder(p) == dir) {
            queue.extend(dep.dependencies.iter().filter_map(|d| d.path.clone()));
        }
        found.push(dir);
    }
    found
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// Finds each function's package and binary with `cargo metadata` (once per workspace).
pub fn locate_crates(stack: &Stack) -> Result<BTreeMap<String, Crate>> {
    locate(stack, stack.functions.keys())
}

/// [`locate_crates`] for some of the stack's functions.
pub fn locate<'a>(stack: &Stack, functions: impl Iterator<Item = &'a String>) -> Result<BTreeMap<String, Crate>> {
    let mut workspaces: Vec<Metadata> = Vec::new();
    let mut crates = BTreeMap::new();
    for function in functions {
        let f = &stack.functions[function];
        let manifest = stack.dir.join(&f.crate_dir).join("Cargo.toml");
        let manifest = manifest
            .canonicalize()
            .with_context(|| format!("finding `{}`, the crate of function `{function}`", manifest.display()))?;
        let known = workspaces.iter().any(|w| w.packages.iter().any(|p| p.manifest_path == manifest));
        if !known {
            workspaces.push(cargo_metadata(&manifest)?);
        }
        let (workspace, package) = workspaces
            .iter()
            .find_map(|w| w.packages.iter().find(|p| p.manifest_path == manifest).map(|p| (w, p)))
            .with_context(|| format!("cargo metadata does not list `{}`", manifest.display()))?;
        let bins: Vec<&str> =
            package.targets.iter().filter(|t| t.kind.iter().any(|k| k == "bin")).map(|t| t.name.as_str()).collect();
        let bin = match bins.as_slice() {
            [bin] => bin.to_string(),
            [] => bail!(
                "functions.{function}.crate: package `{}` has no binary; a Lambda function's crate needs exactly one (it becomes `bootstrap`)",
                package.name
            ),
            many => bail!(
                "functions.{function}.crate: package `{}` has {} binaries ({}); a Lambda function's crate needs exactly one",
                package.name,
                many.len(),
                many.join(", ")
            ),
        };
        let krate = Crate {
            package: package.name.clone(),
            bin,
            workspace_root: workspace.workspace_root.clone(),
            manifest: manifest.clone(),
            architecture: f.architecture,
            sources: sources(workspace, package),
        };
        crates.insert(function.clone(), krate);
    }
    Ok(crates)
}

fn cargo_metadata(manifest: &Path) -> Result<Metadata> {
    let out = Command::new("cargo")
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .context("running `cargo metadata`; is Rust installed (https://rustup.rs)?")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata --manifest-path {}` failed:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("reading the output of `cargo metadata`")
}
