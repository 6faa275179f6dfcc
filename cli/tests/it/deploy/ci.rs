//! Deploying from CI: `plan --detailed-exitcode`'s three exit codes, and
//! output a CI log shows well (no spinner, no colour, no cursor movement),
//! checked in a pipe and on a terminal (`script` gives the run one).

use std::process::Stdio;

use super::{Cloud, Project, cli, deploy, run, settle};

fn code(cloud: &Cloud, project: &Project, args: &[&str]) -> (i32, String) {
    let (out, stderr) = run(cloud, project, args);
    (out.status.code().unwrap_or(-1), stderr)
}

#[tokio::test]
async fn plan_detailed_exitcode_is_0_without_changes_2_with_and_1_on_errors() {
    let cloud = Cloud::shared();
    let project = Project::new("ci-exit");
    let plan = ["plan", "--detailed-exitcode"];
    assert_eq!(code(&cloud, &project, &plan).0, 2, "nothing deployed yet: everything to create");
    deploy(&cloud, &project);
    let (clean, stderr) = code(&cloud, &project, &plan);
    assert_eq!(clean, 0, "{stderr}");
    assert_eq!(code(&cloud, &project, &["--json", "plan", "--detailed-exitcode"]).0, 0);

    let shipped = project.stack();
    project.write_stack(
        &shipped.replace("chat:   { crate: lambdas/chat }", "chat:   { crate: lambdas/chat, memory: 512 }"),
    );
    let (out, _) = run(&cloud, &project, &["--json", "plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "a change");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the plan is printed as well");
    assert_eq!(report["counts"]["update"], 1, "{report:#}");
    // Without the flag, changes are success.
    assert_eq!(code(&cloud, &project, &["plan"]).0, 0);

    // Errors are 1, never 2: a bad stack.yaml (2 without the flag), a flag
    // clap refuses (2 without it), AWS out of reach.
    project.write_stack(&shipped.replace("functions:", "functions: ["));
    assert_eq!(code(&cloud, &project, &["plan"]).0, 2);
    let (bad, stderr) = code(&cloud, &project, &plan);
    assert_eq!(bad, 1, "{stderr}");
    assert!(stderr.contains("stack.yaml:"), "{stderr}");
    project.write_stack(&shipped);
    assert_eq!(code(&cloud, &project, &["plan", "--detailed-exitcode", "--nope"]).0, 1);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = crate::support::wschat(project.path())
        .envs(cloud.realism.env())
        .args(["--endpoint-url", &format!("http://{closed}"), "plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));

    // destroy still refuses without --yes when no one can answer.
    settle().await;
    let out = cli(&cloud, &project, &["destroy"]).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(code(&cloud, &project, &plan).0, 0, "nothing was destroyed");
    super::destroy(&cloud, &project).await;
}

/// `wschat plan` on a terminal (`script` runs it in a pseudo-terminal), with
/// and without `CI` set: spinners redraw with escape sequences only without it.
#[test]
fn in_ci_a_terminal_gets_plain_lines_without_escape_sequences() {
    let cloud = Cloud::shared();
    let project = Project::new("ci-lines");
    let on_a_terminal = |ci: bool| {
        let wschat = cli(&cloud, &project, &["plan"]);
        let mut line = format!("exec {}", wschat.get_program().to_string_lossy());
        for arg in wschat.get_args() {
            line += &format!(" '{}'", arg.to_string_lossy());
        }
        let mut script = std::process::Command::new("script");
        script.args(["-qec", &line, "/dev/null"]).current_dir(project.path()).env_remove("NO_COLOR");
        for (key, value) in wschat.get_envs() {
            if key != "NO_COLOR" {
                match value {
                    Some(value) => script.env(key, value),
                    None => script.env_remove(key),
                };
            }
        }
        if ci {
            script.env("CI", "true")
        } else {
            script.env_remove("CI")
        };
        let out = script.env("TERM", "xterm").stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ci = on_a_terminal(true);
    assert!(ci.contains("read") && ci.contains("stack `ci-lines`"), "{ci}");
    assert!(!ci.contains('\u{1b}'), "escape sequences in CI: {ci:?}");
    let terminal = on_a_terminal(false);
    assert!(terminal.contains('\u{1b}'), "a terminal outside CI gets spinners: {terminal:?}");
}
