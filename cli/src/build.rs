//! `wschat build`: cargo-lambda release builds and reproducible zips.

use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::stack::Stack;

/// One function's deployment package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The function's name in stack.yaml.
    pub function: String,
    pub zip: PathBuf,
    pub size: u64,
    /// Base64 of the zip's SHA-256: the form of Lambda's `CodeSha256`.
    pub sha256: String,
}

/// Where `wschat build` leaves the zip of `function`, and where `deploy --no-build` reads it:
/// `target/wschat/{function}.zip` beside stack.yaml.
pub fn zip_path(stack: &Stack, function: &str) -> PathBuf {
    stack.dir.join("target").join("wschat").join(format!("{function}.zip"))
}

/// Builds every function of the stack and returns its artifacts.
pub fn build(_stack: &Stack) -> Result<Vec<Artifact>> {
    anyhow::bail!("`wschat build` is not built yet; see the open issues")
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
