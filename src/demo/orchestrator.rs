//! The demo orchestrator: answers `submit_analysis`, `submit_replan`, `decide_recovery`,
//! `assess_completion`, `submit_synthesis` and `submit_evaluation` from the scenario and the
//! `<context>` block of the request.
//!
//! Owns the orchestrator's decisions. Must not stream or sleep (`stream` does that) and must
//! accept any context, however odd, without panicking.

use std::collections::HashSet;

use serde_json::Value;

use super::scenario::{Scenario, Theme, Vars, norm};
use super::stream::Reply;
use crate::protocol::model::{
    ASSESS_COMPLETION, AnalysisArgs, CompletionArgs, DECIDE_RECOVERY, EvaluationArgs,
    OrchestratorContext, RecoveryArgs, RecoveryChoice, ReplanArgs, ReplanCancel, ReplanUpdate,
    SUBMIT_ANALYSIS, SUBMIT_EVALUATION, SUBMIT_REPLAN, SUBMIT_SYNTHESIS, SubtaskView,
    SynthesisArgs,
};
use crate::protocol::{ProposedSubtask, ReportStatus};

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Statuses whose result is usable (`SubtaskStatus::label()`).
fn is_done(status: &str) -> bool {
    matches!(status, "complete" | "partial")
}

/// Statuses that do not count towards completion.
fn is_set_aside(status: &str) -> bool {
    matches!(status, "cancelled" | "deferred")
}

/// First sentence (or line) of a text, at most `max` chars.
pub fn first_sentence(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    let end = line
        .find(". ")
        .map(|i| i + 1)
        .unwrap_or(line.len())
        .min(line.len());
    let s = &line[..end];
    if s.chars().count() > max {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        // End on a whole word.
        let cut = match cut.rfind(' ') {
            Some(i) if i > max / 2 => &cut[..i],
            _ => cut.as_str(),
        };
        format!("{}…", cut.trim_end_matches([' ', ',', ';', ':']))
    } else {
        s.to_string()
    }
}

// ---- analysis ------------------------------------------------------------------------------

pub fn analysis(sc: &Scenario, task: &str) -> Reply {
    let theme = sc.theme_for(task);
    let vars = Vars::for_task(theme, task);
    let a = &theme.analysis;
    let args = AnalysisArgs {
        complexity: a.complexity,
        task_type: vars.render(&a.task_type),
        known_requirements: vars.render_all(&a.known_requirements),
        unknowns: vars.render_all(&a.unknowns),
        estimated_subtasks: a.estimated_subtasks,
        strategy: vars.render(&a.strategy),
        subtasks: a.subtasks.iter().map(|s| s.render(&vars)).collect(),
    };
    Reply::tool(vars.render(&a.thinking), SUBMIT_ANALYSIS, to_value(&args))
}

