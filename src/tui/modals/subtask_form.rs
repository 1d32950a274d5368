//! The subtask form: edit a subtask before approving it (title, description, role,
//! priority, dependencies), or add one by hand.
//!
//! Owns the fields, their pickers (role from the run's roles, priority, dependencies from
//! the existing subtasks) and showing a refusal next to the field it is about. Whether the
//! result applies is the rule book's answer (`State::check`, `State::check_role`,
//! `deps::plan_batch`: the rules the engine enforces), asked before anything is sent, so a
//! refused form stays open with what was typed. Must not add or edit anything itself:
//! saving becomes `Command::EditAndApprove` (a subtask waiting for approval: a refused edit
//! approves nothing), `Command::Edit` or `Command::Add`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use tui_textarea::TextArea;

use super::escalation::DEFAULT_ROLES;
use super::scope::priority_word;
use super::{Modal, boxed, frame_box, is_esc, is_submit, modal_width, text_box, text_of};
use crate::protocol::{Command, Priority, ProposedSubtask, SubtaskId, SubtaskPatch};
use crate::state::{Refusal, State, Subtask, SubtaskStatus, deps, role_label};
use crate::text::one_line;
use crate::tui::app::Effect;
use crate::tui::theme::Theme;

const TITLE: usize = 0;
const ROLE: usize = 1;
const PRIORITY: usize = 2;
const DEPS: usize = 3;
const DESCRIPTION: usize = 4;
const FIELDS: usize = 5;
const LABELS: [&str; FIELDS] = ["Title", "Role", "Priority", "Depends on", "Description"];
const PRIORITIES: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

/// What saving does.
enum Purpose {
    Edit { original: Box<Subtask> },
    Add,
}

pub struct SubtaskForm {
    purpose: Purpose,
    /// Title, dependencies (as `#ids`) and description are typed; role and priority are
    /// picked (their text boxes stay empty).
    fields: Vec<TextArea<'static>>,
    /// The roles offered (an edit's unknown original role shown too) and the run's roles.
    roles: Vec<String>,
    known: Vec<String>,
    role: usize,
    priority: usize,
    /// Subtasks a dependency may be picked from, and the one under the picker.
    candidates: Vec<(SubtaskId, String)>,
    candidate: usize,
    /// `↑↓` moved the dependency picker: `Space` then adds or removes the subtask under it
    /// (otherwise a space is typed, between ids).
    picking: bool,
    focus: usize,
    /// A refusal next to the field it is about.
    errors: [Option<String>; FIELDS],
    /// A refusal that is about no one field.
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

/// `#3 #5` → ids (whether they exist is the rule book's question).
fn parse_ids(s: &str) -> Result<Vec<SubtaskId>, String> {
    let mut out = Vec::new();
    for tok in s.split(|c: char| c.is_whitespace() || c == ',') {
        if tok.is_empty() {
            continue;
        }
        let n: u32 = tok
            .trim_start_matches('#')
            .parse()
            .map_err(|_| format!("\"{tok}\": write subtask ids like #3 (Space picks)"))?;
        if !out.contains(&SubtaskId(n)) {
            out.push(SubtaskId(n));
        }
    }
    Ok(out)
}

/// The run's roles (the engine's list; the six default ones when the screen was not told),
/// with the roles subtasks already have.
fn role_list(given: &[String], state: &State) -> Vec<String> {
    let mut roles: Vec<String> = if given.is_empty() {
        DEFAULT_ROLES.iter().map(|r| r.to_string()).collect()
    } else {
        given.to_vec()
    };
    for s in &state.subtasks {
        if given.is_empty() && !roles.contains(&s.role) {
            roles.push(s.role.clone());
        }
    }
    roles
}

impl SubtaskForm {
    fn new(purpose: Purpose, state: &State, roles: &[String]) -> Self {
        let own = match &purpose {
            Purpose::Edit { original } => Some(original.id),
            Purpose::Add => None,
        };
        let candidates = state
            .subtasks
            .iter()
            .filter(|s| Some(s.id) != own && s.status != SubtaskStatus::Cancelled)
            .map(|s| (s.id, s.title.clone()))
            .collect();
        Self {
            purpose,
            fields: Vec::new(),
            roles: role_list(roles, state),
            known: role_list(roles, state),
            role: 0,
            priority: 1,
            candidates,
            candidate: 0,
            picking: false,
            focus: TITLE,
            errors: Default::default(),
            error: None,
            done: false,
        }
    }

