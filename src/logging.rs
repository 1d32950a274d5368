//! Logging: `tracing` to one file in the data directory (`<data>/logs/baton.log`), through
//! a non-blocking writer, file mode 0600 on unix, filter from `--log-level` / `BATON_LOG` /
//! the config (default `baton=info`).
//!
//! Owns: installing the global subscriber once. Must never write to the terminal (the TUI
//! owns it, and headless output is for the user and scripts). What is logged is each
//! module's business; keys never are (they are `Secret`s).
//!
//! A log file that cannot be opened (a read-only data directory, a full disk) is not a
//! reason to refuse `runs`, `export` or `config`: [`LoggingError::is_fatal`] is false for
//! it, and `main` warns once on stderr and runs without a log. With the filter `off`
//! nothing is opened at all. Only a filter that does not parse is a usage error.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The log file's name inside the log directory.
pub const LOG_FILE_NAME: &str = "baton.log";

/// Logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("cannot create the log directory {path}: {source}", path = path.display())]
    Dir { path: PathBuf, source: io::Error },
    #[error("cannot open the log file {path}: {source}", path = path.display())]
    File { path: PathBuf, source: io::Error },
    #[error("invalid log filter `{filter}`: {message}")]
    Filter { filter: String, message: String },
    #[error("a logger is already installed")]
    AlreadyInstalled,
}

/// Opens (creating if needed) `<log_dir>/baton.log` for appending, owner-only on unix.
pub fn open_log_file(log_dir: &Path) -> Result<File, LoggingError> {
    create_private_dir(log_dir).map_err(|source| LoggingError::Dir {
        path: log_dir.to_path_buf(),
        source,
    })?;
    let path = log_dir.join(LOG_FILE_NAME);
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path).map_err(|source| LoggingError::File {
        path: path.clone(),
        source,
    })?;
    // An older file may have been created with wider permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|source| LoggingError::File { path, source })?;
    }
    Ok(file)
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

impl LoggingError {
    /// Only a bad filter stops the command (the person typed it); a log that cannot open
    /// is a warning and the command runs without it.
    pub fn is_fatal(&self) -> bool {
        matches!(self, LoggingError::Filter { .. })
    }
}

/// Installs the global subscriber writing to `<log_dir>/baton.log` with `filter`.
/// Keep the returned guard alive until exit: dropping it flushes the pending lines.
/// With the filter `off`, opens nothing and returns `None`.
pub fn init(log_dir: &Path, filter: &str) -> Result<Option<WorkerGuard>, LoggingError> {
    let env_filter = EnvFilter::builder()
        .parse(filter)
        .map_err(|e| LoggingError::Filter {
            filter: filter.to_string(),
            message: e.to_string(),
        })?;
    if filter.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let file = open_log_file(log_dir)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true)
        .with_env_filter(env_filter)
        .try_init()
        .map_err(|_| LoggingError::AlreadyInstalled)?;
    Ok(Some(guard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_is_created_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("data").join("logs");
        let file = open_log_file(&logs).unwrap();
        drop(file);
        let path = logs.join(LOG_FILE_NAME);
        assert!(path.is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
