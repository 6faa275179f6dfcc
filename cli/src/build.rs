//! `wschat build`: cargo-lambda release builds and reproducible zips.
//!
//! - The functions of one workspace and architecture are built by one
//!   `cargo lambda build`, so shared dependencies compile once.
//! - Builds go to their own target dir (`$CARGO_TARGET_DIR/lambda`, else
//!   `target/lambda` beside stack.yaml): the cross-linked, LTO'd handlers
//!   never invalidate the CLI's own build.
//! - The workspace's `[profile.lambda]` (LTO, one codegen unit, stripped) is
//!   used when it has one, `--release` otherwise.
//! - Each `bootstrap` is checked to need no glibc newer than Amazon Linux
//!   2023's (Lambda's `provided.al2023`), then zipped alone with a fixed
//!   timestamp and mode 755: the same binary always gives the same zip, so
//!   deploy can compare its sha256 with Lambda's `CodeSha256`.

mod elf;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use base64::Engine;
use sha2::{Digest, Sha256};

use wschat_stack::{Architecture, Stack};

pub use wschat_engine::Artifact;
use wschat_engine::crates::{Crate, locate_crates};

/// The newest glibc Amazon Linux 2023 (Lambda's `provided.al2023`) has.
pub const AL2023_GLIBC: (u32, u32, u32) = (2, 34, 0);

/// Where `wschat build` leaves the zip of `function`, and where `deploy --no-build` reads it:
/// `target/wschat/{function}.zip` beside stack.yaml.
pub fn zip_path(stack: &Stack, function: &str) -> PathBuf {
    stack.dir.join("target").join("wschat").join(format!("{function}.zip"))
}

/// Where the handlers are compiled: `$CARGO_TARGET_DIR/lambda`, else
/// `target/lambda` beside stack.yaml.
pub fn handler_target_dir(stack: &Stack) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("lambda"),
        None => stack.dir.join("target").join("lambda"),
    }
}

/// Builds every function of the stack and returns its artifacts, in the
/// order of stack.yaml's (sorted) function names. Progress goes to stderr.
pub fn build(stack: &Stack) -> Result<Vec<Artifact>> {
    let started = Instant::now();
    let path = tool_path(stack)?;
    let target_dir = std::path::absolute(handler_target_dir(stack)).context("resolving the handlers' target dir")?;
    let crates = locate_crates(stack)?;

    let mut groups: BTreeMap<(&Path, &str), Vec<&Crate>> = BTreeMap::new();
    for krate in crates.values() {
        groups.entry((&krate.workspace_root, krate.architecture.as_str())).or_default().push(krate);
    }
    for ((workspace_root, _), members) in &groups {
        let architecture = members[0].architecture;
        check_rust_target(architecture, &path)?;
        CargoLambda { workspace_root, architecture, crates: members, target_dir: &target_dir }.run(&path)?;
    }

    let mut artifacts = Vec::new();
    for (function, krate) in &crates {
        let bootstrap = bootstrap_path(&target_dir, krate.architecture, &krate.bin);
        let binary = std::fs::read(&bootstrap)
            .with_context(|| format!("reading `{}`, the bootstrap of function `{function}`", bootstrap.display()))?;
        check_bootstrap(function, krate.architecture, &binary)?;
        let artifact = write_zip(stack, function, &binary)?;
        eprintln!(
            "{function}: {} ({}, {}) sha256 {}",
            artifact.zip.display(),
            human_size(artifact.size),
            krate.architecture.as_str(),
            artifact.sha256
        );
        artifacts.push(artifact);
    }
    eprintln!("built {} functions in {:.1} s", artifacts.len(), started.elapsed().as_secs_f64());
    Ok(artifacts)
}

/// The artifact of a previous build of `function`, for `deploy --no-build`.
pub fn read_artifact(stack: &Stack, function: &str) -> Result<Artifact> {
    let zip = zip_path(stack, function);
    let bytes = std::fs::read(&zip).with_context(|| {
        format!("reading `{}`; run `wschat build` first, or deploy without --no-build", zip.display())
    })?;
    Ok(Artifact { function: function.to_string(), size: bytes.len() as u64, sha256: sha256_base64(&bytes), zip })
}

