//! Confinement: turns a path a model wrote into a real path inside the workspace, or
//! refuses it.
//!
//! Rules: paths are relative to the workspace root (an absolute path is accepted only when
//! it lies under the root); `..` may not climb above the root; the longest existing prefix
//! of the path is canonicalized (which resolves every symlink in it, file or directory) and
//! must still lie under the canonical root, so a symlink that leads outside is refused,
//! never followed. Paths shown to the model are workspace-relative with `/`.
//!
//! Must not read or write file contents.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::error::ToolError;

/// The workspace root, canonicalized once.
#[derive(Debug, Clone)]
pub struct Root {
    /// As given (an absolute path the model may echo back).
    given: PathBuf,
    canon: PathBuf,
}

/// A confined path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The real path (canonical prefix + the not-yet-existing rest).
    pub abs: PathBuf,
    /// Workspace-relative, `/`-separated; `.` for the root.
    pub rel: String,
    /// Whether the path exists now.
    pub exists: bool,
}

impl Root {
    /// Opens a workspace root: it must exist and be a directory.
    pub fn open(dir: &Path) -> Result<Root, ToolError> {
        let canon = dir.canonicalize().map_err(|e| {
            ToolError::Io(format!(
                "workspace `{}` cannot be opened: {e}; pass an existing directory to --workspace",
                dir.display()
            ))
        })?;
        if !canon.is_dir() {
            return Err(ToolError::Io(format!(
                "workspace `{}` is not a directory; pass a directory to --workspace",
                dir.display()
            )));
        }
        let given = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|cwd| cwd.join(dir))
                .unwrap_or_else(|_| canon.clone())
        };
        Ok(Root { given, canon })
    }

    /// The canonical root directory.
    pub fn path(&self) -> &Path {
        &self.canon
    }

    /// Resolves `input` (as the model wrote it) inside the workspace.
    pub fn resolve(&self, input: &str) -> Result<Resolved, ToolError> {
        let trimmed = input.trim();
        let shown = if trimmed.is_empty() { "." } else { trimmed };
        if shown.contains('\0') {
            return Err(ToolError::Invalid(format!(
                "path `{}` contains a NUL byte",
                shown.replace('\0', "\\0")
            )));
        }
        let raw = Path::new(shown);
        let relative: PathBuf = if raw.is_absolute() {
            let inside = raw
                .strip_prefix(&self.canon)
                .or_else(|_| raw.strip_prefix(&self.given));
            match inside {
                Ok(rest) => rest.to_path_buf(),
                Err(_) => {
                    return Err(ToolError::Outside(format!(
                        "`{shown}` is outside the workspace; use a path relative to the workspace root"
                    )));
                }
            }
        } else {
            raw.to_path_buf()
        };

        let mut parts: Vec<OsString> = Vec::new();
        for component in relative.components() {
            match component {
                Component::CurDir => {}
                Component::Normal(name) => parts.push(name.to_os_string()),
                Component::ParentDir => {
                    if parts.pop().is_none() {
                        return Err(ToolError::Outside(format!(
                            "`{shown}` leads outside the workspace (`..` above the root); \
                             use a path inside the workspace"
                        )));
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(ToolError::Outside(format!(
                        "`{shown}` is outside the workspace; use a path relative to the workspace root"
                    )));
                }
            }
        }

        // Longest prefix that exists (a dangling symlink counts as existing).
        let mut existing = parts.len();
        loop {
            let candidate = join_parts(&self.canon, &parts[..existing]);
            if existing == 0 || std::fs::symlink_metadata(&candidate).is_ok() {
                break;
            }
            existing -= 1;
        }
        let prefix = join_parts(&self.canon, &parts[..existing]);
        let real = prefix.canonicalize().map_err(|e| {
            ToolError::Outside(format!(
                "`{shown}` goes through `{}`, which cannot be resolved ({e}); \
                 symbolic links are not followed unless they stay inside the workspace",
                rel_display(&self.canon, &prefix)
            ))
        })?;
        if !real.starts_with(&self.canon) {
            return Err(ToolError::Outside(format!(
                "`{shown}` leads outside the workspace through a symbolic link (`{}`); \
                 refusing to follow it",
                rel_display(&self.canon, &prefix)
            )));
        }
        let abs = join_parts(&real, &parts[existing..]);
        let rel = rel_display(&self.canon, &abs);
        Ok(Resolved {
            abs,
            rel,
            exists: existing == parts.len(),
        })
    }

    /// Workspace-relative display of a real path under the root.
    pub fn rel(&self, abs: &Path) -> String {
        rel_display(&self.canon, abs)
    }
}

fn join_parts(base: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = base.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

fn rel_display(root: &Path, abs: &Path) -> String {
    match abs.strip_prefix(root) {
        Ok(rest) if rest.as_os_str().is_empty() => ".".to_string(),
        Ok(rest) => rest
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => abs.display().to_string(),
    }
}
