//! The subtask form: edit a subtask before approving it (title, description, role,
//! priority, dependencies), or add one by hand.
//!
//! Owns the fields and their validation. Must not resolve dependencies by title for edits
//! (the engine's `Edit` takes ids) nor add anything itself: saving becomes `Command::Edit`
//! (+ `Approve` when it was waiting) or `Command::Add`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_textarea::TextArea;

use super::scope::priority_word;
use super::{Modal, boxed, frame_box, is_esc, is_submit, modal_width, text_box, text_of};
use crate::protocol::{Command, Priority, ProposedSubtask, SubtaskId, SubtaskPatch};
use crate::state::{State, Subtask, SubtaskStatus};
use crate::tui::app::Effect;
use crate::tui::theme::Theme;

const TITLE: usize = 0;
const ROLE: usize = 1;
const PRIORITY: usize = 2;
const DEPS: usize = 3;
const DESCRIPTION: usize = 4;
const LABELS: [&str; 5] = [
    "Title",
    "Role",
    "Priority (high/normal/low)",
    "Depends on (#ids)",
    "Description",
];

/// What saving does.
enum Purpose {
    Edit { original: Box<Subtask> },
    Add,
}

pub struct SubtaskForm {
    purpose: Purpose,
    fields: Vec<TextArea<'static>>,
    focus: usize,
    error: Option<String>,
    done: bool,
}

fn one(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_string()]);
    t.move_cursor(tui_textarea::CursorMove::End);
    t
}

