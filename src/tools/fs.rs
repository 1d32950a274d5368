//! The reading tools' work on the file system: `list_dir` and `read_file`, plus the text
//! edits `edit_file` computes (pure string replacement).
//!
//! Must not write files (writes go through [`super::changes`] so they are recorded) and
//! must not resolve paths itself (callers pass [`Resolved`] paths from [`super::paths`]).

use std::path::Path;

use ignore::WalkBuilder;

use super::error::{ToolError, io_error};
use super::paths::{Resolved, Root};
use super::text::thousands;

/// Most entries `list_dir` returns.
pub const MAX_LIST_ENTRIES: usize = 500;
/// Files larger than this are not read whole (a line range is still refused beyond it).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A walker over `dir` that respects .gitignore (also outside git repositories), shows
/// hidden files but never the `.git` directory, and never follows symlinks.
pub fn walker(dir: &Path, max_depth: Option<usize>) -> WalkBuilder {
    let mut builder = WalkBuilder::new(dir);
    builder
        .hidden(false)
        .follow_links(false)
        .require_git(false)
        .git_global(false)
        .max_depth(max_depth)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|entry| entry.file_name() != ".git");
    builder
}

/// `list_dir`: the entries under `dir`, up to `depth` levels.
pub fn list_dir(root: &Root, dir: &Resolved, depth: u32) -> Result<(String, usize), ToolError> {
    if !dir.exists {
        return Err(ToolError::Invalid(format!(
            "`{}` does not exist; list its parent directory to see what is there",
            dir.rel
        )));
    }
    if !dir.abs.is_dir() {
        return Err(ToolError::Invalid(format!(
            "`{}` is a file, not a directory; use read_file to read it",
            dir.rel
        )));
    }
    let depth = depth.clamp(1, 10) as usize;
    let mut lines = Vec::new();
    let mut total = 0usize;
    for entry in walker(&dir.abs, Some(depth)).build() {
        let entry = match entry {
            Ok(e) => e,
            Err(_) => continue,
        };
        if entry.depth() == 0 {
            continue;
        }
        total += 1;
        if lines.len() >= MAX_LIST_ENTRIES {
            continue;
        }
        let rel = root.rel(entry.path());
        let line = match entry.file_type() {
            Some(t) if t.is_dir() => format!("{rel}/"),
            Some(t) if t.is_symlink() => format!("{rel} (symbolic link)"),
            _ => {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                format!("{rel} ({} bytes)", thousands(size))
            }
        };
        lines.push(line);
    }
    let mut out = format!(
        "{}/ ({} entries, depth {depth})\n",
        dir.rel,
        thousands(total as u64)
    );
    if lines.is_empty() {
        out.push_str("(empty)\n");
    }
    for line in &lines {
        out.push_str(line);
        out.push('\n');
    }
    if total > lines.len() {
        out.push_str(&format!(
            "… {} more entries cut; list a subdirectory or use a smaller depth\n",
            thousands((total - lines.len()) as u64)
        ));
    }
    Ok((out, total))
}

/// Reads a whole regular file's bytes (refusing directories, huge files).
pub fn read_bytes(file: &Resolved) -> Result<Vec<u8>, ToolError> {
    if !file.exists {
        return Err(ToolError::Invalid(format!(
            "`{}` does not exist; use list_dir or search to find the right path",
            file.rel
        )));
    }
    let meta = std::fs::metadata(&file.abs).map_err(|e| io_error(&file.rel, "read", &e))?;
    if meta.is_dir() {
        return Err(ToolError::Invalid(format!(
            "`{}` is a directory; use list_dir to see its entries",
            file.rel
        )));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ToolError::Invalid(format!(
            "`{}` is {} bytes, too large to read; use search to find the part you need",
            file.rel,
            thousands(meta.len())
        )));
    }
    std::fs::read(&file.abs).map_err(|e| io_error(&file.rel, "read", &e))
}

/// Whether bytes look like a binary file (a NUL in the first 8 KiB).
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|&b| b == 0)
}

/// What `read_file` shows: the text to give the model and the summary details.
pub struct ReadView {
    pub content: String,
    pub total_lines: usize,
    pub first: usize,
    pub last: usize,
    pub cut: bool,
}

