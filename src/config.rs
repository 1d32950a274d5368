//! Configuration: defaults, the TOML file, environment variables and flags, merged with the
//! precedence flags > env > file > defaults, each effective value remembering its source.
//!
//! Owns: the config file format (every key, `deny_unknown_fields`, errors naming file, line
//! and key), the paths (`BATON_HOME`, or the platform's config and data directories),
//! provider auto-detection and default models, and `baton config`'s report. Produces the
//! engine's [`RunSettings`] and the provider layer's [`ProviderSettings`].
//! Must not start anything, print anything, or expose a key other than as a fingerprint
//! (keys are held in [`Secret`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::cli::CommonArgs;
use crate::engine::event::{ApprovalPolicy, Limits, RunSettings};
use crate::engine::roles::RoleSpec;
use crate::llm::pricing::{ModelPrice, PriceTable};
use crate::llm::{ProviderKind, ProviderSettings, RetrySettings, Secret, ToolMode};

/// Default number of workers at once.
pub const DEFAULT_MAX_WORKERS: u32 = 4;
/// Default subtask limit (a scope alert is raised when reached).
pub const DEFAULT_MAX_SUBTASKS: u32 = 40;
/// Default replan-cycle limit.
pub const DEFAULT_MAX_CYCLES: u32 = 40;
/// Below this analysed complexity, a person or the policy picks orchestrate vs single worker.
pub const DEFAULT_COMPLEXITY_THRESHOLD: f64 = 0.7;
/// A worker attempt longer than this fails.
pub const DEFAULT_WORKER_TIMEOUT_SECS: u64 = 600;
/// The log filter when nothing sets one.
pub const DEFAULT_LOG_FILTER: &str = "baton=info";

pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Every environment variable Baton reads.
pub const ENV_VARS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "BATON_PROVIDER",
    "BATON_MODEL",
    "BATON_LOG",
    "BATON_HOME",
];

/// `(orchestrator model, worker model)` used when none is configured.
pub fn default_models(kind: ProviderKind) -> (&'static str, &'static str) {
    match kind {
        ProviderKind::Anthropic => ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ProviderKind::Openai => ("gpt-4.1", "gpt-4.1-mini"),
        ProviderKind::Demo => ("demo-orchestrator", "demo-worker"),
    }
}

/// The base URL used when none is configured.
pub fn default_base_url(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Anthropic => ANTHROPIC_BASE_URL,
        ProviderKind::Openai => OPENAI_BASE_URL,
        ProviderKind::Demo => "",
    }
}

/// The environment variable holding the key of this provider.
pub fn key_env_var(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
        ProviderKind::Openai => Some("OPENAI_API_KEY"),
        ProviderKind::Demo => None,
    }
}

fn base_url_env_var(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::Anthropic => Some("ANTHROPIC_BASE_URL"),
        ProviderKind::Openai => Some("OPENAI_BASE_URL"),
        ProviderKind::Demo => None,
    }
}

// ------------------------------------------------------------------------------------------
// Sources and errors
// ------------------------------------------------------------------------------------------

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    /// The config file, at this line.
    File {
        path: PathBuf,
        line: usize,
    },
    Env(&'static str),
    Flag(&'static str),
    /// Worked out from other settings (provider auto-detection, provider defaults).
    Derived(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "file {}:{line}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Derived(why) => write!(f, "{why}"),
        }
    }
}

/// A configuration problem. Every message says where and what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}:{column}: {key}: {message}", path = path.display())]
    File {
        path: PathBuf,
        line: usize,
        column: usize,
        /// Dotted key (`retry.max_retries`), or the table (`roles`) when the error is about it.
        key: String,
        message: String,
    },
    #[error("cannot read the config file {path}: {message}", path = path.display())]
    Read { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: &'static str, message: String },
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error(
        "cannot find a home directory for the config and data files; set BATON_HOME to a directory"
    )]
    NoHome,
}

// ------------------------------------------------------------------------------------------
// The environment
// ------------------------------------------------------------------------------------------

/// The environment variables Baton reads, captured once (tests build their own).
/// Empty values count as unset.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process environment (only the variables in [`ENV_VARS`]).
    pub fn from_process() -> Self {
        let vars = ENV_VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_string(), v)))
            .collect();
        Self { vars }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

// ------------------------------------------------------------------------------------------
// Paths
// ------------------------------------------------------------------------------------------

/// Where Baton keeps its files.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    /// The config file read (or that would be read; it may not exist).
    pub config_file: PathBuf,
    /// Whether the config file exists (and was read).
    pub config_found: bool,
    /// Runs and logs live here.
    pub data_dir: PathBuf,
}

