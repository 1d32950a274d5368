//! The headless progress lines: one short line per meaningful event, the totals and what a
//! stopped run waits for. Pure text from the folded state and the event; printing is the
//! caller's (see `output`).

use crate::export::{cost_text, duration_text};
use crate::protocol::*;
use crate::state::{NeedsPerson, State};
use crate::text::one_line as short;

pub fn totals(state: &State) -> String {
    format!(
        "{} subtasks, {} replans, {} tokens, {}, {}",
        state.live_subtask_count(),
        state.replan_log.len(),
        state.usage.total(),
        cost_text(state.cost_usd, state.unpriced_calls),
        duration_text(state.elapsed_secs())
    )
}

fn title(state: &State, id: SubtaskId) -> String {
    state.subtask(id).map_or_else(
        || id.to_string(),
        |s| format!("{id} {}", short(&s.title, 60)),
    )
}

/// What the stopped run waits for, one line each.
pub fn describe_needs(state: &State) -> Vec<String> {
    state
        .needs_person()
        .into_iter()
        .map(|need| match need {
            NeedsPerson::ModeChoice {
                complexity,
                threshold,
            } => format!(
                "choose orchestration or a single worker (complexity {complexity:.2} is below {threshold:.2})"
            ),
            NeedsPerson::ScopeAlert(n) => match state.alerts.iter().find(|a| a.alert == n) {
                Some(_) if let Some(s) = state.outlook.stage_of(n) => format!(
                    "scope alert {n}, budget stage {} %: {}; continue, raise the budget, or stop and synthesise",
                    s.percent,
                    crate::state::forecast::stage_text(s)
                ),
                Some(a) => format!(
                    "scope alert {n}: {} at {} of {}; raise the limit, defer low-priority work, or stop and synthesise",
                    a.limit, trim_num(a.current), trim_num(a.max)
                ),
                None => format!("scope alert {n}"),
            },
            NeedsPerson::Escalation(id) => format!(
                "{} was escalated: {}",
                title(state, id),
                state
                    .subtask(id)
                    .and_then(|s| s.escalation.clone())
                    .unwrap_or_else(|| "no reason given".into())
            ),
            NeedsPerson::CommandApproval(r) => {
                match state.command_requests.iter().find(|c| c.request == r) {
                    Some(c) => format!("{} wants to run `{}` in {}", title(state, c.id), c.command, c.cwd),
                    None => format!("command approval {r}"),
                }
            }
            NeedsPerson::Approval(id) => format!("{} awaits approval", title(state, id)),
            NeedsPerson::PlanDiff(p) => super::plan_diff::describe(state, p),
        })
        .collect()
}

fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn actor(by: Actor) -> &'static str {
    match by {
        Actor::Person => "person",
        Actor::Policy => "policy",
        Actor::Orchestrator => "orchestrator",
        Actor::Engine => "engine",
    }
}

fn purpose(p: &CallPurpose) -> String {
    match p {
        CallPurpose::Analysis => "analysis".into(),
        CallPurpose::Worker { id, attempt } => format!("worker {id} attempt {attempt}"),
        CallPurpose::Replan { cycle } => format!("replan {cycle}"),
        CallPurpose::Recovery { id } => format!("recovery of {id}"),
        CallPurpose::Completion => "completion check".into(),
        CallPurpose::Synthesis => "synthesis".into(),
        CallPurpose::Evaluation { round } => format!("evaluation {round}"),
    }
}

