//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root, where the shipped stack.yaml lives.
pub fn root() -> PathBuf {
    test_support::workspace_root()
}

/// A `wschat` command from the freshly built binary, with a clean AWS environment.
pub fn wschat(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wschat"));
    cmd.current_dir(dir)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("WSCHAT_ENDPOINT_URL")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("NO_COLOR", "1");
    cmd
}

/// Runs a command and returns its output, with stderr as text for messages.
pub fn run(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().expect("running wschat");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

/// Copies the project's stack inputs into a temp dir with a changed stack.yaml.
pub fn project_with(stack: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for krate in ["lambdas/chat", "lambdas/notify"] {
        std::fs::create_dir_all(dir.path().join(krate)).unwrap();
        std::fs::copy(root().join(krate).join("Cargo.toml"), dir.path().join(krate).join("Cargo.toml")).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("wwwroot")).unwrap();
    std::fs::write(dir.path().join("stack.yaml"), stack).unwrap();
    dir
}
