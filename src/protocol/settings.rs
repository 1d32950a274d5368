//! The settings a run starts with (journaled in `RunStarted`): the approval policy and
//! the limits that stop scope explosion. Pure data; the command line maps its flags onto
//! these (clap lives in `cli`, not here).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `--approve auto|scope|all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Only escalations wait for a person.
    Auto,
    /// Discovered subtasks, scope alerts and escalations wait for a person.
    #[default]
    Scope,
    /// Every new subtask waits for a person (plus scope alerts and escalations).
    All,
    /// Every replan's changes are held as a diff a person accepts or rejects row by row
    /// (plus what `scope` holds that is not a replan: decomposed work, scope alerts,
    /// escalations, the run mode).
    Plan,
}

/// Limits that stop scope explosion. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Limits {
    pub max_subtasks: Option<u32>,
    pub max_cycles: Option<u32>,
    pub max_tokens: Option<u64>,
    pub budget_usd: Option<f64>,
    pub max_wall_secs: Option<u64>,
    /// Stages of each budget set (percent) at which a dispatch that would cross one raises a
    /// scope alert first (`budget_stages`, default 50, 80, 100).
    #[serde(default)]
    pub budget_stages: BudgetStages,
}

/// Budget stages in percent, ascending, each 1..=100 (`budget_stages` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BudgetStages(pub Vec<u32>);

impl Default for BudgetStages {
    fn default() -> Self {
        BudgetStages(vec![50, 80, 100])
    }
}

impl fmt::Display for BudgetStages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", parts.join(", "))
    }
}

impl BudgetStages {
    /// Checks stages as a config gives them: each 1..=100, strictly ascending, at most 10.
    pub fn checked(stages: Vec<u32>) -> Result<Self, String> {
        if stages.len() > 10 {
            return Err("budget_stages takes at most 10 stages".into());
        }
        if let Some(bad) = stages.iter().find(|p| !(1..=100).contains(*p)) {
            return Err(format!(
                "budget stage {bad} is not a percentage between 1 and 100"
            ));
        }
        if stages.windows(2).any(|w| w[0] >= w[1]) {
            return Err("budget_stages must be in ascending order, each once".into());
        }
        Ok(BudgetStages(stages))
    }
}

/// The settings a run was started with (journaled in `RunStarted`; no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub provider: String,
    pub base_url: String,
    pub orchestrator_model: String,
    pub worker_model: String,
    pub max_workers: u32,
    pub approve: ApprovalPolicy,
    pub limits: Limits,
    pub complexity_threshold: f64,
    pub evaluate: bool,
    /// Evaluator rounds whose findings may reopen work (`evaluate_rounds`, default 1).
    #[serde(default = "default_evaluate_rounds")]
    pub evaluate_rounds: u32,
    pub workspace: Option<String>,
    pub read_only: bool,
    pub allow_commands: bool,
    /// Dispatch policy and concurrency cap per worker role (`[roles_dispatch]`); roles not
    /// named run `auto` with no cap of their own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub role_dispatch: BTreeMap<String, RoleDispatch>,
}

/// The default of `evaluate_rounds`.
pub const DEFAULT_EVALUATE_ROUNDS: u32 = 1;
/// The most `evaluate_rounds` the config and the flag accept.
pub const MAX_EVALUATE_ROUNDS: u32 = 10;

fn default_evaluate_rounds() -> u32 {
    DEFAULT_EVALUATE_ROUNDS
}

/// When a runnable subtask starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DispatchPolicy {
    /// As soon as its dependencies are done and a worker is free.
    #[default]
    Auto,
    /// Once runnable, it waits for a person's approval before it starts (headless: the run
    /// stops as needing a person).
    Ask,
    /// Never started until its policy is changed.
    Hold,
}

impl DispatchPolicy {
    pub const ALL: [DispatchPolicy; 3] = [
        DispatchPolicy::Auto,
        DispatchPolicy::Ask,
        DispatchPolicy::Hold,
    ];

    /// The name used in the config, the journal and on screen.
    pub fn name(self) -> &'static str {
        match self {
            DispatchPolicy::Auto => "auto",
            DispatchPolicy::Ask => "ask",
            DispatchPolicy::Hold => "hold",
        }
    }

    /// The next policy of the TUI's cycle: auto → ask → hold → auto.
    pub fn next(self) -> Self {
        match self {
            DispatchPolicy::Auto => DispatchPolicy::Ask,
            DispatchPolicy::Ask => DispatchPolicy::Hold,
            DispatchPolicy::Hold => DispatchPolicy::Auto,
        }
    }
}

