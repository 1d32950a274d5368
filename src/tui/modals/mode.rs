//! The complexity gate: the task looks simple; orchestrate anyway, or run one worker?
//!
//! Owns that choice. Must not judge complexity (the analysis did; the engine asks).

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::{Choice, Modal, choices_line, frame_box, is_esc, modal_width, pick};
use crate::protocol::{Command, RunMode};
use crate::state::State;
use crate::tui::app::{Effect, NeedKey};
use crate::tui::theme::Theme;

const CHOICES: &[Choice<RunMode>] = &[
    Choice {
        key: 'o',
        label: "orchestrate (plan, several workers)",
        action: RunMode::Orchestrate,
    },
    Choice {
        key: 's',
        label: "single worker",
        action: RunMode::SingleWorker,
    },
];

pub struct ModeChoice {
    complexity: f64,
    threshold: f64,
    done: bool,
}

impl ModeChoice {
    pub fn new(state: &State) -> Option<Self> {
        let (complexity, threshold) = state.mode_choice?;
        Some(Self {
            complexity,
            threshold,
            done: false,
        })
    }
}

impl Modal for ModeChoice {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        match pick(CHOICES, &key) {
            Some(mode) => {
                self.done = true;
                vec![Effect::Send(Command::ChooseMode { mode })]
            }
            None => Vec::new(),
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
        let inner = frame_box(
            frame,
            area,
            modal_width(area).min(84),
            12,
            "Simple task: how should it run?",
            theme,
        );
        let mut lines = vec![Line::from(format!(
            "The orchestrator rates the task's complexity {:.2}, below the threshold {:.2}.",
            self.complexity, self.threshold
        ))];
        if let Some(a) = &state.analysis {
            lines.push(Line::from(format!(
                "Type: {} · estimated subtasks: {}",
                a.task_type, a.estimated_subtasks
            )));
            lines.push(Line::from(format!("Strategy: {}", a.strategy)));
        }
        lines.push(Line::from(
            "A single worker is quicker and cheaper; orchestration plans, splits and reviews.",
        ));
        lines.push(Line::from(""));
        lines.push(choices_line(CHOICES, theme, &[("Esc", "later")]));
        frame.render_widget(
            Paragraph::new(crate::tui::safe::lines(lines)).wrap(Wrap { trim: false }),
            inner,
        );
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn need(&self) -> Option<NeedKey> {
        Some(NeedKey::Mode)
    }
}
