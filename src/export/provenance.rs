//! Provenance: who decided what, and what each part of the deliverable cost, derived from a
//! run's journal (the envelopes, for the time of each decision) and its folded state.
//!
//! Owns: the numbered decision list ([`Decision`], `d1`, `d2`, … in journal order, the
//! numbers `baton fork --at dN` takes), the per-subtask record ([`SubtaskProvenance`]: role,
//! models, attempts, tokens, cost, files, its decisions), the Markdown provenance section
//! and the footnotes that tie the deliverable's sections to subtasks. Must not decide
//! anything: every value is read from the journal.
//!
//! Decisions (issue 11, capability 5): every event that records a choice with its maker
//! (`by`): approvals, deferrals, edits, cancellations, recoveries, escalations and their
//! resolutions (with the person's guidance), scope-alert answers, command approvals and
//! denials, pauses, worker-count changes, rollbacks, the mode choice, a person's steering of
//! one worker (`steer`); plus each subtask's
//! addition (by the orchestrator, a person, the evaluator or the engine) and each proposal
//! the engine rejected. `by` is `person`, `policy`, `orchestrator` or `engine`.
//!
//! Footnotes (decision, written down here): the deliverable is split at its Markdown
//! headings; a section is attributed to the subtasks it names (`#3` or the subtask's title)
//! or, when it names none, to those whose report shares at least [`MIN_SHARED_WORDS`]
//! distinctive words (six letters or more) with it. This is a reading aid, not proof.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::protocol::{
    Actor, CommandDecision, Envelope, Event, Origin, RecoveryAction, Resolution, ScopeDecision,
    SubtaskId, Usage,
};
use crate::state::State;
use crate::state::role_label;

/// Distinctive words a section must share with a report to be attributed to it.
pub const MIN_SHARED_WORDS: usize = 3;

/// One decision, numbered in journal order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// 1-based; `d{n}` on the command line.
    pub n: u32,
    /// The journal sequence number of the event that records it.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// `approve`, `defer`, `undefer`, `edit`, `cancel`, `add`, `reject`, `recovery`,
    /// `escalate`, `resolve`, `scope`, `command`, `pause`, `resume`, `max_workers`,
    /// `rollback`, `mode`, `steer` (a person steering one worker: pause, resume, note,
    /// model, restart), `plan_change` (one row of a plan diff accepted or rejected under
    /// `--approve plan`).
    pub kind: &'static str,
    pub by: Actor,
    pub subtask: Option<u32>,
    /// What was decided, in one line (the guidance or reason included).
    pub detail: String,
}

/// One attempt at a subtask.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub attempt: u32,
    pub worker: u32,
    pub role: String,
    pub model: String,
    pub started_at: DateTime<Utc>,
}

/// Where one subtask came from, who ran it, what it cost and who decided about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubtaskProvenance {
    pub id: u32,
    pub title: String,
    pub role: String,
    pub status: String,
    /// Who put it in the plan.
    pub added_by: Actor,
    pub attempts: Vec<Attempt>,
    pub tokens: Usage,
    pub cost_usd: f64,
    pub files_changed: Vec<String>,
    /// The numbers of the decisions about it.
    pub decisions: Vec<u32>,
}

/// A run's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Provenance {
    pub subtasks: Vec<SubtaskProvenance>,
    pub decisions: Vec<Decision>,
    /// Cost and tokens of calls that belong to no subtask (analysis, replans, synthesis…).
    pub orchestration_tokens: Usage,
    pub orchestration_cost_usd: f64,
    /// `(parent run, parent seq)` when the run is a fork.
    pub forked_from: Option<(String, u64)>,
}

fn added_by(origin: &Origin) -> Actor {
    match origin {
        Origin::Person => Actor::Person,
        Origin::SingleWorker => Actor::Engine,
        _ => Actor::Orchestrator,
    }
}

fn one_line(s: &str, max: usize) -> String {
    let t: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > max {
        let cut: String = t.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        t
    }
}