impl fmt::Display for DispatchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DispatchPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DispatchPolicy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown dispatch policy `{s}` (auto, ask or hold)"))
    }
}

/// One role's dispatch rules (`[roles_dispatch]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RoleDispatch {
    #[serde(default)]
    pub policy: DispatchPolicy,
    /// The most workers of this role at once (within `max_workers`); `None`: no cap.
    #[serde(default)]
    pub max_concurrent: Option<u32>,
}

/// One setting that changed: its name (as in the config file: `max_workers`,
/// `limits.budget_usd`, `base_url`) and its values before and after, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingChange {
    pub what: String,
    pub before: String,
    pub after: String,
}

impl RunSettings {
    /// The settings that differ between `self` (before) and `after`, in a fixed order.
    pub fn changes_to(&self, after: &RunSettings) -> Vec<SettingChange> {
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref()
                .map_or_else(|| "none".to_string(), ToString::to_string)
        }
        let (a, b) = (self, after);
        let pairs = [
            ("provider", a.provider.clone(), b.provider.clone()),
            ("base_url", a.base_url.clone(), b.base_url.clone()),
            (
                "model",
                a.orchestrator_model.clone(),
                b.orchestrator_model.clone(),
            ),
            (
                "worker_model",
                a.worker_model.clone(),
                b.worker_model.clone(),
            ),
            (
                "max_workers",
                a.max_workers.to_string(),
                b.max_workers.to_string(),
            ),
            ("approve", a.approve.to_string(), b.approve.to_string()),
            (
                "limits.max_subtasks",
                opt(&a.limits.max_subtasks),
                opt(&b.limits.max_subtasks),
            ),
            (
                "limits.max_cycles",
                opt(&a.limits.max_cycles),
                opt(&b.limits.max_cycles),
            ),
            (
                "limits.max_tokens",
                opt(&a.limits.max_tokens),
                opt(&b.limits.max_tokens),
            ),
            (
                "limits.budget_usd",
                opt(&a.limits.budget_usd),
                opt(&b.limits.budget_usd),
            ),
            (
                "limits.max_wall_secs",
                opt(&a.limits.max_wall_secs),
                opt(&b.limits.max_wall_secs),
            ),
            (
                "limits.budget_stages",
                a.limits.budget_stages.to_string(),
                b.limits.budget_stages.to_string(),
            ),
            (
                "complexity_threshold",
                a.complexity_threshold.to_string(),
                b.complexity_threshold.to_string(),
            ),
            ("evaluate", a.evaluate.to_string(), b.evaluate.to_string()),
            (
                "evaluate_rounds",
                a.evaluate_rounds.to_string(),
                b.evaluate_rounds.to_string(),
            ),
            ("workspace", opt(&a.workspace), opt(&b.workspace)),
            (
                "read_only",
                a.read_only.to_string(),
                b.read_only.to_string(),
            ),
            (
                "allow_commands",
                a.allow_commands.to_string(),
                b.allow_commands.to_string(),
            ),
        ];
        pairs
            .into_iter()
            .filter(|(_, before, after)| before != after)
            .map(|(what, before, after)| SettingChange {
                what: what.to_string(),
                before,
                after,
            })
            .collect()
    }
}

impl ApprovalPolicy {
    /// Every policy, in the order `--help` lists them.
    pub const ALL: [ApprovalPolicy; 4] = [
        ApprovalPolicy::Auto,
        ApprovalPolicy::Scope,
        ApprovalPolicy::All,
        ApprovalPolicy::Plan,
    ];

    /// The name used on the command line, in the config and in the journal.
    pub fn name(self) -> &'static str {
        match self {
            ApprovalPolicy::Auto => "auto",
            ApprovalPolicy::Scope => "scope",
            ApprovalPolicy::All => "all",
            ApprovalPolicy::Plan => "plan",
        }
    }
}

impl fmt::Display for ApprovalPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ApprovalPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApprovalPolicy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown approval policy `{s}` (auto, scope, all or plan)"))
    }
}