    pub fn edit(s: &Subtask, state: &State, roles: &[String]) -> Self {
        let mut form = Self::new(
            Purpose::Edit {
                original: Box::new(s.clone()),
            },
            state,
            roles,
        );
        if !form.roles.contains(&s.role) {
            // Shown as it is; saving it unchanged is not a change, picking it again is refused.
            form.roles.push(s.role.clone());
        }
        form.role = form.roles.iter().position(|r| *r == s.role).unwrap_or(0);
        form.priority = PRIORITIES
            .iter()
            .position(|p| *p == s.priority)
            .unwrap_or(1);
        let mut description = TextArea::new(s.description.lines().map(str::to_string).collect());
        description.move_cursor(tui_textarea::CursorMove::Bottom);
        description.move_cursor(tui_textarea::CursorMove::End);
        form.fields = vec![
            one(&s.title),
            TextArea::default(),
            TextArea::default(),
            one(&deps_text(&s.depends_on)),
            description,
        ];
        form
    }

    pub fn add(state: &State, roles: &[String]) -> Self {
        let mut form = Self::new(Purpose::Add, state, roles);
        form.role = form
            .roles
            .iter()
            .position(|r| r == "code_developer")
            .unwrap_or(0);
        form.fields = vec![
            text_box("what to do, in a few words"),
            TextArea::default(),
            TextArea::default(),
            text_box("e.g. #3 #5 (empty: none; ↑↓ Space pick)"),
            text_box("what the worker should do and deliver"),
        ];
        form.fields[TITLE].set_cursor_line_style(Style::default());
        form
    }

    fn role(&self) -> String {
        self.roles.get(self.role).cloned().unwrap_or_default()
    }

    /// Checks the form with the rule book and builds the command; a refusal is put next to
    /// its field (`Err` carries nothing: the form shows it).
    fn save(&mut self, state: &State) -> Result<Vec<Effect>, ()> {
        self.errors = Default::default();
        self.error = None;
        let title = text_of(&self.fields[TITLE]);
        if title.is_empty() {
            self.errors[TITLE] = Some("the title is empty".to_string());
        }
        let role = self.role();
        let priority = PRIORITIES.get(self.priority).copied().unwrap_or_default();
        let description = text_of(&self.fields[DESCRIPTION]);
        let deps = parse_ids(&text_of(&self.fields[DEPS]));
        if let Err(e) = &deps {
            self.errors[DEPS] = Some(e.clone());
        }
        let role_changed = match &self.purpose {
            Purpose::Edit { original } => role != original.role,
            Purpose::Add => true,
        };
        if role_changed && let Err(r) = State::check_role(&role, &self.known) {
            self.errors[ROLE] = Some(r.to_string());
        }
        if self.errors.iter().any(Option::is_some) {
            return Err(());
        }
        let deps = deps.unwrap_or_default();
        let command = match &self.purpose {
            Purpose::Edit { original } => {
                let patch = SubtaskPatch {
                    title: (title != original.title).then_some(title),
                    description: (description != original.description.trim())
                        .then_some(description),
                    role: role_changed.then_some(role),
                    priority: (priority != original.priority).then_some(priority),
                    depends_on: (deps != original.depends_on).then_some(deps),
                    expected_output: None,
                };
                let id = original.id;
                let waiting = state
                    .subtask(id)
                    .is_some_and(|s| s.status == SubtaskStatus::AwaitingApproval);
                if waiting {
                    Command::EditAndApprove { id, patch }
                } else if patch.is_empty() {
                    self.done = true;
                    return Ok(Vec::new());
                } else {
                    Command::Edit { id, patch }
                }
            }
            Purpose::Add => {
                let subtask = ProposedSubtask {
                    title,
                    description,
                    role,
                    depends_on: deps.iter().map(|d| d.to_string()).collect(),
                    priority,
                    expected_output: String::new(),
                };
                let batch = deps::plan_batch(state, std::slice::from_ref(&subtask), &self.known);
                if let Some((_, why)) = batch.rejected.first() {
                    self.errors[DEPS] = Some(why.clone());
                    return Err(());
                }
                Command::Add { subtask }
            }
        };
        if let Err(refusal) = state.check(&command) {
            match refusal {
                Refusal::BadDependencies { reason, .. } => self.errors[DEPS] = Some(reason),
                other => self.error = Some(other.to_string()),
            }
            return Err(());
        }
        Ok(vec![Effect::Send(command)])
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

    /// Space on the dependencies: adds the subtask under the picker, or removes it.
    fn toggle_candidate(&mut self) {
        let Some((id, _)) = self.candidates.get(self.candidate) else {
            return;
        };
        let mut ids = parse_ids(&text_of(&self.fields[DEPS])).unwrap_or_default();
        match ids.iter().position(|d| d == id) {
            Some(i) => {
                ids.remove(i);
            }
            None => ids.push(*id),
        }
        self.fields[DEPS] = one(&deps_text(&ids));
        self.errors[DEPS] = None;
    }

    /// Keys on a picked field: ←→ (or Space) choose; a letter picks the first match.
    fn pick_key(&mut self, key: KeyEvent) {
        let (at, n) = match self.focus {
            ROLE => (&mut self.role, self.roles.len()),
            _ => (&mut self.priority, PRIORITIES.len()),
        };
        let n = n.max(1);
        match key.code {
            KeyCode::Right | KeyCode::Char(' ') => *at = (*at + 1) % n,
            KeyCode::Left => *at = (*at + n - 1) % n,
            KeyCode::Char(c) => {
                let c = c.to_ascii_lowercase();
                let found = if self.focus == ROLE {
                    self.roles.iter().position(|r| r.starts_with(c))
                } else {
                    PRIORITIES
                        .iter()
                        .position(|p| priority_word(*p).starts_with(c))
                };
                if let Some(i) = found {
                    *at = i;
                }
            }
            _ => {}
        }
        self.errors[self.focus] = None;
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
                Err(()) => Vec::new(),
            };
        }
        match key.code {
            KeyCode::Tab => {
                self.focus = (self.focus + 1) % FIELDS;
                self.picking = false;
            }
            KeyCode::BackTab => self.focus = (self.focus + FIELDS - 1) % FIELDS,
            KeyCode::Enter if self.focus != DESCRIPTION && key.modifiers == KeyModifiers::NONE => {
                self.focus = (self.focus + 1) % FIELDS;
            }
            _ if self.focus == ROLE || self.focus == PRIORITY => self.pick_key(key),
            KeyCode::Up if self.focus == DEPS => {
                self.candidate = self.candidate.saturating_sub(1);
                self.picking = true;
            }
            KeyCode::Down if self.focus == DEPS => {
                self.candidate = (self.candidate + 1).min(self.candidates.len().saturating_sub(1));
                self.picking = true;
            }
            KeyCode::Char(' ') if self.focus == DEPS && self.picking => self.toggle_candidate(),
            _ => {
                self.picking = false;
                if let Some(f) = self.fields.get_mut(self.focus) {
                    crate::tui::textbox::input(f, key);
                    self.errors[self.focus] = None;
                }
            }
        }
        Vec::new()
    }

