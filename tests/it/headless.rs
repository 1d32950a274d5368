//! Headless runs of the real binary on the demo provider, end to end: the deliverable on
//! stdout, `--json` lines that are the journal's envelopes, exit 3 when a person is needed
//! (`--approve scope`; a plain demo run completes because the orchestrator is told no person
//! is available),
//! Ctrl-C, resume, and the key never reaching the journal, the log or the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufReader;
use std::path::Path;
use std::process::Stdio;

use baton::journal;
use baton::protocol::{Envelope, Event, RunOutcome};
use cli::{TASK, baton, kill, text, wait_for};

use crate::support_cli as cli;

fn only_run_id(home: &Path) -> String {
    let runs = journal::list_runs(&home.join("data")).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].id.clone()
}

#[test]
fn a_plain_demo_run_completes_without_a_person() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", TASK])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    // The demo's story has a blocked worker. With nobody to ask (headless), the
    // orchestrator is told no person is available and settles it with a retry.
    assert_eq!(o.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains("demo"), "says it runs on demo: {stderr}");
    for progress in [
        "analysis:",
        "started [",
        "replan 1",
        "blocked",
        "recovery of",
        "No person is available",
        "synthesis written",
        "baton: complete.",
    ] {
        assert!(stderr.contains(progress), "no `{progress}` line:\n{stderr}");
    }
    assert!(!stderr.contains("escalated"), "{stderr}");
    assert!(
        stdout.starts_with('#'),
        "the deliverable on stdout: {stdout}"
    );
    let id = only_run_id(home.path());
    let o = baton(home.path()).arg("runs").output().unwrap();
    let (table, _) = text(&o);
    assert!(
        table.contains(&id) && table.contains("completed"),
        "{table}"
    );
}

#[test]
fn with_approve_scope_a_demo_run_stops_for_a_person_and_says_how_to_continue() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", "--approve", "scope", TASK])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    // Discovered subtasks wait for a person under `scope`: the headless run stops there.
    assert_eq!(o.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stdout.is_empty(), "no deliverable yet: {stdout}");
    for progress in ["analysis:", "started [", "complete"] {
        assert!(stderr.contains(progress), "no `{progress}` line:\n{stderr}");
    }
    let id = only_run_id(home.path());
    assert!(stderr.contains("needs a person"), "{stderr}");
    assert!(stderr.contains("awaits approval"), "{stderr}");
    assert!(stderr.contains(&format!("baton resume {id}")), "{stderr}");

    let o = baton(home.path()).arg("runs").output().unwrap();
    let (table, _) = text(&o);
    assert!(table.contains(&id) && table.contains("stopped"), "{table}");
}

