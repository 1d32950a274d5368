//! The demo's script: data loaded from `assets/demo/*.toml` (embedded at build time) and the
//! small helpers that pick a theme for a task and fill `{placeholders}` in its texts.
//!
//! Owns the scenario format (documented in docs/demo.md). Must not decide anything about a
//! request: `orchestrator` and `worker` read the scenario and build the answers.

use std::collections::HashMap;

use serde::Deserialize;

use crate::protocol::{Priority, ProposedSubtask, Report, ReportStatus};

/// The showcase theme ("Build a URL shortener with an API, storage and tests").
const SHOWCASE: &str = include_str!("../../assets/demo/scenario.toml");
/// Writing and research tasks (a report, an analysis, a proposal).
const WRITING: &str = include_str!("../../assets/demo/writing.toml");
/// The theme used for any other task, phrased around the task's own words.
const GENERIC: &str = include_str!("../../assets/demo/generic.toml");
/// Role fallbacks, generic phrases and workspace hints shared by all themes.
const COMMON: &str = include_str!("../../assets/demo/common.toml");

/// Everything the demo knows.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Keyword themes first, the generic theme (no keywords) last.
    pub themes: Vec<Theme>,
    pub common: Common,
}

impl Scenario {
    /// Parses the embedded scenario files.
    pub fn builtin() -> Result<Scenario, String> {
        Self::from_sources(
            &[
                ("scenario.toml", SHOWCASE),
                ("writing.toml", WRITING),
                ("generic.toml", GENERIC),
            ],
            COMMON,
        )
    }

    /// Parses themes and the common file (names are for error messages).
    pub fn from_sources(themes: &[(&str, &str)], common: &str) -> Result<Scenario, String> {
        let mut parsed = Vec::new();
        for (name, text) in themes {
            let theme: Theme =
                toml::from_str(text).map_err(|e| format!("assets/demo/{name}: {}", e.message()))?;
            parsed.push(theme);
        }
        // Keyword themes are tried in order; the catch-all goes last.
        parsed.sort_by_key(|t| t.keywords.is_empty());
        if !parsed.iter().any(|t| t.keywords.is_empty()) {
            return Err(
                "the demo scenario needs one theme without keywords (the generic one)".into(),
            );
        }
        let common: Common = toml::from_str(common)
            .map_err(|e| format!("assets/demo/common.toml: {}", e.message()))?;
        Ok(Scenario {
            themes: parsed,
            common,
        })
    }

    /// The theme whose keywords appear in the task, else the generic one.
    pub fn theme_for(&self, task: &str) -> &Theme {
        let lower = task.to_lowercase();
        self.themes
            .iter()
            .find(|t| t.keywords.iter().any(|k| lower.contains(&k.to_lowercase())))
            .or_else(|| self.themes.iter().find(|t| t.keywords.is_empty()))
            .unwrap_or(&self.themes[0])
    }

    /// The fallback script for a role (by name, then by kind), for subtasks no theme knows.
    pub fn role_script(&self, role: &str) -> &RoleScript {
        let kind = RoleKind::of(role);
        self.common
            .roles
            .iter()
            .find(|r| r.role == role)
            .or_else(|| {
                self.common
                    .roles
                    .iter()
                    .find(|r| RoleKind::of(&r.role) == kind)
            })
            .unwrap_or(&self.common.default_role)
    }
}

/// One theme file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub name: String,
    /// Lower-case words; the theme is chosen when the task contains one. Empty: generic.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// The `{subject}` of the texts; derived from the task when absent.
    #[serde(default)]
    pub subject: Option<String>,
    pub analysis: AnalysisScript,
    pub workers: Vec<WorkerScript>,
    #[serde(default)]
    pub replans: Vec<ReplanScript>,
    pub synthesis: SynthesisScript,
    pub evaluation: EvaluationScript,
}

impl Theme {
    /// The worker script whose (rendered) title is `title`.
    pub fn worker(&self, title: &str, vars: &Vars) -> Option<&WorkerScript> {
        let wanted = norm(title);
        self.workers
            .iter()
            .find(|w| norm(&vars.render(&w.title)) == wanted)
    }

