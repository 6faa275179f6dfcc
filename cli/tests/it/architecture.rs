//! The invariants of docs/dev/architecture.md that the compiler does not
//! hold by itself: what each crate may depend on, no per-kind `match`
//! outside the table of kinds, no file over 800 lines.

use std::path::{Path, PathBuf};

use crate::support::root;

/// The `[dependencies]` of a crate's Cargo.toml, by name, with whether each
/// is optional. Our manifests write one dependency a line.
fn dependencies(krate: &str) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(root().join(krate).join("Cargo.toml")).unwrap();
    let section = text.split("\n[dependencies]\n").nth(1).unwrap_or_default();
    section
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .map(|line| {
            let name = line.split(['=', '.', ' ']).next().unwrap().trim().to_string();
            (name, line.contains("optional = true"))
        })
        .collect()
}

#[test]
fn each_crate_depends_only_on_the_layers_below_it() {
    let names = |krate: &str| dependencies(krate).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    let stack = names("crates/stack");
    assert!(
        !stack.iter().any(|d| d.starts_with("aws-") || d == "clap" || d == "tokio" || d.starts_with("wschat-")),
        "wschat-stack takes no SDK, no network, no clap and no other wschat crate: {stack:?}"
    );
    let engine = dependencies("crates/engine");
    for (name, optional) in &engine {
        assert!(!["axum", "wschat-dev", "tokio-tungstenite"].contains(&name.as_str()), "wschat-engine: {name}");
        assert!(name != "clap" || *optional, "wschat-engine takes clap only behind its `clap` feature");
    }
    let dev = names("crates/dev");
    for service in ["aws-sdk-cloudfront", "aws-sdk-acm", "aws-sdk-route53"] {
        assert!(!dev.contains(&service.to_string()), "wschat-dev: {service}");
    }
    assert!(!dev.contains(&"wschat".to_string()));
    let chat_core = dependencies("lambdas/chat-core");
    for (name, optional) in &chat_core {
        assert!(!name.starts_with("aws-sdk-") || *optional, "chat-core takes {name} only behind a feature");
        assert!(!name.starts_with("wschat"), "chat-core: {name}");
    }
}

/// The Rust files of the binary, the library crates, the handlers and the
/// benchmarks (examples), without tests.
fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in ["cli/src", "cli/examples", "crates", "lambdas", "test-support/src"] {
        walk(&root().join(dir), &mut files);
    }
    files.retain(|f| !f.components().any(|c| c.as_os_str() == "tests"));
    files
}

/// The code of a file before its `#[cfg(test)]` module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.split("#[cfg(test)]\nmod tests {").next().unwrap().to_string()
}

#[test]
fn no_code_matches_on_a_kind_outside_the_table_of_kinds() {
    // A pattern on a variant of `Found` or `Spec`: `let Found::X(..) =`,
    // `matches!(.., Found::X(..))` or a match arm `Found::X(..) =>`.
    // Constructing one (`Found::X(found)`) is not a match.
    let pattern = regex_lite::Regex::new(
        r"(let|matches!\([^,]+,)\s*(super::|crate::resources::|resources::)?(Found|Spec)::[A-Z]\w*\(|(Found|Spec)::[A-Z]\w*\([^)]*\)\s*(if [^=]*)?=>",
    )
    .unwrap();
    let table = root().join("crates/engine/src/resources/mod.rs");
    let mut found = Vec::new();
    for file in sources().into_iter().filter(|f| *f != table) {
        for (n, line) in code(&file).lines().enumerate() {
            if pattern.is_match(line) {
                found.push(format!("{}:{}: {}", file.strip_prefix(root()).unwrap().display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "match on a kind outside `kinds!`: make it a `Resource` method, or pick the kind with `OfKind::of`:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_source_file_is_over_800_lines() {
    let mut long: Vec<String> = sources()
        .into_iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(&f).unwrap().lines().count();
            (lines > 800).then(|| format!("{} ({lines})", f.strip_prefix(root()).unwrap().display()))
        })
        .collect();
    long.sort();
    assert!(long.is_empty(), "split these along their jobs: {long:?}");
}
