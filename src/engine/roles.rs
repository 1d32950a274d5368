//! Worker roles: the six defaults of the pattern (prompts in `assets/roles.toml`) and the
//! user's additions/overrides from the config.

use serde::{Deserialize, Serialize};

/// A worker role as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// e.g. `code_developer`.
    pub name: String,
    /// One line: what this role is for (shown to the orchestrator when it assigns work).
    pub purpose: String,
    /// The role's system prompt.
    pub prompt: String,
    /// Model override for this role (else the worker model).
    #[serde(default)]
    pub model: Option<String>,
    /// Workspace tools this role may use (`list_dir`, `read_file`, `search`, `write_file`,
    /// `edit_file`, `run_command`). Empty: none.
    #[serde(default)]
    pub tools: Vec<String>,
}
