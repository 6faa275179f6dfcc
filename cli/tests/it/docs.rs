//! The docs stay true to the code: every stack.yaml they show is one the CLI
//! accepts, and every path of the code map exists.
//!
//! Which blocks are read: every fenced block of `README.md` and of the
//! Markdown files under `docs/` whose info string starts with `yaml`.
//! - ```` ```yaml ````: a whole stack. It is parsed and validated by the CLI's
//!   own loader (`wschat_stack::parse`, what `wschat validate` runs) as if it
//!   were a stack.yaml at the workspace root, so the crates, schemas and
//!   website folder it names are the project's own.
//! - ```` ```yaml fragment ````: a part of a stack (a section to add to one,
//!   such as `api.auth` or `domain`). It is laid over a minimal stack (`name`
//!   and the shipped `chat` and `notify` functions), map by map, and the
//!   result must pass the same loader.
//!
//! YAML that is not meant to be valid (an error to show) takes another info
//! string, such as `text`; any other block (`console`, `sh`, `json`...) is
//! not read. Renderers (GitHub, mdBook) highlight `yaml fragment` as YAML.

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use crate::support::root;

/// What a fragment is laid over: the smallest stack the shipped crates make.
const MINIMAL_STACK: &str = "\
name: wschat
functions:
  chat: { crate: lambdas/chat }
  notify: { crate: lambdas/notify, queue: notifications }
";

/// A fenced `yaml` block: where it is, whether it is a fragment, its text.
struct Block {
    at: String,
    fragment: bool,
    text: String,
}

/// The Markdown files whose blocks are read: the README and everything under `docs/`.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    let mut files = vec![root.join("README.md")];
    walk(&root.join("docs"), &mut files);
    files
}

/// The fenced blocks of `text` whose info string starts with `yaml`.
fn yaml_blocks(file: &str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => open = Some((i + 1, info.trim().to_string(), Vec::new())),
            (Some(_), Some(rest)) if rest.trim().is_empty() => {
                let (line, info, body) = open.take().unwrap();
                let mut words = info.split_whitespace();
                if words.next() == Some("yaml") {
                    let fragment = match words.next() {
                        None => false,
                        Some("fragment") => true,
                        Some(other) => panic!("{file}:{line}: ```yaml {other}: write ```yaml or ```yaml fragment"),
                    };
                    blocks.push(Block { at: format!("{file}:{line}"), fragment, text: body.join("\n") + "\n" });
                }
            }
            (Some((_, _, body)), _) => body.push(line),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{file}: a fenced block is never closed");
    blocks
}

/// `over` laid onto `base`: maps merge key by key, anything else replaces.
fn lay_over(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(base), Value::Mapping(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => lay_over(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

/// The stack a block stands for, as stack.yaml text.
fn stack_text(block: &Block) -> Result<String, String> {
    if !block.fragment {
        return Ok(block.text.clone());
    }
    let over: Value = serde_norway::from_str(&block.text).map_err(|e| format!("not YAML: {e}"))?;
    if !matches!(over, Value::Mapping(_)) {
        return Err("a fragment is a map of stack.yaml's sections".into());
    }
    let mut stack = Value::Mapping(serde_norway::from_str::<Mapping>(MINIMAL_STACK).unwrap());
    lay_over(&mut stack, over);
    Ok(serde_norway::to_string(&stack).unwrap())
}

#[test]
fn docs_yaml_blocks_are_stacks_the_cli_accepts() {
    let root = root();
    let mut blocks = Vec::new();
    for path in markdown_files(&root) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        blocks.extend(yaml_blocks(&name, &text));
    }
    let whole = |file: &str| blocks.iter().filter(|b| !b.fragment && b.at.starts_with(file)).count();
    assert!(whole("README.md:") >= 1, "the README shows a whole stack.yaml");
    assert!(whole("docs/guide/stack-yaml.md:") >= 1, "the reference shows a whole stack.yaml");

    // Relative paths in a stack start from its folder: the workspace root's.
    let file = root.join("stack.yaml");
    let failures: Vec<String> = blocks
        .iter()
        .filter_map(|block| {
            let text = match stack_text(block) {
                Ok(text) => text,
                Err(why) => return Some(format!("{}: {why}", block.at)),
            };
            let kind = if block.fragment { "fragment, laid over the minimal stack" } else { "stack" };
            wschat_stack::parse(&text, &file, "dev")
                .err()
                .map(|e| format!("{} ({kind}; positions are in the text below):\n{e}\n---\n{text}---", block.at))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} yaml blocks fail:\n\n{}",
        failures.len(),
        blocks.len(),
        failures.join("\n\n")
    );
}

/// The code map's entries: the first `path` of each list item.
fn code_map_paths(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .map(|rest| rest.split('`').next().unwrap().to_string())
        .collect()
}

#[test]
fn docs_code_map_names_paths_that_exist_and_every_top_level_folder() {
    let root = root();
    let map = root.join("docs/dev/code-map.md");
    let text = std::fs::read_to_string(&map).unwrap_or_else(|e| panic!("reading {}: {e}", map.display()));
    let paths = code_map_paths(&text);
    assert!(paths.len() >= 20, "the code map lists {} paths; its entries are `- `path`: what it is`", paths.len());

    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| {
            let full = root.join(p.trim_end_matches('/'));
            if p.ends_with('/') { !full.is_dir() } else { !full.is_file() }
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/dev/code-map.md names paths that do not exist (a folder ends with /): {missing:?}"
    );

    // Every top-level folder of the project, but hidden ones and what
    // .gitignore keeps out of it (target, node_modules...).
    let ignored: Vec<String> = std::fs::read_to_string(root.join(".gitignore"))
        .unwrap()
        .lines()
        .map(|l| l.trim().trim_matches('/').to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut unlisted: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.') && !ignored.contains(name))
        .filter(|name| !paths.contains(&format!("{name}/")))
        .collect();
    unlisted.sort();
    assert!(unlisted.is_empty(), "top-level folders missing from docs/dev/code-map.md: {unlisted:?}");
}
