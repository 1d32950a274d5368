//! Rollback is journal-before-act: the live engine checks, journals `rollback_started`,
//! restores, then journals `subtask_rolled_back`; a rollback interrupted after it started
//! (a crash, `kill -9`) is finished by the next process that opens the run, exactly once.
//! `baton rollback RUN SUBTASK` does it for a run no process holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use baton::engine::Start;
use baton::protocol::*;
use baton::state::FileChange;
use baton::tools::{WorkerTools, Workspace, WorkspaceOptions};

use crate::engine_common::{Fake, check_consistent, config, drive};
use crate::rollback_support::*;
use crate::support_cli as bin;

/// Workspace tools that only roll back, noting whether the journal already said
/// `rollback_started` when they were asked to check and to restore.
struct Watching {
    journal: PathBuf,
    /// ("check" | "restore", rollback_started already journaled)
    seen: Mutex<Vec<(&'static str, bool)>>,
}

impl Watching {
    fn note(&self, what: &'static str) {
        let text = std::fs::read_to_string(&self.journal).unwrap();
        let started = text.contains("\"type\":\"rollback_started\"");
        self.seen.lock().unwrap().push((what, started));
    }
}

#[async_trait]
impl WorkerTools for Watching {
    fn definitions(&self, _allowed: &[String]) -> Vec<ToolDef> {
        Vec::new()
    }
    async fn call(
        &self,
        _host: &dyn baton::tools::ToolHost,
        _subtask: SubtaskId,
        _attempt: u32,
        call: &ToolCall,
    ) -> baton::tools::ToolOutput {
        baton::tools::ToolOutput {
            content: format!("no tool {}", call.name),
            is_error: true,
            summary: call.name.clone(),
        }
    }
    async fn check_rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        self.note("check");
        Ok(changes.iter().map(|c| c.path.clone()).collect())
    }
    async fn rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        self.note("restore");
        Ok(changes.iter().map(|c| c.path.clone()).collect())
    }
}

/// A live run (waiting for a person to approve #2) whose cancelled #1 changed files: a
/// person rolls #1 back. The check runs before anything is journaled, the restore only
/// after `rollback_started` is on disk, and `subtask_rolled_back` ends it.
#[tokio::test(start_paused = true)]
async fn the_live_engine_journals_the_rollback_before_it_restores() {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let run = changed_run(
        home.path(),
        "r1",
        ws.path(),
        3,
        vec![
            Event::SubtaskCancelled {
                id: SubtaskId(1),
                reason: "not needed".into(),
                by: Actor::Person,
            },
            added(2, true),
        ],
    );
    let history = baton::journal::replay(&run.journal_path()).unwrap().events;
    let watching = Arc::new(Watching {
        journal: run.journal_path(),
        seen: Mutex::new(Vec::new()),
    });
    let mut cfg = config(&run.run_dir, settings(Some(ws.path())));
    cfg.tools = Some(watching.clone());
    let f = drive(
        cfg,
        Arc::new(Fake::new(Vec::new())),
        Start::Resume {
            events: history,
            torn_line_dropped: false,
        },
        |e, _| match &e.event {
            Event::RunResumed { .. } => vec![Command::Rollback { id: SubtaskId(1) }],
            Event::SubtaskRolledBack { .. } => vec![Command::Stop],
            _ => vec![],
        },
    )
    .await;
    check_consistent(&f);
    assert_eq!(
        *watching.seen.lock().unwrap(),
        vec![("check", false), ("restore", true)]
    );
    let files: Vec<String> = run.files.iter().map(|f| f.path.clone()).collect();
    let tail: Vec<&Event> = f
        .of(|e| {
            matches!(
                e,
                Event::RollbackStarted { .. } | Event::SubtaskRolledBack { .. }
            )
        })
        .collect();
    assert_eq!(
        tail,
        vec![
            &Event::RollbackStarted {
                id: SubtaskId(1),
                files: files.clone()
            },
            &Event::SubtaskRolledBack {
                id: SubtaskId(1),
                files,
                by: Actor::Person
            }
        ]
    );
    assert!(f.state.rollback_in_progress.is_none());
    assert!(f.state.files.iter().all(|c| c.rolled_back));
}

/// A refused rollback (a file changed since) journals nothing and changes nothing.
#[test]
fn a_refused_rollback_journals_nothing_and_changes_nothing() {
    let (home, _ws, run) = cli_run(6);
    std::fs::write(run.workspace.join(&run.files[4].path), "edited by hand\n").unwrap();
    let before = std::fs::read(run.journal_path()).unwrap();
    let out = baton_rollback(&home, "latest", "1");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&run.files[4].path), "{err}");
    assert!(err.contains("nothing was restored"), "{err}");
    assert_eq!(std::fs::read(run.journal_path()).unwrap(), before);
    for (i, f) in run.files.iter().enumerate().filter(|(i, _)| *i != 4) {
        assert_eq!(run.now(f), f.after, "file {i}");
    }
}

fn workspace_tools(run: &ChangedRun) -> Arc<dyn WorkerTools> {
    Arc::new(Workspace::open(&run.workspace, WorkspaceOptions::new(&run.run_dir)).unwrap())
}