/// The decision an event records, if it records one: `(kind, by, subtask, detail)`.
fn decision_of(event: &Event, state: &State) -> Option<(&'static str, Actor, Option<u32>, String)> {
    let d = |kind, by: &Actor, id: Option<SubtaskId>, detail: String| {
        Some((kind, *by, id.map(|i| i.0), detail))
    };
    match event {
        Event::ModeChosen { mode, by } => d("mode", by, None, mode_words(*mode).to_string()),
        Event::SubtaskAdded { spec, origin, .. } => Some((
            "add",
            added_by(origin),
            Some(spec.id.0),
            one_line(&spec.title, 80),
        )),
        Event::SubtaskRejected { title, reason } => Some((
            "reject",
            Actor::Engine,
            None,
            format!("{}: {}", one_line(title, 60), one_line(reason, 100)),
        )),
        Event::SubtaskApproved { id, by } => d("approve", by, Some(*id), String::new()),
        Event::SubtaskDeferred { id, by } => d("defer", by, Some(*id), String::new()),
        Event::SubtaskUndeferred { id, by } => d("undefer", by, Some(*id), String::new()),
        Event::SubtaskEdited { id, patch, by } => {
            let mut fields = Vec::new();
            for (name, set) in [
                ("title", patch.title.is_some()),
                ("description", patch.description.is_some()),
                ("role", patch.role.is_some()),
                ("priority", patch.priority.is_some()),
                ("dependencies", patch.depends_on.is_some()),
                ("expected output", patch.expected_output.is_some()),
            ] {
                if set {
                    fields.push(name);
                }
            }
            d("edit", by, Some(*id), fields.join(", "))
        }
        Event::SubtaskCancelled { id, reason, by } => {
            d("cancel", by, Some(*id), one_line(reason, 120))
        }
        Event::RecoveryDecided {
            id,
            action,
            rationale,
            by,
            ..
        } => {
            let what = match action {
                RecoveryAction::Retry => "retry".to_string(),
                RecoveryAction::Reassign { role } => format!("reassign to {}", role_label(role)),
                RecoveryAction::Decompose { into } => {
                    format!("decompose into {} subtasks", into.len())
                }
                RecoveryAction::Escalate => "escalate".to_string(),
            };
            d(
                "recovery",
                by,
                Some(*id),
                format!("{what}: {}", one_line(rationale, 100)),
            )
        }
        Event::SubtaskEscalated { id, reason, by } => {
            d("escalate", by, Some(*id), one_line(reason, 120))
        }
        Event::EscalationResolved { id, resolution, by } => {
            let what = match resolution {
                Resolution::Retry { guidance } => {
                    format!("retry with guidance: {}", one_line(guidance, 100))
                }
                Resolution::Reassign { role, guidance } => {
                    format!(
                        "reassign to {} with guidance: {}",
                        role_label(role),
                        one_line(guidance, 100)
                    )
                }
                Resolution::MarkDone { result } => {
                    format!("marked done: {}", one_line(result, 100))
                }
                Resolution::Cancel => "cancel".to_string(),
            };
            d("resolve", by, Some(*id), what)
        }
        Event::ScopeAlertResolved {
            alert,
            decision,
            by,
        } => {
            let what = match decision {
                ScopeDecision::RaiseLimit { to } => format!("raise the limit to {to}"),
                ScopeDecision::DeferLowPriority => "defer low-priority work".to_string(),
                ScopeDecision::StopAndSynthesize => "stop and synthesise".to_string(),
                ScopeDecision::Continue => "continue".to_string(),
            };
            d("scope", by, None, format!("alert {alert}: {what}"))
        }
        Event::CommandApprovalDecided {
            request,
            decision,
            by,
        } => {
            let req = state
                .command_requests
                .iter()
                .find(|c| c.request == *request);
            let what = match decision {
                CommandDecision::AllowOnce => "allow once".to_string(),
                CommandDecision::AllowAlways => "allow always".to_string(),
                CommandDecision::Deny { reason } => format!("deny: {}", one_line(reason, 80)),
            };
            let command = req.map_or_else(String::new, |c| one_line(&c.command, 60));
            d(
                "command",
                by,
                req.map(|c| c.id),
                format!("{what} `{command}`"),
            )
        }
        Event::DispatchPaused { by } => d("pause", by, None, String::new()),
        Event::DispatchResumed { by } => d("resume", by, None, String::new()),
        Event::MaxWorkersChanged { max_workers, by } => {
            d("max_workers", by, None, max_workers.to_string())
        }
        Event::SettingsChanged { changes, by, .. } => d(
            "settings",
            by,
            None,
            changes
                .iter()
                .map(|c| format!("{} {} -> {}", c.what, c.before, c.after))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Event::WorkerSteered {
            id,
            attempt,
            steer,
            by,
        } => d(
            "steer",
            by,
            Some(*id),
            format!("attempt {attempt}: {}", one_line(&steer.describe(), 200)),
        ),
        Event::PlanChangeDecided {
            proposal,
            change,
            accepted,
            by,
        } => {
            // The row as the person saw it (`--approve plan`), from the folded proposal.
            let row = state
                .plan_diffs
                .iter()
                .find(|d| d.proposal == *proposal)
                .and_then(|d| d.changes.get(*change as usize));
            let verdict = if *accepted { "accepted" } else { "rejected" };
            let what = row.map_or_else(|| format!("row {change}"), |c| one_line(&c.summary(), 200));
            d(
                "plan_change",
                by,
                row.and_then(|c| c.touches()),
                format!("{verdict}: {what} (plan diff {proposal})"),
            )
        }
        Event::SubtaskRolledBack { id, files, by } => {
            d("rollback", by, Some(*id), format!("{} files", files.len()))
        }
        _ => None,
    }
}

/// Every decision of a journal, numbered in order.
pub fn decisions(events: &[Envelope]) -> Vec<Decision> {
    let mut state = State::default();
    let mut out = Vec::new();
    for e in events {
        // Folded first, so a command decision finds its request.
        crate::state::apply(&mut state, e);
        if let Some(d) = decision_in(e, &state, out.len() as u32 + 1) {
            out.push(d);
        }
    }
    out
}

/// The decision `e` records, numbered `n`, if it records one; `state` has `e` folded in
/// (the TUI numbers decisions as events arrive, the same way).
pub fn decision_in(e: &Envelope, state: &State, n: u32) -> Option<Decision> {
    let (kind, by, subtask, detail) = decision_of(&e.event, state)?;
    Some(Decision {
        n,
        seq: e.seq,
        at: e.ts,
        kind,
        by,
        subtask,
        detail,
    })
}

/// The run's provenance from its journal.
pub fn build(events: &[Envelope]) -> Provenance {
    let state = State::fold(events);
    let decisions = decisions(events);
    let mut subtasks: Vec<SubtaskProvenance> = state
        .subtasks
        .iter()
        .map(|s| SubtaskProvenance {
            id: s.id.0,
            title: s.title.clone(),
            role: s.role.clone(),
            // A record, not a live view: running/ready read as interrupted/not started.
            status: state.status_word(s, false).to_string(),
            added_by: added_by(&s.origin),
            attempts: Vec::new(),
            tokens: s.usage,
            cost_usd: s.cost_usd,
            files_changed: s.files_changed.clone(),
            decisions: decisions
                .iter()
                .filter(|d| d.subtask == Some(s.id.0))
                .map(|d| d.n)
                .collect(),
        })
        .collect();
    for e in events {
        if let Event::SubtaskStarted {
            id,
            attempt,
            worker,
            role,
            model,
            ..
        } = &e.event
            && let Some(p) = subtasks.iter_mut().find(|p| p.id == id.0)
        {
            p.attempts.push(Attempt {
                attempt: *attempt,
                worker: worker.0,
                role: role.clone(),
                model: model.clone(),
                started_at: e.ts,
            });
        }
    }
    let mut orchestration_tokens = state.usage;
    for p in &subtasks {
        orchestration_tokens.input_tokens = orchestration_tokens
            .input_tokens
            .saturating_sub(p.tokens.input_tokens);
        orchestration_tokens.output_tokens = orchestration_tokens
            .output_tokens
            .saturating_sub(p.tokens.output_tokens);
        orchestration_tokens.cache_read_tokens = orchestration_tokens
            .cache_read_tokens
            .saturating_sub(p.tokens.cache_read_tokens);
        orchestration_tokens.cache_write_tokens = orchestration_tokens
            .cache_write_tokens
            .saturating_sub(p.tokens.cache_write_tokens);
    }
    let worker_cost: f64 = subtasks.iter().map(|p| p.cost_usd).sum();
    Provenance {
        subtasks,
        decisions,
        orchestration_tokens,
        orchestration_cost_usd: (state.cost_usd - worker_cost).max(0.0),
        forked_from: state.forked_from.clone(),
    }
}

/// `person`, `policy`, `orchestrator`, `engine`.
pub fn actor_name(a: Actor) -> &'static str {
    match a {
        Actor::Person => "person",
        Actor::Policy => "policy",
        Actor::Orchestrator => "orchestrator",
        Actor::Engine => "engine",
    }
}

