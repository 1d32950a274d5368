//! The settings a run starts with (journaled in `RunStarted`): the approval policy and
//! the limits that stop scope explosion. Pure data; the command line maps its flags onto
//! these (clap lives in `cli`, not here).

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
}

/// Limits that stop scope explosion. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Limits {
    pub max_subtasks: Option<u32>,
    pub max_cycles: Option<u32>,
    pub max_tokens: Option<u64>,
    pub budget_usd: Option<f64>,
    pub max_wall_secs: Option<u64>,
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
    pub workspace: Option<String>,
    pub read_only: bool,
    pub allow_commands: bool,
}

impl ApprovalPolicy {
    /// Every policy, in the order `--help` lists them.
    pub const ALL: [ApprovalPolicy; 3] = [
        ApprovalPolicy::Auto,
        ApprovalPolicy::Scope,
        ApprovalPolicy::All,
    ];

    /// The name used on the command line, in the config and in the journal.
    pub fn name(self) -> &'static str {
        match self {
            ApprovalPolicy::Auto => "auto",
            ApprovalPolicy::Scope => "scope",
            ApprovalPolicy::All => "all",
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
            .ok_or_else(|| format!("unknown approval policy `{s}` (auto, scope or all)"))
    }
}
