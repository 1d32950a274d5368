//! The TUI's side of the sanitizer: every `Span` built from untrusted text (model output,
//! command output, files, the journal) passes `lines`/`line`/`span` before it is drawn, so
//! escape sequences, bare `\r`, tabs and bidi overrides show as visible escapes (`\x1b`,
//! `\r`, `\u{202e}`) instead of acting on the terminal. `scrub` is the last net over the
//! whole frame: a cell that still holds such a character (a text box, a path we missed) is
//! drawn as `�`, so none can reach the terminal.
//!
//! Owns no rules of its own: what is unsafe is `crate::text::sanitize`. Must not change state.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::text::{Line, Span};

use crate::text::{is_unsafe_char, screen};

/// Shown in a cell that still held a control character when the frame was finished.
pub const REPLACEMENT: &str = "\u{fffd}";

/// The span with its text sanitized for the screen.
pub fn span(mut s: Span<'_>) -> Span<'_> {
    if let Cow::Owned(clean) = screen(&s.content) {
        s.content = Cow::Owned(clean);
    }
    s
}

/// The line with every span sanitized.
pub fn line(mut l: Line<'_>) -> Line<'_> {
    l.spans = l.spans.into_iter().map(span).collect();
    l
}

/// Lines with every span sanitized.
pub fn lines(ls: Vec<Line<'_>>) -> Vec<Line<'_>> {
    ls.into_iter().map(line).collect()
}

/// A plain string sanitized for the screen (titles, one-off labels).
pub fn string(s: &str) -> String {
    screen(s).into_owned()
}

/// The last net over a drawn frame: any cell holding a control or bidi character becomes `�`.
pub fn scrub(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.symbol().chars().any(is_unsafe_char) {
            cell.set_symbol(REPLACEMENT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn spans_are_made_visible_and_cells_scrubbed() {
        let l = line(Line::from(vec![
            Span::raw("a\x1b[2K"),
            Span::raw("\tb\u{202e}"),
        ]));
        assert_eq!(l.spans[0].content, "a\\x1b[2K");
        assert_eq!(l.spans[1].content, "    b\\u{202e}");
        let mut buf = Buffer::empty(Rect::new(0, 0, 3, 1));
        buf[(1, 0)].set_symbol("\x1b");
        scrub(&mut buf);
        assert_eq!(buf[(1, 0)].symbol(), REPLACEMENT);
        assert_eq!(buf[(0, 0)].symbol(), " ");
    }
}
