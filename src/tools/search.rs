//! `search`: a regular expression over the workspace's text files, respecting .gitignore,
//! with an optional glob filter, returning capped `path:line: text` matches.
//!
//! Files are streamed in chunks and matched line by line, so a file of any size is searched
//! with bounded memory (a line longer than [`MAX_LINE_BYTES`] is matched on its first
//! [`MAX_LINE_BYTES`] bytes only). Must not follow symlinks (the walker does not), read
//! binary files (a NUL in the first 8 KiB) or protected files.

use std::io::Read;

use ignore::overrides::OverrideBuilder;
use regex::RegexBuilder;

use super::error::ToolError;
use super::fs::{LineSplitter, read_chunks, walker};
use super::paths::{Protection, Resolved, Root};
use super::text::{one_line, thousands};

/// Default and largest number of matches returned.
pub const DEFAULT_MATCHES: u32 = 100;
pub const MAX_MATCHES: u32 = 500;
/// A matching line is cut to this many characters.
const MAX_LINE_CHARS: usize = 240;

/// The result: text for the model, matches found (all, not only shown), files with matches.
pub struct SearchResult {
    pub content: String,
    pub matches: usize,
    pub files: usize,
}

pub struct SearchQuery<'a> {
    pub pattern: &'a str,
    pub glob: Option<&'a str>,
    pub case_insensitive: bool,
    pub max_results: u32,
    /// Output cap in bytes.
    pub cap: usize,
}

pub fn search(
    root: &Root,
    protection: &Protection,
    scope: &Resolved,
    q: &SearchQuery<'_>,
) -> Result<SearchResult, ToolError> {
    if !scope.exists {
        return Err(ToolError::Invalid(format!(
            "`{}` does not exist; search the whole workspace by leaving out `path`",
            scope.rel
        )));
    }
    let regex = RegexBuilder::new(q.pattern)
        .case_insensitive(q.case_insensitive)
        .size_limit(10 * 1024 * 1024)
        .build()
        .map_err(|e| ToolError::Invalid(format!("invalid regular expression: {e}")))?;
    let mut builder = walker(&scope.abs, None);
    if let Some(glob) = q.glob.filter(|g| !g.trim().is_empty()) {
        let mut ob = OverrideBuilder::new(&scope.abs);
        ob.add(glob.trim())
            .map_err(|e| ToolError::Invalid(format!("invalid glob `{glob}`: {e}")))?;
        let overrides = ob
            .build()
            .map_err(|e| ToolError::Invalid(format!("invalid glob `{glob}`: {e}")))?;
        builder.overrides(overrides);
    }
    let limit = q.max_results.clamp(1, MAX_MATCHES) as usize;
    let mut found = Found {
        shown: Vec::new(),
        shown_bytes: 0,
        matches: 0,
        limit,
        cap: q.cap,
    };
    let mut files = 0usize;
    let mut protected = 0usize;
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(_) => continue,
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let rel = root.rel(entry.path());
        if protection.is_protected(&rel, false) {
            protected += 1;
            continue;
        }
        let Ok(file) = std::fs::File::open(entry.path()) else {
            continue;
        };
        let before = found.matches;
        search_file(&regex, &rel, file, &mut found);
        if found.matches > before {
            files += 1;
        }
    }
    let Found { shown, matches, .. } = found;
    let mut content = if matches == 0 {
        format!("no matches for `{}` in {}\n", q.pattern, scope.rel)
    } else {
        format!(
            "{} matches in {} files for `{}`\n",
            thousands(matches as u64),
            thousands(files as u64),
            q.pattern
        )
    };
    for item in &shown {
        content.push_str(item);
        content.push('\n');
    }
    if matches > shown.len() {
        content.push_str(&format!(
            "… {} more matches cut; narrow the search with `path`, `glob` or a more specific pattern\n",
            thousands((matches - shown.len()) as u64)
        ));
    }
    if protected > 0 {
        content.push_str(&format!(
            "({} protected files were not searched)\n",
            thousands(protected as u64)
        ));
    }
    Ok(SearchResult {
        content,
        matches,
        files,
    })
}

/// A line longer than this is matched on its start only (bounded memory on one-line files).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Matches so far: all counted, the first ones kept for the model.
struct Found {
    shown: Vec<String>,
    shown_bytes: usize,
    matches: usize,
    limit: usize,
    cap: usize,
}

impl Found {
    fn line(&mut self, regex: &regex::Regex, rel: &str, number: usize, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if !regex.is_match(text) {
            return;
        }
        self.matches += 1;
        if self.shown.len() < self.limit && self.shown_bytes < self.cap {
            let item = format!(
                "{rel}:{number}: {}",
                one_line(text.trim_end(), MAX_LINE_CHARS)
            );
            self.shown_bytes += item.len() + 1;
            self.shown.push(item);
        }
    }
}

/// Streams one file through the regex, line by line. A binary file is skipped; a read
/// error ends the file quietly (like an unreadable file).
fn search_file(regex: &regex::Regex, rel: &str, file: impl Read, found: &mut Found) {
    let mut lines = LineSplitter::new(MAX_LINE_BYTES);
    let mut on_line = |n: usize, kept: &[u8], _len: usize| {
        found.line(regex, rel, n, kept);
        MAX_LINE_BYTES
    };
    let read = read_chunks(file, |chunk| {
        if lines.is_binary(chunk) {
            return false;
        }
        lines.feed(chunk, &mut on_line);
        true
    });
    if read.is_ok() && !lines.binary() {
        lines.finish(&mut on_line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &[u8], pattern: &str) -> Found {
        let regex = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{e}"));
        let mut found = Found {
            shown: Vec::new(),
            shown_bytes: 0,
            matches: 0,
            limit: 20,
            cap: 10_000,
        };
        search_file(&regex, "f", text, &mut found);
        found
    }

    #[test]
    fn lines_are_numbered_across_chunks() {
        let mut text = String::new();
        for i in 1..=20_000 {
            text.push_str(&format!("line {i}\r\n"));
        }
        text.push_str("needle at the end");
        let found = run(text.as_bytes(), "^line 1999[0-9]$|needle");
        assert_eq!(found.matches, 11);
        assert_eq!(
            found.shown.last().map(String::as_str),
            Some("f:20001: needle at the end")
        );
        assert!(found.shown.contains(&"f:19990: line 19990".to_string()));
        assert_eq!(
            run(b"a\0needle", "needle").matches,
            0,
            "binary files are skipped"
        );
    }
}
