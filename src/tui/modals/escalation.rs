//! The escalation: a subtask the orchestrator (or a person) handed to the person. Shows what
//! failed, the worker's last output and the orchestrator's rationale; the person writes
//! guidance and retries with it, reassigns to another role, marks it done with a result
//! they type or paste, or cancels it.
//!
//! Owns that dialog and its text boxes. Must not requeue or complete anything itself: the
//! choice becomes `Command::Resolve`.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use tui_textarea::TextArea;

use super::confirm::{self, Question};
use super::{
    Choice, Modal, boxed, choices_line, frame_box, is_esc, is_submit, modal_width, pick, text_box,
    text_of,
};
use crate::protocol::{Command, Resolution, SubtaskId};
use crate::state::State;
use crate::text::one_line;
use crate::tui::app::{Effect, NeedKey, RunInfo};
use crate::tui::theme::{Theme, role_label};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Retry,
    Reassign,
    MarkDone,
    Cancel,
    Guidance,
}

const CHOICES: &[Choice<Act>] = &[
    Choice {
        key: 'r',
        label: "retry with guidance",
        action: Act::Retry,
    },
    Choice {
        key: 'a',
        label: "reassign…",
        action: Act::Reassign,
    },
    Choice {
        key: 'm',
        label: "mark done with my result…",
        action: Act::MarkDone,
    },
    Choice {
        key: 'c',
        label: "cancel it",
        action: Act::Cancel,
    },
    Choice {
        key: 'g',
        label: "write guidance",
        action: Act::Guidance,
    },
];

/// The six roles of the pattern, offered for reassignment beside those in the run.
pub const DEFAULT_ROLES: &[&str] = &[
    "code_analyzer",
    "system_architect",
    "code_developer",
    "test_engineer",
    "documentation_writer",
    "performance_optimizer",
];

enum Stage {
    Choose,
    /// A destructive choice asks first: cancel, or retry with no guidance.
    Confirm(Box<Question>, Resolution),
    Guidance,
    PickRole(usize),
    Result(Box<TextArea<'static>>),
}

pub struct EscalationModal {
    id: SubtaskId,
    attempts: u32,
    guidance: TextArea<'static>,
    roles: Vec<String>,
    stage: Stage,
    done: bool,
}

impl EscalationModal {
    pub fn new(state: &State, id: SubtaskId, _info: &RunInfo) -> Option<Self> {
        let s = state.subtask(id)?;
        let mut roles: Vec<String> = DEFAULT_ROLES.iter().map(|r| r.to_string()).collect();
        for t in &state.subtasks {
            if !roles.contains(&t.role) {
                roles.push(t.role.clone());
            }
        }
        roles.retain(|r| r != &s.role);
        let mut guidance =
            text_box("What should the worker do differently? (Tab: back to the choices)");
        if let Some(g) = &s.guidance {
            guidance.insert_str(g);
        }
        Some(Self {
            id,
            attempts: s.attempts,
            guidance,
            roles,
            stage: Stage::Choose,
            done: false,
        })
    }

