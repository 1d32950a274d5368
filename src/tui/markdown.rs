//! Markdown → styled terminal lines (pulldown-cmark): headings, paragraphs, emphasis,
//! inline code, lists (nested, numbered), block quotes, code blocks, rules, links and
//! tables with aligned columns.
//!
//! Owns the rendering of the deliverable. Must not wrap (the view's paragraph wraps) and
//! must not lose text: anything unknown renders as plain text.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;

struct Renderer<'t> {
    theme: &'t Theme,
    /// Columns available (tables shrink their widest columns to fit).
    width: usize,
    lines: Vec<Line<'static>>,
    cur: Vec<Span<'static>>,
    styles: Vec<Style>,
    /// Per open list: the next number (`None`: bullets).
    lists: Vec<Option<u64>>,
    quote: usize,
    in_code: bool,
    link: Option<String>,
    table: Option<Table>,
    /// A blank line is due before the next block.
    gap: bool,
}

#[derive(Default)]
struct Table {
    rows: Vec<Vec<String>>,
    cell: String,
    head_rows: usize,
}

impl<'t> Renderer<'t> {
    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn prefix(&self) -> Vec<Span<'static>> {
        let mut p = Vec::new();
        for _ in 0..self.quote {
            p.push(Span::styled(
                format!("{} ", self.theme.glyph("│")),
                self.theme.dim(),
            ));
        }
        p
    }

    fn flush(&mut self) {
        if self.cur.is_empty() {
            return;
        }
        let mut spans = self.prefix();
        spans.append(&mut self.cur);
        self.lines.push(Line::from(spans));
    }

    fn block_start(&mut self) {
        self.flush();
        if self.gap && !self.lines.is_empty() {
            self.lines.push(Line::from(""));
        }
        self.gap = false;
    }

    fn text(&mut self, text: &str) {
        if let Some(t) = self.table.as_mut() {
            t.cell.push_str(text);
            return;
        }
        if self.in_code {
            for (i, l) in text.split('\n').enumerate() {
                if i > 0 {
                    self.flush_code();
                }
                if !l.is_empty() {
                    self.cur
                        .push(Span::styled(l.to_string(), self.theme.accent()));
                }
            }
            return;
        }
        let style = self.style();
        self.cur.push(Span::styled(text.to_string(), style));
    }

    fn flush_code(&mut self) {
        let mut spans = self.prefix();
        spans.push(Span::styled("    ", self.theme.dim()));
        spans.append(&mut self.cur);
        self.lines.push(Line::from(spans));
    }

    fn push_style(&mut self, add: Style) {
        let s = self.style().patch(add);
        self.styles.push(s);
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph if self.lists.is_empty() => self.block_start(),
            Tag::Heading { level, .. } => {
                self.block_start();
                let marks = match level {
                    HeadingLevel::H1 => "# ",
                    HeadingLevel::H2 => "## ",
                    HeadingLevel::H3 => "### ",
                    _ => "#### ",
                };
                let style = match level {
                    HeadingLevel::H1 => self.theme.title().add_modifier(Modifier::UNDERLINED),
                    _ => self.theme.title(),
                };
                self.cur
                    .push(Span::styled(marks.to_string(), self.theme.dim()));
                self.styles.push(style);
            }
            Tag::BlockQuote(_) => {
                self.block_start();
                self.quote += 1;
            }
            Tag::CodeBlock(kind) => {
                self.block_start();
                if let CodeBlockKind::Fenced(lang) = kind
                    && !lang.is_empty()
                {
                    let mut spans = self.prefix();
                    spans.push(Span::styled(format!("    ({lang})"), self.theme.dim()));
                    self.lines.push(Line::from(spans));
                }
                self.in_code = true;
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.block_start();
                } else {
                    self.flush();
                }
                self.lists.push(start);
            }
            Tag::Item => {
                self.flush();
                let depth = self.lists.len().saturating_sub(1);
                let bullet = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let b = format!("{n}. ");
                        *n += 1;
                        b
                    }
                    _ => format!("{} ", self.theme.glyph("•")),
                };
                self.cur.push(Span::raw("  ".repeat(depth)));
                self.cur.push(Span::styled(bullet, self.theme.accent()));
            }
            Tag::Emphasis => self.push_style(Style::default().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::default().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => {
                self.push_style(Style::default().add_modifier(Modifier::CROSSED_OUT))
            }
            Tag::Link { dest_url, .. } => {
                self.link = Some(dest_url.to_string());
                self.push_style(Style::default().add_modifier(Modifier::UNDERLINED));
            }
            Tag::Table(_) => {
                self.block_start();
                self.table = Some(Table::default());
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    t.cell.clear();
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush();
                self.gap = self.lists.is_empty();
            }
            TagEnd::Heading(_) => {
                self.styles.pop();
                self.flush();
                self.gap = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quote = self.quote.saturating_sub(1);
                self.gap = true;
            }
            TagEnd::CodeBlock => {
                if !self.cur.is_empty() {
                    self.flush_code();
                }
                self.in_code = false;
                self.gap = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.gap = self.lists.is_empty();
            }
            TagEnd::Item => self.flush(),
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                self.styles.pop();
            }
            TagEnd::Link => {
                self.styles.pop();
                if let Some(url) = self.link.take() {
                    self.cur
                        .push(Span::styled(format!(" ({url})"), self.theme.dim()));
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.head_rows = t.rows.len();
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    let cell = std::mem::take(&mut t.cell);
                    if let Some(row) = t.rows.last_mut() {
                        row.push(cell.trim().to_string());
                    }
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.render_table(t);
                }
                self.gap = true;
            }
            _ => {}
        }
    }

    fn render_table(&mut self, t: Table) {
        let cols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for row in &t.rows {
            for (i, c) in row.iter().enumerate() {
                widths[i] = widths[i].max(c.width());
            }
        }
        let room = self
            .width
            .saturating_sub(3 * cols.saturating_sub(1) + 2 * self.quote);
        while widths.iter().sum::<usize>() > room {
            let Some((i, w)) = widths.iter().copied().enumerate().max_by_key(|(_, w)| *w) else {
                break;
            };
            if w <= 6 {
                break;
            }
            widths[i] = w - 1;
        }
        let bar = self.theme.glyph("│");
        for (r, row) in t.rows.iter().enumerate() {
            let mut spans = self.prefix();
            for (i, w) in widths.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                let cell = crate::text::fit(cell, *w);
                let pad = w.saturating_sub(cell.width());
                if i > 0 {
                    spans.push(Span::styled(format!(" {bar} "), self.theme.dim()));
                }
                let style = if r < t.head_rows {
                    self.theme.bold()
                } else {
                    Style::default()
                };
                spans.push(Span::styled(format!("{cell}{}", " ".repeat(pad)), style));
            }
            self.lines.push(Line::from(spans));
            if r + 1 == t.head_rows {
                let rule: Vec<String> = widths
                    .iter()
                    .map(|w| self.theme.glyph("─").repeat(*w))
                    .collect();
                let mut spans = self.prefix();
                spans.push(Span::styled(
                    rule.join(&format!(
                        "{}{}{}",
                        self.theme.glyph("─"),
                        if self.theme.ascii { "+" } else { "┼" },
                        self.theme.glyph("─")
                    )),
                    self.theme.dim(),
                ));
                self.lines.push(Line::from(spans));
            }
        }
    }
}