    fn handle_paste(&mut self, text: &str) {
        if self.focus == ROLE || self.focus == PRIORITY {
            return;
        }
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
        for (i, rect) in [(TITLE, title), (DEPS, deps), (DESCRIPTION, desc)] {
            if let Some(f) = self.fields.get(i) {
                let mut f = f.clone();
                boxed(
                    &mut f,
                    &self.label(i, rect.width, theme),
                    i == self.focus,
                    theme,
                );
                if self.errors[i].is_some() {
                    f.set_block(self.block(i, rect.width, theme));
                }
                crate::tui::textbox::render(frame, rect, &f);
            }
        }
        let arrows = |s: String, focused: bool| {
            if focused {
                format!("{} {s} {}", theme.glyph("◂"), theme.glyph("▸"))
            } else {
                s
            }
        };
        let role_text = arrows(role_label(&self.role()), self.focus == ROLE);
        let prio_word = priority_word(PRIORITIES.get(self.priority).copied().unwrap_or_default());
        let prio_text = arrows(prio_word.to_string(), self.focus == PRIORITY);
        for (i, rect, text) in [(ROLE, role, role_text), (PRIORITY, prio, prio_text)] {
            frame.render_widget(
                Paragraph::new(crate::tui::safe::string(&text))
                    .block(self.block(i, rect.width, theme)),
                rect,
            );
        }
        let line = match &self.error {
            Some(e) => Line::from(Span::styled(crate::tui::safe::string(e), theme.error())),
            None => Line::from(vec![
                Span::styled("Ctrl-S", theme.key()),
                Span::raw(" save  "),
                Span::styled("Tab", theme.key()),
                Span::raw(" next field  "),
                Span::styled("←→", theme.key()),
                Span::raw(" choose  "),
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

impl SubtaskForm {
    /// A field's border title: its name, then its refusal, or (dependencies) the picker.
    fn label(&self, i: usize, width: u16, theme: &Theme) -> String {
        let room = (width as usize).saturating_sub(LABELS[i].len() + 8);
        if let Some(e) = &self.errors[i] {
            return format!("{} {} {}", LABELS[i], theme.glyph("✗"), one_line(e, room));
        }
        if i == DEPS
            && self.focus == DEPS
            && let Some((id, t)) = self.candidates.get(self.candidate)
        {
            let pick = format!("{}{} Space: {id} {t}", theme.glyph("↑"), theme.glyph("↓"));
            return format!("{} · {}", LABELS[i], one_line(&pick, room));
        }
        LABELS[i].to_string()
    }

    fn block(&self, i: usize, width: u16, theme: &Theme) -> Block<'static> {
        let style = if self.errors[i].is_some() {
            theme.error()
        } else {
            theme.border(i == self.focus)
        };
        Block::default()
            .borders(Borders::ALL)
            .border_style(style)
            .title(crate::tui::safe::string(&format!(
                " {} ",
                self.label(i, width, theme)
            )))
    }
}
