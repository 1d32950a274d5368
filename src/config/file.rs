//! The config file: its format (every key, `deny_unknown_fields`), byte spans turned into
//! line numbers and dotted keys for error messages and sources, and the checks of each value.
//!
//! Must not read the environment or flags (`resolve`) nor decide precedence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::resolve::{Builder, Val, check_log_filter, is_http_url, log_filter_from, set};
use super::{ConfigError, Source};
use crate::engine::roles::RoleSpec;
use crate::llm::pricing::ModelEntry;
use crate::llm::{ProviderKind, Secret, ToolMode};
use crate::notify::NotifyMode;
use crate::protocol::{ApprovalPolicy, MAX_WALL_SECS};
use crate::tools::mcp::McpServerSpec;
use crate::tools::sandbox::SandboxMode;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    provider: Option<Spanned<ProviderKind>>,
    base_url: Option<Spanned<String>>,
    api_key: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    worker_model: Option<Spanned<String>>,
    tool_mode: Option<Spanned<ToolMode>>,
    max_workers: Option<Spanned<u32>>,
    approve: Option<Spanned<ApprovalPolicy>>,
    budget_usd: Option<Spanned<f64>>,
    max_subtasks: Option<Spanned<u32>>,
    max_cycles: Option<Spanned<u32>>,
    max_tokens: Option<Spanned<u64>>,
    max_wall_secs: Option<Spanned<u64>>,
    budget_stages: Option<Spanned<Vec<u32>>>,
    complexity_threshold: Option<Spanned<f64>>,
    evaluate: Option<Spanned<bool>>,
    evaluate_rounds: Option<Spanned<i64>>,
    worker_timeout_secs: Option<Spanned<u64>>,
    workspace: Option<Spanned<String>>,
    read_only: Option<Spanned<bool>>,
    allow_commands: Option<Spanned<bool>>,
    allow: Option<Spanned<Vec<String>>>,
    command_env: Option<Spanned<Vec<String>>>,
    protected: Option<Spanned<Vec<String>>>,
    log_level: Option<Spanned<String>>,
    project_instructions: Option<Spanned<bool>>,
    isolation: Option<Spanned<crate::isolation::Isolation>>,
    merge_conflicts: Option<Spanned<crate::isolation::ConflictPolicy>>,
    on_replan_conflict: Option<Spanned<String>>,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    retry: RetryFile,
    #[serde(default)]
    demo: DemoFile,
    #[serde(default)]
    ui: UiFile,
    #[serde(default)]
    sandbox: SandboxFile,
    #[serde(default)]
    pricing: BTreeMap<String, Spanned<ModelEntry>>,
    #[serde(default)]
    roles: Vec<Spanned<RoleSpec>>,
    #[serde(default)]
    roles_models: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    mcp_servers: Vec<Spanned<McpServerSpec>>,
    #[serde(default)]
    keys: BTreeMap<String, Spanned<KeysFile>>,
    max_concurrent: Option<Spanned<u32>>,
    pool: Option<Spanned<String>>,
    #[serde(default)]
    pools: BTreeMap<String, Spanned<super::pools::PoolFile>>,
    #[serde(default)]
    roles_pools: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    roles_dispatch: BTreeMap<String, Spanned<crate::protocol::RoleDispatch>>,
}

/// `[keys]`: `action = "key"` or `action = ["key", "key"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeysFile {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryFile {
    max_retries: Option<Spanned<u32>>,
    stream_retries: Option<Spanned<u32>>,
    rate_limit_retries: Option<Spanned<u32>>,
    rate_limit_patience_ms: Option<Spanned<u64>>,
    max_retry_after_ms: Option<Spanned<u64>>,
    call_timeout_ms: Option<Spanned<u64>>,
    max_response_bytes: Option<Spanned<u64>>,
    initial_backoff_ms: Option<Spanned<u64>>,
    max_backoff_ms: Option<Spanned<u64>>,
    connect_timeout_ms: Option<Spanned<u64>>,
    first_byte_timeout_ms: Option<Spanned<u64>>,
    idle_timeout_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_task_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoFile {
    pace_ms: Option<Spanned<u64>>,
    seed: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UiFile {
    bell: Option<Spanned<bool>>,
    ascii: Option<Spanned<bool>>,
    mouse: Option<Spanned<bool>>,
    theme: Option<Spanned<super::UiTheme>>,
    notify: Option<Spanned<NotifyMode>>,
    notify_command: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxFile {
    mode: Option<Spanned<SandboxMode>>,
    network: Option<Spanned<bool>>,
}

impl FileConfig {
    /// Whether the file holds an API key (then it must not be readable by others).
    pub(super) fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }
}

/// The file's text, for turning byte spans into line numbers and keys.
pub(super) struct FileText<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl FileText<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |i| offset - i - 1) + 1;
        (line, column)
    }

    fn source(&self, span: std::ops::Range<usize>) -> Source {
        Source::File {
            path: self.path.to_path_buf(),
            line: self.line_col(span.start).0,
        }
    }

    /// The dotted key at `offset`: the nearest `[table]` header above it, plus the key of
    /// the `key = value` line it is on.
    fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let line = &self.text[line_start..line_end];
        let header = self.text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| {
                l.trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            });
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            return trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
        }
        let key = line
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        match (header, key.is_empty()) {
            (Some(h), false) => format!("{h}.{key}"),
            (Some(h), true) => h,
            (None, false) => key,
            (None, true) => "(file)".to_string(),
        }
    }

    pub(super) fn error(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = self.line_col(span.start);
        ConfigError::File {
            path: self.path.to_path_buf(),
            line,
            column,
            key: self.key_at(span.start),
            message: message.into(),
        }
    }
}

