//! Configuration: defaults, the TOML file, environment variables and flags, merged with the
//! precedence flags > env > file > defaults (keys: flag > env > keychain > file), each
//! effective value remembering its source.
//!
//! Owns: the config file format (every key, `deny_unknown_fields`, errors naming file, line
//! and key), the paths (`BATON_HOME`, or the platform's config and data directories),
//! provider auto-detection and default models, and `baton config`'s report. Produces the
//! engine's [`RunSettings`] and the provider layer's [`ProviderSettings`].
//! Must not start anything, print anything, or expose a key other than as a fingerprint
//! (keys are held in [`Secret`]).
//!
//! Layout: this file holds the types and the public API; `paths` the environment and the
//! paths; `file` the TOML format and
//! its error positions; `resolve` precedence, defaults and provider auto-detection; `keys`
//! the key file, the keychain and where each key comes from;
//! `report` the text of `baton config`.

mod file;
mod keys;
mod mcp;
mod paths;
mod pools;
mod report;
mod resolve;
mod security;
mod sources;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::cli::CommonArgs;
use crate::engine::roles::RoleSpec;
use crate::keychain::{KeyStore, NoKeychain};
use crate::llm::pool::EndpointSettings;
use crate::llm::pricing::{ModelEntry, PriceTable};
use crate::llm::{ProviderKind, ProviderSettings, RetrySettings, Secret, ToolMode};
use crate::notify::NotifyMode;
use crate::protocol::{ApprovalPolicy, BudgetStages, Limits, RoleDispatch, RunSettings};
use crate::tools::sandbox::{SandboxMode, SandboxOptions};

pub use file::validate_file_text;
use file::{FileText, parse_file};
pub use keys::KeyOrigin;
pub use paths::{Env, Paths};
use resolve::Builder;

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
/// The largest task text accepted (`limits.max_task_bytes`): 256 KiB.
pub const DEFAULT_MAX_TASK_BYTES: u64 = 256 * 1024;
/// The largest `limits.max_task_bytes` allowed (16 MiB); `--task-file` reads no more than
/// this.
pub use crate::protocol::MAX_TASK_BYTES_CEILING;
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
    kind.key_env_var()
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
    /// The OS keychain (`baton login`).
    Keychain,
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
            Source::Keychain => f.write_str("keychain"),
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
    /// Colours for a dark or a light terminal background (`NO_COLOR` still turns them off).
    pub theme: UiTheme,
    /// `[keys]`: action name → the keys that replace its default ones. Checked by the TUI
    /// when it starts (the action names belong to its keymap).
    pub keys: BTreeMap<String, Vec<String>>,
    /// How the person is told that the run needs them or finished (`bell`, `osc`, `off`).
    pub notify: NotifyMode,
    /// `--notify-command` / `notify_command`: program and arguments; the message is added
    /// as the last argument.
    pub notify_command: Option<Vec<String>>,
}

/// `[ui] theme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UiTheme {
    #[default]
    Dark,
    Light,
}

impl std::fmt::Display for UiTheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UiTheme::Dark => "dark",
            UiTheme::Light => "light",
        })
    }
}

/// The command sandbox (`[sandbox]`, `--allow-network`).
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSettings {
    /// `on`: commands run confined (Linux, Landlock); `off`: unconfined.
    pub mode: SandboxMode,
    /// Commands may use the network.
    pub network: bool,
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
    pub budget_stages: BudgetStages,
    pub complexity_threshold: f64,
    pub evaluate: bool,
    pub evaluate_rounds: u32,
    pub worker_timeout_secs: u64,
    pub workspace: Option<PathBuf>,
    pub read_only: bool,
    pub allow_commands: bool,
    /// Commands workers may run without asking (`"cargo test"`, `"ls *"`).
    pub allow: Vec<String>,
    /// Variables passed to commands beyond the built-in allow list (`command_env`).
    pub command_env: Vec<String>,
    pub sandbox: SandboxSettings,
    /// `protected`: patterns (gitignore syntax) added to the built-in protected files.
    pub protected: Vec<String>,
    /// `[limits] max_task_bytes`: the largest task text accepted.
    pub max_task_bytes: u64,
    /// Problems worth saying that do not stop Baton (a key in a file others can read).
    pub warnings: Vec<String>,
    /// The person confirmed (TUI) continuing a resumed run with today's provider, base URL
    /// and workspace where its journal named others (see `crate::resume_trust`).
    pub resume_confirmed: bool,
    /// Give the workspace's AGENTS.md / CLAUDE.md files to the models.
    pub project_instructions: bool,
    /// `isolation` / `--isolation`: writing workers in git worktrees of their own.
    pub isolation: crate::isolation::Isolation,
    /// `merge_conflicts`: a worker's branch that does not merge goes to a recovery decision
    /// (`recover`) or to the person (`person`).
    pub merge_conflicts: crate::isolation::ConflictPolicy,
    /// What a replan that changes a running subtask does to its worker (issue 12).
    pub on_replan_conflict: crate::engine::policy::ReplanConflict,
    pub retry: RetrySettings,
    pub demo: DemoSettings,
    pub ui: UiSettings,
    /// `[pricing."model"]` overrides of the built-in model table (prices, and optionally
    /// `context` / `max_output`, the output cap of a call to that model).
    pub pricing: BTreeMap<String, ModelEntry>,
    /// `[[roles]]`: added roles, or overrides of a default role with the same name.
    pub roles: Vec<RoleSpec>,
    /// `[roles_models]`: role name → model.
    pub roles_models: BTreeMap<String, String>,
    /// `[[mcp_servers]]`: MCP servers whose tools workers may use (docs/mcp.md).
    pub mcp_servers: Vec<crate::tools::mcp::McpServerSpec>,
    /// `max_concurrent`: the most requests in flight at once on the one endpoint.
    pub max_concurrent: Option<u32>,
    /// `[pools.NAME]`: endpoints with their own keys (read from `api_key_env`).
    pub pools: BTreeMap<String, Vec<EndpointSettings>>,
    /// `pool`: the pool every call uses (else `base_url` and the key).
    pub pool: Option<String>,
    /// `[roles_pools]`: role name → pool its workers use.
    pub roles_pools: BTreeMap<String, String>,
    /// `[roles_dispatch]`: role name → dispatch policy and concurrency cap.
    pub roles_dispatch: BTreeMap<String, RoleDispatch>,
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
    /// Keys found in the OS keychain, by provider name.
    keychain_keys: BTreeMap<&'static str, Secret>,
    /// Why the keychain gave nothing, when it could not be read.
    pub keychain_note: Option<String>,
}

