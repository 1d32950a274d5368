//! How demo workers use workspace tools (`list_dir`, `read_file`, `search`, `write_file`,
//! `edit_file`, `run_command`) on a real directory: the next tool call from the conversation
//! so far, and a summary of what the calls gave back, for the report.
//!
//! Owns tool-use decisions only. Must not touch the file system itself (the engine runs the
//! tools) and must cope with any tool output format, including errors, without panicking.

use std::collections::HashMap;

use regex::Regex;
use serde_json::{Value, json};

use super::scenario::{KnownEdit, RoleKind, WorkspaceHints};
use crate::llm::{ChatRole, Content, Message};
use crate::protocol::ToolDef;

pub const LIST_DIR: &str = "list_dir";
pub const READ_FILE: &str = "read_file";
pub const SEARCH: &str = "search";
pub const WRITE_FILE: &str = "write_file";
pub const EDIT_FILE: &str = "edit_file";
pub const RUN_COMMAND: &str = "run_command";

/// A worker stops using tools after this many calls and reports.
pub const MAX_TOOL_CALLS: usize = 6;

/// One tool call the worker made and what came back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolStep {
    pub name: String,
    pub input: Value,
    pub result: Option<String>,
    pub is_error: bool,
}

impl ToolStep {
    fn ok(&self) -> Option<&str> {
        if self.is_error {
            None
        } else {
            self.result.as_deref()
        }
    }
    fn str_arg(&self, keys: &[&str]) -> String {
        for k in keys {
            if let Some(v) = self.input.get(*k) {
                if let Some(s) = v.as_str() {
                    return s.to_string();
                }
                if let Some(a) = v.as_array() {
                    return a
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                }
            }
        }
        // Any string argument will do for a summary.
        self.input
            .as_object()
            .and_then(|o| o.values().find_map(|v| v.as_str().map(str::to_string)))
            .unwrap_or_default()
    }
}

/// The workspace tool calls in a conversation, in order, paired with their results.
pub fn history(messages: &[Message]) -> Vec<ToolStep> {
    let mut steps: Vec<ToolStep> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for m in messages {
        for c in &m.content {
            match (m.role, c) {
                (ChatRole::Assistant, Content::ToolUse { id, name, input }) => {
                    by_id.insert(id.clone(), steps.len());
                    steps.push(ToolStep {
                        name: name.clone(),
                        input: input.clone(),
                        result: None,
                        is_error: false,
                    });
                }
                (
                    _,
                    Content::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    },
                ) => {
                    if let Some(step) = by_id.get(tool_use_id).and_then(|i| steps.get_mut(*i)) {
                        step.result = Some(content.clone());
                        step.is_error = *is_error;
                    }
                }
                _ => {}
            }
        }
    }
    steps
}

/// The tools the request offers, with their schemas (to name arguments as they expect).
pub struct Offered<'a> {
    defs: HashMap<&'a str, &'a Value>,
}

impl<'a> Offered<'a> {
    pub fn new(tools: &'a [ToolDef]) -> Self {
        Offered {
            defs: tools
                .iter()
                .map(|t| (t.name.as_str(), &t.input_schema))
                .collect(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    pub fn any_workspace_tool(&self) -> bool {
        [
            LIST_DIR,
            READ_FILE,
            SEARCH,
            WRITE_FILE,
            EDIT_FILE,
            RUN_COMMAND,
        ]
        .iter()
        .any(|t| self.has(t))
    }

    /// The schema's property for a meaning: an exact candidate, else one containing a
    /// candidate, else the first candidate.
    fn prop(&self, tool: &str, candidates: &[&str]) -> String {
        let props = self
            .defs
            .get(tool)
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.as_object());
        if let Some(props) = props {
            for c in candidates {
                if props.contains_key(*c) {
                    return (*c).to_string();
                }
            }
            for c in candidates {
                if let Some(k) = props.keys().find(|k| k.contains(c)) {
                    return k.clone();
                }
            }
        }
        candidates.first().copied().unwrap_or("value").to_string()
    }

    fn has_prop(&self, tool: &str, prop: &str) -> bool {
        self.defs
            .get(tool)
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(prop))
            .is_some()
    }

    fn prop_is_array(&self, tool: &str, prop: &str) -> bool {
        self.defs
            .get(tool)
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(prop))
            .and_then(|p| p.get("type"))
            .and_then(|t| t.as_str())
            == Some("array")
    }

