//! The sanitizer for untrusted text (model output, command output, files read from disk) on
//! its way to a terminal or a Markdown export.
//!
//! Every character a terminal would act on instead of printing is made visible in Rust's own
//! escape notation, so a person sees exactly what was there and nothing can move the cursor,
//! retitle the window, write the clipboard (OSC 52) or restyle the screen:
//! - C0 controls except `\n` and `\t`, DEL and C1 controls: `\r`, `\x1b`, `\x7f`, `\u{9b}`.
//!   Escaping the ESC (or the 8-bit CSI) makes the whole ESC/CSI/OSC/DCS sequence inert: its
//!   remaining characters are printable and are shown as they are (`\x1b[2K`).
//! - Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder what
//!   a person sees without being visible: `\u{202e}`.
//!
//! The output contains none of these, so sanitizing is idempotent. Must not be used on text
//! that is stored or sent back to a model: the journal and `--json` keep the exact bytes.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Bidirectional embedding, override and isolate controls (the "Trojan Source" set).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A character the sanitizer makes visible: any control character but `\n` and `\t`, or a
/// bidirectional control.
pub fn is_unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// Whether `text` holds anything the sanitizer would change (a command shown for approval
/// with such characters is marked suspicious).
pub fn is_suspicious(text: &str) -> bool {
    text.chars().any(is_unsafe_char)
}

fn push_escaped(out: &mut String, c: char) {
    // Writing to a String cannot fail.
    let _ = match c {
        '\r' => {
            out.push_str("\\r");
            Ok(())
        }
        '\0'..='\x1f' | '\x7f' => write!(out, "\\x{:02x}", c as u32),
        _ => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// `text` with every unsafe character (see the module comment) made visible; borrowed when
/// there is nothing to change. Keeps `\n` and `\t`.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if !is_suspicious(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_char(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Sanitized for a terminal cell grid: as `sanitize`, with each tab as four spaces (a tab in
/// a cell would move the terminal's cursor past what the screen model knows).
pub fn screen(text: &str) -> Cow<'_, str> {
    match sanitize(text) {
        Cow::Borrowed(s) if !s.contains('\t') => Cow::Borrowed(s),
        s => Cow::Owned(s.replace('\t', "    ")),
    }
}

/// One sanitized line of at most `max` characters: each newline and tab becomes a space
/// (indentation is kept), and `…` marks a cut.
pub fn one_line(text: &str, max: usize) -> String {
    let mut flat = String::new();
    let mut count = 0;
    for c in text.chars() {
        if count > max {
            break;
        }
        if c == '\n' || c == '\t' {
            flat.push(' ');
            count += 1;
        } else if is_unsafe_char(c) {
            let before = flat.len();
            push_escaped(&mut flat, c);
            // Escapes are ASCII: one char per byte.
            count += flat.len() - before;
        } else {
            flat.push(c);
            count += 1;
        }
    }
    if count <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_sequences_are_made_visible() {
        assert_eq!(sanitize("\x1b[2K\r\x1b[1Agit"), "\\x1b[2K\\r\\x1b[1Agit");
        assert_eq!(
            sanitize("\x1b]0;pwned\x07"),
            "\\x1b]0;pwned\\x07",
            "OSC 0 window title"
        );
        assert_eq!(
            sanitize("\x1b]52;c;ZXZpbA==\x1b\\"),
            "\\x1b]52;c;ZXZpbA==\\x1b\\",
            "OSC 52 clipboard"
        );
        assert_eq!(sanitize("\x1b[7mrev\x1b[0m"), "\\x1b[7mrev\\x1b[0m");
        assert_eq!(sanitize("a\u{9b}2Jb\u{85}"), "a\\u{9b}2Jb\\u{85}");
        assert_eq!(sanitize("del\x7f nul\0"), "del\\x7f nul\\x00");
        assert_eq!(sanitize("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(sanitize("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn plain_text_is_borrowed_and_keeps_newlines_and_tabs() {
        assert!(matches!(sanitize("a\n\tb — ü 漢"), Cow::Borrowed(_)));
        assert_eq!(screen("a\tb\r"), "a    b\\r");
        assert!(is_suspicious("touch X; \x1b[2K\rgit status"));
        assert!(!is_suspicious("cargo test\n\t--all"));
    }

    #[test]
    fn one_line_flattens_sanitizes_and_cuts() {
        assert_eq!(one_line("a\n  b\tc", 10), "a   b c");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("x\x1b[31m", 20), "x\\x1b[31m");
        assert_eq!(one_line("", 5), "");
    }

    proptest! {
        #[test]
        fn sanitized_text_has_no_controls_and_is_stable(s in any::<String>()) {
            let once = sanitize(&s).into_owned();
            prop_assert!(!once.chars().any(is_unsafe_char));
            prop_assert!(!once.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
            let twice = sanitize(&once).into_owned();
            prop_assert_eq!(twice, once);
            let line = one_line(&s, 40);
            prop_assert!(!line.chars().any(char::is_control));
            prop_assert!(line.chars().count() <= 40);
        }

        #[test]
        fn escapes_around_controls_survive(pre in "[a-z]{0,8}", c in proptest::char::range('\0', '\u{9f}'), post in "[a-z]{0,8}") {
            let s = format!("{pre}{c}{post}");
            let out = sanitize(&s);
            prop_assert!(out.starts_with(&pre) && out.ends_with(&post));
        }
    }
}
