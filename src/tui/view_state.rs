//! What the person was looking at, kept across `baton resume`: the selected subtask, the
//! expanded finished group and replan entries, the filter and the focused area.
//!
//! Owns that small record and its file (`<run dir>/view.json`). Decision: this is not a
//! fact about the run, so it stays out of the journal (which only holds the engine's
//! events); the runtime writes it when the TUI closes and reads it when it reopens a run,
//! and it is applied once the journal's replay has reached the screen. The file is
//! untrusted: it is read with a size cap, and an id that is not in the run is ignored.
//! The worker panes' last lines come from the journal itself (see `app::on_event`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::app::{Filter, Focus, Sel, Ui};
use crate::protocol::SubtaskId;

const FILE: &str = "view.json";
const MAX_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewState {
    pub selected: Option<u32>,
    pub show_finished: bool,
    pub replan_expanded: Vec<u32>,
    pub filter: String,
    pub focus: String,
}

/// What the person is looking at now.
pub fn capture(ui: &Ui) -> ViewState {
    let mut replan_expanded: Vec<u32> = ui.replan_expanded.iter().copied().collect();
    replan_expanded.sort_unstable();
    ViewState {
        selected: match ui.selected {
            Some(Sel::Subtask(id)) => Some(id.0),
            _ => None,
        },
        show_finished: ui.show_finished,
        replan_expanded,
        filter: ui.filter.label().to_string(),
        focus: match ui.focus {
            Focus::Tasks => "tasks",
            Focus::Panes => "panes",
            Focus::Replan => "replan",
        }
        .to_string(),
    }
}

/// Puts the view back, keeping only what still exists in the run.
pub fn apply(ui: &mut Ui, v: &ViewState) {
    ui.show_finished = v.show_finished;
    let mut f = Filter::All;
    for _ in 0..8 {
        if f.label() == v.filter {
            ui.filter = f;
            break;
        }
        f = f.next();
    }
    ui.focus = match v.focus.as_str() {
        "panes" => Focus::Panes,
        "replan" => Focus::Replan,
        _ => Focus::Tasks,
    };
    let cycles: Vec<u32> = ui.state.replan_log.iter().map(|r| r.cycle).collect();
    ui.replan_expanded = v
        .replan_expanded
        .iter()
        .copied()
        .filter(|c| cycles.contains(c))
        .collect();
    if let Some(id) = v.selected.map(SubtaskId)
        && ui.state.subtask(id).is_some()
    {
        let focus = ui.focus;
        super::finder::select(ui, id);
        ui.focus = focus;
    }
}

/// Reads `<dir>/view.json`, if there is a readable one.
pub fn load(dir: &Path) -> Option<ViewState> {
    let path = dir.join(FILE);
    let meta = std::fs::metadata(&path).ok()?;
    if meta.len() > MAX_BYTES {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes `<dir>/view.json`; a failure is logged, never fatal.
pub fn save(dir: &Path, v: &ViewState) {
    let Ok(text) = serde_json::to_string(v) else {
        return;
    };
    if let Err(e) = std::fs::write(dir.join(FILE), text) {
        tracing::warn!("could not keep the view for resume: {e}");
    }
}
