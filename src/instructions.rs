//! Project instructions: the `AGENTS.md` (Codex's convention) and `CLAUDE.md` files of a
//! workspace, read once when a run starts or resumes, for the orchestrator's and every
//! worker's prompt.
//!
//! Owns: which files count (those two names, at the workspace root and in nested
//! directories), the bounds of the search and of what is read, and the summary the front
//! ends show (file names and sizes). A leaf: imports nothing of Baton's.
//!
//! The text is read as it is (nothing is sanitised here) and is untrusted: the prompt
//! renders it as quoted instructions from the repository, clearly delimited
//! (`engine::prompts::project_instructions`); a front end shows only names and sizes, and
//! sanitises the names.
//!
//! Decisions (see docs/instructions.md):
//! - Walked breadth-first in path order, root first; `.gitignore`d paths, hidden
//!   directories (`.git` among them) and build/dependency directories (`target`,
//!   `node_modules`, ...) are skipped; at most [`MAX_DEPTH`] levels and [`MAX_ENTRIES`]
//!   directory entries are looked at.
//! - Each file is read up to [`MAX_FILE_BYTES`], all of them together up to
//!   [`MAX_TOTAL_BYTES`], at most [`MAX_FILES`] files; what is cut is said (a note, and
//!   `truncated` on the file).
//! - A symbolic link counts only when it points to a file inside the workspace, and a file
//!   reached twice (`CLAUDE.md -> AGENTS.md`) is given once.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The file names that hold project instructions, in the order they are given per directory.
pub const FILE_NAMES: &[&str] = &["AGENTS.md", "CLAUDE.md"];
/// At most this many bytes of one file are read.
pub const MAX_FILE_BYTES: usize = 32 * 1024;
/// At most this many bytes of all files together.
pub const MAX_TOTAL_BYTES: usize = 64 * 1024;
/// At most this many files.
pub const MAX_FILES: usize = 16;
/// Directories deeper than this below the workspace root are not searched.
pub const MAX_DEPTH: usize = 6;
/// At most this many directory entries are looked at (a huge tree is not walked to the end).
pub const MAX_ENTRIES: usize = 50_000;
/// Directories never searched: build output and dependencies (hidden ones are skipped too).
pub const SKIPPED_DIRS: &[&str] = &[
    "target",
    "node_modules",
    "vendor",
    "dist",
    "build",
    "__pycache__",
    "venv",
];

/// One instruction file as given to the models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionFile {
    /// Relative to the workspace root, with `/` separators (`AGENTS.md`, `web/CLAUDE.md`).
    pub path: String,
    /// The file's size on disk, in bytes.
    pub size: u64,
    /// The text read (invalid UTF-8 replaced), at most [`MAX_FILE_BYTES`].
    pub text: String,
    /// Only the beginning of the file was read.
    pub truncated: bool,
}

/// The instruction files of a workspace and what the person should know about the reading.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectInstructions {
    pub files: Vec<InstructionFile>,
    /// Files cut or left out, limits reached, files that could not be read.
    pub notes: Vec<String>,
}

/// What a front end shows of one file: its name and size, never its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstructionSummary {
    pub path: String,
    pub size: u64,
    pub truncated: bool,
}

impl ProjectInstructions {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Names and sizes, in the order the models get them.
    pub fn summary(&self) -> Vec<InstructionSummary> {
        self.files
            .iter()
            .map(|f| InstructionSummary {
                path: f.path.clone(),
                size: f.size,
                truncated: f.truncated,
            })
            .collect()
    }
}

fn skipped_dir(name: &str) -> bool {
    SKIPPED_DIRS.contains(&name)
}

/// Candidate files under `root`, root first, then by depth and path.
fn find(root: &Path, notes: &mut Vec<String>) -> Vec<(usize, PathBuf)> {
    let walker = ignore::WalkBuilder::new(root)
        .max_depth(Some(MAX_DEPTH))
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .parents(false)
        .follow_links(false)
        .filter_entry(|e| {
            e.depth() == 0
                || !e.file_type().is_some_and(|t| t.is_dir())
                || !e.file_name().to_str().is_some_and(skipped_dir)
        })
        .build();
    let mut found = Vec::new();
    for (seen, entry) in walker.enumerate() {
        if seen >= MAX_ENTRIES {
            notes.push(format!(
                "stopped looking for instruction files after {MAX_ENTRIES} entries"
            ));
            break;
        }
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            continue;
        }
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| FILE_NAMES.contains(&n))
        {
            found.push((entry.depth(), entry.into_path()));
        }
    }
    found.sort_by(|(da, a), (db, b)| {
        da.cmp(db)
            .then_with(|| a.parent().cmp(&b.parent()))
            .then_with(|| name_rank(a).cmp(&name_rank(b)))
    });
    found
}