fn id_list(ids: &[SubtaskId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The progress line for one event (after it was applied to `state`), or `None` for events
/// that are not worth a line (usage records, phase changes, tool transcript, ...).
pub fn progress_line(state: &State, envelope: &Envelope) -> Option<String> {
    // Running time, as the header and the export count it (a stop's downtime left out).
    let at = state.elapsed_secs_at(envelope.ts);
    let text = match &envelope.event {
        Event::RunStarted { task, .. } => format!("started: {}", short(task, 80)),
        Event::RunForked {
            parent_run,
            parent_seq,
        } => format!(
            "forked from run {} at event {parent_seq}",
            short(parent_run, 40)
        ),
        Event::RunResumed {
            interrupted,
            torn_line_dropped,
        } => {
            let mut t = "resumed".to_string();
            if !interrupted.is_empty() {
                t.push_str(&format!(
                    "; interrupted, will run again: {}",
                    id_list(interrupted)
                ));
            }
            if *torn_line_dropped {
                t.push_str("; a torn last journal line was dropped");
            }
            t
        }
        Event::AnalysisCompleted { analysis, .. } => format!(
            "analysis: complexity {:.2}, {}, about {} subtasks; {}",
            analysis.complexity,
            short(&analysis.task_type, 30),
            analysis.estimated_subtasks,
            short(&analysis.strategy, 80)
        ),
        Event::ModeChoiceRequested {
            complexity,
            threshold,
        } => format!(
            "complexity {complexity:.2} is below {threshold:.2}: orchestrate or single worker?"
        ),
        Event::ModeChosen { mode, by } => format!(
            "mode: {} ({})",
            match mode {
                RunMode::Orchestrate => "orchestrate",
                RunMode::SingleWorker => "single worker",
            },
            actor(*by)
        ),
        Event::SubtaskAdded {
            spec,
            origin,
            needs_approval,
        } => {
            let from = match origin {
                Origin::Analysis => String::new(),
                Origin::Discovered { from, .. } => format!(", discovered by {from}"),
                Origin::Replan { cycle } => format!(", replan {cycle}"),
                Origin::Person => ", added by a person".into(),
                Origin::Decomposed { from } => format!(", decomposed from {from}"),
                Origin::Evaluation { round } => format!(", evaluation {round}"),
                Origin::SingleWorker => ", single worker".into(),
            };
            let deps = if spec.depends_on.is_empty() {
                String::new()
            } else {
                format!(", after {}", id_list(&spec.depends_on))
            };
            format!(
                "+ {} {} [{}{from}{deps}]{}",
                spec.id,
                short(&spec.title, 60),
                spec.role,
                if *needs_approval {
                    " awaits approval"
                } else {
                    ""
                }
            )
        }
        Event::SubtaskRejected { title, reason } => {
            format!(
                "rejected subtask \"{}\": {}",
                short(title, 50),
                short(reason, 80)
            )
        }
        Event::SubtaskStarted {
            id,
            attempt,
            role,
            model,
            ..
        } => format!(
            "> {} started [{role}, {model}]{}",
            title(state, *id),
            if *attempt > 1 {
                format!(" attempt {attempt}")
            } else {
                String::new()
            }
        ),
        Event::SubtaskReported { id, report, .. } => {
            let status = match report.status {
                ReportStatus::Complete => "complete",
                ReportStatus::Partial => "partial",
                ReportStatus::Blocked => "blocked",
            };
            let proposed = if report.new_subtasks.is_empty() {
                String::new()
            } else {
                format!(" ({} new subtasks proposed)", report.new_subtasks.len())
            };
            format!("= {} {status}{proposed}", title(state, *id))
        }
        Event::SubtaskFailed { id, attempt, error } => {
            format!(
                "x {} failed (attempt {attempt}): {}",
                title(state, *id),
                short(error, 100)
            )
        }
        Event::RecoveryDecided {
            id,
            action,
            rationale,
            by,
            ..
        } => {
            let action = match action {
                RecoveryAction::Retry => "retry".to_string(),
                RecoveryAction::Reassign { role } => format!("reassign to {role}"),
                RecoveryAction::Decompose { into } => format!("decompose into {}", id_list(into)),
                RecoveryAction::Escalate => "escalate to a person".to_string(),
            };
            format!(
                "recovery of {id}: {action} ({}): {}",
                actor(*by),
                short(rationale, 80)
            )
        }
        Event::SubtaskEscalated { id, reason, .. } => {
            format!("! {} escalated: {}", title(state, *id), short(reason, 80))
        }
        Event::EscalationResolved { id, by, .. } => {
            format!("escalation of {id} resolved ({})", actor(*by))
        }
        Event::WorkerSteered { id, steer, by, .. } => format!(
            "{} steered ({}): {}",
            title(state, *id),
            actor(*by),
            short(&steer.describe(), 80)
        ),
        Event::SubtaskCancelled { id, reason, by } => {
            format!(
                "- {} cancelled ({}): {}",
                title(state, *id),
                actor(*by),
                short(reason, 80)
            )
        }
        Event::SubtaskDeferred { id, by } => {
            format!("{} deferred ({})", title(state, *id), actor(*by))
        }
        e @ (Event::PlanDiffProposed { .. } | Event::PlanChangeDecided { .. }) => {
            super::plan_diff::progress(e)?
        }
        Event::ReplanLogged {
            cycle,
            covered,
            added,
            updated,
            cancelled,
            estimate_before,
            estimate_now,
            summary,
            ..
        } => format!(
            "replan {cycle} (after {}): +{} ~{} -{}, estimate {estimate_before} -> {estimate_now}; {}",
            if covered.is_empty() {
                "-".to_string()
            } else {
                id_list(covered)
            },
            added.len(),
            updated.len(),
            cancelled.len(),
            short(summary, 80)
        ),
        Event::LlmRetried { purpose: p, notice } => format!(
            "retry {} of {} in {}: {}",
            notice.attempt,
            purpose(p),
            duration_text(notice.delay_ms as f64 / 1000.0),
            short(&notice.reason, 80)
        ),
        Event::ScopeAlertRaised {
            alert,
            limit,
            current,
            max,
            ..
        } => format!(
            "! scope alert {alert}: {limit} at {} of {}",
            trim_num(*current),
            trim_num(*max)
        ),
        Event::ScopeAlertResolved {
            alert,
            decision,
            by,
        } => {
            let d = match decision {
                ScopeDecision::RaiseLimit { to } => format!("raise the limit to {}", trim_num(*to)),
                ScopeDecision::DeferLowPriority => "defer low-priority subtasks".into(),
                ScopeDecision::StopAndSynthesize => "stop and synthesise what is done".into(),
                ScopeDecision::Continue => "continue".into(),
            };
            format!("scope alert {alert}: {d} ({})", actor(*by))
        }
        Event::CommandApprovalDecided {
            request,
            decision,
            by,
        } => {
            let cmd = state
                .command_requests
                .iter()
                .find(|c| c.request == *request)
                .map(|c| format!("`{}`", short(&c.command, 60)))
                .unwrap_or_else(|| format!("command {request}"));
            match decision {
                CommandDecision::Deny { reason } => {
                    format!("{cmd} denied ({}): {}", actor(*by), short(reason, 60))
                }
                _ => format!("{cmd} allowed ({})", actor(*by)),
            }
        }
        Event::FileChanged {
            id, path, after, ..
        } => format!(
            "{id} {} {path}",
            if after.is_some() { "wrote" } else { "deleted" }
        ),
        Event::FileConflict { id, path, detail } => {
            format!("! conflict on {path} ({id}): {}", short(detail, 80))
        }
        Event::RollbackStarted { id, files } => {
            format!("{id} rollback started ({} files)", files.len())
        }
        Event::SubtaskRolledBack { id, files, .. } => {
            format!("{id} rolled back {} files", files.len())
        }
        Event::WorktreeCreated {
            id: None, branch, ..
        } => format!("working on branch {}", short(branch, 80)),
        Event::BranchMerged {
            id,
            files,
            fast_forward,
            ..
        } => format!(
            "{id} merged into the run's branch ({} files{})",
            files.len(),
            if *fast_forward { ", fast-forward" } else { "" }
        ),
        Event::MergeConflicted { id, files, .. } => format!(
            "! merge conflict ({id}) in {}",
            short(&files.join(", "), 80)
        ),
        Event::CompletionAssessed { complete, missing } => {
            if *complete {
                "completion check: done".to_string()
            } else {
                format!(
                    "completion check: missing {}",
                    short(&missing.join("; "), 80)
                )
            }
        }
        Event::EvaluationCompleted {
            round,
            accepted,
            added,
            ..
        } => format!(
            "evaluation {round}: {}",
            if *accepted {
                "accepted".to_string()
            } else {
                format!("sent back with {} new subtasks", added.len())
            }
        ),
        Event::SynthesisCompleted { .. } => "synthesis written".to_string(),
        Event::DispatchPaused { by } => format!("dispatch paused ({})", actor(*by)),
        Event::DispatchResumed { by } => format!("dispatch resumed ({})", actor(*by)),
        Event::MaxWorkersChanged { max_workers, by } => {
            format!("max workers {max_workers} ({})", actor(*by))
        }
        Event::SettingsChanged { changes, .. } => format!(
            "continuing with today's settings: {}",
            changes
                .iter()
                .map(|c| format!(
                    "{} {} → {}",
                    c.what,
                    short(&c.before, 80),
                    short(&c.after, 80)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::Notice { message } => format!("note: {}", short(message, 100)),
        e @ (Event::ForecastUpdated { .. }
        | Event::BudgetStageReached { .. }
        | Event::BalanceChanged { .. }) => crate::state::forecast::event_line(state, e)?,
        Event::DispatchPolicySet { id, policy, by } => {
            format!("{id} dispatch policy {policy} ({})", actor(*by))
        }
        Event::DispatchAsked { id } => format!("{id} asks to start (dispatch policy ask)"),
        Event::ProviderThrottled { notice } if notice.active => format!(
            "throttling {}: {} at once ({})",
            short(&notice.endpoint, 60),
            notice.limit,
            short(&notice.reason, 100)
        ),
        Event::ProviderThrottled { notice } => {
            format!("no longer throttling {}", short(&notice.endpoint, 60))
        }
        Event::PhaseChanged { .. }
        | Event::WorktreeCreated { .. }
        | Event::RunFinished { .. }
        | Event::SubtaskApproved { .. }
        | Event::SubtaskUndeferred { .. }
        | Event::SubtaskEdited { .. }
        | Event::WorkerToolUsed { .. }
        | Event::LlmUsage { .. }
        | Event::ReportsCovered { .. }
        | Event::CommandApprovalRequested { .. } => return None,
    };
    Some(format!("{:>7}  {text}", duration_text(at)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::apply;
    use chrono::{TimeZone, Utc};

    fn env(seq: u64, secs: i64, event: Event) -> Envelope {
        Envelope {
            seq,
            ts: Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap(),
            v: JOURNAL_VERSION,
            event,
        }
    }

    #[test]
    fn lines_for_a_subtask_name_it_and_show_elapsed_time() {
        let mut state = State::default();
        let events = [
            env(
                1,
                0,
                Event::Notice {
                    message: "hello".into(),
                },
            ),
            env(
                2,
                5,
                Event::SubtaskAdded {
                    spec: SubtaskSpec {
                        id: SubtaskId(1),
                        title: "Map the API".into(),
                        description: String::new(),
                        role: "code_analyzer".into(),
                        priority: Priority::High,
                        depends_on: vec![],
                        expected_output: String::new(),
                    },
                    origin: Origin::Analysis,
                    needs_approval: true,
                },
            ),
        ];
        let mut lines = Vec::new();
        for e in &events {
            apply(&mut state, e);
            lines.extend(progress_line(&state, e));
        }
        assert_eq!(lines[0].trim(), "0.0s  note: hello");
        assert!(lines[1].contains("5.0s  + #1 Map the API [code_analyzer] awaits approval"));
        assert_eq!(
            describe_needs(&state),
            vec!["#1 Map the API awaits approval"]
        );
    }
}