    /// The arguments of an action, named as this request's schemas name them.
    pub fn arguments(&self, action: &Action) -> Value {
        let mut obj = serde_json::Map::new();
        match action {
            Action::ListDir { path } => {
                obj.insert(
                    self.prop(LIST_DIR, &["path", "dir", "directory"]),
                    json!(path),
                );
                // Two levels show a small project whole in one call.
                if self.has_prop(LIST_DIR, "depth") {
                    obj.insert("depth".into(), json!(2));
                }
            }
            Action::ReadFile { path } => {
                obj.insert(self.prop(READ_FILE, &["path", "file"]), json!(path));
            }
            Action::Search { pattern } => {
                obj.insert(
                    self.prop(SEARCH, &["pattern", "regex", "query"]),
                    json!(pattern),
                );
            }
            Action::Write { path, content, .. } => {
                obj.insert(self.prop(WRITE_FILE, &["path", "file"]), json!(path));
                obj.insert(
                    self.prop(WRITE_FILE, &["content", "contents", "text", "data"]),
                    json!(content),
                );
            }
            Action::Edit { path, old, new, .. } => {
                obj.insert(self.prop(EDIT_FILE, &["path", "file"]), json!(path));
                obj.insert(
                    self.prop(EDIT_FILE, &["old_string", "old", "find", "search"]),
                    json!(old),
                );
                obj.insert(
                    self.prop(EDIT_FILE, &["new_string", "new", "replace", "replacement"]),
                    json!(new),
                );
            }
            Action::Run { command } => {
                let key = self.prop(RUN_COMMAND, &["command", "argv", "cmd"]);
                if self.prop_is_array(RUN_COMMAND, &key) {
                    let argv: Vec<&str> = command.split_whitespace().collect();
                    obj.insert(key, json!(argv));
                } else {
                    obj.insert(key, json!(command));
                }
            }
        }
        Value::Object(obj)
    }
}

/// A workspace tool call the demo worker wants to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    ListDir {
        path: String,
    },
    ReadFile {
        path: String,
    },
    Search {
        pattern: String,
    },
    Write {
        path: String,
        content: String,
        summary: String,
    },
    Edit {
        path: String,
        old: String,
        new: String,
        summary: String,
    },
    Run {
        command: String,
    },
}

impl Action {
    pub fn tool(&self) -> &'static str {
        match self {
            Action::ListDir { .. } => LIST_DIR,
            Action::ReadFile { .. } => READ_FILE,
            Action::Search { .. } => SEARCH,
            Action::Write { .. } => WRITE_FILE,
            Action::Edit { .. } => EDIT_FILE,
            Action::Run { .. } => RUN_COMMAND,
        }
    }

    /// What the worker says before the call.
    pub fn narration(&self, first: bool) -> String {
        match self {
            Action::ListDir { path } if path == "." => {
                "Before writing anything I want the lay of the land: listing the workspace.".into()
            }
            Action::ListDir { path } => {
                format!("The sources are not at the top level; looking inside `{path}/`.")
            }
            Action::ReadFile { path } if first => {
                format!("Reading `{path}` first, to follow its conventions.")
            }
            Action::ReadFile { path } => format!("Now reading `{path}`."),
            Action::Search { pattern } => {
                format!("Searching the code for `{pattern}` to find the spots worth a closer look.")
            }
            Action::Write { path, summary, .. } => format!("Writing `{path}`: {summary}."),
            Action::Edit { path, summary, .. } => {
                format!(
                    "Found something worth fixing in `{path}`: {summary}. Making a small, exact edit."
                )
            }
            Action::Run { command } => format!(
                "Running `{command}` in the workspace to see where the tests stand (this needs an approval)."
            ),
        }
    }
}

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