fn name_rank(p: &Path) -> usize {
    p.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| FILE_NAMES.iter().position(|f| *f == n))
        .unwrap_or(FILE_NAMES.len())
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads at most `limit` bytes of `path`; `(text, size on disk, truncated)`.
fn read_capped(path: &Path, limit: usize) -> std::io::Result<(String, u64, bool)> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX);
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    let truncated = bytes.len() > limit;
    bytes.truncate(limit);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if truncated {
        // A character cut in two at the limit is dropped, not shown as a replacement.
        while text.ends_with('\u{FFFD}') {
            text.pop();
        }
    }
    Ok((text, size, truncated))
}

/// The instruction files of the workspace at `root`. Never fails: what cannot be read
/// becomes a note.
pub fn read(root: &Path) -> ProjectInstructions {
    let mut out = ProjectInstructions::default();
    let Ok(real_root) = root.canonicalize() else {
        out.notes
            .push(format!("cannot open the workspace {}", root.display()));
        return out;
    };
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut total = 0usize;
    for (_, path) in find(root, &mut out.notes) {
        let rel = relative(root, &path);
        let real = match path.canonicalize() {
            Ok(p) if p.starts_with(&real_root) && p.is_file() => p,
            Ok(_) => {
                out.notes.push(format!(
                    "{rel} skipped: it points outside the workspace or is not a file"
                ));
                continue;
            }
            Err(e) => {
                out.notes.push(format!("{rel} skipped: {e}"));
                continue;
            }
        };
        if !seen.insert(real) {
            continue;
        }
        if out.files.len() >= MAX_FILES {
            out.notes.push(format!(
                "{rel} and any later instruction files left out: at most {MAX_FILES} files"
            ));
            break;
        }
        let room = MAX_TOTAL_BYTES.saturating_sub(total);
        if room == 0 {
            out.notes.push(format!(
                "{rel} and any later instruction files left out: at most {} KiB in all",
                MAX_TOTAL_BYTES / 1024
            ));
            break;
        }
        match read_capped(&path, MAX_FILE_BYTES.min(room)) {
            Ok((text, size, truncated)) => {
                if truncated {
                    out.notes.push(format!(
                        "{rel}: only the first {} KiB of {size} bytes given to the models",
                        text.len() / 1024
                    ));
                }
                total = total.saturating_add(text.len());
                out.files.push(InstructionFile {
                    path: rel,
                    size,
                    text,
                    truncated,
                });
            }
            Err(e) => out.notes.push(format!("{rel} skipped: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn paths(p: &ProjectInstructions) -> Vec<&str> {
        p.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn root_first_then_nested_and_build_dirs_and_ignored_paths_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "CLAUDE.md", "claude root");
        write(root, "AGENTS.md", "agents root");
        write(root, "web/AGENTS.md", "web rules");
        write(root, "a/b/CLAUDE.md", "deep rules");
        write(root, "target/AGENTS.md", "build output");
        write(root, "node_modules/x/AGENTS.md", "dependency");
        write(root, ".git/AGENTS.md", "git internals");
        write(root, "secret/AGENTS.md", "ignored");
        write(root, ".gitignore", "secret/\n");
        write(root, "README.md", "not instructions");
        let p = read(root);
        assert_eq!(
            paths(&p),
            ["AGENTS.md", "CLAUDE.md", "web/AGENTS.md", "a/b/CLAUDE.md"]
        );
        assert_eq!(p.files[0].text, "agents root");
        assert_eq!(p.files[0].size, 11);
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn a_big_file_is_cut_at_the_per_file_limit_and_the_total_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let big = "é".repeat(MAX_FILE_BYTES); // two bytes each: twice the limit
        write(root, "AGENTS.md", &big);
        write(root, "x/AGENTS.md", &big);
        write(root, "y/AGENTS.md", &big);
        let p = read(root);
        assert_eq!(paths(&p), ["AGENTS.md", "x/AGENTS.md"]);
        assert!(p.files[0].truncated);
        assert_eq!(p.files[0].size, u64::try_from(big.len()).unwrap());
        assert!(p.files[0].text.len() <= MAX_FILE_BYTES);
        assert!(p.files[0].text.chars().all(|c| c == 'é'));
        let total: usize = p.files.iter().map(|f| f.text.len()).sum();
        assert!(total <= MAX_TOTAL_BYTES);
        assert!(
            p.notes.iter().any(|n| n.contains("y/AGENTS.md")),
            "{:?}",
            p.notes
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_count_once_and_only_inside_the_workspace() {
        let outside = tempfile::tempdir().unwrap();
        write(outside.path(), "AGENTS.md", "from elsewhere");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "AGENTS.md", "agents root");
        std::os::unix::fs::symlink(root.join("AGENTS.md"), root.join("CLAUDE.md")).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("AGENTS.md"), root.join("sub/AGENTS.md"))
            .unwrap();
        let p = read(root);
        assert_eq!(paths(&p), ["AGENTS.md"]);
        assert!(
            p.notes.iter().any(|n| n.contains("sub/AGENTS.md")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn a_missing_workspace_gives_a_note_and_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = read(&dir.path().join("absent"));
        assert!(p.is_empty());
        assert_eq!(p.notes.len(), 1);
    }
}
