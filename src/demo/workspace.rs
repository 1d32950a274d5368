//! How demo workers use workspace tools (`list_dir`, `read_file`, `search`, `write_file`,
//! `edit_file`, `run_command`) on a real directory: the next tool call from the conversation
//! so far, and a summary of what the calls gave back, for the report.
//!
//! Owns tool-use decisions only. Must not touch the file system itself (the engine runs the
//! tools) and must cope with any tool output format, including errors, without panicking.

use regex::Regex;
use serde_json::Value;

use super::edits::*;
use super::listing::*;
use super::scenario::WorkspaceHints;
use super::tools::*;
use super::vars::RoleKind;

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
                if let Some(path) = self.conflicted_edit()
                    && self.steps.last().is_some_and(|s| s.name == EDIT_FILE)
                {
                    if self.reads_of(&path) < 2 && offered.has(READ_FILE) {
                        return Some(Action::ReadFile { path });
                    }
                    return None;
                }
                // Read again: plan the edit on the current text below.
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
                if offered.has(EDIT_FILE)
                    && let Some((path, text)) = self.last_read()
                    && let Some(a) = plan_edit(&path, &text, self.hints, ctx)
                {
                    return Some(a);
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
    if let Ok(v) = serde_json::from_str::<Value>(text)
        && let Some(c) = v
            .get("exit_code")
            .or_else(|| v.get("code"))
            .or_else(|| v.get("status"))
            .and_then(|c| c.as_i64())
    {
        return Some(c);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_found() {
        assert_eq!(exit_code("exit code: 0\nok"), Some(0));
        assert_eq!(exit_code("exited with 2"), Some(2));
        assert_eq!(exit_code(r#"{"exit_code": 1}"#), Some(1));
        assert_eq!(exit_code("no idea"), None);
    }
}
