//! The deploy engine of `wschat`: how `plan`, `deploy`, `status` and
//! `destroy` turn a stack into AWS resources (`docs/dev/architecture.md`).
//!
//! - [`aws`]: the SDK setup and one idiom per chore (not found, retag, poll,
//!   paginate), and the call log;
//! - [`resources`]: one file per kind of resource, each implementing
//!   [`resources::Resource`], and the table of kinds;
//! - [`plan`]: desired vs found, a plan of changes; [`apply`] carries it out;
//! - [`report`]: the `--json` documents' own types;
//! - [`diff`] (pure) and [`progress`] (the lines on stderr).
//!
//! It knows nothing of the command line (except [`aws::AwsTarget`]'s flags
//! behind the `clap` feature) and serves nothing.

pub mod apply;
pub mod aws;
pub mod crates;
pub mod diff;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod report;
pub mod resources;

use std::path::PathBuf;

/// One function's deployment package, as `wschat build` made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The function's name in stack.yaml.
    pub function: String,
    pub zip: PathBuf,
    pub size: u64,
    /// Base64 of the zip's SHA-256: the form of Lambda's `CodeSha256`.
    pub sha256: String,
}
