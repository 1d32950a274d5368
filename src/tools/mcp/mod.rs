//! MCP servers as worker tools: the `[[mcp_servers]]` spec, [`McpTools`] (the servers of a
//! run, started in the background when the run starts) and [`ToolSet`] (the workspace tools
//! and the MCP tools offered to workers as one [`WorkerTools`]).
//!
//! Rules (docs/mcp.md): a server's tools are offered as `mcp__<server>__<tool>` with the
//! server's JSON Schema, only to the roles its `roles` names (all roles when absent), only
//! the tools its `tools` names (all when absent), and under `--read-only` only the tools the
//! server marks read-only. A call to a tool not in the server's `allow` list goes through
//! the same approval as a command ([`ToolHost::approve_command`]: the approval policy,
//! `--allow-commands`, "allow always", headless denial). Results are untrusted text, capped.
//! A server that fails to start is journaled as a notice when the first worker starts; the
//! run goes on without it.

pub mod http;
mod http_wire;
pub mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use self::server::{PREFIX, Server, StartError};
use super::text::one_line;
use super::{ToolHost, ToolOutput, WorkerTools, Workspace};
use crate::protocol::{CommandDecision, Event, SubtaskId, ToolCall, ToolDef};
use crate::state::FileChange;

/// Seconds a server has to start (and to answer one call) unless its `timeout_secs` says.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Bytes of a tool result passed on to the model (head and tail kept).
pub const RESULT_CAP: usize = 16_000;

/// One `[[mcp_servers]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSpec {
    /// Letters, digits, `-` and `_` (no `__`): the middle of `mcp__<name>__<tool>`.
    pub name: String,
    /// The program (a path, or a name looked up on PATH); empty for an HTTP server.
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// The server's whole environment (nothing else is passed on, no API key).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Tools offered to workers (the server's names); absent: all it lists.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// Roles that may use them; absent: every role.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Tools that run without asking (`"*"`: all of them).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Seconds to start and to answer one call (default 30).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// A streamable HTTP server's endpoint (instead of `command`).
    #[serde(default)]
    pub url: Option<String>,
    /// Headers sent with every request to `url`.
    #[serde(default)]
    pub http_headers: BTreeMap<String, String>,
    /// Headers whose value is read from the named environment variable when it starts.
    #[serde(default)]
    pub env_http_headers: BTreeMap<String, String>,
    /// The environment variable holding a bearer token for `url`.
    #[serde(default)]
    pub bearer_token_env_var: Option<String>,
}

impl McpServerSpec {
    pub fn timeout_secs(&self) -> u64 {
        self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1)
    }

    /// Is `name` usable as a server name?
    pub fn valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 32
            && !name.contains("__")
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    /// The entry a role's tool list gets for this server when `role` may use it: the
    /// namespaced names of `tools`, or `mcp__<name>__*` for all of them.
    pub fn role_grants(&self, role: &str) -> Vec<String> {
        if self
            .roles
            .as_ref()
            .is_some_and(|r| !r.iter().any(|x| x == role))
        {
            return Vec::new();
        }
        match &self.tools {
            Some(tools) => tools
                .iter()
                .map(|t| server::namespaced(&self.name, t))
                .collect(),
            None => vec![format!("{PREFIX}{}__*", self.name)],
        }
    }
}

/// Does a role's tool list allow `tool`? Exact names, or a `prefix*` entry.
pub fn allows(allowed: &[String], tool: &str) -> bool {
    allowed.iter().any(|a| match a.strip_suffix('*') {
        Some(prefix) => tool.starts_with(prefix),
        None => a == tool,
    })
}

/// How one server's start went, for `baton doctor` and the run's notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    pub name: String,
    /// Namespaced tools offered, or why it did not start.
    pub result: Result<Vec<String>, String>,
    /// Tools listed but not offered, with why.
    pub skipped: Vec<String>,
    /// An HTTP server's URL as shown to people (no user info, no query).
    pub url: Option<String>,
}

/// The MCP servers of one run.
pub struct McpTools {
    specs: Vec<McpServerSpec>,
    cwd: PathBuf,
    read_only: bool,
    started: OnceCell<Vec<Result<Server, StartError>>>,
    reported: AtomicBool,
    /// Tools a person allowed "always" in this run.
    session_allow: Mutex<Vec<String>>,
}

