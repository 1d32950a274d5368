//! A run whose subtask #1 changed many files of a workspace, written straight to a journal
//! (as the engine would have written it) with the backups of the originals, for rollback
//! tests: in-process and with the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};

use baton::journal::Journal;
use baton::protocol::*;
use baton::tools::changes::sha256_hex;

/// One file the subtask touched: its content before and after (`None`: absent).
pub struct Touched {
    pub path: String,
    pub before: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
}

pub struct ChangedRun {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub workspace: PathBuf,
    pub files: Vec<Touched>,
}

impl ChangedRun {
    /// Whether every file is back to its content before the subtask.
    pub fn all_before(&self) -> bool {
        self.files.iter().all(|f| self.now(f) == f.before)
    }

    /// Whether every file still has the subtask's content.
    pub fn all_after(&self) -> bool {
        self.files.iter().all(|f| self.now(f) == f.after)
    }

    pub fn now(&self, f: &Touched) -> Option<Vec<u8>> {
        std::fs::read(self.workspace.join(&f.path)).ok()
    }

    /// Puts file `i` back to its content before, as a rollback would.
    pub fn restore_by_hand(&self, i: usize) {
        let f = &self.files[i];
        let abs = self.workspace.join(&f.path);
        match &f.before {
            Some(bytes) => std::fs::write(abs, bytes).unwrap(),
            None => std::fs::remove_file(abs).unwrap(),
        }
    }

    pub fn journal_path(&self) -> PathBuf {
        self.run_dir.join(baton::journal::JOURNAL_FILE)
    }

    /// The journal's events, checked undamaged.
    pub fn events(&self) -> Vec<Event> {
        let replay = baton::journal::replay(&self.journal_path()).unwrap();
        assert!(
            replay.corrupt_lines.is_empty(),
            "{:?}",
            replay.corrupt_lines
        );
        replay.events.into_iter().map(|e| e.event).collect()
    }

    pub fn count(&self, pick: impl Fn(&Event) -> bool) -> usize {
        self.events().iter().filter(|e| pick(e)).count()
    }
}

pub fn settings(workspace: Option<&Path>) -> RunSettings {
    RunSettings {
        provider: "demo".into(),
        base_url: String::new(),
        orchestrator_model: "o".into(),
        worker_model: "w".into(),
        max_workers: 2,
        approve: ApprovalPolicy::Scope,
        limits: Limits::default(),
        complexity_threshold: 0.7,
        evaluate: false,
        evaluate_rounds: 1,
        workspace: workspace.map(|w| w.display().to_string()),
        read_only: false,
        allow_commands: false,
        role_dispatch: Default::default(),
    }
}

pub fn added(id: u32, needs_approval: bool) -> Event {
    Event::SubtaskAdded {
        spec: SubtaskSpec {
            id: SubtaskId(id),
            title: format!("t{id}"),
            description: "d".into(),
            role: "code_developer".into(),
            priority: Priority::Normal,
            depends_on: Vec::new(),
            expected_output: String::new(),
        },
        origin: Origin::Analysis,
        needs_approval,
    }
}

/// A run in `runs_dir/<run_id>` with workspace `workspace`: #1 changed `n` files (every
/// third one created by it, the others modified; the originals backed up under the run
/// directory), then `tail` (e.g. the run's end) is journaled.
pub fn changed_run(
    runs_dir: &Path,
    run_id: &str,
    workspace: &Path,
    n: usize,
    tail: Vec<Event>,
) -> ChangedRun {
    let run_dir = runs_dir.join(run_id);
    let mut journal = Journal::create(&run_dir).unwrap();
    let mut events = vec![
        Event::RunStarted {
            run_id: run_id.into(),
            task: "change many files".into(),
            settings: settings(Some(workspace)),
        },
        Event::ModeChosen {
            mode: RunMode::Orchestrate,
            by: Actor::Person,
        },
        added(1, false),
    ];
    let mut files = Vec::new();
    for i in 0..n {
        let path = format!("src/f{i:04}.txt");
        let before = (i % 3 != 0).then(|| format!("original {i}\n").into_bytes());
        let after = format!("changed by #1: {i}\n").into_bytes();
        let abs = workspace.join(&path);
        std::fs::create_dir_all(abs.parent().unwrap()).unwrap();
        let backup = before.as_ref().map(|bytes| {
            let rel = format!("backups/1/{}-src__f{i:04}.txt", i + 1);
            std::fs::create_dir_all(run_dir.join("backups/1")).unwrap();
            std::fs::write(run_dir.join(&rel), bytes).unwrap();
            rel
        });
        std::fs::write(&abs, &after).unwrap();
        events.push(Event::FileChanged {
            id: SubtaskId(1),
            path: path.clone(),
            before: before.as_deref().map(sha256_hex),
            after: Some(sha256_hex(&after)),
            backup,
        });
        files.push(Touched {
            path,
            before,
            after: Some(after),
        });
    }
    events.extend(tail);
    for e in events {
        journal.append(e).unwrap();
    }
    ChangedRun {
        run_id: run_id.into(),
        run_dir,
        workspace: workspace.to_path_buf(),
        files,
    }
}

pub fn completed() -> Vec<Event> {
    vec![Event::RunFinished {
        outcome: RunOutcome::Completed,
    }]
}

/// The journal's last rollback started and never ended, after restoring `restored` of its
/// files (a process killed mid-way).
pub fn interrupt_rollback(run: &ChangedRun, restored: usize) {
    let mut journal = Journal::open_append(&run.run_dir).unwrap();
    journal
        .append(Event::RollbackStarted {
            id: SubtaskId(1),
            files: run.files.iter().map(|f| f.path.clone()).collect(),
        })
        .unwrap();
    for i in 0..restored {
        run.restore_by_hand(i);
    }
}