    /// The replan script that follows the report of the subtask titled `title`.
    pub fn replan_after(&self, title: &str, vars: &Vars) -> Option<&ReplanScript> {
        let wanted = norm(title);
        self.replans
            .iter()
            .find(|r| norm(&vars.render(&r.after)) == wanted)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisScript {
    /// Streamed while "thinking".
    pub thinking: String,
    pub complexity: f64,
    pub task_type: String,
    pub known_requirements: Vec<String>,
    pub unknowns: Vec<String>,
    pub estimated_subtasks: u32,
    pub strategy: String,
    pub subtasks: Vec<SubtaskScript>,
}

/// A subtask as the scenario writes it (becomes a `ProposedSubtask`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubtaskScript {
    pub title: String,
    pub description: String,
    pub role: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub expected_output: String,
}

impl SubtaskScript {
    pub fn render(&self, vars: &Vars) -> ProposedSubtask {
        ProposedSubtask {
            title: vars.render(&self.title),
            description: vars.render(&self.description),
            role: self.role.clone(),
            depends_on: self.depends_on.iter().map(|d| vars.render(d)).collect(),
            priority: self.priority,
            expected_output: vars.render(&self.expected_output),
        }
    }
}

/// What a worker says and reports for one subtask (keyed by title).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerScript {
    pub title: String,
    /// Streamed word by word before the report.
    pub work: String,
    pub report: ReportScript,
    /// Present when the first attempt is blocked (until a person gives guidance).
    #[serde(default)]
    pub blocked: Option<BlockedScript>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportScript {
    #[serde(default = "complete")]
    pub status: ReportStatus,
    pub results: String,
    #[serde(default)]
    pub discoveries: Vec<String>,
    #[serde(default)]
    pub recommendations: Vec<String>,
    #[serde(default)]
    pub new_subtasks: Vec<SubtaskScript>,
}

fn complete() -> ReportStatus {
    ReportStatus::Complete
}

impl ReportScript {
    pub fn render(&self, vars: &Vars) -> Report {
        Report {
            status: self.status,
            results: vars.render(&self.results),
            discoveries: vars.render_all(&self.discoveries),
            recommendations: vars.render_all(&self.recommendations),
            new_subtasks: self.new_subtasks.iter().map(|s| s.render(vars)).collect(),
        }
    }
}

/// The first attempt of a subtask that needs a person's decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedScript {
    pub work: String,
    pub results: String,
    #[serde(default)]
    pub discoveries: Vec<String>,
    #[serde(default)]
    pub recommendations: Vec<String>,
    /// The orchestrator's `escalate` rationale.
    pub escalation: String,
    #[serde(default)]
    pub impact: String,
    /// `{guidance}` in the normal script when a retry comes without guidance.
    pub default_decision: String,
}

/// The orchestrator's replan after the report of subtask `after`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplanScript {
    pub after: String,
    /// Streamed while "thinking" (optional; a generic line is used otherwise).
    #[serde(default)]
    pub thinking: String,
    pub summary: String,
    #[serde(default)]
    pub scope_note: String,
    /// Subtasks the orchestrator adds itself (beside the worker's proposals).
    #[serde(default)]
    pub add: Vec<SubtaskScript>,
    #[serde(default)]
    pub update: Vec<UpdateScript>,
    #[serde(default)]
    pub cancel: Vec<CancelScript>,
}

/// Re-link or reprioritise an existing subtask (skipped when it is already running or done).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateScript {
    pub title: String,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Titles added to its dependencies (ones not in the plan are skipped).
    #[serde(default)]
    pub add_depends_on: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelScript {
    pub title: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthesisScript {
    pub thinking: String,
    /// Markdown; `{work_summary}` becomes a table of the run's subtasks and results.
    pub deliverable: String,
    pub integration_points: Vec<String>,
    #[serde(default)]
    pub conflicts: Vec<String>,
    pub coherence: String,
}

/// The evaluator pass: the first round asks for `extra_subtask`, the next accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationScript {
    pub thinking: String,
    pub feedback_more: String,
    pub feedback_accept: String,
    pub extra_subtask: SubtaskScript,
}

/// `common.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    pub roles: Vec<RoleScript>,
    pub default_role: RoleScript,
    pub workspace: WorkspaceHints,
}

/// A generic worker script for a role, used for subtasks no theme knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleScript {
    pub role: String,
    pub work: String,
    pub results: String,
    #[serde(default)]
    pub discoveries: Vec<String>,
    #[serde(default)]
    pub recommendations: Vec<String>,
}

impl RoleScript {
    pub fn as_worker(&self) -> WorkerScript {
        WorkerScript {
            title: String::new(),
            work: self.work.clone(),
            report: ReportScript {
                status: ReportStatus::Complete,
                results: self.results.clone(),
                discoveries: self.discoveries.clone(),
                recommendations: self.recommendations.clone(),
                new_subtasks: Vec::new(),
            },
            blocked: None,
        }
    }
}

/// How demo workers use workspace tools on a real directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceHints {
    /// Test commands by marker path (relative to the root, `*` wildcards), first match wins.
    pub test_commands: Vec<TestCommand>,
    /// Used when no marker matches.
    pub default_test_command: String,
    /// Files worth reading first, by name (tried in order).
    pub preferred_files: Vec<String>,
    /// Extensions of source files.
    pub source_extensions: Vec<String>,
    /// Directories that usually hold the sources.
    pub source_dirs: Vec<String>,
    /// Known improvements: applied when a read file contains `find` exactly once.
    #[serde(default)]
    pub edits: Vec<KnownEdit>,
    /// The regex the performance optimizer searches for.
    pub search_pattern: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCommand {
    pub marker: String,
    pub command: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownEdit {
    /// The file's path ends with this.
    pub file: String,
    pub find: String,
    pub replace: String,
    /// What the edit does, for the report.
    pub summary: String,
    /// Preferred by subtasks whose title contains one of these words.
    #[serde(default)]
    pub prefer: Vec<String>,
}

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
    fn builtin_scenario_parses() {
        let sc = Scenario::builtin().unwrap();
        assert!(sc.themes.len() >= 2);
        assert!(sc.themes.last().unwrap().keywords.is_empty());
    }

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
