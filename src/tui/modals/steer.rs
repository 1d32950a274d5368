//! The steering dialog (`w`): one running worker steered while the others run (issue 11,
//! capability 4). Pause or resume it, give it a note it reads before its next model call,
//! edit its brief (the description), role or model, and send that, or restart it from the
//! edited brief.
//!
//! Owns that dialog and the commands it sends: `Command::Steer` (pause, resume, note,
//! model, restart) and `Command::Edit` (brief, role), each asked of the rule book
//! (`State::check`) first, so a refusal keeps the dialog open with the reason. Must not
//! change the run's state itself.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_textarea::TextArea;

use super::{
    Choice, Modal, boxed, choices_line, frame_box, is_esc, is_submit, modal_width, pick, text_box,
    text_of,
};
use crate::protocol::{Command, Steer, SubtaskId, SubtaskPatch};
use crate::state::{State, role_label};
use crate::tui::app::{Effect, Focus, Ui};
use crate::tui::layout::{pane_ids, selected_pane};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Pause,
    Note,
    Brief,
    Role,
    Model,
    Send,
    Restart,
}

const CHOICES: &[Choice<Act>] = &[
    Choice {
        key: 'p',
        label: "pause/resume",
        action: Act::Pause,
    },
    Choice {
        key: 'n',
        label: "note",
        action: Act::Note,
    },
    Choice {
        key: 'b',
        label: "brief",
        action: Act::Brief,
    },
    Choice {
        key: 'o',
        label: "role",
        action: Act::Role,
    },
    Choice {
        key: 'm',
        label: "model",
        action: Act::Model,
    },
    Choice {
        key: 's',
        label: "send",
        action: Act::Send,
    },
    Choice {
        key: 'r',
        label: "restart with it",
        action: Act::Restart,
    },
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Note,
    Brief,
    Model,
}

/// The subtask `w` steers: the focused or zoomed worker pane's, else the selected one.
pub fn target(ui: &Ui) -> Option<SubtaskId> {
    if let Some(z) = ui.zoom {
        return z;
    }
    if ui.focus == Focus::Panes && matches!(ui.screen, crate::tui::app::Screen::Main) {
        return selected_pane(ui, &pane_ids(ui)).flatten();
    }
    ui.selected_subtask()
}

/// Is `w` offered now (a live run, a running worker to steer)?
pub fn offered(ui: &Ui) -> bool {
    !ui.state.is_finished()
        && !ui.engine_closed
        && target(ui).is_some_and(|id| {
            ui.state
                .check(&Command::Steer {
                    id,
                    steer: Steer::Restart,
                })
                .is_ok()
        })
}

/// Opens the dialog for the target (`w`).
pub fn open(ui: &mut Ui) -> Vec<Effect> {
    if let Some(id) = target(ui)
        && offered(ui)
        && let Some(m) = SteerDialog::new(&ui.state, id, &ui.info.roles)
    {
        ui.modal = Some(Box::new(m));
    }
    Vec::new()
}

pub struct SteerDialog {
    id: SubtaskId,
    title: String,
    note: TextArea<'static>,
    brief: TextArea<'static>,
    model: TextArea<'static>,
    /// The model shown when the dialog opened (a change is sent).
    model_was: String,
    roles: Vec<String>,
    role: usize,
    role_was: usize,
    editing: Option<Field>,
    error: Option<String>,
    done: bool,
}

fn filled(text: &str, placeholder: &str) -> TextArea<'static> {
    let mut t = text_box(placeholder);
    t.insert_str(text);
    t
}

impl SteerDialog {
    pub fn new(state: &State, id: SubtaskId, roles: &[String]) -> Option<Self> {
        let s = state.subtask(id)?;
        let mut roles = roles.to_vec();
        if !roles.contains(&s.role) {
            roles.insert(0, s.role.clone());
        }
        let role = roles.iter().position(|r| *r == s.role).unwrap_or(0);
        let model = state
            .steered_model(id)
            .map(str::to_string)
            .or_else(|| s.model.clone())
            .unwrap_or_default();
        Some(Self {
            id,
            title: format!(
                "Steer {id} {} ({}, attempt {})",
                s.title,
                role_label(&s.role),
                s.attempts
            ),
            note: text_box("a note the worker reads before its next model call"),
            brief: filled(&s.description, "what the subtask is to do"),
            model: filled(&model, "the role's model"),
            model_was: model,
            roles,
            role,
            role_was: role,
            editing: Some(Field::Note),
            error: None,
            done: false,
        })
    }

    /// The commands for what the person changed (note, brief, role, model), each checked
    /// by the rule book; the first refusal is the reason nothing is sent.
    fn edits(&self, state: &State) -> Result<Vec<Command>, String> {
        let mut out = Vec::new();
        let id = self.id;
        let note = text_of(&self.note);
        if !note.is_empty() {
            out.push(Command::Steer {
                id,
                steer: Steer::Note { text: note },
            });
        }
        let mut patch = SubtaskPatch::default();
        let brief = text_of(&self.brief);
        if state
            .subtask(id)
            .is_some_and(|s| s.description.trim() != brief)
        {
            if brief.is_empty() {
                return Err("the brief is empty".into());
            }
            patch.description = Some(brief);
        }
        if self.role != self.role_was {
            patch.role = self.roles.get(self.role).cloned();
        }
        if !patch.is_empty() {
            out.push(Command::Edit { id, patch });
        }
        let model = text_of(&self.model);
        if model != self.model_was {
            out.push(Command::Steer {
                id,
                steer: Steer::Model {
                    model: (!model.is_empty()).then_some(model),
                },
            });
        }
        for c in &out {
            state.check(c).map_err(|r| r.to_string())?;
        }
        Ok(out)
    }

