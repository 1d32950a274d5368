//! The plan diff dialog (`--approve plan`): a replan's (or an evaluation round's) proposed
//! changes as a diff, `+` added, `-` dropped, `~` edited with `before -> after` per field;
//! each row accepted or rejected (space/Enter toggles the selected row, `a` accepts all,
//! `r` rejects all, `c` confirms and sends every decision at once, Esc decides later).
//!
//! Every row starts accepted (the orchestrator's plan, unless the person says no). Model
//! text is sanitised and cut to the dialog's width; the list scrolls with the selection, so
//! it is usable at 80x24. Owns the dialog only: the engine applies the decisions.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Choice, Modal, choices_line, frame_box, is_esc, modal_width, pick};
use crate::protocol::{Command, PlanChange};
use crate::state::State;
use crate::text::one_line;
use crate::tui::app::{Effect, NeedKey};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    AcceptAll,
    RejectAll,
    Confirm,
}

const CHOICES: &[Choice<Act>] = &[
    Choice {
        key: 'a',
        label: "accept all",
        action: Act::AcceptAll,
    },
    Choice {
        key: 'r',
        label: "reject all",
        action: Act::RejectAll,
    },
    Choice {
        key: 'c',
        label: "confirm",
        action: Act::Confirm,
    },
];

/// The dialog's keys as the `?` help lists them (the footer shows the same choices).
pub const HELP: &[(&str, &str)] = &[
    ("↑↓ j k", "move between the changes (PgUp PgDn Home End)"),
    ("Space Enter", "accept or reject the selected change"),
    ("a / r", "accept all / reject all"),
    ("c", "confirm: send every decision"),
    ("Esc", "later (n brings it back)"),
];

pub struct PlanDiffModal {
    proposal: u32,
    heading: String,
    rationale: String,
    changes: Vec<PlanChange>,
    accepted: Vec<bool>,
    cursor: usize,
    done: bool,
}

impl PlanDiffModal {
    /// The dialog for proposal `proposal`, while it waits for decisions.
    pub fn new(state: &State, proposal: u32) -> Option<Self> {
        let d = state
            .pending_plan_diff()
            .filter(|d| d.proposal == proposal)?;
        Some(Self {
            proposal,
            heading: d.source.label(),
            rationale: d.source.rationale().to_string(),
            changes: d.changes.clone(),
            accepted: vec![true; d.changes.len()],
            cursor: 0,
            done: false,
        })
    }

    /// The rows as lines: `(row index, line)`, a row's fields below it.
    fn lines(&self, width: usize, theme: &Theme) -> Vec<(usize, Line<'static>)> {
        let mut out = Vec::new();
        for (i, c) in self.changes.iter().enumerate() {
            let mark = if self.accepted[i] { "[x]" } else { "[ ]" };
            let sign_style = match c {
                PlanChange::Add { .. } => theme.good(),
                PlanChange::Drop { .. } => theme.error(),
                PlanChange::Edit { .. } => theme.warn(),
            };
            let head = match c {
                PlanChange::Add { subtask } => format!("{} ({})", subtask.title, subtask.role),
                PlanChange::Drop { id, title, .. } | PlanChange::Edit { id, title, .. } => {
                    format!("{id} {title}")
                }
            };
            let row_style = if i == self.cursor {
                theme.selected()
            } else {
                Style::default()
            };
            let room = width.saturating_sub(6);
            out.push((
                i,
                Line::from(vec![
                    Span::styled(format!("{mark} "), row_style),
                    Span::styled(format!("{} ", c.sign()), sign_style),
                    Span::styled(one_line(&head, room), row_style),
                ]),
            ));
            let detail_room = width.saturating_sub(8);
            let details: Vec<String> = match c {
                PlanChange::Add { subtask } => vec![subtask.description.clone()],
                PlanChange::Drop { reason, .. } if !reason.is_empty() => {
                    vec![format!("why: {reason}")]
                }
                PlanChange::Drop { .. } => Vec::new(),
                PlanChange::Edit { fields, .. } => fields
                    .iter()
                    .map(|f| format!("{}: {} -> {}", f.field, f.before, f.after))
                    .collect(),
            };
            for d in details {
                out.push((
                    i,
                    Line::from(Span::styled(
                        format!("      {}", one_line(&d, detail_room)),
                        theme.dim(),
                    )),
                ));
            }
        }
        out
    }

