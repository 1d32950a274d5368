//! Plan diff events (`plan` approval policy): a proposed diff, a decision on one of its
//! rows, and the events that mark a decided diff as applied (`replan_logged` of its cycle,
//! `evaluation_completed` of its round).

use chrono::{DateTime, Utc};

use crate::state::plan_diff::{ChangeDecision, PlanDiffRecord};
use crate::state::*;

/// Folds one plan diff event; other events change nothing here.
pub(super) fn apply(state: &mut State, ts: DateTime<Utc>, event: &Event) {
    match event {
        // Proposals are numbered densely; another number means a damaged journal.
        Event::PlanDiffProposed {
            proposal,
            source,
            changes,
        } if *proposal == state.next_proposal() => {
            if let DiffSource::Replan { covered, .. } = source {
                // The reports are answered by this diff: no second replan for them.
                state.covered.extend(covered.iter().copied());
            }
            state.plan_diffs.push(PlanDiffRecord {
                proposal: *proposal,
                source: source.clone(),
                changes: changes.clone(),
                decisions: vec![None; changes.len()],
                proposed_at: ts,
                applied: changes.is_empty(),
            });
        }
        Event::PlanChangeDecided {
            proposal,
            change,
            accepted,
            by,
        } => {
            let slot = state
                .plan_diffs
                .iter_mut()
                .find(|d| d.proposal == *proposal)
                .and_then(|d| d.decisions.get_mut(*change as usize));
            if let Some(slot) = slot {
                *slot = Some(ChangeDecision {
                    accepted: *accepted,
                    by: *by,
                    at: ts,
                });
            }
        }
        Event::ReplanLogged { cycle, .. } => mark_applied(
            state,
            |s| matches!(s, DiffSource::Replan { cycle: c, .. } if c == cycle),
        ),
        Event::EvaluationCompleted { round, .. } => mark_applied(
            state,
            |s| matches!(s, DiffSource::Evaluation { round: r, .. } if r == round),
        ),
        _ => {}
    }
}

fn mark_applied(state: &mut State, is_source: impl Fn(&DiffSource) -> bool) {
    for d in state.plan_diffs.iter_mut().filter(|d| is_source(&d.source)) {
        d.applied = true;
    }
}
