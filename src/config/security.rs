//! The configuration's security rules: where a workspace may not be (Baton's own config and
//! data directories, so a worker cannot plant a run or rewrite the config) and the warning
//! for a config file holding a key that other users can read (like ssh's for private keys).
//!
//! Must not print: problems are returned as text for the front ends.

use std::path::{Path, PathBuf};

use super::Config;

impl Config {
    /// Baton's own directories and files: `BATON_HOME`, the data directory (runs, logs), the
    /// config directory and the config file in use, and the platform's config and data
    /// directories of Baton (also when `BATON_HOME` points elsewhere).
    pub fn baton_locations(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        out.extend(self.paths.baton_home.clone());
        out.push(self.paths.data_dir.clone());
        out.push(self.paths.config_file.clone());
        if let Some(dir) = self.paths.config_file.parent()
            && self.paths.config_file.file_name() == Some("config.toml".as_ref())
        {
            out.push(dir.to_path_buf());
        }
        if let Some(dirs) = directories::ProjectDirs::from("dev", "baton", "baton") {
            out.push(dirs.config_dir().to_path_buf());
            out.push(dirs.data_dir().to_path_buf());
        }
        out
    }

    /// Refuses a workspace that contains, or lies inside, one of Baton's own locations: a
    /// worker could otherwise plant a forged run (`runs/<id>/journal.jsonl`) or rewrite the
    /// config, and the person's next `baton resume` would act on it.
    pub fn check_workspace_location(&self, workspace: &Path) -> Result<(), String> {
        let ws = real_path(workspace);
        for location in self.baton_locations() {
            let loc = real_path(&location);
            let problem = if loc.starts_with(&ws) {
                "contains"
            } else if ws.starts_with(&loc) {
                "is inside"
            } else {
                continue;
            };
            return Err(format!(
                "the workspace {} {problem} Baton's own files ({}); workers could change \
                 Baton's runs or configuration there. Choose a project directory that holds \
                 neither Baton's config nor its data (or move them with BATON_HOME)",
                workspace.display(),
                location.display()
            ));
        }
        Ok(())
    }
}

/// `path` with its longest existing prefix canonicalized (symbolic links resolved) and the
/// rest appended; made absolute against the current directory first.
fn real_path(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
}

/// A warning when the config file at `path` (which holds a key) can be read by the group
/// or others: `chmod 600` fixes it.
#[cfg(unix)]
pub(super) fn key_file_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o044 == 0 {
        return None;
    }
    Some(format!(
        "the config file {} holds an API key and can be read by other users (mode {:o}); \
         run `chmod 600 {}` or keep the key in the environment instead",
        path.display(),
        mode & 0o777,
        path.display()
    ))
}

#[cfg(not(unix))]
pub(super) fn key_file_warning(_path: &Path) -> Option<String> {
    None
}
