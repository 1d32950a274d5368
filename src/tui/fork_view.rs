//! Forking the run from the TUI (issue 11, capability 6, the TUI part): the run's decisions
//! as they arrive (numbered as `baton export json` and `baton fork --at dN` number them),
//! the detail view's list of a subtask's decisions (and its steering), and the fork itself,
//! which is `baton fork RUN --at dN`'s code path (`export::fork::fork_run`), run as an effect
//! (`Effect::Fork`), never inside `update`.
//!
//! Owns those. Must not change the run: a fork writes a new run directory and the parent's
//! journal is only read.

use std::path::Path;

use ratatui::text::{Line, Span};

use super::app::Ui;
use super::modals::fork::{ForkDone, ForkPicker};
use crate::export::fork::{ForkPoint, fork_run};
use crate::export::provenance::{Decision, decision_in};
use crate::protocol::{Envelope, SubtaskId};

/// Numbers the decision `env` records (called with `env` folded into the state).
pub fn on_event(ui: &mut Ui, env: &Envelope) {
    let n = ui.decisions.len() as u32 + 1;
    if let Some(d) = decision_in(env, &ui.state, n) {
        ui.decisions.push(d);
    }
}

/// The data directory of the run on screen (`<data>/runs/<id>` → `<data>`).
fn data_dir(ui: &Ui) -> Option<&Path> {
    ui.info.run_dir.as_deref()?.parent()?.parent()
}

/// Can `F` fork now (decisions to fork at, a run directory to fork from)?
pub fn can_fork(ui: &Ui) -> bool {
    !ui.decisions.is_empty() && data_dir(ui).is_some()
}

/// `F` in the detail view: the picker, on the subtask's own decisions.
pub fn open(ui: &mut Ui, id: Option<SubtaskId>) -> Vec<super::app::Effect> {
    if can_fork(ui) {
        ui.modal = Some(Box::new(ForkPicker::new(&ui.decisions, id)));
    }
    Vec::new()
}

/// One line for a decision: `d12 09:31:02 person steer: attempt 1: paused the worker`.
pub fn decision_line(d: &Decision) -> String {
    let what = if d.detail.is_empty() {
        d.kind.to_string()
    } else {
        format!("{}: {}", d.kind, d.detail)
    };
    format!(
        "d{:<3} {} {:<12} {}",
        d.n,
        d.at.format("%H:%M:%S"),
        crate::export::provenance::actor_name(d.by),
        crate::text::one_line(&what, 200)
    )
}

/// The detail view's "Decisions" section for subtask `id` (empty when it has none).
pub fn detail_lines(ui: &Ui, id: SubtaskId) -> Vec<Line<'static>> {
    let mine: Vec<&Decision> = ui
        .decisions
        .iter()
        .filter(|d| d.subtask == Some(id.0))
        .collect();
    if mine.is_empty() {
        return Vec::new();
    }
    let t = &ui.theme;
    let mut out = vec![
        Line::from(""),
        Line::from(Span::styled(
            format!(
                "Decisions ({}){}",
                mine.len(),
                if can_fork(ui) {
                    " · F: fork the run at one"
                } else {
                    ""
                }
            ),
            t.title(),
        )),
    ];
    for d in mine {
        out.push(Line::from(format!("  {}", decision_line(d))));
    }
    out
}

/// Runs the fork at decision `n` (the effect of the picker's `Enter`) and shows the result.
pub fn run_fork(ui: &mut Ui, n: u32) {
    let (Some(dir), run) = (data_dir(ui).map(Path::to_path_buf), ui.state.run_id.clone()) else {
        ui.flash = Some("cannot fork: this run has no directory".into());
        return;
    };
    match fork_run(&dir, &run, ForkPoint::Decision(n), None) {
        Ok(forked) => {
            let text = format!(
                "Forked run {} at decision d{n} (it keeps the parent's events 1..{}).",
                forked.run_id, forked.at_seq
            );
            ui.messages.push((ui.now, text));
            ui.modal = Some(Box::new(ForkDone::new(forked)));
        }
        Err(e) => ui.flash = Some(format!("fork failed: {e}")),
    }
}
