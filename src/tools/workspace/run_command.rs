//! The `run_command` tool of a [`Workspace`]: parses `argv` or a shell line, confines the
//! working directory, asks the [`ToolHost`] for a command the allow lists do not cover,
//! runs it in the sandbox (`command::run`) and reports exit status and capped output.
//!
//! A child of `workspace` so it reaches the workspace's own fields; must not write files
//! (commands write through the sandbox, not through the change record).

use super::Workspace;
use crate::protocol::{CommandDecision, SubtaskId};
use crate::tools::command::{self, CommandRun, CommandSpec};
use crate::tools::error::ToolError;
use crate::tools::schema::RunCommandArgs;
use crate::tools::text::{one_line, thousands};
use crate::tools::{ToolHost, ToolOutput};

impl Workspace {
    pub(super) async fn run_command(
        &self,
        host: &dyn ToolHost,
        subtask: SubtaskId,
        a: RunCommandArgs,
    ) -> Result<ToolOutput, ToolError> {
        let spec = match (a.argv, a.command) {
            (Some(argv), None) if !argv.is_empty() => CommandSpec::Argv(argv),
            (None, Some(line)) if !line.trim().is_empty() => CommandSpec::Shell(line),
            (Some(_), Some(_)) => {
                return Err(ToolError::Invalid(
                    "give either `argv` or `command`, not both".to_string(),
                ));
            }
            _ => {
                return Err(ToolError::Invalid(
                    "give `argv` (program and arguments) or `command` (a shell line)".to_string(),
                ));
            }
        };
        let cwd = self.root.resolve(a.cwd.as_deref().unwrap_or("."))?;
        if !cwd.abs.is_dir() {
            return Err(ToolError::Invalid(format!(
                "cwd `{}` is not an existing directory in the workspace",
                cwd.rel
            )));
        }
        let display = spec.display();
        let shown = one_line(&display, 80);
        if !self.command_allowed(&spec) {
            match host.approve_command(subtask, &display, &cwd.rel).await {
                CommandDecision::AllowOnce => {}
                CommandDecision::AllowAlways => {
                    let mut list = self.session_allow.lock().unwrap_or_else(|p| p.into_inner());
                    if !list.contains(&display) {
                        list.push(display.clone());
                    }
                }
                CommandDecision::Deny { reason } => {
                    let reason = reason.trim();
                    let why = if reason.is_empty() {
                        "no reason given".to_string()
                    } else {
                        reason.to_string()
                    };
                    return Err(ToolError::Denied(format!(
                        "the command `{shown}` was not allowed to run: {why}. Do not retry it \
                         unchanged; continue without it or report what you needed it for."
                    )));
                }
            }
        }
        let keep = (self.options.output_cap / 2).max(256);
        let run = CommandRun {
            spec: &spec,
            cwd: &cwd.abs,
            workspace: self.root(),
            timeout: self.options.command_timeout,
            keep,
        };
        let outcome = command::run(&run, &self.options.sandbox).await?;
        let mut content = format!("$ {display}");
        if cwd.rel != "." {
            content.push_str(&format!("   (in {})", cwd.rel));
        }
        content.push('\n');
        let status = if outcome.timed_out {
            format!(
                "timed out after {} s; the command and every process it started were killed",
                self.options.command_timeout.as_secs()
            )
        } else {
            match (outcome.exit_code, outcome.signal) {
                (Some(code), _) => format!("exit code: {code}"),
                (None, Some(sig)) => format!("killed by signal {sig}"),
                (None, None) => "ended without an exit code".to_string(),
            }
        };
        content.push_str(&status);
        content.push('\n');
        for (label, stream) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
            if stream.total() == 0 {
                continue;
            }
            content.push_str(&format!(
                "--- {label} ({} bytes) ---\n",
                thousands(stream.total())
            ));
            let text = stream.render();
            content.push_str(&text);
            if !text.ends_with('\n') {
                content.push('\n');
            }
        }
        if outcome.stdout.total() == 0 && outcome.stderr.total() == 0 {
            content.push_str("(no output)\n");
        }
        if outcome.output_abandoned {
            content.push_str(
                "(output was still open after the command ended and was not read further)\n",
            );
        }
        if let Some(note) = &outcome.sandbox_note {
            content.push_str(note);
            content.push('\n');
        }
        let summary = if outcome.timed_out {
            format!("run_command \"{}\" → timed out", one_line(&display, 60))
        } else {
            match (outcome.exit_code, outcome.signal) {
                (Some(code), _) => {
                    format!("run_command \"{}\" → exit {code}", one_line(&display, 60))
                }
                (None, Some(sig)) => {
                    format!("run_command \"{}\" → signal {sig}", one_line(&display, 60))
                }
                (None, None) => format!("run_command \"{}\" → ended", one_line(&display, 60)),
            }
        };
        Ok(ToolOutput {
            content,
            is_error: outcome.timed_out,
            summary,
        })
    }
}