fn cell(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('|', "\\|")
}

/// The models a subtask's attempts used, in order, without repeats.
fn models(p: &SubtaskProvenance) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for a in &p.attempts {
        if !seen.contains(&a.model.as_str()) {
            seen.push(&a.model);
        }
    }
    if seen.is_empty() {
        "-".into()
    } else {
        seen.join(", ")
    }
}

/// The Markdown `## Provenance` section: the per-subtask table, the decisions, and the
/// footnote definitions the annotated deliverable refers to.
pub fn markdown_section(prov: &Provenance) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## Provenance\n");
    if let Some((parent, seq)) = &prov.forked_from {
        let _ = writeln!(o, "Forked from run {} at event {seq}.\n", cell(parent));
    }
    if prov.subtasks.is_empty() {
        let _ = writeln!(o, "_No subtasks._\n");
    } else {
        let _ = writeln!(
            o,
            "| id | title | added by | role | model | attempts | tokens | cost | files | decisions |"
        );
        let _ = writeln!(o, "|---:|---|---|---|---|---:|---:|---:|---:|---|");
        for p in &prov.subtasks {
            let ds: Vec<String> = p.decisions.iter().map(|n| format!("d{n}")).collect();
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | ${:.4} | {} | {} |",
                p.id,
                cell(&p.title),
                actor_name(p.added_by),
                cell(&role_label(&p.role)),
                cell(&models(p)),
                p.attempts.len(),
                p.tokens.total(),
                p.cost_usd,
                p.files_changed.len(),
                if ds.is_empty() {
                    "-".into()
                } else {
                    ds.join(" ")
                }
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "Orchestration (analysis, replans, recovery, synthesis): {} tokens, ${:.4}.\n",
        prov.orchestration_tokens.total(),
        prov.orchestration_cost_usd
    );
    let _ = writeln!(o, "### Decisions\n");
    if prov.decisions.is_empty() {
        let _ = writeln!(o, "_None._\n");
    } else {
        let _ = writeln!(
            o,
            "| # | seq | when (UTC) | by | decision | subtask | detail |"
        );
        let _ = writeln!(o, "|---|---:|---|---|---|---:|---|");
        for d in &prov.decisions {
            let _ = writeln!(
                o,
                "| d{} | {} | {} | {} | {} | {} | {} |",
                d.n,
                d.seq,
                d.at.format("%Y-%m-%d %H:%M:%S"),
                actor_name(d.by),
                d.kind,
                d.subtask.map_or_else(|| "-".into(), |i| i.to_string()),
                cell(&d.detail)
            );
        }
        let _ = writeln!(o);
    }
    for p in &prov.subtasks {
        let _ = writeln!(
            o,
            "[^t{}]: #{} {} ({}, {}, {} attempts, ${:.4})",
            p.id,
            p.id,
            cell(&p.title),
            cell(&role_label(&p.role)),
            cell(&models(p)),
            p.attempts.len(),
            p.cost_usd
        );
    }
    o
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 6)
        .map(str::to_lowercase)
        .collect()
}

