//! The message log (`m`): every notice and message the footer showed, with the time, oldest
//! first, so one that vanished after a few seconds can still be read.
//!
//! Owns that overlay. Must not change anything; the list itself is kept by `app::update`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::Ui;

/// The log's lines (one per message; long ones wrap when drawn).
pub fn lines(ui: &Ui) -> Vec<Line<'static>> {
    let t = &ui.theme;
    if ui.messages.is_empty() {
        return vec![Line::from(Span::styled(
            "no messages yet: notices from the run and results of your actions appear here",
            t.dim(),
        ))];
    }
    ui.messages
        .iter()
        .map(|(at, m)| {
            Line::from(vec![
                Span::styled(format!("{} ", at.format("%H:%M:%S")), t.dim()),
                Span::raw(m.clone()),
            ])
        })
        .collect()
}

/// The furthest the log scrolls in a box `height` rows high (the newest message at the bottom).
pub fn max_scroll(ui: &Ui, height: u16) -> u16 {
    let n = u16::try_from(lines(ui).len()).unwrap_or(u16::MAX);
    n.saturating_sub(height)
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let title = format!(" Messages · {} · Esc closes ", ui.messages.len());
    let max = max_scroll(ui, area.height.saturating_sub(2));
    let text = Paragraph::new(lines(ui)).wrap(Wrap { trim: false });
    super::help::scrolled_box(frame, area, &title, text, ui.log_scroll, max, &ui.theme);
}