/// Plays the person in the TUI's place: resumes the run in-process and answers every
/// escalation with guidance until the run ends. Returns the deliverable.
async fn finish_as_a_person(home: &Path) -> String {
    use baton::cli::CommonArgs;
    use baton::config::{Config, Env};
    use baton::protocol::{Command as EngineCommand, Resolution};
    use baton::session::{self, FrontEnd, Launch};
    use baton::state::NeedsPerson;

    let env = Env::from_pairs([("BATON_HOME", home.display().to_string())]);
    let config = Config::load_with(&CommonArgs::default(), &env).unwrap();
    let mut s = session::start(
        &config,
        Launch::Resume {
            run: "latest".into(),
        },
        FrontEnd::Tui,
    )
    .unwrap();
    let mut state = baton::state::State::default();
    let mut answered = Vec::new();
    let run = async {
        while let Some(e) = s.handle.events.recv().await {
            baton::state::apply(&mut state, &e);
            if e.seq <= s.replayed_up_to {
                continue;
            }
            for need in state.needs_person() {
                if let NeedsPerson::Approval(id) = need {
                    s.handle
                        .commands
                        .send(EngineCommand::Approve { id })
                        .await
                        .unwrap();
                }
                if let NeedsPerson::Escalation(id) = need
                    && !answered.contains(&(id, state.subtask(id).map(|t| t.attempts)))
                {
                    answered.push((id, state.subtask(id).map(|t| t.attempts)));
                    s.handle
                        .commands
                        .send(EngineCommand::Resolve {
                            id,
                            resolution: Resolution::Retry {
                                guidance: "Records expire after 30 days.".into(),
                            },
                        })
                        .await
                        .unwrap();
                }
            }
            if let Event::RunFinished { outcome } = &e.event {
                assert_eq!(outcome, &RunOutcome::Completed, "{:?}", state.notices);
                break;
            }
        }
    };
    // A safety net against a hung engine, not a wait for something.
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the run finishes");
    assert!(!answered.is_empty(), "the demo escalates once");
    state.synthesis.expect("a synthesis").deliverable
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_resumed_by_a_person_completes_and_headless_prints_it() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", "--approve", "scope", TASK])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let id = only_run_id(home.path());

    let deliverable = finish_as_a_person(home.path()).await;
    assert!(!deliverable.trim().is_empty());

    // Resuming a completed run headless prints its deliverable, exactly, and exits 0.
    let o = baton(home.path())
        .args(["resume", "--headless"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.trim(), deliverable.trim());
    assert!(stderr.contains("baton: complete."), "{stderr}");
    let o = baton(home.path()).arg("runs").output().unwrap();
    assert!(text(&o).0.contains("completed"));

    // Export of the finished run, both formats.
    let o = baton(home.path()).args(["export", &id]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (md, _) = text(&o);
    assert!(md.contains("**Status:** complete"), "{md}");
    assert!(md.contains(deliverable.lines().next().unwrap().trim()));
    assert!(
        md.contains("## Execution summary") && md.contains("| #1 |"),
        "{md}"
    );
    assert!(md.contains("### Cycle 1"), "{md}");
    let o = baton(home.path())
        .args(["export", "latest", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["run_id"], id.as_str());
    assert_eq!(v["status"], "complete");
    assert!(v["summary"]["subtasks_total"].as_u64().unwrap() >= 6);
    assert_eq!(
        v["deliverable"].as_str().unwrap().trim(),
        deliverable.trim()
    );
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
    assert!(
        stderr.contains("analysis:"),
        "progress still goes to stderr"
    );
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
fn approve_all_stops_for_a_person_with_exit_3_and_resume_keeps_the_policy() {
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
    let key = "fake-headless-secret-123456";
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args([
            "--headless",
            "--json",
            "--provider",
            "demo",
            "--log-level",
            "trace",
            TASK,
        ])
        .env("ANTHROPIC_API_KEY", key)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (stdout, stderr) = text(&o);
    assert!(!stdout.contains(key) && !stderr.contains(key));
    let data = home.path().join("data");
    let id = only_run_id(home.path());
    let journal_text = std::fs::read_to_string(
        journal::runs_dir(&data)
            .join(&id)
            .join(journal::JOURNAL_FILE),
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
    let seen = wait_for(&mut stderr, "started:");
    kill(&child, "-INT");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(3), "{seen}{rest}");
    let id = only_run_id(home.path());
    assert!(rest.contains(&format!("baton resume {id}")), "{rest}");
}

#[test]
fn workers_use_the_workspace_and_read_only_keeps_it_unchanged() {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir(ws.path().join("src")).unwrap();
    std::fs::write(ws.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(ws.path().join("README.md"), "# project\n").unwrap();
    let o = baton(home.path())
        .args(["--headless", "--read-only", "--workspace"])
        .arg(ws.path())
        .arg(TASK)
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let id = only_run_id(home.path());
    let journal_text = std::fs::read_to_string(
        journal::runs_dir(&home.path().join("data"))
            .join(&id)
            .join(journal::JOURNAL_FILE),
    )
    .unwrap();
    assert!(journal_text.contains("\"type\":\"worker_tool_used\""));
    assert!(!journal_text.contains("\"type\":\"file_changed\""));
    assert_eq!(
        std::fs::read_to_string(ws.path().join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert!(!ws.path().join("docs").exists(), "nothing written");

    let o = baton(home.path())
        .args(["--headless", "--workspace", "/no/such/dir", TASK])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("/no/such/dir"));
}

#[test]
fn configuration_mistakes_stop_before_a_run_is_created() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[roles_models]\nsecurity_guru = \"m\"\n",
    )
    .unwrap();
    let o = baton(home.path())
        .args(["--headless", TASK])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let (_, stderr) = text(&o);
    assert!(
        stderr.contains("security_guru") && stderr.contains("code_developer"),
        "{stderr}"
    );

    std::fs::write(home.path().join("config.toml"), "[demo]\npace_ms = 0\n").unwrap();
    let o = baton(home.path())
        .args(["--headless", "--provider", "anthropic", TASK])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("ANTHROPIC_API_KEY"));
    assert!(
        journal::list_runs(&home.path().join("data"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_run_a_limit_stopped_early_says_so_last_and_exits_3() {
    // Issue 12: the subtask limit held work back, so the run is not "complete": the
    // deliverable of what was done, then the reason as the last line, exit 3.
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args([
            "--headless",
            "--approve",
            "auto",
            "--max-subtasks",
            "1",
            TASK,
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "stderr:\n{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("baton: stopped at the subtask limit: ") && last.ends_with(" not run"),
        "{stderr}"
    );
    assert!(!stderr.contains("baton: complete."), "{stderr}");
    assert!(stdout.starts_with('#'), "what was done: {stdout}");
}
