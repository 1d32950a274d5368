//! Text boxes everywhere (task editor, guidance, forms, deny reason): the keys tui-textarea
//! does not handle the way `?` promises, pasted text made exact, and a soft-wrapped view.
//!
//! Owns editing keys common to every box (Ctrl-Z undo, Ctrl-Y redo), paste normalisation
//! (terminals send pasted newlines as `\r` or `\r\n`: they become `\n`; tabs stay tabs and
//! are drawn as spaces to the next stop of 4), and drawing a box with its long lines wrapped
//! at word boundaries so the whole text stays visible. Editing itself stays tui-textarea's:
//! this file only draws the same lines and cursor wrapped. Must not decide what a box's text
//! means (submit keys and fields belong to the modals and the editor).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_textarea::TextArea;
use unicode_width::UnicodeWidthChar;

/// Tab stops in a box (tui-textarea's default too).
const TAB: usize = 4;

/// Pasted text as the person meant it: CRLF and lone CR become `\n`; everything else
/// (tabs included) is kept exactly.
pub fn normalise_paste(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// One key for a text box. Ctrl-Z undoes and Ctrl-Y redoes (tui-textarea's own Ctrl-Y would
/// paste its kill buffer); every other key is tui-textarea's. Returns whether the text changed.
pub fn input(t: &mut TextArea<'_>, key: KeyEvent) -> bool {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        match key.code {
            KeyCode::Char('z' | 'Z') => return t.undo(),
            KeyCode::Char('y' | 'Y') => return t.redo(),
            _ => {}
        }
    }
    t.input(key)
}

/// Pastes (normalised) text at the cursor.
pub fn paste(t: &mut TextArea<'_>, text: &str) {
    t.insert_str(normalise_paste(text));
}

/// One drawn cell: the text shown and the width it takes.
struct Cell {
    text: String,
    width: usize,
    space: bool,
}

fn cells_of(line: &str) -> Vec<Cell> {
    let mut col = 0;
    line.chars()
        .map(|c| {
            let (text, width) = if c == '\t' {
                let w = TAB - col % TAB;
                (" ".repeat(w), w)
            } else if c.is_control() {
                // Never hand a control character to the terminal.
                ("\u{fffd}".to_string(), 1)
            } else {
                (c.to_string(), c.width().unwrap_or(0))
            };
            col += width;
            Cell {
                space: c == ' ' || c == '\t',
                text,
                width,
            }
        })
        .collect()
}

/// Where each visual row of a logical line starts (cell indices), wrapping at `width`
/// after the last space that fits, or mid-word when a word is longer than the row.
fn breaks(cells: &[Cell], width: usize) -> Vec<usize> {
    let mut starts = vec![0];
    let mut start = 0;
    let mut used = 0;
    let mut i = 0;
    while i < cells.len() {
        let w = cells[i].width;
        if used + w > width && i > start {
            let space = (start..i).rev().find(|&j| cells[j].space);
            let next = space.map_or(i, |j| j + 1);
            starts.push(next);
            start = next;
            used = cells[start..i].iter().map(|c| c.width).sum();
            continue;
        }
        used += w;
        i += 1;
    }
    starts
}

/// The rows a box shows: wrapped lines, and where the cursor is among them (row, cell).
pub fn wrapped(
    lines: &[String],
    cursor: (usize, usize),
    width: usize,
) -> (Vec<Vec<String>>, (usize, usize)) {
    let width = width.max(1);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut at = (0, 0);
    for (li, line) in lines.iter().enumerate() {
        let cells = cells_of(line);
        let starts = breaks(&cells, width);
        let first = rows.len();
        for (k, s) in starts.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(cells.len());
            rows.push(cells[*s..end].iter().map(|c| c.text.clone()).collect());
        }
        if li == cursor.0 {
            let col = cursor.1.min(cells.len());
            let k = starts.iter().rposition(|s| *s <= col).unwrap_or(0);
            let mut row = first + k;
            let mut cell = col - starts[k];
            let row_w: usize = cells[starts[k]..col].iter().map(|c| c.width).sum();
            if col == cells.len() && row_w >= width {
                // The cursor after a full last row goes to the start of the next one.
                rows.insert(row + 1, Vec::new());
                row += 1;
                cell = 0;
            }
            at = (row, cell);
        }
    }
    (rows, at)
}

