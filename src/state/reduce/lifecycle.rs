//! Run lifecycle events: started, resumed, phase, finished, the analysis and the mode
//! choice, completion assessment, evaluation, synthesis and notices.

use chrono::{DateTime, Utc};

use crate::state::*;

/// Folds one lifecycle event; other events are not this family's and change nothing here.
pub(super) fn apply(state: &mut State, _ts: DateTime<Utc>, event: &Event) {
    match event {
        Event::RunStarted {
            run_id,
            task,
            settings,
        } => {
            state.run_id = run_id.clone();
            state.task = task.clone();
            state.max_workers = settings.max_workers;
            state.limits = settings.limits.clone();
            state.settings = Some(settings.clone());
        }
        // The settings now in force replace the journal's; limits and workers follow them.
        Event::SettingsChanged { settings, .. } => {
            state.max_workers = settings.max_workers;
            state.limits = settings.limits.clone();
            state.settings = Some(settings.clone());
        }
        Event::RunResumed { interrupted, .. } => {
            state.resumes += 1;
            state.outcome = None;
            for id in interrupted {
                if let Some(s) = state.subtask_mut(*id)
                    && s.status == SubtaskStatus::Running
                {
                    s.status = SubtaskStatus::Ready;
                    s.worker = None;
                }
            }
            // Pending command approvals died with the process: the worker asks again.
            for c in state.command_requests.iter_mut() {
                if c.decision.is_none() {
                    c.decision = Some(CommandDecision::Deny {
                        reason: "the run was interrupted".into(),
                    });
                }
            }
        }
        Event::RunForked {
            parent_run,
            parent_seq,
        } => state.forked_from = Some((parent_run.clone(), *parent_seq)),
        Event::PhaseChanged { phase } => state.phase = *phase,
        Event::RunFinished { outcome } => {
            state.outcome = Some(outcome.clone());
            if matches!(outcome, RunOutcome::Completed) {
                state.phase = Phase::Done;
            }
        }
        Event::AnalysisCompleted {
            analysis,
            first_subtasks,
        } => {
            state.analysis = Some(analysis.clone());
            state.first_subtasks = first_subtasks.clone();
        }
        Event::ModeChoiceRequested {
            complexity,
            threshold,
        } => state.mode_choice = Some((*complexity, *threshold)),
        Event::ModeChosen { mode, .. } => {
            state.mode = Some(*mode);
            state.mode_choice = None;
        }
        Event::CompletionAssessed { complete, missing } => {
            state.completion = Some((*complete, missing.clone()));
        }
        Event::EvaluationCompleted {
            round,
            accepted,
            feedback,
            added,
            left,
        } => state.evaluations.push(EvaluationRecord {
            round: *round,
            accepted: *accepted,
            feedback: feedback.clone(),
            added: added.clone(),
            left: left.clone(),
        }),
        Event::SynthesisCompleted { synthesis, summary } => {
            state.synthesis = Some(synthesis.clone());
            state.summary = Some(summary.clone());
        }
        Event::Notice { message } => state.notices.push(message.clone()),
        _ => {}
    }
}