fn join(dir: &str, name: &str) -> String {
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
            if let Some(p) = item.get("path").and_then(|p| p.as_str()) {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
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
fn count_hits(text: &str) -> usize {
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

/// Everything the worker learned from its tool calls so far.
pub struct Findings<'a> {
    pub steps: &'a [ToolStep],
    pub hints: &'a WorkspaceHints,
}

impl<'a> Findings<'a> {
    fn did(&self, tool: &str) -> bool {
        self.steps.iter().any(|s| s.name == tool)
    }

    fn count(&self, tool: &str) -> usize {
        self.steps.iter().filter(|s| s.name == tool).count()
    }

    /// All entries listed so far.
    fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for s in self.steps.iter().filter(|s| s.name == LIST_DIR) {
            if let Some(text) = s.ok() {
                let dir = s.str_arg(&["path", "dir", "directory"]);
                out.extend(parse_listing(&dir, text));
            }
        }
        out
    }

    fn is_source(&self, path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        name.rsplit_once('.').is_some_and(|(_, ext)| {
            self.hints
                .source_extensions
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext))
        })
    }

    fn is_test(path: &str) -> bool {
        let p = path.to_lowercase();
        p.contains("test") || p.contains("spec")
    }

    /// Files found so far (listing and search hits), best first for `kind`.
    fn candidate_files(&self, kind: RoleKind) -> Vec<String> {
        let mut files: Vec<String> = self
            .entries()
            .into_iter()
            .filter(|e| !e.is_dir)
            .map(|e| e.path)
            .collect();
        for s in self.steps.iter().filter(|s| s.name == SEARCH) {
            if let Some(text) = s.ok() {
                for p in parse_search_paths(text) {
                    if !files.contains(&p) {
                        files.insert(0, p);
                    }
                }
            }
        }
        let read: Vec<String> = self
            .steps
            .iter()
            .filter(|s| s.name == READ_FILE)
            .map(|s| s.str_arg(&["path", "file"]))
            .collect();
        files.retain(|f| !read.contains(f));
        let preferred = |f: &String| {
            let name = f.rsplit('/').next().unwrap_or(f);
            self.hints
                .preferred_files
                .iter()
                .position(|p| p.eq_ignore_ascii_case(name))
                .unwrap_or(usize::MAX)
        };
        let mut ranked: Vec<(u8, usize, String)> = files
            .into_iter()
            .map(|f| {
                let src = self.is_source(&f);
                let test = Self::is_test(&f);
                let readme = f.to_lowercase().contains("readme");
                let class = match kind {
                    RoleKind::Tester if src && test => 0,
                    RoleKind::Writer | RoleKind::Architect if readme => 0,
                    RoleKind::Developer | RoleKind::Optimizer if src && !test => 0,
                    _ if src && !test => 1,
                    _ if readme => 2,
                    _ if src => 3,
                    _ => 4,
                };
                (class, preferred(&f), f)
            })
            .collect();
        ranked.sort();
        ranked.into_iter().map(|(_, _, f)| f).collect()
    }

    /// A directory worth listing next, when the root holds no source file.
    fn source_dir(&self) -> Option<String> {
        let entries = self.entries();
        if entries.iter().any(|e| !e.is_dir && self.is_source(&e.path)) {
            return None;
        }
        let listed: Vec<String> = self
            .steps
            .iter()
            .filter(|s| s.name == LIST_DIR)
            .map(|s| s.str_arg(&["path", "dir", "directory"]))
            .collect();
        let open = |e: &&Entry| e.is_dir && !listed.contains(&e.path);
        self.hints
            .source_dirs
            .iter()
            .find_map(|d| entries.iter().filter(open).find(|e| e.name() == d))
            .or_else(|| {
                // Else the first folder that does not look like tests, docs or tooling.
                entries.iter().filter(open).find(|e| {
                    let n = e.name().to_lowercase();
                    !n.starts_with('.')
                        && !Self::is_test(&n)
                        && ![
                            "docs",
                            "doc",
                            "target",
                            "node_modules",
                            "build",
                            "dist",
                            "vendor",
                        ]
                        .contains(&n.as_str())
                })
            })
            .map(|e| e.path.clone())
    }

    /// The last file read successfully: `(path, text without line numbers)`.
    fn last_read(&self) -> Option<(String, String)> {
        self.steps
            .iter()
            .rev()
            .filter(|s| s.name == READ_FILE)
            .find_map(|s| {
                let path = s.str_arg(&["path", "file"]);
                s.ok().map(|t| (path.clone(), file_body(&path, t)))
            })
    }

    /// The test command for the workspace (by marker files at its root).
    pub fn test_command(&self) -> String {
        let paths: Vec<String> = self.entries().into_iter().map(|e| e.path).collect();
        self.hints
            .test_commands
            .iter()
            .find(|t| paths.iter().any(|p| glob_match(&t.marker, p)))
            .map(|t| t.command.clone())
            .unwrap_or_else(|| self.hints.default_test_command.clone())
    }

    /// The next tool call for a worker of `kind`, or `None` when it should report.
    pub fn next(&self, kind: RoleKind, offered: &Offered, ctx: &EditContext) -> Option<Action> {
        if self.steps.len() >= MAX_TOOL_CALLS {
            return None;
        }
        let list = |me: &Self| -> Option<Action> {
            if !offered.has(LIST_DIR) {
                return None;
            }
            if !me.did(LIST_DIR) {
                return Some(Action::ListDir { path: ".".into() });
            }
            if me.count(LIST_DIR) == 1 {
                return me.source_dir().map(|path| Action::ListDir { path });
            }
            None
        };
        let read = |me: &Self| -> Option<Action> {
            if !offered.has(READ_FILE) || me.did(READ_FILE) {
                return None;
            }
            me.candidate_files(kind)
                .into_iter()
                .next()
                .map(|path| Action::ReadFile { path })
        };
        match kind {
            RoleKind::Optimizer => {
                if offered.has(SEARCH) && !self.did(SEARCH) {
                    return Some(Action::Search {
                        pattern: self.hints.search_pattern.clone(),
                    });
                }
                if let Some(a) = read(self) {
                    return Some(a);
                }
                if !self.did(READ_FILE) {
                    if let Some(a) = list(self) {
                        return Some(a);
                    }
                    return read(self);
                }
                None
            }
            RoleKind::Tester => {
                if let Some(a) = list(self).filter(|_| !self.did(LIST_DIR)) {
                    return Some(a);
                }
                if offered.has(RUN_COMMAND) {
                    if !self.did(RUN_COMMAND) {
                        return Some(Action::Run {
                            command: self.test_command(),
                        });
                    }
                    return None;
                }
                read(self)
            }
            RoleKind::Developer => {
                if let Some(a) = list(self).or_else(|| read(self)) {
                    return Some(a);
                }
                if self.ran(EDIT_FILE) || self.ran(WRITE_FILE) {
                    return None;
                }
                // A conflicting edit (the file changed since it was read): read it again
                // once and redo the edit on the new text, as a careful model would.
                if let Some(path) = self.conflicted_edit() {
                    if self.steps.last().is_some_and(|s| s.name == EDIT_FILE) {
                        if self.reads_of(&path) < 2 && offered.has(READ_FILE) {
                            return Some(Action::ReadFile { path });
                        }
                        return None;
                    }
                    // Read again: plan the edit on the current text below.
                }
                let failed_edit =
                    self.failed(EDIT_FILE).is_some() && self.conflicted_edit().is_none();
                if failed_edit || self.count(EDIT_FILE) >= 2 || self.failed(WRITE_FILE).is_some() {
                    return None;
                }
                // An empty read of a file that is not empty in the listing was probably
                // caught mid-write by another worker: read it once more.
                if let Some((path, text)) = self.last_read() {
                    let last_is_read = self.steps.last().is_some_and(|s| s.name == READ_FILE);
                    if text.trim().is_empty()
                        && last_is_read
                        && self.reads_of(&path) < 2
                        && !self.did(EDIT_FILE)
                    {
                        return Some(Action::ReadFile { path });
                    }
                }
                if offered.has(EDIT_FILE) {
                    if let Some((path, text)) = self.last_read() {
                        if let Some(a) = plan_edit(&path, &text, self.hints, ctx) {
                            return Some(a);
                        }
                    }
                }
                if offered.has(WRITE_FILE) {
                    return Some(Action::Write {
                        path: format!("docs/notes/{}.md", ctx.subtask_slug),
                        content: ctx.notes.clone(),
                        summary: "the implementation notes, next to the code they describe".into(),
                    });
                }
                None
            }
            RoleKind::Writer => {
                if let Some(a) = list(self)
                    .filter(|_| !self.did(LIST_DIR))
                    .or_else(|| read(self))
                {
                    return Some(a);
                }
                if offered.has(WRITE_FILE) && !self.did(WRITE_FILE) {
                    return Some(Action::Write {
                        path: format!("docs/{}.md", ctx.slug),
                        content: ctx.notes.clone(),
                        summary: "the documentation page for this work".into(),
                    });
                }
                None
            }
            RoleKind::Analyzer | RoleKind::Architect | RoleKind::Other => {
                if let Some(a) = list(self).or_else(|| read(self)) {
                    return Some(a);
                }
                if kind == RoleKind::Analyzer && offered.has(SEARCH) && !self.did(SEARCH) {
                    return Some(Action::Search {
                        pattern: "TODO|FIXME|XXX".into(),
                    });
                }
                None
            }
        }
    }

    /// One sentence per tool call, for the report.
    pub fn observations(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.name != crate::protocol::model::SUBMIT_REPORT)
            .map(|s| observe(s, self.hints))
            .collect()
    }

    /// The exit code of the last `run_command`, when it ran and reported one.
    pub fn exit_code(&self) -> Option<i64> {
        let s = self.steps.iter().rev().find(|s| s.name == RUN_COMMAND)?;
        exit_code(s.result.as_deref()?)
    }

    /// A tool that failed (denied command, failed edit), for the report's status.
    pub fn failed(&self, tool: &str) -> Option<String> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.name == tool && s.is_error)
            .map(|s| first_line(s.result.as_deref().unwrap_or("no details")))
    }

    fn reads_of(&self, path: &str) -> usize {
        self.steps
            .iter()
            .filter(|s| s.name == READ_FILE && s.str_arg(&["path", "file"]) == path)
            .count()
    }

    /// The path of the last edit, when it failed because the file changed meanwhile.
    pub fn conflicted_edit(&self) -> Option<String> {
        let s = self.steps.iter().rev().find(|s| s.name == EDIT_FILE)?;
        let text = s.result.as_deref().unwrap_or("").to_lowercase();
        (s.is_error && (text.contains("conflict") || text.contains("changed since")))
            .then(|| s.str_arg(&["path", "file"]))
    }

    pub fn ran(&self, tool: &str) -> bool {
        self.steps.iter().any(|s| s.name == tool && !s.is_error)
    }

    /// The command of the last `run_command` call.
    pub fn last_command(&self) -> Option<String> {
        self.steps
            .iter()
            .rev()
            .find(|s| s.name == RUN_COMMAND)
            .map(|s| s.str_arg(&["command", "argv", "cmd"]))
    }
}

