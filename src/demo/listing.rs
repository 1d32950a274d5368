//! Reading what workspace tools return, whatever its format: directory listings, search
//! hits, numbered file contents.
//!
//! Pure parsing; must not panic on any text.

use regex::Regex;
use serde_json::Value;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Path relative to the workspace root.
    pub path: String,
    pub is_dir: bool,
}

impl Entry {
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

pub(super) fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." || name.starts_with(&format!("{dir}/")) {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Reads a `list_dir` result, whatever its format: JSON (strings or objects with
/// `name`/`path` and `type`/`is_dir`) or lines (`src/`, `README.md  1.2 KB`, `[dir] src`).
pub fn parse_listing(dir: &str, text: &str) -> Vec<Entry> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let items = v
            .as_array()
            .cloned()
            .or_else(|| v.get("entries").and_then(|e| e.as_array()).cloned())
            .unwrap_or_default();
        let mut out = Vec::new();
        for item in items {
            if let Some(s) = item.as_str() {
                out.push(Entry {
                    path: join(dir, s.trim_end_matches('/')),
                    is_dir: s.ends_with('/'),
                });
            } else if let Some(name) = item
                .get("path")
                .or_else(|| item.get("name"))
                .and_then(|n| n.as_str())
            {
                let is_dir = item
                    .get("is_dir")
                    .and_then(|d| d.as_bool())
                    .unwrap_or(false)
                    || item
                        .get("type")
                        .or_else(|| item.get("kind"))
                        .and_then(|t| t.as_str())
                        .is_some_and(|t| t.starts_with("dir"));
                out.push(Entry {
                    path: join(dir, name.trim_end_matches('/')),
                    is_dir: is_dir || name.ends_with('/'),
                });
            }
        }
        return out;
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with('(')
            || line.starts_with('…')
            || is_listing_header(line)
        {
            continue;
        }
        let lower = line.to_lowercase();
        let marked_dir = lower.starts_with("d ")
            || lower.contains("[dir]")
            || lower.contains("<dir>")
            || lower.contains("directory")
            || lower.starts_with("dir ");
        let tokens: Vec<String> = line
            .split_whitespace()
            .map(|t| {
                t.trim_matches(|c: char| {
                    matches!(
                        c,
                        '`' | '"' | '\'' | '*' | '[' | ']' | '(' | ')' | ',' | '<' | '>'
                    )
                })
                .to_string()
            })
            .filter(|t| !t.is_empty() && t != "-" && t != "|")
            .collect();
        let pick = tokens
            .iter()
            .find(|t| t.ends_with('/'))
            .or_else(|| tokens.iter().find(|t| looks_like_file(t)))
            .or_else(|| {
                marked_dir
                    .then(|| tokens.iter().rev().find(|t| !is_marker(t)))
                    .flatten()
            });
        if let Some(t) = pick {
            let is_dir = t.ends_with('/') || (marked_dir && !looks_like_file(t));
            let name = t.trim_end_matches('/');
            if !name.is_empty() && name != "." && name != ".." {
                out.push(Entry {
                    path: join(dir, name),
                    is_dir,
                });
            }
        }
    }
    out
}

/// `src/ (12 entries, depth 2)`: the summary line a listing starts with.
fn is_listing_header(line: &str) -> bool {
    line.split_once(" (")
        .is_some_and(|(_, rest)| rest.contains(" entries") || rest.contains(" entry"))
}

fn is_marker(t: &str) -> bool {
    matches!(
        t.to_lowercase().as_str(),
        "d" | "f" | "dir" | "file" | "directory"
    )
}

fn looks_like_file(t: &str) -> bool {
    const PLAIN: &[&str] = &["Makefile", "Dockerfile", "LICENSE", "Justfile", "Procfile"];
    if PLAIN.contains(&t) {
        return true;
    }
    match t.rsplit_once('.') {
        Some((stem, ext)) => {
            !ext.is_empty()
                && ext.len() <= 6
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && !ext.chars().all(|c| c.is_ascii_digit())
                && !stem.is_empty()
        }
        None => false,
    }
}

