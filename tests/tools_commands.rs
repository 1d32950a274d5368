//! `run_command`: exit codes, output cap, timeout kill, approval (allow once, allow always,
//! deny with a reason), the allow list and `--allow-commands`.
//!
//! Must not touch anything outside its temporary directories; commands are plain POSIX
//! shell utilities.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tools_support;

use std::time::Duration;

use serde_json::json;

use baton::protocol::{CommandDecision, SubtaskId};
use tools_support::{FakeHost, Fixture, run};

#[tokio::test]
async fn exit_code_and_output_are_returned() {
    let fx = Fixture::new();
    fx.write("sub/x.txt", "x\n");
    let ws = fx.open_with(|o| o.allow_commands = true);
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"command": "echo out; echo err >&2; exit 3"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert!(out.content.contains("exit code: 3"), "{}", out.content);
    assert!(
        out.content.contains("--- stdout (4 bytes) ---\nout\n"),
        "{}",
        out.content
    );
    assert!(
        out.content.contains("--- stderr (4 bytes) ---\nerr\n"),
        "{}",
        out.content
    );
    assert_eq!(
        out.summary,
        "run_command \"echo out; echo err >&2; exit 3\" → exit 3"
    );
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"argv": ["ls"], "cwd": "sub"}),
    )
    .await;
    assert!(out.content.contains("exit code: 0"), "{}", out.content);
    assert!(out.content.contains("x.txt"), "{}", out.content);
    assert!(out.content.contains("(in sub)"), "{}", out.content);
    tools_support::a_missing_program_cannot_start(&ws).await;
    let out = run(&ws, &host, 1, "run_command", json!({})).await;
    assert!(
        out.is_error && out.content.contains("give `argv`"),
        "{}",
        out.content
    );
    assert!(host.asked().is_empty());
}

/// Credentials a person's shell commonly holds, none of which may reach a command.
const SECRETS: &[(&str, &str)] = &[
    ("DATABASE_URL", "postgres://app:hunter2@db/app"),
    ("GITHUB_PAT", "ghp_sandboxtest"),
    ("HTTP_PROXY", "http://user:pw@proxy:3128"),
    ("NPM_CONFIG__AUTH", "bnBtOnNlY3JldA=="),
    ("SOME_SERVICE_API_KEY", "sk-sandboxtest"),
];

#[tokio::test]
async fn the_environment_is_an_allow_list() {
    // SAFETY: std serialises its own environment access; no test in this binary reads the
    // environment through libc directly, and every value set here is constant.
    unsafe {
        for (name, value) in SECRETS {
            std::env::set_var(name, value);
        }
        std::env::set_var("BATON_TEST_LISTED", "listed-value");
        std::env::set_var("LC_BATON_TEST", "C");
    }
    let fx = Fixture::new();
    let ws = fx.open_with(|o| {
        o.allow_commands = true;
        o.sandbox.command_env = vec!["BATON_TEST_LISTED".into(), "NOT_SET_ANYWHERE".into()];
    });
    let host = FakeHost::default();
    let out = run(&ws, &host, 1, "run_command", json!({"command": "env"})).await;
    assert!(out.content.contains("PATH="), "{}", out.content);
    assert!(out.content.contains("LC_BATON_TEST=C"), "{}", out.content);
    for (name, value) in SECRETS {
        assert!(!out.content.contains(name), "{name}: {}", out.content);
        assert!(!out.content.contains(value), "{name}: {}", out.content);
    }
    // Listed, but named like Baton's own variables: refused like credentials.
    assert!(!out.content.contains("listed-value"), "{}", out.content);
    let ws = fx.open_with(|o| {
        o.allow_commands = true;
        o.sandbox.command_env = vec!["LC_BATON_TEST".into(), "HOSTNAME_FOR_TEST".into()];
    });
    // SAFETY: as above.
    unsafe {
        std::env::set_var("HOSTNAME_FOR_TEST", "h1");
    }
    let out = run(&ws, &host, 1, "run_command", json!({"command": "env"})).await;
    assert!(
        out.content.contains("HOSTNAME_FOR_TEST=h1"),
        "{}",
        out.content
    );
    // TMPDIR is the command's own directory, removed afterwards.
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"command": "echo $TMPDIR"}),
    )
    .await;
    let tmp = out
        .content
        .lines()
        .find(|l| l.contains("baton-cmd-"))
        .unwrap();
    assert!(!std::path::Path::new(tmp.trim()).exists(), "{tmp}");
}

