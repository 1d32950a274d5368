//! The demo orchestrator's `submit_analysis`: the theme's plan for the task, with a
//! complexity rated from the task itself.
//!
//! Owns the complexity rating (documented in docs/demo.md). Must not panic on any task.

use super::orchestrator::to_value;
use super::scenario::{Scenario, mentions};
use super::stream::Reply;
use super::vars::{RoleKind, Vars};
use crate::protocol::ProposedSubtask;
use crate::protocol::model::{AnalysisArgs, SUBMIT_ANALYSIS};

/// Words that make a task small whatever its theme: the kinds of change, not adjectives
/// ("build a small CLI app with tests and docs" is still a build with several parts).
const SMALL: &[&str] = &[
    "rename",
    "typo",
    "one-line",
    "one line",
    "one-liner",
    "tiny",
    "bump",
];
/// What each clause that adds a feature adds to the rating ("with", "and", a comma).
const PER_CLAUSE: f64 = 0.02;
/// At most this many clauses count.
const MAX_CLAUSES: usize = 4;

/// The theme's base rating, adjusted to the task: each feature clause adds 0.02 (at most
/// four), a small-task word ("rename", "typo", …) takes 0.4 off, a task of three words or
/// fewer takes 0.1 off; clamped to 0.05..=0.95 and rounded to two decimals. So "Build a URL
/// shortener with an API, storage and tests" rates 0.72 + 3 × 0.02 = 0.78, "Write a haiku"
/// 0.3 − 0.1 = 0.2 and "rename a variable" 0.72 − 0.4 − 0.1 = 0.22.
pub fn complexity(base: f64, task: &str) -> f64 {
    let lower = task.to_lowercase();
    let clauses = [",", ";"]
        .iter()
        .map(|sep| lower.matches(sep).count())
        .chain(
            [" with ", " and ", " plus "]
                .iter()
                .map(|w| lower.matches(w).count()),
        )
        .sum::<usize>()
        .min(MAX_CLAUSES);
    let mut c = base + PER_CLAUSE * clauses as f64;
    if is_small(task) {
        c -= 0.4;
    }
    if lower.split_whitespace().count() <= 3 {
        c -= 0.1;
    }
    let c = c.clamp(0.05, 0.95);
    (c * 100.0).round() / 100.0
}

/// Is the task small whatever its theme ("rename a variable", "fix a typo")?
pub fn is_small(task: &str) -> bool {
    let lower = task.to_lowercase();
    SMALL.iter().any(|w| mentions(&lower, w))
}

/// The smallest plan that does a small task: the theme's first subtask that does the work
/// (a developer's) and the first that checks it (a tester's, after it). `None` when the
/// theme has no such pair (a writing theme's plan is small already).
fn small_plan(subtasks: &[ProposedSubtask]) -> Option<Vec<ProposedSubtask>> {
    let first = |kind: RoleKind| {
        subtasks
            .iter()
            .find(|s| RoleKind::of(&s.role) == kind)
            .cloned()
    };
    let mut work = first(RoleKind::Developer)?;
    let mut check = first(RoleKind::Tester)?;
    work.depends_on = Vec::new();
    check.depends_on = vec![work.title.clone()];
    Some(vec![work, check])
}

pub fn analysis(sc: &Scenario, task: &str) -> Reply {
    let theme = sc.theme_for(task);
    let vars = Vars::for_task(theme, task);
    let a = &theme.analysis;
    let mut subtasks: Vec<ProposedSubtask> = a.subtasks.iter().map(|s| s.render(&vars)).collect();
    let mut estimated_subtasks = a.estimated_subtasks;
    let mut strategy = vars.render(&a.strategy);
    let mut thinking = vars.render(&a.thinking);
    // A small task gets a small plan, whoever chooses to orchestrate it (a person at the
    // complexity gate, or `--approve auto`'s policy): never the theme's six-subtask chain.
    if is_small(task)
        && let Some(plan) = small_plan(&subtasks)
    {
        estimated_subtasks = plan.len() as u32;
        strategy = format!(
            "A small change: \"{}\", then \"{}\" to check it. No survey or design step is needed.",
            plan[0].title, plan[1].title
        );
        thinking = format!(
            "Reading the task: \"{task}\". A small, well-defined change: nothing to survey or \
             design first. Two subtasks: make it, then check it.\n"
        );
        subtasks = plan;
    }
    let args = AnalysisArgs {
        complexity: complexity(a.complexity, task),
        task_type: format!("{}: {}", theme.kind.label(), vars.render(&a.task_type)),
        known_requirements: vars.render_all(&a.known_requirements),
        unknowns: vars.render_all(&a.unknowns),
        estimated_subtasks,
        strategy,
        subtasks,
    };
    Reply::tool(thinking, SUBMIT_ANALYSIS, to_value(&args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rating_follows_the_task() {
        let showcase = "Build a URL shortener with an API, storage and tests";
        assert_eq!(complexity(0.72, showcase), 0.78);
        assert_eq!(complexity(0.3, "Write a haiku"), 0.2);
        assert_eq!(complexity(0.72, "rename a variable"), 0.22);
        assert_eq!(
            complexity(0.72, "Add rate limiting to the public API"),
            0.72
        );
        // Clauses count up to four; the rating stays within bounds.
        assert_eq!(complexity(0.9, "a, b, c, d, e, f and g with h"), 0.95);
        assert_eq!(complexity(0.1, "fix a typo"), 0.05);
    }
}
