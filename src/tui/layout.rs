//! Where each part of the main screen goes, as a pure function of the terminal size and
//! the `Ui`, used by drawing and by the mouse (so a wheel scrolls what is under it).
//!
//! Owns the arrangement: side by side when wide, stacked at 80x24, worker panes tiled to
//! fit their number. Must not draw.

use ratatui::layout::{Constraint, Direction, Layout, Rect};

use super::app::{Ui, orchestrator_busy};
use crate::protocol::SubtaskId;

/// Smallest useful pane: border plus two lines of output.
const MIN_PANE_HEIGHT: u16 = 4;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MainLayout {
    pub header: Rect,
    pub tasks: Rect,
    pub replan: Rect,
    /// Panes shown, each with the subtask it belongs to (`None`: the orchestrator).
    pub panes: Vec<(Option<SubtaskId>, Rect)>,
    /// Panes that did not fit.
    pub hidden_panes: usize,
    pub footer: Rect,
}

/// The panes that exist now: the orchestrator's while it works (or when no worker runs),
/// then one per running worker, by worker slot.
pub fn pane_ids(ui: &Ui) -> Vec<Option<SubtaskId>> {
    let mut running: Vec<_> = ui.state.running().map(|s| (s.worker, s.id)).collect();
    running.sort();
    let mut out = Vec::with_capacity(running.len() + 1);
    if orchestrator_busy(ui.state.phase) || running.is_empty() {
        out.push(None);
    }
    out.extend(running.into_iter().map(|(_, id)| Some(id)));
    out
}

pub fn main_layout(area: Rect, ui: &Ui) -> MainLayout {
    let [header, body, footer] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(2),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
    let wide = area.width >= 100;
    let (tasks, replan, panes_area) = if wide {
        let left_w = (area.width * 9 / 20).clamp(36, 80);
        let [left, right] = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(left_w), Constraint::Min(10)])
            .areas(body);
        let replan_h = (left.height / 3).clamp(3, 14);
        let [tasks, replan] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Min(3), Constraint::Length(replan_h)])
            .areas(left);
        (tasks, replan, right)
    } else {
        let replan_h = if body.height >= 16 { 4 } else { 0 };
        let rest = body.height.saturating_sub(replan_h);
        let tasks_h = (rest * 9 / 20).max(3);
        let [tasks, panes, replan] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(tasks_h),
                Constraint::Min(3),
                Constraint::Length(replan_h),
            ])
            .areas(body);
        (tasks, replan, panes)
    };
    let ids = match ui.zoom {
        Some(z) => vec![z],
        None => pane_ids(ui),
    };
    let (panes, hidden_panes) = tile(panes_area, &ids, selected_pane(ui, &ids));
    MainLayout {
        header,
        tasks,
        replan,
        panes,
        hidden_panes,
        footer,
    }
}

/// The pane the person is on: the chosen one, else the selected subtask's, else the first.
pub fn selected_pane(ui: &Ui, ids: &[Option<SubtaskId>]) -> Option<Option<SubtaskId>> {
    if let Some(p) = ui.pane_selected
        && ids.contains(&p)
    {
        return Some(p);
    }
    if let Some(id) = ui.selected_subtask()
        && ids.contains(&Some(id))
    {
        return Some(Some(id));
    }
    ids.first().copied()
}

/// Lays out `ids` in `area`: stacked while each gets `MIN_PANE_HEIGHT`, then two columns
/// when wide enough, and the rest hidden (the selected pane always shows).
fn tile(
    area: Rect,
    ids: &[Option<SubtaskId>],
    selected: Option<Option<SubtaskId>>,
) -> (Vec<(Option<SubtaskId>, Rect)>, usize) {
    if ids.is_empty() || area.height == 0 {
        return (Vec::new(), ids.len());
    }
    let cols: u16 = if ids.len() as u16 * MIN_PANE_HEIGHT > area.height && area.width >= 90 {
        2
    } else {
        1
    };
    let rows_fit = (area.height / MIN_PANE_HEIGHT).max(1) as usize;
    let capacity = rows_fit * cols as usize;
    let mut shown: Vec<Option<SubtaskId>> = ids.iter().copied().take(capacity).collect();
    if let Some(sel) = selected
        && !shown.contains(&sel)
        && let Some(last) = shown.last_mut()
    {
        *last = sel;
    }
    let hidden = ids.len() - shown.len();
    let n = shown.len();
    let rows = n.div_ceil(cols as usize);
    let row_rects = Layout::default()
        .direction(Direction::Vertical)
        .constraints(vec![Constraint::Ratio(1, rows as u32); rows])
        .split(area);
    let mut out = Vec::with_capacity(n);
    let mut it = shown.into_iter();
    for (r, row_rect) in row_rects.iter().enumerate() {
        let in_row = if r + 1 == rows {
            n - r * cols as usize
        } else {
            cols as usize
        };
        let cells = Layout::default()
            .direction(Direction::Horizontal)
            .constraints(vec![Constraint::Ratio(1, in_row as u32); in_row])
            .split(*row_rect);
        for cell in cells.iter() {
            if let Some(id) = it.next() {
                out.push((id, *cell));
            }
        }
    }
    (out, hidden)
}

/// A centred rectangle for full-screen views with a margin.
pub fn inset(area: Rect, margin: u16) -> Rect {
    Rect::new(
        area.x + margin.min(area.width / 2),
        area.y,
        area.width.saturating_sub(2 * margin),
        area.height,
    )
}

/// Rows `lines` take once a paragraph wraps them at `width` (for clamping scroll).
pub fn wrapped_rows(lines: &[ratatui::text::Line], width: u16) -> usize {
    let w = width.max(1) as usize;
    lines.iter().map(|l| l.width().div_ceil(w).max(1)).sum()
}
