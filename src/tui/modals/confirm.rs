//! A yes/no question before a destructive decision (cancel a subtask).
//!
//! Owns only the question and the command it sends on "yes". Must not send anything on "no".

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::{Choice, Modal, choices_line, frame_box, is_esc, modal_width, pick};
use crate::protocol::Command;
use crate::state::{State, Subtask};
use crate::tui::app::Effect;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Yes,
    No,
}

const CHOICES: &[Choice<Answer>] = &[
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

pub struct Confirm {
    title: String,
    question: String,
    command: Command,
    done: bool,
}

impl Confirm {
    pub fn cancel(s: &Subtask) -> Self {
        Self {
            title: format!("Cancel {}", s.id),
            question: format!(
                "Cancel {} \"{}\"? A running worker is stopped; subtasks that depend on it cannot run.",
                s.id, s.title
            ),
            command: Command::Cancel { id: s.id },
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
                vec![Effect::Send(self.command.clone())]
            }
            Some(Answer::No) => {
                self.done = true;
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, _state: &State, theme: &Theme) {
        let inner = frame_box(
            frame,
            area,
            modal_width(area).min(70),
            7,
            &self.title,
            theme,
        );
        let lines = vec![
            Line::from(self.question.clone()),
            Line::from(""),
            choices_line(CHOICES, theme, &[]),
        ];
        frame.render_widget(
            Paragraph::new(crate::tui::safe::lines(lines)).wrap(Wrap { trim: false }),
            inner,
        );
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}
