//! The demo orchestrator's `submit_synthesis`: the deliverable built from the run as the
//! synthesis request describes it, never from the script alone.
//!
//! Owns what the deliverable may claim: a line of the theme's texts marked `@if(Title)` is
//! kept only when that subtask produced a result (`@unless(Title)`: only when it did not),
//! so a feature the person cancelled never appears; `{result:Title}` is the result that
//! worker reported; `{decisions}` says who settled each open question (the person only when
//! the plan shows their guidance); `{work_summary}` lists the subtasks that were not set
//! aside. When the workers used workspace tools, the deliverable is what they did there,
//! not the theme's prose about a planned service. Must not panic on any context.

use std::collections::HashSet;

use super::orchestrator::{first_sentence, is_done, to_value};
use super::scenario::{Scenario, Theme};
use super::stream::Reply;
use super::vars::{Vars, norm};
use super::worker::IN_WORKSPACE;
use crate::protocol::model::{OrchestratorContext, SUBMIT_SYNTHESIS, SubtaskView, SynthesisArgs};

/// The subtasks that produced a result, by normalised title.
struct Done(HashSet<String>);

impl Done {
    fn of(ctx: &OrchestratorContext) -> Done {
        Done(
            ctx.subtasks
                .iter()
                .filter(|s| is_done(&s.status))
                .map(|s| norm(&s.title))
                .collect(),
        )
    }

    fn has(&self, title: &str) -> bool {
        self.0.contains(&norm(title))
    }
}

/// Keeps the lines whose `@if(…)`/`@unless(…)` prefixes hold, without the prefixes.
fn keep_lines(text: &str, done: &Done) -> String {
    let mut out = Vec::new();
    'lines: for line in text.lines() {
        let mut rest = line;
        loop {
            let (cond, want) = if let Some(r) = rest.strip_prefix("@if(") {
                (r, true)
            } else if let Some(r) = rest.strip_prefix("@unless(") {
                (r, false)
            } else {
                break;
            };
            let Some(close) = cond.find(')') else {
                break;
            };
            if done.has(&cond[..close]) != want {
                continue 'lines;
            }
            rest = cond[close + 1..].trim_start();
        }
        out.push(rest);
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// Replaces every `{result:Title}` with the result that subtask reported (empty when it
/// reported none), in one pass: inserted results are not scanned again.
fn fill_results(text: &str, subtasks: &[SubtaskView]) -> String {
    const OPEN: &str = "{result:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let wanted = norm(&after[..close]);
        let result = subtasks
            .iter()
            .filter(|s| is_done(&s.status) && norm(&s.title) == wanted)
            .find_map(|s| s.results.as_deref())
            .unwrap_or("");
        out.push_str(result.trim());
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A theme text as the run allows it: placeholders, then conditions, then results.
fn render(text: &str, vars: &Vars, done: &Done, ctx: &OrchestratorContext) -> String {
    fill_results(&keep_lines(&vars.render(text), done), &ctx.subtasks)
}

fn render_items(
    items: &[String],
    vars: &Vars,
    done: &Done,
    ctx: &OrchestratorContext,
) -> Vec<String> {
    items
        .iter()
        .map(|i| render(i, vars, done, ctx).trim().to_string())
        .filter(|i| !i.is_empty())
        .collect()
}

/// A Markdown table of the subtasks that were not set aside and what each produced.
fn work_summary(ctx: &OrchestratorContext) -> String {
    let mut out = String::from("| # | Subtask | Role | Status | Result |\n|---|---|---|---|---|\n");
    for s in ctx.subtasks.iter().filter(|s| !set_aside(s)) {
        let result = s
            .results
            .as_deref()
            .map(|r| first_sentence(r, 160))
            .unwrap_or_else(|| "—".into())
            .replace('|', "\\|");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            s.id,
            s.title.replace('|', "\\|"),
            s.role,
            s.status,
            result
        ));
    }
    out
}

fn set_aside(s: &SubtaskView) -> bool {
    matches!(s.status.as_str(), "cancelled" | "deferred")
}

/// Who settled each question a worker stopped on: the person (their guidance, as the plan
/// shows it), else the default the worker applied because nobody answered.
fn decisions(theme: &Theme, vars: &Vars, ctx: &OrchestratorContext) -> String {
    let mut lines = Vec::new();
    for s in ctx.subtasks.iter().filter(|s| is_done(&s.status)) {
        let Some(b) = theme
            .worker(&s.title, vars)
            .and_then(|w| w.blocked.as_ref())
        else {
            continue;
        };
        let topic = vars.render(&b.topic);
        let line = match s
            .guidance
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
        {
            Some(g) => format!(
                "- **{topic}**: decided by the person during the run: “{}” (applied in #{} {}).",
                g.trim_end_matches('.'),
                s.id,
                s.title
            ),
            None => format!(
                "- **{topic}**: no person answered, so the conservative default was applied in #{} {}: {}.",
                s.id,
                s.title,
                vars.render(&b.default_decision).trim_end_matches('.')
            ),
        };
        lines.push(line);
    }
    if lines.is_empty() {
        String::new()
    } else {
        format!("## Decisions\n\n{}\n", lines.join("\n"))
    }
}

