//! The run index: which runs exist under `<data>/runs`, how each stands (folded from its
//! journal, or damaged, or with its journal missing), and which run a spec such as
//! `latest` or an id prefix names.
//!
//! A run is a directory under `runs/` that holds a journal or is named like a run id
//! (`20261126-093012-7f3a`): a run whose journal was deleted is listed as such, never
//! hidden (nor silently skipped by `latest`). Other directories are not runs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{JOURNAL_FILE, replay};
use crate::protocol::RunOutcome;
use crate::state::State;

/// `<data_dir>/runs`.
pub fn runs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runs")
}

/// How a listed run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Completed,
    Failed,
    /// Stopped (needs a person, or the person stopped it); resumable.
    Stopped,
    /// No `run_finished` record: running now, or the process died; resumable.
    Unfinished,
    /// The journal has damaged lines: its history has holes; it cannot be continued.
    Damaged,
    /// The run directory is there but its journal is not (or cannot be read).
    JournalMissing,
}

impl RunStatus {
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Unfinished => "unfinished",
            RunStatus::Damaged => "damaged",
            RunStatus::JournalMissing => "journal missing",
        }
    }
}

/// One line of `baton runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub id: String,
    pub dir: PathBuf,
    pub started: Option<DateTime<Utc>>,
    pub task: String,
    pub status: RunStatus,
    pub subtasks: u32,
    pub cost_usd: f64,
    /// Some LLM call had no known price: the cost is a lower bound.
    pub cost_incomplete: bool,
    /// Damaged lines of the journal (status [`RunStatus::Damaged`] when not zero).
    pub corrupt_lines: usize,
    /// A rollback of this subtask started and never ended (finished on the next open).
    pub rollback_in_progress: Option<crate::protocol::SubtaskId>,
    /// A worktree run's branch (`baton/<run id>`).
    pub branch: Option<String>,
}

/// Every run under `<data_dir>/runs`, oldest first, each summarised by folding its journal.
pub fn list_runs(data_dir: &Path) -> io::Result<Vec<RunSummary>> {
    let dir = runs_dir(data_dir);
    let mut ids = run_ids(&dir)?;
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        let run_dir = dir.join(&id);
        let Ok(r) = replay(&run_dir.join(JOURNAL_FILE)) else {
            out.push(RunSummary {
                id,
                dir: run_dir,
                started: None,
                task: String::new(),
                status: RunStatus::JournalMissing,
                subtasks: 0,
                cost_usd: 0.0,
                cost_incomplete: false,
                corrupt_lines: 0,
                rollback_in_progress: None,
                branch: None,
            });
            continue;
        };
        let state = State::fold(&r.events);
        let status = match &state.outcome {
            _ if r.is_damaged() => RunStatus::Damaged,
            Some(RunOutcome::Completed) => RunStatus::Completed,
            Some(RunOutcome::Failed { .. }) => RunStatus::Failed,
            Some(RunOutcome::Stopped { .. }) => RunStatus::Stopped,
            None => RunStatus::Unfinished,
        };
        out.push(RunSummary {
            id,
            dir: run_dir,
            started: state.started_at,
            task: state.task.to_string(),
            status,
            subtasks: u32::try_from(state.subtasks.len()).unwrap_or(u32::MAX),
            cost_usd: state.cost_usd,
            cost_incomplete: state.unpriced_calls > 0,
            corrupt_lines: r.corrupt_lines.len(),
            rollback_in_progress: state.rollback_in_progress.as_ref().map(|p| p.id),
            branch: state.git.run_branch.as_ref().map(|(b, _)| b.clone()),
        });
    }
    Ok(out)
}

/// The names of the run directories under `dir`.
fn run_ids(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir()
            && let Some(name) = entry.file_name().to_str()
            && (is_run_id(name) || path.join(JOURNAL_FILE).is_file())
        {
            ids.push(name.to_string());
        }
    }
    Ok(ids)
}

/// `20261126-093012-7f3a`: the shape [`super::new_run_id`] gives.
fn is_run_id(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 15 => *c == b'-',
            0..8 | 9..15 => c.is_ascii_digit(),
            _ => c.is_ascii_hexdigit(),
        })
}

/// Why a run spec did not name exactly one run.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("no runs yet in {0}; start one with `baton \"TASK\"`")]
    NoRuns(PathBuf),
    #[error("no run matches `{spec}`; `baton runs` lists them (latest: {latest})")]
    NotFound { spec: String, latest: String },
    #[error("`{spec}` matches several runs: {}; give more characters", candidates.join(", "))]
    Ambiguous {
        spec: String,
        candidates: Vec<String>,
    },
    #[error("cannot read the runs directory: {0}")]
    Io(#[from] io::Error),
}

/// The run directory named by `spec`: a run id, a unique prefix of one, or `latest`.
pub fn resolve_run(data_dir: &Path, spec: &str) -> Result<PathBuf, JournalError> {
    let dir = runs_dir(data_dir);
    let mut ids = run_ids(&dir)?;
    ids.sort();
    let Some(latest) = ids.last().cloned() else {
        return Err(JournalError::NoRuns(dir));
    };
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("latest") {
        return Ok(dir.join(latest));
    }
    if ids.iter().any(|i| i == spec) {
        return Ok(dir.join(spec));
    }
    let candidates: Vec<String> = ids.into_iter().filter(|i| i.starts_with(spec)).collect();
    match candidates.len() {
        0 => Err(JournalError::NotFound {
            spec: spec.to_string(),
            latest,
        }),
        1 => Ok(dir.join(&candidates[0])),
        _ => Err(JournalError::Ambiguous {
            spec: spec.to_string(),
            candidates,
        }),
    }
}

/// Whether writing `file` would write inside `<data_dir>/runs` (a run's journal, lock or
/// backups), following symlinks and `..` as the write would. Returns the runs directory
/// or the run directory it falls in.
pub fn inside_runs_dir(data_dir: &Path, file: &Path) -> Option<PathBuf> {
    let runs = resolved(&runs_dir(data_dir));
    let target = resolved(file);
    let rest = target.strip_prefix(&runs).ok()?;
    Some(match rest.components().next() {
        Some(first) if rest.components().count() > 1 => runs.join(first),
        _ => runs,
    })
}

/// `path` made absolute with symlinks resolved as far as it exists; the part that does not
/// exist yet is appended as given.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in missing.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}
