//! Command approval: a worker wants to run a shell command in the workspace. Allow once,
//! allow always (for this run), or deny with a reason the worker will read.
//!
//! Owns that dialog. Must not run or check commands (the tools layer does, through the engine).
//! Shows the exact command, every line of it, with control characters made visible (`\x1b`,
//! `\r`), and a SUSPICIOUS warning when it holds any: `touch X; \e[2K\r\e[1Agit status` must
//! not display as `git status`.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use tui_textarea::TextArea;

use super::{
    Choice, Modal, boxed, choices_line, frame_box, is_esc, is_submit, modal_width, pick, text_box,
    text_of,
};
use crate::protocol::{Command, CommandDecision, SubtaskId};
use crate::state::State;
use crate::text::is_suspicious;
use crate::tui::app::{Effect, NeedKey};
use crate::tui::safe;
use crate::tui::theme::{Theme, role_label};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Once,
    Always,
    Deny,
}

const CHOICES: &[Choice<Act>] = &[
    Choice {
        key: 'o',
        label: "allow once",
        action: Act::Once,
    },
    Choice {
        key: 'a',
        label: "allow always (this run)",
        action: Act::Always,
    },
    Choice {
        key: 'd',
        label: "deny…",
        action: Act::Deny,
    },
];

pub struct CommandApproval {
    request: u32,
    id: SubtaskId,
    command: String,
    cwd: String,
    reason: Option<TextArea<'static>>,
    done: bool,
}

impl CommandApproval {
    pub fn new(state: &State, request: u32) -> Option<Self> {
        let r = state
            .command_requests
            .iter()
            .find(|c| c.request == request)?;
        Some(Self {
            request,
            id: r.id,
            command: r.command.clone(),
            cwd: r.cwd.clone(),
            reason: None,
            done: false,
        })
    }

    fn send(&mut self, decision: CommandDecision) -> Vec<Effect> {
        self.done = true;
        vec![Effect::Send(Command::DecideCommand {
            request: self.request,
            decision,
        })]
    }
}

impl Modal for CommandApproval {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if let Some(t) = self.reason.as_mut() {
            if is_esc(&key) {
                self.reason = None;
                return Vec::new();
            }
            if key.code == KeyCode::Enter || is_submit(&key) {
                let mut reason = text_of(t);
                if reason.is_empty() {
                    reason = "denied by a person".to_string();
                }
                return self.send(CommandDecision::Deny { reason });
            }
            crate::tui::textbox::input(t, key);
            return Vec::new();
        }
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        match pick(CHOICES, &key) {
            Some(Act::Once) => self.send(CommandDecision::AllowOnce),
            Some(Act::Always) => self.send(CommandDecision::AllowAlways),
            Some(Act::Deny) => {
                self.reason = Some(text_box(
                    "why (the worker reads this); Enter or Ctrl-S to deny",
                ));
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn handle_paste(&mut self, text: &str) {
        if let Some(t) = self.reason.as_mut() {
            t.insert_str(text.replace('\n', " "));
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
        let suspicious = is_suspicious(&self.command);
        let (who, title) = state
            .subtask(self.id)
            .map(|s| {
                let worker = s
                    .worker
                    .map_or(String::new(), |w| format!("worker {} · ", w.0));
                (format!("{worker}{}", role_label(&s.role)), s.title.clone())
            })
            .unwrap_or_default();
        let mut lines = vec![
            Line::from(vec![
                Span::styled("Worker     ", theme.dim()),
                Span::raw(who),
            ]),
            Line::from(vec![
                Span::styled("Subtask    ", theme.dim()),
                Span::raw(format!("{} {title}", self.id)),
            ]),
            Line::from(vec![
                Span::styled("Directory  ", theme.dim()),
                Span::raw(self.cwd.clone()),
            ]),
        ];
        if suspicious {
            lines.push(Line::from(Span::styled(
                "SUSPICIOUS: the command holds control characters (shown as \\x1b, \\r, …) \
                 that could hide what it runs. Read all of it.",
                theme.error(),
            )));
        }
        // Every line of the command, each control character made visible: what is shown is
        // exactly what runs.
        for (i, part) in self.command.split('\n').enumerate() {
            let label = if i == 0 { "Command    " } else { "           " };
            lines.push(Line::from(vec![
                Span::styled(label, theme.dim()),
                Span::styled(part.to_string(), theme.bold()),
            ]));
        }
        let lines = safe::lines(lines);
        // Tall enough for all of the command (so nothing after a wrap is hidden), at least
        // the usual size; the screen clamps it.
        let width = modal_width(area);
        let inner_width = usize::from(width.saturating_sub(2)).max(1);
        let rows: usize = lines
            .iter()
            .map(|l| l.width().div_ceil(inner_width).max(1) + usize::from(l.width() > inner_width))
            .sum();
        let reason_rows: u16 = if self.reason.is_some() { 3 } else { 0 };
        let height = u16::try_from(rows + usize::from(reason_rows) + 4)
            .unwrap_or(u16::MAX)
            .max(13);
        let inner = frame_box(
            frame,
            area,
            width,
            height,
            "A worker wants to run a command",
            theme,
        );
        let [body, input, foot] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Min(3),
                Constraint::Length(reason_rows),
                Constraint::Length(1),
            ])
            .areas(inner);
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
        if let Some(t) = &self.reason {
            let mut t = t.clone();
            boxed(
                &mut t,
                "Reason for denying (Enter or Ctrl-S sends, Esc back)",
                true,
                theme,
            );
            crate::tui::textbox::render(frame, input, &t);
        }
        if self.reason.is_none() {
            frame.render_widget(
                Paragraph::new(choices_line(CHOICES, theme, &[("Esc", "later")])),
                foot,
            );
        }
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn need(&self) -> Option<NeedKey> {
        Some(NeedKey::Command(self.request))
    }

    fn typing(&self) -> bool {
        self.reason.is_some()
    }
}
