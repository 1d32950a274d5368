//! The orchestration engine: runs one orchestrator-workers run in a background tokio task.
//!
//! Front ends (TUI, headless) talk to it only through [`EngineHandle`]: they receive
//! [`Envelope`]s (facts, in order, the journal's records) and lossy [`Delta`]s (live
//! output), and send [`Command`]s. The engine is the only writer of the run's state; every
//! change is an event appended to the journal before it is acted on.

mod call;
mod commands;
mod conflicts;
mod dispatch;
mod emit;
mod evaluate;
pub mod finished;
mod limits;
pub mod merge;
mod outlook;
mod plan_diff;
mod plan_ops;
pub mod plan_view;
pub mod policy;
pub mod prompts;
mod recovery;
mod replans;
pub mod roles;
mod run;
mod steer;
mod steps;
pub mod summary;
mod supervise;
pub mod validate;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::llm::pricing::PriceTable;
use crate::llm::{Provider, StreamEvent};
use crate::protocol::{Command, Envelope, RunOutcome, RunSettings, SubtaskId};
use crate::state::State;
use crate::tools::WorkerTools;
use roles::RoleSpec;

/// Everything the engine needs besides the provider.
pub struct EngineConfig {
    pub settings: RunSettings,
    pub roles: Vec<RoleSpec>,
    pub pricing: PriceTable,
    /// A worker attempt that takes longer than this fails (and gets a recovery decision).
    pub worker_timeout_secs: u64,
    /// The run's directory (journal, backups).
    pub run_dir: PathBuf,
    /// Workspace tools, when `--workspace` is set.
    pub tools: Option<Arc<dyn WorkerTools>>,
    /// Headless: stop with `RunOutcome::Stopped` as soon as something needs a person.
    pub stop_when_person_needed: bool,
    /// The workspace's AGENTS.md / CLAUDE.md files, quoted ahead of every model message.
    pub project_instructions: crate::instructions::ProjectInstructions,
    /// Git worktree isolation (`isolation = "worktree"`): `tools` are then the run
    /// worktree's, and writing workers get worktrees of their own (see `merge.rs`).
    pub isolation: Option<Arc<merge::Worktrees>>,
    /// Providers of roles with their own pool (`[roles_pools]`); other roles use the run's.
    pub role_providers: std::collections::BTreeMap<String, Arc<dyn Provider>>,
    /// What a replan that changes a running subtask does to its worker.
    pub on_replan_conflict: policy::ReplanConflict,
}

/// How the engine starts.
pub enum Start {
    New {
        run_id: String,
        task: String,
    },
    /// Continue from a journal's events (already folded-safe; torn tail dropped).
    Resume {
        events: Vec<Envelope>,
        torn_line_dropped: bool,
    },
}

/// The front end's end of a running engine.
pub struct EngineHandle {
    /// Facts, in order. On resume, the journal's events come first (replay).
    pub events: mpsc::Receiver<Envelope>,
    /// Live output, lossy.
    pub deltas: mpsc::Receiver<Delta>,
    pub commands: mpsc::Sender<Command>,
    pub join: JoinHandle<RunOutcome>,
    /// The engine's own final state (what it folded while running), sent when the run
    /// ends. Equal to `State::fold` of the journal; tests compare the two.
    pub final_state: tokio::sync::oneshot::Receiver<State>,
}

/// Capacity of the ordered event channel (the engine waits when the front end lags).
pub const EVENT_CHANNEL: usize = 1024;
/// Capacity of the lossy delta channel (deltas are dropped when full).
pub const DELTA_CHANNEL: usize = 4096;

/// Starts the engine in a background task. It runs the whole loop (analysis, dispatch,
/// replans, recovery, limits, completion, synthesis, evaluation) until the run completes,
/// fails, or stops; see `run.rs` and docs/engine.md.
pub fn spawn(
    config: EngineConfig,
    provider: Arc<dyn Provider>,
    journal: crate::journal::Journal,
    start: Start,
) -> EngineHandle {
    let (event_tx, events) = mpsc::channel(EVENT_CHANNEL);
    let (delta_tx, deltas) = mpsc::channel(DELTA_CHANNEL);
    let (commands, command_rx) = mpsc::channel(64);
    let (state_tx, final_state) = tokio::sync::oneshot::channel();
    let engine = run::Engine::new(config, provider, journal, event_tx, delta_tx, command_rx);
    let join = tokio::spawn(async move {
        let (outcome, state) = engine.run(start).await;
        let _ = state_tx.send(state);
        outcome
    });
    EngineHandle {
        events,
        deltas,
        commands,
        join,
        final_state,
    }
}

/// Live, lossy output of a worker or the orchestrator, for the UI only (not journaled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// `None`: the orchestrator.
    pub subtask: Option<SubtaskId>,
    pub attempt: u32,
    pub event: StreamEvent,
}