/// Whether the workers worked in a real workspace (their results say what the tools did).
fn in_workspace(ctx: &OrchestratorContext) -> bool {
    ctx.subtasks.iter().any(|s| {
        is_done(&s.status)
            && s.results
                .as_deref()
                .is_some_and(|r| r.trim_start().starts_with(IN_WORKSPACE))
    })
}

/// The deliverable of a workspace run: what each worker did there, in plan order.
fn workspace_deliverable(vars: &Vars, ctx: &OrchestratorContext) -> String {
    let mut out = vars.render(
        "# {Subject}: what the workers did in the workspace\n\nFor: {task}. Every change below was made through Baton's workspace tools and can be reviewed and rolled back per subtask.\n\n",
    );
    for s in ctx.subtasks.iter().filter(|s| is_done(&s.status)) {
        let results = s.results.as_deref().unwrap_or("").trim();
        out.push_str(&format!("## #{} {}\n\n{results}\n\n", s.id, s.title));
    }
    out.push_str(&vars.render("{decisions}\n## What each subtask contributed\n\n{work_summary}"));
    out
}

pub fn synthesis(sc: &Scenario, ctx: &OrchestratorContext) -> Reply {
    let theme = sc.theme_for(&ctx.task);
    let mut vars = Vars::for_task(theme, &ctx.task);
    vars.set("work_summary", &work_summary(ctx));
    vars.set("decisions", &decisions(theme, &vars, ctx));
    let done = Done::of(ctx);
    let s = &theme.synthesis;
    let workspace = in_workspace(ctx);
    let (deliverable, integration_points, conflicts, mut coherence) = if workspace {
        (
            workspace_deliverable(&vars, ctx),
            vec!["Each subtask's changes are recorded separately, so any one of them can be rolled back without the others.".to_string()],
            Vec::new(),
            "The deliverable describes only what the tools did in the workspace.".to_string(),
        )
    } else {
        (
            render(&s.deliverable, &vars, &done, ctx),
            render_items(&s.integration_points, &vars, &done, ctx),
            render_items(&s.conflicts, &vars, &done, ctx),
            render(&s.coherence, &vars, &done, ctx).trim().to_string(),
        )
    };
    let produced = ctx.subtasks.iter().filter(|s| is_done(&s.status)).count();
    let live = ctx.subtasks.iter().filter(|s| !set_aside(s)).count();
    let aside = ctx.subtasks.len() - live;
    let partial: Vec<String> = ctx
        .subtasks
        .iter()
        .filter(|s| s.status == "partial")
        .map(|s| format!("#{} {}", s.id, s.title))
        .collect();
    coherence.push_str(&format!(" {produced} of {live} subtasks produced results"));
    if partial.is_empty() {
        coherence.push('.');
    } else {
        coherence.push_str(&format!(
            "; partial results are flagged where they are used ({}).",
            partial.join(", ")
        ));
    }
    if aside > 0 {
        coherence.push_str(&format!(
            " {aside} set aside during the run {} not part of this deliverable.",
            if aside == 1 { "is" } else { "are" }
        ));
    }
    let args = SynthesisArgs {
        deliverable,
        integration_points,
        conflicts,
        coherence: coherence.trim().to_string(),
    };
    let thinking = if workspace {
        "Pulling the reports together: the deliverable is what the workers did in the workspace, subtask by subtask.".to_string()
    } else {
        render(&s.thinking, &vars, &done, ctx)
    };
    Reply::tool(thinking, SUBMIT_SYNTHESIS, to_value(&args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: u32, title: &str, status: &str, results: &str) -> SubtaskView {
        SubtaskView {
            id,
            title: title.into(),
            role: "code_developer".into(),
            status: status.into(),
            priority: Default::default(),
            depends_on: Vec::new(),
            results: Some(results.into()),
            guidance: None,
        }
    }

    #[test]
    fn conditions_keep_only_what_the_run_did() {
        let subtasks = [
            view(1, "Add A", "complete", "A done"),
            view(2, "Add B", "cancelled", ""),
        ];
        let done = Done(
            subtasks
                .iter()
                .filter(|s| is_done(&s.status))
                .map(|s| norm(&s.title))
                .collect(),
        );
        let text =
            "x\n@if(Add A) a\n@if(add  b) b\n@unless(Add B) no b\n@if(Add A)@if(Add B) both\nend\n";
        assert_eq!(keep_lines(text, &done), "x\na\nno b\nend\n");
        assert_eq!(
            fill_results("[{result:add a}] [{result:Add B}] [{result:open", &subtasks),
            "[A done] [] [{result:open"
        );
    }
}
