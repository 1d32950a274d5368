//! A yes/no question before a destructive decision (cancel a subtask, approve every waiting
//! subtask), listing what the decision touches so the person sees it before saying yes.
//!
//! Owns only the question, its list and the commands it sends on "yes". Must not send
//! anything on "no". [`Question`] is the same question as data, for dialogs that ask it
//! inside themselves (the escalation's cancel and retry without guidance).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Choice, Modal, choices_line, frame_box, is_esc, modal_width, pick};
use crate::protocol::{Command, SubtaskId};
use crate::state::{State, Subtask, SubtaskStatus};
use crate::text::one_line;
use crate::tui::app::Effect;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    Yes,
    No,
}

pub const CHOICES: &[Choice<Answer>] = &[
    Choice {
        key: 'y',
        label: "yes",
        action: Answer::Yes,
    },
    Choice {
        key: 'n',
        label: "no",
        action: Answer::No,
    },
];

/// At most this many rows of "what it touches"; the rest is counted.
const LIST_MAX: usize = 8;

/// A question and the subtasks it touches.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    /// One line per thing touched (`#6 Write the test suite (waiting)`).
    pub touches: Vec<String>,
}

impl Question {
    /// Cancelling `s`: it, and the unfinished subtasks that wait on it.
    pub fn cancel(state: &State, s: &Subtask) -> Self {
        let dependents = state.open_dependents(s.id);
        let text = if dependents.is_empty() {
            format!(
                "Cancel {}? A running worker is stopped; nothing waits on it.",
                s.id
            )
        } else {
            format!(
                "Cancel {}? A running worker is stopped, and {} subtask{} waiting on it cannot run:",
                s.id,
                dependents.len(),
                if dependents.len() == 1 { "" } else { "s" }
            )
        };
        Self {
            text,
            touches: std::iter::once(s.id)
                .chain(dependents)
                .filter_map(|id| row(state, id))
                .collect(),
        }
    }

    /// The lines of the question, the list and the choices, for a box `width` wide.
    pub fn lines(&self, width: usize, theme: &Theme) -> Vec<Line<'static>> {
        let mut lines = vec![Line::from(self.text.clone()), Line::from("")];
        for t in self.touches.iter().take(LIST_MAX) {
            lines.push(Line::from(vec![
                Span::styled(format!("  {} ", theme.glyph("·")), theme.dim()),
                Span::raw(one_line(t, width.saturating_sub(4))),
            ]));
        }
        if self.touches.len() > LIST_MAX {
            lines.push(Line::from(Span::styled(
                format!("  and {} more", self.touches.len() - LIST_MAX),
                theme.dim(),
            )));
        }
        if !self.touches.is_empty() {
            lines.push(Line::from(""));
        }
        lines.push(choices_line(CHOICES, theme, &[("Esc", "no")]));
        lines
    }

    /// Rows the question needs.
    pub fn height(&self) -> u16 {
        let list = self.touches.len().min(LIST_MAX + 1);
        (4 + list + usize::from(!self.touches.is_empty())) as u16
    }
}

/// `#6 Write the test suite (waiting on dependencies)`.
fn row(state: &State, id: SubtaskId) -> Option<String> {
    state
        .subtask(id)
        .map(|s| format!("{} {} ({})", s.id, s.title, s.status.label()))
}

pub struct Confirm {
    title: String,
    question: Question,
    commands: Vec<Command>,
    done: bool,
}

impl Confirm {
    pub fn cancel(state: &State, s: &Subtask) -> Self {
        Self {
            title: format!("Cancel {}", s.id),
            question: Question::cancel(state, s),
            commands: vec![Command::Cancel { id: s.id }],
            done: false,
        }
    }

    /// `A`: every subtask waiting for approval starts (or queues) at once.
    pub fn approve_all(state: &State) -> Self {
        let ids: Vec<SubtaskId> = state
            .subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::AwaitingApproval)
            .map(|s| s.id)
            .collect();
        Self {
            title: "Approve all".to_string(),
            question: Question {
                text: format!(
                    "Approve {} subtask{} waiting for approval? They run as workers free up:",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" }
                ),
                touches: ids.iter().filter_map(|id| row(state, *id)).collect(),
            },
            commands: vec![Command::ApproveAll],
            done: false,
        }
    }
}

impl Modal for Confirm {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        match pick(CHOICES, &key) {
            Some(Answer::Yes) => {
                self.done = true;
                self.commands.iter().cloned().map(Effect::Send).collect()
            }
            Some(Answer::No) => {
                self.done = true;
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, _state: &State, theme: &Theme) {
        let width = modal_width(area).min(76);
        let inner = frame_box(
            frame,
            area,
            width,
            self.question.height() + 3,
            &self.title,
            theme,
        );
        let lines = self.question.lines(inner.width as usize, theme);
        frame.render_widget(
            Paragraph::new(crate::tui::safe::lines(lines)).wrap(Wrap { trim: false }),
            inner,
        );
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}
