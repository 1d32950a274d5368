//! Plan diffs under the `plan` approval policy, as the state keeps them: each proposal with
//! its rows and the decision on each row (who, when), and the queries every reader needs:
//! the diff waiting for a person, the diff decided but not yet applied (a resume finishes
//! it), the subtasks a pending diff touches (their dispatch waits), and the rejected rows
//! the orchestrator is told about in its next replan.
//!
//! Folded by `reduce/plan_diff.rs`; pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::State;
use crate::protocol::*;

/// A decision on one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeDecision {
    pub accepted: bool,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// One proposed diff and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDiffRecord {
    pub proposal: u32,
    pub source: DiffSource,
    pub changes: Vec<PlanChange>,
    /// `decisions[i]` for `changes[i]`; `None` while undecided.
    pub decisions: Vec<Option<ChangeDecision>>,
    pub proposed_at: DateTime<Utc>,
    /// The accepted rows were applied (the replan's `replan_logged`, or the evaluation
    /// round's `evaluation_completed`, followed).
    pub applied: bool,
}

impl PlanDiffRecord {
    /// Every row has a decision.
    pub fn decided(&self) -> bool {
        self.decisions.iter().all(Option::is_some)
    }

    /// Whether row `i` was accepted (`false` while undecided).
    pub fn accepted(&self, i: usize) -> bool {
        self.decisions
            .get(i)
            .and_then(Option::as_ref)
            .is_some_and(|d| d.accepted)
    }
}

impl State {
    /// The diff waiting for a person's decisions, if any (at most one waits at a time).
    pub fn pending_plan_diff(&self) -> Option<&PlanDiffRecord> {
        self.plan_diffs.iter().find(|d| !d.decided())
    }

    /// A diff whose rows are all decided but whose accepted rows were not applied yet (the
    /// process stopped in between): the engine applies it first.
    pub fn plan_diff_to_apply(&self) -> Option<&PlanDiffRecord> {
        self.plan_diffs.iter().find(|d| d.decided() && !d.applied)
    }

    /// Subtasks an undecided (or unapplied) diff would edit or drop: their dispatch waits.
    pub fn touched_by_plan_diff(&self) -> Vec<SubtaskId> {
        self.plan_diffs
            .iter()
            .filter(|d| !d.applied)
            .flat_map(|d| d.changes.iter().filter_map(PlanChange::touches))
            .collect()
    }

    /// Every row a person rejected, as one line each, oldest first (the next replans'
    /// "rejected by the person" section).
    pub fn rejected_changes(&self) -> Vec<String> {
        self.plan_diffs
            .iter()
            .flat_map(|d| {
                d.changes
                    .iter()
                    .zip(&d.decisions)
                    .filter(|(_, dec)| dec.as_ref().is_some_and(|x| !x.accepted))
                    .map(|(c, _)| c.summary())
            })
            .collect()
    }

    /// The evaluator's findings the round limit left undone (the latest round's).
    pub fn findings_left(&self) -> Vec<String> {
        self.evaluations
            .last()
            .map(|e| e.left.clone())
            .unwrap_or_default()
    }

    /// The next proposal number.
    pub fn next_proposal(&self) -> u32 {
        self.plan_diffs.len() as u32 + 1
    }
}
