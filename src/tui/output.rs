//! Bounded live output of one worker (or the orchestrator): a ring of lines fed by deltas.
//!
//! Owns the text a pane shows: streamed text, tool-call lines, tool results and retry
//! markers, the pane's scroll position (follow the tail unless scrolled up) and the
//! layout of only the visible lines. Must not hold run state: the durable output of a
//! subtask is in `State` (its `output`), this is only what streamed by.

use std::collections::{HashMap, VecDeque};

use unicode_width::UnicodeWidthChar;

use crate::llm::StreamEvent;
use crate::protocol::SubtaskId;
use crate::text::{one_line, screen};

/// Lines of a tool's result shown in a worker pane under its summary line.
const TOOL_OUTPUT_LINES: usize = 6;

/// Lines kept per pane.
pub const MAX_LINES: usize = 2_000;
/// A logical line longer than this is split (keeps the cost of one line bounded).
pub const MAX_LINE_CHARS: usize = 1_000;
/// Characters of a tool call's arguments shown on its line.
const TOOL_ARGS_SHOWN: usize = 160;

/// What kind of line, for styling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Text,
    ToolCall,
    ToolResult,
    ToolError,
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutLine {
    pub kind: LineKind,
    pub text: String,
}

/// One pane's output.
#[derive(Debug, Clone, Default)]
pub struct PaneBuffer {
    lines: VecDeque<OutLine>,
    /// Lines dropped from the front (so absolute line numbers stay valid).
    dropped: u64,
    /// Absolute index of the first line of the current model call (a retry discards
    /// everything from there).
    call_start: u64,
    /// Tool calls of the current call: index → line number and arguments streamed so far.
    tools: HashMap<usize, (u64, String, String)>,
    /// The last line is still growing (text without its newline yet).
    open_line: bool,
    /// `None`: follow the tail. `Some(n)`: the person scrolled up `n` lines from the bottom.
    pub scroll: Option<usize>,
    pub attempt: u32,
    /// Total bytes ever received (for the bench and the detail view).
    pub bytes: u64,
    /// A heading (`── replanning ──`) written before the next streamed output, so a
    /// replayed journal (no live output) leaves no empty headings.
    pending_heading: Option<String>,
}

