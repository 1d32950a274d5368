//! The run journal: one append-only JSONL file per run (`<data>/runs/<id>/journal.jsonl`),
//! one [`Envelope`] a line with its sequence number and a checksum, written before the
//! event is acted on; replay with damage detection; the run lock; the run index.
//!
//! Owns the on-disk format and the run directory layout (see docs/journal.md). Must not
//! interpret events beyond folding them with [`State::fold`] for the run index and knowing
//! which kinds are milestones: the rules live in the reducer.
//!
//! Durability: [`Journal::append`] encodes the line into a buffer in memory; the buffer
//! is written to the file (one `write` call for many lines) at every milestone, when it
//! grows past [`FLUSH_AT`] bytes, and whenever the owner calls [`Journal::flush`] (the
//! engine does before it waits for anything: once per turn of its loop, not once per
//! event). Milestones are written and forced to disk (`fsync`) before `append` returns:
//! a subtask finished (reported or failed), a file changed or rolled back, a rollback
//! started, a decision by a person, the run finished ([`is_milestone`]). Written lines are in the operating
//! system's page cache, which survives the process being killed (`kill -9`, a panic, a
//! crash) but not a power loss; lines still in the buffer when the process dies are lost
//! like an unfinished step. Both are re-derived on resume by running the interrupted step
//! again: non-milestone events (usage, tool transcript, phases, starts) never carry a
//! result anything depends on. [`Journal::sync`] writes the buffer and forces everything
//! to disk on demand; dropping the journal writes the buffer.
//!
//! Group commit: [`Journal::append_grouped`] appends a milestone without forcing it to disk
//! at once; [`Journal::commit`] then forces every such milestone with one `fsync`. The
//! engine uses it for the reports and failures of workers that finished together (one
//! batch of its loop) and commits before it acts on any of them (dispatches dependents,
//! starts a step, answers a task): the same durability, one `fsync` per batch instead of
//! one per worker. Any other milestone appended meanwhile forces the group with it.

mod index;
mod line;
mod lock;
mod replay;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::protocol::{Actor, Envelope, Event, JOURNAL_VERSION};

pub use index::{
    JournalError, RunStatus, RunSummary, inside_runs_dir, list_runs, resolve_run, runs_dir,
};
pub use lock::{LOCK_FILE, LockError, RunLock};
pub use replay::{Damage, DamageKind, Replay, replay};

/// Buffered bytes that force a write even before a milestone or a [`Journal::flush`].
pub const FLUSH_AT: usize = 64 * 1024;

/// File name of the journal inside a run directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// An open journal, appending.
pub struct Journal {
    pub path: PathBuf,
    file: File,
    /// Encoded lines not yet written to `file`.
    buf: Vec<u8>,
    last_seq: u64,
    /// Milestones appended with [`Journal::append_grouped`] not yet forced to disk.
    unsynced: bool,
    /// The run's writer lock, held as long as this journal may append (see [`RunLock`]).
    lock: Option<RunLock>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("last_seq", &self.last_seq)
            .field("locked", &self.lock.is_some())
            .finish()
    }
}

impl Journal {
    /// Creates the run directory and an empty `journal.jsonl` in it. Fails if the journal
    /// already exists (a run id is never reused).
    pub fn create(run_dir: &Path) -> io::Result<Journal> {
        fs::create_dir_all(run_dir)?;
        let path = run_dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        Ok(Journal {
            path,
            file,
            buf: Vec::new(),
            last_seq: 0,
            unsynced: false,
            lock: None,
        })
    }