impl McpTools {
    /// The servers of `specs`, run in `cwd`; started by [`McpTools::start`].
    pub fn new(specs: Vec<McpServerSpec>, cwd: &Path, read_only: bool) -> McpTools {
        McpTools {
            specs,
            cwd: cwd.to_path_buf(),
            read_only,
            started: OnceCell::new(),
            reported: AtomicBool::new(false),
            session_allow: Mutex::new(Vec::new()),
        }
    }

    /// Starts every server (in parallel) once; later calls wait for the first.
    pub async fn start(&self) -> &[Result<Server, StartError>] {
        self.started
            .get_or_init(|| async {
                let starts = self.specs.iter().map(|s| server::start(s, &self.cwd));
                futures::future::join_all(starts).await
            })
            .await
    }

    /// Starts the servers in the background now (the run's start), so the first worker
    /// rarely waits for them.
    pub fn start_in_background(self: &Arc<Self>) {
        let me = Arc::clone(self);
        tokio::spawn(async move {
            me.start().await;
        });
    }

    /// How each server's start went (starting them if needed).
    pub async fn statuses(&self) -> Vec<ServerStatus> {
        let started = self.start().await;
        self.specs
            .iter()
            .zip(started)
            .map(|(spec, s)| match s {
                Ok(server) => ServerStatus {
                    name: spec.name.clone(),
                    result: Ok(self.visible(server).map(|t| t.def.name.clone()).collect()),
                    skipped: server.skipped.clone(),
                    url: spec.url.as_deref().map(http::shown_url),
                },
                Err(e) => ServerStatus {
                    name: spec.name.clone(),
                    result: Err(e.0.clone()),
                    skipped: Vec::new(),
                    url: spec.url.as_deref().map(http::shown_url),
                },
            })
            .collect()
    }

    /// Stops every started server.
    pub async fn stop(self) {
        if let Some(started) = self.started.into_inner() {
            for server in started.into_iter().flatten() {
                server.stop().await;
            }
        }
    }

    fn visible<'a>(&self, server: &'a Server) -> impl Iterator<Item = &'a server::OfferedTool> {
        let read_only = self.read_only;
        server
            .tools
            .iter()
            .filter(move |t| !read_only || t.read_only)
    }

    fn definitions(&self, allowed: &[String]) -> Vec<ToolDef> {
        let Some(started) = self.started.get() else {
            return Vec::new();
        };
        started
            .iter()
            .flatten()
            .flat_map(|s| self.visible(s))
            .filter(|t| allows(allowed, &t.def.name))
            .map(|t| t.def.clone())
            .collect()
    }

    /// Journals one notice per server that did not start (once per run).
    async fn report_failures(&self, host: &dyn ToolHost) {
        if self.reported.swap(true, Ordering::SeqCst) {
            return;
        }
        for status in self.statuses().await {
            if let Err(e) = status.result {
                let notice = Event::Notice {
                    message: format!(
                        "the MCP server `{}` did not start, its tools are not offered: {}",
                        status.name,
                        one_line(&e, 400)
                    ),
                };
                // A notice changes nothing on disk: a journal that cannot take it fails the
                // run on its own; here it is only logged.
                if let Err(e) = host.record(notice).await {
                    tracing::warn!("the MCP start-up notice was not journaled: {e}");
                }
            }
        }
    }

    async fn call(&self, host: &dyn ToolHost, subtask: SubtaskId, call: &ToolCall) -> ToolOutput {
        let started = self.start().await;
        let found = started.iter().flatten().find_map(|s| {
            self.visible(s)
                .find(|t| t.def.name == call.name)
                .map(|t| (s, t.name.clone()))
        });
        let Some((server, tool)) = found else {
            return error(call, format!("unknown tool `{}`", one_line(&call.name, 80)));
        };
        let shown = one_line(&format!("{} {}", call.name, call.arguments), 200);
        let pre_allowed = server.spec.allow.iter().any(|a| a == "*" || a == &tool)
            || self
                .session_allow
                .lock()
                .is_ok_and(|l| l.iter().any(|t| t == &call.name));
        if !pre_allowed {
            let place = format!("MCP server {}", server.spec.name);
            match host.approve_command(subtask, &shown, &place).await {
                CommandDecision::AllowOnce => {}
                CommandDecision::AllowAlways => {
                    if let Ok(mut list) = self.session_allow.lock() {
                        list.push(call.name.clone());
                    }
                }
                CommandDecision::Deny { reason } => {
                    let reason = reason.trim();
                    let why = if reason.is_empty() {
                        "no reason given"
                    } else {
                        reason
                    };
                    return error(
                        call,
                        format!(
                            "the tool `{}` was not allowed to run: {why}. Do not retry it \
                             unchanged; continue without it or report what you needed it for.",
                            call.name
                        ),
                    );
                }
            }
        }
        let result = server.call(&tool, &call.arguments, RESULT_CAP).await;
        ToolOutput {
            summary: format!(
                "{} ({} bytes{})",
                call.name,
                result.text.len(),
                if result.is_error { ", error" } else { "" }
            ),
            content: result.text,
            is_error: result.is_error,
        }
    }
}

