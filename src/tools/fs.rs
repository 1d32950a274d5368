//! The reading tools' work on the file system: `list_dir` and `read_file` (streamed, so a
//! file of any size can be read in line ranges with bounded memory), plus the text edits
//! `edit_file` computes (pure string replacement).
//!
//! Must not write files (writes go through [`super::changes`] so they are recorded) and
//! must not resolve paths itself (callers pass [`Resolved`] paths from [`super::paths`]).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use ignore::WalkBuilder;

use super::error::{ToolError, io_error};
use super::paths::{Protection, Resolved, Root};
use super::text::thousands;

/// Most entries `list_dir` returns.
pub const MAX_LIST_ENTRIES: usize = 500;

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

/// `list_dir`: the entries under `dir`, up to `depth` levels. Protected entries are listed
/// (so a worker knows they exist) and marked as such.
pub fn list_dir(
    root: &Root,
    protection: &Protection,
    dir: &Resolved,
    depth: u32,
) -> Result<(String, usize), ToolError> {
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
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        let line = if protection.is_protected(&rel, is_dir) {
            let slash = if is_dir { "/" } else { "" };
            format!("{rel}{slash} (protected: workers cannot read or change it)")
        } else {
            match entry.file_type() {
                Some(t) if t.is_dir() => format!("{rel}/"),
                Some(t) if t.is_symlink() => format!("{rel} (symbolic link)"),
                _ => {
                    let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    format!("{rel} ({} bytes)", thousands(size))
                }
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

/// Whether bytes look like a binary file (a NUL in the first 8 KiB).
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|&b| b == 0)
}

/// Which lines `read_file` returns: `offset` is the first line (1-based), `limit` how many.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineRange {
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// What `read_file` read: the view for the model (`None` for a binary file), the file's
/// SHA-256 (for the freshness check of later writes) and its size.
pub struct FileRead {
    pub view: Option<ReadView>,
    pub sha256: String,
    pub bytes: u64,
}

/// What `read_file` shows: the text to give the model and the summary details.
#[derive(Debug)]
pub struct ReadView {
    pub content: String,
    pub total_lines: usize,
    pub first: usize,
    pub last: usize,
    pub cut: bool,
}

/// Reads a regular file for `read_file`, streaming: any size works, memory stays bounded by
/// `cap` (the whole file is scanned once to hash it and count its lines).
pub fn read_file(file: &Resolved, range: LineRange, cap: usize) -> Result<FileRead, ToolError> {
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
    let reader = std::fs::File::open(&file.abs).map_err(|e| io_error(&file.rel, "read", &e))?;
    read_stream(&file.rel, reader, range, cap)
}

/// [`read_file`] over any reader (tests feed bytes).
pub fn read_stream(
    rel: &str,
    mut reader: impl Read,
    range: LineRange,
    cap: usize,
) -> Result<FileRead, ToolError> {
    let cap = cap.max(1);
    let start = usize::try_from(range.offset.unwrap_or(1).max(1)).unwrap_or(usize::MAX);
    let end = match range.limit {
        Some(0) => {
            return Err(ToolError::Invalid(
                "limit must be at least 1 (the number of lines to read)".to_string(),
            ));
        }
        Some(n) => usize::try_from(n)
            .ok()
            .and_then(|n| start.checked_add(n - 1))
            .unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut body = String::new();
    let mut last = start - 1;
    let mut stopped = false;
    let wanted = |n: usize, stopped: bool| n >= start && n <= end && !stopped;
    // Inside the range a line is kept up to `cap + 1` bytes (enough to know it is too long).
    let mut lines = LineSplitter::new(if wanted(1, false) { cap + 1 } else { 0 });
    let mut on_line = |n: usize, kept: &[u8], len: usize| {
        if wanted(n, stopped) {
            stopped = !take_line(&mut body, kept, len, cap);
            if !stopped {
                last = n;
            }
        }
        if wanted(n + 1, stopped) { cap + 1 } else { 0 }
    };
    read_chunks(&mut reader, |chunk| {
        hasher.update(chunk);
        bytes += chunk.len() as u64;
        // A binary file is still hashed to its end (for the freshness of later writes).
        if !lines.is_binary(chunk) {
            lines.feed(chunk, &mut on_line);
        }
        true
    })
    .map_err(|e| io_error(rel, "read", &e))?;
    let sha256 = format!("{:x}", hasher.finalize());
    if lines.binary() {
        return Ok(FileRead {
            view: None,
            sha256,
            bytes,
        });
    }
    let total = lines.finish(&mut on_line);
    let span = Span {
        total,
        start,
        end: end.min(total),
        last,
    };
    let view = range_view(rel, body, span, range, cap)?;
    Ok(FileRead {
        view: Some(view),
        sha256,
        bytes,
    })
}

/// Reads `reader` chunk by chunk (64 KiB), retrying interrupted reads, until the end or
/// until `on_chunk` returns `false`.
pub fn read_chunks(
    mut reader: impl Read,
    mut on_chunk: impl FnMut(&[u8]) -> bool,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if !on_chunk(&buf[..n]) {
            return Ok(());
        }
    }
}

/// Splits a stream into lines chunk by chunk with bounded memory, for `read_file` and
/// `search`: of each line only as many bytes are kept as the caller asked for (the callback
/// that receives a line says how many to keep of the next).
pub struct LineSplitter {
    /// 1-based number of the line being read.
    number: usize,
    kept: Vec<u8>,
    keep: usize,
    len: usize,
    head_checked: usize,
    binary: bool,
}

impl LineSplitter {
    /// A splitter keeping up to `keep_first` bytes of the first line.
    pub fn new(keep_first: usize) -> LineSplitter {
        LineSplitter {
            number: 1,
            kept: Vec::new(),
            keep: keep_first,
            len: 0,
            head_checked: 0,
            binary: false,
        }
    }

    /// Checks the next chunk against the binary test (a NUL in the first 8 KiB); `true`
    /// once the stream looks binary.
    pub fn is_binary(&mut self, chunk: &[u8]) -> bool {
        if !self.binary && self.head_checked < 8192 {
            let look = (8192 - self.head_checked).min(chunk.len());
            self.binary = looks_binary(&chunk[..look]);
            self.head_checked += look;
        }
        self.binary
    }

    pub fn binary(&self) -> bool {
        self.binary
    }

    /// Feeds one chunk. At each line end calls `on_line(number, kept bytes, full length)`,
    /// which returns how many bytes of the next line to keep.
    pub fn feed(&mut self, chunk: &[u8], on_line: &mut impl FnMut(usize, &[u8], usize) -> usize) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (piece, ends_line) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[piece.len()..];
            self.len += piece.len();
            if self.kept.len() < self.keep {
                let room = self.keep - self.kept.len();
                self.kept.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            if ends_line {
                self.keep = on_line(self.number, &self.kept, self.len);
                self.kept.clear();
                self.len = 0;
                self.number += 1;
            }
        }
    }

    /// Ends the stream: a last line without a newline is passed to `on_line` too. Returns
    /// the number of lines.
    pub fn finish(self, on_line: &mut impl FnMut(usize, &[u8], usize) -> usize) -> usize {
        if self.len > 0 {
            on_line(self.number, &self.kept, self.len);
            self.number
        } else {
            self.number - 1
        }
    }
}

