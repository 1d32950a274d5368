//! The budget outlook's vocabulary: the forecast of what the rest of the plan costs
//! ([`Forecast`], journaled as `forecast_updated`), a budget stage a dispatch was about to
//! cross ([`BudgetStage`], `budget_stage_reached`) and one role or worker holding most of
//! the finished work ([`Imbalance`], `balance_changed`).
//!
//! Pure data; the arithmetic is `state::forecast` and `state::balance`.

use serde::{Deserialize, Serialize};

use super::ids::SubtaskId;
use super::payload::LimitKind;

/// What the forecast's per-subtask figures rest on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastBasis {
    /// No subtask finished yet: the model table's prices × the per-role prior.
    Prior,
    /// Every remaining subtask's role has finished subtasks to average.
    Observed,
    /// Some roles averaged, others from the prior.
    Mixed,
}

impl ForecastBasis {
    pub fn label(self) -> &'static str {
        match self {
            ForecastBasis::Prior => "prior",
            ForecastBasis::Observed => "observed",
            ForecastBasis::Mixed => "mixed",
        }
    }
}

/// What the rest of the plan is expected to take (journaled after the analysis and after
/// every replan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Subtasks left to run (not finished, not cancelled, not deferred).
    pub remaining: u32,
    /// Tokens to go: the remaining subtasks' plus the orchestrator's replans and synthesis.
    pub tokens: u64,
    /// Dollars to go; `None` when a model that would run has no price in the model table.
    pub cost_usd: Option<f64>,
    /// Wall-clock seconds to go, the remaining work spread over the workers.
    pub secs: u64,
    pub basis: ForecastBasis,
    /// Finished subtasks the averages rest on.
    pub finished: u32,
    /// Replans logged when it was made (0: after the analysis); a newer replan makes it stale.
    pub replans: u32,
}

/// A budget stage a dispatch was about to cross: journaled once per run per stage and
/// budget value, just before the scope alert it raises (alert number `alert`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetStage {
    pub alert: u32,
    pub limit: LimitKind,
    /// The stage, in percent of the budget (`budget_stages`).
    pub percent: u32,
    /// The budget when it was reached.
    pub max: f64,
    /// Used (or committed to running workers) before the dispatch.
    pub current: f64,
    /// Expected after the dispatch (the subtask's forecast added).
    pub projected: f64,
    /// The subtask whose dispatch would cross it (held until the alert is answered).
    pub subtask: SubtaskId,
}

/// Whose share of the finished work is too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    Role,
    Worker,
}

/// One role or one worker holds most of the finished work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Imbalance {
    pub kind: BalanceKind,
    /// The role's name, or the worker's slot (`w2`).
    pub name: String,
    /// Finished subtasks it holds.
    pub held: u32,
    /// Finished subtasks in all.
    pub finished: u32,
}

impl Imbalance {
    /// Its share of the finished work, in whole percent.
    pub fn percent(&self) -> u32 {
        let pct = u64::from(self.held) * 100 / u64::from(self.finished.max(1));
        u32::try_from(pct).unwrap_or(u32::MAX)
    }
}