// ---- replan --------------------------------------------------------------------------------

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
fn sanitize(subtask: &mut ProposedSubtask, plan: &[SubtaskView], batch: &[ProposedSubtask]) {
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
    u: &super::scenario::UpdateScript,
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
        if let Some(r) = resolved {
            if !deps.contains(&r) && r != format!("#{}", target.id) {
                deps.push(r);
                changed = true;
            }
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

// ---- recovery ------------------------------------------------------------------------------

pub fn recovery(sc: &Scenario, ctx: &OrchestratorContext) -> Reply {
    let theme = sc.theme_for(&ctx.task);
    let vars = Vars::for_task(theme, &ctx.task);
    let Some(f) = &ctx.failure else {
        let args = RecoveryArgs {
            action: RecoveryChoice::Escalate,
            rationale: "The failure came without details, so I cannot choose a fix safely; a person should look at it.".into(),
            role: None,
            subtasks: None,
            impact: "Work that depends on it waits; independent work continues.".into(),
        };
        return Reply::tool(
            "No failure details in the context. Escalating rather than guessing.",
            DECIDE_RECOVERY,
            to_value(&args),
        );
    };
    let label = format!("#{} {}", f.id, f.title);
    let status = ctx
        .subtasks
        .iter()
        .find(|s| s.id == f.id)
        .map(|s| s.status.as_str())
        .unwrap_or("");
    let blocked = status == "blocked" || f.error.to_lowercase().contains("blocked");
    let dependants: Vec<String> = ctx
        .subtasks
        .iter()
        .filter(|s| s.depends_on.contains(&f.id) && !s.status.eq("cancelled"))
        .map(|s| format!("#{}", s.id))
        .collect();
    let waiting = if dependants.is_empty() {
        "Nothing depends on it directly; the rest of the plan continues.".to_string()
    } else {
        format!(
            "{} wait for it; independent work continues meanwhile.",
            dependants.join(", ")
        )
    };
    let scripted = theme
        .worker(&f.title, &vars)
        .and_then(|w| w.blocked.as_ref());

    let (thinking, args) = match (blocked, scripted) {
        // Headless: nobody can answer an escalation, so settle the decision here.
        (true, _) if !ctx.person_available => (
            format!(
                "{label} is blocked on a decision. No person is watching this run, so escalating would stop it; I take the conservative default myself and retry."
            ),
            RecoveryArgs {
                action: RecoveryChoice::Retry,
                rationale: format!(
                    "No person is available (headless run). The orchestrator settles the open question with the conservative default: {}",
                    scripted
                        .map(|b| first_sentence(&vars.render(&b.escalation), 200))
                        .unwrap_or_else(|| first_sentence(&f.error, 200))
                ),
                role: None,
                subtasks: None,
                impact: format!("Adds one worker call. {waiting}"),
            },
        ),
        (true, Some(b)) => (
            format!(
                "{label} is blocked on its first attempt. The worker is right not to guess: {} Retrying would hit the same wall, and reassigning does not create the missing decision. This one goes to the person.",
                first_sentence(&vars.render(&b.results), 200)
            ),
            RecoveryArgs {
                action: RecoveryChoice::Escalate,
                rationale: vars.render(&b.escalation),
                role: None,
                subtasks: None,
                impact: if b.impact.is_empty() {
                    waiting
                } else {
                    format!("{} {waiting}", vars.render(&b.impact))
                },
            },
        ),
        (true, None) => (
            format!(
                "{label} reports it is blocked. Without the missing input another attempt would only repeat the report."
            ),
            RecoveryArgs {
                action: RecoveryChoice::Escalate,
                rationale: format!(
                    "The worker is blocked on something only a person can settle: {}",
                    first_sentence(&f.error, 200)
                ),
                role: None,
                subtasks: None,
                impact: waiting,
            },
        ),
        (false, _) if f.attempts <= 1 => (
            format!(
                "{label} failed on attempt {}: {}. That looks transient; one more attempt with the same brief.",
                f.attempts.max(1),
                first_sentence(&f.error, 160)
            ),
            RecoveryArgs {
                action: RecoveryChoice::Retry,
                rationale: format!(
                    "The error ({}) does not point at the brief; a second attempt is the cheapest fix.",
                    first_sentence(&f.error, 120)
                ),
                role: None,
                subtasks: None,
                impact: format!("Adds one worker call. {waiting}"),
            },
        ),
        (false, _) => match other_role(ctx, &f.role).filter(|_| f.attempts == 2) {
            Some(role) => (
                format!(
                    "{label} failed twice the same way. A fresh pair of eyes from another role may get past it."
                ),
                RecoveryArgs {
                    action: RecoveryChoice::Reassign,
                    rationale: format!(
                        "Two attempts by {} failed ({}); a {role} approaches it differently.",
                        f.role,
                        first_sentence(&f.error, 120)
                    ),
                    role: Some(role),
                    subtasks: None,
                    impact: waiting,
                },
            ),
            None => (
                format!(
                    "{label} has failed {} times. I will not burn more budget on it without a person.",
                    f.attempts
                ),
                RecoveryArgs {
                    action: RecoveryChoice::Escalate,
                    rationale: format!(
                        "Repeated failures ({} attempts, last: {}); a person should decide whether to guide, reassign or drop it.",
                        f.attempts,
                        first_sentence(&f.error, 120)
                    ),
                    role: None,
                    subtasks: None,
                    impact: waiting,
                },
            ),
        },
    };
    Reply::tool(thinking, DECIDE_RECOVERY, to_value(&args))
}

/// A role other than `role` the context offers, preferring the architect, then the analyzer.
fn other_role(ctx: &OrchestratorContext, role: &str) -> Option<String> {
    ["system_architect", "code_analyzer"]
        .iter()
        .map(|r| r.to_string())
        .chain(ctx.roles.iter().cloned())
        .find(|r| r != role && ctx.roles.contains(r))
}

// ---- completion ----------------------------------------------------------------------------

pub fn completion(ctx: &OrchestratorContext) -> Reply {
    let missing: Vec<String> = ctx
        .subtasks
        .iter()
        .filter(|s| !is_done(&s.status) && !is_set_aside(&s.status))
        .map(|s| format!("#{} {} ({})", s.id, s.title, s.status))
        .collect();
    let done = ctx.subtasks.iter().filter(|s| is_done(&s.status)).count();
    let set_aside = ctx
        .subtasks
        .iter()
        .filter(|s| is_set_aside(&s.status))
        .count();
    let complete = missing.is_empty() && done > 0;
    let thinking = if complete {
        let mut t =
            format!("Checking the plan against the task. {done} subtasks have usable results");
        if set_aside > 0 {
            t.push_str(&format!(", {set_aside} were set aside on purpose"));
        }
        t.push_str(". Every requirement from the analysis is covered by at least one of them. Ready to synthesise.");
        t
    } else if missing.is_empty() {
        "Nothing has produced a result yet, so the task is not done.".to_string()
    } else {
        format!(
            "Not done yet: {} still open. No new subtasks needed; they only have to finish.",
            missing.len()
        )
    };
    let mut missing = missing;
    if !complete && missing.is_empty() {
        missing.push("no subtask has produced a result yet".into());
    }
    let args = CompletionArgs {
        complete,
        missing,
        new_subtasks: Vec::new(),
    };
    Reply::tool(thinking, ASSESS_COMPLETION, to_value(&args))
}

// ---- synthesis -----------------------------------------------------------------------------

/// A Markdown table of the run's subtasks and what each produced.
fn work_summary(ctx: &OrchestratorContext) -> String {
    let mut out = String::from("| # | Subtask | Role | Status | Result |\n|---|---|---|---|---|\n");
    for s in &ctx.subtasks {
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

pub fn synthesis(sc: &Scenario, ctx: &OrchestratorContext) -> Reply {
    let theme = sc.theme_for(&ctx.task);
    let mut vars = Vars::for_task(theme, &ctx.task);
    vars.set("work_summary", &work_summary(ctx));
    let s = &theme.synthesis;
    let done = ctx.subtasks.iter().filter(|s| is_done(&s.status)).count();
    let partial: Vec<String> = ctx
        .subtasks
        .iter()
        .filter(|s| s.status == "partial")
        .map(|s| format!("#{} {}", s.id, s.title))
        .collect();
    let mut coherence = vars.render(&s.coherence);
    coherence.push_str(&format!(
        " {done} of {} subtasks produced results",
        ctx.subtasks.len()
    ));
    if partial.is_empty() {
        coherence.push('.');
    } else {
        coherence.push_str(&format!(
            "; partial results are flagged where they are used ({}).",
            partial.join(", ")
        ));
    }
    let args = SynthesisArgs {
        deliverable: vars.render(&s.deliverable),
        integration_points: vars.render_all(&s.integration_points),
        conflicts: vars.render_all(&s.conflicts),
        coherence,
    };
    Reply::tool(vars.render(&s.thinking), SUBMIT_SYNTHESIS, to_value(&args))
}

// ---- evaluation ----------------------------------------------------------------------------

/// First round: asks for the scenario's extra subtask; once it is in the plan (or from the
/// second round on): accepts.
pub fn evaluation(sc: &Scenario, ctx: &OrchestratorContext) -> Reply {
    let theme: &Theme = sc.theme_for(&ctx.task);
    let vars = Vars::for_task(theme, &ctx.task);
    let e = &theme.evaluation;
    let mut extra = e.extra_subtask.render(&vars);
    let present = ctx
        .subtasks
        .iter()
        .any(|s| norm(&s.title) == norm(&extra.title));
    let accept = present || ctx.cycle >= 2;
    let args = if accept {
        EvaluationArgs {
            accepted: true,
            feedback: vars.render(&e.feedback_accept),
            new_subtasks: Vec::new(),
        }
    } else {
        sanitize(&mut extra, &ctx.subtasks, &[]);
        EvaluationArgs {
            accepted: false,
            feedback: vars.render(&e.feedback_more),
            new_subtasks: vec![extra],
        }
    };
    Reply::tool(vars.render(&e.thinking), SUBMIT_EVALUATION, to_value(&args))
}