pub(super) fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    let file = FileText { path, text };
    toml::from_str::<FileConfig>(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        file.error(span, message)
    })
}

/// Checks that an example or user config parses and validates, naming the first problem.
pub fn validate_file_text(path: &Path, text: &str) -> Result<(), ConfigError> {
    let parsed = parse_file(path, text)?;
    let mut builder = Builder::default();
    builder.apply_file(&FileText { path, text }, parsed)
}

impl Builder {
    pub(super) fn apply_file(
        &mut self,
        f: &FileText<'_>,
        file: FileConfig,
    ) -> Result<(), ConfigError> {
        macro_rules! take {
            ($slot:expr, $spanned:expr) => {
                if let Some(s) = $spanned {
                    let source = f.source(s.span());
                    set(&mut $slot, s.into_inner(), source);
                }
            };
        }
        if let Some(s) = file.base_url {
            let v = s.get_ref().trim().trim_end_matches('/').to_string();
            if !is_http_url(&v) {
                return Err(f.error(
                    s.span(),
                    format!("`{v}` is not an http(s) URL; write it like https://api.openai.com/v1"),
                ));
            }
            set(&mut self.base_url, v, f.source(s.span()));
        }
        if let Some(s) = file.api_key {
            let source = f.source(s.span());
            set(&mut self.api_key, Secret::new(s.into_inner()), source);
        }
        take!(self.provider, file.provider);
        take!(self.model, file.model);
        take!(self.worker_model, file.worker_model);
        take!(self.tool_mode, file.tool_mode);
        if let Some(s) = &file.max_workers
            && !(1..=64).contains(s.get_ref())
        {
            return Err(f.error(s.span(), "max_workers must be between 1 and 64"));
        }
        take!(self.max_workers, file.max_workers);
        take!(self.approve, file.approve);
        if let Some(s) = &file.budget_usd
            && !(s.get_ref().is_finite() && *s.get_ref() > 0.0)
        {
            return Err(f.error(
                s.span(),
                "budget_usd must be more than 0 (leave it out for no budget)",
            ));
        }
        take!(self.budget_usd, file.budget_usd);
        take!(self.max_subtasks, file.max_subtasks);
        take!(self.max_cycles, file.max_cycles);
        take!(self.max_tokens, file.max_tokens);
        if let Some(s) = &file.max_wall_secs
            && *s.get_ref() > MAX_WALL_SECS
        {
            return Err(f.error(
                s.span(),
                format!(
                    "max_wall_secs must be at most {MAX_WALL_SECS} (100 years; 0 or leave it out for no limit)"
                ),
            ));
        }
        take!(self.max_wall_secs, file.max_wall_secs);
        if let Some(s) = file.budget_stages {
            let stages = crate::protocol::BudgetStages::checked(s.get_ref().clone())
                .map_err(|m| f.error(s.span(), m))?;
            set(&mut self.budget_stages, stages, f.source(s.span()));
        }
        if let Some(s) = &file.complexity_threshold
            && !(0.0..=1.0).contains(s.get_ref())
        {
            return Err(f.error(s.span(), "complexity_threshold must be between 0 and 1"));
        }
        take!(self.complexity_threshold, file.complexity_threshold);
        take!(self.evaluate, file.evaluate);
        if let Some(s) = file.evaluate_rounds {
            let max = crate::protocol::MAX_EVALUATE_ROUNDS;
            let Some(v) = u32::try_from(*s.get_ref()).ok().filter(|v| *v <= max) else {
                return Err(f.error(s.span(), format!("evaluate_rounds must be 0 to {max}")));
            };
            set(&mut self.evaluate_rounds, v, f.source(s.span()));
        }
        if let Some(s) = &file.worker_timeout_secs
            && *s.get_ref() == 0
        {
            return Err(f.error(s.span(), "worker_timeout_secs must be at least 1"));
        }
        take!(self.worker_timeout_secs, file.worker_timeout_secs);
        if let Some(s) = file.workspace {
            let source = f.source(s.span());
            set(&mut self.workspace, PathBuf::from(s.into_inner()), source);
        }
        take!(self.read_only, file.read_only);
        take!(self.allow_commands, file.allow_commands);
        if let Some(s) = &file.allow
            && s.get_ref().iter().any(|c| c.trim().is_empty())
        {
            return Err(f.error(s.span(), "allow entries must not be empty"));
        }
        take!(self.allow, file.allow);
        if let Some(s) = &file.command_env {
            for name in s.get_ref() {
                if let Some(message) = check_command_env_name(name) {
                    return Err(f.error(s.span(), message));
                }
            }
        }
        take!(self.command_env, file.command_env);
        take!(self.sandbox_mode, file.sandbox.mode);
        take!(self.sandbox_network, file.sandbox.network);
        if let Some(s) = &file.protected {
            crate::tools::paths::Protection::new(s.get_ref())
                .map_err(|e| f.error(s.span(), e.to_string()))?;
        }
        take!(self.protected, file.protected);
        if let Some(s) = &file.limits.max_task_bytes
            && !(1..=super::MAX_TASK_BYTES_CEILING).contains(s.get_ref())
        {
            return Err(f.error(
                s.span(),
                format!(
                    "max_task_bytes must be between 1 and {} (16 MiB)",
                    super::MAX_TASK_BYTES_CEILING
                ),
            ));
        }
        take!(self.max_task_bytes, file.limits.max_task_bytes);
        if let Some(s) = file.log_level {
            let filter = log_filter_from(s.get_ref());
            check_log_filter(&filter).map_err(|m| f.error(s.span(), m))?;
            set(&mut self.log_filter, filter, f.source(s.span()));
        }
        let retry = file.retry;
        for (name, value) in [
            ("max_retries", retry.max_retries.map(|s| s.map_u64())),
            ("stream_retries", retry.stream_retries.map(|s| s.map_u64())),
            (
                "rate_limit_retries",
                retry.rate_limit_retries.map(|s| s.map_u64()),
            ),
            ("rate_limit_patience_ms", retry.rate_limit_patience_ms),
            ("max_retry_after_ms", retry.max_retry_after_ms),
            ("call_timeout_ms", retry.call_timeout_ms),
            ("max_response_bytes", retry.max_response_bytes),
            ("initial_backoff_ms", retry.initial_backoff_ms),
            ("max_backoff_ms", retry.max_backoff_ms),
            ("connect_timeout_ms", retry.connect_timeout_ms),
            ("first_byte_timeout_ms", retry.first_byte_timeout_ms),
            ("idle_timeout_ms", retry.idle_timeout_ms),
        ] {
            if let Some(s) = value {
                if (name.ends_with("timeout_ms") || name == "max_response_bytes")
                    && *s.get_ref() == 0
                {
                    return Err(f.error(s.span(), format!("{name} must be at least 1")));
                }
                let source = f.source(s.span());
                self.retry.insert(
                    name,
                    Val {
                        value: s.into_inner(),
                        source,
                    },
                );
            }
        }
        take!(self.demo_pace_ms, file.demo.pace_ms);
        take!(self.demo_seed, file.demo.seed);
        take!(self.ui_bell, file.ui.bell);
        take!(self.ui_ascii, file.ui.ascii);
        take!(self.ui_mouse, file.ui.mouse);
        take!(self.ui_theme, file.ui.theme);
        for (action, keys) in file.keys {
            let span = keys.span();
            let list = match keys.into_inner() {
                KeysFile::One(k) => vec![k],
                KeysFile::Many(ks) => ks,
            };
            if list.is_empty() || list.iter().any(|k| k.trim().is_empty()) {
                return Err(f.error(
                    span,
                    format!("[keys] {action}: give a key such as \"y\" or a list such as [\"y\", \"C-y\"]"),
                ));
            }
            self.keys.insert(action, list);
        }
        take!(self.ui_notify, file.ui.notify);
        if let Some(s) = &file.ui.notify_command
            && s.get_ref().first().is_none_or(|p| p.trim().is_empty())
        {
            return Err(f.error(
                s.span(),
                "notify_command needs a program first, e.g. [\"notify-send\", \"Baton\"]",
            ));
        }
        take!(self.notify_command, file.ui.notify_command);
        take!(self.project_instructions, file.project_instructions);
        take!(self.isolation, file.isolation);
        take!(self.merge_conflicts, file.merge_conflicts);
        if let Some(s) = file.on_replan_conflict {
            let v = s
                .get_ref()
                .parse::<crate::engine::policy::ReplanConflict>()
                .map_err(|e| f.error(s.span(), e))?;
            set(&mut self.on_replan_conflict, v, f.source(s.span()));
        }
        for (model, price) in file.pricing {
            let p = *price.get_ref();
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !(ok(p.input) && ok(p.output) && p.cached_input.is_none_or(ok)) {
                return Err(f.error(
                    price.span(),
                    format!(
                        "prices for `{model}` must be numbers of 0 or more (USD per million tokens)"
                    ),
                ));
            }
            self.pricing.insert(model, p);
        }
        let mut seen = std::collections::BTreeSet::new();
        for role in file.roles {
            let span = role.span();
            let r = role.into_inner();
            if r.name.trim().is_empty() {
                return Err(f.error(span, "a role needs a non-empty `name`"));
            }
            if !seen.insert(r.name.clone()) {
                return Err(f.error(span, format!("role `{}` is defined twice", r.name)));
            }
            let known = crate::tools::schema::ALL_TOOLS;
            if let Some(bad) = r.tools.iter().find(|t| !known.contains(&t.as_str())) {
                return Err(f.error(
                    span,
                    format!(
                        "role `{}` names the tool `{bad}`, which does not exist; tools are: {}",
                        r.name,
                        known.join(", ")
                    ),
                ));
            }
            self.roles.push(r);
        }
        for (role, model) in file.roles_models {
            if model.get_ref().trim().is_empty() {
                return Err(f.error(
                    model.span(),
                    format!("the model for role `{role}` is empty"),
                ));
            }
            let known = crate::engine::roles::default_roles()
                .iter()
                .any(|r| r.name == role)
                || self.roles.iter().any(|r| r.name == role);
            if !known {
                let mut names: Vec<String> = crate::engine::roles::default_roles()
                    .into_iter()
                    .map(|r| r.name)
                    .collect();
                names.extend(self.roles.iter().map(|r| r.name.clone()));
                return Err(f.error(
                    model.span(),
                    format!(
                        "there is no role `{role}`; roles are: {} (add one with [[roles]])",
                        names.join(", ")
                    ),
                ));
            }
            self.roles_models.insert(role, model.into_inner());
        }
        self.mcp_servers = super::mcp::check(f, file.mcp_servers, &self.roles)?;
        let defaults = crate::engine::roles::default_roles();
        let roles = &self.roles;
        self.pools = super::pools::check(
            f,
            file.pools,
            file.pool,
            file.roles_pools,
            file.roles_dispatch,
            file.max_concurrent,
            |name| defaults.iter().chain(roles.iter()).any(|r| r.name == name),
        )?;
        Ok(())
    }
}

/// Why `name` cannot be in `command_env`, if it cannot.
fn check_command_env_name(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Some(format!(
            "`{name}` is not an environment variable name (letters, digits and _)"
        ));
    }
    crate::tools::command::is_secret_var(name).then(|| {
        format!(
            "`{name}` looks like a credential; Baton never passes credentials to commands \
             (give the command what it needs another way, or set [sandbox] mode = \"off\" \
             and run it yourself)"
        )
    })
}

trait MapU64 {
    fn map_u64(self) -> Spanned<u64>;
}

impl MapU64 for Spanned<u32> {
    fn map_u64(self) -> Spanned<u64> {
        let span = self.span();
        Spanned::new(span, u64::from(self.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_at_finds_table_and_key() {
        let text = "provider = \"demo\"\n[retry]\nmax_retries = \"x\"\n";
        let f = FileText {
            path: Path::new("c.toml"),
            text,
        };
        let offset = text.find("\"x\"").unwrap();
        assert_eq!(f.key_at(offset), "retry.max_retries");
        assert_eq!(f.line_col(offset), (3, 15));
        assert_eq!(f.key_at(0), "provider");
    }
}
