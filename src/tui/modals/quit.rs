//! Quitting while the run is live: say that it stays resumable and how to reopen it.
//!
//! Owns only that question. Must not stop anything itself: "quit" is an effect the runtime
//! carries out (it stops the engine gracefully, then restores the terminal).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Choice, Modal, choices_line, frame_box, is_esc, modal_width, pick};
use crate::state::State;
use crate::tui::app::Effect;
use crate::tui::input::is_ctrl_c;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Quit,
    Stay,
}

const CHOICES: &[Choice<Answer>] = &[
    Choice {
        key: 'q',
        label: "quit now",
        action: Answer::Quit,
    },
    Choice {
        key: 's',
        label: "stay",
        action: Answer::Stay,
    },
];

pub struct QuitModal {
    run_id: String,
    done: bool,
}

impl QuitModal {
    pub fn new(run_id: &str) -> Self {
        Self {
            run_id: run_id.to_string(),
            done: false,
        }
    }
}

impl Modal for QuitModal {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if is_ctrl_c(&key) || key.code == crossterm::event::KeyCode::Char('y') {
            self.done = true;
            return vec![Effect::Quit];
        }
        if is_esc(&key) || key.code == crossterm::event::KeyCode::Char('n') {
            self.done = true;
            return Vec::new();
        }
        match pick(CHOICES, &key) {
            Some(Answer::Quit) => {
                self.done = true;
                vec![Effect::Quit]
            }
            Some(Answer::Stay) => {
                self.done = true;
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
        let inner = frame_box(
            frame,
            area,
            modal_width(area).min(72),
            9,
            "Quit while the run is live?",
            theme,
        );
        let running = state.running().count();
        let lines = vec![
            Line::from(format!(
                "The run stops now ({running} worker(s) interrupted) and stays resumable: nothing done is lost."
            )),
            Line::from(vec![
                Span::raw("Reopen it with  "),
                Span::styled(format!("baton resume {}", self.run_id), theme.key()),
            ]),
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

    fn takes_ctrl_c(&self) -> bool {
        true
    }
}
