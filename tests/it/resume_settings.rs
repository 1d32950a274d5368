//! A resumed run runs with the settings it is given, and journals them (issue 8: the journal
//! must not keep stale settings; issue 11: `--max-workers` and the limit flags on `baton
//! resume` did not reach the engine). `settings_changed` is journaled and folded, so the next
//! resume and `export` see what the run really ran with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use baton::engine::Start;
use baton::journal::{self, JOURNAL_FILE};
use baton::protocol::*;
use baton::state::State;

use crate::engine_common::*;
use crate::support_cli::{TASK, baton, text};

const PARTS: usize = 4;

/// A journal cut right after the analysis planned `PARTS` independent subtasks, written by
/// a run with one worker and no limits.
async fn planned_journal(dir: &Path) -> Vec<Envelope> {
    let first: Vec<_> = (0..PARTS)
        .map(|i| st(&format!("part {i}"), "code_developer", &[]))
        .collect();
    let full = run_new(
        config(dir, settings(ApprovalPolicy::Auto, 1)),
        Arc::new(Fake::new(first).latency(10)),
        "t",
    )
    .await;
    assert_eq!(full.outcome, RunOutcome::Completed);
    let cut = full
        .journal
        .events
        .iter()
        .position(|e| matches!(e.event, Event::SubtaskStarted { .. }))
        .unwrap();
    let text: String = std::fs::read_to_string(dir.join(JOURNAL_FILE))
        .unwrap()
        .lines()
        .take(cut)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join(JOURNAL_FILE), text).unwrap();
    journal::replay(&dir.join(JOURNAL_FILE)).unwrap().events
}

async fn resume(dir: &Path, s: RunSettings, stop_for_person: bool) -> (Finished, Arc<Fake>) {
    let events = journal::replay(&dir.join(JOURNAL_FILE)).unwrap().events;
    let first: Vec<_> = (0..PARTS)
        .map(|i| st(&format!("part {i}"), "code_developer", &[]))
        .collect();
    let fake = Arc::new(Fake::new(first).latency(10));
    let mut cfg = config(dir, s);
    cfg.stop_when_person_needed = stop_for_person;
    let f = drive(
        cfg,
        fake.clone(),
        Start::Resume {
            events,
            torn_line_dropped: false,
        },
        |_, _| vec![],
    )
    .await;
    (f, fake)
}

fn changes(f: &Finished) -> Vec<Vec<SettingChange>> {
    f.journal
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::SettingsChanged { changes, .. } => Some(changes.clone()),
            _ => None,
        })
        .collect()
}

/// The most calls of workers in flight at once.
fn most_workers_at_once(fake: &Fake) -> usize {
    let calls: Vec<_> = fake
        .records()
        .into_iter()
        .filter(|r| r.subtask.is_some())
        .collect();
    calls
        .iter()
        .map(|c| {
            calls
                .iter()
                .filter(|o| o.start <= c.start && c.start < o.end)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn max_workers_given_at_resume_reaches_the_engine_and_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    planned_journal(dir.path()).await;
    let (f, fake) = resume(dir.path(), settings(ApprovalPolicy::Auto, 4), false).await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(most_workers_at_once(&fake), 4, "four workers at once");
    assert_eq!(
        changes(&f),
        vec![vec![SettingChange {
            what: "max_workers".into(),
            before: "1".into(),
            after: "4".into(),
        }]]
    );
    let state = State::fold(&f.journal.events);
    assert_eq!(state.max_workers, 4);
    assert_eq!(state.settings_in_force().unwrap().max_workers, 4);

    // Resumed again with the same settings: nothing changes, nothing more is journaled.
    let (again, _) = resume(dir.path(), settings(ApprovalPolicy::Auto, 4), false).await;
    assert_eq!(changes(&again).len(), 1, "still only the first change");
}

#[tokio::test(start_paused = true)]
async fn a_limit_given_at_resume_applies() {
    let dir = tempfile::tempdir().unwrap();
    planned_journal(dir.path()).await;
    let mut s = settings(ApprovalPolicy::Scope, 1);
    s.limits.max_tokens = Some(1);
    let (f, _) = resume(dir.path(), s, true).await;
    // The analysis already spent more than one token: the budget alert stops the run for a
    // person before any worker starts.
    assert!(
        matches!(f.outcome, RunOutcome::Stopped { .. }),
        "{:?}",
        f.outcome
    );
    assert!(
        f.of(|e| matches!(
            e,
            Event::ScopeAlertRaised {
                limit: LimitKind::Tokens,
                ..
            }
        ))
        .count()
            == 1
    );
    let resumed_at = f
        .events
        .iter()
        .position(|e| matches!(e.event, Event::RunResumed { .. }))
        .unwrap();
    assert!(
        !f.events[resumed_at..]
            .iter()
            .any(|e| matches!(e.event, Event::SubtaskStarted { .. }))
    );
    let c = changes(&f);
    assert_eq!(c.len(), 1);
    let whats: Vec<&str> = c[0].iter().map(|c| c.what.as_str()).collect();
    assert_eq!(whats, ["approve", "limits.max_tokens"]);
    assert_eq!(State::fold(&f.journal.events).limits.max_tokens, Some(1));
}

fn settings_changed_lines(home: &Path) -> Vec<serde_json::Value> {
    let runs = journal::list_runs(&home.join("data")).unwrap();
    assert_eq!(runs.len(), 1);
    journal::replay(&runs[0].dir.join(JOURNAL_FILE))
        .unwrap()
        .events
        .iter()
        .filter(|e| matches!(e.event, Event::SettingsChanged { .. }))
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

#[test]
fn the_real_binary_journals_resume_flags_and_export_shows_them() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["--headless", "--approve", "all", "--max-workers", "1", TASK])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o).1);

    let o = baton(home.path())
        .args([
            "resume",
            "latest",
            "--headless",
            "--max-workers",
            "3",
            "--budget-usd",
            "5",
        ])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains(
            "continuing with today's settings: max_workers 1 → 3, limits.budget_usd none → 5"
        ),
        "{err}"
    );
    let lines = settings_changed_lines(home.path());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["settings"]["max_workers"], 3);
    assert_eq!(lines[0]["by"], "person");
    assert_eq!(
        lines[0]["changes"][0],
        serde_json::json!({"what": "max_workers", "before": "1", "after": "3"})
    );

    let o = baton(home.path())
        .args(["export", "latest", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["settings"]["max_workers"], 3);
    assert_eq!(v["settings"]["limits"]["budget_usd"], 5.0);

    // Resumed again without flags: the run keeps what it last ran with (3 workers), so
    // nothing changes and nothing more is journaled.
    let o = baton(home.path())
        .args(["resume", "latest", "--headless"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(!err.contains("continuing with today's settings"), "{err}");
    assert_eq!(settings_changed_lines(home.path()).len(), 1);
}