    fn resolve(&mut self, resolution: Resolution) -> Vec<Effect> {
        self.done = true;
        vec![Effect::Send(Command::Resolve {
            id: self.id,
            resolution,
        })]
    }
}

impl Modal for EscalationModal {
    fn handle_key(&mut self, key: KeyEvent, state: &State) -> Vec<Effect> {
        match &mut self.stage {
            Stage::Confirm(_, resolution) => {
                if is_esc(&key) {
                    self.stage = Stage::Choose;
                    return Vec::new();
                }
                match pick(confirm::CHOICES, &key) {
                    Some(confirm::Answer::Yes) => {
                        let resolution = resolution.clone();
                        self.resolve(resolution)
                    }
                    Some(confirm::Answer::No) => {
                        self.stage = Stage::Choose;
                        Vec::new()
                    }
                    None => Vec::new(),
                }
            }
            Stage::Guidance => {
                if is_submit(&key) {
                    let guidance = text_of(&self.guidance);
                    if guidance.is_empty() {
                        self.stage = Stage::Choose;
                        return self.handle_key(KeyEvent::from(KeyCode::Char('r')), state);
                    }
                    return self.resolve(Resolution::Retry { guidance });
                }
                if is_esc(&key) || key.code == KeyCode::Tab {
                    self.stage = Stage::Choose;
                } else {
                    crate::tui::textbox::input(&mut self.guidance, key);
                }
                Vec::new()
            }
            Stage::PickRole(i) => {
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => *i = i.saturating_sub(1),
                    KeyCode::Down | KeyCode::Char('j') => {
                        *i = (*i + 1).min(self.roles.len().saturating_sub(1))
                    }
                    KeyCode::Esc => self.stage = Stage::Choose,
                    KeyCode::Enter => {
                        if let Some(role) = self.roles.get(*i).cloned() {
                            let guidance = text_of(&self.guidance);
                            return self.resolve(Resolution::Reassign { role, guidance });
                        }
                    }
                    _ => {}
                }
                Vec::new()
            }
            Stage::Result(t) => {
                if is_submit(&key) {
                    let result = text_of(t);
                    if result.is_empty() {
                        return Vec::new();
                    }
                    return self.resolve(Resolution::MarkDone { result });
                }
                if is_esc(&key) {
                    self.stage = Stage::Choose;
                } else {
                    crate::tui::textbox::input(t, key);
                }
                Vec::new()
            }
            Stage::Choose => {
                if is_esc(&key) {
                    self.done = true;
                    return Vec::new();
                }
                if key.code == KeyCode::Tab {
                    self.stage = Stage::Guidance;
                    return Vec::new();
                }
                match pick(CHOICES, &key) {
                    Some(Act::Retry) => {
                        let guidance = text_of(&self.guidance);
                        if !guidance.is_empty() {
                            return self.resolve(Resolution::Retry { guidance });
                        }
                        let question = Question {
                            text: format!(
                                "Retry {} without guidance? The worker starts again from the \
                                 same brief (g: write guidance first).",
                                self.id
                            ),
                            touches: Vec::new(),
                        };
                        self.stage = Stage::Confirm(
                            Box::new(question),
                            Resolution::Retry {
                                guidance: String::new(),
                            },
                        );
                        Vec::new()
                    }
                    Some(Act::Reassign) => {
                        self.stage = Stage::PickRole(0);
                        Vec::new()
                    }
                    Some(Act::MarkDone) => {
                        self.stage = Stage::Result(Box::new(text_box(
                            "Type or paste the result (Ctrl-S or Alt-Enter to mark done, Esc back)",
                        )));
                        Vec::new()
                    }
                    Some(Act::Cancel) => {
                        if let Some(s) = state.subtask(self.id) {
                            let question = Question::cancel(state, s);
                            self.stage = Stage::Confirm(Box::new(question), Resolution::Cancel);
                        }
                        Vec::new()
                    }
                    Some(Act::Guidance) => {
                        self.stage = Stage::Guidance;
                        Vec::new()
                    }
                    None => Vec::new(),
                }
            }
        }
    }

