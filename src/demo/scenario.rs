//! The demo's script: data loaded from `assets/demo/*.toml` (embedded at build time) and the
//! small helpers that pick a theme for a task and fill `{placeholders}` in its texts.
//!
//! Owns the scenario format (documented in docs/demo.md). Must not decide anything about a
//! request: `orchestrator` and `worker` read the scenario and build the answers.

use serde::Deserialize;

use super::vars::{RoleKind, Vars, norm};
use crate::protocol::{Priority, ProposedSubtask, Report, ReportStatus};

/// The showcase theme ("Build a URL shortener with an API, storage and tests").
const SHOWCASE: &str = include_str!("../../assets/demo/scenario.toml");
/// Short writing tasks (a haiku, a poem, a story, a letter).
const WRITING: &str = include_str!("../../assets/demo/writing.toml");
/// Research tasks (a report, an analysis, a proposal).
const RESEARCH: &str = include_str!("../../assets/demo/research.toml");
/// Data tasks (a dataset, a CSV, a spreadsheet).
const DATA: &str = include_str!("../../assets/demo/data.toml");
/// Software: the theme used for any other task, phrased around the task's own words.
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
                ("research.toml", RESEARCH),
                ("data.toml", DATA),
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
        // Keyword themes are tried in order (a stable sort keeps the file order); the
        // catch-all goes last.
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

    /// The theme for a task: the first whose keywords the task mentions (as whole words,
    /// a plural `s` allowed), else the generic one. Themes are tried in file order, so the
    /// kind of task (writing, research, data) decides before the software catch-all.
    pub fn theme_for(&self, task: &str) -> &Theme {
        let lower = task.to_lowercase();
        self.themes
            .iter()
            .find(|t| t.keywords.iter().any(|k| mentions(&lower, k)))
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
    pub kind: ThemeKind,
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

/// The kind of task a theme plays (it decides the analysis' `task_type` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeKind {
    Writing,
    Research,
    Data,
    Software,
}

impl ThemeKind {
    pub fn label(self) -> &'static str {
        match self {
            ThemeKind::Writing => "writing",
            ThemeKind::Research => "research",
            ThemeKind::Data => "data",
            ThemeKind::Software => "software",
        }
    }
}

/// Whether `lower` (a lower-case task) mentions `keyword` as whole words: no letter or digit
/// right before it, none right after it except a plural `s`.
pub fn mentions(lower: &str, keyword: &str) -> bool {
    let k = keyword.trim().to_lowercase();
    if k.is_empty() {
        return false;
    }
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    lower.match_indices(&k).any(|(i, _)| {
        let before = lower[..i].chars().next_back();
        let mut after = lower[i + k.len()..].chars();
        let next = after.next();
        let ends = !alnum(next) || (next == Some('s') && !alnum(after.next()));
        !alnum(before) && ends
    })
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
    /// What the decision is about ("Link expiry"), for the deliverable's decisions.
    pub topic: String,
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
    fn keywords_match_whole_words() {
        assert!(mentions("write a haiku", "haiku"));
        assert!(mentions("three haikus, please", "haiku"));
        assert!(mentions("write a report on x", "a report "));
        assert!(!mentions("build a reporting tool", "a report "));
        assert!(!mentions("fix the settle job", "etl"));
        assert!(!mentions("anything", "  "));
    }

    #[test]
    fn each_kind_has_a_theme() {
        let sc = Scenario::builtin().unwrap();
        let theme = |task: &str| sc.theme_for(task).kind;
        assert_eq!(theme("Write a haiku"), ThemeKind::Writing);
        assert_eq!(theme("Write a report on heat pumps"), ThemeKind::Research);
        assert_eq!(theme("Clean the customer dataset"), ThemeKind::Data);
        assert_eq!(theme("Refactor the billing module"), ThemeKind::Software);
        assert_eq!(sc.theme_for("Build a URL shortener").name, "url-shortener");
    }
}
