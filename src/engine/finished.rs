//! Rollback, journal-before-act, for the live engine and for a run no engine is running.
//!
//! One protocol ([`roll_back`]) for both writers: check (refuse, changing nothing, when a
//! file changed since), journal `rollback_started` (synced), restore the files
//! (idempotently), journal `subtask_rolled_back` (synced). A journal whose last rollback
//! started and never ended (a crash, `kill -9`) has it finished by the next writer that
//! opens the run ([`finish_interrupted`]): the live engine on resume, [`FinishedRun::open`]
//! otherwise.
//!
//! [`FinishedRun`] is the short-lived engine of a run that has ended (or that no process
//! holds): it takes the run's lock (so it refuses while another process, a resumed run or
//! another `baton rollback`, holds the run), reads the journal (refusing a damaged one)
//! and appends through its own writer. `baton rollback RUN SUBTASK` and the TUI (after the
//! run's engine task ended) use it; nothing else appends to a journal outside the engine.
//! See docs/engine.md ("Rolling back").

use std::path::Path;

use crate::journal::{Journal, RunLock};
use crate::protocol::{Actor, Envelope, Event, SubtaskId};
use crate::state::{FileChange, State};
use crate::tools::changes::ChangeRecord;
use crate::tools::paths::Root;

/// A writer of a run that can roll back: the live engine, or a [`FinishedRun`].
pub(crate) trait RollbackWriter {
    fn state(&self) -> &State;
    /// Checks, changing nothing; the paths the rollback restores.
    async fn check(&self, changes: &[FileChange]) -> Result<Vec<String>, String>;
    /// Restores idempotently; the paths of the rollback.
    async fn restore(&self, changes: &[FileChange]) -> Result<Vec<String>, String>;
    /// Journals (a milestone: synced before it returns), folds and forwards the event.
    async fn journal(&mut self, event: Event) -> Result<(), String>;
}

/// A rollback that was finished: the subtask and the files it restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    pub id: SubtaskId,
    pub files: Vec<String>,
}

/// `id`'s changes that are not rolled back yet, in journal order.
fn live_changes(state: &State, id: SubtaskId) -> Vec<FileChange> {
    state
        .files
        .iter()
        .filter(|f| f.id == id && !f.rolled_back)
        .cloned()
        .collect()
}

/// Rolls back `id`'s file changes: check, journal the start, restore, journal the end.
/// A refusal (a file changed since, a missing backup) journals nothing and changes
/// nothing. The caller has asked `State::check` (not running, has live changes).
pub(crate) async fn roll_back<W: RollbackWriter>(
    w: &mut W,
    id: SubtaskId,
) -> Result<RolledBack, String> {
    if let Some(open) = &w.state().rollback_in_progress {
        return Err(format!(
            "the rollback of {} started and has not finished; it is finished first (put its \
             files back to either their content before or as the subtask left them)",
            open.id
        ));
    }
    let changes = live_changes(w.state(), id);
    if changes.is_empty() {
        return Err(format!("{id} changed no files"));
    }
    let files = w.check(&changes).await?;
    w.journal(Event::RollbackStarted {
        id,
        files: files.clone(),
    })
    .await?;
    restore_and_end(w, id, &changes).await
}

async fn restore_and_end<W: RollbackWriter>(
    w: &mut W,
    id: SubtaskId,
    changes: &[FileChange],
) -> Result<RolledBack, String> {
    let files = w.restore(changes).await?;
    w.journal(Event::SubtaskRolledBack {
        id,
        files: files.clone(),
        by: Actor::Person,
    })
    .await?;
    Ok(RolledBack { id, files })
}

/// Finishes the rollback the journal says started and never ended, if any: restores what
/// is not restored yet (files already back are fine) and journals the end once.
pub(crate) async fn finish_interrupted<W: RollbackWriter>(
    w: &mut W,
) -> Result<Option<RolledBack>, String> {
    let Some(started) = w.state().rollback_in_progress.clone() else {
        return Ok(None);
    };
    let changes: Vec<FileChange> = live_changes(w.state(), started.id)
        .into_iter()
        .filter(|c| started.files.contains(&c.path))
        .collect();
    restore_and_end(w, started.id, &changes)
        .await
        .map(Some)
        .map_err(|e| {
            format!(
                "the rollback of {} that was interrupted could not be finished: {e}",
                started.id
            )
        })
}

/// The writer of a run no engine is running: holds the run's lock while it lives.
pub struct FinishedRun {
    run_dir: std::path::PathBuf,
    journal: Journal,
    state: State,
    record: ChangeRecord,
    root: Option<Root>,
    /// What this writer journaled, in order.
    journal_tail: Vec<Envelope>,
}