impl Paths {
    /// `BATON_HOME` (config `$BATON_HOME/config.toml`, data `$BATON_HOME/data`), else the
    /// platform directories of `dev.baton.baton`. `--config F` replaces the config file.
    pub fn resolve(env: &Env, config_flag: Option<&Path>) -> Result<Paths, ConfigError> {
        let (default_config, data_dir) = match env.get("BATON_HOME") {
            Some(home) => {
                let home = PathBuf::from(home);
                (home.join("config.toml"), home.join("data"))
            }
            None => {
                let dirs = directories::ProjectDirs::from("dev", "baton", "baton")
                    .ok_or(ConfigError::NoHome)?;
                (
                    dirs.config_dir().join("config.toml"),
                    dirs.data_dir().to_path_buf(),
                )
            }
        };
        let config_file = config_flag.map_or(default_config, Path::to_path_buf);
        let config_found = config_file.is_file();
        if config_flag.is_some() && !config_found {
            return Err(ConfigError::Flag {
                flag: "--config",
                message: format!("{} does not exist or is not a file", config_file.display()),
            });
        }
        Ok(Paths {
            config_file,
            config_found,
            data_dir,
        })
    }
}

// ------------------------------------------------------------------------------------------
// The file format
// ------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
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
    complexity_threshold: Option<Spanned<f64>>,
    evaluate: Option<Spanned<bool>>,
    worker_timeout_secs: Option<Spanned<u64>>,
    workspace: Option<Spanned<String>>,
    read_only: Option<Spanned<bool>>,
    allow_commands: Option<Spanned<bool>>,
    allow: Option<Spanned<Vec<String>>>,
    log_level: Option<Spanned<String>>,
    #[serde(default)]
    retry: RetryFile,
    #[serde(default)]
    demo: DemoFile,
    #[serde(default)]
    ui: UiFile,
    #[serde(default)]
    pricing: BTreeMap<String, Spanned<ModelPrice>>,
    #[serde(default)]
    roles: Vec<Spanned<RoleSpec>>,
    #[serde(default)]
    roles_models: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryFile {
    max_retries: Option<Spanned<u32>>,
    initial_backoff_ms: Option<Spanned<u64>>,
    max_backoff_ms: Option<Spanned<u64>>,
    connect_timeout_ms: Option<Spanned<u64>>,
    first_byte_timeout_ms: Option<Spanned<u64>>,
    idle_timeout_ms: Option<Spanned<u64>>,
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
}

/// The file's text, for turning byte spans into line numbers and keys.
struct FileText<'a> {
    path: &'a Path,
    text: &'a str,
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

    fn error(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> ConfigError {
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

fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
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

// ------------------------------------------------------------------------------------------
// The effective configuration
// ------------------------------------------------------------------------------------------

/// Demo provider settings (`[demo]`).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSettings {
    /// Milliseconds between streamed words (0 = instant).
    pub pace_ms: u64,
    pub seed: u64,
}

/// Terminal UI preferences (`[ui]`).
#[derive(Debug, Clone, PartialEq)]
pub struct UiSettings {
    /// Ring the terminal bell once when something starts needing a person.
    pub bell: bool,
    /// Draw with ASCII only (no box-drawing characters or symbols).
    pub ascii: bool,
    /// Capture the mouse (click to select, wheel to scroll).
    pub mouse: bool,
}

/// The effective configuration. `Debug` never shows the key (it is a [`Secret`]).
#[derive(Debug, Clone)]
pub struct Config {
    pub provider: ProviderKind,
    pub base_url: String,
    pub api_key: Secret,
    /// Orchestrator model.
    pub model: String,
    pub worker_model: String,
    pub tool_mode: ToolMode,
    pub max_workers: u32,
    pub approve: ApprovalPolicy,
    pub budget_usd: Option<f64>,
    pub max_subtasks: Option<u32>,
    pub max_cycles: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_wall_secs: Option<u64>,
    pub complexity_threshold: f64,
    pub evaluate: bool,
    pub worker_timeout_secs: u64,
    pub workspace: Option<PathBuf>,
    pub read_only: bool,
    pub allow_commands: bool,
    /// Commands workers may run without asking (`"cargo test"`, `"ls *"`).
    pub allow: Vec<String>,
    pub retry: RetrySettings,
    pub demo: DemoSettings,
    pub ui: UiSettings,
    /// `[pricing."model"]` overrides of the built-in price table.
    pub pricing: BTreeMap<String, ModelPrice>,
    /// `[[roles]]`: added roles, or overrides of a default role with the same name.
    pub roles: Vec<RoleSpec>,
    /// `[roles_models]`: role name → model.
    pub roles_models: BTreeMap<String, String>,
    /// The tracing filter for the log file.
    pub log_filter: String,
    pub paths: Paths,
    /// Set when the provider was chosen automatically; says why (shown by the front ends).
    pub provider_note: Option<String>,
    sources: BTreeMap<&'static str, Source>,
    /// Keys found in the environment, by variable, and the file's key: a resumed run on
    /// another provider than today's default picks its key from these.
    env_keys: BTreeMap<&'static str, Secret>,
    file_api_key: Option<Secret>,
}

/// One value being resolved.
#[derive(Debug, Clone)]
struct Val<T> {
    value: T,
    source: Source,
}

/// Collects values from each source in rising precedence (later calls win).
#[derive(Default)]
struct Builder {
    provider: Option<Val<ProviderKind>>,
    base_url: Option<Val<String>>,
    api_key: Option<Val<Secret>>,
    model: Option<Val<String>>,
    worker_model: Option<Val<String>>,
    tool_mode: Option<Val<ToolMode>>,
    max_workers: Option<Val<u32>>,
    approve: Option<Val<ApprovalPolicy>>,
    budget_usd: Option<Val<f64>>,
    max_subtasks: Option<Val<u32>>,
    max_cycles: Option<Val<u32>>,
    max_tokens: Option<Val<u64>>,
    max_wall_secs: Option<Val<u64>>,
    complexity_threshold: Option<Val<f64>>,
    evaluate: Option<Val<bool>>,
    worker_timeout_secs: Option<Val<u64>>,
    workspace: Option<Val<PathBuf>>,
    read_only: Option<Val<bool>>,
    allow_commands: Option<Val<bool>>,
    allow: Option<Val<Vec<String>>>,
    log_filter: Option<Val<String>>,
    retry: BTreeMap<&'static str, Val<u64>>,
    demo_pace_ms: Option<Val<u64>>,
    demo_seed: Option<Val<u64>>,
    ui_bell: Option<Val<bool>>,
    ui_ascii: Option<Val<bool>>,
    ui_mouse: Option<Val<bool>>,
    pricing: BTreeMap<String, ModelPrice>,
    roles: Vec<RoleSpec>,
    roles_models: BTreeMap<String, String>,
    file_api_key: Option<Secret>,
}

fn set<T>(slot: &mut Option<Val<T>>, value: T, source: Source) {
    *slot = Some(Val { value, source });
}

fn is_http_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// A bare level (`debug`) becomes `warn,baton=debug`; directives pass through.
fn log_filter_from(level: &str) -> String {
    let l = level.trim();
    match l.to_ascii_lowercase().as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => format!("warn,baton={l}"),
        "off" => "off".into(),
        _ => l.to_string(),
    }
}