/// Renders Markdown to lines for a view `width` columns wide.
pub fn render(md: &str, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut r = Renderer {
        theme,
        width,
        lines: Vec::new(),
        cur: Vec::new(),
        styles: Vec::new(),
        lists: Vec::new(),
        quote: 0,
        in_code: false,
        link: None,
        table: None,
        gap: false,
    };
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for ev in Parser::new_ext(md, opts) {
        match ev {
            Event::Start(tag) => r.start(tag),
            Event::End(tag) => r.end(tag),
            Event::Text(t) => r.text(&t),
            Event::Code(c) => {
                if let Some(t) = r.table.as_mut() {
                    t.cell.push_str(&c);
                } else {
                    r.cur.push(Span::styled(c.to_string(), theme.accent()));
                }
            }
            Event::SoftBreak => r.text(" "),
            Event::HardBreak => r.flush(),
            Event::Rule => {
                r.block_start();
                r.lines.push(Line::from(Span::styled(
                    theme.glyph("─").repeat(40),
                    theme.dim(),
                )));
                r.gap = true;
            }
            Event::TaskListMarker(done) => r.text(if done { "[x] " } else { "[ ] " }),
            Event::Html(h) | Event::InlineHtml(h) => r.text(&h),
            Event::FootnoteReference(f) => r.text(&format!("[{f}]")),
            _ => {}
        }
    }
    r.flush();
    r.lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn renders_the_common_blocks() {
        let md = "# Title\n\nSome *text* and `code`.\n\n- one\n- two\n  1. inner\n\n```rust\nfn main() {}\n```\n\n| a | bb |\n|---|----|\n| 1 | 2 |\n";
        let out = plain(&render(
            md,
            &Theme {
                ascii: true,
                color: false,
                light: false,
            },
            80,
        ));
        assert_eq!(
            out,
            vec![
                "# Title",
                "",
                "Some text and code.",
                "",
                "* one",
                "* two",
                "  1. inner",
                "",
                "    (rust)",
                "    fn main() {}",
                "",
                "a | bb",
                "--+---",
                "1 | 2 ",
            ]
        );
    }
}
