//! [`Command`]s: what a person (TUI) or a policy (headless) asks of the engine. Whether one
//! applies now is decided by `State::check`, the one rule book both sides consult.

use serde::{Deserialize, Serialize};

use super::ids::SubtaskId;
use super::payload::*;
use super::settings::DispatchPolicy;
use super::steer::Steer;

/// The most parallel workers a run may have (the config file refuses more).
pub const MAX_WORKERS: u32 = 64;

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
    /// Edit a subtask waiting for approval and approve it, as one decision: when the edit
    /// is refused (an unknown role, a bad dependency) nothing is approved, so the subtask
    /// never starts with what the person meant to change. An empty patch just approves.
    EditAndApprove {
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
    /// More or fewer parallel workers than the engine has now (`+`/`-`): the engine applies
    /// `delta` to its own count (kept within 1..=[`MAX_WORKERS`]), so presses made while an
    /// earlier change is on its way add up instead of being computed from a stale copy.
    /// Several queued together become one journaled change.
    AdjustWorkers {
        delta: i32,
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
    /// Steer one subtask's worker while the others run (pause, resume, a note, its model,
    /// a restart): TUI-only, journaled as `worker_steered` by the person.
    Steer {
        id: SubtaskId,
        steer: Steer,
    },
    /// Decide every row of a proposed plan diff at once (`accepted[i]` for row `i`).
    DecidePlanDiff {
        proposal: u32,
        accepted: Vec<bool>,
    },
    /// Stop the run now; it stays resumable.
    Stop,
    /// Stop the run now because the process got a signal (`SIGTERM`, `SIGHUP`, ...); it
    /// stays resumable, and the journaled reason names the signal, not a person.
    StopForSignal {
        signal: String,
    },
}
