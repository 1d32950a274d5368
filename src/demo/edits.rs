//! The one small, exact change a demo developer makes to a file it read: a known edit from
//! the scenario, else a doc comment above the first undocumented function.
//!
//! Must not touch the file system (the engine runs `edit_file`) and must not panic on any
//! file text.

use regex::Regex;

use super::scenario::{KnownEdit, WorkspaceHints};
use super::tools::Action;

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
