//! Headless runs of the real binary on the demo provider, end to end: the deliverable on
//! stdout, `--json` lines that are the journal's envelopes, exit 3 when a person is needed,
//! Ctrl-C, resume, and the key never reaching the journal, the log or the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use baton::engine::event::{Envelope, Event, RunOutcome};
use baton::journal;

/// The binary with a private BATON_HOME whose config makes the demo instant.
fn baton(home: &Path) -> Command {
    let config = home.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "[demo]\npace_ms = 0\n").unwrap();
    }
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    c.env("BATON_HOME", home);
    for var in baton::config::ENV_VARS.iter().filter(|v| **v != "BATON_HOME") {
        c.env_remove(var);
    }
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn only_run_id(home: &Path) -> String {
    let runs = journal::list_runs(&home.join("data")).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].id.clone()
}

const TASK: &str = "Add rate limiting to the public API";

#[test]
fn a_demo_run_completes_with_the_deliverable_on_stdout() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", TASK])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(!stdout.trim().is_empty(), "the deliverable is on stdout");
    assert!(stderr.contains("demo"), "says it runs on demo: {stderr}");
    assert!(stderr.contains("analysis:"), "{stderr}");
    assert!(stderr.contains("started"), "{stderr}");
    assert!(stderr.contains("replan"), "{stderr}");
    assert!(stderr.contains("baton: complete."), "{stderr}");
    // stdout holds the deliverable only, no progress lines.
    assert!(!stdout.contains("analysis:"));

    // The journal says the same thing, and `baton runs` lists it.
    let id = only_run_id(home.path());
    let replay = journal::replay(
        &journal::runs_dir(&home.path().join("data"))
            .join(&id)
            .join(journal::JOURNAL_FILE),
    )
    .unwrap();
    let state = baton::engine::State::fold(&replay.events);
    assert_eq!(state.outcome, Some(RunOutcome::Completed));
    assert_eq!(
        stdout.trim(),
        state.synthesis.unwrap().deliverable.trim(),
        "stdout is exactly the deliverable"
    );
    let o = baton(home.path()).arg("runs").output().unwrap();
    let (table, _) = text(&o);
    assert!(table.contains(&id) && table.contains("completed"), "{table}");

    // Export of the finished run, both formats.
    let o = baton(home.path()).args(["export", &id]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (md, _) = text(&o);
    assert!(md.contains("## Execution summary") && md.contains("| #1 |"), "{md}");
    let o = baton(home.path())
        .args(["export", "latest", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["run_id"], id.as_str());
    assert!(v["summary"]["subtasks_total"].as_u64().unwrap() >= 2);
}

#[test]
fn json_mode_writes_only_envelopes_on_stdout() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", "--json", TASK])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let envelopes: Vec<Envelope> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(matches!(envelopes[0].event, Event::RunStarted { .. }));
    assert!(matches!(
        envelopes.last().unwrap().event,
        Event::RunFinished {
            outcome: RunOutcome::Completed
        }
    ));
    for (i, e) in envelopes.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "every event, in order");
    }
    // Exactly the journal's lines.
    let id = only_run_id(home.path());
    let journal_text = std::fs::read_to_string(
        journal::runs_dir(&home.path().join("data"))
            .join(&id)
            .join(journal::JOURNAL_FILE),
    )
    .unwrap();
    let from_journal: Vec<Envelope> = journal_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(envelopes, from_journal);
}

#[test]
fn approve_all_stops_for_a_person_with_exit_3_and_resume_continues() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", "--approve", "all", TASK])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stdout.is_empty(), "no deliverable: {stdout}");
    let id = only_run_id(home.path());
    assert!(stderr.contains("awaits approval"), "{stderr}");
    assert!(stderr.contains(&format!("baton resume {id}")), "{stderr}");
    let o = baton(home.path()).arg("runs").output().unwrap();
    assert!(text(&o).0.contains("stopped"));

    // Resuming headless keeps the run's policy: it stops again for the same reason.
    let o = baton(home.path())
        .args(["resume", "latest", "--headless"])
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("awaits approval"), "{stderr}");
}

#[test]
fn resuming_a_completed_run_prints_its_deliverable() {
    let home = tempfile::tempdir().unwrap();
    let first = baton(home.path())
        .args(["--headless", TASK])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0));
    let o = baton(home.path())
        .args(["resume", "--headless"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.trim(), text(&first).0.trim());
}

#[test]
fn resume_of_an_unknown_run_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["resume", "nope", "--headless"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no runs yet"));
}

#[test]
fn the_key_never_reaches_journal_log_or_output() {
    let key = "sk-ant-headless-secret-123456";
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", "--json", "--provider", "demo", "--log-level", "trace", TASK])
        .env("ANTHROPIC_API_KEY", key)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (stdout, stderr) = text(&o);
    assert!(!stdout.contains(key) && !stderr.contains(key));
    let data = home.path().join("data");
    let id = only_run_id(home.path());
    let journal_text = std::fs::read_to_string(
        journal::runs_dir(&data).join(&id).join(journal::JOURNAL_FILE),
    )
    .unwrap();
    assert!(!journal_text.contains(key));
    let log = std::fs::read_to_string(data.join("logs/baton.log")).unwrap();
    assert!(!log.is_empty());
    assert!(!log.contains(key));
}

/// Ctrl-C (SIGINT) stops the run gracefully: exit 3 and how to resume.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_run_resumably() {
    let home = tempfile::tempdir().unwrap();
    // A slow demo, so the run is still going when the signal arrives.
    std::fs::write(home.path().join("config.toml"), "[demo]\npace_ms = 40\n").unwrap();
    let mut child = baton(home.path())
        .args(["--headless", TASK])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // Wait for the run to be under way (a progress line), not for a time.
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
        if line.contains("started:") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(3), "{seen}{rest}");
    let id = only_run_id(home.path());
    assert!(rest.contains(&format!("baton resume {id}")), "{rest}");
}
