//! What a worker pane shows of a person's steering (issue 11, capability 4): a paused
//! badge, the latest note from the person, a brief edited since the attempt started, the
//! model chosen for the next attempt, a restart. At most three lines on top of the pane.
//!
//! Owns those lines. Must not change anything; every text from the journal is sanitised
//! (`safe`) before it is drawn.

use ratatui::text::{Line, Span};

use super::app::Ui;
use crate::protocol::{Steer, SubtaskId};
use crate::text::fit;

/// The steering lines of `id`'s pane (empty when nobody steered it), each fitted to `width`.
pub fn lines(ui: &Ui, id: SubtaskId, width: usize) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let (Some(s), Some(st)) = (ui.state.subtask(id), ui.state.steering(id)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if ui.state.worker_paused(id) {
        out.push(Line::from(Span::styled(
            fit(
                "⏸ paused by you: its next model call waits (w: resume)",
                width,
            ),
            t.warn(),
        )));
    }
    if let Some(note) = st.notes.last() {
        // Given to this attempt: read before its next call; to an earlier one: with the brief.
        let when = if note.attempt == s.attempts {
            ""
        } else {
            " (with its brief)"
        };
        let text = crate::text::one_line(&note.text, width);
        out.push(Line::from(vec![
            Span::styled(format!("✎ note from you{when}: "), t.accent()),
            Span::raw(text),
        ]));
    }
    if ui.state.brief_edited_since_start(id) {
        out.push(Line::from(Span::styled(
            fit(
                "✎ brief edited by you: this attempt has the old one (w, r: restart)",
                width,
            ),
            t.accent(),
        )));
    } else if let Some(r) = st.log.last().filter(|r| r.steer == Steer::Restart) {
        out.push(Line::from(Span::styled(
            fit(
                &format!(
                    "↻ restarted by you after attempt {} (edited brief)",
                    r.attempt
                ),
                width,
            ),
            t.dim(),
        )));
    }
    if let Some(m) = ui.state.steered_model(id)
        && s.model.as_deref() != Some(m)
    {
        out.push(Line::from(Span::styled(
            fit(&format!("model for the next attempt: {m}"), width),
            t.dim(),
        )));
    }
    out.truncate(3);
    out.into_iter()
        .map(|l| {
            let mut l = crate::tui::safe::line(l);
            // One row each: cut to the pane's width after sanitising.
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if unicode_width::UnicodeWidthStr::width(text.as_str()) > width {
                let style = l.spans.first().map(|s| s.style).unwrap_or_default();
                l = Line::from(Span::styled(fit(&text, width), style));
            }
            l
        })
        .collect()
}
