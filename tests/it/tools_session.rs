//! `--workspace` wiring in the real binary (headless, demo provider): a missing workspace is
//! a usage error before any run directory is made; a valid one is journaled as an absolute
//! path with the read-only and allow-commands settings.
//!
//! Runs the binary with a private BATON_HOME; no network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use baton::journal;
use baton::protocol::{Envelope, Event};

fn baton(home: &Path) -> Command {
    let config = home.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "[demo]\npace_ms = 0\n").unwrap();
    }
    let mut c = Command::new(crate::support_cli::bin());
    c.env("BATON_HOME", home);
    for var in baton::config::ENV_VARS
        .iter()
        .filter(|v| **v != "BATON_HOME")
    {
        c.env_remove(var);
    }
    c
}

#[test]
fn a_missing_workspace_is_a_usage_error_and_makes_no_run() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("no-such-project");
    let o = baton(home.path())
        .args(["--headless", "--workspace"])
        .arg(&missing)
        .arg("Fix the TODOs")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot be opened"), "{stderr}");
    assert!(stderr.contains("--workspace"), "{stderr}");
    let runs = journal::list_runs(&home.path().join("data")).unwrap_or_default();
    assert!(runs.is_empty(), "{runs:?}");
}

#[test]
fn the_workspace_is_journaled_as_an_absolute_path() {
    let home = tempfile::tempdir().unwrap();
    // The project lies outside BATON_HOME: a workspace inside Baton's files is refused.
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("src/main.py"), "print('hi')\n").unwrap();
    let o = baton(home.path())
        .current_dir(work.path())
        .args([
            "--headless",
            "--json",
            "--workspace",
            "project",
            "--read-only",
            "Review the code",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let first: Envelope = serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}\nstdout: {stdout}\nstderr: {stderr}"));
    let Event::RunStarted { settings, .. } = first.event else {
        panic!("first event is not RunStarted: {first:?}");
    };
    let canonical = project.canonicalize().unwrap();
    assert_eq!(
        settings.workspace.as_deref(),
        Some(canonical.to_str().unwrap())
    );
    assert!(settings.read_only);
    assert!(!settings.allow_commands);
    // Read-only: nothing in the project changed, no backups were taken.
    assert_eq!(
        std::fs::read_to_string(project.join("src/main.py")).unwrap(),
        "print('hi')\n"
    );
}
