//! The footer: the keys that act on what is selected now, built from the keymap (so it
//! never drifts from behaviour), or a one-line message after an action.
//!
//! Owns that line only. Must not handle keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::app::Ui;
use super::input::{context, holds};
use super::keymap::Action;

/// The `(key, label)` pairs the footer offers now.
pub fn offered(ui: &Ui) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    for b in ui.keymap.bindings(context(ui)) {
        if b.footer.is_empty() || !holds(ui, b.when) {
            continue;
        }
        if out.iter().any(|(k, _)| *k == b.label) {
            continue;
        }
        out.push((b.label.clone(), b.footer));
    }
    // Help and quit always show, at the end.
    let keep_last = |a: &Action| matches!(a, Action::Help | Action::Quit);
    let last: Vec<_> = ui
        .keymap
        .bindings(context(ui))
        .filter(|b| keep_last(&b.action) && !b.footer.is_empty())
        .map(|b| (b.label.clone(), b.footer))
        .collect();
    out.retain(|p| !last.contains(p));
    out.extend(last);
    out
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let t = &ui.theme;
    if ui.dialog_held() {
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled(
                format!("{} just opened", t.symbol(super::theme::Mark::NeedsYou)),
                t.warn(),
            ),
            Span::styled(
                ": keys wait a moment (nothing typed before it lands here)",
                t.dim(),
            ),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    if let Some(msg) = &ui.flash {
        // Flash messages can quote model text (a notice, an error): sanitized.
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled(super::safe::string(msg), t.warn()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    if ui.prompt.is_some() {
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled("Enter", t.key()),
            Span::raw(" select  "),
            Span::styled("Esc", t.key()),
            Span::raw(" cancel  "),
            Span::styled("C-u", t.key()),
            Span::raw(" clear"),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    if ui.modal.is_some() {
        // Say what is true of the run behind the dialog (a finished run does not keep going).
        let behind = if ui.state.is_finished() {
            "the run has ended"
        } else if ui.state.waiting_for_person() {
            "the run waits for you behind this dialog"
        } else if ui.state.paused {
            "the run is paused behind this dialog"
        } else {
            "the run keeps going behind this dialog"
        };
        let line = Line::from(vec![
            Span::raw(" "),
            Span::styled(behind, t.dim()),
            Span::raw("  "),
            Span::styled("Esc", t.key()),
            Span::raw(" back / later"),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let items = offered(ui);
    let width = area.width as usize;
    let tail_n = 2.min(items.len());
    let (head, tail) = items.split_at(items.len() - tail_n);
    let w = |(k, l): &(String, &str)| k.width() + l.width() + 3;
    let tail_w: usize = tail.iter().map(w).sum();
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1 + tail_w;
    for item in head {
        if used + w(item) > width {
            break;
        }
        used += w(item);
        push(&mut spans, item, t);
    }
    for item in tail {
        push(&mut spans, item, t);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn push(spans: &mut Vec<Span<'static>>, (k, l): &(String, &str), t: &super::theme::Theme) {
    spans.push(Span::styled(k.clone(), t.key()));
    spans.push(Span::raw(format!(" {l}  ")));
}
