//! Drawing: `draw(frame, &Ui)` puts the current screen together. Read-only: it cannot
//! change the `Ui` (views take `&Ui`), so drawing never alters state.
//!
//! Owns which parts make up each screen. Each part draws itself in its own file. The
//! finished frame passes `safe::scrub`, so no control character reaches the terminal.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};

use super::app::{Screen, Ui};
use super::layout::main_layout;
use super::{detail, editor, footer, header, help, replan_log, synthesis, task_list, worker_panes};

/// Header, body and footer rows.
pub fn frame_areas(area: Rect) -> (Rect, Rect, Rect) {
    let [h, b, f] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(2),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area);
    (h, b, f)
}

pub fn draw(frame: &mut Frame, ui: &Ui) {
    let area = frame.area();
    if area.width < 20 || area.height < 6 {
        frame.render_widget(
            ratatui::widgets::Paragraph::new("Baton: the terminal is too small"),
            area,
        );
        return;
    }
    let (head, body, foot) = frame_areas(area);
    match ui.screen {
        Screen::Editor => editor::render(frame, area, ui),
        Screen::Main => {
            header::render(frame, head, ui);
            match ui.zoom {
                Some(id) => worker_panes::render_pane(frame, body, ui, id, true, ""),
                None => {
                    let l = main_layout(area, ui);
                    task_list::render(frame, l.tasks, ui);
                    replan_log::render(frame, l.replan, ui);
                    worker_panes::render(frame, &l, ui);
                }
            }
            footer::render(frame, foot, ui);
        }
        Screen::Detail(id) => {
            header::render(frame, head, ui);
            detail::render(frame, body, ui, id);
            footer::render(frame, foot, ui);
        }
        Screen::Diff(id) => {
            header::render(frame, head, ui);
            super::changes::render(frame, body, ui, id);
            footer::render(frame, foot, ui);
        }
        Screen::Synthesis => {
            header::render(frame, head, ui);
            synthesis::render(frame, body, ui);
            footer::render(frame, foot, ui);
        }
        Screen::Graph => {
            header::render(frame, head, ui);
            super::graph::render(frame, body, ui);
            footer::render(frame, foot, ui);
        }
    }
    if ui.log {
        super::message_log::render(frame, body, ui);
    }
    if ui.help {
        help::render(frame, body, ui);
    }
    super::finder::render(frame, body, ui);
    if let Some(m) = &ui.modal {
        m.render(frame, area, &ui.state, &ui.theme);
    }
    // Views sanitize the text they draw; this net catches anything that slipped through.
    super::safe::scrub(frame.buffer_mut());
    if ui.theme.ascii {
        super::theme::to_ascii(frame.buffer_mut());
    }
}
