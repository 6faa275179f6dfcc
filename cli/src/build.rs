//! `wschat build`: cargo-lambda release builds and reproducible zips.

use std::path::PathBuf;

use crate::stack::Stack;

/// Where `wschat build` leaves the zip of `function`, and where `deploy --no-build` reads it:
/// `target/wschat/{function}.zip` beside stack.yaml.
pub fn zip_path(stack: &Stack, function: &str) -> PathBuf {
    stack.dir.join("target").join("wschat").join(format!("{function}.zip"))
}