#[tokio::test]
async fn output_is_capped_with_head_and_tail() {
    let fx = Fixture::new();
    let ws = fx.open_with(|o| {
        o.allow_commands = true;
        o.output_cap = 2048;
    });
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"command": "i=1; while [ $i -le 5000 ]; do echo \"line $i\"; i=$((i+1)); done"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert!(out.content.contains("line 1\n"), "head kept");
    assert!(out.content.contains("line 5000\n"), "tail kept");
    assert!(
        out.content.contains("cut from the middle"),
        "{}",
        out.content
    );
    assert!(out.content.len() < 2048 + 400, "{}", out.content.len());
    assert!(out.content.contains("exit code: 0"));
}

#[tokio::test(start_paused = true)]
async fn a_command_that_runs_too_long_is_killed_and_reported() {
    let fx = Fixture::new();
    let ws = fx.open_with(|o| {
        o.allow_commands = true;
        o.command_timeout = Duration::from_secs(5);
    });
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"command": "sleep 600 & sleep 600"}),
    )
    .await;
    assert!(out.is_error, "{}", out.content);
    assert!(
        out.content.contains("timed out after 5 s"),
        "{}",
        out.content
    );
    assert!(out.summary.ends_with("→ timed out"), "{}", out.summary);
}

#[tokio::test]
async fn a_denied_command_is_a_tool_error_with_the_reason() {
    let fx = Fixture::new();
    let ws = fx.open();
    let host = FakeHost::answering(vec![CommandDecision::Deny {
        reason: "no network access please".into(),
    }]);
    let out = run(
        &ws,
        &host,
        4,
        "run_command",
        json!({"command": "touch made.txt", "cwd": "."}),
    )
    .await;
    assert!(out.is_error);
    assert!(
        out.content.contains("no network access please"),
        "{}",
        out.content
    );
    assert!(!fx.exists("made.txt"));
    assert_eq!(
        host.asked(),
        vec![(SubtaskId(4), "touch made.txt".to_string(), ".".to_string())]
    );
}

#[tokio::test]
async fn allow_once_asks_each_time_and_allow_always_is_remembered() {
    let fx = Fixture::new();
    let ws = fx.open();
    let host = FakeHost::answering(vec![
        CommandDecision::AllowOnce,
        CommandDecision::AllowAlways,
    ]);
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"argv": ["echo", "hi there"]}),
    )
    .await;
    assert!(out.content.contains("hi there"), "{}", out.content);
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"argv": ["echo", "hi there"]}),
    )
    .await;
    assert!(out.content.contains("hi there"), "{}", out.content);
    assert_eq!(ws.session_allow_list(), vec!["echo 'hi there'".to_string()]);
    // Third time: remembered, not asked (the script is empty and would deny).
    let out = run(
        &ws,
        &host,
        2,
        "run_command",
        json!({"command": "echo 'hi there'"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(host.asked().len(), 2);
    // A different command is asked about (and denied by the empty script).
    let out = run(
        &ws,
        &host,
        2,
        "run_command",
        json!({"command": "echo other"}),
    )
    .await;
    assert!(
        out.is_error && out.content.contains("no decision scripted"),
        "{}",
        out.content
    );
    assert_eq!(host.asked().len(), 3);
}

#[tokio::test]
async fn the_allow_list_allows_matching_commands_without_asking() {
    let fx = Fixture::new();
    let ws = fx.open_with(|o| o.allow = vec!["echo ok*".into(), "true".into()]);
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"command": "echo ok then"}),
    )
    .await;
    assert!(
        !out.is_error && out.content.contains("ok then"),
        "{}",
        out.content
    );
    let out = run(&ws, &host, 1, "run_command", json!({"argv": ["true"]})).await;
    assert!(!out.is_error, "{}", out.content);
    assert!(host.asked().is_empty());
    // A chained shell line is not covered by a prefix pattern.
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"command": "echo ok; touch pwned"}),
    )
    .await;
    assert!(out.is_error, "{}", out.content);
    assert!(!fx.exists("pwned"));
    // Nor is an exact pattern with extra arguments.
    let out = run(&ws, &host, 1, "run_command", json!({"command": "true --x"})).await;
    assert!(out.is_error, "{}", out.content);
    assert_eq!(host.asked().len(), 2);
}
