//! The command line as a user meets it: help, parsing, and usage errors (exit code 2),
//! always running the real binary with a private BATON_HOME and no API keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use crate::support_cli as bin;

fn baton(home: &Path) -> Command {
    bin::baton_bare(home)
}

fn run(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    baton(home.path()).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_usage_error(args: &[&str], expect: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(expect),
        "{args:?}: expected `{expect}` in:\n{err}"
    );
    assert!(
        out.stdout.is_empty(),
        "usage errors print nothing on stdout"
    );
}

#[test]
fn help_teaches_commands_flags_examples_and_exit_codes() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "resume",
        "runs",
        "export",
        "doctor",
        "config",
        "--headless",
        "--json",
        "--provider",
        "--model",
        "--worker-model",
        "--base-url",
        "--max-workers",
        "--workspace",
        "--read-only",
        "--allow-commands",
        "--approve",
        "--budget-usd",
        "--max-subtasks",
        "--max-cycles",
        "--evaluate",
        "--task-file",
        "--config",
        "--log-level",
        "Examples:",
        "Exit codes",
        "ANTHROPIC_API_KEY",
        "OPENAI_BASE_URL",
        "BATON_HOME",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    let out = run(&["export", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--format") && help.contains("-o, --output"));
}

#[test]
fn version_prints() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("baton "));
}

#[test]
fn out_of_range_and_malformed_values_are_usage_errors() {
    assert_usage_error(&["--max-workers", "0", "config"], "--max-workers");
    assert_usage_error(&["--max-workers", "65", "config"], "1..=64");
    assert_usage_error(&["--budget-usd", "0", "config"], "more than 0");
    assert_usage_error(&["--budget-usd", "lots", "config"], "US dollars");
    assert_usage_error(&["--approve", "never", "config"], "--approve");
    assert_usage_error(&["--provider", "gemini", "config"], "anthropic");
    assert_usage_error(&["--base-url", "localhost:1234", "config"], "http(s) URL");
    assert_usage_error(&["export"], "RUN");
    assert_usage_error(&["export", "latest", "--format", "pdf"], "--format");
    assert_usage_error(&["runs", "extra"], "extra");
}

#[test]
fn task_sources_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let task = dir.path().join("task.md");
    std::fs::write(&task, "Write a haiku\n").unwrap();
    let task = task.to_str().unwrap();
    assert_usage_error(
        &["--task-file", "/no/such/task.md"],
        "cannot read the task file",
    );
    assert_usage_error(&["--task-file", task, "also", "words"], "not both");
    assert_usage_error(&["--headless"], "needs a task");
    assert_usage_error(&["--headless", "   "], "needs a task");
    let empty = dir.path().join("empty.md");
    std::fs::write(&empty, "\n  \n").unwrap();
    assert_usage_error(
        &["--headless", "--task-file", empty.to_str().unwrap()],
        "needs a task",
    );
    assert_usage_error(&["runs", "--task-file", task], "--task-file");
}

#[test]
fn front_end_flags_only_fit_runs() {
    assert_usage_error(&["--json", "a task"], "add --headless");
    assert_usage_error(&["runs", "--headless"], "--headless");
    assert_usage_error(&["config", "--headless", "--json"], "--headless");
}

#[test]
fn common_flags_are_accepted_after_subcommands() {
    let out = run(&[
        "config",
        "--provider",
        "openai",
        "--base-url",
        "http://127.0.0.1:1/v1/",
        "--model",
        "m1",
        "--worker-model",
        "m2",
        "--max-workers",
        "64",
        "--approve",
        "all",
        "--budget-usd",
        "1.5",
        "--max-subtasks",
        "10",
        "--max-cycles",
        "0",
        "--evaluate",
        "--workspace",
        ".",
        "--read-only",
        "--allow-commands",
        "--log-level",
        "debug",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    for (key, value) in [
        ("provider", "openai"),
        ("base_url", "http://127.0.0.1:1/v1"),
        ("model", "m1"),
        ("worker_model", "m2"),
        ("max_workers", "64"),
        ("approve", "all"),
        ("budget_usd", "1.50"),
        ("max_subtasks", "10"),
        ("max_cycles", "unlimited"),
        ("evaluate", "true"),
        ("read_only", "true"),
        ("allow_commands", "true"),
        ("log_level", "warn,baton=debug"),
    ] {
        let line = report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap();
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], value, "{line}");
        assert!(line.contains("flag --"), "{line}");
    }
}

#[test]
fn the_tui_without_a_terminal_is_a_usage_error_and_creates_no_run() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path()).args(["write a haiku"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--headless"), "{}", stderr(&out));
    assert!(
        !home.path().join("data/runs").exists(),
        "no run was created"
    );
}
