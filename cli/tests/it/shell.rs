//! `wschat completions` and `wschat man`: generated from the same command
//! definition as `--help`; the bash script is loaded into a real bash and
//! asked to complete.

use crate::support::{root, run, wschat};

const SUBCOMMANDS: &[&str] = &[
    "validate",
    "build",
    "plan",
    "deploy",
    "status",
    "logs",
    "destroy",
    "cost",
    "policy",
    "dev",
    "completions",
    "man",
];

fn stdout_of(args: &[&str]) -> String {
    let (out, stderr) = run(wschat(&root()).args(args));
    assert!(out.status.success(), "wschat {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn each_shell_gets_a_script_that_knows_every_subcommand() {
    for (shell, marker) in [
        ("bash", "complete -F _wschat"),
        ("zsh", "#compdef wschat"),
        ("fish", "complete -c wschat"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell}: no `{sub}`");
        }
        assert!(script.contains("endpoint-url"), "{shell}: the global flags are completed too");
    }
    let (out, stderr) = run(wschat(&root()).args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
    assert!(stderr.contains("bash") && stderr.contains("powershell"), "it names the shells: {stderr}");
}

#[test]
fn bash_completes_subcommands_and_their_flags() {
    let script = stdout_of(&["completions", "bash"]);
    let complete = |words: &str| {
        let program = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _wschat wschat \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = std::process::Command::new("bash").arg("-c").arg(program).output().expect("running bash");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect::<Vec<_>>()
    };
    let mut de = complete("wschat de");
    de.sort();
    assert_eq!(de, ["deploy", "destroy", "dev"]);
    let flags = complete("wschat deploy --no");
    assert_eq!(flags, ["--no-build"]);
    let shells = complete("wschat completions p");
    assert_eq!(shells, ["powershell"]);
}

#[test]
fn man_prints_wschat_1_and_writes_a_page_per_subcommand() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH wschat 1"), "a section 1 page");
    for sub in SUBCOMMANDS {
        // The SUBCOMMANDS section points at each one's page.
        assert!(page.contains(&format!("wschat\\-{sub}(1)")), "no `{sub}` in wschat.1");
    }

    let dir = tempfile::tempdir().unwrap();
    let (out, stderr) = run(wschat(&root()).args(["man", "--dir"]).arg(dir.path()));
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "the pages go to files, the list to stderr");
    let mut files: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    let mut expected: Vec<String> = SUBCOMMANDS.iter().map(|s| format!("wschat-{s}.1")).collect();
    expected.push("wschat.1".into());
    expected.sort();
    assert_eq!(files, expected);
    let deploy = std::fs::read_to_string(dir.path().join("wschat-deploy.1")).unwrap();
    assert!(deploy.contains(".TH wschat-deploy 1"), "{deploy}");
    assert!(deploy.contains("no\\-build"), "its flags are on its page: {deploy}");
}

/// `wschat --help` opens with what wschat is, not with the doc comment of a
/// struct its flags are flattened from (AwsTarget's said "Where to send AWS
/// calls and as whom"), and lists every subcommand.
#[test]
fn help_says_what_wschat_is_and_lists_every_subcommand() {
    for flag in ["--help", "-h"] {
        let help = stdout_of(&[flag]);
        assert!(help.starts_with("Provision a serverless WebSocket chat on AWS"), "{help}");
        assert!(!help.contains("as whom"), "{help}");
        for sub in SUBCOMMANDS {
            assert!(help.contains(&format!("\n  {sub} ")), "no `{sub}` in --help: {help}");
        }
    }
}