fn error(call: &ToolCall, message: String) -> ToolOutput {
    ToolOutput {
        summary: format!("{} (error)", one_line(&call.name, 80)),
        content: message,
        is_error: true,
    }
}

/// The tools a run's workers get: the workspace's (when `--workspace` is set) and the MCP
/// servers' (`mcp__…` names).
pub struct ToolSet {
    pub workspace: Option<Arc<Workspace>>,
    pub mcp: Arc<McpTools>,
}

#[async_trait]
impl WorkerTools for ToolSet {
    async fn ready(&self, host: &dyn ToolHost) {
        self.mcp.start().await;
        self.mcp.report_failures(host).await;
    }

    fn definitions(&self, allowed: &[String]) -> Vec<ToolDef> {
        let mut defs = self
            .workspace
            .as_ref()
            .map(|w| w.definitions(allowed))
            .unwrap_or_default();
        defs.extend(self.mcp.definitions(allowed));
        defs
    }

    async fn call(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        call: &ToolCall,
    ) -> ToolOutput {
        if call.name.starts_with(PREFIX) {
            return self.mcp.call(host, subtask, call).await;
        }
        match &self.workspace {
            Some(ws) => ws.call(host, subtask, attempt, call).await,
            None => error(call, format!("unknown tool `{}`", one_line(&call.name, 80))),
        }
    }

    async fn check_rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        match &self.workspace {
            Some(ws) => ws.check_rollback(changes).await,
            None if changes.is_empty() => Ok(Vec::new()),
            None => Err("this run has no workspace to roll back".into()),
        }
    }

    async fn rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String> {
        match &self.workspace {
            Some(ws) => ws.rollback(changes).await,
            None if changes.is_empty() => Ok(Vec::new()),
            None => Err("this run has no workspace to roll back".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(roles: Option<Vec<&str>>, tools: Option<Vec<&str>>) -> McpServerSpec {
        McpServerSpec {
            name: "tracker".into(),
            command: "tracker-mcp".into(),
            args: vec![],
            env: BTreeMap::new(),
            tools: tools.map(|t| t.into_iter().map(String::from).collect()),
            roles: roles.map(|r| r.into_iter().map(String::from).collect()),
            allow: vec![],
            ..McpServerSpec::default()
        }
    }

    #[test]
    fn roles_get_the_servers_tools_they_are_named_for() {
        let all = spec(None, None);
        assert_eq!(all.role_grants("code_developer"), ["mcp__tracker__*"]);
        let some = spec(Some(vec!["code_analyzer"]), Some(vec!["lookup"]));
        assert_eq!(some.role_grants("code_analyzer"), ["mcp__tracker__lookup"]);
        assert!(some.role_grants("code_developer").is_empty());
    }

    #[test]
    fn a_role_list_allows_exact_names_and_prefixes() {
        let list = vec!["read_file".to_string(), "mcp__tracker__*".to_string()];
        assert!(allows(&list, "read_file"));
        assert!(allows(&list, "mcp__tracker__lookup"));
        assert!(!allows(&list, "mcp__other__lookup"));
        assert!(!allows(&list, "write_file"));
    }

    #[test]
    fn server_names_keep_the_namespace_unambiguous() {
        assert!(McpServerSpec::valid_name("git-hub_2"));
        assert!(!McpServerSpec::valid_name("a__b"));
        assert!(!McpServerSpec::valid_name(""));
        assert!(!McpServerSpec::valid_name("a b"));
        assert!(!McpServerSpec::valid_name(&"x".repeat(33)));
    }
}
