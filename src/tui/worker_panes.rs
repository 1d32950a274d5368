//! Worker panes: one per running worker (and the orchestrator's while it thinks), streaming
//! text and tool calls, each following its tail unless the person scrolled it up.
//!
//! Owns how a pane looks. Lays out only the visible lines (the buffer does the wrapping
//! from the bottom up). Must not change buffers or scroll positions.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{Focus, Ui};
use super::layout::{MainLayout, pane_ids, selected_pane};
use super::output::{LineKind, PaneBuffer};
use super::theme::role_label;
use crate::protocol::SubtaskId;
use crate::text::fit;

fn title(ui: &Ui, id: Option<SubtaskId>, buf: Option<&PaneBuffer>, width: usize) -> String {
    let t = &ui.theme;
    let mut s = match id.and_then(|id| ui.state.subtask(id)) {
        Some(st) => {
            let mut s = format!(" {} {} · {}", st.id, role_label(&st.role), st.title);
            if st.attempts > 1 {
                s.push_str(&format!(" · try {}", st.attempts));
            }
            if st.status != crate::state::SubtaskStatus::Running {
                s.push_str(&format!(" · {}", st.status.label()));
            }
            if ui.state.worker_paused(st.id) {
                s.push_str(" · ⏸ PAUSED");
            }
            s
        }
        None => format!(" orchestrator · {}", ui.state.phase),
    };
    if let Some(n) = buf.and_then(|b| b.scroll) {
        s.push_str(&format!(" · {}{n} frozen, G follows", t.glyph("↑")));
    }
    s.push(' ');
    fit(&s, width.saturating_sub(2))
}

fn style(ui: &Ui, kind: LineKind) -> Style {
    let t = &ui.theme;
    match kind {
        LineKind::Text => Style::default(),
        LineKind::ToolCall => t.accent(),
        LineKind::ToolResult => t.dim(),
        LineKind::ToolError => t.error(),
        LineKind::Retry => t.warn(),
    }
}

pub fn render_pane(
    frame: &mut Frame,
    rect: Rect,
    ui: &Ui,
    id: Option<SubtaskId>,
    selected: bool,
    extra: &str,
) {
    let t = &ui.theme;
    let buf = ui.outputs.pane(id);
    let focused = selected && (ui.focus == Focus::Panes || ui.zoom.is_some());
    let mut name = title(ui, id, buf, rect.width as usize);
    if !extra.is_empty() {
        name = fit(
            &format!("{}{extra} ", name.trim_end()),
            rect.width.saturating_sub(2) as usize,
        );
    }
    let border = if focused {
        t.border(true)
    } else if selected {
        t.accent()
    } else {
        t.dim()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(
            name,
            if selected { t.title() } else { t.bold() },
        ));
    let mut inner = block.inner(rect);
    frame.render_widget(block, rect);
    // A person's steering (paused, a note, an edited brief) on top of the pane's text.
    // Small panes keep one row of the worker's text.
    let mut steer = id.map_or_else(Vec::new, |id| {
        super::steer_view::lines(ui, id, inner.width as usize)
    });
    steer.truncate(inner.height.saturating_sub(1) as usize);
    if !steer.is_empty() {
        let n = steer.len() as u16;
        let top = Rect { height: n, ..inner };
        frame.render_widget(Paragraph::new(steer), top);
        inner = Rect {
            y: inner.y + n,
            height: inner.height - n,
            ..inner
        };
    }
    let rows = buf
        .map(|b| b.visible(inner.width, inner.height))
        .unwrap_or_default();
    if let Some(b) = buf.filter(|_| ui.modal.is_none()) {
        let (above, below) = b.hidden(inner.width, inner.height);
        super::scroll_hint::render_on_border(frame, rect, above, below, t);
    }
    if rows.iter().all(|(_, s)| s.is_empty()) {
        let msg = match id {
            Some(_) => "waiting for the model's first words…",
            None => "the orchestrator is waiting for workers' reports",
        };
        frame.render_widget(Paragraph::new(Span::styled(msg, t.dim())), inner);
        return;
    }
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|(kind, text)| Line::from(Span::styled(text, style(ui, kind))))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn render(frame: &mut Frame, layout: &MainLayout, ui: &Ui) {
    let ids = pane_ids(ui);
    let sel = match ui.zoom {
        Some(z) => Some(z),
        None => selected_pane(ui, &ids),
    };
    let n = layout.panes.len();
    for (i, (id, rect)) in layout.panes.iter().enumerate() {
        let extra = if i + 1 == n && layout.hidden_panes > 0 {
            format!(" · +{} more (Tab, ←→)", layout.hidden_panes)
        } else {
            String::new()
        };
        render_pane(frame, *rect, ui, *id, sel == Some(*id), &extra);
    }
}