    fn toggle(&mut self) {
        if let Some(a) = self.accepted.get_mut(self.cursor) {
            *a = !*a;
        }
    }
}

impl Modal for PlanDiffModal {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        let last = self.changes.len().saturating_sub(1);
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.cursor = (self.cursor + 1).min(last),
            KeyCode::PageUp => self.cursor = self.cursor.saturating_sub(5),
            KeyCode::PageDown => self.cursor = (self.cursor + 5).min(last),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = last,
            KeyCode::Char(' ') | KeyCode::Enter => self.toggle(),
            _ => match pick(CHOICES, &key) {
                Some(Act::AcceptAll) => self.accepted.iter_mut().for_each(|a| *a = true),
                Some(Act::RejectAll) => self.accepted.iter_mut().for_each(|a| *a = false),
                Some(Act::Confirm) => {
                    self.done = true;
                    return vec![Effect::Send(Command::DecidePlanDiff {
                        proposal: self.proposal,
                        accepted: self.accepted.clone(),
                    })];
                }
                None => {}
            },
        }
        Vec::new()
    }

    fn render(&self, frame: &mut Frame, area: Rect, _state: &State, theme: &Theme) {
        let width = modal_width(area);
        let inner_w = usize::from(width.saturating_sub(2));
        let lines = self.lines(inner_w, theme);
        let wanted = u16::try_from(lines.len()).unwrap_or(u16::MAX);
        let height = wanted.saturating_add(7).min(area.height.saturating_sub(2));
        let title = format!(
            "Plan diff {sep} {} {sep} approve the changes",
            self.heading,
            sep = theme.glyph("·")
        );
        let inner = frame_box(frame, area, width, height, &title, theme);
        let [top, body, foot] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Length(2),
                Constraint::Min(1),
                Constraint::Length(2),
            ])
            .areas(inner);
        let why = Line::from(vec![
            Span::styled("Why: ", theme.bold()),
            Span::raw(one_line(&self.rationale, inner_w.saturating_sub(6))),
        ]);
        let n = self.accepted.iter().filter(|a| **a).count();
        let count = Line::from(Span::styled(
            format!(
                "{n} of {} changes accepted {sep} space/Enter toggles {sep} {}{} move",
                self.changes.len(),
                theme.glyph("↑"),
                theme.glyph("↓"),
                sep = theme.glyph("·"),
            ),
            theme.dim(),
        ));
        frame.render_widget(
            Paragraph::new(crate::tui::safe::lines(vec![why, count])),
            top,
        );
        // Scroll so the selected row (its first line and its fields) is in view.
        let visible = usize::from(body.height).max(1);
        let first = lines
            .iter()
            .position(|(i, _)| *i == self.cursor)
            .unwrap_or(0);
        let end = lines
            .iter()
            .rposition(|(i, _)| *i == self.cursor)
            .unwrap_or(first);
        let top_line = if end < visible {
            0
        } else {
            (end + 1 - visible).min(first)
        };
        let mut shown: Vec<Line> = lines
            .into_iter()
            .skip(top_line)
            .take(visible)
            .map(|(_, l)| l)
            .collect();
        if top_line > 0
            && let Some(l) = shown.first_mut()
        {
            *l = Line::from(Span::styled(
                format!("  {} {top_line} lines above", theme.glyph("↑")),
                theme.dim(),
            ));
        }
        frame.render_widget(Paragraph::new(crate::tui::safe::lines(shown)), body);
        let foot_lines = vec![choices_line(CHOICES, theme, &[("Esc", "later")])];
        frame.render_widget(Paragraph::new(foot_lines), foot);
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn need(&self) -> Option<NeedKey> {
        Some(NeedKey::PlanDiff(self.proposal))
    }
}