/// A journal that ends with `rollback_started` and half the files restored: resuming the
/// run finishes the rollback (the restored half is left as it is) and journals its end once.
#[tokio::test(start_paused = true)]
async fn a_resumed_run_finishes_an_interrupted_rollback() {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let run = changed_run(home.path(), "r1", ws.path(), 12, completed());
    interrupt_rollback(&run, 6);
    let state =
        baton::state::State::fold(&baton::journal::replay(&run.journal_path()).unwrap().events);
    assert_eq!(
        state.rollback_in_progress.as_ref().map(|r| r.id),
        Some(SubtaskId(1)),
        "the state shows the rollback in progress"
    );
    let history = baton::journal::replay(&run.journal_path()).unwrap().events;
    let mut cfg = config(&run.run_dir, settings(Some(ws.path())));
    cfg.tools = Some(workspace_tools(&run));
    let f = drive(
        cfg,
        Arc::new(Fake::new(Vec::new())),
        Start::Resume {
            events: history,
            torn_line_dropped: false,
        },
        |_, _| vec![],
    )
    .await;
    check_consistent(&f);
    assert_eq!(f.outcome, RunOutcome::Completed);
    assert!(run.all_before());
    assert_eq!(run.count(|e| matches!(e, Event::RollbackStarted { .. })), 1);
    assert_eq!(
        run.count(|e| matches!(e, Event::SubtaskRolledBack { .. })),
        1
    );
    assert!(f.state.rollback_in_progress.is_none());
    assert!(f.state.files.iter().all(|c| c.rolled_back));
}

/// The same through the short-lived writer of a finished run (`baton rollback`, the TUI).
#[test]
fn opening_a_finished_run_finishes_an_interrupted_rollback() {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let run = changed_run(home.path(), "r1", ws.path(), 12, completed());
    interrupt_rollback(&run, 5);
    let (opened, finished) = baton::engine::finished::FinishedRun::open(&run.run_dir).unwrap();
    let finished = finished.expect("the interrupted rollback is finished on open");
    assert_eq!(finished.id, SubtaskId(1));
    assert_eq!(finished.files.len(), 12);
    assert!(run.all_before());
    assert!(opened.state().rollback_in_progress.is_none());
    assert_eq!(
        run.count(|e| matches!(e, Event::SubtaskRolledBack { .. })),
        1
    );
    drop(opened);
    // Opening again finds nothing to finish.
    let (_, again) = baton::engine::finished::FinishedRun::open(&run.run_dir).unwrap();
    assert!(again.is_none());
    assert_eq!(
        run.count(|e| matches!(e, Event::SubtaskRolledBack { .. })),
        1
    );
}

/// `baton rollback RUN SUBTASK` restores the files, says which, journals start and end.
#[test]
fn the_rollback_command_restores_and_says_what() {
    let (home, _ws, run) = cli_run(4);
    let out = baton_rollback(&home, "20261130", "#1");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    for f in &run.files {
        assert!(said.contains(&f.path), "{said}");
    }
    assert!(said.contains("4 file(s)"), "{said}");
    assert!(run.all_before());
    assert_eq!(run.count(|e| matches!(e, Event::RollbackStarted { .. })), 1);
    assert_eq!(
        run.count(|e| matches!(e, Event::SubtaskRolledBack { .. })),
        1
    );
    // Again: nothing left to roll back.
    let out = baton_rollback(&home, "20261130", "1");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("changed no files"));
}

/// While another process holds the run, `baton rollback` refuses (exit 2) and changes
/// nothing.
#[test]
fn the_rollback_command_refuses_a_run_another_process_holds() {
    let (home, _ws, run) = cli_run(3);
    let _held = baton::journal::RunLock::acquire(&run.run_dir).unwrap();
    let before = std::fs::read(run.journal_path()).unwrap();
    let out = baton_rollback(&home, "latest", "1");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another Baton process"), "{err}");
    assert!(err.contains(&std::process::id().to_string()), "{err}");
    assert!(run.all_after());
    assert_eq!(std::fs::read(run.journal_path()).unwrap(), before);
}

/// A finished run (in the binary's runs directory) whose #1 changed `n` files.
fn cli_run(n: usize) -> (tempfile::TempDir, tempfile::TempDir, ChangedRun) {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let run = changed_run(
        &runs_dir(home.path()),
        "20261130-080000-abcd",
        ws.path(),
        n,
        completed(),
    );
    (home, ws, run)
}

fn baton_rollback(home: &tempfile::TempDir, run: &str, subtask: &str) -> std::process::Output {
    bin::baton_bare(home.path())
        .args(["rollback", run, subtask])
        .output()
        .unwrap()
}

/// The runs directory the binary uses with `BATON_HOME=home`.
pub fn runs_dir(home: &std::path::Path) -> PathBuf {
    use baton::cli::CommonArgs;
    use baton::config::{Config, Env};
    let env = Env::from_pairs([("BATON_HOME", home.display().to_string())]);
    let config = Config::load_with(&CommonArgs::default(), &env).unwrap();
    baton::journal::runs_dir(config.data_dir())
}
