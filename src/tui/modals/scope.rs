//! The scope alert: a limit was reached (subtasks, cycles, tokens, cost, time). Raise it,
//! defer low-priority work, or stop and synthesise what is done. A budget stage's alert
//! (a dispatch would pass 50 / 80 / 100 % of a budget) also offers to continue.
//!
//! Owns that dialog and the new limit's input. Must not enforce limits (the engine does).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use tui_textarea::TextArea;

use super::{Choice, Modal, boxed, choices_line, frame_box, is_esc, modal_width, pick, text_of};
use crate::protocol::{Command, LimitKind, Priority, ScopeDecision, SubtaskId};
use crate::state::{State, SubtaskStatus};
use crate::tui::app::{Effect, NeedKey};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    Continue,
    Raise,
    DeferLow,
    Stop,
}

const CHOICES: &[Choice<Act>] = &[
    Choice {
        key: 'r',
        label: "raise the limit",
        action: Act::Raise,
    },
    Choice {
        key: 'd',
        label: "defer low-priority work",
        action: Act::DeferLow,
    },
    Choice {
        key: 's',
        label: "stop and synthesise",
        action: Act::Stop,
    },
];

/// A budget stage's choices: continue first (the budget itself still holds).
const STAGE_CHOICES: &[Choice<Act>] = &[
    Choice {
        key: 'c',
        label: "continue",
        action: Act::Continue,
    },
    Choice {
        key: 'r',
        label: "raise budget",
        action: Act::Raise,
    },
    Choice {
        key: 'd',
        label: "defer low",
        action: Act::DeferLow,
    },
    Choice {
        key: 's',
        label: "stop",
        action: Act::Stop,
    },
];

pub struct ScopeAlertModal {
    /// The budget stage this alert is about (`None`: a limit reached).
    stage: Option<crate::protocol::BudgetStage>,
    alert: u32,
    limit: LimitKind,
    current: f64,
    max: f64,
    pending: Vec<SubtaskId>,
    raising: Option<TextArea<'static>>,
    error: Option<String>,
    done: bool,
}

/// A sensible next limit: half again, rounded up (money to the cent).
fn suggest(limit: LimitKind, max: f64) -> String {
    match limit {
        LimitKind::Cost => format!("{:.2}", (max * 1.5).max(max + 0.5)),
        _ => format!("{}", (max * 1.5).ceil().max(max + 1.0) as u64),
    }
}

fn show(limit: LimitKind, v: f64) -> String {
    match limit {
        LimitKind::Cost => format!("${v:.2}"),
        _ => format!("{}", v.round() as u64),
    }
}

impl ScopeAlertModal {
    pub fn new(state: &State, alert: u32) -> Option<Self> {
        let a = state.alerts.iter().find(|a| a.alert == alert)?;
        let pending = a.pending.clone();
        Some(Self {
            stage: state.outlook.stage_of(alert).cloned(),
            alert,
            limit: a.limit,
            current: a.current,
            max: a.max,
            pending,
            raising: None,
            error: None,
            done: false,
        })
    }

    fn choices(&self) -> &'static [Choice<Act>] {
        if self.stage.is_some() {
            STAGE_CHOICES
        } else {
            CHOICES
        }
    }

    fn send(&mut self, decision: ScopeDecision) -> Vec<Effect> {
        self.done = true;
        vec![Effect::Send(Command::ResolveScopeAlert {
            alert: self.alert,
            decision,
        })]
    }
}

/// Rows listed per group.
const SHOWN: usize = 5;

impl ScopeAlertModal {
    /// The alert's subtasks as they are now: still pending, held back by the limit (the
    /// engine deferred them; raising the limit releases them, which the heading says, so a
    /// raise never un-defers silently), deferred by a person. Finished ones drop out.
    fn groups(&self, state: &State) -> Vec<(String, Vec<String>)> {
        let mut pending = Vec::new();
        let mut held = Vec::new();
        let mut deferred = Vec::new();
        for s in self.pending.iter().filter_map(|id| state.subtask(*id)) {
            let row = format!("{} {} ({})", s.id, s.title, priority_word(s.priority));
            match s.status {
                SubtaskStatus::Deferred if s.held_by_limit => held.push(row),
                SubtaskStatus::Deferred => deferred.push(row),
                st if st.is_terminal() => {}
                _ => pending.push(row),
            }
        }
        let raise_note = if self.limit == LimitKind::Subtasks {
            "raising the limit releases them, oldest first"
        } else {
            "they stay deferred until you un-defer them"
        };
        [
            (format!("Pending ({}):", pending.len()), pending),
            (
                format!("Deferred by the limit ({}): {raise_note}:", held.len()),
                held,
            ),
            (
                format!("Deferred by you ({}): they stay deferred:", deferred.len()),
                deferred,
            ),
        ]
        .into_iter()
        .filter(|(_, items)| !items.is_empty())
        .collect()
    }
}

