//! [`Command`]s: what a person (TUI) or a policy (headless) asks of the engine. Whether one
//! applies now is decided by `State::check`, the one rule book both sides consult.

use serde::{Deserialize, Serialize};

use super::ids::SubtaskId;
use super::payload::*;
use super::settings::DispatchPolicy;

/// What a person or policy asks of the engine. Accepted at any time; ones that do not
/// apply (approve a running subtask) are answered with a `Notice` event, never a panic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    Approve {
        id: SubtaskId,
    },
    ApproveAll,
    Defer {
        id: SubtaskId,
    },
    Undefer {
        id: SubtaskId,
    },
    /// Hand a subtask to a person now (stops it if running).
    Escalate {
        id: SubtaskId,
        reason: String,
    },
    Resolve {
        id: SubtaskId,
        resolution: Resolution,
    },
    Edit {
        id: SubtaskId,
        patch: SubtaskPatch,
    },
    /// Add a subtask by hand; `depends_on` as titles or `#id`s.
    Add {
        subtask: ProposedSubtask,
    },
    Cancel {
        id: SubtaskId,
    },
    Pause,
    Resume,
    SetMaxWorkers {
        max_workers: u32,
    },
    ChooseMode {
        mode: RunMode,
    },
    ResolveScopeAlert {
        alert: u32,
        decision: ScopeDecision,
    },
    DecideCommand {
        request: u32,
        decision: CommandDecision,
    },
    Rollback {
        id: SubtaskId,
    },
    /// Set one subtask's dispatch policy (over its role's).
    SetDispatch {
        id: SubtaskId,
        policy: DispatchPolicy,
    },
    /// Stop the run now; it stays resumable.
    Stop,
    /// Stop the run now because the process got a signal (`SIGTERM`, `SIGHUP`, ...); it
    /// stays resumable, and the journaled reason names the signal, not a person.
    StopForSignal {
        signal: String,
    },
}
