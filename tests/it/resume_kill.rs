//! Kill -9 in the middle of a headless demo run, resume it, and finish it: no completed
//! subtask runs twice and the run completes. Uses the real binary and the demo provider.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use baton::journal;
use baton::protocol::{Envelope, Event, RunOutcome, SubtaskId};

use crate::support_cli as bin;

fn baton(home: &Path) -> Command {
    bin::baton_bare(home)
}

const TASK: &str = "Add rate limiting to the public API";

/// Resumes the latest run in-process as a person would in the TUI, answering escalations
/// with guidance, until it finishes; returns the outcome.
async fn finish_as_a_person(home: &Path) -> RunOutcome {
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
                if let NeedsPerson::Escalation(id) = need {
                    let key = (id, state.subtask(id).map(|t| t.attempts));
                    if !answered.contains(&key) {
                        answered.push(key);
                        let resolution = Resolution::Retry {
                            guidance: "Records expire after 30 days.".into(),
                        };
                        s.handle
                            .commands
                            .send(EngineCommand::Resolve { id, resolution })
                            .await
                            .unwrap();
                    }
                }
            }
            if let Event::RunFinished { outcome } = &e.event {
                return outcome.clone();
            }
        }
        panic!("the engine ended without RunFinished");
    };
    // A safety net against a hung engine, not a wait for something.
    tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("the run finishes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_resume_loses_nothing_and_reruns_nothing() {
    let home = tempfile::tempdir().unwrap();
    // A slow demo so the run is mid-way when it is killed.
    std::fs::write(home.path().join("config.toml"), "[demo]\npace_ms = 15\n").unwrap();
    let mut child = baton(home.path())
        .args(["--headless", "--approve", "auto", TASK])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // Wait (on its progress output, not a timer) until two subtasks have reported.
    let mut seen = String::new();
    let mut reported = 0;
    while reported < 2 {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "ended early:\n{seen}"
        );
        if line.contains("= #") && line.contains(" complete") {
            reported += 1;
        }
        seen.push_str(&line);
    }
    let status = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap();

    let runs = journal::list_runs(&home.path().join("data")).unwrap();
    assert_eq!(runs.len(), 1);
    let path = runs[0].dir.join(journal::JOURNAL_FILE);
    let before = journal::replay(&path).unwrap();
    assert!(before.corrupt_lines.is_empty());
    let done_before: Vec<SubtaskId> = baton::state::State::fold(&before.events)
        .subtasks
        .iter()
        .filter(|s| s.status.satisfies_dependency())
        .map(|s| s.id)
        .collect();
    assert!(done_before.len() >= 2, "{seen}");
    assert!(
        before
            .events
            .iter()
            .all(|e| !matches!(e.event, Event::RunFinished { .. }))
    );

    // The rest may go fast.
    std::fs::write(home.path().join("config.toml"), "[demo]\npace_ms = 0\n").unwrap();
    // Resume headless: it continues to the end (no person is available, so the demo's
    // orchestrator settles its blocked subtask itself).
    let o = baton(home.path())
        .args(["resume", "latest", "--headless", "--approve", "auto"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // Opening it again as a person finds it complete.
    let outcome = finish_as_a_person(home.path()).await;
    assert_eq!(outcome, RunOutcome::Completed);

    let after = journal::replay(&path).unwrap();
    assert!(after.corrupt_lines.is_empty());
    let resumed_at = after
        .events
        .iter()
        .find(|e| matches!(e.event, Event::RunResumed { .. }))
        .unwrap()
        .seq;
    let restarted: Vec<&Envelope> = after
        .events
        .iter()
        .filter(|e| e.seq > resumed_at)
        .filter(
            |e| matches!(&e.event, Event::SubtaskStarted { id, .. } if done_before.contains(id)),
        )
        .collect();
    assert!(
        restarted.is_empty(),
        "completed subtasks ran again: {restarted:?}"
    );
    let state = baton::state::State::fold(&after.events);
    assert_eq!(state.outcome, Some(RunOutcome::Completed));
    assert!(state.synthesis.is_some());
    // Every result that was durable before the kill is still there, unchanged.
    let old = baton::state::State::fold(&before.events);
    for id in done_before {
        assert_eq!(
            state.subtask(id).unwrap().output,
            old.subtask(id).unwrap().output
        );
    }
}
