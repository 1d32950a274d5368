//! Text shown to a person: the one sanitizer every terminal and Markdown path uses
//! (`sanitize`), the shortening built on it: `one_line` (chars) and `fit` (terminal
//! columns), and how a duration reads (`duration`).
//!
//! A leaf: imports nothing of ours, so the TUI, headless, export and cli all use the same
//! rules. Must not touch the terminal, the file system or any state; the journal and `--json`
//! keep exact text, and only display calls these.

pub mod sanitize;
pub mod width;

pub use sanitize::{is_suspicious, is_unsafe_char, one_line, sanitize, screen};
pub use width::fit;

/// `12s`, `4m05s`, `1h02m`: a duration as the header, the summary and `baton graph` say it.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}