/// Paths from `search` output (`path:line: text` or JSON with `path`).
pub fn parse_search_paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let items = v
            .as_array()
            .cloned()
            .or_else(|| v.get("matches").and_then(|e| e.as_array()).cloned())
            .unwrap_or_default();
        for item in items {
            if let Some(p) = item.get("path").and_then(|p| p.as_str())
                && !out.iter().any(|o| o == p)
            {
                out.push(p.to_string());
            }
        }
        return out;
    }
    for line in text.lines() {
        if let Some((path, rest)) = line.trim().split_once(':') {
            let is_hit = rest
                .split(':')
                .next()
                .is_some_and(|n| !n.is_empty() && n.trim().chars().all(|c| c.is_ascii_digit()));
            if is_hit && looks_like_file(path.rsplit('/').next().unwrap_or(path)) {
                let p = path.to_string();
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Counts the hits of a `search` result (lines that look like `path:line: text`).
pub(super) fn count_hits(text: &str) -> usize {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v
            .as_array()
            .or_else(|| v.get("matches").and_then(|m| m.as_array()))
            .map_or(0, |a| a.len());
    }
    text.lines()
        .filter(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|n| !n.is_empty() && n.trim().chars().all(|c| c.is_ascii_digit()))
        })
        .count()
}

/// The file's text without line-number prefixes (`  12 | code`, `12: code`, `12\tcode`),
/// when (nearly) every line has one.
pub fn strip_line_numbers(text: &str) -> String {
    let Ok(re) = Regex::new(r"^\s*\d+(?:\s*[|│:]\s?|\t)") else {
        return text.to_string();
    };
    let lines: Vec<&str> = text.lines().collect();
    let non_empty = lines.iter().filter(|l| !l.trim().is_empty()).count();
    let numbered = lines.iter().filter(|l| re.is_match(l)).count();
    if non_empty == 0 || numbered * 10 < non_empty * 9 {
        return text.to_string();
    }
    lines
        .iter()
        .filter(|l| re.is_match(l))
        .map(|l| re.replace(l, "").into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file's text from a `read_file` result: without a header line naming the file
/// (`core.py (35 lines)`), the tool's notes (`… 12 more lines cut`) and line numbers.
pub fn file_body(path: &str, result: &str) -> String {
    let mut lines: Vec<&str> = result.split_inclusive('\n').collect();
    if lines
        .first()
        .is_some_and(|l| !path.is_empty() && l.starts_with(path) && l.contains(" ("))
    {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| {
        let t = l.trim_start();
        t.starts_with('…') || t.starts_with("(no newline at end of file)")
    }) {
        lines.pop();
    }
    strip_line_numbers(&lines.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_in_several_formats() {
        let plain = parse_listing(".", "src/\nREADME.md  1.2 KB\n[dir] tests\nCargo.toml\n");
        assert_eq!(plain.len(), 4);
        assert!(plain[0].is_dir && plain[0].path == "src");
        assert!(!plain[1].is_dir && plain[1].path == "README.md");
        assert!(plain[2].is_dir && plain[2].path == "tests");
        let nested = parse_listing("src", "app.py\nsrc/db.py\n");
        assert_eq!(nested[0].path, "src/app.py");
        assert_eq!(nested[1].path, "src/db.py");
        let json = parse_listing(
            "lib",
            r#"[{"name":"a.rs","type":"file"},{"name":"m","type":"dir"}]"#,
        );
        assert_eq!(json[0].path, "lib/a.rs");
        assert!(json[1].is_dir);
    }

    #[test]
    fn line_numbers_are_stripped_only_when_present() {
        assert_eq!(strip_line_numbers("  1 | a\n  2 | b"), "a\nb");
        assert_eq!(strip_line_numbers("1: x = 1\n2: y"), "x = 1\ny");
        assert_eq!(strip_line_numbers("a\nb"), "a\nb");
    }
}
