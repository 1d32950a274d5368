//! The `?` help: every binding of every context, from the keymap itself.
//!
//! Owns the help screen's layout. Must not list keys by hand (they come from `keymap`),
//! except the text-box keys, which belong to tui-textarea and the modals.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::Ui;
use super::keymap::{CONTEXTS, bindings};
use super::theme::Mark;

pub fn lines(ui: &Ui) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let mut out = Vec::new();
    out.push(Line::from(Span::styled("Symbols", t.title())));
    let marks = [
        (Mark::NeedsYou, "needs you (approve, resolve)"),
        (Mark::Running, "running"),
        (Mark::Waiting, "waiting on dependencies (← #n)"),
        (Mark::Queued, "ready, waiting for a free worker"),
        (Mark::Done, "done"),
        (Mark::Partial, "partly done"),
        (
            Mark::Failed,
            "failed or blocked (the orchestrator decides a recovery)",
        ),
        (Mark::Deferred, "deferred (u un-defers)"),
        (Mark::Cancelled, "cancelled"),
    ];
    for (m, what) in marks {
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(t.symbol(m).to_string(), t.mark_style(m)),
            Span::raw(format!("  {what}")),
        ]));
    }
    for (ctx, title) in CONTEXTS {
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(title.to_string(), t.title())));
        let mut seen: Vec<&str> = Vec::new();
        for b in bindings(*ctx) {
            if seen.contains(&b.description) {
                continue;
            }
            seen.push(b.description);
            let keys: Vec<String> = b.keys.iter().map(key_name).collect();
            out.push(Line::from(vec![
                Span::styled(format!("  {:<14}", keys.join(" ")), t.key()),
                Span::raw(b.description.to_string()),
            ]));
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(
        "Text boxes (task editor, guidance, forms)",
        t.title(),
    )));
    for (k, what) in [
        (
            "Ctrl-S",
            "submit (also Alt-Enter; Ctrl-Enter where the terminal reports it)",
        ),
        ("Tab", "next field / back to the choices"),
        ("Esc", "back (nothing is sent)"),
        ("Ctrl-Z Ctrl-Y", "undo / redo"),
        ("paste", "pastes as text (bracketed paste)"),
    ] {
        out.push(Line::from(vec![
            Span::styled(format!("  {k:<14}"), t.key()),
            Span::raw(what.to_string()),
        ]));
    }
    out
}

fn key_name(k: &super::keymap::Key) -> String {
    use crossterm::event::{KeyCode, KeyModifiers};
    let base = match k.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "Enter".to_string(),
        KeyCode::Esc => "Esc".to_string(),
        KeyCode::Tab => "Tab".to_string(),
        KeyCode::BackTab => "S-Tab".to_string(),
        KeyCode::Up => "↑".to_string(),
        KeyCode::Down => "↓".to_string(),
        KeyCode::Left => "←".to_string(),
        KeyCode::Right => "→".to_string(),
        KeyCode::PageUp => "PgUp".to_string(),
        KeyCode::PageDown => "PgDn".to_string(),
        KeyCode::Home => "Home".to_string(),
        KeyCode::End => "End".to_string(),
        KeyCode::Backspace => "Bksp".to_string(),
        other => format!("{other:?}"),
    };
    if k.mods.contains(KeyModifiers::CONTROL) {
        format!("C-{base}")
    } else {
        base
    }
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(ui.theme.border(true))
        .title(Span::styled(" Keys · Esc closes ", ui.theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let all = lines(ui);
    let max = all.len().saturating_sub(inner.height as usize) as u16;
    frame.render_widget(
        Paragraph::new(all).scroll((ui.help_scroll.min(max), 0)),
        inner,
    );
}
