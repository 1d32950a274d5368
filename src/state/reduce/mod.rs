//! The reducer, `State = fold(apply, events)`: one dispatcher over the event families, each
//! folded in its own file (`reduce/*.rs`). Pure and total: an event that does not fit the
//! state (an unknown id) is ignored, never a panic, so a damaged journal still folds.

mod budget;
mod dispatch;
mod git;
mod lifecycle;
mod outlook;
mod plan;
mod plan_diff;
mod steer;
mod work;
mod workspace;

use super::*;

/// The reducer. Pure: the same events always give the same state.
pub fn apply(state: &mut State, envelope: &Envelope) {
    let ts = envelope.ts;
    state.last_seq = envelope.seq;
    // Elapsed time counts only the stretches the run was running: a resume closes the
    // stretch that ended with the previous event.
    if matches!(envelope.event, Event::RunResumed { .. }) {
        state.run_secs_before = state.elapsed_secs();
        state.running_since = Some(ts);
    }
    if state.running_since.is_none() {
        state.running_since = state.started_at.or(Some(ts));
    }
    state.last_event_at = Some(ts);
    if state.started_at.is_none() {
        state.started_at = Some(ts);
    }
    let event = &envelope.event;
    outlook::tally(state, event);
    match event {
        e @ (Event::RunStarted { .. }
        | Event::SettingsChanged { .. }
        | Event::RunResumed { .. }
        | Event::RunForked { .. }
        | Event::PhaseChanged { .. }
        | Event::RunFinished { .. }
        | Event::AnalysisCompleted { .. }
        | Event::ModeChoiceRequested { .. }
        | Event::ModeChosen { .. }
        | Event::CompletionAssessed { .. }
        | Event::SynthesisCompleted { .. }
        | Event::Notice { .. }) => lifecycle::apply(state, ts, e),
        e @ Event::EvaluationCompleted { .. } => {
            lifecycle::apply(state, ts, e);
            plan_diff::apply(state, ts, e);
        }
        e @ (Event::SubtaskAdded { .. }
        | Event::SubtaskRejected { .. }
        | Event::SubtaskApproved { .. }
        | Event::SubtaskDeferred { .. }
        | Event::SubtaskUndeferred { .. }
        | Event::SubtaskEdited { .. }
        | Event::SubtaskCancelled { .. }
        | Event::ReportsCovered { .. }
        | Event::ReplanLogged { .. }) => {
            plan::apply(state, ts, e);
            plan_diff::apply(state, ts, e);
        }
        e @ (Event::PlanDiffProposed { .. } | Event::PlanChangeDecided { .. }) => {
            plan_diff::apply(state, ts, e)
        }
        e @ (Event::SubtaskStarted { .. }
        | Event::WorkerToolUsed { .. }
        | Event::SubtaskReported { .. }
        | Event::SubtaskFailed { .. }
        | Event::RecoveryDecided { .. }
        | Event::SubtaskEscalated { .. }
        | Event::EscalationResolved { .. }) => work::apply(state, ts, e),
        e @ Event::WorkerSteered { .. } => steer::apply(state, ts, e),
        e @ (Event::LlmUsage { .. }
        | Event::LlmRetried { .. }
        | Event::ScopeAlertRaised { .. }
        | Event::ScopeAlertResolved { .. }
        | Event::DispatchPaused { .. }
        | Event::DispatchResumed { .. }
        | Event::MaxWorkersChanged { .. }) => budget::apply(state, ts, e),
        e @ (Event::DispatchPolicySet { .. }
        | Event::DispatchAsked { .. }
        | Event::ProviderThrottled { .. }) => dispatch::apply(state, e),
        e @ (Event::CommandApprovalRequested { .. }
        | Event::CommandApprovalDecided { .. }
        | Event::FileChanged { .. }
        | Event::FileConflict { .. }
        | Event::RollbackStarted { .. }
        | Event::SubtaskRolledBack { .. }) => {
            workspace::apply(state, ts, e);
            git::apply(state, e);
        }
        e @ (Event::WorktreeCreated { .. }
        | Event::BranchMerged { .. }
        | Event::MergeConflicted { .. }) => git::apply(state, e),
        e @ (Event::ForecastUpdated { .. }
        | Event::BudgetStageReached { .. }
        | Event::BalanceChanged { .. }) => outlook::apply(state, e),
    }
}