impl Config {
    /// Loads the configuration for this command line from the process environment, the OS
    /// keychain and the config file.
    pub fn load(args: &CommonArgs) -> Result<Config, ConfigError> {
        Self::load_with_keychain(args, &Env::from_process(), &crate::keychain::OsKeychain)
    }

    /// Loads with an explicit environment and no keychain (tests).
    pub fn load_with(args: &CommonArgs, env: &Env) -> Result<Config, ConfigError> {
        Self::load_with_keychain(args, env, &NoKeychain)
    }

    /// Loads with an explicit environment and key store. Precedence for the key:
    /// `--api-key-file` > the provider's environment variable > the keychain > the file.
    pub fn load_with_keychain(
        args: &CommonArgs,
        env: &Env,
        keychain: &dyn KeyStore,
    ) -> Result<Config, ConfigError> {
        let paths = Paths::resolve(env, args.config.as_deref())?;
        let mut b = Builder::default();
        let mut warnings = Vec::new();
        if paths.config_found {
            let text =
                std::fs::read_to_string(&paths.config_file).map_err(|e| ConfigError::Read {
                    path: paths.config_file.clone(),
                    message: e.to_string(),
                })?;
            let parsed = parse_file(&paths.config_file, &text)?;
            if parsed.has_api_key() {
                warnings.extend(security::key_file_warning(&paths.config_file));
            }
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
        b.read_keychain(env, keychain);
        let dispatch = std::mem::take(&mut b.pools);
        let mut config = Self::finish(b, env, paths);
        config.pools = pools::resolve(&dispatch.pools, env, &mut warnings);
        config.warnings = warnings;
        config.pool = dispatch.pool;
        config.roles_pools = dispatch.roles_pools;
        config.roles_dispatch = dispatch.roles_dispatch;
        config.max_concurrent = dispatch.max_concurrent;
        Ok(config)
    }

    /// The configuration for continuing a run that started with `original`: the run keeps
    /// its own models, limits and policy except those given as flags now. Returns the config
    /// and the names of the settings that differ from today's configuration because the
    /// run's own were kept.
    ///
    /// What a run may do and where it sends the key is never taken from its journal (a file
    /// a worker could have written): provider, base URL, key, workspace, `read_only` and
    /// `allow_commands` stay today's; `crate::resume_trust` compares them with the journal.
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
        // The run's models only make sense on the run's own provider and endpoint.
        if c.provider.to_string() == original.provider && c.base_url == original.base_url {
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
            "evaluate_rounds",
            c.evaluate_rounds,
            original.evaluate_rounds
        );
        (c, kept)
    }

    /// How this process runs workers' commands: the `[sandbox]` settings, `command_env`,
    /// this executable as the launcher and the kernel's support probed now.
    pub fn sandbox_options(&self) -> SandboxOptions {
        SandboxOptions::for_this_process(
            self.sandbox.mode,
            self.sandbox.network,
            self.command_env.clone(),
        )
    }

    /// Whether `key` was given as a flag on this command line.
    pub fn flagged(&self, key: &str) -> bool {
        matches!(self.sources.get(key), Some(Source::Flag(_)))
    }

    /// The built-in price table with the `[pricing]` overrides applied.
    pub fn price_table(&self) -> PriceTable {
        let mut table = PriceTable::builtin();
        for (model, entry) in &self.pricing {
            table.set_entry(model, entry);
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
            budget_stages: self.budget_stages.clone(),
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
            evaluate_rounds: self.evaluate_rounds,
            workspace: self.workspace.as_ref().map(|p| p.display().to_string()),
            read_only: self.read_only,
            allow_commands: self.allow_commands,
            role_dispatch: self.roles_dispatch.clone(),
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
}
