//! Text shown to a person: the one sanitizer every terminal and Markdown path uses
//! (`sanitize`), and the shortening built on it: `one_line` (chars) and `fit` (terminal
//! columns).
//!
//! A leaf: imports nothing of ours, so the TUI, headless, export and cli all use the same
//! rules. Must not touch the terminal, the file system or any state; the journal and `--json`
//! keep exact text, and only display calls these.

pub mod sanitize;
pub mod width;

pub use sanitize::{is_suspicious, is_unsafe_char, one_line, sanitize, screen};
pub use width::fit;
