//! The checks of the config file's `[[mcp_servers]]` entries: a usable, unique name, a
//! command, roles that exist, sensible timeouts. The entries themselves are
//! [`McpServerSpec`]s (docs/mcp.md).

use toml::Spanned;

use super::ConfigError;
use super::file::FileText;
use crate::engine::roles::{self, RoleSpec};
use crate::tools::mcp::McpServerSpec;

/// Longest start/call timeout a server may have (one hour).
const MAX_TIMEOUT_SECS: u64 = 3_600;

/// Checks each entry; `extra_roles` are the config's `[[roles]]`.
pub(super) fn check(
    f: &FileText<'_>,
    entries: Vec<Spanned<McpServerSpec>>,
    extra_roles: &[RoleSpec],
) -> Result<Vec<McpServerSpec>, ConfigError> {
    let mut out: Vec<McpServerSpec> = Vec::new();
    for entry in entries {
        let span = entry.span();
        let spec = entry.into_inner();
        if !McpServerSpec::valid_name(&spec.name) {
            return Err(f.error(
                span,
                format!(
                    "an MCP server needs a `name` of letters, digits, `-` and `_` (at most 32, \
                     no `__`); `{}` is not one",
                    spec.name
                ),
            ));
        }
        if out.iter().any(|s| s.name == spec.name) {
            return Err(f.error(
                span,
                format!("the MCP server `{}` is defined twice", spec.name),
            ));
        }
        if spec.command.trim().is_empty() {
            return Err(f.error(
                span,
                format!("the MCP server `{}` needs a `command`", spec.name),
            ));
        }
        if spec
            .timeout_secs
            .is_some_and(|t| t == 0 || t > MAX_TIMEOUT_SECS)
        {
            return Err(f.error(
                span,
                format!(
                    "`timeout_secs` of the MCP server `{}` must be 1 to {MAX_TIMEOUT_SECS}",
                    spec.name
                ),
            ));
        }
        let known = roles::merge(roles::default_roles(), extra_roles.to_vec());
        for role in spec.roles.iter().flatten() {
            if !known.iter().any(|r| &r.name == role) {
                let names: Vec<&str> = known.iter().map(|r| r.name.as_str()).collect();
                return Err(f.error(
                    span,
                    format!(
                        "the MCP server `{}` names role `{role}`, which does not exist; roles \
                         are: {}",
                        spec.name,
                        names.join(", ")
                    ),
                ));
            }
        }
        out.push(spec);
    }
    Ok(out)
}