fn first_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    if line.chars().count() > 160 {
        let cut: String = line.chars().take(159).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// `pattern` matches `path` exactly, `*` standing for any run of characters except `/`.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((head, tail)) => {
            let Some(rest) = path.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .take_while(|i| !rest[..*i].contains('/'))
                .any(|i| glob_match(tail, &rest[i..]))
        }
    }
}

pub fn exit_code(text: &str) -> Option<i64> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        if let Some(c) = v
            .get("exit_code")
            .or_else(|| v.get("code"))
            .or_else(|| v.get("status"))
            .and_then(|c| c.as_i64())
        {
            return Some(c);
        }
    }
    let re = Regex::new(r"(?i)exit(?:ed)?(?:[ _]?code|[ _]status)?\s*(?:with\s*)?[:=]?\s*(-?\d+)")
        .ok()?;
    re.captures(text)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
}

fn observe(s: &ToolStep, hints: &WorkspaceHints) -> String {
    if s.is_error {
        let what = match s.name.as_str() {
            RUN_COMMAND => format!("`{}` did not run", s.str_arg(&["command", "argv", "cmd"])),
            EDIT_FILE => format!("The edit of `{}` failed", s.str_arg(&["path", "file"])),
            WRITE_FILE => format!("Writing `{}` failed", s.str_arg(&["path", "file"])),
            other => format!("`{other}` failed"),
        };
        return format!(
            "{what}: {}.",
            first_line(s.result.as_deref().unwrap_or("no details")).trim_end_matches('.')
        );
    }
    let text = s.result.as_deref().unwrap_or("");
    match s.name.as_str() {
        LIST_DIR => {
            let dir = s.str_arg(&["path", "dir", "directory"]);
            let entries = parse_listing(&dir, text);
            let names: Vec<String> = entries
                .iter()
                .take(6)
                .map(|e| {
                    if e.is_dir {
                        format!("{}/", e.name())
                    } else {
                        e.name().to_string()
                    }
                })
                .collect();
            let shown = if dir.is_empty() || dir == "." {
                "the workspace root".to_string()
            } else {
                format!("`{dir}/`")
            };
            if names.is_empty() {
                format!("Listed {shown}: nothing recognisable in it.")
            } else {
                format!(
                    "Listed {shown}: {} entries ({}{}).",
                    entries.len(),
                    names.join(", "),
                    if entries.len() > names.len() {
                        ", …"
                    } else {
                        ""
                    }
                )
            }
        }
        READ_FILE => {
            let path = s.str_arg(&["path", "file"]);
            let lines = file_body(&path, text).lines().count();
            format!("Read `{path}` ({lines} lines).")
        }
        SEARCH => format!(
            "Searched for `{}`: {} matching lines.",
            s.str_arg(&["pattern", "regex", "query"]),
            count_hits(text)
        ),
        EDIT_FILE => {
            let old = s.str_arg(&["old_string", "old", "find", "search"]);
            let what = hints
                .edits
                .iter()
                .find(|e| e.find == old)
                .map(|e| format!("fixed {}", e.summary))
                .unwrap_or_else(|| "added a doc comment, an exact one-place change".into());
            format!("Edited `{}`: {what}.", s.str_arg(&["path", "file"]))
        }
        WRITE_FILE => {
            let lines = s
                .input
                .as_object()
                .and_then(|o| {
                    o.values()
                        .filter_map(|v| v.as_str())
                        .max_by_key(|v| v.len())
                })
                .map_or(0, |c| c.lines().count());
            format!("Wrote `{}` ({lines} lines).", s.str_arg(&["path", "file"]))
        }
        RUN_COMMAND => {
            let cmd = s.str_arg(&["command", "argv", "cmd"]);
            match exit_code(text) {
                Some(0) => format!("Ran `{cmd}`: exit code 0, everything passed."),
                Some(c) => format!("Ran `{cmd}`: exit code {c}."),
                None => format!("Ran `{cmd}`: it finished without reporting an exit code."),
            }
        }
        other => format!("Used `{other}`."),
    }
}