impl PaneBuffer {
    pub fn len(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &OutLine> + ExactSizeIterator {
        self.lines.iter()
    }

    fn next_abs(&self) -> u64 {
        self.dropped + self.lines.len() as u64
    }

    fn push(&mut self, kind: LineKind, text: String) {
        self.lines.push_back(OutLine { kind, text });
        self.open_line = false;
        self.trim();
    }

    fn trim(&mut self) {
        while self.lines.len() > MAX_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
    }

    /// A new attempt (or a new run of this subtask) starts.
    pub fn start_attempt(&mut self, attempt: u32) {
        if attempt != self.attempt && !self.lines.is_empty() {
            self.push(LineKind::Retry, format!("── attempt {attempt} ──"));
        }
        self.attempt = attempt;
        self.begin_call();
    }

    /// The next model call begins (after a tool result): a retry only voids from here.
    pub fn begin_call(&mut self) {
        self.open_line = false;
        self.call_start = self.next_abs();
        self.tools.clear();
    }

    pub fn push_text(&mut self, text: &str) {
        self.bytes += text.len() as u64;
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                self.newline();
            }
            if !piece.is_empty() {
                self.append_to_open(piece);
            }
        }
    }

    /// Ends the open line, or adds a blank line when none is open.
    fn newline(&mut self) {
        if self.open_line {
            self.open_line = false;
        } else {
            self.push(LineKind::Text, String::new());
        }
    }

    fn append_to_open(&mut self, piece: &str) {
        let grows = self.open_line && self.lines.back().is_some_and(|l| l.kind == LineKind::Text);
        if grows {
            if let Some(last) = self.lines.back_mut() {
                last.text.push_str(piece);
            }
        } else {
            self.push(LineKind::Text, piece.to_string());
        }
        self.open_line = true;
        while let Some(last) = self.lines.back_mut() {
            if last.text.len() <= MAX_LINE_CHARS {
                break;
            }
            let cut = floor_char_boundary(&last.text, MAX_LINE_CHARS);
            let rest = last.text.split_off(cut);
            self.push(LineKind::Text, rest);
            self.open_line = true;
        }
    }

    /// Heads the next streamed output with `text` (replacing a heading not yet used).
    pub fn heading(&mut self, text: String) {
        self.pending_heading = Some(text);
    }

    /// A stream event of this pane's current call.
    pub fn apply_stream(&mut self, ev: &StreamEvent, marker: &str) {
        if let Some(h) = self.pending_heading.take() {
            if !self.lines.is_empty() {
                self.push(LineKind::Text, String::new());
            }
            self.push(LineKind::Retry, h);
            self.begin_call();
        }
        match ev {
            StreamEvent::TextDelta { text } => self.push_text(text),
            StreamEvent::ToolCallStart { index, name, .. } => {
                let at = self.next_abs();
                self.push(LineKind::ToolCall, format!("{marker} {name}"));
                self.tools.insert(*index, (at, name.clone(), String::new()));
            }
            StreamEvent::ToolCallDelta { index, json } => {
                self.bytes += json.len() as u64;
                if let Some((at, name, args)) = self.tools.get_mut(index) {
                    if args.len() < TOOL_ARGS_SHOWN {
                        args.push_str(json);
                    }
                    let shown = one_line(args, TOOL_ARGS_SHOWN);
                    let text = format!("{marker} {name} {shown}");
                    let at = *at;
                    if let Some(line) = self.line_mut(at) {
                        line.text = text;
                    }
                }
            }
            // Usage of a rejected attempt: counted by the engine, nothing to show here.
            StreamEvent::Usage { .. } => {}
            // Throttling is journaled and shown in the header, not in a worker's output.
            StreamEvent::Throttle(_) => {}
            StreamEvent::Retry(notice) => {
                self.discard_call();
                self.push(
                    LineKind::Retry,
                    format!("retrying (#{}): {}", notice.attempt, notice.reason),
                );
                self.begin_call();
            }
        }
    }

    /// A tool the worker used (from the `WorkerToolUsed` event): its result line, the first
    /// lines of what the model received (the whole of it is in the journal), and the next
    /// model call begins.
    pub fn push_tool_used(&mut self, summary: &str, output: &str, is_error: bool, marker: &str) {
        let kind = if is_error {
            LineKind::ToolError
        } else {
            LineKind::ToolResult
        };
        self.push(kind, format!("{marker} {}", one_line(summary, 400)));
        let lines: Vec<&str> = output.lines().collect();
        for line in lines.iter().take(TOOL_OUTPUT_LINES) {
            self.push(kind, format!("  {}", one_line(line, 400)));
        }
        if lines.len() > TOOL_OUTPUT_LINES {
            self.push(
                kind,
                format!(
                    "  … {} more lines (the whole result is in the run's journal)",
                    lines.len() - TOOL_OUTPUT_LINES
                ),
            );
        }
        self.begin_call();
    }

    fn line_mut(&mut self, abs: u64) -> Option<&mut OutLine> {
        let i = abs.checked_sub(self.dropped)?;
        self.lines.get_mut(i as usize)
    }

    /// Drops what the current call streamed (a retry will stream it again).
    fn discard_call(&mut self) {
        let keep = self.call_start.saturating_sub(self.dropped) as usize;
        self.lines.truncate(keep.min(self.lines.len()));
        self.open_line = false;
        self.tools.clear();
    }

    /// Scrolls by `delta` lines (negative: up). Reaching the bottom follows the tail again.
    pub fn scroll_by(&mut self, delta: i64) {
        let max = self.lines.len().saturating_sub(1) as i64;
        let now = self.scroll.unwrap_or(0) as i64;
        let next = (now - delta).clamp(0, max);
        self.scroll = if next == 0 { None } else { Some(next as usize) };
    }

    pub fn follow(&mut self) {
        self.scroll = None;
    }

    /// The rows to show in a pane `width` wide and `height` high, wrapping long lines; only
    /// the lines that reach the screen are looked at.
    pub fn visible(&self, width: u16, height: u16) -> Vec<(LineKind, String)> {
        let width = width.max(1) as usize;
        let height = height as usize;
        let skip = self.scroll.unwrap_or(0);
        let mut rows: Vec<(LineKind, String)> = Vec::with_capacity(height);
        for line in self.lines.iter().rev().skip(skip) {
            if rows.len() >= height {
                break;
            }
            let wrapped = wrap(&line.text, width);
            for piece in wrapped.into_iter().rev() {
                if rows.len() >= height {
                    break;
                }
                rows.push((line.kind, piece));
            }
        }
        rows.reverse();
        rows
    }
}

/// How many whole lines are out of view above and below a pane `width` x `height`
/// (for the "3 more below" hint).
impl PaneBuffer {
    pub fn hidden(&self, width: u16, height: u16) -> (usize, usize) {
        let width = width.max(1) as usize;
        let below = self.scroll.unwrap_or(0).min(self.lines.len());
        let mut rows = 0;
        let mut shown = 0;
        for line in self.lines.iter().rev().skip(below) {
            if rows >= height as usize {
                break;
            }
            rows += wrap(&line.text, width).len().max(1);
            shown += 1;
        }
        (self.lines.len() - below - shown, below)
    }
}