/// Base64 of SHA-256, as Lambda reports `CodeSha256`.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// One `cargo lambda build` of several crates for one architecture.
struct CargoLambda<'a> {
    workspace_root: &'a Path,
    architecture: Architecture,
    crates: &'a [&'a Crate],
    target_dir: &'a Path,
}

impl CargoLambda<'_> {
    fn run(&self, path: &OsString) -> Result<()> {
        let lambda_profile = has_lambda_profile(self.workspace_root);
        let packages: Vec<&str> = self.crates.iter().map(|c| c.package.as_str()).collect();
        eprintln!(
            "building {} for {} with cargo-lambda ({})",
            packages.join(", "),
            self.architecture.as_str(),
            if lambda_profile { "profile `lambda`" } else { "--release" }
        );
        let mut cmd = Command::new("cargo");
        cmd.args(["lambda", "build"]);
        if lambda_profile {
            cmd.args(["--profile", "lambda"]);
        } else {
            cmd.arg("--release");
        }
        cmd.arg(match self.architecture {
            Architecture::X86_64 => "--x86-64",
            Architecture::Arm64 => "--arm64",
        });
        cmd.args(["--output-format", "binary", "--lambda-dir"]).arg(lambda_dir(self.target_dir, self.architecture));
        for package in &packages {
            cmd.args(["-p", package]);
        }
        // cargo-lambda passes `--target-dir` on to `cargo metadata`, which
        // rejects it: the environment variable reaches only the build.
        cmd.current_dir(self.workspace_root).env("CARGO_TARGET_DIR", self.target_dir).env("PATH", path);
        // Cargo's output is progress: stderr, like ours. Nothing may reach
        // stdout, which belongs to `--json`. No stdin: cargo-lambda would
        // otherwise offer to install a missing zig interactively.
        let stderr = std::io::stderr().as_fd().try_clone_to_owned().context("duplicating stderr")?;
        cmd.stdin(Stdio::null()).stdout(Stdio::from(stderr)).stderr(Stdio::inherit());
        let status = cmd.status().context("running `cargo lambda build`")?;
        if !status.success() {
            bail!(
                "`cargo lambda build` failed for {} ({}, {status}); its output is above",
                packages.join(", "),
                self.architecture.as_str()
            );
        }
        Ok(())
    }
}

/// Whether the workspace defines `[profile.lambda]` (wschat's own does).
fn has_lambda_profile(workspace_root: &Path) -> bool {
    std::fs::read_to_string(workspace_root.join("Cargo.toml"))
        .is_ok_and(|text| text.lines().any(|line| line.trim() == "[profile.lambda]"))
}

fn lambda_dir(target_dir: &Path, architecture: Architecture) -> PathBuf {
    target_dir.join("bootstrap").join(architecture.as_str())
}

fn bootstrap_path(target_dir: &Path, architecture: Architecture, bin: &str) -> PathBuf {
    lambda_dir(target_dir, architecture).join(bin).join("bootstrap")
}

