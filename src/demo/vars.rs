//! The words of the demo's texts: `{placeholder}` values (`Vars`), how titles compare
//! (`norm`), the short subject of a task (`subject_of`) and the broad kind of a role.
//!
//! Pure text helpers; must not know the scenario's format or any request.

use std::collections::HashMap;

use super::scenario::Theme;

/// The broad kind of a role, for roles the user named differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    Analyzer,
    Architect,
    Developer,
    Tester,
    Writer,
    Optimizer,
    Other,
}

impl RoleKind {
    pub fn of(role: &str) -> RoleKind {
        let r = role.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
        if has(&["test", "qa", "quality"]) {
            RoleKind::Tester
        } else if has(&["doc", "writer", "technical_writ"]) {
            RoleKind::Writer
        } else if has(&["perf", "optim", "bench"]) {
            RoleKind::Optimizer
        } else if has(&["architect", "design"]) {
            RoleKind::Architect
        } else if has(&["analy", "review", "research", "audit"]) {
            RoleKind::Analyzer
        } else if has(&["develop", "engineer", "coder", "implement", "program"]) {
            RoleKind::Developer
        } else {
            RoleKind::Other
        }
    }
}

/// `{placeholder}` values for one request.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: HashMap<&'static str, String>,
}

impl Vars {
    /// `{task}` and `{subject}` for a task under a theme.
    pub fn for_task(theme: &Theme, task: &str) -> Vars {
        let mut vars = Vars::default();
        let task = task.trim();
        let task = if task.is_empty() { "the task" } else { task };
        vars.set("task", task.trim_end_matches('.'));
        let subject = theme.subject.clone().unwrap_or_else(|| subject_of(task));
        vars.set("subject", &subject);
        let mut chars = subject.chars();
        let capitalised: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        vars.set("Subject", &capitalised);
        vars
    }

    pub fn set(&mut self, key: &'static str, value: &str) {
        self.values.insert(key, value.to_string());
    }

    /// Replaces every `{key}` with its value in one pass (values are not scanned again, so
    /// a task that contains `{subject}` stays as written); unknown `{...}` stay too.
    pub fn render(&self, text: &str) -> String {
        if !text.contains('{') {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len() + 64);
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let key_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let value = (after[key_len..].starts_with('}'))
                .then(|| self.values.get(&after[..key_len]))
                .flatten();
            match value {
                Some(v) => {
                    out.push_str(v);
                    rest = &after[key_len + 1..];
                }
                None => {
                    out.push('{');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    pub fn render_all(&self, items: &[String]) -> Vec<String> {
        items.iter().map(|s| self.render(s)).collect()
    }
}

/// Titles compare case- and space-insensitively.
pub fn norm(title: &str) -> String {
    title
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A short noun phrase for a task: "Build a CLI todo app with sync" -> "CLI todo app".
pub fn subject_of(task: &str) -> String {
    const VERBS: &[&str] = &[
        "build",
        "create",
        "write",
        "implement",
        "make",
        "add",
        "design",
        "develop",
        "refactor",
        "set up",
        "setup",
        "port",
        "migrate",
        "improve",
        "optimize",
        "optimise",
        "fix",
        "ship",
        "prototype",
        "rewrite",
    ];
    const ARTICLES: &[&str] = &["a ", "an ", "the ", "our ", "my ", "some "];
    const DOCUMENT_KINDS: &[&str] = &[
        "report on ",
        "report about ",
        "article on ",
        "article about ",
        "essay on ",
        "essay about ",
        "blog post on ",
        "blog post about ",
        "analysis of ",
        "guide to ",
        "summary of ",
        "comparison of ",
        "proposal for ",
        "review of ",
        "whitepaper on ",
        "literature review on ",
        "market analysis of ",
        "research on ",
        "research into ",
    ];
    const CUTS: &[&str] = &[
        " with ",
        " that ",
        " which ",
        " using ",
        " for ",
        " so that ",
        " in order ",
        ",",
        ".",
        ";",
        ":",
        " and ",
        " to ",
    ];
    let first_line = task.lines().next().unwrap_or("").trim();
    let mut s = first_line.to_string();
    let lower = s.to_lowercase();
    for v in VERBS {
        if lower.starts_with(&format!("{v} ")) {
            s = s.get(v.len() + 1..).unwrap_or("").trim_start().to_string();
            break;
        }
    }
    let strip_article = |s: &mut String| {
        let lower = s.to_lowercase();
        if let Some(a) = ARTICLES.iter().find(|a| lower.starts_with(*a)) {
            *s = s.get(a.len()..).unwrap_or("").to_string();
        }
    };
    strip_article(&mut s);
    // "a report on X" is about X.
    let lower = s.to_lowercase();
    if let Some(p) = DOCUMENT_KINDS.iter().find(|p| lower.starts_with(*p)) {
        s = s.get(p.len()..).unwrap_or("").to_string();
        strip_article(&mut s);
    }
    let lower = s.to_lowercase();
    let cut = CUTS
        .iter()
        .filter_map(|c| lower.find(c))
        .filter(|&i| i > 0)
        .min()
        .unwrap_or(s.len());
    let s = s.get(..cut).unwrap_or(&s).trim();
    let words: Vec<&str> = s.split_whitespace().take(6).collect();
    if words.is_empty() {
        "project".into()
    } else {
        words.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_one_pass_and_keeps_unknown_braces() {
        let mut v = Vars::default();
        v.set("task", "make {subject} great");
        v.set("subject", "X");
        assert_eq!(
            v.render("{task} / {subject} / {code} / {error, detail} / {"),
            "make {subject} great / X / {code} / {error, detail} / {"
        );
    }

    #[test]
    fn subject_is_a_short_noun_phrase() {
        assert_eq!(
            subject_of("Build a URL shortener with an API, storage and tests"),
            "URL shortener"
        );
        assert_eq!(subject_of("Refactor the billing module"), "billing module");
        assert_eq!(subject_of(""), "project");
        assert_eq!(subject_of("Write a CLI todo app for teams"), "CLI todo app");
        assert_eq!(
            subject_of("Write a report on the adoption of heat pumps in Europe"),
            "adoption of heat pumps in Europe"
        );
    }
}