impl FinishedRun {
    /// Takes the run's lock, reads its journal (refusing a damaged one) and finishes a
    /// rollback that was interrupted (returned). Refuses while another process holds the
    /// run.
    pub fn open(run_dir: &Path) -> Result<(FinishedRun, Option<RolledBack>), String> {
        let lock = RunLock::acquire(run_dir).map_err(|e| match e {
            // This process's own engine task has not let go yet (it is ending).
            crate::journal::LockError::Held {
                holder: Some(pid), ..
            } if pid == std::process::id() => {
                "the run's engine is still closing; try again in a moment".to_string()
            }
            e => e.to_string(),
        })?;
        let path = run_dir.join(crate::journal::JOURNAL_FILE);
        let replay = crate::journal::replay(&path)
            .map_err(|e| format!("cannot read the journal {}: {e}", path.display()))?;
        if replay.is_damaged() {
            return Err(format!(
                "the journal {} is damaged (line {}); nothing was changed",
                path.display(),
                replay.damaged_line_list()
            ));
        }
        let state = State::fold(&replay.events);
        let root = match state.settings.as_ref().and_then(|s| s.workspace.as_ref()) {
            Some(ws) => Some(
                Root::open(Path::new(ws))
                    .map_err(|e| format!("the run's workspace {ws} cannot be opened: {e}"))?,
            ),
            None => None,
        };
        let mut journal = Journal::open_append(run_dir)
            .map_err(|e| format!("cannot open the journal {}: {e}", path.display()))?;
        journal.hold(lock);
        let mut run = FinishedRun {
            run_dir: run_dir.to_path_buf(),
            journal,
            state,
            record: ChangeRecord::new(run_dir.to_path_buf()),
            root,
            journal_tail: Vec::new(),
        };
        // Nothing here waits: the futures are ready at once.
        let finished = futures::executor::block_on(finish_interrupted(&mut run))?;
        Ok((run, finished))
    }

    /// The run's state, as its journal says.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The events this writer journaled are folded here; returns `id`'s rollback. Refuses,
    /// changing nothing and journaling nothing, what `State::check` refuses or a file that
    /// changed since.
    pub fn rollback(&mut self, id: SubtaskId) -> Result<RolledBack, String> {
        self.state
            .check(&crate::protocol::Command::Rollback { id })
            .map_err(|r| r.to_string())?;
        if self.state.git.run_branch.is_some() {
            return self.rollback_merges(id);
        }
        futures::executor::block_on(roll_back(self, id))
    }

    /// A worktree run (`isolation = "worktree"`): reverts `id`'s merges on the run's branch
    /// (the person's own tree is not touched), then journals the rollback through this
    /// writer, under the run's lock. A revert is a new commit on the run's branch, so a
    /// crash before the journal line leaves the merge reverted and the journal saying it
    /// is not; rolling back again then finds nothing left to revert and journals the end.
    fn rollback_merges(&mut self, id: SubtaskId) -> Result<RolledBack, String> {
        let ws = self
            .state
            .settings
            .as_ref()
            .and_then(|s| s.workspace.clone())
            .ok_or_else(|| "this run has no workspace to roll back".to_string())?;
        let files = super::merge::revert_merges(&self.run_dir, Path::new(&ws), &self.state, id)?;
        futures::executor::block_on(self.journal(Event::SubtaskRolledBack {
            id,
            files: files.clone(),
            by: Actor::Person,
        }))?;
        Ok(RolledBack { id, files })
    }

    /// Everything this writer journaled, in order (for a front end to fold).
    pub fn journaled(&self) -> &[Envelope] {
        &self.journal_tail
    }

    fn root(&self) -> Result<&Root, String> {
        self.root
            .as_ref()
            .ok_or_else(|| "this run has no workspace to roll back".to_string())
    }
}

impl RollbackWriter for FinishedRun {
    fn state(&self) -> &State {
        &self.state
    }

    async fn check(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        self.record.check_rollback(self.root()?, changes)
    }

    async fn restore(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        self.record.rollback(self.root()?, changes)
    }

    async fn journal(&mut self, event: Event) -> Result<(), String> {
        let envelope = self.journal.append(event).map_err(|e| {
            format!(
                "cannot write the journal {}: {e}",
                self.journal.path.display()
            )
        })?;
        crate::state::apply(&mut self.state, &envelope);
        self.journal_tail.push(envelope);
        Ok(())
    }
}

/// `baton rollback RUN SUBTASK`: rolls `id` back in the run `run` names (a finished or
/// stopped run no process holds) and says on stdout what it restored; the exit code: 0
/// done, 2 refused (with the reason on stderr: another process holds the run, a file
/// changed since, nothing to roll back, a damaged journal), 1 an I/O failure part-way.
/// A rollback that was interrupted is finished first and said so.
pub fn rollback_command(data_dir: &Path, run: &str, id: SubtaskId) -> i32 {
    let run_dir = match crate::journal::resolve_run(data_dir, run) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("baton: {e}");
            return match e {
                crate::journal::JournalError::Io(_) => 1,
                _ => 2,
            };
        }
    };
    let (mut opened, interrupted) = match FinishedRun::open(&run_dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "baton: cannot roll back {id}: {}",
                crate::text::one_line(&e, 400)
            );
            return 2;
        }
    };
    if let Some(done) = &interrupted {
        println!(
            "finished the interrupted rollback of {}: {}",
            done.id,
            said(&done.files)
        );
        if done.id == id {
            return 0;
        }
    }
    match opened.rollback(id) {
        Ok(done) => {
            println!("rolled back {id}: {}", said(&done.files));
            0
        }
        Err(e) => {
            eprintln!(
                "baton: cannot roll back {id}: {}",
                crate::text::one_line(&e, 400)
            );
            // Started (journaled) but not finished: the next open finishes it.
            if opened.state().rollback_in_progress.is_some() {
                eprintln!(
                    "baton: the rollback was journaled as started; run the command again to \
                     finish it"
                );
                return 1;
            }
            2
        }
    }
}

/// `3 file(s) restored:` and the paths, one a line (from the journal: sanitized).
fn said(files: &[String]) -> String {
    let mut out = format!("{} file(s) restored:", files.len());
    for f in files {
        out.push_str("\n  ");
        out.push_str(&crate::text::one_line(f, 200));
    }
    out
}
