//! Forking the run at a decision from the detail view (`F`): the picker (a subtask's
//! decisions, `Tab` for every decision of the run) and the result (the new run id, the
//! command to open it, `y` copies it).
//!
//! Owns those two dialogs. Must not fork anything itself: `Enter` returns `Effect::Fork`,
//! which the runtime carries out (`tui::fork_view::run_fork`).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Modal, frame_box, is_esc, modal_width, wrap_words};
use crate::export::fork::Forked;
use crate::export::provenance::Decision;
use crate::protocol::SubtaskId;
use crate::state::State;
use crate::tui::app::Effect;
use crate::tui::fork_view::decision_line;
use crate::tui::theme::Theme;

pub struct ForkPicker {
    all: Vec<Decision>,
    subtask: Option<SubtaskId>,
    /// Showing every decision of the run, not just the subtask's.
    whole_run: bool,
    selected: usize,
    done: bool,
}

impl ForkPicker {
    pub fn new(decisions: &[Decision], subtask: Option<SubtaskId>) -> Self {
        let mine = subtask.is_some_and(|id| decisions.iter().any(|d| d.subtask == Some(id.0)));
        let mut p = Self {
            all: decisions.to_vec(),
            subtask,
            whole_run: !mine,
            selected: 0,
            done: false,
        };
        p.selected = p.shown().len().saturating_sub(1);
        p
    }

    fn shown(&self) -> Vec<&Decision> {
        self.all
            .iter()
            .filter(|d| self.whole_run || d.subtask == self.subtask.map(|s| s.0))
            .collect()
    }
}

impl Modal for ForkPicker {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        let n = self.shown().len();
        match key.code {
            KeyCode::Esc => self.done = true,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(n.saturating_sub(1))
            }
            KeyCode::Tab => {
                self.whole_run = !self.whole_run;
                self.selected = self.shown().len().saturating_sub(1);
            }
            KeyCode::Enter => {
                if let Some(n) = self.shown().get(self.selected).map(|d| d.n) {
                    self.done = true;
                    return vec![Effect::Fork(n)];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn render(&self, frame: &mut Frame, area: Rect, _state: &State, theme: &Theme) {
        let width = modal_width(area);
        let text_w = width.saturating_sub(2) as usize;
        let shown = self.shown();
        let mut lines: Vec<Line<'static>> = wrap_words(
            "Fork the run just before this decision: a new run with this run's events up to \
             there, where the decision is made again (this run is not changed).",
            text_w,
        )
        .into_iter()
        .map(|l| Line::from(Span::styled(l, theme.dim())))
        .collect();
        let room = (area.height as usize)
            .saturating_sub(lines.len() + 6)
            .max(1);
        let first = self.selected.saturating_sub(room.saturating_sub(1));
        for (i, d) in shown.iter().enumerate().skip(first).take(room) {
            let text = crate::text::fit(&decision_line(d), text_w.saturating_sub(2));
            let (mark, style) = if i == self.selected {
                (theme.glyph("▸"), theme.selected())
            } else {
                (" ", Default::default())
            };
            lines.push(Line::from(Span::styled(format!("{mark} {text}"), style)));
        }
        lines.push(Line::from(""));
        let scope = if self.whole_run {
            "Tab: this subtask's only"
        } else {
            "Tab: every decision of the run"
        };
        lines.push(Line::from(Span::styled(
            format!("↑↓ pick · ⏎ fork here · {scope} · Esc close"),
            theme.dim(),
        )));
        let title = match (self.whole_run, self.subtask) {
            (false, Some(id)) => format!("Fork at a decision about {id}"),
            _ => "Fork at a decision of the run".to_string(),
        };
        let inner = frame_box(frame, area, width, lines.len() as u16 + 2, &title, theme);
        frame.render_widget(Paragraph::new(crate::tui::safe::lines(lines)), inner);
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}

/// The fork is written: its id and the command to open it.
pub struct ForkDone {
    forked: Forked,
    done: bool,
}

impl ForkDone {
    pub fn new(forked: Forked) -> Self {
        Self {
            forked,
            done: false,
        }
    }

    /// `baton resume NEW`.
    pub fn command(&self) -> String {
        format!("baton resume {}", self.forked.run_id)
    }
}

impl Modal for ForkDone {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if is_esc(&key) || key.code == KeyCode::Enter {
            self.done = true;
        } else if key.code == KeyCode::Char('y') {
            return vec![Effect::Copy(self.command())];
        }
        Vec::new()
    }

    fn render(&self, frame: &mut Frame, area: Rect, _state: &State, theme: &Theme) {
        let width = modal_width(area).min(90);
        let text_w = width.saturating_sub(2) as usize;
        let mut lines = vec![
            Line::from(format!(
                "New run {} from {} (its events 1..{}).",
                self.forked.run_id, self.forked.parent, self.forked.at_seq
            )),
            Line::from(""),
            Line::from("Open it (this run goes on here):"),
            Line::from(Span::styled(format!("  {}", self.command()), theme.bold())),
        ];
        for w in &self.forked.warnings {
            lines.push(Line::from(""));
            lines.extend(
                wrap_words(w, text_w)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, theme.warn()))),
            );
        }
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("[y]", theme.key()),
            Span::raw(" copy the command  "),
            Span::styled("[Esc]", theme.key()),
            Span::raw(" close"),
        ]));
        let inner = frame_box(frame, area, width, lines.len() as u16 + 2, "Forked", theme);
        frame.render_widget(Paragraph::new(crate::tui::safe::lines(lines)), inner);
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}
