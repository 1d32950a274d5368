//! Signals and a hostile environment on the real binary: headless SIGTERM/SIGHUP stop the
//! run like Ctrl-C (journaled `stopped` naming the signal, the resume hint, exit 3); closed
//! stdout/stderr pipes (`2>&1 | head`) never panic and the run goes on to its journaled end;
//! logging that cannot open is a warning, not an error.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support_cli as cli;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use baton::journal::{self, JOURNAL_FILE};
use baton::protocol::{Event, RunOutcome};
use cli::*;

fn last_outcome(home: &Path) -> RunOutcome {
    let replay = journal::replay(&only_run_dir(home).join(JOURNAL_FILE)).unwrap();
    match &replay.events.last().unwrap().event {
        Event::RunFinished { outcome } => outcome.clone(),
        other => panic!("the journal ends with {other:?}"),
    }
}

fn stops_like_ctrl_c(signal: &str, name: &str) {
    let home = tempfile::tempdir().unwrap();
    let mut child = baton_paced(home.path(), 40)
        .args(["--headless", TASK])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let seen = wait_for(&mut stderr, "started:");
    kill(&child, signal);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(3), "{seen}{rest}");
    let id = only_run_dir(home.path())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(rest.contains(&format!("baton resume {id}")), "{rest}");
    match last_outcome(home.path()) {
        RunOutcome::Stopped { reason } => {
            assert!(reason.contains(name), "{reason}");
            assert!(!reason.contains("person"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sigterm_stops_a_headless_run_resumably() {
    stops_like_ctrl_c("-TERM", "SIGTERM");
}

#[test]
fn sighup_stops_a_headless_run_resumably() {
    stops_like_ctrl_c("-HUP", "SIGHUP");
}

/// `baton --headless TASK 2>&1 | head -1`: the reader goes away after one line.
fn survives_closed_pipes(json: bool) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = baton_paced(home.path(), 5);
    cmd.arg("--headless");
    if json {
        cmd.arg("--json");
    }
    let mut child = cmd
        .arg(TASK)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    drop(stderr);
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(last_outcome(home.path()), RunOutcome::Completed);
}

#[test]
fn closed_stderr_and_stdout_never_panic_and_the_run_finishes() {
    survives_closed_pipes(false);
}

#[test]
fn closed_stdout_in_json_mode_never_stops_the_run() {
    survives_closed_pipes(true);
}

#[test]
fn a_log_file_that_cannot_open_is_a_warning_not_an_error() {
    let home = tempfile::tempdir().unwrap();
    completed_demo_run(home.path());
    // The log directory cannot be created (a file is in its place), as on a read-only
    // data directory; the tests run as root, which ignores file modes.
    let logs = data_dir(home.path()).join("logs");
    std::fs::remove_dir_all(&logs).unwrap();
    std::fs::write(&logs, "not a directory").unwrap();
    for args in [&["runs"][..], &["export", "latest"], &["config"]] {
        let o = baton(home.path()).args(args).output().unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!out.is_empty(), "{args:?}");
        assert!(err.contains("warning") && err.contains("log"), "{err}");
        // With logging off it does not even try.
        let o = baton(home.path())
            .args(["--log-level", "off"])
            .args(args)
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}
