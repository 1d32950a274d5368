//! `baton fork RUN --at SEQ|dN`: a new run made of a journal prefix of another.
//!
//! Owns: reading a run for the CLI commands ([`load`]), where a fork point falls
//! ([`ForkPoint`], [`cut_seq`]) and writing the new run directory ([`fork_run`]). Resuming
//! the fork is `session`'s (`main` launches it like `baton resume`), so the flags given to
//! `fork` (`--model`, `--max-workers`, `--approve`, …) apply to it exactly as to a resume.
//!
//! Decisions, written down here and in docs/fork.md:
//! - `--at SEQ` keeps events `1..=SEQ`; `--at dN` keeps the events *before* decision `N`
//!   (numbered as in `baton export --format json`'s provenance), so the fork stands where
//!   that decision was about to be made and it is made again (by a person in the TUI, or by
//!   the fork's policy headless).
//! - The prefix keeps its sequence numbers and times; the `run_started` line names the new
//!   run; then a `run_forked` event (the fork's first own event) records the parent run and
//!   the sequence number. Backups the prefix refers to are copied, so rollbacks still work.
//! - A workspace is shared, not copied: files the parent changed after the fork point stay
//!   changed. The fork says so when that is the case.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::provenance;
use crate::journal::{self, JournalError, Replay};
use crate::protocol::{Actor, Envelope, Event, JOURNAL_VERSION};

/// Where to fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkPoint {
    /// Keep the events up to and including this sequence number.
    Seq(u64),
    /// Keep the events before this decision (1-based, `dN`).
    Decision(u32),
}

impl std::str::FromStr for ForkPoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "`{s}` is not a fork point: give an event number (e.g. 42) or a decision \
                 (e.g. d3, as numbered by `baton export RUN --format json`)"
            )
        };
        if let Some(n) = t.strip_prefix(['d', 'D']) {
            let n: u32 = n.parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(bad());
            }
            Ok(ForkPoint::Decision(n))
        } else {
            let n: u64 = t.parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(bad());
            }
            Ok(ForkPoint::Seq(n))
        }
    }
}

