//! The replan log: one entry per cycle, newest first; collapsed to two lines (what changed,
//! scope then vs now), expanded to the rationale and the titles of what was added,
//! updated and cancelled. A balance warning (one role or worker holding 80 % or more of
//! the finished work, `state::balance`) heads the log while it holds, and each replan whose
//! context told the orchestrator so says it.
//!
//! Owns that view. Must not change anything.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{Focus, Ui};
use super::modals::wrap_words;
use crate::protocol::SubtaskId;
use crate::state::ReplanEntry;

fn ids(v: &[SubtaskId]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `after #8: +2 (#10 #11) ~1 -1`
pub fn summary_line(e: &ReplanEntry) -> String {
    let mut s = if e.covered.is_empty() {
        "replan".to_string()
    } else {
        format!("after {}", ids(&e.covered))
    };
    s.push(':');
    if !e.added.is_empty() {
        s.push_str(&format!(" +{} ({})", e.added.len(), ids(&e.added)));
    }
    if !e.updated.is_empty() {
        s.push_str(&format!(" ~{} ({})", e.updated.len(), ids(&e.updated)));
    }
    if !e.cancelled.is_empty() {
        s.push_str(&format!(" cancel {}", ids(&e.cancelled)));
    }
    if e.added.is_empty() && e.updated.is_empty() && e.cancelled.is_empty() {
        s.push_str(" no change");
    }
    s
}

pub fn entry_lines(ui: &Ui, e: &ReplanEntry, expanded: bool, width: usize) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let mut out = vec![Line::from(vec![
        Span::styled(format!("{:<3}", e.cycle), t.accent()),
        Span::raw(summary_line(e)),
    ])];
    let scope = format!(
        "   scope {} {} {}{}",
        e.estimate_before,
        t.glyph("→"),
        e.estimate_now,
        if e.scope_note.is_empty() {
            String::new()
        } else {
            format!(": {}", e.scope_note)
        }
    );
    let scope = if expanded {
        scope
    } else {
        crate::text::fit(&scope, width)
    };
    out.push(Line::from(Span::styled(scope, t.dim())));
    out.extend(balance_told(ui, e, width));
    if expanded {
        for l in wrap_words(&e.summary, width.saturating_sub(3).max(10)) {
            out.push(Line::from(format!("   {l}")));
        }
        let named = |label: &str, v: &[SubtaskId]| -> Vec<Line<'static>> {
            v.iter()
                .map(|id| {
                    let title = ui
                        .state
                        .subtask(*id)
                        .map(|s| s.title.clone())
                        .unwrap_or_default();
                    Line::from(format!("   {label} {id} {title}"))
                })
                .collect()
        };
        out.extend(named("+", &e.added));
        out.extend(named("~", &e.updated));
        out.extend(named(t.symbol(super::theme::Mark::Cancelled), &e.cancelled));
    }
    out
}

/// The balance change journaled just before replan `e` (its context carried it).
fn balance_told(ui: &Ui, e: &ReplanEntry, width: usize) -> Option<Line<'static>> {
    let st = &ui.state;
    let index = st.replan_log.iter().position(|r| r.cycle == e.cycle)?;
    let (_, change) = st
        .outlook
        .balance_log
        .iter()
        .rev()
        .find(|(before, _)| usize::try_from(*before).ok() == Some(index))?;
    let text = match change {
        Some(i) => format!("   ! told: {}", crate::state::balance::describe(i)),
        None => "   balanced again".to_string(),
    };
    Some(Line::from(Span::styled(
        crate::text::fit(&text, width),
        ui.theme.warn(),
    )))
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    if area.height == 0 {
        return;
    }
    let t = &ui.theme;
    let focused = ui.focus == Focus::Replan && ui.zoom.is_none();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(focused))
        .title(Span::styled(" Replan log ", t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let log = &ui.state.replan_log;
    if log.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "no replans yet: one after each worker report",
                t.dim(),
            )),
            inner,
        );
        return;
    }
    let width = inner.width as usize;
    let mut lines = Vec::new();
    if let Some(i) = &ui.state.outlook.imbalance {
        let text = format!("! {}", crate::state::balance::describe(i));
        lines.push(Line::from(Span::styled(
            crate::text::fit(&text, width),
            t.warn(),
        )));
    }
    let sel = ui.replan_selected.min(log.len() - 1);
    let mut sel_line = 0;
    for (i, e) in log.iter().rev().enumerate() {
        let expanded = ui.replan_expanded.contains(&e.cycle);
        let mut ls = entry_lines(ui, e, expanded, width);
        if i == sel {
            sel_line = lines.len();
            if focused && let Some(first) = ls.first_mut() {
                *first = first.clone().style(t.selected());
            }
        }
        lines.append(&mut ls);
    }
    let h = inner.height as usize;
    let offset = (sel_line + 2).saturating_sub(h);
    frame.render_widget(
        Paragraph::new(super::safe::lines(lines))
            .wrap(Wrap { trim: false })
            .scroll((offset as u16, 0)),
        inner,
    );
}
