//! The replan queue and the tail of a run: which reports the next replan covers, when it
//! may start (the settle window), which replans count as cycles, and the merged tail call.
//!
//! Rules (docs/engine.md "The loop", step 4 and 6):
//! - Reports that arrive while a replan is in flight all go into the next one; a replan
//!   starts only for reports nothing has covered yet, so a queued replan whose reports were
//!   all covered meanwhile never runs.
//! - While workers are still running, a replan waits until [`REPLAN_SETTLE`] has passed
//!   since the NEWEST report it would cover, bounded by [`REPLAN_SETTLE_MAX`] since the
//!   oldest: workers dispatched together report over several milliseconds, and a replan
//!   that fires before the last of them lands puts one more sequential model call on the
//!   critical path.
//! - When nothing else is left to run (no worker, nothing runnable, no failure, nothing
//!   waiting for a person), the replan is the *last* one and also the completion
//!   assessment: one orchestrator call decides "add work or complete" (`submit_replan`
//!   with `complete`). A non-final replan still in flight at that moment is superseded:
//!   its reports go into the merged call, so the tail is one call, not two queued one after
//!   the other. The superseded call is not aborted: the provider bills it whether or not
//!   its answer is read, so it runs to its answer in the background, its usage is journaled
//!   like any call's (the run's totals and the orchestrator's usage include it) and its
//!   result is ignored; the run publishes its synthesis only after it has answered.
//! - A replan counts toward the cycle limit only when it changed the plan
//!   ([`State::plan_cycles`](crate::state::State::plan_cycles)).

use std::time::Duration;

use tokio::time::Instant;

use super::policy;
use super::run::*;
use crate::protocol::*;

/// The settle window, counted from the newest report a replan would cover.
pub(super) const REPLAN_SETTLE: Duration = Duration::from_millis(10);
/// The longest a report waits for stragglers, counted from the oldest report.
pub(super) const REPLAN_SETTLE_MAX: Duration = Duration::from_millis(50);

impl Engine {
    /// A report just arrived (it will wait for a replan).
    pub(super) fn report_arrived(&mut self) {
        let now = Instant::now();
        self.replan_oldest.get_or_insert(now);
        self.replan_newest = Some(now);
    }

    /// Whether a replan may start now: at once when no worker is running, else once the
    /// settle window has passed.
    pub(super) fn replan_settled(&self) -> bool {
        self.running.is_empty()
            || self
                .replan_newest
                .is_none_or(|t| t.elapsed() >= REPLAN_SETTLE)
            || self
                .replan_oldest
                .is_some_and(|t| t.elapsed() >= REPLAN_SETTLE_MAX)
    }

    /// When a settling replan may start (a wake-up for the loop).
    pub(super) fn settle_deadline(&self) -> Option<Instant> {
        if self.step.is_some() || self.running.is_empty() {
            return None;
        }
        let newest = self.replan_newest.map(|t| t + REPLAN_SETTLE);
        let oldest = self.replan_oldest.map(|t| t + REPLAN_SETTLE_MAX);
        // A deadline already past means the replan was held for another reason (a budget,
        // the cycle limit): no wake-up for it, or the loop would spin.
        match (newest, oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .filter(|d| *d > Instant::now())
    }

    /// The cycle limit holds further replans: as many replans changed the plan as allowed.
    pub(super) fn cycles_blocked(&self) -> bool {
        let next = self.state.plan_cycles() + 1;
        self.state.limits.max_cycles.is_some_and(|m| next > m)
    }

    /// Nothing else is left to run: the next replan is the last one (merged with the
    /// completion assessment).
    pub(super) fn at_tail(&self) -> bool {
        self.state.mode == Some(RunMode::Orchestrate)
            && self.running.is_empty()
            && !self.assessed
            && self.completion_rounds < policy::MAX_COMPLETION_ROUNDS
            && self.state.runnable().is_empty()
            && self.next_failure().is_none()
            && self.state.held_back().is_empty()
            && self.person_needed().is_empty()
    }

    /// Step 4 of `progress`: covers the pending reports, with a replan when one may run.
    pub(super) async fn replan_queue(&mut self, wind: bool, held: bool) {
        let mut pending = self.pending_reports();
        if pending.is_empty() {
            self.replan_oldest = None;
            self.replan_newest = None;
            return;
        }
        // Reports that arrived before a resume (or during another step) have no arrival time.
        if self.replan_newest.is_none() {
            self.report_arrived();
        }
        if wind || self.state.mode == Some(RunMode::SingleWorker) {
            self.replan_oldest = None;
            self.replan_newest = None;
            self.emit(Event::ReportsCovered { ids: pending }).await;
            return;
        }
        // A plan diff waits for a person: the next replan sees the decisions.
        if held || self.state.pending_plan_diff().is_some() {
            return;
        }
        let last = self.at_tail();
        if last && let Some(superseded) = self.supersede_replan() {
            // Its reports are pending again: they go into the merged call.
            pending = self.pending_reports();
            self.notice(format!(
                "replan cycle {superseded} was superseded by the last replan (nothing else \
                 is left to run): one call now covers every report; its answer is ignored, \
                 its tokens still count"
            ))
            .await;
        }
        if self.step.is_some() {
            return;
        }
        if self.cycles_blocked() {
            if !self.limit_held(LimitKind::Cycles) {
                let max = self.state.limits.max_cycles.unwrap_or(0);
                let next = self.state.plan_cycles() + 1;
                self.raise_alert(LimitKind::Cycles, next as f64, max as f64)
                    .await;
            }
            return;
        }
        if !last && !self.replan_settled() {
            return;
        }
        self.replan_oldest = None;
        self.replan_newest = None;
        let cycle = self.state.replan_log.len() as u32 + 1;
        self.start_step(StepKind::Replan {
            covered: pending,
            cycle,
            last,
        })
        .await;
    }

    /// Takes a replan in flight that is not the last one out of the loop's way (it runs on
    /// to its answer, see the module comment); returns its cycle number.
    fn supersede_replan(&mut self) -> Option<u32> {
        let cycle = match self.step.as_ref().map(|s| &s.kind) {
            Some(StepKind::Replan {
                cycle, last: false, ..
            }) => *cycle,
            _ => return None,
        };
        let step = self.step.take()?;
        self.superseded.insert(step.job, step.abort);
        Some(cycle)
    }
}