    fn finish(&mut self, state: &State, restart: bool) -> Vec<Effect> {
        let mut cmds = match self.edits(state) {
            Ok(c) => c,
            Err(e) => {
                self.error = Some(e);
                return Vec::new();
            }
        };
        if restart {
            let r = Command::Steer {
                id: self.id,
                steer: Steer::Restart,
            };
            if let Err(e) = state.check(&r) {
                self.error = Some(e.to_string());
                return Vec::new();
            }
            cmds.push(r);
        }
        if cmds.is_empty() {
            self.error =
                Some("nothing to send: write a note, or change the brief, role or model".into());
            return Vec::new();
        }
        self.done = true;
        cmds.into_iter().map(Effect::Send).collect()
    }

    fn field(&mut self, f: Field) -> &mut TextArea<'static> {
        match f {
            Field::Note => &mut self.note,
            Field::Brief => &mut self.brief,
            Field::Model => &mut self.model,
        }
    }
}

impl Modal for SteerDialog {
    fn handle_key(&mut self, key: KeyEvent, state: &State) -> Vec<Effect> {
        if let Some(f) = self.editing {
            if is_submit(&key) {
                return self.finish(state, false);
            }
            // The model is one line: Enter ends it too.
            let leave = is_esc(&key)
                || key.code == KeyCode::Tab
                || (f == Field::Model && key.code == KeyCode::Enter);
            if leave {
                self.editing = None;
            } else {
                crate::tui::textbox::input(self.field(f), key);
            }
            return Vec::new();
        }
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        self.error = None;
        match pick(CHOICES, &key) {
            Some(Act::Pause) => {
                let steer = if state.worker_paused(self.id) {
                    Steer::Resume
                } else {
                    Steer::Pause
                };
                let cmd = Command::Steer { id: self.id, steer };
                match state.check(&cmd) {
                    Ok(()) => {
                        self.done = true;
                        vec![Effect::Send(cmd)]
                    }
                    Err(e) => {
                        self.error = Some(e.to_string());
                        Vec::new()
                    }
                }
            }
            Some(Act::Note) => {
                self.editing = Some(Field::Note);
                Vec::new()
            }
            Some(Act::Brief) => {
                self.editing = Some(Field::Brief);
                Vec::new()
            }
            Some(Act::Model) => {
                self.editing = Some(Field::Model);
                Vec::new()
            }
            Some(Act::Role) => {
                self.role = (self.role + 1) % self.roles.len().max(1);
                Vec::new()
            }
            Some(Act::Send) => self.finish(state, false),
            Some(Act::Restart) => self.finish(state, true),
            None if key.code == KeyCode::Tab => {
                self.editing = Some(Field::Note);
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn handle_paste(&mut self, text: &str) {
        if let Some(f) = self.editing {
            crate::tui::textbox::paste(self.field(f), text);
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
        let width = modal_width(area);
        let height = area.height.saturating_sub(2).min(20);
        let inner = frame_box(frame, area, width, height, &self.title, theme);
        let [status, note, brief, row, help] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(4),
            Constraint::Min(3),
            Constraint::Length(3),
            Constraint::Length(2),
        ])
        .areas(inner);
        let paused = state.worker_paused(self.id);
        let mut spans = vec![Span::styled(
            if paused {
                "⏸ paused by you: its next model call waits"
            } else {
                "▶ running · the others go on whatever you do here"
            },
            if paused { theme.warn() } else { theme.dim() },
        )];
        if let Some(e) = &self.error {
            spans = vec![Span::styled(e.clone(), theme.error())];
        }
        frame.render_widget(
            Paragraph::new(crate::tui::safe::line(Line::from(spans))),
            status,
        );
        let focus = self.editing;
        let mut n = self.note.clone();
        boxed(
            &mut n,
            "Note to the worker [n]",
            focus == Some(Field::Note),
            theme,
        );
        crate::tui::textbox::render(frame, note, &n);
        let mut b = self.brief.clone();
        boxed(
            &mut b,
            "Brief [b] (a restart applies it)",
            focus == Some(Field::Brief),
            theme,
        );
        crate::tui::textbox::render(frame, brief, &b);
        let [role_r, model_r] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(row);
        let role = self
            .roles
            .get(self.role)
            .map_or(String::new(), |r| role_label(r));
        let changed = if self.role != self.role_was {
            " (changed)"
        } else {
            ""
        };
        let mut r = filled(&format!("{role}{changed}"), "");
        boxed(&mut r, "Role [o] next", false, theme);
        crate::tui::textbox::render(frame, role_r, &r);
        let mut m = self.model.clone();
        boxed(
            &mut m,
            "Model [m] (next attempt)",
            focus == Some(Field::Model),
            theme,
        );
        crate::tui::textbox::render(frame, model_r, &m);
        let lines = if focus.is_some() {
            vec![
                Line::from(Span::styled(
                    "typing… Ctrl-S send · Tab or Esc: choices",
                    theme.dim(),
                )),
                Line::from(""),
            ]
        } else {
            let (first, second) = CHOICES.split_at(5);
            vec![
                choices_line(first, theme, &[]),
                choices_line(second, theme, &[("Esc", "close")]),
            ]
        };
        frame.render_widget(Paragraph::new(lines), help);
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn typing(&self) -> bool {
        self.editing.is_some()
    }
}