    fn handle_paste(&mut self, text: &str) {
        match &mut self.stage {
            Stage::Result(t) => {
                t.insert_str(text);
            }
            Stage::Guidance | Stage::Choose => {
                self.stage = Stage::Guidance;
                self.guidance.insert_str(text);
            }
            Stage::PickRole(_) | Stage::Confirm(..) => {}
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
        let Some(s) = state.subtask(self.id) else {
            return;
        };
        let title = format!(
            "Escalation · {} {} ({}, attempt {})",
            s.id,
            s.title,
            role_label(&s.role),
            s.attempts.max(1)
        );
        let height = area.height.saturating_sub(2).clamp(12, 24);
        let inner = frame_box(frame, area, modal_width(area), height, &title, theme);
        let width = inner.width as usize;
        let mut lines: Vec<Line> = Vec::new();
        let why = s
            .escalation
            .clone()
            .or_else(|| s.last_error.clone())
            .unwrap_or_else(|| "no reason given".to_string());
        let rationale = s.recoveries.last().map(|r| r.rationale.as_str());
        if rationale != Some(why.as_str()) {
            lines.push(Line::from(vec![
                Span::styled("Why: ", theme.warn()),
                Span::raw(one_line(&why, width.saturating_sub(6) * 2)),
            ]));
        }
        if let Some(err) = s
            .last_error
            .as_ref()
            .filter(|e| Some(*e) != s.escalation.as_ref())
        {
            lines.push(Line::from(vec![
                Span::styled("Failed: ", theme.error()),
                Span::raw(one_line(err, width.saturating_sub(9) * 2)),
            ]));
        }
        if let Some(r) = s.recoveries.last() {
            lines.push(Line::from(vec![
                Span::styled("Orchestrator: ", theme.accent()),
                Span::raw(format!("\"{}\"", one_line(&r.rationale, width * 2))),
            ]));
        }
        let last = s
            .output
            .as_deref()
            .or(s.report.as_ref().map(|r| r.results.as_str()))
            .unwrap_or("");
        if !last.trim().is_empty() {
            let tail: String = last
                .trim()
                .chars()
                .rev()
                .take(width.saturating_sub(16) * 2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            lines.push(Line::from(vec![
                Span::styled(format!("Last output {} ", theme.glyph("▸")), theme.dim()),
                Span::raw(format!(
                    "{}{}",
                    theme.glyph("…"),
                    one_line(&tail, width * 2)
                )),
            ]));
        }
        // Rows once wrapped, plus a blank line before the text box.
        let rows: usize = lines
            .iter()
            .map(|l| l.width().div_ceil(width.max(1)).max(1))
            .sum();
        let body_h = (rows as u16 + 1).min(inner.height.saturating_sub(5));
        let box_h = match &self.stage {
            Stage::PickRole(_) | Stage::Confirm(..) => 0,
            _ => inner.height.saturating_sub(body_h + 2).max(3),
        };
        let [body, text, foot] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(body_h),
                Constraint::Min(box_h),
                Constraint::Length(2),
            ])
            .areas(inner);
        frame.render_widget(
            Paragraph::new(crate::tui::safe::lines(lines)).wrap(Wrap { trim: false }),
            body,
        );
        let hint = match &self.stage {
            Stage::Confirm(q, _) => {
                let mut lines = q.lines(text.width as usize, theme);
                let choices = lines.pop().unwrap_or_default();
                frame.render_widget(
                    Paragraph::new(crate::tui::safe::lines(lines)).wrap(Wrap { trim: false }),
                    text,
                );
                choices
            }
            Stage::Choose | Stage::Guidance => {
                let focused = matches!(self.stage, Stage::Guidance);
                let mut g = self.guidance.clone();
                let label = if focused {
                    "Your guidance (Ctrl-S retry with it, Tab back)"
                } else {
                    "Your guidance (g or Tab to write)"
                };
                boxed(&mut g, label, focused, theme);
                crate::tui::textbox::render(frame, text, &g);
                if focused {
                    Line::from(Span::styled(
                        "typing… Ctrl-S or Alt-Enter: retry with this guidance · Tab: choices",
                        theme.dim(),
                    ))
                } else {
                    choices_line(CHOICES, theme, &[("Esc", "later")])
                }
            }
            Stage::PickRole(i) => {
                let rows: Vec<Line> = self
                    .roles
                    .iter()
                    .enumerate()
                    .map(|(j, r)| {
                        let l = Line::from(format!("  {}", role_label(r)));
                        if j == *i {
                            l.style(theme.selected())
                        } else {
                            l
                        }
                    })
                    .collect();
                frame.render_widget(Paragraph::new(crate::tui::safe::lines(rows)), text);
                Line::from(Span::styled(
                    "↑↓ choose a role · Enter reassign (with the guidance above) · Esc back",
                    theme.dim(),
                ))
            }
            Stage::Result(t) => {
                let mut t = (**t).clone();
                boxed(
                    &mut t,
                    "The result (Ctrl-S mark done, Esc back)",
                    true,
                    theme,
                );
                crate::tui::textbox::render(frame, text, &t);
                Line::from(Span::styled(
                    "type or paste · Ctrl-S or Alt-Enter: mark done with this result · Esc: back",
                    theme.dim(),
                ))
            }
        };
        frame.render_widget(Paragraph::new(hint).wrap(Wrap { trim: false }), foot);
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn need(&self) -> Option<NeedKey> {
        Some(NeedKey::Escalation(self.id, self.attempts))
    }

    fn typing(&self) -> bool {
        matches!(self.stage, Stage::Guidance | Stage::Result(_))
    }
}
