//! The evaluator's verdict (`--evaluate`, `submit_evaluation`): whether its findings reopen
//! work, bounded by `evaluate_rounds` (default 1).
//!
//! Rule (docs/engine.md, step 7): the evaluator judges every synthesis; the findings of
//! rounds 1..=`evaluate_rounds` may add subtasks (under the `plan` policy as a diff a
//! person approves, otherwise as discovered work under the current policy: origin
//! *evaluation*), after which the synthesis is redone and judged again. The round after the
//! limit only judges: what it still finds is journaled as `left`
//! (`evaluation_completed.left`), the synthesis is final and the execution summary names
//! the findings left.

use super::run::*;
use crate::protocol::model::*;
use crate::protocol::*;

/// What a rejection past the round limit leaves undone: the findings, the titles of the
/// subtasks it asked for, else its feedback.
pub(super) fn findings_left(e: &EvaluationArgs) -> Vec<String> {
    let mut left: Vec<String> = e.findings.clone();
    left.extend(e.new_subtasks.iter().map(|p| p.title.clone()));
    if left.is_empty() && !e.feedback.trim().is_empty() {
        left.push(e.feedback.clone());
    }
    left
}

impl Engine {
    /// May the evaluator judge the synthesis again? Rounds 1..=limit may reopen work, the
    /// one after only judges.
    pub(super) fn evaluation_due(&self) -> bool {
        let done = u32::try_from(self.state.evaluations.len()).unwrap_or(u32::MAX);
        done <= self.cfg.settings.evaluate_rounds
    }

    /// Acts on the evaluator's verdict of `round`.
    pub(super) async fn evaluation_done(&mut self, round: u32, e: EvaluationArgs) {
        let reopen =
            !e.accepted && round <= self.cfg.settings.evaluate_rounds && !e.new_subtasks.is_empty();
        if !reopen {
            let left = if e.accepted {
                Vec::new()
            } else {
                findings_left(&e)
            };
            self.emit(Event::EvaluationCompleted {
                round,
                accepted: e.accepted,
                feedback: e.feedback,
                added: Vec::new(),
                left,
            })
            .await;
            self.evaluated = true;
            return;
        }
        if self.cfg.settings.approve == ApprovalPolicy::Plan {
            self.propose_evaluation(round, e.feedback, e.new_subtasks)
                .await;
        } else {
            self.evaluation_applied(round, e.feedback, e.new_subtasks, false)
                .await;
        }
    }

    /// Adds an evaluation round's subtasks (`approved`: a person accepted them in a diff)
    /// and journals the round; with work added, the synthesis is redone afterwards.
    pub(super) async fn evaluation_applied(
        &mut self,
        round: u32,
        feedback: String,
        subtasks: Vec<ProposedSubtask>,
        approved: bool,
    ) {
        let items = subtasks
            .into_iter()
            .map(|p| (p, Origin::Evaluation { round }))
            .collect();
        let added = self.add_batch_as(items, approved).await;
        self.emit(Event::EvaluationCompleted {
            round,
            accepted: false,
            feedback,
            added: added.clone(),
            left: Vec::new(),
        })
        .await;
        if added.is_empty() {
            self.evaluated = true;
        } else {
            // Work goes back into the loop; synthesise again afterwards.
            self.synthesis = None;
            self.assessed = false;
        }
    }
}
