//! `--approve plan` end to end on the demo: the headless run stops with exit 3 for the
//! replan to approve (naming it), then `baton resume` in the TUI shows the diff, and the
//! person approves it through the TUI App (a `TestBackend`), until the run completes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use baton::protocol::{Command, Event, Resolution, RunOutcome};
use baton::tui::app::{Msg, NeedKey};
use baton::tui::update;

use crate::support_cli::{TASK, baton, resume_latest, text};
use crate::tui_support::{ch, later, new_ui, render, sent};

/// Resumes the latest run in-process, feeds its events to a TUI `Ui` and plays the person:
/// every plan diff is confirmed in its dialog (the keys `j`, space, `c`), escalations are
/// retried. Returns how many diffs were confirmed through the dialog.
async fn approve_in_the_tui(home: &Path) -> usize {
    let mut s = resume_latest(home);
    let mut ui = new_ui();
    let mut confirmed = 0;
    let mut answered = Vec::new();
    let run = async {
        while let Some(e) = s.handle.events.recv().await {
            // The replayed journal ends with the headless stop: the person acts on the live run.
            let live = e.seq > s.replayed_up_to;
            let finished = live && matches!(&e.event, Event::RunFinished { .. });
            let mut commands = sent(update(&mut ui, Msg::Event(Box::new(e))));
            if !live {
                continue;
            }
            later(&mut ui, 10);
            match ui.modal.as_ref().and_then(|m| m.need()) {
                Some(NeedKey::PlanDiff(p)) => {
                    // A dialog that opened by itself takes keys after its grace.
                    later(&mut ui, 1);
                    let screen = render(&mut ui, 80, 24);
                    assert!(screen.contains("Plan diff"), "{screen}");
                    assert!(screen.contains("[x]"), "{screen}");
                    commands.extend(sent(ch(&mut ui, 'c')));
                    assert!(
                        matches!(commands.last(), Some(Command::DecidePlanDiff { proposal, .. }) if *proposal == p)
                    );
                    confirmed += 1;
                }
                Some(NeedKey::Escalation(id, attempt)) if !answered.contains(&(id, attempt)) => {
                    answered.push((id, attempt));
                    commands.push(Command::Resolve {
                        id,
                        resolution: Resolution::Retry {
                            guidance: "Records expire after 30 days.".into(),
                        },
                    });
                }
                _ => {}
            }
            for c in commands {
                s.handle.commands.send(c).await.unwrap();
            }
            if finished {
                break;
            }
        }
    };
    // A safety net against a hung engine, not a wait for something.
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the run finishes");
    assert_eq!(
        ui.state.outcome,
        Some(RunOutcome::Completed),
        "{:?}",
        ui.state.notices
    );
    confirmed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_plan_stops_with_exit_3_and_the_tui_resumes_it_to_the_end() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", "--approve", "plan", "--json", TASK])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "stderr:\n{stderr}");
    assert!(stderr.contains("needs a person"), "{stderr}");
    assert!(
        stderr.contains("- a replan to approve (replan 1"),
        "{stderr}"
    );
    // The demo's replan adds, edits and drops.
    assert!(
        stderr.contains("~ #6 Write the user documentation: priority normal -> low"),
        "{stderr}"
    );
    assert!(stderr.contains("- #7 Write a migration guide"), "{stderr}");
    assert!(stderr.contains("baton resume"), "{stderr}");
    // `--json` carries the proposal, rows and all.
    let proposal = stdout
        .lines()
        .find(|l| l.contains("\"type\":\"plan_diff_proposed\""))
        .expect("a plan_diff_proposed line");
    let v: serde_json::Value = serde_json::from_str(proposal).unwrap();
    assert_eq!(v["proposal"], 1);
    assert!(!v["changes"].as_array().unwrap().is_empty());
    assert_eq!(v["source"]["kind"], "replan");

    let confirmed = approve_in_the_tui(home.path()).await;
    assert!(confirmed >= 1, "the diff was confirmed in the dialog");
}

#[test]
fn evaluate_rounds_is_a_checked_flag_and_config_key() {
    use baton::config::validate_file_text;

    let home = tempfile::tempdir().unwrap();
    // Out of range or not a number: a usage error before a run is created.
    for bad in ["11", "-1", "many", "4294967296"] {
        let o = baton(home.path())
            .args(["--headless", "--evaluate", "--evaluate-rounds", bad, TASK])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--evaluate-rounds {bad}");
    }
    let path = std::path::Path::new("config.toml");
    for bad in ["-1", "11", "99999999999"] {
        let e = validate_file_text(path, &format!("evaluate_rounds = {bad}\n")).unwrap_err();
        assert!(
            e.to_string().contains("evaluate_rounds must be 0 to 10"),
            "{bad}: {e}"
        );
    }
    validate_file_text(path, "evaluate_rounds = 3\napprove = \"plan\"\n").unwrap();
    // `baton config` shows where the value came from.
    let o = baton(home.path())
        .args(["config", "--evaluate-rounds", "2", "--approve", "plan"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("evaluate_rounds"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains('2') && line.contains("--evaluate-rounds"),
        "{line}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("approve") && l.contains("plan")),
        "{out}"
    );
}
