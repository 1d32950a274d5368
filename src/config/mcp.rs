//! The checks of the config file's `[[mcp_servers]]` entries: a usable, unique name, a
//! command or an http(s) `url` (not both, and the options of the other kind unused),
//! headers only where they cannot leak, roles that exist, sensible timeouts. The entries themselves are
//! [`McpServerSpec`]s (docs/mcp.md).

use toml::Spanned;

use super::ConfigError;
use super::file::FileText;
use crate::engine::roles::{self, RoleSpec};
use crate::tools::mcp::{McpServerSpec, http};

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
        if let Err(why) = transport_problem(&spec) {
            return Err(f.error(span, format!("the MCP server `{}` {why}", spec.name)));
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

/// What is wrong with how `spec` is reached, if anything (the text follows "the MCP server
/// `x` ").
fn transport_problem(spec: &McpServerSpec) -> Result<(), String> {
    let http_options = !spec.http_headers.is_empty()
        || !spec.env_http_headers.is_empty()
        || spec.bearer_token_env_var.is_some();
    let Some(url) = &spec.url else {
        if spec.command.trim().is_empty() {
            return Err("needs a `command` (stdio) or a `url` (streamable HTTP)".into());
        }
        if http_options {
            return Err("has HTTP headers but no `url`".into());
        }
        return Ok(());
    };
    if !spec.command.is_empty() || !spec.args.is_empty() || !spec.env.is_empty() {
        return Err("has both a `url` and `command`/`args`/`env`: choose one".into());
    }
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or("needs a `url` starting with http:// or https://")?;
    if http_options && http::check_secure(&parsed).is_err() {
        return Err(
            "sends headers or a token, so its `url` must be https:// (or http:// to a loopback \
             address)"
                .into(),
        );
    }
    let names = spec.http_headers.keys().chain(spec.env_http_headers.keys());
    for name in names {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!(
                "has `{name}`, which is not a valid HTTP header name"
            ));
        }
        let reserved = [
            "accept",
            "mcp-session-id",
            "mcp-protocol-version",
            "last-event-id",
        ];
        if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
            return Err(format!(
                "sets the header `{name}`, which the MCP client sets itself"
            ));
        }
    }
    for var in spec
        .env_http_headers
        .values()
        .chain(spec.bearer_token_env_var.iter())
    {
        if var.is_empty() || var.contains('=') || var.contains('\0') {
            return Err(format!(
                "names `{var}`, which is not an environment variable name"
            ));
        }
    }
    Ok(())
}
