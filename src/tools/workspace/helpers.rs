//! Small helpers of the workspace tools: a tool's success output, its arguments parsed with
//! an error that names it, a confined file read that tolerates absence, blocking file work
//! off the async threads, and the error for a change the journal could not record.

use serde::de::DeserializeOwned;

use crate::protocol::ToolCall;
use crate::tools::ToolOutput;
use crate::tools::error::{ToolError, io_error};
use crate::tools::paths::Resolved;

pub(super) fn ok(content: String, summary: String) -> ToolOutput {
    ToolOutput {
        content,
        is_error: false,
        summary,
    }
}

/// Parses a call's arguments, with an error that names the tool.
pub(super) fn args<T: DeserializeOwned>(call: &ToolCall) -> Result<T, ToolError> {
    let value = if call.arguments.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        call.arguments.clone()
    };
    serde_json::from_value(value)
        .map_err(|e| ToolError::Invalid(format!("invalid arguments for {}: {e}", call.name)))
}

/// The bytes of a confined file, or `None` when it does not exist.
pub(super) fn read_if_exists(file: &Resolved) -> Result<Option<Vec<u8>>, ToolError> {
    match std::fs::read(&file.abs) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&file.rel, "read", &e)),
    }
}

/// Runs blocking file-system work off the async threads.
pub(super) async fn blocking<T, F>(work: F) -> Result<T, ToolError>
where
    F: FnOnce() -> Result<T, ToolError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ToolError::Io(format!("the tool stopped unexpectedly: {e}")))?
}

/// The error a worker sees when the engine could not journal a change's record: the change
/// is not made (journal before act).
pub(super) fn not_journaled(file: &Resolved, reason: &str) -> ToolError {
    ToolError::Io(format!(
        "`{}` was not changed: the run's journal could not record the change ({reason})",
        file.rel
    ))
}
