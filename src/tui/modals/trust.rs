//! The resume-trust dialog: shown before the engine of a resumed run starts, when the run's
//! journal names another provider, base URL or workspace than today's configuration
//! (`crate::resume_trust`). It lists each difference and asks whether to continue with
//! today's settings; quitting prints the flags that choose, like headless does.
//!
//! Owns the dialog's text, keys and drawing. Must not start anything: `tui::startup` runs it
//! before any engine exists, so nothing reaches a provider until the person answers.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Choice, choices_line, frame_box, pick, wrap_words};
use crate::resume_trust::{TrustRefusal, visible};
use crate::tui::theme::Theme;

/// The person's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustAnswer {
    /// Continue with today's provider, base URL and workspace.
    Today,
    /// Start nothing; say which flags choose.
    Quit,
}

const CHOICES: &[Choice<TrustAnswer>] = &[
    Choice {
        key: 'y',
        label: "continue with today's settings",
        action: TrustAnswer::Today,
    },
    Choice {
        key: 'n',
        label: "quit (shows the flags)",
        action: TrustAnswer::Quit,
    },
];

/// The dialog for one refusal.
pub struct TrustDialog {
    refusal: TrustRefusal,
}

impl TrustDialog {
    pub fn new(refusal: TrustRefusal) -> Self {
        Self { refusal }
    }

    pub fn refusal(&self) -> &TrustRefusal {
        &self.refusal
    }

    /// The answer a key gives: `y` continues; `n`, `q`, Esc and Ctrl-C quit; anything else
    /// (Enter included, so a stray key cannot say yes) does nothing.
    pub fn handle_key(&self, key: &KeyEvent) -> Option<TrustAnswer> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => Some(TrustAnswer::Quit),
            KeyCode::Char(c) if ctrl && c.eq_ignore_ascii_case(&'c') => Some(TrustAnswer::Quit),
            KeyCode::Char(c) if !ctrl && c.eq_ignore_ascii_case(&'q') => Some(TrustAnswer::Quit),
            _ => pick(CHOICES, key),
        }
    }

    /// The body lines for a box `width` columns wide inside.
    fn lines(&self, width: usize, theme: &Theme) -> Vec<Line<'static>> {
        let mut out: Vec<Line<'static>> = Vec::new();
        let intro = "This run's journal names other settings than today's configuration. Baton \
                     does not take them from the journal, a file a worker could have written.";
        out.extend(wrap_words(intro, width).into_iter().map(Line::from));
        out.push(Line::from(""));
        let shown = |v: &Option<String>| match v {
            Some(v) => visible(v),
            None => "none".to_string(),
        };
        let key_width = self
            .refusal
            .found
            .iter()
            .map(|m| m.key.len())
            .max()
            .unwrap_or(0);
        for m in &self.refusal.found {
            out.push(Line::from(vec![
                Span::styled(format!("{:key_width$}", m.key), theme.title()),
                Span::raw(format!("  journal: {}", shown(&m.journal))),
            ]));
            out.push(Line::from(format!(
                "{:key_width$}  today:   {}",
                "",
                shown(&m.today)
            )));
        }
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(
            "Nothing is sent to any provider until you answer.",
            Style::default(),
        )));
        out.push(Line::from(""));
        out.push(choices_line(CHOICES, theme, &[]));
        let flags: Vec<String> = self
            .refusal
            .found
            .iter()
            .filter_map(|m| {
                m.journal
                    .as_ref()
                    .map(|j| format!("  {} {}", m.flag, visible(j)))
            })
            .collect();
        if !flags.is_empty() {
            out.push(Line::from(""));
            out.push(Line::from(
                "To use the journal's instead (only if you trust it), resume with:",
            ));
            out.extend(flags.into_iter().map(Line::from));
        }
        out
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let width = area.width.saturating_sub(4).clamp(20, 90);
        let inner_width = usize::from(width.saturating_sub(2));
        let lines = crate::tui::safe::lines(self.lines(inner_width, theme));
        // Long values (a URL, a path) wrap: count the rows they take.
        let rows: usize = lines
            .iter()
            .map(|l| l.width().max(1).div_ceil(inner_width.max(1)))
            .sum();
        let height = u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2);
        let title = format!("Resume run {}?", self.refusal.run_id);
        let inner = frame_box(
            frame,
            area,
            width,
            height,
            &crate::tui::safe::string(&title),
            theme,
        );
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
    }
}
