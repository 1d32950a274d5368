//! The error a workspace tool gives back to the model (`is_error: true`) or to the caller of
//! [`super::Workspace::open`]. Messages are complete sentences that say what to do next.
//!
//! Must not carry secrets or absolute paths outside the workspace beyond what the model
//! itself sent.

use std::fmt;

/// What went wrong, by kind (tests and the engine may match on it); the message is what the
/// model reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolError {
    /// A path that leaves the workspace (`..`, absolute, symlink), refused.
    Outside(String),
    /// Arguments the tool cannot use (missing field, bad regex, old_string absent).
    Invalid(String),
    /// The tool is not available here (read-only workspace, unknown tool).
    Unavailable(String),
    /// A command a person (or the policy) did not allow.
    Denied(String),
    /// The file changed since this worker read it, or was never read.
    Conflict(String),
    /// The file system or a process failed.
    Io(String),
}

impl ToolError {
    pub fn message(&self) -> &str {
        match self {
            ToolError::Outside(m)
            | ToolError::Invalid(m)
            | ToolError::Unavailable(m)
            | ToolError::Denied(m)
            | ToolError::Conflict(m)
            | ToolError::Io(m) => m,
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ToolError {}

/// `io` error on `what` (a workspace-relative path or a command), as a tool error.
pub fn io_error(what: &str, action: &str, err: &std::io::Error) -> ToolError {
    ToolError::Io(format!("could not {action} `{what}`: {err}"))
}
