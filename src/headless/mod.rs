//! The headless front end (`--headless`): runs the engine without a screen, for scripts and
//! CI. Progress goes to stderr (one short line per meaningful event), the deliverable to
//! stdout at the end; with `--json`, stdout carries every event envelope as one JSON line
//! (the journal's format) and nothing else.
//!
//! Owns: the run loop, signals, the end-of-run messages and the exit code. Never waits for
//! input: the engine runs with `stop_when_person_needed`, and a run that stops for a person
//! exits 3 naming `baton resume <id>`. Ctrl-C, SIGTERM and SIGHUP ask the engine to stop
//! (journaled `stopped`, naming the signal for the last two; resumable; exit 3); a second
//! signal leaves at once. Output never panics (`output`). Must not contain orchestration
//! logic: it only folds the events it receives with the same reducer as everyone else.

mod output;
mod plan_diff;
mod progress;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::protocol::{Command, RunOutcome};
use crate::session::{self, FrontEnd, Launch};
use crate::state::{State, apply};
use output::say;
pub use progress::{describe_needs, progress_line};

/// Exit codes (DESIGN.md): complete, failed, usage/config, stopped needing a person.
pub const EXIT_COMPLETE: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_STOPPED: i32 = 3;

/// A signal that asks the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    /// Ctrl-C (SIGINT): a person at the terminal.
    CtrlC,
    /// SIGTERM, SIGHUP: the system or a closed terminal.
    Signal(&'static str),
}

/// Runs (or resumes) a run headless and returns the process exit code.
pub async fn run(config: &Config, launch: Launch, json: bool) -> color_eyre::Result<i32> {
    let session = match session::start(config, launch, FrontEnd::Headless) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("baton: {e}"));
            return Ok(e.exit_code());
        }
    };
    for w in &session.warnings {
        say(&format!("baton: note: {w}"));
    }
    let run_id = session.run_id.clone();
    let replayed_up_to = session.replayed_up_to;
    let mut handle = session.handle;
    say(&format!(
        "baton: run {run_id} on {} (orchestrator {}, workers {}){}",
        session.config.provider,
        session.config.model,
        session.config.worker_model,
        if replayed_up_to > 0 {
            format!(", resuming after event {replayed_up_to}")
        } else {
            String::new()
        }
    ));

    let mut interrupts = interrupt_channel();
    let mut state = State::default();
    let mut stop_requested = false;
    let mut deltas_open = true;
    loop {
        tokio::select! {
            biased;
            event = handle.events.recv() => {
                let Some(envelope) = event else { break };
                apply(&mut state, &envelope);
                if json {
                    output::out(&crate::journal::encode_line(&envelope)?);
                }
                if envelope.seq > replayed_up_to
                    && let Some(line) = progress_line(&state, &envelope)
                {
                    say(&line);
                }
            }
            Some(interrupt) = interrupts.recv() => {
                if stop_requested {
                    say(&format!(
                        "baton: interrupted; the run is saved. Continue it with `baton resume {run_id}`"
                    ));
                    return Ok(EXIT_STOPPED);
                }
                stop_requested = true;
                let command = match interrupt {
                    Interrupt::CtrlC => {
                        say("baton: stopping after the current step (Ctrl-C again to leave at once)");
                        Command::Stop
                    }
                    Interrupt::Signal(name) => {
                        say(&format!("baton: {name}: stopping after the current step"));
                        Command::StopForSignal { signal: name.to_string() }
                    }
                };
                if handle.commands.send(command).await.is_err() {
                    tracing::warn!("the engine is gone; it cannot be asked to stop");
                }
            }
            delta = handle.deltas.recv(), if deltas_open => {
                // Live output is for the TUI; headless drains it so the engine never waits.
                if delta.is_none() {
                    deltas_open = false;
                }
            }
        }
    }
    let outcome = match handle.join.await {
        Ok(outcome) => outcome,
        Err(e) => RunOutcome::Failed {
            reason: format!("the engine task ended abnormally: {e}"),
        },
    };
    Ok(finish(&state, &run_id, &outcome, json, stop_requested))
}

/// Forwards Ctrl-C, SIGTERM and SIGHUP to a channel. On unix the handlers are installed
/// before this returns, so a signal right after the run starts is never lost (nor kills
/// the process).
fn interrupt_channel() -> mpsc::Receiver<Interrupt> {
    let (tx, rx) = mpsc::channel(4);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for (kind, interrupt) in [
            (SignalKind::interrupt(), Interrupt::CtrlC),
            (SignalKind::terminate(), Interrupt::Signal("SIGTERM")),
            (SignalKind::hangup(), Interrupt::Signal("SIGHUP")),
        ] {
            match signal(kind) {
                Ok(mut signals) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while signals.recv().await.is_some() {
                            if tx.send(interrupt).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                Err(e) => tracing::warn!("cannot listen for {interrupt:?}: {e}"),
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(Interrupt::CtrlC).await.is_err() {
                break;
            }
        }
    });
    rx
}

/// The deliverable on stdout (not with `--json`, whose lines carry it exactly).
fn print_deliverable(state: &State, json: bool) {
    if !json {
        let deliverable = state
            .synthesis
            .as_ref()
            // Sanitized like `export md` (exact bytes: `--json` or `export json`).
            .map(|s| crate::text::sanitize(s.deliverable.trim()).into_owned())
            .unwrap_or_default();
        output::out(&deliverable);
    }
}

/// Prints the end of the run and returns the exit code.
fn finish(state: &State, run_id: &str, outcome: &RunOutcome, json: bool, interrupted: bool) -> i32 {
    let totals = progress::totals(state);
    match outcome {
        RunOutcome::Completed => {
            print_deliverable(state, json);
            say(&format!("baton: complete. {totals}"));
            say(&format!("baton: report: `baton export {run_id}`"));
            EXIT_COMPLETE
        }
        RunOutcome::Failed { reason } => {
            say(&format!("baton: the run failed: {reason}"));
            say(&format!("baton: {totals}"));
            say(&format!(
                "baton: what was done is kept: `baton export {run_id}` for a report, \
                 `baton resume {run_id}` to try again"
            ));
            EXIT_FAILED
        }
        RunOutcome::Stopped { reason } if !interrupted && state.synthesis.is_some() => {
            // Stopped early by a limit (issue 12): the deliverable of what was done, then
            // the reason as the last line.
            print_deliverable(state, json);
            say(&format!("baton: {totals}"));
            say(&format!(
                "baton: report: `baton export {run_id}`; continue with `baton resume {run_id}`"
            ));
            say(&format!("baton: {}", crate::text::sanitize(reason)));
            EXIT_STOPPED
        }
        RunOutcome::Stopped { reason } => {
            if interrupted {
                say(&format!("baton: stopped ({reason})."));
            } else {
                say("baton: the run needs a person and has stopped.");
                for need in describe_needs(state) {
                    say(&format!("  - {need}"));
                }
            }
            say(&format!("baton: {totals}"));
            say(&format!(
                "baton: continue in the TUI with `baton resume {run_id}` \
                 (or `baton resume {run_id} --headless` with other flags, e.g. --approve auto)"
            ));
            EXIT_STOPPED
        }
    }
}
