//! Workspace tools for workers (`list_dir`, `read_file`, `search`, `write_file`,
//! `edit_file`, `run_command`), confined to the workspace.
//!
//! The engine's worker loop offers [`WorkerTools::definitions`] to the model and routes
//! each tool call to [`WorkerTools::call`]. Tools never talk to the screen: approvals and
//! journal records go through the [`ToolHost`] the engine passes in.
//!
//! [`Workspace`] is the implementation over a directory; the modules beside it hold its
//! parts: confinement ([`paths`]), schemas ([`schema`]), the reading tools ([`fs`],
//! [`search`]), the command runner ([`command`]) and its sandbox ([`sandbox`], run by the
//! [`launcher`]), the change record ([`changes`]) and
//! diffs of recorded changes for review ([`diff`]). MCP servers' tools join them in
//! [`mcp`].

pub mod changes;
pub mod command;
pub mod diff;
pub mod error;
pub mod fs;
pub mod launcher;
pub mod mcp;
pub mod paths;
pub mod sandbox;
pub mod schema;
pub mod search;
pub mod text;
pub mod workspace;

use async_trait::async_trait;

pub use error::ToolError;
pub use workspace::{Workspace, WorkspaceOptions};

use crate::protocol::{CommandDecision, Event, SubtaskId};
use crate::protocol::{ToolCall, ToolDef};
use crate::state::FileChange;

/// What a tool call gives back to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// Sent to the model as the tool result (already capped).
    pub content: String,
    pub is_error: bool,
    /// One line for the UI and the journal: `read_file src/api.rs (212 lines)`.
    pub summary: String,
}

/// The engine's side of tool use.
#[async_trait]
pub trait ToolHost: Send + Sync {
    /// Asks a person (or the policy) whether `command` may run in `cwd`; waits for it.
    async fn approve_command(
        &self,
        subtask: SubtaskId,
        command: &str,
        cwd: &str,
    ) -> CommandDecision;
    /// Hands a record (e.g. the `FileChanged` of a change about to be made) to the engine,
    /// which journals it; returns once it is written. An error means it was not journaled
    /// (the journal cannot be written, the run is stopping): the tool must not act on it.
    async fn record(&self, event: Event) -> Result<(), String>;
}

/// A set of tools a worker can use.
#[async_trait]
pub trait WorkerTools: Send + Sync {
    /// Waits until the set is ready to offer its tools (MCP servers started) and journals
    /// what did not start. Called at the start of each worker attempt.
    async fn ready(&self, _host: &dyn ToolHost) {}
    /// Definitions of the tools among `allowed` (a role's tool list) that this set offers.
    fn definitions(&self, allowed: &[String]) -> Vec<ToolDef>;
    /// Runs one call. Errors are tool errors for the model (`is_error`), never panics.
    async fn call(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        attempt: u32,
        call: &ToolCall,
    ) -> ToolOutput;
    /// Checks, changing nothing, that these changes can be rolled back (no file changed
    /// since, backups intact); returns the paths a rollback restores. Called by the engine
    /// on `Command::Rollback` before it journals `rollback_started`.
    async fn check_rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String>;
    /// Restores the files these changes touched to their state before the changes (exact
    /// bytes; files the changes created are removed, deleted ones restored). Idempotent: a
    /// file already back to its content before is fine (an interrupted rollback is
    /// finished this way). Returns the paths of the rollback.
    async fn rollback(&self, changes: &[FileChange]) -> Result<Vec<String>, String>;
}
