//! The demo orchestrator's replan: adds what the workers proposed (without duplicates,
//! dependencies resolved to `#id`s), plus the scenario's own additions, re-links and
//! cancellations, and a scope note computed from the plan.
//!
//! Must accept any context, however odd, without panicking.

use std::collections::HashSet;

use super::orchestrator::{first_sentence, to_value};
use super::scenario::{Scenario, UpdateScript};
use super::stream::Reply;
use super::vars::{Vars, norm};
use crate::protocol::model::{
    OrchestratorContext, ReplanArgs, ReplanCancel, ReplanUpdate, SUBMIT_REPLAN, SubtaskView,
};
use crate::protocol::{ProposedSubtask, ReportStatus};

/// Resolves a dependency reference to `#id` when it names a subtask in the plan.
fn resolve(subtasks: &[SubtaskView], reference: &str) -> Option<String> {
    let r = reference.trim();
    if let Ok(n) = r.trim_start_matches('#').parse::<u32>() {
        return subtasks
            .iter()
            .find(|s| s.id == n)
            .map(|s| format!("#{}", s.id));
    }
    let wanted = norm(r);
    subtasks
        .iter()
        .find(|s| norm(&s.title) == wanted)
        .map(|s| format!("#{}", s.id))
}

/// Keeps the dependencies that exist: in the plan (as `#id`) or earlier in this batch.
pub(super) fn sanitize(
    subtask: &mut ProposedSubtask,
    plan: &[SubtaskView],
    batch: &[ProposedSubtask],
) {
    let mut deps = Vec::new();
    for d in &subtask.depends_on {
        if let Some(id) = resolve(plan, d) {
            deps.push(id);
        } else if batch.iter().any(|b| norm(&b.title) == norm(d)) {
            deps.push(d.clone());
        }
    }
    deps.dedup();
    subtask.depends_on = deps;
}

struct Batch<'a> {
    plan: &'a [SubtaskView],
    add: Vec<ProposedSubtask>,
    seen: HashSet<String>,
}

impl<'a> Batch<'a> {
    fn new(plan: &'a [SubtaskView]) -> Self {
        Batch {
            plan,
            add: Vec::new(),
            seen: plan.iter().map(|s| norm(&s.title)).collect(),
        }
    }

    /// Adds a subtask unless one with the same title exists. Returns whether it was added.
    fn push(&mut self, mut s: ProposedSubtask) -> bool {
        if !self.seen.insert(norm(&s.title)) {
            return false;
        }
        sanitize(&mut s, self.plan, &self.add);
        self.add.push(s);
        true
    }
}

