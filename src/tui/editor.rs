//! The task editor shown by `baton` with no task: a multi-line text box (paste works), and
//! what the run will use (provider, model, workspace, approval policy) before it starts.
//!
//! Owns that screen. Must not start anything itself: submitting is `Effect::StartRun`.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use tui_textarea::TextArea;

use super::app::{Effect, Ui};
use super::input::is_ctrl_c;
use super::modals::{boxed, is_esc, is_submit, text_box, text_of};

pub fn new_editor() -> TextArea<'static> {
    text_box("Describe the task: what to build, analyse or write. Several lines are fine.")
}

pub fn on_key(ui: &mut Ui, key: KeyEvent) -> Vec<Effect> {
    if is_ctrl_c(&key) || is_esc(&key) {
        return vec![Effect::Quit];
    }
    if is_submit(&key) {
        let task = text_of(&ui.editor);
        if task.is_empty() {
            ui.flash = Some("write the task first (Esc quits)".to_string());
            return Vec::new();
        }
        ui.screen = super::app::Screen::Main;
        return vec![Effect::StartRun(task)];
    }
    super::textbox::input(&mut ui.editor, key);
    Vec::new()
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let t = &ui.theme;
    let info = &ui.info;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(" Baton · new run ", t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let banner_h = if info.banner.is_some() { 2 } else { 0 };
    let [banner, settings, editor, foot] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(banner_h),
            Constraint::Length(5),
            Constraint::Min(4),
            Constraint::Length(1),
        ])
        .areas(inner);
    if let Some(text) = &info.banner {
        frame.render_widget(
            Paragraph::new(Span::styled(text.clone(), t.warn())).wrap(Wrap { trim: true }),
            banner,
        );
    }
    let row = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!(" {name:<12}"), t.dim()),
            Span::raw(value),
        ])
    };
    let model = if info.worker_model.is_empty() || info.worker_model == info.model {
        info.model.clone()
    } else {
        format!(
            "{} (orchestrator) · {} (workers)",
            info.model, info.worker_model
        )
    };
    let lines = vec![
        row("Provider", info.provider.clone()),
        row("Model", model),
        row(
            "Workspace",
            info.workspace.clone().unwrap_or_else(|| {
                "none (workers write text only; --workspace DIR to let them edit files)".to_string()
            }),
        ),
        row(
            "Approval",
            format!(
                "{} · up to {} workers at once",
                info.approve, info.max_workers
            ),
        ),
    ];
    frame.render_widget(Paragraph::new(lines), settings);
    let mut e = ui.editor.clone();
    boxed(&mut e, "Task", true, t);
    super::textbox::render(frame, editor, &e);
    let foot_line = match &ui.flash {
        Some(m) => Line::from(Span::styled(format!(" {m}"), t.warn())),
        None => Line::from(vec![
            Span::raw(" "),
            Span::styled("Ctrl-S", t.key()),
            Span::raw(" (or Alt-Enter) start the run  "),
            Span::styled("Enter", t.key()),
            Span::raw(" new line  "),
            Span::styled("Esc", t.key()),
            Span::raw(" quit"),
        ]),
    };
    frame.render_widget(Paragraph::new(foot_line), foot);
}
