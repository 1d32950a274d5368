//! One writer per run: an exclusive advisory lock on `<run dir>/lock`, held by the process
//! that appends to the run's journal for as long as it may append.
//!
//! The lock file holds the holder's process id (written after the lock is taken), so a
//! second `baton resume` can say which process has the run. The lock is the operating
//! system's (`flock` on unix, `LockFileEx` on Windows): it goes away with the process,
//! however it ends (`kill -9` included), so a stale lock file never blocks a run; its pid
//! text is only read while the lock is held by someone.
//!
//! Crate: `fs4` (not `fd-lock`): its `FileExt::try_lock` works on a plain `File` we own
//! and keep in a struct, where `fd-lock`'s guard borrows its `RwLock` and would make the
//! lock a self-referential field. Called as `fs4::FileExt::try_lock(&file)`
//! on purpose: Rust 1.89's inherent `File::try_lock` has the same name, and the crate's
//! `rust-version` is older than that.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the lock inside a run directory.
pub const LOCK_FILE: &str = "lock";

/// The run's writer lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the run is open in another Baton process{}; only one process may write a run (lock: {path})",
        holder.map(|p| format!(" (process {p})")).unwrap_or_default(),
        path = path.display()
    )]
    Held { holder: Option<u32>, path: PathBuf },
    #[error("cannot lock the run ({path}): {source}", path = path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl RunLock {
    /// Takes the lock of the run in `run_dir` without waiting, and records this process's
    /// id in it. Fails with [`LockError::Held`] (naming the holder's pid when known) if
    /// another process holds it.
    pub fn acquire(run_dir: &Path) -> Result<RunLock, LockError> {
        let path = run_dir.join(LOCK_FILE);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io_err)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    holder: read_pid(&mut file),
                    path,
                });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(io_err)?;
        Ok(RunLock { path, _file: file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid the holder wrote, if it has yet (it writes just after taking the lock).
fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        match RunLock::acquire(dir.path()) {
            Err(LockError::Held { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()));
            }
            other => panic!("{other:?}"),
        }
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }
}