pub fn replan(sc: &Scenario, ctx: &OrchestratorContext) -> Reply {
    let theme = sc.theme_for(&ctx.task);
    let vars = Vars::for_task(theme, &ctx.task);
    let mut batch = Batch::new(&ctx.subtasks);
    let mut update: Vec<ReplanUpdate> = Vec::new();
    let mut cancel: Vec<ReplanCancel> = Vec::new();
    let mut summary = Vec::new();
    let mut notes = Vec::new();
    let mut thinking = Vec::new();

    for rv in &ctx.reports {
        let report = &rv.report;
        let label = format!("#{} {}", rv.id, rv.title);
        thinking.push(format!(
            "Reading the report of {label} ({}).",
            status_word(report.status)
        ));
        let mut added_here = Vec::new();
        if report.status != ReportStatus::Blocked {
            for ns in &report.new_subtasks {
                if batch.push(ns.clone()) {
                    added_here.push(ns.title.clone());
                }
            }
        }
        match theme.replan_after(&rv.title, &vars) {
            Some(script) if report.status != ReportStatus::Blocked => {
                if !script.thinking.is_empty() {
                    thinking.push(vars.render(&script.thinking));
                }
                summary.push(vars.render(&script.summary));
                for s in &script.add {
                    let s = s.render(&vars);
                    let title = s.title.clone();
                    if batch.push(s) {
                        added_here.push(title);
                    }
                }
                for u in &script.update {
                    if let Some(up) = scripted_update(&ctx.subtasks, &batch.add, u, &vars) {
                        update.push(up);
                    }
                }
                for c in &script.cancel {
                    let title = vars.render(&c.title);
                    if let Some(s) = find_open(&ctx.subtasks, &title) {
                        cancel.push(ReplanCancel {
                            id: format!("#{}", s.id),
                            reason: vars.render(&c.reason),
                        });
                    }
                }
                if !script.scope_note.is_empty() {
                    notes.push(vars.render(&script.scope_note));
                }
            }
            _ => summary.push(generic_summary(
                &label,
                rv.report.status,
                &rv.report.results,
            )),
        }
        if !added_here.is_empty() {
            thinking.push(format!(
                "It surfaced work we had not planned: {}. Adding {}.",
                added_here.join("; "),
                if added_here.len() == 1 { "it" } else { "them" }
            ));
        }
        if !report.discoveries.is_empty() {
            thinking.push(format!(
                "Worth sharing with the other workers: {}",
                first_sentence(&report.discoveries[0], 160)
            ));
        }
    }
    if ctx.reports.is_empty() {
        summary.push("No new reports; the plan stands as it is.".to_string());
    }

    let live = ctx
        .subtasks
        .iter()
        .filter(|s| s.status != "cancelled")
        .count() as u32;
    let estimate_now = (live + batch.add.len() as u32).saturating_sub(cancel.len() as u32);
    let before = ctx.current_estimate.max(live);
    let mut scope = format!(
        "Original estimate {} subtasks; {} now ({}).",
        ctx.initial_estimate,
        estimate_now,
        change_phrase(before, estimate_now)
    );
    for n in notes {
        scope.push(' ');
        scope.push_str(&n);
    }
    if !update.is_empty() {
        thinking.push(format!(
            "Re-linking {} so it waits for the work it depends on.",
            update
                .iter()
                .map(|u| u.id.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    thinking.push(format!(
        "Plan now: {estimate_now} subtasks against an original estimate of {}.",
        ctx.initial_estimate
    ));
    let args = ReplanArgs {
        summary: summary.join(" "),
        add: batch.add,
        update,
        cancel,
        scope_note: scope,
        estimated_total: Some(estimate_now),
        complete: None,
        missing: Vec::new(),
    };
    Reply::tool(thinking.join(" "), SUBMIT_REPLAN, to_value(&args))
}

fn status_word(s: ReportStatus) -> &'static str {
    match s {
        ReportStatus::Complete => "complete",
        ReportStatus::Partial => "partial",
        ReportStatus::Blocked => "blocked",
    }
}

fn change_phrase(before: u32, now: u32) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Greater => format!("+{} this cycle", now - before),
        std::cmp::Ordering::Less => format!("-{} this cycle", before - now),
        std::cmp::Ordering::Equal => "unchanged this cycle".into(),
    }
}

fn generic_summary(label: &str, status: ReportStatus, results: &str) -> String {
    let gist = first_sentence(results, 140);
    match status {
        ReportStatus::Complete => format!("{label} is complete: {gist}"),
        ReportStatus::Partial => format!(
            "{label} delivered part of its work ({gist}); its dependants can use what is there."
        ),
        ReportStatus::Blocked => format!(
            "{label} is blocked ({gist}); a recovery decision follows, the rest of the plan continues."
        ),
    }
}

/// A subtask that has not started yet (the only ones worth re-linking or cancelling).
fn find_open<'a>(plan: &'a [SubtaskView], title: &str) -> Option<&'a SubtaskView> {
    let wanted = norm(title);
    plan.iter().find(|s| {
        norm(&s.title) == wanted
            && matches!(
                s.status.as_str(),
                "ready" | "awaiting approval" | "deferred"
            )
    })
}

fn scripted_update(
    plan: &[SubtaskView],
    batch: &[ProposedSubtask],
    u: &UpdateScript,
    vars: &Vars,
) -> Option<ReplanUpdate> {
    let target = find_open(plan, &vars.render(&u.title))?;
    let mut deps: Vec<String> = target.depends_on.iter().map(|d| format!("#{d}")).collect();
    let mut changed = false;
    for d in &u.add_depends_on {
        let d = vars.render(d);
        let resolved = resolve(plan, &d).or_else(|| {
            batch
                .iter()
                .any(|b| norm(&b.title) == norm(&d))
                .then(|| d.clone())
        });
        if let Some(r) = resolved
            && !deps.contains(&r)
            && r != format!("#{}", target.id)
        {
            deps.push(r);
            changed = true;
        }
    }
    let priority = u.priority.filter(|p| *p != target.priority);
    if !changed && priority.is_none() {
        return None;
    }
    Some(ReplanUpdate {
        id: format!("#{}", target.id),
        depends_on: changed.then_some(deps),
        priority,
        ..ReplanUpdate::default()
    })
}