/// Draws a text box (its block, as `modals::boxed` set it) with soft-wrapped lines, the
/// cursor in the box's cursor style, scrolled so the cursor stays in view.
pub fn render(frame: &mut Frame, area: Rect, t: &TextArea<'_>) {
    let inner = match t.block() {
        Some(b) => {
            let inner = b.inner(area);
            frame.render_widget(b.clone(), area);
            inner
        }
        None => area,
    };
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let cursor_style = t.cursor_style();
    if t.is_empty() {
        let style = t
            .placeholder_style()
            .unwrap_or_else(|| Style::default().add_modifier(Modifier::DIM));
        let (rows, _) = wrapped(
            &[t.placeholder_text().to_string()],
            (0, 0),
            inner.width as usize,
        );
        let mut lines: Vec<Line> = rows
            .into_iter()
            .map(|r| Line::from(Span::styled(r.concat(), style)))
            .collect();
        if let Some(first) = lines.first_mut() {
            first.spans.insert(0, Span::styled(" ", cursor_style));
        }
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let (rows, (crow, ccell)) = wrapped(t.lines(), t.cursor(), inner.width as usize);
    let height = inner.height as usize;
    let top = crow.saturating_sub(height - 1);
    let lines: Vec<Line> = rows
        .into_iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(r, cells)| {
            if r != crow {
                return Line::from(cells.concat());
            }
            let before: String = cells.iter().take(ccell).map(String::as_str).collect();
            let under = cells.get(ccell).cloned().unwrap_or_else(|| " ".to_string());
            let after: String = cells.iter().skip(ccell + 1).map(String::as_str).collect();
            Line::from(vec![
                Span::raw(before),
                Span::styled(under, cursor_style),
                Span::raw(after),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).style(t.style()), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, cursor: (usize, usize), width: usize) -> (Vec<String>, (usize, usize)) {
        let lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        let (r, at) = wrapped(&lines, cursor, width);
        (r.into_iter().map(|c| c.concat()).collect(), at)
    }

    #[test]
    fn paste_normalises_line_ends_and_keeps_tabs() {
        assert_eq!(normalise_paste("a\r\nb\rc\n\td"), "a\nb\nc\n\td");
    }

    #[test]
    fn long_lines_wrap_at_words_and_the_cursor_follows() {
        let (r, at) = rows("the quick brown fox", (0, 19), 10);
        assert_eq!(r, vec!["the quick ", "brown fox"]);
        assert_eq!(at, (1, 9));
        let (r, at) = rows("abcdefghijkl", (0, 3), 5);
        assert_eq!(r, vec!["abcde", "fghij", "kl"]);
        assert_eq!(at, (0, 3));
        let (r, at) = rows("abcde", (0, 5), 5);
        assert_eq!(r, vec!["abcde", ""]);
        assert_eq!(at, (1, 0));
    }

    #[test]
    fn tabs_draw_to_the_next_stop() {
        let (r, _) = rows("a\tb", (0, 0), 20);
        assert_eq!(r, vec!["a   b"]);
    }

    #[test]
    fn ctrl_z_undoes_and_ctrl_y_redoes() {
        let mut t = TextArea::default();
        paste(&mut t, "one\r\ntwo");
        assert_eq!(t.lines(), ["one", "two"]);
        input(
            &mut t,
            KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL),
        );
        assert_eq!(t.lines(), [""]);
        input(
            &mut t,
            KeyEvent::new(KeyCode::Char('y'), KeyModifiers::CONTROL),
        );
        assert_eq!(t.lines(), ["one", "two"]);
    }
}