/// Adds one line (`kept` of its `len` bytes) to `body` unless that would pass `cap`;
/// `false` when the output is full. A line longer than `cap` alone keeps its start.
fn take_line(body: &mut String, kept: &[u8], len: usize, cap: usize) -> bool {
    if !body.is_empty() && body.len() + len > cap {
        return false;
    }
    let text = String::from_utf8_lossy(kept);
    if len > cap {
        let mut cut_at = cap.min(text.len());
        while !text.is_char_boundary(cut_at) {
            cut_at -= 1;
        }
        body.push_str(&text[..cut_at]);
        body.push_str(" … (line cut)\n");
    } else {
        body.push_str(&text);
    }
    true
}

/// Lines of a file: how many, the range asked for (clamped to the file) and the last line
/// read.
struct Span {
    total: usize,
    start: usize,
    end: usize,
    last: usize,
}

/// The header and notes around the lines read: `path (N lines)` or `path lines X-Y of N`,
/// and how to read on when the output cap cut the range.
fn range_view(
    rel: &str,
    body: String,
    span: Span,
    range: LineRange,
    cap: usize,
) -> Result<ReadView, ToolError> {
    let Span {
        total,
        start,
        end,
        last,
    } = span;
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
            "offset {} is past the end of `{rel}`, which has {} lines",
            range.offset.unwrap_or(1),
            thousands(total as u64)
        )));
    }
    let whole = start == 1 && last == total;
    let mut content = if whole {
        format!("{rel} ({} lines)\n", thousands(total as u64))
    } else {
        format!(
            "{rel} lines {start}-{last} of {}\n",
            thousands(total as u64)
        )
    };
    content.push_str(&body);
    if !content.ends_with('\n') {
        content.push_str("\n(no newline at end of file)\n");
    }
    let cut = last < end;
    if cut {
        content.push_str(&format!(
            "… {} more lines cut (output cap {} bytes); use offset={} to read on\n",
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

    fn view(text: &str, offset: Option<u64>, limit: Option<u64>, cap: usize) -> ReadView {
        read_stream("f", text.as_bytes(), LineRange { offset, limit }, cap)
            .unwrap_or_else(|e| panic!("{e}"))
            .view
            .unwrap_or_else(|| panic!("not text"))
    }

    #[test]
    fn read_ranges_and_caps() {
        let text: String = (1..=10).map(|i| format!("l{i}\n")).collect();
        assert_eq!(
            view(&text, Some(3), Some(2), 1000).content,
            "f lines 3-4 of 10\nl3\nl4\n"
        );
        assert_eq!(
            view(&text, None, None, 1000).content,
            format!("f (10 lines)\n{text}")
        );
        let v = view(&text, None, None, 9);
        assert!(v.cut);
        assert_eq!(v.last, 3);
        assert!(v.content.contains("use offset=4"), "{}", v.content);
        let v = view(&text, Some(9), Some(100), 1000);
        assert_eq!((v.first, v.last, v.total_lines), (9, 10, 10));
        assert!(
            read_stream(
                "f",
                text.as_bytes(),
                LineRange {
                    offset: Some(11),
                    limit: None
                },
                100
            )
            .is_err()
        );
        assert!(
            read_stream(
                "f",
                text.as_bytes(),
                LineRange {
                    offset: None,
                    limit: Some(0)
                },
                100
            )
            .is_err()
        );
        assert_eq!(
            view("a\nb", None, None, 100).content,
            "f (2 lines)\na\nb\n(no newline at end of file)\n"
        );
        assert_eq!(view("", None, None, 100).content, "f (empty file)\n");
        let long = format!("{}\nshort\n", "x".repeat(50));
        let v = view(&long, None, None, 10);
        assert!(
            v.content
                .starts_with("f lines 1-1 of 2\nxxxxxxxxxx … (line cut)\n"),
            "{}",
            v.content
        );
    }

    #[test]
    fn hashes_match_and_binary_is_reported() {
        let text = "one\ntwo\n";
        let read = read_stream("f", text.as_bytes(), LineRange::default(), 3)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read.sha256,
            super::super::changes::sha256_hex(text.as_bytes())
        );
        assert_eq!(read.bytes, 8);
        let read = read_stream("f", &b"a\0b"[..], LineRange::default(), 3)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(read.view.is_none());
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
