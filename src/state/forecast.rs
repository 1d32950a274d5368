//! The budget forecast: what the rest of the plan is expected to cost in tokens, dollars and
//! wall time, and the run's budget outlook in the state ([`Outlook`]: the latest forecast,
//! the budget stages reached, the balance of finished work).
//!
//! Pure arithmetic over the [`State`] and the prices of the models the roles run (the engine
//! looks them up in the model table and passes them in as [`Rates`]; `state` never imports
//! `llm`). Overflow-safe: counts saturate, a cost that is not a finite number is unknown.
//!
//! How a subtask is forecast:
//! - its role has finished subtasks in this run (complete or partial): their average
//!   tokens, cost and duration (first start to finish of the latest attempt);
//! - else the role's **prior** ([`prior`]) priced with the model table (`Rate`):
//!
//!   | role | input tokens | output tokens | seconds |
//!   |---|---|---|---|
//!   | `code_analyzer` | 24,000 | 2,000 | 60 |
//!   | `system_architect` | 20,000 | 3,000 | 75 |
//!   | `code_developer` | 40,000 | 6,000 | 150 |
//!   | `test_engineer` | 30,000 | 4,000 | 120 |
//!   | `documentation_writer` | 16,000 | 3,000 | 60 |
//!   | `performance_optimizer` | 32,000 | 4,000 | 120 |
//!   | any other role | 24,000 | 3,000 | 90 |
//!   | orchestrator, one step | 12,000 | 1,500 | (overlaps the work) |
//!
//! The rest of the plan is every subtask not finished, cancelled or deferred (running ones
//! count whole), plus one orchestrator step per remaining subtask (its replan) and one for
//! the synthesis, the orchestrator's own average per step once it has made calls. Time to
//! go is the remaining work spread over `min(max_workers, remaining)` workers, never less
//! than the longest single subtask. A model without a price makes the cost unknown, never $0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{State, SubtaskStatus};
use crate::protocol::*;

/// USD per million tokens of the model a role runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub input: f64,
    pub output: f64,
}

/// The prices the forecast uses: per worker role, the worker model's for roles not named,
/// the orchestrator's. `None`: the model table has no price for that model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rates {
    pub roles: BTreeMap<String, Option<Rate>>,
    pub worker: Option<Rate>,
    pub orchestrator: Option<Rate>,
}

impl Rates {
    pub fn role(&self, role: &str) -> Option<Rate> {
        self.roles.get(role).copied().unwrap_or(self.worker)
    }
}

/// A prior: what one subtask (or one orchestrator step) takes before any finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prior {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub secs: u64,
}

const fn p(input_tokens: u64, output_tokens: u64, secs: u64) -> Prior {
    Prior {
        input_tokens,
        output_tokens,
        secs,
    }
}

/// The orchestrator's prior per step (a replan or the synthesis).
pub const ORCHESTRATOR_PRIOR: Prior = p(12_000, 1_500, 0);

/// A role's prior (the module comment's table).
pub fn prior(role: &str) -> Prior {
    match role {
        "code_analyzer" => p(24_000, 2_000, 60),
        "system_architect" => p(20_000, 3_000, 75),
        "code_developer" => p(40_000, 6_000, 150),
        "test_engineer" => p(30_000, 4_000, 120),
        "documentation_writer" => p(16_000, 3_000, 60),
        "performance_optimizer" => p(32_000, 4_000, 120),
        _ => p(24_000, 3_000, 90),
    }
}

/// What one subtask (or step) is expected to take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub tokens: u64,
    pub cost_usd: Option<f64>,
    pub secs: u64,
    /// From this run's finished subtasks (else the prior).
    pub observed: bool,
}

fn priced(prior: Prior, rate: Option<Rate>) -> Estimate {
    let cost = rate.map(|r| {
        (r.input * prior.input_tokens as f64 + r.output * prior.output_tokens as f64) / 1e6
    });
    Estimate {
        tokens: prior.input_tokens.saturating_add(prior.output_tokens),
        cost_usd: cost.filter(|c| c.is_finite() && *c >= 0.0),
        secs: prior.secs,
        observed: false,
    }
}

/// Sums of one role's finished subtasks.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: u64,
    tokens: u64,
    cost: f64,
    secs: u64,
}

/// Per-role averages of the run's finished subtasks, computed once per forecast.
#[derive(Debug, Clone, Default)]
pub struct Averages {
    roles: BTreeMap<String, Sums>,
    finished: u32,
}

/// All tokens of a usage record, saturating (a journal may carry anything).
pub fn total_tokens(u: &Usage) -> u64 {
    u.input_tokens
        .saturating_add(u.output_tokens)
        .saturating_add(u.cache_read_tokens)
        .saturating_add(u.cache_write_tokens)
}

