//! Modals: one small trait (handle a key, render, say when complete), choices as data, and
//! the factory that opens the right modal for what needs a person.
//!
//! Owns the shared modal shape (a centred box over the main screen, a row of choices).
//! Each modal lives in its own file. Must not change the run's state: a modal only returns
//! effects (commands for the engine) for `app::update` to carry out.

pub mod command;
pub mod confirm;
pub mod escalation;
pub mod fork;
pub mod mode;
pub mod plan_diff;
pub mod quit;
pub mod rollback;
pub mod scope;
pub mod steer;
pub mod subtask_form;
pub mod trust;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear};
use tui_textarea::TextArea;

use super::app::{Effect, NeedKey, RunInfo};
use super::theme::Theme;
use crate::state::State;

/// A dialog over the main screen. The run keeps streaming behind it.
pub trait Modal {
    /// Handles one key; returns the effects to carry out (usually commands).
    fn handle_key(&mut self, key: KeyEvent, state: &State) -> Vec<Effect>;
    /// Pasted text (bracketed paste); ignored by modals without a text box.
    fn handle_paste(&mut self, _text: &str) {}
    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme);
    /// Done: the app closes it. Closed without effects means "later" (dismissed).
    fn is_complete(&self) -> bool;
    /// The need this modal answers; when it is resolved elsewhere the modal closes.
    fn need(&self) -> Option<NeedKey> {
        None
    }
    /// A text box has the keyboard (so global keys are not taken from it).
    fn typing(&self) -> bool {
        false
    }
    /// Ctrl-C means something here (the quit dialog); elsewhere it asks to quit.
    fn takes_ctrl_c(&self) -> bool {
        false
    }
}

/// The modal that answers a need.
pub fn open_for(need: NeedKey, state: &State, info: &RunInfo) -> Option<Box<dyn Modal>> {
    let m: Box<dyn Modal> = match need {
        NeedKey::Mode => Box::new(mode::ModeChoice::new(state)?),
        NeedKey::Scope(alert) => Box::new(scope::ScopeAlertModal::new(state, alert)?),
        NeedKey::Escalation(id, _) => Box::new(escalation::EscalationModal::new(state, id, info)?),
        NeedKey::Command(request) => Box::new(command::CommandApproval::new(state, request)?),
        NeedKey::PlanDiff(p) => Box::new(plan_diff::PlanDiffModal::new(state, p)?),
        NeedKey::Approval(_) => return None,
    };
    Some(m)
}

/// One choice of a modal: key, label, what it means.
#[derive(Debug, Clone, Copy)]
pub struct Choice<A: Copy> {
    pub key: char,
    pub label: &'static str,
    pub action: A,
}

/// The choice a key picks (letters match either case).
pub fn pick<A: Copy>(choices: &[Choice<A>], key: &KeyEvent) -> Option<A> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    match key.code {
        KeyCode::Char(c) => choices
            .iter()
            .find(|ch| ch.key.eq_ignore_ascii_case(&c))
            .map(|ch| ch.action),
        _ => None,
    }
}

/// `[r] retry  [c] cancel` as a line.
pub fn choices_line<A: Copy>(
    choices: &[Choice<A>],
    theme: &Theme,
    extra: &[(&str, &str)],
) -> Line<'static> {
    let mut spans = Vec::new();
    for ch in choices {
        spans.push(Span::styled(format!("[{}]", ch.key), theme.key()));
        spans.push(Span::raw(format!(" {}  ", ch.label)));
    }
    for (k, label) in extra {
        spans.push(Span::styled(format!("[{k}]"), theme.key()));
        spans.push(Span::raw(format!(" {label}  ")));
    }
    Line::from(spans)
}

/// A centred box `width` x `height` (clamped to the screen), cleared, with a titled border.
pub fn frame_box(
    frame: &mut Frame,
    area: Rect,
    width: u16,
    height: u16,
    title: &str,
    theme: &Theme,
) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    let x = area.x + (area.width - w) / 2;
    let y = area.y + (area.height - h) / 2;
    let rect = Rect::new(x, y, w, h);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Plain)
        .border_style(theme.border(true))
        .title(Span::styled(format!(" {title} "), theme.title()));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    inner
}

/// Width of modals: most of the screen, at most 100 columns.
pub fn modal_width(area: Rect) -> u16 {
    area.width.saturating_sub(4).clamp(20, 100)
}

/// A text box as modals use it.
pub fn text_box(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_placeholder_text(placeholder.to_string());
    t.set_cursor_line_style(Style::default());
    t
}

/// A titled border around a text box; focused ones are bright.
pub fn boxed(t: &mut TextArea<'static>, title: &str, focused: bool, theme: &Theme) {
    t.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border(focused))
            .title(format!(" {title} ")),
    );
    let cursor = if focused {
        Style::default().add_modifier(ratatui::style::Modifier::REVERSED)
    } else {
        Style::default()
    };
    t.set_cursor_style(cursor);
}

/// The text of a text box, trimmed.
pub fn text_of(t: &TextArea<'_>) -> String {
    t.lines().join("\n").trim().to_string()
}

/// Is this the "submit the text" key? Ctrl-S, or Alt-Enter (Ctrl-Enter where the
/// terminal reports it).
pub fn is_submit(key: &KeyEvent) -> bool {
    match key.code {
        KeyCode::Char(c) => {
            c.eq_ignore_ascii_case(&'s') && key.modifiers.contains(KeyModifiers::CONTROL)
        }
        KeyCode::Enter => key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT),
        _ => false,
    }
}

pub fn is_esc(key: &KeyEvent) -> bool {
    key.code == KeyCode::Esc
}

/// Word-wrapped paragraph lines for modal bodies (no widgets needed).
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.lines() {
        let mut cur = String::new();
        for word in para.split_whitespace() {
            let wl = unicode_width::UnicodeWidthStr::width(word);
            let cl = unicode_width::UnicodeWidthStr::width(cur.as_str());
            if cl > 0 && cl + 1 + wl > width {
                out.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        out.push(cur);
    }
    out
}