/// The PATH for cargo-lambda: the project's `.venv/bin` (where `scripts/test`
/// installs cargo-lambda and zig) first, then the inherited PATH. Fails with
/// install instructions when cargo-lambda is nowhere.
fn tool_path(stack: &Stack) -> Result<OsString> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let venv = stack.dir.join(".venv").join("bin");
    if venv.is_dir() {
        dirs.push(std::path::absolute(&venv).unwrap_or(venv));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    // Cargo also finds subcommands in $CARGO_HOME/bin.
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let found =
        dirs.iter().chain(cargo_home.map(|h| h.join("bin")).iter()).any(|dir| is_executable(&dir.join("cargo-lambda")));
    if !found {
        bail!(
            "cargo-lambda is not installed; `wschat build` runs `cargo lambda build`. Install it with \
             `pip install cargo-lambda` (which brings zig, its linker) and put that environment's `bin` on PATH, \
             or run ./scripts/test once, which installs both into .venv"
        );
    }
    std::env::join_paths(dirs).context("building PATH for cargo-lambda")
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The Rust target an architecture builds for.
fn rust_target(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// Fails with the command to run when rustup lacks the architecture's target.
/// Without rustup there is nothing to ask; cargo then reports it itself.
fn check_rust_target(architecture: Architecture, path: &OsString) -> Result<()> {
    let Ok(out) = Command::new("rustup").args(["target", "list", "--installed"]).env("PATH", path).output() else {
        return Ok(());
    };
    if !out.status.success() {
        return Ok(());
    }
    match missing_rust_target(&String::from_utf8_lossy(&out.stdout), architecture) {
        Some(message) => bail!(message),
        None => Ok(()),
    }
}

fn missing_rust_target(installed: &str, architecture: Architecture) -> Option<String> {
    let target = rust_target(architecture);
    if installed.lines().any(|line| line.trim() == target) {
        return None;
    }
    Some(format!(
        "{} functions need the Rust target `{target}`, which is not installed: run `rustup target add {target}`",
        architecture.as_str()
    ))
}

/// Checks that a bootstrap is for the function's architecture and runs on
/// `provided.al2023`.
fn check_bootstrap(function: &str, architecture: Architecture, binary: &[u8]) -> Result<()> {
    let needs = elf::needs(binary).with_context(|| format!("reading the bootstrap of function `{function}`"))?;
    let machine = match architecture {
        Architecture::X86_64 => elf::EM_X86_64,
        Architecture::Arm64 => elf::EM_AARCH64,
    };
    if needs.machine != machine {
        bail!(
            "the bootstrap of function `{function}` is not an {} binary (ELF machine {})",
            architecture.as_str(),
            needs.machine
        );
    }
    if let Some(glibc) = needs.glibc.filter(|v| *v > AL2023_GLIBC) {
        bail!(
            "the bootstrap of function `{function}` needs glibc {}, newer than the {} of Amazon Linux 2023 \
             (Lambda's provided.al2023); build with cargo-lambda's zig linker (its default), which links against an older glibc",
            version(glibc),
            version(AL2023_GLIBC)
        );
    }
    Ok(())
}

fn version((major, minor, patch): (u32, u32, u32)) -> String {
    match patch {
        0 => format!("{major}.{minor}"),
        _ => format!("{major}.{minor}.{patch}"),
    }
}

/// The newest glibc a bootstrap needs, for the tests and `-v`.
pub fn glibc_needed(binary: &[u8]) -> Result<Option<String>> {
    Ok(elf::needs(binary)?.glibc.map(version))
}

/// The `--json` document of `wschat build`.
pub fn report(stack: &Stack, artifacts: &[Artifact]) -> serde_json::Value {
    let functions: serde_json::Map<String, serde_json::Value> = artifacts
        .iter()
        .map(|a| {
            let architecture = stack.functions.get(&a.function).map(|f| f.architecture.as_str());
            let zip = std::path::absolute(&a.zip).unwrap_or_else(|_| a.zip.clone());
            let entry = serde_json::json!({
                "zip": zip,
                "size": a.size,
                "sha256": a.sha256,
                "architecture": architecture,
            });
            (a.function.clone(), entry)
        })
        .collect();
    serde_json::json!({ "functions": functions })
}

/// Zips `binary` as the only entry, `bootstrap`, and writes it atomically to
/// the function's zip path.
fn write_zip(stack: &Stack, function: &str, binary: &[u8]) -> Result<Artifact> {
    let bytes = zip_bootstrap(binary).with_context(|| format!("zipping the bootstrap of function `{function}`"))?;
    let zip = zip_path(stack, function);
    let dir = zip.parent().expect("zip paths have a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    // Concurrent builds (and a reader of the previous zip) never see half a file.
    let partial = dir.join(format!(".{function}.zip.{}", std::process::id()));
    std::fs::write(&partial, &bytes).with_context(|| format!("writing `{}`", partial.display()))?;
    std::fs::rename(&partial, &zip).with_context(|| format!("moving the new zip to `{}`", zip.display()))?;
    Ok(Artifact { function: function.to_string(), size: bytes.len() as u64, sha256: sha256_base64(&bytes), zip })
}

/// A zip of one entry, `bootstrap`, mode 755, dated 1980-01-01 (the zip
/// epoch): the bytes depend on `binary` alone.
fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options)?;
    writer.write_all(binary)?;
    Ok(writer.finish()?.into_inner())
}

fn human_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn zips_are_reproducible_with_one_executable_entry() {
        let binary: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let first = zip_bootstrap(&binary).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(zip_bootstrap(&binary).unwrap(), first, "the same input gives the same bytes, later too");

        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&first)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, binary);
    }

    #[test]
    fn sha256_is_base64_like_code_sha256() {
        // sha256("") = e3b0c442..., in base64:
        assert_eq!(sha256_base64(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn a_missing_rust_target_names_the_rustup_command() {
        let installed = "x86_64-unknown-linux-gnu\n";
        assert_eq!(missing_rust_target(installed, Architecture::X86_64), None);
        assert_eq!(
            missing_rust_target(installed, Architecture::Arm64).unwrap(),
            "arm64 functions need the Rust target `aarch64-unknown-linux-gnu`, which is not installed: \
             run `rustup target add aarch64-unknown-linux-gnu`"
        );
        assert_eq!(
            missing_rust_target("x86_64-unknown-linux-gnu\naarch64-unknown-linux-gnu\n", Architecture::Arm64),
            None
        );
    }

    /// The architecture this test binary is not.
    fn foreign() -> (Architecture, &'static str) {
        if cfg!(target_arch = "x86_64") { (Architecture::Arm64, "arm64") } else { (Architecture::X86_64, "x86_64") }
    }

    fn host() -> Architecture {
        if cfg!(target_arch = "x86_64") { Architecture::X86_64 } else { Architecture::Arm64 }
    }

    #[test]
    fn bootstraps_for_the_wrong_machine_are_refused() {
        let binary = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let (other, name) = foreign();
        let err = check_bootstrap("chat", other, &binary).unwrap_err().to_string();
        assert!(err.contains(&format!("is not an {name} binary")), "{err}");
        let err = check_bootstrap("chat", host(), b"#!/bin/sh").unwrap_err();
        assert!(format!("{err:#}").contains("not an ELF file"), "{err:#}");
    }

    #[test]
    fn bootstraps_needing_a_newer_glibc_than_al2023_are_refused() {
        // A real glibc executable (this test), with one version need renamed
        // in place to a glibc that does not exist yet.
        let mut binary = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        // x86_64 binaries need GLIBC_2.2.5, aarch64 ones GLIBC_2.17.
        let (at, from, to): (usize, &[u8], &[u8]) =
            [(b"GLIBC_2.2.5\0".as_slice(), b"GLIBC_9.9.9\0".as_slice()), (b"GLIBC_2.17\0", b"GLIBC_9.99\0")]
                .into_iter()
                .find_map(|(from, to)| binary.windows(from.len()).position(|w| w == from).map(|at| (at, from, to)))
                .expect("a glibc binary needs GLIBC_2.2.5 or GLIBC_2.17");
        binary[at..at + from.len()].copy_from_slice(to);
        let newest = glibc_needed(&binary).unwrap().unwrap();
        assert!(newest == "9.9.9" || newest == "9.99", "{newest}");
        let err = check_bootstrap("notify", host(), &binary).unwrap_err().to_string();
        let expected = format!(
            "the bootstrap of function `notify` needs glibc {newest}, newer than the 2.34 of Amazon Linux 2023"
        );
        assert!(err.starts_with(&expected), "{err}");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(5_136_575), "4.9 MiB");
    }
}