    /// Opens an existing journal for appending (resume). A torn last line (the process died
    /// mid-write) is cut off first so the next event starts on a fresh line; the caller
    /// learns about it from [`replay`], which it must run (and refuse on damage) before this.
    pub fn open_append(run_dir: &Path) -> io::Result<Journal> {
        let path = run_dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut keep = bytes.len();
        if bytes.last().is_some_and(|b| *b != b'\n') {
            let start = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            if replay::is_record(&bytes[start..]) {
                // Complete record, only its newline is missing.
                file.seek(SeekFrom::End(0))?;
                file.write_all(b"\n")?;
            } else {
                keep = start;
                file.set_len(keep as u64)?;
            }
        }
        let last_seq = replay::last_seq_in(&bytes[..keep]);
        drop(file);
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Journal {
            path,
            file,
            buf: Vec::new(),
            last_seq,
            unsynced: false,
            lock: None,
        })
    }

    /// Keeps the run's writer lock for as long as this journal lives (the engine owns the
    /// journal, so the lock is released when the run's engine ends).
    pub fn hold(&mut self, lock: RunLock) {
        self.lock = Some(lock);
    }

    /// The sequence number of the last event written (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Appends one event: assigns `seq = last + 1`, `ts = now`, `v = JOURNAL_VERSION`,
    /// encodes one checksummed JSON line into the buffer; a milestone writes the buffer and
    /// forces it to disk before returning. Returns the envelope.
    pub fn append(&mut self, event: Event) -> io::Result<Envelope> {
        self.append_with(event, false)
    }

    /// Like [`Journal::append`], but a milestone is only written and forced to disk at the
    /// next [`Journal::commit`] (or any sync): one `fsync` for a group of milestones.
    pub fn append_grouped(&mut self, event: Event) -> io::Result<Envelope> {
        self.append_with(event, true)
    }

    /// Writes and forces to disk the milestones appended with [`Journal::append_grouped`]
    /// since the last sync (nothing when there are none).
    pub fn commit(&mut self) -> io::Result<()> {
        if self.unsynced { self.sync() } else { Ok(()) }
    }

    fn append_with(&mut self, event: Event, grouped: bool) -> io::Result<Envelope> {
        let envelope = Envelope {
            seq: self.last_seq + 1,
            ts: Utc::now(),
            v: JOURNAL_VERSION,
            event,
        };
        let bytes = line::encode(&envelope).map_err(io::Error::other)?;
        self.buf.extend_from_slice(&bytes);
        self.buf.push(b'\n');
        self.last_seq = envelope.seq;
        if is_milestone(&envelope.event) {
            if grouped {
                self.unsynced = true;
            } else {
                self.sync()?;
            }
        } else if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(envelope)
    }

    /// Writes the buffered lines to the file (one `write` call; no `fsync`).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.file.write_all(&self.buf);
        // On an error the file may hold a torn line; replay drops it. Never write it twice.
        self.buf.clear();
        r
    }

    /// Writes the buffered lines and forces everything to disk (`fsync`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.file.sync_data()?;
        self.unsynced = false;
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!("journal write on close failed: {e}");
        }
    }
}

/// Events forced to disk as they are written: a subtask finished, a file changed, a
/// branch merged (or not), rollback started or ended, a decision by a person, the run
/// finished.
pub fn is_milestone(event: &Event) -> bool {
    match event {
        Event::SubtaskReported { .. }
        | Event::SubtaskFailed { .. }
        | Event::FileChanged { .. }
        | Event::BranchMerged { .. }
        | Event::MergeConflicted { .. }
        | Event::RollbackStarted { .. }
        | Event::SubtaskRolledBack { .. }
        | Event::RunFinished { .. } => true,
        Event::ModeChosen { by, .. }
        | Event::SubtaskApproved { by, .. }
        | Event::SubtaskDeferred { by, .. }
        | Event::SubtaskUndeferred { by, .. }
        | Event::SubtaskEdited { by, .. }
        | Event::SubtaskCancelled { by, .. }
        | Event::RecoveryDecided { by, .. }
        | Event::SubtaskEscalated { by, .. }
        | Event::EscalationResolved { by, .. }
        | Event::WorkerSteered { by, .. }
        | Event::ScopeAlertResolved { by, .. }
        | Event::DispatchPaused { by }
        | Event::DispatchResumed { by }
        | Event::MaxWorkersChanged { by, .. }
        | Event::SettingsChanged { by, .. }
        | Event::CommandApprovalDecided { by, .. }
        | Event::PlanChangeDecided { by, .. } => *by == Actor::Person,
        _ => false,
    }
}

/// The journal line for `envelope` (checksum included, no newline): what `--json` prints.
pub fn encode_line(envelope: &Envelope) -> io::Result<String> {
    let bytes = line::encode(envelope).map_err(io::Error::other)?;
    String::from_utf8(bytes).map_err(io::Error::other)
}

/// A new run id, sortable by time: `20261126-093012-7f3a`.
pub fn new_run_id() -> String {
    format!(
        "{}-{:04x}",
        Utc::now().format("%Y%m%d-%H%M%S"),
        fastrand::u16(..)
    )
}
