//! Cutting sanitized text to a number of terminal columns (display width, not chars), for
//! one-row places of the TUI: titles, the header, table cells.
//!
//! Must not know about widgets or styles.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::sanitize::screen;

/// `s` sanitized for the screen, on one row (newlines as spaces), cut to `width` display
/// columns with `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    let clean = screen(s);
    let flat: std::borrow::Cow<'_, str> = if clean.contains('\n') {
        clean.replace('\n', " ").into()
    } else {
        clean
    };
    if flat.width() <= width {
        return flat.into_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for ch in flat.chars() {
        let cw = ch.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(ch);
        w += cw;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_by_display_width_after_sanitizing() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("漢字漢字", 5), "漢字…");
        assert_eq!(fit("a\nb\x1b", 20), "a b\\x1b");
        assert_eq!(fit("\x1b[2K", 4), "\\x1…");
    }
}