impl Averages {
    pub fn of(state: &State) -> Self {
        let mut out = Averages::default();
        for s in state
            .subtasks
            .iter()
            .filter(|s| s.status.satisfies_dependency())
        {
            // The role's name is copied once per role, not once per subtask.
            if !out.roles.contains_key(&s.role) {
                out.roles.insert(s.role.clone(), Sums::default());
            }
            let Some(e) = out.roles.get_mut(&s.role) else {
                continue;
            };
            e.n += 1;
            e.tokens = e.tokens.saturating_add(total_tokens(&s.usage));
            e.cost += s.cost_usd;
            let secs = match (s.started_at, s.finished_at) {
                (Some(a), Some(b)) => u64::try_from((b - a).num_seconds()).unwrap_or(0),
                _ => 0,
            };
            e.secs = e.secs.saturating_add(secs);
            out.finished = out.finished.saturating_add(1);
        }
        out
    }

    /// Finished subtasks in all.
    pub fn finished(&self) -> u32 {
        self.finished
    }

    /// One subtask of `role`: its role's average, else the prior priced at `rates`.
    pub fn estimate(&self, rates: &Rates, role: &str) -> Estimate {
        let rate = rates.role(role);
        match self.roles.get(role) {
            Some(s) if s.n > 0 => {
                let cost = s.cost / s.n as f64;
                Estimate {
                    tokens: s.tokens / s.n,
                    // A model without a price spent "$0": that is unknown, not free.
                    cost_usd: rate.and(Some(cost)).filter(|c| c.is_finite() && *c >= 0.0),
                    secs: s.secs / s.n,
                    observed: true,
                }
            }
            _ => priced(prior(role), rate),
        }
    }
}

/// One orchestrator step: the run's own average per step (the analysis and each replan
/// so far), else the orchestrator prior.
pub fn orchestrator_step(state: &State, rates: &Rates) -> Estimate {
    let workers: Vec<&Usage> = state.subtasks.iter().map(|s| &s.usage).collect();
    let worker_tokens = workers
        .iter()
        .fold(0u64, |acc, u| acc.saturating_add(total_tokens(u)));
    let worker_cost: f64 = state.subtasks.iter().map(|s| s.cost_usd).sum();
    let orch_tokens = total_tokens(&state.usage).saturating_sub(worker_tokens);
    if orch_tokens == 0 {
        return priced(ORCHESTRATOR_PRIOR, rates.orchestrator);
    }
    let steps = u64::try_from(state.replan_log.len())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let cost = (state.cost_usd - worker_cost).max(0.0) / steps as f64;
    Estimate {
        tokens: orch_tokens / steps,
        cost_usd: rates
            .orchestrator
            .and(Some(cost))
            .filter(|c| c.is_finite() && *c >= 0.0),
        secs: 0,
        observed: true,
    }
}

/// Still to run: not finished, not cancelled, not deferred.
pub fn remains(status: SubtaskStatus) -> bool {
    matches!(
        status,
        SubtaskStatus::AwaitingApproval
            | SubtaskStatus::Ready
            | SubtaskStatus::Running
            | SubtaskStatus::Blocked
            | SubtaskStatus::Failed
            | SubtaskStatus::Escalated
    )
}

fn add_cost(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b).filter(|c| c.is_finite()),
        _ => None,
    }
}

fn times(e: Estimate, n: u64) -> Estimate {
    Estimate {
        tokens: e.tokens.saturating_mul(n),
        cost_usd: e.cost_usd.map(|c| c * n as f64).filter(|c| c.is_finite()),
        secs: e.secs.saturating_mul(n),
        observed: e.observed,
    }
}

/// The forecast of the remaining plan.
pub fn forecast(state: &State, rates: &Rates) -> Forecast {
    let avg = Averages::of(state);
    let mut remaining: u64 = 0;
    let mut tokens: u64 = 0;
    let mut cost = Some(0.0);
    let mut work_secs: u64 = 0;
    let mut longest: u64 = 0;
    let mut all_observed = true;
    for s in state.subtasks.iter().filter(|s| remains(s.status)) {
        let e = avg.estimate(rates, &s.role);
        remaining += 1;
        tokens = tokens.saturating_add(e.tokens);
        cost = add_cost(cost, e.cost_usd);
        work_secs = work_secs.saturating_add(e.secs);
        longest = longest.max(e.secs);
        all_observed &= e.observed;
    }
    if remaining > 0 {
        // One replan per remaining report, and the synthesis.
        let orch = times(orchestrator_step(state, rates), remaining.saturating_add(1));
        tokens = tokens.saturating_add(orch.tokens);
        cost = add_cost(cost, orch.cost_usd);
    }
    let workers = remaining.min(u64::from(state.max_workers.max(1))).max(1);
    let secs = work_secs.div_ceil(workers).max(longest);
    let basis = if avg.finished() == 0 {
        ForecastBasis::Prior
    } else if all_observed {
        ForecastBasis::Observed
    } else {
        ForecastBasis::Mixed
    };
    Forecast {
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        tokens,
        cost_usd: cost,
        secs,
        basis,
        finished: avg.finished(),
        replans: replans_marker(state),
    }
}