/// Why a run could not be read or forked, with the exit code the CLI uses.
#[derive(Debug, thiserror::Error)]
pub enum ForkError {
    #[error("{0}")]
    Run(#[from] JournalError),
    #[error("cannot {action} {path}: {source}", path = path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Point(String),
}

impl ForkError {
    /// 2 for a run or fork point the person named wrongly, 1 for a file problem.
    pub fn exit_code(&self) -> i32 {
        match self {
            ForkError::Run(JournalError::Io(_)) | ForkError::Io { .. } => 1,
            ForkError::Run(_) | ForkError::Point(_) => 2,
        }
    }
}

/// A run read for a command: its directory, id and replayed journal. Torn and corrupt
/// lines are reported on stderr (they are left out).
pub fn load(data_dir: &Path, run: &str) -> Result<(PathBuf, String, Replay), ForkError> {
    let (dir, id, replay, notes) = read(data_dir, run)?;
    for note in notes {
        eprintln!("baton: {note}");
    }
    Ok((dir, id, replay))
}

/// [`load`] without printing: the notes on a torn or damaged journal are returned (the
/// TUI's fork must not write to a terminal it draws on).
fn read(data_dir: &Path, run: &str) -> Result<(PathBuf, String, Replay, Vec<String>), ForkError> {
    let dir = journal::resolve_run(data_dir, run)?;
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = dir.join(journal::JOURNAL_FILE);
    let replay = journal::replay(&path).map_err(|source| ForkError::Io {
        action: "read the journal",
        path: path.clone(),
        source,
    })?;
    let mut notes = Vec::new();
    if replay.torn_line_dropped {
        notes.push(format!(
            "note: the last line of {} is incomplete and was left out",
            path.display()
        ));
    }
    for damage in &replay.corrupt_lines {
        notes.push(format!(
            "warning: {} of {} is damaged and was left out",
            damage,
            path.display()
        ));
    }
    Ok((dir, id, replay, notes))
}

/// The last sequence number the fork keeps.
pub fn cut_seq(events: &[Envelope], at: ForkPoint) -> Result<u64, String> {
    let last = events.last().map_or(0, |e| e.seq);
    let cut = match at {
        ForkPoint::Seq(n) if n > last => {
            return Err(format!(
                "the run has {last} events; --at must be 1..={last}"
            ));
        }
        ForkPoint::Seq(n) => n,
        ForkPoint::Decision(n) => {
            let ds = provenance::decisions(events);
            let Some(d) = ds.get(n as usize - 1) else {
                return Err(format!(
                    "the run has {} decisions (d1..d{}); `baton export RUN --format json` lists them",
                    ds.len(),
                    ds.len()
                ));
            };
            d.seq.saturating_sub(1)
        }
    };
    let starts = events
        .iter()
        .take_while(|e| e.seq <= cut)
        .any(|e| matches!(e.event, Event::RunStarted { .. }));
    if !starts {
        return Err("a fork must keep the run's first event (run_started)".into());
    }
    Ok(cut)
}

/// A fork written to disk.
#[derive(Debug, Clone, PartialEq)]
pub struct Forked {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub parent: String,
    pub at_seq: u64,
    /// Things to tell the person (a shared workspace).
    pub warnings: Vec<String>,
}

/// Writes a new run whose journal is `run`'s prefix up to the fork point, followed by a
/// `run_forked` event and, when `max_workers` is given (the person's `--max-workers`), a
/// `max_workers_changed` by the person (the worker count lives in the journal, so a flag
/// alone would not change it). The new run is not started: resume it.
pub fn fork_run(
    data_dir: &Path,
    run: &str,
    at: ForkPoint,
    max_workers: Option<u32>,
) -> Result<Forked, ForkError> {
    // Notes on the journal become the fork's warnings (printed by `baton fork`, shown by
    // the TUI), never written to stderr here.
    let (parent_dir, parent, replay, notes) = read(data_dir, run)?;
    if replay.is_damaged() {
        return Err(ForkError::Point(format!(
            "run {parent} has a damaged journal ({}); a fork would continue a history with \
             holes",
            replay
                .corrupt_lines
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let cut = cut_seq(&replay.events, at).map_err(ForkError::Point)?;
    let runs = journal::runs_dir(data_dir);
    let (run_id, run_dir) = new_dir(&runs)?;
    let path = run_dir.join(journal::JOURNAL_FILE);
    let io = |action, source| ForkError::Io {
        action,
        path: path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| io("create", e))?;
    let mut text = Vec::new();
    let mut backups = Vec::new();
    for e in replay.events.iter().filter(|e| e.seq <= cut) {
        let mut e = e.clone();
        match &mut e.event {
            Event::RunStarted { run_id: id, .. } => *id = run_id.clone(),
            Event::FileChanged {
                backup: Some(b), ..
            } => backups.push(b.clone()),
            _ => {}
        }
        // The journal's own framing (seq + checksum), so the fork's history is verifiable.
        text.extend(
            journal::encode_line(&e)
                .map_err(|e| io("write", e))?
                .into_bytes(),
        );
        text.push(b'\n');
    }
    let forked = Envelope {
        seq: cut + 1,
        ts: Utc::now(),
        v: JOURNAL_VERSION,
        event: Event::RunForked {
            parent_run: parent.clone(),
            parent_seq: cut,
        },
    };
    let mut own = vec![forked];
    if let Some(n) = max_workers {
        own.push(Envelope {
            seq: cut + 2,
            ts: Utc::now(),
            v: JOURNAL_VERSION,
            event: Event::MaxWorkersChanged {
                max_workers: n,
                by: Actor::Person,
            },
        });
    }
    for e in &own {
        text.extend(
            journal::encode_line(e)
                .map_err(|e| io("write", e))?
                .into_bytes(),
        );
        text.push(b'\n');
    }
    file.write_all(&text).map_err(|e| io("write", e))?;
    file.sync_data().map_err(|e| io("write", e))?;
    for b in backups {
        copy_backup(&parent_dir, &run_dir, &b)?;
    }
    let mut warnings: Vec<String> = notes
        .into_iter()
        .map(|n| n.trim_start_matches("note: ").to_string())
        .collect();
    let later_changes = replay
        .events
        .iter()
        .filter(|e| e.seq > cut && matches!(e.event, Event::FileChanged { .. }))
        .count();
    if later_changes > 0 {
        warnings.push(format!(
            "the workspace is shared with run {parent}: {later_changes} file changes it made \
             after event {cut} are still there (roll them back in the parent first if the fork \
             should not see them)"
        ));
    }
    Ok(Forked {
        run_id,
        run_dir,
        parent,
        at_seq: cut,
        warnings,
    })
}

/// A backup path from the journal, copied only when it stays inside the run directory.
fn copy_backup(from_dir: &Path, to_dir: &Path, rel: &str) -> Result<(), ForkError> {
    let rel_path = Path::new(rel);
    let inside = rel_path
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    let src = from_dir.join(rel_path);
    if !inside || !src.is_file() {
        return Ok(());
    }
    let dst = to_dir.join(rel_path);
    let io = |source| ForkError::Io {
        action: "copy the backup",
        path: src.clone(),
        source,
    };
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    fs::copy(&src, &dst).map_err(io)?;
    Ok(())
}

/// A fresh run id and its (empty) directory.
fn new_dir(runs: &Path) -> Result<(String, PathBuf), ForkError> {
    let io = |source| ForkError::Io {
        action: "create a run directory in",
        path: runs.to_path_buf(),
        source,
    };
    fs::create_dir_all(runs).map_err(io)?;
    for _ in 0..8 {
        let id = journal::new_run_id();
        let dir = runs.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other("no free run id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_points_parse() {
        assert_eq!("42".parse(), Ok(ForkPoint::Seq(42)));
        assert_eq!("d3".parse(), Ok(ForkPoint::Decision(3)));
        assert!("d0".parse::<ForkPoint>().is_err());
        assert!("0".parse::<ForkPoint>().is_err());
        assert!("x".parse::<ForkPoint>().is_err());
    }
}