/// `read_file`'s view of `text`: the requested line range (1-based, inclusive), cut to
/// `cap` bytes with a note saying how to read on.
pub fn read_view(
    rel: &str,
    text: &str,
    start_line: Option<u64>,
    end_line: Option<u64>,
    cap: usize,
) -> Result<ReadView, ToolError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let total = lines.len();
    let start = start_line.unwrap_or(1).max(1) as usize;
    let end = end_line.map(|e| e as usize).unwrap_or(total).min(total);
    if total == 0 {
        return Ok(ReadView {
            content: format!("{rel} (empty file)\n"),
            total_lines: 0,
            first: 0,
            last: 0,
            cut: false,
        });
    }
    if start > total {
        return Err(ToolError::Invalid(format!(
            "start_line {start} is past the end of `{rel}`, which has {} lines",
            thousands(total as u64)
        )));
    }
    if end < start {
        return Err(ToolError::Invalid(format!(
            "end_line {} is before start_line {start}",
            end_line.unwrap_or(0)
        )));
    }
    let mut body = String::new();
    let mut last = start - 1;
    for line in &lines[start - 1..end] {
        if !body.is_empty() && body.len() + line.len() > cap {
            break;
        }
        if line.len() > cap {
            // One enormous line: keep its start.
            let mut cut_at = cap;
            while !line.is_char_boundary(cut_at) {
                cut_at -= 1;
            }
            body.push_str(&line[..cut_at]);
            body.push_str(" … (line cut)\n");
        } else {
            body.push_str(line);
        }
        last += 1;
    }
    let whole = start == 1 && last == total;
    let header = if whole {
        format!("{rel} ({} lines)\n", thousands(total as u64))
    } else {
        format!(
            "{rel} lines {start}-{last} of {}\n",
            thousands(total as u64)
        )
    };
    let mut content = header;
    content.push_str(&body);
    if !content.ends_with('\n') {
        content.push_str("\n(no newline at end of file)\n");
    }
    let cut = last < end;
    if cut {
        content.push_str(&format!(
            "… {} more lines cut (output cap {} bytes); use start_line={} to read on\n",
            thousands((end - last) as u64),
            thousands(cap as u64),
            last + 1
        ));
    }
    Ok(ReadView {
        content,
        total_lines: total,
        first: start,
        last,
        cut,
    })
}

/// `edit_file`'s replacement: the new text, and how many occurrences were replaced.
pub fn replace_exact(
    rel: &str,
    text: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(String, usize), ToolError> {
    if old.is_empty() {
        return Err(ToolError::Invalid(
            "old_string is empty; give the exact text to replace (use write_file to write a whole file)"
                .to_string(),
        ));
    }
    if old == new {
        return Err(ToolError::Invalid(
            "old_string and new_string are the same; nothing would change".to_string(),
        ));
    }
    let count = text.matches(old).count();
    if count == 0 {
        return Err(ToolError::Invalid(format!(
            "old_string was not found in `{rel}`; read the file again and copy the text exactly \
             (whitespace and indentation included)"
        )));
    }
    if count > 1 && !replace_all {
        return Err(ToolError::Invalid(format!(
            "old_string occurs {count} times in `{rel}`; include more surrounding lines to make \
             it unique, or set replace_all to replace all {count}"
        )));
    }
    let replaced = if replace_all {
        text.replace(old, new)
    } else {
        text.replacen(old, new, 1)
    };
    Ok((replaced, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_view_ranges_and_caps() {
        let text: String = (1..=10).map(|i| format!("l{i}\n")).collect();
        let v = read_view("f", &text, Some(3), Some(4), 1000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.content, "f lines 3-4 of 10\nl3\nl4\n");
        let v = read_view("f", &text, None, None, 9).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.cut);
        assert!(v.content.contains("use start_line=4"), "{}", v.content);
        assert!(read_view("f", &text, Some(11), None, 100).is_err());
    }

    #[test]
    fn replace_exact_counts() {
        assert!(replace_exact("f", "a a", "b", "c", false).is_err());
        let e = replace_exact("f", "a a", "a", "c", false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("2 times"), "{e}");
        assert_eq!(
            replace_exact("f", "a a", "a", "c", true).ok(),
            Some(("c c".to_string(), 2))
        );
    }
}