/// The replan count a forecast is made at (its staleness marker).
pub fn replans_marker(state: &State) -> u32 {
    u32::try_from(state.replan_log.len()).unwrap_or(u32::MAX)
}

/// Is the journaled forecast older than the plan (no forecast yet once the plan has
/// subtasks, or a replan logged since)?
pub fn stale(state: &State) -> bool {
    if state.mode.is_none() || state.subtasks.is_empty() {
        return false;
    }
    state
        .outlook
        .forecast
        .as_ref()
        .is_none_or(|f| f.replans < replans_marker(state))
}

/// The run's budget outlook, folded from the journal.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outlook {
    /// The latest forecast (`forecast_updated`).
    pub forecast: Option<Forecast>,
    /// Budget stages reached (`budget_stage_reached`), oldest first.
    pub stages: Vec<BudgetStage>,
    /// One role or worker holding most of the finished work now (`balance_changed`).
    pub imbalance: Option<Imbalance>,
    /// `(replans logged, imbalance)` at each `balance_changed`, for the replan log.
    pub balance_log: Vec<(u32, Option<Imbalance>)>,
    /// Finished reports (complete or partial) per role and per worker slot.
    pub finished_by_role: BTreeMap<String, u32>,
    pub finished_by_worker: BTreeMap<u32, u32>,
}

impl Outlook {
    /// The budget stage scope alert `alert` is about, if it is one.
    pub fn stage_of(&self, alert: u32) -> Option<&BudgetStage> {
        self.stages.iter().find(|s| s.alert == alert)
    }

    /// Has this stage (or a higher one) of this budget value already fired?
    pub fn stage_fired(&self, limit: LimitKind, percent: u32, max: f64) -> bool {
        self.stages
            .iter()
            .any(|s| s.limit == limit && s.max == max && s.percent >= percent)
    }
}

/// Dollars as a person reads them: `$0.42`, `$1,234` above a thousand.
pub fn money(usd: f64) -> String {
    if !usd.is_finite() {
        return "$?".into();
    }
    if usd >= 1000.0 {
        format!("${:.0}", usd)
    } else {
        format!("${usd:.2}")
    }
}

/// Tokens, short: `950`, `41k`, `1.2M`.
pub fn short_tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// A limit's value in its unit: `$2.00`, `120k tokens`, `10m00s`, `8 subtasks`.
pub fn limit_value(limit: LimitKind, v: f64) -> String {
    let whole = if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    };
    match limit {
        LimitKind::Cost => money(v),
        LimitKind::Tokens => format!("{} tokens", short_tokens(whole)),
        LimitKind::WallClock => crate::text::duration(v),
        LimitKind::Subtasks => format!("{whole} subtasks"),
        LimitKind::Cycles => format!("{whole} replan cycles"),
    }
}

/// What is left, in words: `~$1.10 to go · ~96k tok · ~4m00s (5 subtasks, prior)`.
pub fn to_go(f: &Forecast) -> String {
    let cost = match f.cost_usd {
        Some(c) => format!("~{} to go", money(c)),
        None => "cost to go unknown (a model has no price)".into(),
    };
    format!(
        "{cost} · ~{} tok · ~{} ({} subtask{} left, {})",
        short_tokens(f.tokens),
        crate::text::duration(f.secs as f64),
        f.remaining,
        if f.remaining == 1 { "" } else { "s" },
        f.basis.label()
    )
}

/// A budget stage in words: `cost would pass 80 % of $2.00 ($1.50 → $1.72) with #5`.
pub fn stage_text(s: &BudgetStage) -> String {
    format!(
        "{} would pass {} % of {} ({} → {}) with {}",
        s.limit,
        s.percent,
        limit_value(s.limit, s.max),
        limit_value(s.limit, s.current),
        limit_value(s.limit, s.projected),
        s.subtask
    )
}

/// The headless progress line of an outlook event.
pub fn event_line(state: &State, event: &Event) -> Option<String> {
    match event {
        Event::ForecastUpdated { forecast } => Some(format!(
            "forecast: {} so far · {}",
            spent(state),
            to_go(forecast)
        )),
        Event::BudgetStageReached { stage } => Some(format!(
            "! budget stage {} %: {} (scope alert {})",
            stage.percent,
            stage_text(stage),
            stage.alert
        )),
        Event::BalanceChanged { imbalance } => Some(match imbalance {
            Some(i) => format!("! unbalanced: {}", super::balance::describe(i)),
            None => "balanced again: no role or worker holds 80 % of the finished work".into(),
        }),
        _ => None,
    }
}

/// What the run spent so far: `$0.42`, `≥$0.42` when some calls had no price, `cost n/a`.
pub fn spent(state: &State) -> String {
    if state.llm_calls > 0 && state.unpriced_calls == state.llm_calls {
        return "cost n/a".into();
    }
    let lower = if state.unpriced_calls > 0 { "≥" } else { "" };
    format!("{lower}{}", money(state.cost_usd))
}
