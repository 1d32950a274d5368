//! Symbols and colours: what each status looks like, with an ASCII fallback and `NO_COLOR`.
//!
//! Owns the mapping from a subtask's state to its symbol and style. Symbols carry the
//! meaning; colour is only a second channel, so everything stays readable without it.
//! Must not decide anything about the run (that is `state`'s job).

use ratatui::style::{Color, Modifier, Style};

use crate::state::{State, Subtask, SubtaskStatus};

/// What a status symbol means on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    NeedsYou,
    Running,
    Waiting,
    Queued,
    Done,
    Partial,
    Failed,
    Deferred,
    Cancelled,
}

/// How the screen is drawn: glyphs or ASCII, colour or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub ascii: bool,
    pub color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            ascii: false,
            color: true,
        }
    }
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const SPINNER_ASCII: [&str; 4] = ["|", "/", "-", "\\"];

impl Theme {
    /// `NO_COLOR` (any non-empty value) turns colour off; `ascii` comes from `[ui] ascii`.
    pub fn from_env(ascii: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            ascii,
            color: !no_color,
        }
    }

    pub fn symbol(&self, mark: Mark) -> &'static str {
        match (mark, self.ascii) {
            (Mark::NeedsYou, false) => "⚑",
            (Mark::NeedsYou, true) => "!",
            (Mark::Running, false) => "▶",
            (Mark::Running, true) => ">",
            (Mark::Waiting, false) => "◻",
            (Mark::Waiting, true) => "o",
            (Mark::Queued, false) => "·",
            (Mark::Queued, true) => ".",
            (Mark::Done, false) => "✓",
            (Mark::Done, true) => "+",
            (Mark::Partial, false) => "◐",
            (Mark::Partial, true) => "~",
            (Mark::Failed, false) => "✗",
            (Mark::Failed, true) => "x",
            (Mark::Deferred, false) => "⏸",
            (Mark::Deferred, true) => "=",
            (Mark::Cancelled, false) => "⊘",
            (Mark::Cancelled, true) => "-",
        }
    }

    /// Glyphs used in running text (arrows, tool marker, bullets).
    pub fn glyph(&self, fancy: &'static str) -> &'static str {
        if !self.ascii {
            return fancy;
        }
        match fancy {
            "←" => "<-",
            "→" => "->",
            "▸" => ">",
            "↳" => "->",
            "↻" => "@",
            "•" => "*",
            "↑" => "^",
            "↓" => "v",
            "·" => "|",
            "…" => "...",
            "│" => "|",
            "─" => "-",
            "$" => "$",
            other => other,
        }
    }

    pub fn spinner(&self, frame: u64) -> &'static str {
        if self.ascii {
            SPINNER_ASCII[(frame % SPINNER_ASCII.len() as u64) as usize]
        } else {
            SPINNER[(frame % SPINNER.len() as u64) as usize]
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn mark_style(&self, mark: Mark) -> Style {
        match mark {
            Mark::NeedsYou => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Mark::Running => self.fg(Color::Cyan),
            Mark::Waiting | Mark::Queued => self.fg(Color::Gray),
            Mark::Done => self.fg(Color::Green),
            Mark::Partial => self.fg(Color::LightGreen),
            Mark::Failed => self.fg(Color::Red),
            Mark::Deferred => self.fg(Color::Magenta),
            Mark::Cancelled => self.dim(),
        }
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default().add_modifier(Modifier::DIM)
        }
    }
    pub fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red)
    }
    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    /// The selected row: reversed, so it shows without colour too.
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn border(&self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }
}

/// The mark of a subtask, from its status and (for ready ones) whether it waits on others.
pub fn mark_of(state: &State, s: &Subtask) -> Mark {
    match s.status {
        SubtaskStatus::AwaitingApproval | SubtaskStatus::Escalated => Mark::NeedsYou,
        SubtaskStatus::Running => Mark::Running,
        SubtaskStatus::Ready => {
            if state.dependencies_done(s) {
                Mark::Queued
            } else {
                Mark::Waiting
            }
        }
        SubtaskStatus::Complete => Mark::Done,
        SubtaskStatus::Partial => Mark::Partial,
        SubtaskStatus::Blocked | SubtaskStatus::Failed => Mark::Failed,
        SubtaskStatus::Deferred => Mark::Deferred,
        SubtaskStatus::Cancelled => Mark::Cancelled,
    }
}

/// A short role name for narrow columns: `code_developer` → `dev`.
pub fn short_role(role: &str) -> String {
    let r = role.trim().to_lowercase().replace([' ', '-'], "_");
    let known = match r.as_str() {
        "code_analyzer" | "code_analyser" => Some("analyze"),
        "system_architect" => Some("arch"),
        "code_developer" => Some("dev"),
        "test_engineer" => Some("test"),
        "documentation_writer" => Some("docs"),
        "performance_optimizer" | "performance_optimiser" => Some("perf"),
        _ => None,
    };
    match known {
        Some(k) => k.to_string(),
        None => r.split('_').next().unwrap_or("").chars().take(8).collect(),
    }
}

/// A role as a person reads it: `code_developer` → `code developer`.
pub fn role_label(role: &str) -> String {
    role.replace('_', " ")
}
