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

// ------------------------------------------------------------------------------------------
// Protection: what workers may read and write inside the workspace
// ------------------------------------------------------------------------------------------

/// Version-control metadata directories (at any depth, so nested repositories count too):
/// read-only to workers, like Codex does. A `.git` *file* (a worktree's or a submodule's
/// pointer to its git directory) is read-only as well.
pub const VCS_DIRS: [&str; 3] = [".git", ".hg", ".svn"];

/// The protected patterns every workspace starts with (gitignore syntax): secrets that a
/// worker must not even read. The config's `protected` list adds to these; a `!pattern`
/// there takes one back out.
pub const DEFAULT_PROTECTED: [&str; 9] = [
    ".env*",
    "*.pem",
    "*.key",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "id_ecdsa_sk",
    "id_ed25519_sk",
];

/// The rules for reading and writing inside the workspace, beyond confinement: version
/// control metadata is read-only, protected files are neither readable nor writable.
/// Rules are checked on the *resolved* workspace-relative path, so a symbolic link inside
/// the workspace cannot reach a protected file under another name.
#[derive(Debug, Clone)]
pub struct Protection {
    matcher: ignore::gitignore::Gitignore,
}

impl Protection {
    /// The default patterns plus `extra` (gitignore syntax, relative to the workspace
    /// root). An invalid pattern is an error naming it.
    pub fn new(extra: &[String]) -> Result<Protection, ToolError> {
        let mut builder = ignore::gitignore::GitignoreBuilder::new("");
        for pattern in DEFAULT_PROTECTED
            .iter()
            .copied()
            .chain(extra.iter().map(|s| s.as_str()))
        {
            builder.add_line(None, pattern).map_err(|e| {
                ToolError::Invalid(format!("protected pattern `{pattern}` is not valid: {e}"))
            })?;
        }
        let matcher = builder
            .build()
            .map_err(|e| ToolError::Invalid(format!("protected patterns are not valid: {e}")))?;
        Ok(Protection { matcher })
    }

    /// Whether `rel` (workspace-relative, `/`-separated) is protected: not readable, not
    /// writable. A file inside a protected directory is protected too.
    pub fn is_protected(&self, rel: &str, is_dir: bool) -> bool {
        if rel == "." || rel.is_empty() {
            return false;
        }
        let path = Path::new(rel);
        if path.has_root() {
            // Never the case for a resolved path; refuse rather than guess.
            return true;
        }
        self.matcher
            .matched_path_or_any_parents(path, is_dir)
            .is_ignore()
    }

    /// Refuses reading a protected file, saying why.
    pub fn check_read(&self, rel: &str, is_dir: bool) -> Result<(), ToolError> {
        if self.is_protected(rel, is_dir) {
            return Err(ToolError::Denied(format!(
                "`{rel}` is protected (it may hold secrets: keys, tokens, `.env` files); \
                 workers cannot read or change it. Do not try another way to reach it; \
                 say in your report if you needed it."
            )));
        }
        Ok(())
    }

    /// Refuses changing version-control metadata or a protected file, saying why.
    pub fn check_write(&self, rel: &str, is_dir: bool) -> Result<(), ToolError> {
        if let Some(vcs) = vcs_component(rel) {
            return Err(ToolError::Denied(format!(
                "`{rel}` is version-control metadata (`{vcs}`), which is read-only to workers: \
                 changing it could run code the next time someone uses {tool}. Nothing was \
                 written; change the project's files instead, or say in your report what \
                 should change there.",
                tool = match vcs {
                    ".hg" => "Mercurial",
                    ".svn" => "Subversion",
                    _ => "git",
                }
            )));
        }
        self.check_read(rel, is_dir)
    }
}

/// The version-control metadata name (`.git`, `.hg`, `.svn`) that `rel` is or lies under,
/// compared without case (case-insensitive file systems).
pub fn vcs_component(rel: &str) -> Option<&'static str> {
    rel.split('/').find_map(|part| {
        VCS_DIRS
            .iter()
            .copied()
            .find(|vcs| part.eq_ignore_ascii_case(vcs))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_control_metadata_is_found_at_any_depth() {
        assert_eq!(vcs_component(".git/config"), Some(".git"));
        assert_eq!(vcs_component("sub/.git"), Some(".git"));
        assert_eq!(vcs_component("a/.HG/hgrc"), Some(".hg"));
        assert_eq!(vcs_component("a/.svn"), Some(".svn"));
        assert_eq!(vcs_component(".gitignore"), None);
        assert_eq!(vcs_component("src/git/mod.rs"), None);
    }

    #[test]
    fn default_and_extra_patterns_protect() {
        let p = Protection::new(&["secrets/".to_string(), "!*.key".to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        for rel in [
            ".env",
            ".env.local",
            "app/.env.production",
            "certs/server.pem",
        ] {
            assert!(p.is_protected(rel, false), "{rel}");
        }
        assert!(p.is_protected("home/.ssh/id_ed25519", false));
        assert!(!p.is_protected("home/.ssh/id_ed25519.pub", false));
        assert!(p.is_protected("secrets/token.txt", false));
        assert!(
            !p.is_protected("tls/server.key", false),
            "`!*.key` takes it back out"
        );
        assert!(!p.is_protected("src/environment.rs", false));
        assert!(!p.is_protected(".", true));
        assert!(p.check_write(".git/hooks/pre-commit", false).is_err());
        assert!(p.check_read(".git/config", false).is_ok());
        assert!(Protection::new(&["{a".to_string()]).is_err());
    }
}