/// `high`, `normal`, `low`.
pub fn priority_word(p: Priority) -> &'static str {
    match p {
        Priority::High => "high",
        Priority::Normal => "normal",
        Priority::Low => "low",
    }
}

impl Modal for ScopeAlertModal {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if let Some(t) = self.raising.as_mut() {
            if is_esc(&key) {
                self.raising = None;
                self.error = None;
                return Vec::new();
            }
            if key.code == KeyCode::Enter {
                let text = text_of(t);
                let parsed = text.trim_start_matches('$').parse::<f64>();
                return match parsed.as_ref().map(|to| self.limit.checked(*to)) {
                    Ok(Err(why)) => {
                        self.error = Some(why);
                        Vec::new()
                    }
                    Ok(Ok(to)) if to > self.current => self.send(ScopeDecision::RaiseLimit { to }),
                    Ok(Ok(_)) => {
                        self.error = Some(format!(
                            "the new limit must be above the current {}",
                            show(self.limit, self.current)
                        ));
                        Vec::new()
                    }
                    Err(_) => {
                        self.error = Some(format!("\"{text}\" is not a number"));
                        Vec::new()
                    }
                };
            }
            crate::tui::textbox::input(t, key);
            return Vec::new();
        }
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        match pick(self.choices(), &key) {
            Some(Act::Continue) => self.send(ScopeDecision::Continue),
            Some(Act::Raise) => {
                let mut t = TextArea::new(vec![suggest(self.limit, self.max)]);
                t.move_cursor(tui_textarea::CursorMove::End);
                self.raising = Some(t);
                Vec::new()
            }
            Some(Act::DeferLow) => self.send(ScopeDecision::DeferLowPriority),
            Some(Act::Stop) => self.send(ScopeDecision::StopAndSynthesize),
            None => Vec::new(),
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, state: &State, theme: &Theme) {
        let groups = self.groups(state);
        let rows: usize = groups
            .iter()
            .map(|(_, items)| 1 + items.len().min(SHOWN))
            .sum();
        let height = 10 + rows.max(1) as u16;
        let title = match &self.stage {
            Some(s) => format!("Budget stage · {} % of {}", s.percent, self.limit),
            None => format!("Scope alert · {} limit reached", self.limit),
        };
        let inner = frame_box(frame, area, modal_width(area), height, &title, theme);
        let [body, input, foot] = Layout::default()
            .direction(Direction::Vertical)
            .constraints([
                Constraint::Min(2),
                Constraint::Length(if self.raising.is_some() { 3 } else { 0 }),
                Constraint::Length(2),
            ])
            .areas(inner);
        let mut lines = vec![Line::from(vec![
            Span::raw(format!("{}: ", self.limit)),
            Span::styled(show(self.limit, self.current), theme.warn()),
            Span::raw(format!(" now, limit {}.", show(self.limit, self.max))),
        ])];
        if let Some(s) = &self.stage {
            lines[0] = Line::from(Span::styled(
                format!(
                    "Before it starts: {}.",
                    crate::state::forecast::stage_text(s)
                ),
                theme.warn(),
            ));
        }
        if groups.is_empty() {
            lines.push(Line::from("Nothing is pending."));
        }
        for (heading, items) in &groups {
            lines.push(Line::from(heading.clone()));
            for p in items.iter().take(SHOWN) {
                lines.push(Line::from(format!("  {p}")));
            }
            if items.len() > SHOWN {
                lines.push(Line::from(format!(
                    "  {} and {} more",
                    theme.glyph("…"),
                    items.len() - SHOWN
                )));
            }
        }
        frame.render_widget(
            Paragraph::new(crate::tui::safe::lines(lines)).wrap(Wrap { trim: false }),
            body,
        );
        if let Some(t) = &self.raising {
            let mut t = t.clone();
            boxed(
                &mut t,
                "New limit (Enter to confirm, Esc back)",
                true,
                theme,
            );
            crate::tui::textbox::render(frame, input, &t);
        }
        let mut foot_lines = Vec::new();
        if let Some(e) = &self.error {
            foot_lines.push(Line::from(Span::styled(e.clone(), theme.error())));
        }
        if self.raising.is_none() {
            foot_lines.push(choices_line(self.choices(), theme, &[("Esc", "later")]));
        }
        frame.render_widget(Paragraph::new(foot_lines), foot);
    }

    fn is_complete(&self) -> bool {
        self.done
    }

    fn need(&self) -> Option<NeedKey> {
        Some(NeedKey::Scope(self.alert))
    }

    fn typing(&self) -> bool {
        self.raising.is_some()
    }
}