/// What the edit/write needs besides the file: names for comments and files.
pub struct EditContext {
    /// The subtask title.
    pub title: String,
    /// A file-name-safe form of the subject.
    pub slug: String,
    /// A file-name-safe form of the subtask's title.
    pub subtask_slug: String,
    /// Markdown for a new file (a writer's page, a developer's notes).
    pub notes: String,
}

/// A small, exact improvement to a file the worker read: a known edit from the scenario,
/// else a doc comment above the first undocumented function.
pub fn plan_edit(
    path: &str,
    text: &str,
    hints: &WorkspaceHints,
    ctx: &EditContext,
) -> Option<Action> {
    let title = ctx.title.to_lowercase();
    let applicable = |e: &&KnownEdit| path.ends_with(&e.file) && text.matches(&e.find).count() == 1;
    // The edit meant for this subtask, else one meant for nobody in particular, else any.
    let chosen = hints
        .edits
        .iter()
        .filter(applicable)
        .find(|e| e.prefer.iter().any(|w| title.contains(&w.to_lowercase())))
        .or_else(|| {
            hints
                .edits
                .iter()
                .filter(applicable)
                .find(|e| e.prefer.is_empty())
        })
        .or_else(|| hints.edits.iter().find(applicable));
    if let Some(e) = chosen {
        return Some(Action::Edit {
            path: path.to_string(),
            old: e.find.clone(),
            new: e.replace.clone(),
            summary: e.summary.clone(),
        });
    }
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_lowercase())?;
    let prefix = match ext.as_str() {
        "rs" => "///",
        "py" | "rb" | "sh" => "#",
        "js" | "ts" | "jsx" | "tsx" | "go" | "java" | "c" | "h" | "cpp" | "cc" | "cs" | "kt"
        | "swift" | "scala" => "//",
        _ => return None,
    };
    let re = Regex::new(
        r"^(\s*)(?:pub(?:\([a-z]+\))?\s+)?(?:export\s+)?(?:async\s+)?(?:fn|def|function|func)\s+([A-Za-z_][A-Za-z0-9_]*)",
    )
    .ok()?;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(caps) = re.captures(line) else {
            continue;
        };
        let prev = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        let documented = prev.is_some_and(|p| {
            let p = p.trim_start();
            p.starts_with("//")
                || p.starts_with('#')
                || p.starts_with("*")
                || p.starts_with("/*")
                || p.starts_with('@')
        });
        let docstring = lines[i + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| {
                let l = l.trim_start();
                l.starts_with("\"\"\"") || l.starts_with("'''")
            });
        if documented || docstring || text.matches(line).count() != 1 {
            continue;
        }
        let indent = caps.get(1).map_or("", |m| m.as_str());
        let name = caps.get(2).map_or("this function", |m| m.as_str());
        let new = format!(
            "{indent}{prefix} `{name}`: reviewed while working on \"{}\"; keep its behaviour covered by the tests.\n{line}",
            ctx.title
        );
        return Some(Action::Edit {
            path: path.to_string(),
            old: (*line).to_string(),
            new,
            summary: format!("`{name}` has no doc comment"),
        });
    }
    None
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

    #[test]
    fn exit_codes_are_found() {
        assert_eq!(exit_code("exit code: 0\nok"), Some(0));
        assert_eq!(exit_code("exited with 2"), Some(2));
        assert_eq!(exit_code(r#"{"exit_code": 1}"#), Some(1));
        assert_eq!(exit_code("no idea"), None);
    }
}