/// The subtasks a section of the deliverable draws on (see the module comment).
pub fn sources_of(section: &str, state: &State) -> Vec<u32> {
    let lower = section.to_lowercase();
    let named: Vec<u32> = state
        .subtasks
        .iter()
        .filter(|s| {
            let tag = format!("#{}", s.id.0);
            let tagged = lower.match_indices(&tag).any(|(i, _)| {
                !lower[i + tag.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            });
            let title = s.title.trim().to_lowercase();
            tagged || (title.chars().count() >= 4 && lower.contains(&title))
        })
        .map(|s| s.id.0)
        .collect();
    if !named.is_empty() {
        return named;
    }
    let mine = words(section);
    state
        .subtasks
        .iter()
        .filter(|s| {
            s.report
                .as_ref()
                .is_some_and(|r| words(&r.results).intersection(&mine).count() >= MIN_SHARED_WORDS)
        })
        .map(|s| s.id.0)
        .collect()
}

/// The deliverable with a `Sources:` line of footnote references at the end of each
/// section (split at Markdown headings) that can be attributed to subtasks.
pub fn annotate_deliverable(deliverable: &str, state: &State) -> String {
    let mut sections: Vec<String> = Vec::new();
    for line in deliverable.trim().lines() {
        if line.trim_start().starts_with('#') || sections.is_empty() {
            sections.push(String::new());
        }
        if let Some(last) = sections.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    let mut out = String::new();
    for section in sections {
        let sources = sources_of(&section, state);
        out.push_str(section.trim_end());
        out.push('\n');
        if !sources.is_empty() {
            let refs: Vec<String> = sources.iter().map(|i| format!("[^t{i}]")).collect();
            let _ = writeln!(out, "\n_Sources:_ {}", refs.join(" "));
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// How a run mode reads in the decisions table.
fn mode_words(mode: crate::protocol::RunMode) -> &'static str {
    match mode {
        crate::protocol::RunMode::Orchestrate => "orchestrate",
        crate::protocol::RunMode::SingleWorker => "single worker",
    }
}
