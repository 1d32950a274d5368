//! [`Action`]: what one invocation of `baton` asks for once the command line is checked,
//! and its name for logs. `Cli::action` builds it; `main` carries it out.
//!
//! Owns that type only (no parsing, no effects).

use std::path::PathBuf;

use super::{ExportFormat, ForkPoint, GraphFormat};
use crate::llm::ProviderKind;

/// What this invocation asks for, after validation.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start a new run. `task` is empty when the TUI should ask for it.
    Run {
        task: String,
        headless: bool,
        json: bool,
    },
    Resume {
        run: String,
        headless: bool,
        json: bool,
    },
    Runs,
    Export {
        run: String,
        format: ExportFormat,
        output: Option<PathBuf>,
    },
    Fork {
        run: String,
        at: ForkPoint,
        headless: bool,
        json: bool,
    },
    Compare {
        a: String,
        b: String,
        json: bool,
    },
    Graph {
        run: String,
        format: GraphFormat,
    },
    Rollback {
        run: String,
        subtask: u32,
    },
    Doctor,
    Config,
    Login(ProviderKind),
    Logout(ProviderKind),
    Accept {
        run: String,
    },
    Completions(clap_complete::Shell),
    Man,
}

impl Action {
    /// The command's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Run { headless: true, .. } => "run --headless",
            Action::Run { .. } => "run",
            Action::Resume { headless: true, .. } => "resume --headless",
            Action::Resume { .. } => "resume",
            Action::Runs => "runs",
            Action::Export { .. } => "export",
            Action::Fork { .. } => "fork",
            Action::Compare { .. } => "compare",
            Action::Graph { .. } => "graph",
            Action::Rollback { .. } => "rollback",
            Action::Doctor => "doctor",
            Action::Config => "config",
            Action::Login(_) => "login",
            Action::Logout(_) => "logout",
            Action::Accept { .. } => "accept",
            Action::Completions(_) => "completions",
            Action::Man => "man",
        }
    }
}
