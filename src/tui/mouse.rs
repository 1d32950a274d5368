//! The mouse on the TUI: the wheel scrolls what is under the pointer (a worker pane, the
//! task list, the replan log, the detail, diff, deliverable or graph screen), a left click
//! selects the subtask row or worker pane under it. Dialogs and the editor ignore it.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::app::{Focus, Screen, Ui};
use super::input::{move_replan, move_selection, scroll};
use super::keymap::Action;
use super::layout;
use super::task_list;

pub fn on_mouse(ui: &mut Ui, m: MouseEvent) {
    let delta: i64 = match m.kind {
        MouseEventKind::ScrollUp => -3,
        MouseEventKind::ScrollDown => 3,
        MouseEventKind::Down(MouseButton::Left) => return click(ui, m),
        _ => return,
    };
    if ui.modal.is_some() || ui.screen == Screen::Editor {
        return;
    }
    if ui.help || ui.log {
        scroll(ui, delta as isize);
        return;
    }
    match ui.screen {
        Screen::Detail(_) => ui.detail_scroll = add(ui.detail_scroll, delta),
        Screen::Diff(_) => super::changes::scroll_by(ui, delta as isize),
        Screen::Synthesis => ui.synthesis_scroll = add(ui.synthesis_scroll, delta),
        Screen::Graph => {
            let action = if delta < 0 { Action::Up } else { Action::Down };
            super::graph::act(ui, action);
        }
        Screen::Main | Screen::Editor => {
            if let Some(z) = ui.zoom {
                ui.outputs.pane_mut(z).scroll_by(delta);
                return;
            }
            let area = Rect::new(0, 0, ui.size.0, ui.size.1);
            let l = layout::main_layout(area, ui);
            let at = Position::new(m.column, m.row);
            if let Some((id, _)) = l.panes.iter().find(|(_, r)| r.contains(at)) {
                let id = *id;
                ui.outputs.pane_mut(id).scroll_by(delta);
            } else if l.tasks.contains(at) {
                move_selection(ui, delta as isize);
            } else if l.replan.contains(at) {
                move_replan(ui, delta as isize);
            }
        }
    }
}

/// A left click on the main screen: selects the subtask row or the worker pane under it.
fn click(ui: &mut Ui, m: MouseEvent) {
    if ui.modal.is_some()
        || ui.help
        || ui.log
        || ui.prompt.is_some()
        || ui.screen != Screen::Main
        || ui.zoom.is_some()
    {
        return;
    }
    let area = Rect::new(0, 0, ui.size.0, ui.size.1);
    let l = layout::main_layout(area, ui);
    let at = Position::new(m.column, m.row);
    if l.tasks.contains(at) {
        ui.focus = Focus::Tasks;
        let rows = task_list::rows(ui);
        let height = l.tasks.height.saturating_sub(2) as usize;
        let sel = ui
            .selected
            .and_then(|s| rows.iter().position(|r| r.sel() == s))
            .unwrap_or(0);
        let offset = task_list::scroll_offset(ui.list_offset, sel, height, rows.len());
        let row = (m.row as usize).checked_sub(l.tasks.y as usize + 1);
        if let Some(r) = row.and_then(|r| rows.get(r + offset)) {
            ui.selected = Some(r.sel());
            ui.list_offset = offset;
            ui.pane_selected = None;
        }
    } else if let Some((id, _)) = l.panes.iter().find(|(_, r)| r.contains(at)) {
        ui.focus = Focus::Panes;
        ui.pane_selected = Some(*id);
    } else if l.replan.contains(at) {
        ui.focus = Focus::Replan;
    }
}

pub(super) fn add(v: u16, d: i64) -> u16 {
    (v as i64 + d).clamp(0, u16::MAX as i64) as u16
}
