//! The budget outlook in the engine: the forecast of the remaining plan journaled after
//! the analysis and after every replan, staged budget stops raised *before* a dispatch would
//! cross a stage, and the balance warning journaled once per crossing.
//!
//! The arithmetic is pure (`state::forecast`, `state::balance`, [`stage_to_raise`]); this
//! module decides when to journal it. Decisions (docs/engine.md, "Forecast and budget
//! stages"):
//! - a stage is `budget_stages` percent of a budget that is set: tokens, dollars, wall
//!   time, subtasks (replan cycles have no stages: they are not spent by a dispatch);
//! - before a subtask starts, its forecast is added to what is used and committed (running
//!   workers' forecasts not yet spent); when that passes a stage not yet reached, the
//!   highest such stage is journaled (`budget_stage_reached`) with a scope alert, and
//!   nothing new starts until the alert is answered (continue, raise the budget, defer
//!   low-priority work, stop and synthesise);
//! - a stage fires once per run for each budget value (a raised budget has stages of its
//!   own); reaching a higher stage counts the lower ones as reached;
//! - under `--approve auto` the policy answers `continue` below 100 % and at 100 % what it
//!   answers a reached limit (stop and synthesise; defer low-priority for subtasks);
//!   headless otherwise stops with exit 3 (resumable).

use super::policy;
use super::run::*;
use crate::protocol::*;
use crate::state::forecast::{self, Averages, Rate, Rates};
use crate::state::{State, SubtaskStatus, balance};

/// What a dispatch would use of one budget: `(limit, max, current, projected)`.
pub type Projection = (LimitKind, f64, f64, f64);

/// The highest stage of `stages` that `projected` passes and the outlook has not reached
/// yet for this budget value, if any.
pub fn stage_to_raise(
    state: &State,
    stages: &[u32],
    (limit, max, _current, projected): Projection,
) -> Option<u32> {
    if !(max.is_finite() && max > 0.0 && projected.is_finite()) {
        return None;
    }
    stages
        .iter()
        .copied()
        .filter(|p| projected > max * f64::from(*p) / 100.0)
        .filter(|p| !state.outlook.stage_fired(limit, *p, max))
        .max()
}

/// `auto`'s answer to a budget stage: continue below 100 %, the limit's own answer at 100 %.
pub fn auto_stage_decision(limit: LimitKind, percent: u32) -> ScopeDecision {
    if percent < 100 {
        ScopeDecision::Continue
    } else {
        policy::auto_scope_decision(limit)
    }
}

fn rate(table: &crate::llm::pricing::PriceTable, model: &str) -> Option<Rate> {
    table.price(model).map(|p| Rate {
        input: p.input,
        output: p.output,
    })
}

impl Engine {
    /// The prices of the models the roles run, for the forecast.
    pub(super) fn rates(&self) -> Rates {
        let table = &self.cfg.pricing;
        let s = &self.cfg.settings;
        Rates {
            roles: self
                .cfg
                .roles
                .iter()
                .filter_map(|r| r.model.as_ref().map(|m| (r.name.clone(), rate(table, m))))
                .collect(),
            worker: rate(table, &s.worker_model),
            orchestrator: rate(table, &s.orchestrator_model),
        }
    }

    /// Journals a new forecast when the plan changed since the last one (the analysis's
    /// subtasks were added, or a replan was logged), and the balance when it crossed.
    pub(super) async fn refresh_outlook(&mut self) {
        if forecast::stale(&self.state) {
            let forecast = forecast::forecast(&self.state, &self.rates());
            self.emit(Event::ForecastUpdated { forecast }).await;
        }
        if let Some(imbalance) = balance::changed(&self.state) {
            self.emit(Event::BalanceChanged { imbalance }).await;
        }
    }

    /// What starting `id` would use of each budget that is set.
    fn projections(&self, id: SubtaskId) -> Vec<Projection> {
        let st = &self.state;
        let l = &st.limits;
        let any_budget = l.max_tokens.is_some()
            || l.budget_usd.is_some()
            || l.max_wall_secs.is_some()
            || l.max_subtasks.is_some();
        let Some(s) = st
            .subtask(id)
            .filter(|_| any_budget && !l.budget_stages.0.is_empty())
        else {
            return Vec::new();
        };
        let rates = self.rates();
        let avg = Averages::of(st);
        let this = avg.estimate(&rates, &s.role);
        // Running workers will still spend what their forecast says they have not yet.
        let (mut tokens, mut cost) = (forecast::total_tokens(&st.usage), st.cost_usd);
        for r in st.running() {
            let e = avg.estimate(&rates, &r.role);
            tokens =
                tokens.saturating_add(e.tokens.saturating_sub(forecast::total_tokens(&r.usage)));
            cost += e.cost_usd.map_or(0.0, |c| (c - r.cost_usd).max(0.0));
        }
        let mut out = Vec::new();
        if let Some(max) = l.max_tokens {
            let after = tokens.saturating_add(this.tokens);
            out.push((LimitKind::Tokens, max as f64, tokens as f64, after as f64));
        }
        if let (Some(max), Some(c)) = (l.budget_usd, this.cost_usd) {
            out.push((LimitKind::Cost, max, cost, cost + c));
        }
        if let Some(max) = l.max_wall_secs {
            let now = self.wall_secs();
            out.push((
                LimitKind::WallClock,
                max as f64,
                now,
                now + this.secs as f64,
            ));
        }
        if let Some(max) = l.max_subtasks {
            let started = st.subtasks.iter().filter(|s| s.attempts > 0).count() as f64;
            let after = started + if s.attempts == 0 { 1.0 } else { 0.0 };
            out.push((LimitKind::Subtasks, f64::from(max), started, after));
        }
        out
    }

    /// Called by dispatch before it starts `id`: raises the alert of a budget stage this
    /// dispatch would cross. `true`: hold (an alert waits for an answer, or the run winds
    /// down), so `id` does not start now.
    pub(super) async fn stage_hold(&mut self, id: SubtaskId) -> bool {
        self.refresh_outlook().await;
        let stages = self.state.limits.budget_stages.0.clone();
        for projection in self.projections(id) {
            let Some(percent) = stage_to_raise(&self.state, &stages, projection) else {
                continue;
            };
            let (limit, max, current, projected) = projection;
            let alert = self.next_alert();
            self.emit(Event::BudgetStageReached {
                stage: BudgetStage {
                    alert,
                    limit,
                    percent,
                    max,
                    current,
                    projected,
                    subtask: id,
                },
            })
            .await;
            self.emit_alert(alert, limit, current, max).await;
            if self.cfg.settings.approve == ApprovalPolicy::Auto {
                let decision = auto_stage_decision(limit, percent);
                self.resolve_alert(alert, decision, Actor::Policy).await;
            }
            if self.budget_hold() || policy::winding_down(&self.state) || self.fatal.is_some() {
                return true;
            }
        }
        let s = self.state.subtask(id).map(|s| s.status);
        s != Some(SubtaskStatus::Ready)
    }
}
