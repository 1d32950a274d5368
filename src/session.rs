//! Start-up shared by the TUI and the headless runner: from a [`Launch`] (a new task, or a
//! run to resume) to a running engine.
//!
//! The composition root. Owns: building the provider ([`build_provider`], the `demo` model
//! included), creating or resolving the run directory, opening the journal (replaying it on
//! resume and reporting torn or corrupt lines), building the provider and the
//! [`EngineConfig`] (roles merged with the config's, prices with its overrides, per-role
//! models, the workspace tools of `--workspace`, the workspace's project instructions, the `[[mcp_servers]]` started with the run,
//! the run's git worktree with `--isolation worktree`), and which settings a resumed run
//! keeps (a resumed run isolates exactly when its journal has the run's worktree).
//! Must not draw, print or decide anything about the run itself: the front ends show
//! [`Session::warnings`], the engine runs the loop.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, Source};
use crate::engine::merge::Worktrees;
use crate::engine::roles::{self, RoleSpec};
use crate::engine::{self, EngineConfig, EngineHandle, Start};
use crate::instructions::{InstructionSummary, ProjectInstructions};
use crate::isolation::{Isolation, RunWorktrees};
use crate::journal::{self, Journal, JournalError, LockError, Replay, RunLock};
use crate::llm::{LlmError, Provider, ProviderKind, ProviderSettings, anthropic, openai};
use crate::protocol::{ApprovalPolicy, Event, RunSettings};
use crate::tools::mcp::{McpServerSpec, McpTools, ToolSet};
use crate::tools::{WorkerTools, Workspace, WorkspaceOptions};

/// What the person asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// A new run. An empty task means "ask for it" (the TUI does; headless refuses).
    New { task: String },
    /// Continue a run: an id, a unique prefix of one, or `latest`.
    Resume { run: String },
}

/// Which front end drives the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEnd {
    Tui,
    /// Never waits for a person: the engine stops the run when one is needed.
    Headless,
}

/// A running engine and what the front end needs to know about it.
pub struct Session {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub handle: EngineHandle,
    /// The run is on the simulated `demo` provider (the front end says so).
    pub demo: bool,
    /// Events up to this sequence number are the journal's replay (resume); 0 for a new run.
    pub replayed_up_to: u64,
    /// Things the person should know before the run continues (torn or corrupt journal
    /// lines, settings kept from the original run, the provider chosen automatically).
    pub warnings: Vec<String>,
    /// The effective configuration of this run (a resumed run keeps its own settings).
    pub config: Config,
    /// The project instruction files the models get (names and sizes; empty with
    /// `--no-project-instructions` or without a workspace).
    pub instructions: Vec<InstructionSummary>,
}

/// Why a run could not start. [`SessionError::exit_code`] gives the process exit code.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the task is empty; give a task to run")]
    EmptyTask,
    #[error("{0}")]
    Run(#[from] JournalError),
    #[error("cannot {action} {path}: {source}", path = path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the journal {path} holds no events; the run cannot be resumed", path = path.display())]
    EmptyJournal { path: PathBuf },
    #[error("{0}")]
    Locked(#[from] LockError),
    #[error(
        "the journal {path} is damaged, so the run cannot be continued (its history has \
         holes: {}); `baton export` still writes what is readable",
        damage.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        path = path.display()
    )]
    Damaged {
        path: PathBuf,
        damage: Vec<journal::Damage>,
    },
    #[error("cannot start the {provider} provider: {source}")]
    Provider {
        provider: ProviderKind,
        source: LlmError,
    },
    #[error("{0}")]
    Config(String),
    /// The run's journal names another provider, base URL or workspace than today's
    /// configuration ([`crate::resume_trust`]); the text says which flags decide.
    #[error("{0}")]
    ResumeTrust(crate::resume_trust::TrustRefusal),
}

impl SessionError {
    /// 2 for what the person can fix in the command line or config, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            SessionError::EmptyTask
            | SessionError::Run(
                JournalError::NoRuns(_)
                | JournalError::NotFound { .. }
                | JournalError::Ambiguous { .. },
            )
            | SessionError::Provider { .. }
            | SessionError::Locked(LockError::Held { .. })
            | SessionError::Config(_)
            | SessionError::ResumeTrust(_) => 2,
            _ => 1,
        }
    }
}

