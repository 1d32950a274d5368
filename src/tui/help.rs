//! The `?` help, from the keymap itself: the keys of where you are first, then the symbols,
//! then what the other places add (each key and meaning listed once, never repeated).
//!
//! Owns the help screen's layout. Must not list keys by hand (they come from `keymap`),
//! except the text-box keys, which belong to tui-textarea and the modals.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::Ui;
use super::keymap::{CONTEXTS, Context, Key};
use super::theme::Mark;

pub fn lines(ui: &Ui) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let mut out = Vec::new();
    let mut seen: Vec<(String, &str)> = Vec::new();
    let here = CONTEXTS
        .iter()
        .find(|(c, _)| *c == ui.help_from)
        .map_or("", |(_, title)| title);
    out.push(Line::from(Span::styled(
        format!("Keys here: {here}"),
        t.title(),
    )));
    section(ui, ui.help_from, &mut seen, &mut out);
    out.push(Line::from(""));
    out.push(Line::from(Span::styled("Symbols", t.title())));
    let marks = [
        (Mark::NeedsYou, "needs you (approve, resolve)"),
        (Mark::Running, "running"),
        (
            Mark::Interrupted,
            "interrupted: was running when the run ended (a resume runs it again)",
        ),
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
        if *ctx == ui.help_from || *ctx == Context::Help {
            continue;
        }
        let mut lines = Vec::new();
        section(ui, *ctx, &mut seen, &mut lines);
        if lines.is_empty() {
            continue;
        }
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(
            format!("{title}: also"),
            t.title(),
        )));
        out.extend(lines);
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
        (
            "paste",
            "pastes as text, line breaks kept (bracketed paste)",
        ),
    ] {
        out.push(Line::from(vec![
            Span::styled(format!("  {k:<14}"), t.key()),
            Span::raw(what.to_string()),
        ]));
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(
        "Plan diff dialog (--approve plan)",
        t.title(),
    )));
    for (k, what) in super::modals::plan_diff::HELP {
        out.push(Line::from(vec![
            Span::styled(format!("  {k:<14}"), t.key()),
            Span::raw(what.to_string()),
        ]));
    }
    out
}

/// The bindings of one context not listed yet (each key and meaning once in the whole help).
fn section(
    ui: &Ui,
    ctx: Context,
    seen: &mut Vec<(String, &'static str)>,
    out: &mut Vec<Line<'static>>,
) {
    let t = &ui.theme;
    for b in ui.keymap.bindings(ctx) {
        let keys: Vec<String> = b.keys.iter().map(|k| key_name(k, t)).collect();
        let keys = keys.join(" ");
        if seen.iter().any(|(k, d)| *k == keys && *d == b.description) {
            continue;
        }
        seen.push((keys.clone(), b.description));
        out.push(Line::from(vec![
            Span::styled(format!("  {keys:<14}"), t.key()),
            Span::raw(b.description.to_string()),
        ]));
    }
}

/// A key as help writes it (arrows as arrows unless the screen is ASCII).
fn key_name(k: &Key, t: &super::theme::Theme) -> String {
    use crossterm::event::KeyCode;
    let arrow = match k.code {
        KeyCode::Up => "↑",
        KeyCode::Down => "↓",
        KeyCode::Left => "←",
        KeyCode::Right => "→",
        _ => return k.name(),
    };
    if k.mods.is_empty() && !t.ascii {
        arrow.to_string()
    } else {
        k.name()
    }
}

/// The furthest help scrolls in a box `height` rows high.
pub fn max_scroll(ui: &Ui, height: u16) -> u16 {
    let n = u16::try_from(lines(ui).len()).unwrap_or(u16::MAX);
    n.saturating_sub(height)
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let title = " Keys · PgUp PgDn g G scroll · Esc closes ";
    let height = area.height.saturating_sub(2);
    let top = ui.help_scroll.min(max_scroll(ui, height));
    let text = Paragraph::new(lines(ui));
    scrolled_box(
        frame,
        area,
        title,
        text,
        top,
        max_scroll(ui, height),
        &ui.theme,
    );
}

/// An overlay box of text scrolled to `top` (of at most `max`), with the scroll hint.
pub fn scrolled_box(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    text: Paragraph<'_>,
    top: u16,
    max: u16,
    theme: &super::theme::Theme,
) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Span::styled(title.to_string(), theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let top = top.min(max);
    super::scroll_hint::render_on_border(frame, area, top as usize, (max - top) as usize, theme);
    frame.render_widget(text.scroll((top, 0)), inner);
}
