//! The demo orchestrator's smaller steps: `decide_recovery`, `assess_completion` and
//! `submit_evaluation`, and the helpers every orchestrator step shares. The analysis, the
//! replan and the synthesis have their own modules.
//!
//! Owns the orchestrator's decisions. Must not stream or sleep (`stream` does that) and must
//! accept any context, however odd, without panicking.

use serde_json::Value;

use super::replan::sanitize;
use super::scenario::{Scenario, Theme};
use super::stream::Reply;
use super::vars::{Vars, norm};
use crate::protocol::model::{
    ASSESS_COMPLETION, CompletionArgs, DECIDE_RECOVERY, EvaluationArgs, OrchestratorContext,
    RecoveryArgs, RecoveryChoice, SUBMIT_EVALUATION,
};

pub(super) fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Statuses whose result is usable (`SubtaskStatus::label()`).
pub(super) fn is_done(status: &str) -> bool {
    matches!(status, "complete" | "partial")
}

/// Statuses that do not count towards completion.
pub(super) fn is_set_aside(status: &str) -> bool {
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
            findings: Vec::new(),
        }
    } else {
        sanitize(&mut extra, &ctx.subtasks, &[]);
        EvaluationArgs {
            accepted: false,
            feedback: vars.render(&e.feedback_more),
            findings: vec![vars.render(&e.feedback_more)],
            new_subtasks: vec![extra],
        }
    };
    Reply::tool(vars.render(&e.thinking), SUBMIT_EVALUATION, to_value(&args))
}
