//! Confirmation before rolling back one subtask's file changes: lists each file and what
//! rolling back does to it (restore the original, or remove a file the subtask created).
//!
//! Owns that question and the one command it sends on "yes" (`Command::Rollback`). Must not
//! touch files itself nor send anything on "no" or Esc.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Choice, Modal, choices_line, frame_box, is_esc, modal_width, pick, wrap_words};
use crate::protocol::{Command, SubtaskId};
use crate::state::{FileChange, State};
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
        label: "yes, roll back",
        action: Answer::Yes,
    },
    Choice {
        key: 'n',
        label: "no",
        action: Answer::No,
    },
];

/// What rolling back does to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub path: String,
    pub what: String,
}

pub struct RollbackConfirm {
    id: SubtaskId,
    title: String,
    files: Vec<Restore>,
    done: bool,
}

/// Each file the subtask's live (not rolled back) changes touched, first-touched order.
pub fn restores(state: &State, id: SubtaskId) -> Vec<Restore> {
    let live: Vec<(usize, &FileChange)> = state
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.id == id && !f.rolled_back)
        .collect();
    let mut out: Vec<Restore> = Vec::new();
    for (_, first) in &live {
        if out.iter().any(|r| r.path == first.path) {
            continue;
        }
        let (last_at, last) = live
            .iter()
            .rev()
            .find(|(_, g)| g.path == first.path)
            .map_or((0, *first), |(i, g)| (*i, *g));
        // A later subtask's change of the file that is still in place: the rollback would
        // lose it, so the tools refuse; say so before the person confirms.
        let later = state
            .files
            .iter()
            .skip(last_at + 1)
            .find(|g| g.path == first.path && g.id != id && !g.rolled_back);
        let what = match (later, &first.before, &last.after) {
            (Some(l), _, _) => format!(
                "changed since by {}: roll that back first, or nothing is restored",
                l.id
            ),
            (None, None, _) => "remove (the subtask created it)".to_string(),
            (None, Some(_), None) => "restore (the subtask deleted it)".to_string(),
            (None, Some(_), Some(_)) => "restore the original".to_string(),
        };
        out.push(Restore {
            path: first.path.clone(),
            what,
        });
    }
    out
}

impl RollbackConfirm {
    /// `None` when the subtask has nothing to roll back.
    pub fn new(state: &State, id: SubtaskId) -> Option<Self> {
        let files = restores(state, id);
        if files.is_empty() {
            return None;
        }
        let title = state.subtask(id).map_or(format!("Roll back {id}"), |s| {
            format!("Roll back {id} {}", s.title)
        });
        Some(Self {
            id,
            title,
            files,
            done: false,
        })
    }
}

impl Modal for RollbackConfirm {
    fn handle_key(&mut self, key: KeyEvent, _state: &State) -> Vec<Effect> {
        if is_esc(&key) {
            self.done = true;
            return Vec::new();
        }
        match pick(CHOICES, &key) {
            Some(Answer::Yes) => {
                self.done = true;
                vec![Effect::Send(Command::Rollback { id: self.id })]
            }
            Some(Answer::No) => {
                self.done = true;
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    fn render(&self, frame: &mut Frame, area: Rect, _state: &State, theme: &Theme) {
        let width = modal_width(area).min(90);
        let text_w = width.saturating_sub(2) as usize;
        let mut lines: Vec<Line<'static>> = wrap_words(
            &format!(
                "Put these files back as they were before {} changed them? \
                 Later changes by other subtasks are never overwritten: if a file changed \
                 since, nothing is restored and you are told why.",
                self.id
            ),
            text_w,
        )
        .into_iter()
        .map(Line::from)
        .collect();
        lines.push(Line::from(""));
        // Room for the question, the files and the choices; long lists are cut with a count.
        let max_files = (area.height as usize)
            .saturating_sub(lines.len() + 6)
            .max(1);
        for f in self.files.iter().take(max_files) {
            lines.push(Line::from(vec![
                Span::raw(format!("  {} ", theme.glyph("•"))),
                Span::styled(f.path.clone(), theme.bold()),
                Span::styled(format!("  {}", f.what), theme.dim()),
            ]));
        }
        if self.files.len() > max_files {
            lines.push(Line::from(Span::styled(
                format!(
                    "  {} and {} more",
                    theme.glyph("…"),
                    self.files.len() - max_files
                ),
                theme.dim(),
            )));
        }
        lines.push(Line::from(""));
        lines.push(choices_line(CHOICES, theme, &[("Esc", "cancel")]));
        let height = lines.len() as u16 + 2;
        let inner = frame_box(frame, area, width, height, &self.title, theme);
        frame.render_widget(Paragraph::new(crate::tui::safe::lines(lines)), inner);
    }

    fn is_complete(&self) -> bool {
        self.done
    }
}
