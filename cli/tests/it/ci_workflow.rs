//! The GitHub Actions workflow of docs/guide/ci.md: it parses as YAML, has
//! the three jobs the guide describes, and every `wschat` command line in it
//! is one wschat's own argument parser accepts. The guide's JSON (the trust
//! policies) parses.

use clap::Parser;
use serde_norway::Value;
use wschat::cli::Args;

use crate::support::root;

/// The `wschat` command lines of a step's `run`, as words: continued lines
/// joined, cut at `&&`, `||`, `;`, `|` and redirections, `$STAGE` expanded.
fn wschat_lines(run: &str, stage: &str) -> Vec<Vec<String>> {
    let joined = run.replace("\\\n", " ");
    let mut lines = Vec::new();
    for line in joined.lines() {
        for part in line.split("&&").flat_map(|p| p.split("||")).flat_map(|p| p.split(';')) {
            let command = part.split('|').next().unwrap_or_default();
            let command = command.split('>').next().unwrap_or_default();
            let words: Vec<String> = command
                .split_whitespace()
                .map(|w| w.trim_matches('"').trim_matches('\'').replace("$STAGE", stage))
                .collect();
            if words.first().is_some_and(|w| w == "wschat") {
                lines.push(words);
            }
        }
    }
    lines
}

#[test]
fn the_workflow_parses_and_names_only_commands_wschat_accepts() {
    let path = root().join("docs/guide/ci/github-actions.yml");
    let workflow: Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    let stage = workflow["env"]["STAGE"].as_str().expect("env.STAGE");
    assert_eq!(workflow["permissions"]["id-token"], "write", "OIDC needs id-token: write");
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    let names: Vec<&str> = jobs.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, ["plan", "deploy", "drift"]);

    let mut commands = Vec::new();
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
        let steps = job["steps"].as_sequence().unwrap_or_else(|| panic!("job {name} has no steps"));
        let role = steps
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials")));
        let role = role.unwrap_or_else(|| panic!("job {name} does not assume a role"))["with"]["role-to-assume"]
            .as_str()
            .unwrap();
        assert_eq!(role.contains("DEPLOY"), name == "deploy", "job {name} assumes {role}");
        for step in steps {
            for words in step["run"].as_str().map(|r| wschat_lines(r, stage)).unwrap_or_default() {
                if let Err(e) = Args::try_parse_from(&words) {
                    panic!("job {name}: `{}` is not a command wschat accepts:\n{e}", words.join(" "));
                }
                commands.push((name.to_string(), words.join(" ")));
            }
        }
    }
    let has = |job: &str, line: &str| commands.iter().any(|(j, c)| j == job && c == line);
    assert!(has("plan", "wschat plan --stage prod"), "{commands:#?}");
    assert!(has("deploy", "wschat deploy --stage prod"), "{commands:#?}");
    assert!(has("drift", "wschat plan --stage prod --detailed-exitcode"), "{commands:#?}");
    // A line the parser refuses is caught.
    assert!(Args::try_parse_from(["wschat", "plan", "--detailed-exit-code"]).is_err());
}

#[test]
fn the_guide_s_trust_policies_are_json() {
    let text = std::fs::read_to_string(root().join("docs/guide/ci.md")).unwrap();
    let blocks: Vec<&str> = text.split("```json\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 2, "the plan role's and the deploy role's trust policies");
    for block in blocks {
        let policy: serde_json::Value = serde_json::from_str(block).unwrap_or_else(|e| panic!("{e}: {block}"));
        assert_eq!(policy["Statement"][0]["Action"], "sts:AssumeRoleWithWebIdentity");
    }
}
