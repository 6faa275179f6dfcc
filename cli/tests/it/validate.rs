//! `wschat validate` as a user runs it: exit codes and file:line:column messages.

use crate::support::{project_with, root, run, wschat};

#[test]
fn the_shipped_stack_validates() {
    let (out, stderr) = run(wschat(&root()).arg("validate"));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("ok"), "{stderr}");
}

#[test]
fn bad_input_exits_2_with_file_line_column() {
    let cases = [
        (
            "name: wschat\nfunctions:\n  chat: { crate: lambdas/chat, memroy: 1 }\n",
            "stack.yaml:3:",
            "unknown field `memroy`",
        ),
        (
            "name: wschat\nfunctions:\n  chat: { crate: lambdas/chat, memory: 99999 }\n  notify: { crate: lambdas/notify, queue: notifications }\n",
            "stack.yaml:3:40: functions.chat.memory",
            "128..=10240",
        ),
        ("", "stack.yaml:1:1:", "the file is empty"),
        (
            "name: wschat\nfunctions:\n  chat: { crate: lambdas/chat }\n  notify: { crate: lambdas/notify, queue: notifications }\ndomain:\n  name: chat.example.com\n  websocket: chat.example.com\n",
            "stack.yaml:7:14: domain.websocket",
            "needs a name of its own",
        ),
        (
            "name: wschat\nfunctions:\n  chat: { crate: lambdas/chat }\n  notify: { crate: lambdas/notify, queue: notifications }\ndomain:\n  name: chat.example.com\n  zone: example.org\n",
            "stack.yaml:7:9: domain.zone",
            "not in zone",
        ),
        (
            "name: UPPER\nfunctions:\n  chat: { crate: lambdas/chat }\n  notify: { crate: lambdas/notify, queue: notifications }\n",
            "stack.yaml:1:7: name",
            "a-z",
        ),
    ];
    for (text, position, message) in cases {
        let dir = project_with(text);
        let (out, stderr) = run(wschat(dir.path()).arg("validate"));
        assert_eq!(out.status.code(), Some(2), "{text:?}: {stderr}");
        assert!(stderr.contains(position), "{text:?}: expected {position} in {stderr}");
        assert!(stderr.contains(message), "{text:?}: expected {message} in {stderr}");
    }
}

#[test]
fn a_missing_stack_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let (out, stderr) = run(wschat(dir.path()).args(["validate", "-f", "nope.yaml"]));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nope.yaml"), "{stderr}");
}

#[test]
fn a_bad_stage_exits_2() {
    let (out, stderr) = run(wschat(&root()).args(["validate", "--stage", "Prod"]));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--stage"), "{stderr}");
}
