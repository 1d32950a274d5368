//! The change record: what each worker saw of each file (for conflict detection), the
//! backups of originals in the run directory, and rollback of a subtask's changes.
//!
//! Rules (see docs/tools.md): a worker (subtask + attempt) may write a file only if the
//! file does not exist yet, or if it has read it (or last wrote it) and the file has not
//! changed since. Before the first change of a file by a subtask, the original bytes are
//! copied to `<run_dir>/backups/<subtask>/<n>-<flattened path>`. Rollback restores exact
//! bytes from the backup of the earliest change, or removes a file the subtask created.
//! Rollback is two calls: `check_rollback` (changes nothing) before the engine journals
//! `rollback_started`, then `rollback` (idempotent: finishes an interrupted one).
//!
//! Must not journal anything itself (the workspace records events through the `ToolHost`)
//! and must not resolve paths from the model (callers pass confined paths).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::protocol::SubtaskId;
use crate::state::FileChange;

use super::error::{ToolError, io_error};
use super::paths::Root;

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The hash of a file now (`None`: it does not exist).
pub fn current_hash(path: &Path) -> Result<Option<String>, std::io::Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(sha256_hex(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a worker may change a file, judged from what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Ok,
    /// The file exists and this worker never read it; `writer` is the other worker of
    /// this run that last wrote it, if any (then it is a conflict between workers).
    NotRead {
        writer: Option<(SubtaskId, u32)>,
    },
    /// The file changed since this worker read or wrote it.
    Changed {
        seen: Option<String>,
        now: Option<String>,
    },
}

#[derive(Default)]
struct Record {
    /// (subtask, attempt, path) → the hash that worker last saw (`None`: absent).
    seen: HashMap<(SubtaskId, u32, String), Option<String>>,
    /// (subtask, path) → backup of the original, relative to the run dir (`None`: the
    /// subtask created the file).
    originals: HashMap<(SubtaskId, String), Option<String>>,
    /// Backups taken per subtask (for the `<n>` in backup names).
    counters: HashMap<SubtaskId, u32>,
    /// path → the worker (subtask, attempt) that last wrote it through a tool.
    writers: HashMap<String, (SubtaskId, u32)>,
}

/// The record of what workers saw and changed, shared by all workers of a run.
pub struct ChangeRecord {
    run_dir: PathBuf,
    inner: Mutex<Record>,
}

impl ChangeRecord {
    pub fn new(run_dir: PathBuf) -> ChangeRecord {
        ChangeRecord {
            run_dir,
            inner: Mutex::new(Record::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes that a worker saw `path` with hash `hash` (read it or wrote it).
    pub fn saw(&self, subtask: SubtaskId, attempt: u32, path: &str, hash: Option<String>) {
        self.lock()
            .seen
            .insert((subtask, attempt, path.to_string()), hash);
    }

    /// Notes that a worker wrote `path` (with hash `hash`, `None`: deleted it).
    pub fn wrote(&self, subtask: SubtaskId, attempt: u32, path: &str, hash: Option<String>) {
        let mut record = self.lock();
        record
            .seen
            .insert((subtask, attempt, path.to_string()), hash);
        record.writers.insert(path.to_string(), (subtask, attempt));
    }

    /// Whether `subtask`/`attempt` may change `path`, whose hash is `now`.
    pub fn freshness(
        &self,
        subtask: SubtaskId,
        attempt: u32,
        path: &str,
        now: &Option<String>,
    ) -> Freshness {
        let record = self.lock();
        match record.seen.get(&(subtask, attempt, path.to_string())) {
            None if now.is_none() => Freshness::Ok,
            None => Freshness::NotRead {
                writer: record
                    .writers
                    .get(path)
                    .copied()
                    .filter(|w| *w != (subtask, attempt)),
            },
            Some(seen) if seen == now => Freshness::Ok,
            Some(seen) => Freshness::Changed {
                seen: seen.clone(),
                now: now.clone(),
            },
        }
    }

    /// The backup of `path`'s original for `subtask`, taking it now if this is the
    /// subtask's first change of the file. `original` is the file's bytes before the change
    /// (`None`: it does not exist). Returns the backup path relative to the run dir.
    pub fn backup_original(
        &self,
        subtask: SubtaskId,
        path: &str,
        original: Option<&[u8]>,
    ) -> Result<Option<String>, ToolError> {
        let key = (subtask, path.to_string());
        if let Some(existing) = self.lock().originals.get(&key) {
            return Ok(existing.clone());
        }
        let backup = match original {
            None => None,
            Some(bytes) => {
                // Never overwrite a backup (a resumed run starts counting again).
                let rel = loop {
                    let n = {
                        let mut record = self.lock();
                        let counter = record.counters.entry(subtask).or_insert(0);
                        *counter += 1;
                        *counter
                    };
                    let rel = format!("backups/{}/{n}-{}", subtask.0, flatten(path));
                    if !self.run_dir.join(&rel).exists() {
                        break rel;
                    }
                };
                write_durably(&self.run_dir.join(&rel), bytes)
                    .map_err(|e| io_error(path, "back up", &e))?;
                Some(rel)
            }
        };
        self.lock().originals.insert(key, backup.clone());
        Ok(backup)
    }

    /// Checks that `changes` can be rolled back, changing nothing: every file still has the
    /// content the last of these changes left (else someone else's work would be lost) and
    /// every backup is there and intact. Returns the files a rollback restores, in
    /// first-touched order. Changes already rolled back are skipped.
    pub fn check_rollback(
        &self,
        root: &Root,
        changes: &[FileChange],
    ) -> Result<Vec<String>, String> {
        let plan = self.plan(root, changes)?;
        for step in &plan {
            let now = current_hash(&step.abs)
                .map_err(|e| format!("cannot roll back `{}`: reading it failed: {e}", step.path))?;
            if now != step.after {
                return Err(format!(
                    "`{path}` changed after subtask {id} last wrote it (by another subtask or \
                     by hand); rolling back would lose that work, so nothing was restored. \
                     Undo the later change first, or restore `{path}` by hand.",
                    path = step.path,
                    id = step.id
                ));
            }
        }
        Ok(plan.into_iter().map(|s| s.path).collect())
    }

    /// Restores the files `changes` touched to their state before the earliest change of
    /// each (exact bytes; created files removed), after [`ChangeRecord::check_rollback`]
    /// passed and the start was journaled. Idempotent, so an interrupted rollback can be
    /// finished: a file already back to its content before is left as it is. A file that
    /// is neither (changed by someone since) stops it before anything is changed.
    pub fn rollback(&self, root: &Root, changes: &[FileChange]) -> Result<Vec<String>, String> {
        let plan = self.plan(root, changes)?;
        // Which files still need restoring; check all first so that a refusal changes nothing.
        let mut todo = Vec::new();
        for step in &plan {
            let now = current_hash(&step.abs)
                .map_err(|e| format!("cannot roll back `{}`: reading it failed: {e}", step.path))?;
            if now == step.before {
                continue;
            }
            if now != step.after {
                return Err(format!(
                    "`{path}` is neither as subtask {id} left it nor as it was before; it \
                     changed during the rollback, so nothing more was restored. Put `{path}` \
                     back to either content to let the rollback finish.",
                    path = step.path,
                    id = step.id
                ));
            }
            todo.push(step);
        }
        let mut restored = Vec::new();
        for step in todo {
            let path = &step.path;
            match &step.backup {
                None => match std::fs::remove_file(&step.abs) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(partial(&restored, format!("removing `{path}` failed: {e}")));
                    }
                },
                Some(backup) => {
                    let bytes = self.backup_bytes(path, backup, step.before.as_deref())?;
                    if let Some(parent) = step.abs.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| {
                            partial(&restored, format!("restoring `{path}` failed: {e}"))
                        })?;
                    }
                    write_atomic(&step.abs, &bytes).map_err(|e| {
                        partial(&restored, format!("restoring `{path}` failed: {e}"))
                    })?;
                }
            }
            restored.push(path.clone());
        }
        // A later change by the same subtask (a retry) takes a fresh backup.
        let mut record = self.lock();
        for change in changes.iter().filter(|c| !c.rolled_back) {
            record.originals.remove(&(change.id, change.path.clone()));
        }
        Ok(plan.into_iter().map(|s| s.path).collect())
    }

    /// One step per file `changes` touched (first-touched order): where it is, what it
    /// was before the earliest change and after the latest, and its backup (checked to
    /// exist and match when the file existed before).
    fn plan(&self, root: &Root, changes: &[FileChange]) -> Result<Vec<Step>, String> {
        let mut order: Vec<&str> = Vec::new();
        let mut spans: HashMap<&str, (&FileChange, &FileChange)> = HashMap::new();
        for change in changes.iter().filter(|c| !c.rolled_back) {
            match spans.get_mut(change.path.as_str()) {
                Some(span) => span.1 = change,
                None => {
                    order.push(&change.path);
                    spans.insert(&change.path, (change, change));
                }
            }
        }
        let mut plan = Vec::new();
        for path in order {
            let Some((first, last)) = spans.get(path) else {
                continue;
            };
            let resolved = root
                .resolve(path)
                .map_err(|e| format!("cannot roll back `{path}`: {e}"))?;
            let backup = match &first.before {
                None => None,
                Some(before) => {
                    let Some(backup) = &first.backup else {
                        return Err(format!(
                            "no backup of `{path}` was recorded; nothing was restored"
                        ));
                    };
                    self.backup_bytes(path, backup, Some(before))?;
                    Some(backup.clone())
                }
            };
            plan.push(Step {
                path: path.to_string(),
                abs: resolved.abs,
                id: last.id,
                before: first.before.clone(),
                after: last.after.clone(),
                backup,
            });
        }
        Ok(plan)
    }

    /// The bytes of `path`'s backup, checked against the recorded hash of the original.
    fn backup_bytes(
        &self,
        path: &str,
        backup: &str,
        before: Option<&str>,
    ) -> Result<Vec<u8>, String> {
        let bytes = std::fs::read(self.run_dir.join(backup)).map_err(|e| {
            format!("the backup of `{path}` ({backup}) cannot be read: {e}; nothing was restored")
        })?;
        if before.is_some_and(|b| sha256_hex(&bytes) != b) {
            return Err(format!(
                "the backup of `{path}` ({backup}) does not match the recorded original; \
                 nothing was restored"
            ));
        }
        Ok(bytes)
    }
}

/// What rolling back does to one file.
struct Step {
    path: String,
    abs: PathBuf,
    /// The subtask of the latest change.
    id: SubtaskId,
    before: Option<String>,
    after: Option<String>,
    /// The backup of the original (`None`: the file did not exist, it is removed).
    backup: Option<String>,
}

fn partial(restored: &[String], error: String) -> String {
    if restored.is_empty() {
        error
    } else {
        format!("{error} (already restored: {})", restored.join(", "))
    }
}

/// `src/api.rs` → `src__api.rs` (backup file names).
fn flatten(path: &str) -> String {
    path.replace(['/', '\\'], "__")
}

/// Writes `bytes` to `path` (creating parents) and syncs it to disk.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes `bytes` to `path` so that a concurrent reader sees either the old or the new
/// content, never an empty or half-written file: write a temporary file beside it, keep the
/// old file's permissions, then rename over it.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.baton-{}-{n}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod atomic_write_tests {
    use super::write_atomic;

    #[test]
    fn replaces_content_keeps_permissions_and_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sh");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_atomic(&path, b"new content").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new content");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.sh")]);
    }
}
