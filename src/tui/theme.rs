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
    /// Was running when the run ended (a stop, a failure, the engine's task ending
    /// abnormally): nothing runs it now; a resume runs it again.
    Interrupted,
    Waiting,
    Queued,
    Done,
    Partial,
    Failed,
    Deferred,
    Cancelled,
}

/// How the screen is drawn: glyphs or ASCII, colour or not, for a dark or light background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub ascii: bool,
    pub color: bool,
    /// Colours chosen for a light background (`[ui] theme = "light"`).
    pub light: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            ascii: false,
            color: true,
            light: false,
        }
    }
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const SPINNER_ASCII: [&str; 4] = ["|", "/", "-", "\\"];

impl Theme {
    /// `NO_COLOR` (any non-empty value) turns colour off; `ascii` and `light` come from
    /// `[ui] ascii` and `[ui] theme`.
    pub fn from_env(ascii: bool, light: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            ascii,
            color: !no_color,
            light,
        }
    }

    pub fn symbol(&self, mark: Mark) -> &'static str {
        match (mark, self.ascii) {
            (Mark::NeedsYou, false) => "⚑",
            (Mark::NeedsYou, true) => "!",
            (Mark::Running, false) => "▶",
            (Mark::Running, true) => ">",
            (Mark::Interrupted, false) => "◌",
            (Mark::Interrupted, true) => "/",
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
            "◂" => "<",
            "✗" => "x",
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
            "⏸" => "||",
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

    /// A colour, or nothing without colour. On a light background the pale colours
    /// (yellow, cyan, light green, grey) become darker ones that stay readable on white.
    fn fg(&self, c: Color) -> Style {
        if !self.color {
            return Style::default();
        }
        let c = if self.light {
            match c {
                Color::Yellow => Color::Indexed(130),
                Color::Cyan => Color::Blue,
                Color::LightGreen => Color::Indexed(28),
                Color::Green => Color::Indexed(22),
                Color::Gray => Color::Indexed(240),
                Color::DarkGray => Color::Indexed(244),
                other => other,
            }
        } else {
            c
        };
        Style::default().fg(c)
    }

    pub fn mark_style(&self, mark: Mark) -> Style {
        match mark {
            Mark::NeedsYou => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Mark::Running => self.fg(Color::Cyan),
            Mark::Interrupted => self.fg(Color::Yellow),
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
            self.fg(Color::DarkGray)
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

/// The one-cell ASCII stand-in for a glyph (box drawing, arrows, marks, punctuation).
fn ascii_cell(c: char) -> char {
    match c {
        '─' | '━' | '═' | '┄' | '┈' | '╌' | '—' | '–' | '⎯' => '-',
        '│' | '┃' | '║' | '┆' | '┊' | '╎' => '|',
        '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮' | '╰' | '╯' | '╔' | '╗'
        | '╚' | '╝' | '╠' | '╣' | '╦' | '╩' | '╬' | '┏' | '┓' | '┗' | '┛' => {
            '+'
        }
        '…' | '·' | '•' | '◦' | '∙' => '.',
        '⏎' | '↵' => '<',
        '▸' | '▶' | '→' | '►' | '›' | '»' => '>',
        '←' | '◀' | '‹' | '«' => '<',
        '↑' | '▲' => '^',
        '↓' | '▼' => 'v',
        '✓' | '✔' => '+',
        '✗' | '✘' | '×' => 'x',
        '⚑' => '!',
        '◻' | '□' | '○' => 'o',
        '◐' => '~',
        '⏸' => '=',
        '⊘' => '-',
        '“' | '”' | '„' => '"',
        '‘' | '’' => '\'',
        '\u{a0}' => ' ',
        c if c.is_ascii() => c,
        _ => '?',
    }
}

/// `[ui] ascii = true`: after a frame is drawn, every cell that is not ASCII becomes its
/// ASCII stand-in (wide characters leave spaces behind), so no glyph the terminal cannot
/// draw reaches it, whichever part of the screen produced it.
pub fn to_ascii(buf: &mut ratatui::buffer::Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        let mut pad = 0usize;
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            let sym = cell.symbol();
            if pad > 0 && sym.is_empty() {
                pad -= 1;
                cell.set_symbol(" ");
                continue;
            }
            pad = 0;
            if sym.is_ascii() {
                continue;
            }
            let width = unicode_width::UnicodeWidthStr::width(sym);
            let first = sym.chars().next().map_or(' ', ascii_cell);
            let mut tmp = [0u8; 4];
            cell.set_symbol(first.encode_utf8(&mut tmp));
            pad = width.saturating_sub(1);
        }
    }
}

/// The mark of a subtask, from its status and (for ready ones) whether it waits on others.
/// A subtask still "running" in a run that has ended is interrupted, never running.
pub fn mark_of(state: &State, s: &Subtask) -> Mark {
    if state.waits_for_person(s) {
        return Mark::NeedsYou;
    }
    match s.status {
        SubtaskStatus::AwaitingApproval | SubtaskStatus::Escalated => Mark::NeedsYou,
        SubtaskStatus::Running if state.is_finished() => Mark::Interrupted,
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

pub use crate::state::role_label;