/// The six default roles with the config's `[[roles]]` applied and the per-role models of
/// `[roles_models]` set. A `[roles_models]` entry for a role that does not exist is an error.
pub fn engine_roles(config: &Config) -> Result<Vec<RoleSpec>, SessionError> {
    let mut roles = roles::merge(roles::default_roles(), config.roles.clone());
    for (name, model) in &config.roles_models {
        match roles.iter_mut().find(|r| &r.name == name) {
            Some(role) => role.model = Some(model.clone()),
            None => {
                let known: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
                return Err(SessionError::Config(format!(
                    "[roles_models] names role `{name}`, which does not exist; roles are: {}",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(roles)
}

/// The settings a run starts with. Headless has nobody to ask, so unless `approve` was set
/// explicitly it runs with `auto` (only escalations then need a person).
pub fn run_settings(config: &Config, front_end: FrontEnd) -> RunSettings {
    let mut settings = config.run_settings();
    if front_end == FrontEnd::Headless && config.source("approve") == Some(&Source::Default) {
        settings.approve = ApprovalPolicy::Auto;
    }
    settings
}

/// Starts (or resumes) a run. Must be called inside a tokio runtime.
pub fn start(
    config: &Config,
    launch: Launch,
    front_end: FrontEnd,
) -> Result<Session, SessionError> {
    let data_dir = config.data_dir().to_path_buf();
    match launch {
        Launch::New { task } => {
            let task = task.trim().to_string();
            if task.is_empty() {
                return Err(SessionError::EmptyTask);
            }
            check_task_size(config, &task)?;
            // A bad --workspace, provider or role is reported before a run directory is
            // created for nothing.
            if let Some(dir) = &config.workspace {
                crate::tools::paths::Root::open(dir)
                    .map_err(|e| SessionError::Config(e.to_string()))?;
                config
                    .check_workspace_location(dir)
                    .map_err(SessionError::Config)?;
            }
            check_before_creating(config)?;
            if config.isolation == Isolation::Worktree {
                let dir = config.workspace.as_deref().ok_or_else(|| {
                    SessionError::Config(
                        "isolation = \"worktree\" needs a workspace (--workspace DIR in a git \
                         repository)"
                            .into(),
                    )
                })?;
                crate::isolation::check_repository(dir)
                    .map_err(|e| SessionError::Config(format!("isolation = \"worktree\": {e}")))?;
            }
            let (run_id, run_dir, mut journal) = create_run(&data_dir)?;
            journal.hold(lock_run(&run_dir)?);
            let mut warnings = config.warnings.clone();
            if let Some(note) = &config.provider_note {
                warnings.push(note.clone());
            }
            let settings = run_settings(config, front_end);
            let isolate = config.isolation == Isolation::Worktree;
            spawn(
                isolate,
                config.clone(),
                settings,
                front_end,
                run_id.clone(),
                run_dir,
                journal,
                Start::New { run_id, task },
                0,
                warnings,
            )
        }
        Launch::Resume { run } => {
            let run_dir = journal::resolve_run(&data_dir, &run)?;
            let run_id = run_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let lock = lock_run(&run_dir)?;
            let journal_path = run_dir.join(journal::JOURNAL_FILE);
            let replay = journal::replay(&journal_path).map_err(|source| SessionError::Io {
                action: "read the journal",
                path: journal_path.clone(),
                source,
            })?;
            refuse_damaged(&journal_path, &replay)?;
            let mut warnings = config.warnings.clone();
            if replay.torn_line_dropped {
                warnings.push(format!(
                    "the last line of {} was cut off (the process stopped while writing it); \
                     it was dropped and the run continues from the event before it",
                    journal_path.display()
                ));
            }
            if replay.unverified {
                warnings.push(format!(
                    "{} was written before journals carried checksums; its lines cannot be \
                     verified",
                    journal_path.display()
                ));
            }
            // The settings the run last ran with: `run_started`'s, then every
            // `settings_changed` and change of workers or limits made during the run.
            let Some(original) = crate::state::State::fold(&replay.events).settings_in_force()
            else {
                return Err(SessionError::EmptyJournal { path: journal_path });
            };
            let (mut config, kept) = config.for_resume(&original);
            let notes = crate::resume_trust::apply(&mut config, &original, &run_id)
                .map_err(SessionError::ResumeTrust)?;
            warnings.extend(notes);
            if !kept.is_empty() {
                warnings.push(format!(
                    "continuing with the run's own settings for {} (give a flag to change one)",
                    kept.join(", ")
                ));
            }
            let replayed_up_to = replay.events.last().map_or(0, |e| e.seq);
            let mut journal =
                Journal::open_append(&run_dir).map_err(|source| SessionError::Io {
                    action: "open the journal",
                    path: journal_path,
                    source,
                })?;
            journal.hold(lock);
            let settings = config.run_settings();
            // Isolation is decided when a run starts: a resumed run keeps its worktrees.
            let isolate = replay
                .events
                .iter()
                .any(|e| matches!(e.event, Event::WorktreeCreated { id: None, .. }));
            if !isolate && config.isolation == Isolation::Worktree {
                warnings.push(
                    "this run started without worktree isolation and continues without it \
                     (isolation is chosen when a run starts)"
                        .into(),
                );
            }
            spawn(
                isolate,
                config,
                settings,
                front_end,
                run_id,
                run_dir,
                journal,
                Start::Resume {
                    events: replay.events,
                    torn_line_dropped: replay.torn_line_dropped,
                },
                replayed_up_to,
                warnings,
            )
        }
    }
}

/// One writer per run: the run's lock, taken before its journal is read (resume) or first
/// written (new run) and handed to the journal that appends, so it is held as long as the
/// engine may write. A second process gets [`LockError::Held`] naming the holder (exit 2).
fn lock_run(run_dir: &Path) -> Result<RunLock, SessionError> {
    Ok(RunLock::acquire(run_dir)?)
}

/// A journal with holes is never continued: the state it folds to is not the run's.
fn refuse_damaged(path: &Path, replay: &Replay) -> Result<(), SessionError> {
    if replay.is_damaged() {
        return Err(SessionError::Damaged {
            path: path.to_path_buf(),
            damage: replay.corrupt_lines.clone(),
        });
    }
    Ok(())
}

/// Refuses a task longer than `limits.max_task_bytes`, saying how to fix it.
fn check_task_size(config: &Config, task: &str) -> Result<(), SessionError> {
    let size = u64::try_from(task.len()).unwrap_or(u64::MAX);
    if size > config.max_task_bytes {
        return Err(SessionError::Config(format!(
            "the task is {size} bytes, more than the limit of {} bytes \
             (limits.max_task_bytes); shorten it, put the material in the workspace for \
             workers to read, or raise the limit in the config file",
            config.max_task_bytes
        )));
    }
    Ok(())
}

/// The provider can be built and the roles merge: checked before a new run directory is
/// created, so a configuration mistake leaves no empty run behind.
fn check_before_creating(config: &Config) -> Result<(), SessionError> {
    build_provider(&config.provider_settings()).map_err(|source| SessionError::Provider {
        provider: config.provider,
        source,
    })?;
    engine_roles(config)?;
    Ok(())
}

/// A fresh run id and its directory (a new id if one is taken).
fn create_run(data_dir: &std::path::Path) -> Result<(String, PathBuf, Journal), SessionError> {
    let runs = journal::runs_dir(data_dir);
    let mut last_error = None;
    for _ in 0..8 {
        let run_id = journal::new_run_id();
        let run_dir = runs.join(&run_id);
        match Journal::create(&run_dir) {
            Ok(j) => return Ok((run_id, run_dir, j)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(source) => {
                return Err(SessionError::Io {
                    action: "create the run directory",
                    path: run_dir,
                    source,
                });
            }
        }
    }
    Err(SessionError::Io {
        action: "create a run directory in",
        path: runs,
        source: last_error.unwrap_or_else(|| std::io::Error::other("no free run id")),
    })
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    isolate: bool,
    config: Config,
    mut settings: RunSettings,
    front_end: FrontEnd,
    run_id: String,
    run_dir: PathBuf,
    journal: Journal,
    start: Start,
    replayed_up_to: u64,
    mut warnings: Vec<String>,
) -> Result<Session, SessionError> {
    let provider_settings = config.provider_settings();
    let provider = build_provider(&provider_settings).map_err(|source| SessionError::Provider {
        provider: config.provider,
        source,
    })?;
    let workspace = workspace_tools(&config, &run_dir)?;
    if let Some(notice) = workspace
        .as_ref()
        .filter(|ws| ws.permits("run_command"))
        .and_then(|ws| ws.options().sandbox.notice())
    {
        // First: the TUI flashes the first warning.
        warnings.insert(0, notice);
    }
    if let Some(ws) = &workspace {
        // Journal the workspace as an absolute path (a resumed run finds it from anywhere).
        settings.workspace = Some(ws.root().display().to_string());
    }
    // Read at every start and resume: a resumed run follows today's instructions.
    let project_instructions = match &workspace {
        Some(ws) if config.project_instructions => crate::instructions::read(ws.root()),
        _ => ProjectInstructions::default(),
    };
    warnings.extend(
        project_instructions
            .notes
            .iter()
            .map(|n| format!("project instructions: {n}")),
    );
    let instructions = project_instructions.summary();
    let (tools, isolation) = if isolate {
        let (tools, isolation) = isolated_tools(&config, workspace, &run_dir, &run_id)?;
        if isolation.trees.uncommitted() > 0 {
            warnings.push(format!(
                "the workspace has uncommitted changes; the run starts from your last commit \
                 (branch {}) and its workers do not see them",
                isolation.trees.run_tree().branch
            ));
        }
        (tools, Some(Arc::new(isolation)))
    } else {
        (worker_tools(&config, workspace), None)
    };
    let engine_config = EngineConfig {
        settings,
        roles: with_mcp_grants(engine_roles(&config)?, &config.mcp_servers),
        pricing: config.price_table(),
        worker_timeout_secs: config.worker_timeout_secs,
        run_dir: run_dir.clone(),
        tools,
        stop_when_person_needed: front_end == FrontEnd::Headless,
        project_instructions,
        isolation,
        role_providers: role_providers(&config)?,
        on_replan_conflict: config.on_replan_conflict,
    };
    tracing::info!(
        run = %run_id,
        provider = %config.provider,
        model = %config.model,
        worker_model = %config.worker_model,
        ?front_end,
        "starting the engine"
    );
    let handle = engine::spawn(engine_config, provider, journal, start);
    Ok(Session {
        run_id,
        run_dir,
        handle,
        demo: config.provider == ProviderKind::Demo,
        replayed_up_to,
        warnings,
        config,
        instructions,
    })
}

/// The workspace tools for `--workspace` (with `--read-only`, `--allow-commands` and the
/// config's `allow` list), or `None` without a workspace. Backups go under `run_dir`.
fn workspace_tools(
    config: &Config,
    run_dir: &Path,
) -> Result<Option<Arc<Workspace>>, SessionError> {
    let Some(dir) = &config.workspace else {
        return Ok(None);
    };
    config
        .check_workspace_location(dir)
        .map_err(SessionError::Config)?;
    let mut options = WorkspaceOptions::new(run_dir);
    options.protected = config.protected.clone();
    options.read_only = config.read_only;
    options.allow_commands = config.allow_commands;
    options.allow = config.allow.clone();
    options.sandbox = config.sandbox_options();
    let workspace =
        Workspace::open(dir, options).map_err(|e| SessionError::Config(e.to_string()))?;
    Ok(Some(Arc::new(workspace)))
}

/// The workers' tools: the workspace's, plus the `[[mcp_servers]]`' (started now, in the
/// background, in the workspace or else the current directory).
fn worker_tools(
    config: &Config,
    workspace: Option<Arc<Workspace>>,
) -> Option<Arc<dyn WorkerTools>> {
    let cwd = match &workspace {
        Some(ws) => ws.root().to_path_buf(),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    match start_mcp(config, &cwd) {
        Some(mcp) => Some(Arc::new(ToolSet { workspace, mcp })),
        None => workspace.map(|ws| ws as Arc<dyn WorkerTools>),
    }
}

/// The `[[mcp_servers]]`, started in the background in `cwd`; `None` without any.
fn start_mcp(config: &Config, cwd: &Path) -> Option<Arc<McpTools>> {
    if config.mcp_servers.is_empty() {
        return None;
    }
    let mcp = Arc::new(McpTools::new(
        config.mcp_servers.clone(),
        cwd,
        config.read_only,
    ));
    mcp.start_in_background();
    Some(mcp)
}

/// Worktree isolation: the run's worktree (created, or reused on resume) with the workers'
/// tools over it (read-only workers read it), and how a writing worker's tools are opened
/// in its own worktree (the same options; the `[[mcp_servers]]` are shared, started in the
/// run's worktree).
fn isolated_tools(
    config: &Config,
    workspace: Option<Arc<Workspace>>,
    run_dir: &Path,
    run_id: &str,
) -> Result<(Option<Arc<dyn WorkerTools>>, Worktrees), SessionError> {
    let Some(ws) = workspace else {
        return Err(SessionError::Config(
            "isolation = \"worktree\" needs a workspace (--workspace DIR in a git repository)"
                .into(),
        ));
    };
    let trees = RunWorktrees::prepare(ws.root(), run_dir, run_id).map_err(|e| {
        SessionError::Config(format!(
            "isolation = \"worktree\" needs the workspace to be in a git repository with a \
             commit: {e}"
        ))
    })?;
    let options = ws.options().clone();
    let run_ws = Arc::new(
        Workspace::open(&trees.run_tree().root, options.clone())
            .map_err(|e| SessionError::Config(e.to_string()))?,
    );
    let mcp = start_mcp(config, run_ws.root());
    let tools: Arc<dyn WorkerTools> = match &mcp {
        Some(mcp) => Arc::new(ToolSet {
            workspace: Some(run_ws),
            mcp: mcp.clone(),
        }),
        None => run_ws,
    };
    let open_tools = Worktrees::workspace_tools(options, mcp);
    Ok((
        Some(tools),
        Worktrees::new(trees, config.merge_conflicts, open_tools),
    ))
}

/// Each role's tool list with the MCP tools it may use (`mcp__<server>__…`).
pub fn with_mcp_grants(mut roles: Vec<RoleSpec>, servers: &[McpServerSpec]) -> Vec<RoleSpec> {
    for role in &mut roles {
        for server in servers {
            let grants = server.role_grants(&role.name);
            role.tools.extend(grants);
        }
    }
    roles
}

/// Builds the provider for these settings: the HTTP clients of `llm`, or the simulated
/// `demo` model.
/// The providers of roles with their own pool (`[roles_pools]`).
fn role_providers(
    config: &Config,
) -> Result<std::collections::BTreeMap<String, Arc<dyn Provider>>, SessionError> {
    let mut out = std::collections::BTreeMap::new();
    for role in config.roles_pools.keys() {
        if let Some(settings) = config.role_provider_settings(role) {
            let provider = build_provider(&settings).map_err(|source| SessionError::Provider {
                provider: config.provider,
                source,
            })?;
            out.insert(role.clone(), provider);
        }
    }
    Ok(out)
}

pub fn build_provider(settings: &ProviderSettings) -> Result<Arc<dyn Provider>, LlmError> {
    match settings.kind {
        ProviderKind::Anthropic => Ok(Arc::new(anthropic::AnthropicProvider::new(
            settings.clone(),
        )?)),
        ProviderKind::Openai => Ok(Arc::new(openai::OpenAiProvider::new(settings.clone())?)),
        ProviderKind::Demo => Ok(Arc::new(crate::demo::DemoProvider::new(settings))),
    }
}

/// `baton accept RUN`: merges a finished (or stopped) worktree run's branch into the branch
/// checked out in its workspace and removes its worktrees (`engine::merge::accept_run`).
/// Refuses while the run is open (its lock is held).
pub fn accept(config: &Config, run: &str) -> Result<String, SessionError> {
    let run_dir = journal::resolve_run(config.data_dir(), run)?;
    let _lock = lock_run(&run_dir)?;
    crate::engine::merge::accept_run(&run_dir).map_err(SessionError::Config)
}
