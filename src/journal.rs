//! The run journal: one append-only JSONL file per run (`<data>/runs/<id>/journal.jsonl`),
//! one [`Envelope`] a line, written before the event is acted on; replay; the run index.
//!
//! Owns the on-disk format and the run directory layout. Must not interpret events beyond
//! folding them with [`State::fold`] for the run index: the rules live in `state`.
//!
//! Durability: [`Journal::append`] writes the whole line with one `write` call on an
//! unbuffered file, so when it returns the line is in the operating system's page cache.
//! That survives the process being killed (`kill -9`, a panic, a crash) but not a power
//! loss or a kernel crash. We do not `fsync` every event: a run appends thousands of events
//! and an `fsync` costs milliseconds on many disks, which would break the engine's
//! per-subtask budget. [`Journal::sync`] forces the file to disk; the engine calls it when a
//! run finishes or stops.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::protocol::{Envelope, Event, JOURNAL_VERSION, RunOutcome};
use crate::state::State;

/// File name of the journal inside a run directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// An open journal, appending.
pub struct Journal {
    pub path: PathBuf,
    file: File,
    last_seq: u64,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("last_seq", &self.last_seq)
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
            last_seq: 0,
        })
    }

    /// Opens an existing journal for appending (resume). A torn last line (the process died
    /// mid-write) is cut off first so the next event starts on a fresh line; the caller
    /// learns about it from [`replay`], which it should run before this.
    pub fn open_append(run_dir: &Path) -> io::Result<Journal> {
        let path = run_dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut keep = bytes.len();
        if !bytes.is_empty() && bytes[bytes.len() - 1] != b'\n' {
            let start = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            if serde_json::from_slice::<Envelope>(&bytes[start..]).is_ok() {
                // Complete record, only its newline is missing.
                file.seek(SeekFrom::End(0))?;
                file.write_all(b"\n")?;
            } else {
                keep = start;
                file.set_len(keep as u64)?;
            }
        }
        let last_seq = bytes[..keep]
            .split(|b| *b == b'\n')
            .rev()
            .filter(|l| !l.is_empty())
            .find_map(|l| serde_json::from_slice::<Envelope>(l).ok())
            .map_or(0, |e| e.seq);
        drop(file);
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Journal {
            path,
            file,
            last_seq,
        })
    }

    /// The sequence number of the last event written (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Appends one event: assigns `seq = last + 1`, `ts = now`, `v = JOURNAL_VERSION`,
    /// writes one JSON line with a single `write` and returns the envelope. O(1).
    pub fn append(&mut self, event: Event) -> io::Result<Envelope> {
        let envelope = Envelope {
            seq: self.last_seq + 1,
            ts: Utc::now(),
            v: JOURNAL_VERSION,
            event,
        };
        let mut line = serde_json::to_vec(&envelope).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.last_seq = envelope.seq;
        Ok(envelope)
    }

    /// Forces everything written so far to disk (`fsync`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// A journal read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    pub events: Vec<Envelope>,
    /// The last line was incomplete (the process died mid-write) and was left out.
    pub torn_line_dropped: bool,
    /// Lines that are not valid records, with their 1-based line number and the parse
    /// error. They are left out of `events` but never silently.
    pub corrupt_lines: Vec<(usize, String)>,
}

/// Reads a journal file. Never panics on bad content: a torn last line is tolerated and
/// reported, a corrupt line elsewhere is reported with its line number.
pub fn replay(path: &Path) -> io::Result<Replay> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut out = Replay::default();
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let complete = buf.last() == Some(&b'\n');
        let text = trim_line(&buf);
        if text.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Envelope>(text) {
            Ok(e) => out.events.push(e),
            Err(err) if !complete => {
                // The last line, without its newline: a write cut short.
                let _ = err;
                out.torn_line_dropped = true;
            }
            Err(err) => out.corrupt_lines.push((line_no, err.to_string())),
        }
    }
    Ok(out)
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let mut end = buf.len();
    while end > 0 && matches!(buf[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &buf[..end]
}

/// `<data_dir>/runs`.
pub fn runs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runs")
}

/// A new run id, sortable by time: `20261126-093012-7f3a`.
pub fn new_run_id() -> String {
    format!(
        "{}-{:04x}",
        Utc::now().format("%Y%m%d-%H%M%S"),
        fastrand::u16(..)
    )
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
}

impl RunStatus {
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Unfinished => "unfinished",
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
    /// Lines of the journal that could not be read.
    pub corrupt_lines: usize,
}

/// Every run under `<data_dir>/runs`, oldest first, each summarised by folding its journal.
/// Directories without a readable journal are skipped.
pub fn list_runs(data_dir: &Path) -> io::Result<Vec<RunSummary>> {
    let dir = runs_dir(data_dir);
    let mut ids = run_ids(&dir)?;
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        let run_dir = dir.join(&id);
        let Ok(r) = replay(&run_dir.join(JOURNAL_FILE)) else {
            continue;
        };
        let state = State::fold(&r.events);
        let status = match &state.outcome {
            Some(RunOutcome::Completed) => RunStatus::Completed,
            Some(RunOutcome::Failed { .. }) => RunStatus::Failed,
            Some(RunOutcome::Stopped { .. }) => RunStatus::Stopped,
            None => RunStatus::Unfinished,
        };
        out.push(RunSummary {
            id,
            dir: run_dir,
            started: state.started_at,
            task: state.task.clone(),
            status,
            subtasks: state.subtasks.len() as u32,
            cost_usd: state.cost_usd,
            cost_incomplete: state.unpriced_calls > 0,
            corrupt_lines: r.corrupt_lines.len(),
        });
    }
    Ok(out)
}

fn run_ids(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.path().join(JOURNAL_FILE).is_file() {
            if let Some(name) = entry.file_name().to_str() {
                ids.push(name.to_string());
            }
        }
    }
    Ok(ids)
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