/// Wraps by display width, breaking after the last space of a row when there is one
/// (else mid-word, as long code lines need).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut w = 0;
    // Byte offset in `cur` just after its last space, and the width up to there.
    let mut brk: Option<(usize, usize)> = None;
    // Model and command output: control characters made visible (`\x1b`), tabs as spaces.
    for ch in screen(text).chars() {
        if ch == '\n' {
            continue;
        }
        let cw = ch.width().unwrap_or(0);
        if w + cw > width && !cur.is_empty() {
            match brk {
                Some((at, bw)) if at < cur.len() => {
                    let rest = cur.split_off(at);
                    out.push(std::mem::take(&mut cur));
                    cur = rest;
                    w -= bw;
                }
                _ => {
                    out.push(std::mem::take(&mut cur));
                    w = 0;
                }
            }
            brk = None;
        }
        cur.push(ch);
        w += cw;
        if ch == ' ' {
            brk = Some((cur.len(), w));
        }
    }
    out.push(cur);
    out
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Every pane's buffer: one per subtask that streamed, plus the orchestrator's.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub workers: HashMap<SubtaskId, PaneBuffer>,
    pub orchestrator: PaneBuffer,
}

impl Outputs {
    pub fn pane(&self, id: Option<SubtaskId>) -> Option<&PaneBuffer> {
        match id {
            Some(id) => self.workers.get(&id),
            None => Some(&self.orchestrator),
        }
    }
    pub fn pane_mut(&mut self, id: Option<SubtaskId>) -> &mut PaneBuffer {
        match id {
            Some(id) => self.workers.entry(id).or_default(),
            None => &mut self.orchestrator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RetryNotice;

    #[test]
    fn text_splits_into_lines_and_grows_the_open_one() {
        let mut p = PaneBuffer::default();
        p.push_text("hello ");
        p.push_text("world\nsecond");
        p.push_text(" line\n");
        let texts: Vec<_> = p.lines().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, vec!["hello world", "second line"]);
    }

    #[test]
    fn a_tool_result_shows_its_first_lines_and_says_where_the_rest_is() {
        let mut p = PaneBuffer::default();
        p.start_attempt(1);
        let output: String = (1..=9).map(|i| format!("line {i}\n")).collect();
        p.push_tool_used("read_file a.rs (9 lines)", &output, false, "↳");
        let texts: Vec<_> = p.lines().map(|l| l.text.clone()).collect();
        assert_eq!(texts[0], "↳ read_file a.rs (9 lines)");
        assert_eq!(texts[1], "  line 1");
        assert_eq!(
            texts[TOOL_OUTPUT_LINES],
            format!("  line {TOOL_OUTPUT_LINES}")
        );
        assert_eq!(
            texts[TOOL_OUTPUT_LINES + 1],
            "  … 3 more lines (the whole result is in the run's journal)"
        );
        assert_eq!(texts.len(), TOOL_OUTPUT_LINES + 2);
    }

    #[test]
    fn retry_discards_only_the_current_call() {
        let mut p = PaneBuffer::default();
        p.start_attempt(1);
        p.push_text("kept\n");
        p.push_tool_used("read_file a.rs", "", false, "↳");
        p.push_text("partial that will be void");
        p.apply_stream(
            &StreamEvent::Retry(RetryNotice {
                attempt: 1,
                delay_ms: 1000,
                reason: "429 rate limited".into(),
            }),
            "▸",
        );
        let texts: Vec<_> = p.lines().map(|l| l.text.clone()).collect();
        assert_eq!(
            texts,
            vec![
                "kept".to_string(),
                "↳ read_file a.rs".to_string(),
                "retrying (#1): 429 rate limited".to_string()
            ]
        );
    }

    #[test]
    fn ring_is_bounded_and_tool_args_accumulate() {
        let mut p = PaneBuffer::default();
        for i in 0..(MAX_LINES + 50) {
            p.push_text(&format!("line {i}\n"));
        }
        assert!(p.len() <= MAX_LINES + 1);
        p.apply_stream(
            &StreamEvent::ToolCallStart {
                index: 0,
                id: "t1".into(),
                name: "read_file".into(),
            },
            "▸",
        );
        p.apply_stream(
            &StreamEvent::ToolCallDelta {
                index: 0,
                json: "{\"path\":".into(),
            },
            "▸",
        );
        p.apply_stream(
            &StreamEvent::ToolCallDelta {
                index: 0,
                json: "\"src/a.rs\"}".into(),
            },
            "▸",
        );
        assert_eq!(
            p.lines().last().map(|l| l.text.clone()),
            Some("▸ read_file {\"path\":\"src/a.rs\"}".to_string())
        );
    }

    #[test]
    fn visible_lays_out_from_the_bottom_and_scroll_freezes() {
        let mut p = PaneBuffer::default();
        for i in 0..10 {
            p.push_text(&format!("l{i}\n"));
        }
        let v = p.visible(20, 3);
        assert_eq!(
            v.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            vec!["l7", "l8", "l9"]
        );
        p.scroll_by(-2);
        let v = p.visible(20, 3);
        assert_eq!(
            v.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            vec!["l5", "l6", "l7"]
        );
        p.scroll_by(5);
        assert_eq!(p.scroll, None);
        assert_eq!(wrap("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(
            wrap("the API, the store", 9),
            vec!["the API, ", "the store"]
        );
    }
}
