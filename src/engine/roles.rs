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
    /// `edit_file`, `delete_file`, `run_command`). Empty: none.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Output cap of one call of this role, in tokens (else its model's `max_output` in the
    /// model table, else 8192).
    #[serde(default)]
    pub max_output: Option<u32>,
}

/// The embedded default roles file.
const DEFAULT_ROLES: &str = include_str!("../../assets/roles.toml");

#[derive(Deserialize)]
struct RolesFile {
    role: Vec<RoleSpec>,
}

/// Parses a roles file (`[[role]]` tables).
pub fn parse_roles(text: &str) -> Result<Vec<RoleSpec>, String> {
    toml::from_str::<RolesFile>(text)
        .map(|f| f.role)
        .map_err(|e| format!("invalid roles file: {e}"))
}

/// The six default roles of the pattern (from `assets/roles.toml`).
pub fn default_roles() -> Vec<RoleSpec> {
    // The embedded file is checked by a unit test; a broken one yields no roles rather
    // than a panic.
    parse_roles(DEFAULT_ROLES).unwrap_or_default()
}

/// The defaults with the user's roles applied: a user role whose name matches a default
/// replaces it (in place); other user roles are appended in their order.
pub fn merge(defaults: Vec<RoleSpec>, overrides: Vec<RoleSpec>) -> Vec<RoleSpec> {
    let mut out = defaults;
    for role in overrides {
        match out.iter_mut().find(|r| r.name == role.name) {
            Some(slot) => *slot = role,
            None => out.push(role),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn six_default_roles_parse() {
        let roles = parse_roles(DEFAULT_ROLES).unwrap();
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "code_analyzer",
                "system_architect",
                "code_developer",
                "test_engineer",
                "documentation_writer",
                "performance_optimizer"
            ]
        );
        assert!(roles.iter().all(|r| !r.prompt.trim().is_empty()));
    }

    #[test]
    fn merge_overrides_by_name_and_appends_new() {
        let mut dev = default_roles()[2].clone();
        dev.model = Some("big".into());
        let extra = RoleSpec {
            name: "security_reviewer".into(),
            purpose: "p".into(),
            prompt: "q".into(),
            model: None,
            tools: vec![],
            max_output: None,
        };
        let merged = merge(default_roles(), vec![dev, extra]);
        assert_eq!(merged.len(), 7);
        assert_eq!(merged[2].model.as_deref(), Some("big"));
        assert_eq!(merged[6].name, "security_reviewer");
    }
}