fn check_log_filter(filter: &str) -> Result<(), String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "`{filter}` is not a log filter ({e}); use a level such as debug, or \
                 directives such as baton=debug,reqwest=info"
            )
        })
}

impl Builder {
    fn apply_file(&mut self, f: &FileText<'_>, file: FileConfig) -> Result<(), ConfigError> {
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
            let key = Secret::new(s.into_inner());
            self.file_api_key = Some(key.clone());
            set(&mut self.api_key, key, source);
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
        take!(self.max_wall_secs, file.max_wall_secs);
        if let Some(s) = &file.complexity_threshold
            && !(0.0..=1.0).contains(s.get_ref())
        {
            return Err(f.error(s.span(), "complexity_threshold must be between 0 and 1"));
        }
        take!(self.complexity_threshold, file.complexity_threshold);
        take!(self.evaluate, file.evaluate);
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
        if let Some(s) = file.log_level {
            let filter = log_filter_from(s.get_ref());
            check_log_filter(&filter).map_err(|m| f.error(s.span(), m))?;
            set(&mut self.log_filter, filter, f.source(s.span()));
        }
        let retry = file.retry;
        for (name, value) in [
            ("max_retries", retry.max_retries.map(|s| s.map_u64())),
            ("initial_backoff_ms", retry.initial_backoff_ms),
            ("max_backoff_ms", retry.max_backoff_ms),
            ("connect_timeout_ms", retry.connect_timeout_ms),
            ("first_byte_timeout_ms", retry.first_byte_timeout_ms),
            ("idle_timeout_ms", retry.idle_timeout_ms),
        ] {
            if let Some(s) = value {
                if name.ends_with("timeout_ms") && *s.get_ref() == 0 {
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
            self.roles.push(r);
        }
        for (role, model) in file.roles_models {
            if model.get_ref().trim().is_empty() {
                return Err(f.error(
                    model.span(),
                    format!("the model for role `{role}` is empty"),
                ));
            }
            self.roles_models.insert(role, model.into_inner());
        }
        Ok(())
    }

    fn apply_env(&mut self, env: &Env) -> Result<(), ConfigError> {
        if let Some(v) = env.get("BATON_PROVIDER") {
            let kind = <ProviderKind as clap::ValueEnum>::from_str(v, true).map_err(|_| {
                ConfigError::Env {
                    var: "BATON_PROVIDER",
                    message: format!("`{v}` is not a provider; use anthropic, openai or demo"),
                }
            })?;
            set(&mut self.provider, kind, Source::Env("BATON_PROVIDER"));
        }
        if let Some(v) = env.get("BATON_MODEL") {
            set(&mut self.model, v.to_string(), Source::Env("BATON_MODEL"));
        }
        if let Some(v) = env.get("BATON_LOG") {
            let filter = log_filter_from(v);
            check_log_filter(&filter).map_err(|message| ConfigError::Env {
                var: "BATON_LOG",
                message,
            })?;
            set(&mut self.log_filter, filter, Source::Env("BATON_LOG"));
        }
        // Keys and base URLs depend on the provider; see `provider_env`.
        Ok(())
    }

    fn apply_flags(&mut self, a: &CommonArgs) -> Result<(), ConfigError> {
        let flag = |name: &'static str| Source::Flag(name);
        if let Some(v) = a.provider {
            set(&mut self.provider, v, flag("--provider"));
        }
        if let Some(v) = &a.model {
            set(&mut self.model, v.clone(), flag("--model"));
        }
        if let Some(v) = &a.worker_model {
            set(&mut self.worker_model, v.clone(), flag("--worker-model"));
        }
        if let Some(v) = &a.base_url {
            set(
                &mut self.base_url,
                v.trim_end_matches('/').to_string(),
                flag("--base-url"),
            );
        }
        if let Some(v) = a.max_workers {
            set(&mut self.max_workers, v, flag("--max-workers"));
        }
        if let Some(v) = a.approve {
            set(&mut self.approve, v, flag("--approve"));
        }
        if let Some(v) = a.budget_usd {
            set(&mut self.budget_usd, v, flag("--budget-usd"));
        }
        if let Some(v) = a.max_subtasks {
            set(&mut self.max_subtasks, v, flag("--max-subtasks"));
        }
        if let Some(v) = a.max_cycles {
            set(&mut self.max_cycles, v, flag("--max-cycles"));
        }
        if a.evaluate {
            set(&mut self.evaluate, true, flag("--evaluate"));
        }
        if let Some(v) = &a.workspace {
            set(&mut self.workspace, v.clone(), flag("--workspace"));
        }
        if a.read_only {
            set(&mut self.read_only, true, flag("--read-only"));
        }
        if a.allow_commands {
            set(&mut self.allow_commands, true, flag("--allow-commands"));
        }
        if let Some(v) = &a.log_level {
            let filter = log_filter_from(v);
            check_log_filter(&filter).map_err(|message| ConfigError::Flag {
                flag: "--log-level",
                message,
            })?;
            set(&mut self.log_filter, filter, flag("--log-level"));
        }
        Ok(())
    }
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

fn or_default<T>(slot: Option<Val<T>>, default: T) -> Val<T> {
    slot.unwrap_or(Val {
        value: default,
        source: Source::Default,
    })
}

/// `0` in a limit means unlimited.
fn limit<T: PartialEq + Default>(v: Val<T>) -> Val<Option<T>> {
    Val {
        value: if v.value == T::default() {
            None
        } else {
            Some(v.value)
        },
        source: v.source,
    }
}

impl Config {
    /// Loads the configuration for this command line from the process environment and the
    /// config file.
    pub fn load(args: &CommonArgs) -> Result<Config, ConfigError> {
        Self::load_with(args, &Env::from_process())
    }

    /// Loads with an explicit environment (tests).
    pub fn load_with(args: &CommonArgs, env: &Env) -> Result<Config, ConfigError> {
        let paths = Paths::resolve(env, args.config.as_deref())?;
        let mut b = Builder::default();
        if paths.config_found {
            let text =
                std::fs::read_to_string(&paths.config_file).map_err(|e| ConfigError::Read {
                    path: paths.config_file.clone(),
                    message: e.to_string(),
                })?;
            let parsed = parse_file(&paths.config_file, &text)?;
            b.apply_file(
                &FileText {
                    path: &paths.config_file,
                    text: &text,
                },
                parsed,
            )?;
        }
        b.apply_env(env)?;
        b.apply_flags(args)?;
        Ok(Self::finish(b, env, paths))
    }

    fn finish(mut b: Builder, env: &Env, paths: Paths) -> Config {
        let mut sources = BTreeMap::new();
        let mut provider_note = None;

        // Provider: configured, else detected from the environment, else demo.
        let provider = match b.provider.take() {
            Some(v) => v,
            None => {
                let (value, why) = if env.get("ANTHROPIC_API_KEY").is_some() {
                    (ProviderKind::Anthropic, "ANTHROPIC_API_KEY is set")
                } else if env.get("OPENAI_API_KEY").is_some() {
                    (ProviderKind::Openai, "OPENAI_API_KEY is set")
                } else if env.get("OPENAI_BASE_URL").is_some() {
                    (ProviderKind::Openai, "OPENAI_BASE_URL is set")
                } else if b.base_url.is_some() {
                    (ProviderKind::Openai, "a base URL is set without a provider")
                } else {
                    provider_note = Some(
                        "no provider configured and no API key in the environment: running on \
                         the built-in demo provider (set ANTHROPIC_API_KEY or OPENAI_API_KEY, \
                         or --provider)"
                            .to_string(),
                    );
                    (ProviderKind::Demo, "no API key in the environment")
                };
                if value != ProviderKind::Demo {
                    provider_note = Some(format!("provider {value} chosen because {why}"));
                }
                Val {
                    value,
                    source: Source::Derived(format!("auto: {why}")),
                }
            }
        };
        let kind = provider.value;
        sources.insert("provider", provider.source);

        // Base URL and key: flag/file values, with the provider's env vars above the file.
        if let Some(var) = base_url_env_var(kind)
            && let Some(v) = env.get(var)
            && !matches!(
                b.base_url,
                Some(Val {
                    source: Source::Flag(_),
                    ..
                })
            )
        {
            set(
                &mut b.base_url,
                v.trim_end_matches('/').to_string(),
                Source::Env(var),
            );
        }
        if let Some(var) = key_env_var(kind)
            && let Some(v) = env.get(var)
        {
            set(&mut b.api_key, Secret::new(v), Source::Env(var));
        }
        let base_url = match b.base_url.take() {
            Some(v) if kind != ProviderKind::Demo => v,
            _ => Val {
                value: default_base_url(kind).to_string(),
                source: Source::Derived(format!("default for {kind}")),
            },
        };
        sources.insert("base_url", base_url.source);
        let api_key = match b.api_key.take() {
            Some(v) if kind != ProviderKind::Demo => v,
            _ => Val {
                value: Secret::default(),
                source: Source::Default,
            },
        };
        sources.insert("api_key", api_key.source);

        let (default_orch, default_worker) = default_models(kind);
        let model_configured = b.model.is_some();
        let model = b.model.take().unwrap_or(Val {
            value: default_orch.to_string(),
            source: Source::Derived(format!("default for {kind}")),
        });
        let worker_model = match b.worker_model.take() {
            Some(v) => v,
            None if model_configured => Val {
                value: model.value.clone(),
                source: Source::Derived("same as model".into()),
            },
            None => Val {
                value: default_worker.to_string(),
                source: Source::Derived(format!("default for {kind}")),
            },
        };
        sources.insert("model", model.source);
        sources.insert("worker_model", worker_model.source);

        macro_rules! take {
            ($key:literal, $val:expr) => {{
                let v = $val;
                sources.insert($key, v.source);
                v.value
            }};
        }
        let tool_mode = take!("tool_mode", or_default(b.tool_mode, ToolMode::Native));
        let max_workers = take!(
            "max_workers",
            or_default(b.max_workers, DEFAULT_MAX_WORKERS)
        );
        let approve = take!("approve", or_default(b.approve, ApprovalPolicy::Scope));
        let budget_usd = match b.budget_usd {
            Some(v) => take!(
                "budget_usd",
                Val {
                    value: Some(v.value),
                    source: v.source
                }
            ),
            None => take!(
                "budget_usd",
                Val {
                    value: None,
                    source: Source::Default
                }
            ),
        };
        let max_subtasks = take!(
            "max_subtasks",
            limit(or_default(b.max_subtasks, DEFAULT_MAX_SUBTASKS))
        );
        let max_cycles = take!(
            "max_cycles",
            limit(or_default(b.max_cycles, DEFAULT_MAX_CYCLES))
        );
        let max_tokens = take!("max_tokens", limit(or_default(b.max_tokens, 0)));
        let max_wall_secs = take!("max_wall_secs", limit(or_default(b.max_wall_secs, 0)));
        let complexity_threshold = take!(
            "complexity_threshold",
            or_default(b.complexity_threshold, DEFAULT_COMPLEXITY_THRESHOLD)
        );
        let evaluate = take!("evaluate", or_default(b.evaluate, false));
        let worker_timeout_secs = take!(
            "worker_timeout_secs",
            or_default(b.worker_timeout_secs, DEFAULT_WORKER_TIMEOUT_SECS)
        );
        let workspace = match b.workspace {
            Some(v) => take!(
                "workspace",
                Val {
                    value: Some(v.value),
                    source: v.source
                }
            ),
            None => take!(
                "workspace",
                Val {
                    value: None,
                    source: Source::Default
                }
            ),
        };
        let read_only = take!("read_only", or_default(b.read_only, false));
        let allow_commands = take!("allow_commands", or_default(b.allow_commands, false));
        let allow = take!("allow", or_default(b.allow, Vec::new()));
        let log_filter = take!(
            "log_level",
            or_default(b.log_filter, DEFAULT_LOG_FILTER.to_string())
        );

        let defaults = RetrySettings::default();
        let mut retry_val = |name: &'static str, key: &'static str, default: u64| {
            let v = b.retry.remove(name).unwrap_or(Val {
                value: default,
                source: Source::Default,
            });
            sources.insert(key, v.source);
            v.value
        };
        let retry = RetrySettings {
            max_retries: u32::try_from(retry_val(
                "max_retries",
                "retry.max_retries",
                u64::from(defaults.max_retries),
            ))
            .unwrap_or(u32::MAX),
            initial_backoff_ms: retry_val(
                "initial_backoff_ms",
                "retry.initial_backoff_ms",
                defaults.initial_backoff_ms,
            ),
            max_backoff_ms: retry_val(
                "max_backoff_ms",
                "retry.max_backoff_ms",
                defaults.max_backoff_ms,
            ),
            connect_timeout_ms: retry_val(
                "connect_timeout_ms",
                "retry.connect_timeout_ms",
                defaults.connect_timeout_ms,
            ),
            first_byte_timeout_ms: retry_val(
                "first_byte_timeout_ms",
                "retry.first_byte_timeout_ms",
                defaults.first_byte_timeout_ms,
            ),
            idle_timeout_ms: retry_val(
                "idle_timeout_ms",
                "retry.idle_timeout_ms",
                defaults.idle_timeout_ms,
            ),
        };
        let provider_defaults = ProviderSettings::default();
        let demo = DemoSettings {
            pace_ms: take!(
                "demo.pace_ms",
                or_default(b.demo_pace_ms, provider_defaults.demo_pace_ms)
            ),
            seed: take!(
                "demo.seed",
                or_default(b.demo_seed, provider_defaults.demo_seed)
            ),
        };
        let ui = UiSettings {
            bell: take!("ui.bell", or_default(b.ui_bell, true)),
            ascii: take!("ui.ascii", or_default(b.ui_ascii, false)),
            mouse: take!("ui.mouse", or_default(b.ui_mouse, true)),
        };

        Config {
            provider: kind,
            base_url: base_url.value,
            api_key: api_key.value,
            model: model.value,
            worker_model: worker_model.value,
            tool_mode,
            max_workers,
            approve,
            budget_usd,
            max_subtasks,
            max_cycles,
            max_tokens,
            max_wall_secs,
            complexity_threshold,
            evaluate,
            worker_timeout_secs,
            workspace,
            read_only,
            allow_commands,
            allow,
            retry,
            demo,
            ui,
            pricing: b.pricing,
            roles: b.roles,
            roles_models: b.roles_models,
            log_filter,
            paths,
            provider_note,
            sources,
            env_keys: ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
                .into_iter()
                .filter_map(|var| env.get(var).map(|v| (var, Secret::new(v))))
                .collect(),
            file_api_key: b.file_api_key,
        }
    }

    /// The configuration for continuing a run that started with `original`: the run keeps
    /// its own settings (provider, models, limits, policy, workspace) except those given as
    /// flags now. Returns the config and the names of the settings that differ from today's
    /// configuration because the run's own were kept.
    pub fn for_resume(&self, original: &RunSettings) -> (Config, Vec<&'static str>) {
        let mut c = self.clone();
        let mut kept = Vec::new();
        let journal = || Source::Derived("the run's journal".into());
        let flagged = |key: &str| matches!(self.sources.get(key), Some(Source::Flag(_)));
        macro_rules! keep {
            ($key:literal, $field:expr, $value:expr) => {
                if !flagged($key) {
                    let v = $value;
                    if $field != v {
                        $field = v;
                        kept.push($key);
                    }
                    c.sources.insert($key, journal());
                }
            };
        }
        if !flagged("provider")
            && let Ok(kind) = <ProviderKind as clap::ValueEnum>::from_str(&original.provider, true)
        {
            if kind != c.provider {
                c.provider = kind;
                kept.push("provider");
                c.provider_note = None;
                let (key, source) = match key_env_var(kind).and_then(|var| {
                    self.env_keys
                        .get(var)
                        .map(|k| (k.clone(), Source::Env(var)))
                }) {
                    Some(found) => found,
                    None => match (&self.file_api_key, kind) {
                        (Some(k), ProviderKind::Anthropic | ProviderKind::Openai) => (
                            k.clone(),
                            Source::Derived("the config file's api_key".into()),
                        ),
                        _ => (Secret::default(), Source::Default),
                    },
                };
                c.api_key = key;
                c.sources.insert("api_key", source);
            }
            c.sources.insert("provider", journal());
        }
        // The run's endpoint and models only make sense on the run's own provider.
        if c.provider.to_string() == original.provider {
            keep!("base_url", c.base_url, original.base_url.clone());
            keep!("model", c.model, original.orchestrator_model.clone());
            keep!(
                "worker_model",
                c.worker_model,
                original.worker_model.clone()
            );
        }
        keep!("max_workers", c.max_workers, original.max_workers);
        keep!("approve", c.approve, original.approve);
        keep!("budget_usd", c.budget_usd, original.limits.budget_usd);
        keep!("max_subtasks", c.max_subtasks, original.limits.max_subtasks);
        keep!("max_cycles", c.max_cycles, original.limits.max_cycles);
        keep!("max_tokens", c.max_tokens, original.limits.max_tokens);
        keep!(
            "max_wall_secs",
            c.max_wall_secs,
            original.limits.max_wall_secs
        );
        keep!(
            "complexity_threshold",
            c.complexity_threshold,
            original.complexity_threshold
        );
        keep!("evaluate", c.evaluate, original.evaluate);
        keep!(
            "workspace",
            c.workspace,
            original.workspace.as_ref().map(PathBuf::from)
        );
        keep!("read_only", c.read_only, original.read_only);
        keep!("allow_commands", c.allow_commands, original.allow_commands);
        (c, kept)
    }

    /// The built-in price table with the `[pricing]` overrides applied.
    pub fn price_table(&self) -> PriceTable {
        let mut table = PriceTable::builtin();
        for (model, price) in &self.pricing {
            table.set(model, *price);
        }
        table
    }

    /// Where the effective value of `key` came from (`"max_workers"`, `"retry.max_retries"`).
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.sources.get(key)
    }

    /// Runs and logs live under this directory.
    pub fn data_dir(&self) -> &Path {
        &self.paths.data_dir
    }

    /// `<data>/logs`.
    pub fn log_dir(&self) -> PathBuf {
        self.paths.data_dir.join("logs")
    }

    /// `<data>/logs/baton.log`.
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join(crate::logging::LOG_FILE_NAME)
    }

    /// The limits of a run (`None` = unlimited).
    pub fn limits(&self) -> Limits {
        Limits {
            max_subtasks: self.max_subtasks,
            max_cycles: self.max_cycles,
            max_tokens: self.max_tokens,
            budget_usd: self.budget_usd,
            max_wall_secs: self.max_wall_secs,
        }
    }

    /// The settings a new run starts with (journaled; no secrets).
    pub fn run_settings(&self) -> RunSettings {
        RunSettings {
            provider: self.provider.to_string(),
            base_url: self.base_url.clone(),
            orchestrator_model: self.model.clone(),
            worker_model: self.worker_model.clone(),
            max_workers: self.max_workers,
            approve: self.approve,
            limits: self.limits(),
            complexity_threshold: self.complexity_threshold,
            evaluate: self.evaluate,
            workspace: self.workspace.as_ref().map(|p| p.display().to_string()),
            read_only: self.read_only,
            allow_commands: self.allow_commands,
        }
    }

    /// What the provider layer needs.
    pub fn provider_settings(&self) -> ProviderSettings {
        ProviderSettings {
            kind: self.provider,
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            tool_mode: self.tool_mode,
            retry: self.retry.clone(),
            demo_pace_ms: self.demo.pace_ms,
            demo_seed: self.demo.seed,
            ..ProviderSettings::default()
        }
    }

    /// The model a role's workers use: `[roles_models]`, else the role's own `model`, else
    /// the worker model.
    pub fn model_for_role(&self, role: &str) -> String {
        self.roles_models
            .get(role)
            .cloned()
            .or_else(|| {
                self.roles
                    .iter()
                    .find(|r| r.name == role)
                    .and_then(|r| r.model.clone())
            })
            .unwrap_or_else(|| self.worker_model.clone())
    }

    /// `baton config`: every effective value and where it came from. Keys appear only as
    /// fingerprints.
    pub fn report(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
        let unlimited = |v: Option<String>| v.unwrap_or_else(|| "unlimited".into());
        let key_text = if self.api_key.is_empty() {
            match key_env_var(self.provider) {
                Some(var) => format!("(none: set {var})"),
                None => "(not needed)".to_string(),
            }
        } else {
            self.api_key.fingerprint()
        };
        let rows: Vec<(&str, String)> = vec![
            ("provider", self.provider.to_string()),
            (
                "base_url",
                if self.base_url.is_empty() {
                    "(none)".into()
                } else {
                    self.base_url.clone()
                },
            ),
            ("api_key", key_text),
            ("model", self.model.clone()),
            ("worker_model", self.worker_model.clone()),
            (
                "tool_mode",
                match self.tool_mode {
                    ToolMode::Native => "native".into(),
                    ToolMode::JsonText => "json_text".into(),
                },
            ),
            ("max_workers", self.max_workers.to_string()),
            ("approve", format!("{:?}", self.approve).to_lowercase()),
            (
                "budget_usd",
                opt(self.budget_usd.map(|v| format!("{v:.2}"))),
            ),
            (
                "max_subtasks",
                unlimited(self.max_subtasks.map(|v| v.to_string())),
            ),
            (
                "max_cycles",
                unlimited(self.max_cycles.map(|v| v.to_string())),
            ),
            (
                "max_tokens",
                unlimited(self.max_tokens.map(|v| v.to_string())),
            ),
            (
                "max_wall_secs",
                unlimited(self.max_wall_secs.map(|v| v.to_string())),
            ),
            (
                "complexity_threshold",
                self.complexity_threshold.to_string(),
            ),
            ("evaluate", self.evaluate.to_string()),
            ("worker_timeout_secs", self.worker_timeout_secs.to_string()),
            (
                "workspace",
                opt(self.workspace.as_ref().map(|p| p.display().to_string())),
            ),
            ("read_only", self.read_only.to_string()),
            ("allow_commands", self.allow_commands.to_string()),
            (
                "allow",
                if self.allow.is_empty() {
                    "(none)".into()
                } else {
                    self.allow.join(", ")
                },
            ),
            ("log_level", self.log_filter.clone()),
            ("retry.max_retries", self.retry.max_retries.to_string()),
            (
                "retry.initial_backoff_ms",
                self.retry.initial_backoff_ms.to_string(),
            ),
            (
                "retry.max_backoff_ms",
                self.retry.max_backoff_ms.to_string(),
            ),
            (
                "retry.connect_timeout_ms",
                self.retry.connect_timeout_ms.to_string(),
            ),
            (
                "retry.first_byte_timeout_ms",
                self.retry.first_byte_timeout_ms.to_string(),
            ),
            (
                "retry.idle_timeout_ms",
                self.retry.idle_timeout_ms.to_string(),
            ),
            ("demo.pace_ms", self.demo.pace_ms.to_string()),
            ("demo.seed", self.demo.seed.to_string()),
            ("ui.bell", self.ui.bell.to_string()),
            ("ui.ascii", self.ui.ascii.to_string()),
            ("ui.mouse", self.ui.mouse.to_string()),
        ];
        let key_w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let val_w = rows
            .iter()
            .map(|(_, v)| v.chars().count())
            .max()
            .unwrap_or(0)
            .min(48);
        let mut out = String::new();
        out.push_str("Files\n");
        out.push_str(&format!(
            "  config file  {} ({})\n",
            self.paths.config_file.display(),
            if self.paths.config_found {
                "read"
            } else {
                "not found; defaults used"
            }
        ));
        out.push_str(&format!(
            "  data dir     {}\n",
            self.paths.data_dir.display()
        ));
        out.push_str(&format!(
            "  runs         {}\n",
            self.data_dir().join("runs").display()
        ));
        out.push_str(&format!("  log file     {}\n", self.log_file().display()));
        if let Some(note) = &self.provider_note {
            out.push_str(&format!("\nNote: {note}\n"));
        }
        out.push_str("\nSettings (highest precedence first: flag, env, file, default)\n");
        out.push_str(&format!("  {:key_w$}  {:val_w$}  source\n", "key", "value"));
        for (key, value) in rows {
            let mut source = self
                .sources
                .get(key)
                .map_or_else(|| "default".to_string(), ToString::to_string);
            if key == "approve" && self.sources.get(key) == Some(&Source::Default) {
                source.push_str(" (--headless runs use auto unless it is set)");
            }
            out.push_str(&format!("  {key:key_w$}  {value:val_w$}  {source}\n"));
        }
        out.push_str(
            "\nRoles (defaults plus the config's [[roles]]; models from [roles_models])\n",
        );
        if self.roles.is_empty() && self.roles_models.is_empty() {
            out.push_str("  (no role overrides; the six default roles use the worker model)\n");
        }
        for r in &self.roles {
            out.push_str(&format!(
                "  {:24} model {:24} tools {}   {}\n",
                r.name,
                self.model_for_role(&r.name),
                if r.tools.is_empty() {
                    "(none)".into()
                } else {
                    r.tools.join(",")
                },
                r.purpose
            ));
        }
        for (role, model) in &self.roles_models {
            if !self.roles.iter().any(|r| &r.name == role) {
                out.push_str(&format!("  {role:24} model {model}\n"));
            }
        }
        out.push_str("\nPrice overrides (USD per million tokens)\n");
        if self.pricing.is_empty() {
            out.push_str("  (none; the built-in price table applies)\n");
        }
        for (model, p) in &self.pricing {
            out.push_str(&format!(
                "  {model:24} input {:.2}  output {:.2}  cached input {}\n",
                p.input,
                p.output,
                p.cached_input
                    .map_or("(as input)".to_string(), |c| format!("{c:.2}"))
            ));
        }
        out
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

    #[test]
    fn bare_levels_become_crate_scoped_filters() {
        assert_eq!(log_filter_from("debug"), "warn,baton=debug");
        assert_eq!(log_filter_from("baton=trace"), "baton=trace");
        assert!(check_log_filter("baton=notalevel").is_err());
    }

    #[test]
    fn zero_limits_mean_unlimited() {
        let v = limit(Val {
            value: 0u32,
            source: Source::Default,
        });
        assert_eq!(v.value, None);
    }
}