fn deps_text(ids: &[SubtaskId]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_priority(s: &str) -> Result<Priority, String> {
    match s.trim().to_lowercase().as_str() {
        "high" | "h" => Ok(Priority::High),
        "" | "normal" | "n" => Ok(Priority::Normal),
        "low" | "l" => Ok(Priority::Low),
        other => Err(format!("priority \"{other}\": write high, normal or low")),
    }
}

fn parse_ids(s: &str, state: &State) -> Result<Vec<SubtaskId>, String> {
    let mut out = Vec::new();
    for tok in s.split(|c: char| c.is_whitespace() || c == ',') {
        if tok.is_empty() {
            continue;
        }
        let n: u32 = tok
            .trim_start_matches('#')
            .parse()
            .map_err(|_| format!("dependency \"{tok}\": write subtask ids like #3"))?;
        let id = SubtaskId(n);
        if state.subtask(id).is_none() {
            return Err(format!("dependency {id} does not exist"));
        }
        out.push(id);
    }
    Ok(out)
}

impl SubtaskForm {
    pub fn edit(s: &Subtask) -> Self {
        let mut description = TextArea::new(s.description.lines().map(str::to_string).collect());
        description.move_cursor(tui_textarea::CursorMove::Bottom);
        description.move_cursor(tui_textarea::CursorMove::End);
        Self {
            purpose: Purpose::Edit {
                original: Box::new(s.clone()),
            },
            fields: vec![
                one(&s.title),
                one(&s.role),
                one(priority_word(s.priority)),
                one(&deps_text(&s.depends_on)),
                description,
            ],
            focus: TITLE,
            error: None,
            done: false,
        }
    }

    pub fn add() -> Self {
        let mut fields = vec![
            text_box("what to do, in a few words"),
            one("code_developer"),
            one("normal"),
            text_box("e.g. #3 #5 (empty: none)"),
            text_box("what the worker should do and deliver"),
        ];
        fields[TITLE].set_cursor_line_style(ratatui::style::Style::default());
        Self {
            purpose: Purpose::Add,
            fields,
            focus: TITLE,
            error: None,
            done: false,
        }
    }

    fn save(&mut self, state: &State) -> Result<Vec<Effect>, String> {
        let title = text_of(&self.fields[TITLE]);
        if title.is_empty() {
            return Err("the title is empty".to_string());
        }
        let role = text_of(&self.fields[ROLE]).replace(' ', "_");
        if role.is_empty() {
            return Err("the role is empty (e.g. code_developer)".to_string());
        }
        let priority = parse_priority(&text_of(&self.fields[PRIORITY]))?;
        let description = text_of(&self.fields[DESCRIPTION]);
        let deps_raw = text_of(&self.fields[DEPS]);
        match &self.purpose {
            Purpose::Edit { original } => {
                let deps = parse_ids(&deps_raw, state)?;
                if deps.contains(&original.id) {
                    return Err("a subtask cannot depend on itself".to_string());
                }
                let patch = SubtaskPatch {
                    title: (title != original.title).then_some(title),
                    description: (description != original.description.trim())
                        .then_some(description),
                    role: (role != original.role).then_some(role),
                    priority: (priority != original.priority).then_some(priority),
                    depends_on: (deps != original.depends_on).then_some(deps),
                    expected_output: None,
                };
                let id = original.id;
                let mut fx = Vec::new();
                if !patch.is_empty() {
                    fx.push(Effect::Send(Command::Edit { id, patch }));
                }
                let waiting = state
                    .subtask(id)
                    .is_some_and(|s| s.status == SubtaskStatus::AwaitingApproval);
                if waiting {
                    fx.push(Effect::Send(Command::Approve { id }));
                }
                Ok(fx)
            }
            Purpose::Add => {
                let depends_on = deps_raw
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect();
                Ok(vec![Effect::Send(Command::Add {
                    subtask: ProposedSubtask {
                        title,
                        description,
                        role,
                        depends_on,
                        priority,
                        expected_output: String::new(),
                    },
                })])
            }
        }
    }

    fn title(&self, state: &State) -> String {
        match &self.purpose {
            Purpose::Edit { original } => {
                let waiting = state
                    .subtask(original.id)
                    .is_some_and(|s| s.status == SubtaskStatus::AwaitingApproval);
                if waiting {
                    format!("Edit and approve {}", original.id)
                } else {
                    format!("Edit {}", original.id)
                }
            }
            Purpose::Add => "Add a subtask".to_string(),
        }
    }
}

impl Modal for SubtaskForm {
    fn handle_key(&mut self, key: KeyEvent, state: &State) -> Vec<Effect> {
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        if is_submit(&key) {
            return match self.save(state) {
                Ok(fx) => {
                    self.done = true;
                    fx
                }
                Err(e) => {
                    self.error = Some(e);
                    Vec::new()
                }
            };
        }
        match key.code {
            KeyCode::Tab => self.focus = (self.focus + 1) % self.fields.len(),
            KeyCode::BackTab => {
                self.focus = (self.focus + self.fields.len() - 1) % self.fields.len()
            }
            KeyCode::Enter if self.focus != DESCRIPTION && key.modifiers == KeyModifiers::NONE => {
                self.focus = (self.focus + 1) % self.fields.len();
            }
            _ => {
                if let Some(f) = self.fields.get_mut(self.focus) {
                    crate::tui::textbox::input(f, key);
                }
            }
        }
        Vec::new()
    }

    fn handle_paste(&mut self, text: &str) {
        let text = if self.focus == DESCRIPTION {
            text.to_string()
        } else {
            text.replace('\n', " ")
        };
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.insert_str(text);
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
        let height = area.height.saturating_sub(2).clamp(16, 26);
        let inner = frame_box(
            frame,
            area,
            modal_width(area),
            height,
            &self.title(state),
            theme,
        );
        let [title, mid, deps, desc, foot] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(3),
                Constraint::Length(3),
                Constraint::Length(3),
                Constraint::Min(3),
                Constraint::Length(1),
            ])
            .areas(inner);
        let [role, prio] = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(60), Constraint::Percentage(40)])
            .areas(mid);
        for (i, rect) in [
            (TITLE, title),
            (ROLE, role),
            (PRIORITY, prio),
            (DEPS, deps),
            (DESCRIPTION, desc),
        ] {
            if let Some(f) = self.fields.get(i) {
                let mut f = f.clone();
                boxed(&mut f, LABELS[i], i == self.focus, theme);
                crate::tui::textbox::render(frame, rect, &f);
            }
        }
        let line = match &self.error {
            Some(e) => Line::from(Span::styled(e.clone(), theme.error())),
            None => Line::from(vec![
                Span::styled("Ctrl-S", theme.key()),
                Span::raw(" save  "),
                Span::styled("Tab", theme.key()),
                Span::raw(" next field  "),
                Span::styled("Esc", theme.key()),
                Span::raw(" discard"),
            ]),
        };
        frame.render_widget(Paragraph::new(line), foot);
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn typing(&self) -> bool {
        true
    }
}
