//! `search`: a regular expression over the workspace's text files, respecting .gitignore,
//! with an optional glob filter, returning capped `path:line: text` matches.
//!
//! Must not follow symlinks (the walker does not) nor read binary or huge files.

use ignore::overrides::OverrideBuilder;
use regex::RegexBuilder;

use super::error::ToolError;
use super::fs::{looks_binary, walker};
use super::paths::{Resolved, Root};
use super::text::{one_line, thousands};

/// Files larger than this are skipped.
pub const MAX_SEARCH_FILE_BYTES: u64 = 2 * 1024 * 1024;
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
    let mut shown: Vec<String> = Vec::new();
    let mut shown_bytes = 0usize;
    let mut matches = 0usize;
    let mut files = 0usize;
    let mut skipped_large = 0usize;
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(_) => continue,
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        if size > MAX_SEARCH_FILE_BYTES {
            skipped_large += 1;
            continue;
        }
        let bytes = match std::fs::read(entry.path()) {
            Ok(b) => b,
            Err(_) => continue,
        };
        if looks_binary(&bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let rel = root.rel(entry.path());
        let mut in_file = 0usize;
        for (n, line) in text.lines().enumerate() {
            if regex.is_match(line) {
                in_file += 1;
                matches += 1;
                if shown.len() < limit && shown_bytes < q.cap {
                    let item = format!(
                        "{rel}:{}: {}",
                        n + 1,
                        one_line(line.trim_end(), MAX_LINE_CHARS)
                    );
                    shown_bytes += item.len() + 1;
                    shown.push(item);
                }
            }
        }
        if in_file > 0 {
            files += 1;
        }
    }
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
    if skipped_large > 0 {
        content.push_str(&format!(
            "({} files larger than {} bytes were skipped)\n",
            thousands(skipped_large as u64),
            thousands(MAX_SEARCH_FILE_BYTES)
        ));
    }
    Ok(SearchResult {
        content,
        matches,
        files,
    })
}
