//! Text helpers for tool output given to a model: byte caps that keep the head and the tail
//! and say what was cut, a bounded collector for command output streams, and number
//! formatting (`1,234`).
//!
//! Must not touch the file system or know about individual tools.

use std::collections::VecDeque;

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Largest index `<= i` that is a char boundary of `s`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Smallest index `>= i` that is a char boundary of `s`.
fn ceil_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Caps `text` to about `cap` bytes, keeping the first and the last half (cut at line
/// boundaries when a line break is near) with a note in the middle saying how many lines
/// and bytes were cut. Text within the cap is returned unchanged.
pub fn cap_head_tail(text: &str, cap: usize) -> String {
    if text.len() <= cap {
        return text.to_string();
    }
    let half = cap / 2;
    let mut head_end = floor_boundary(text, half);
    if let Some(nl) = text[..head_end].rfind('\n')
        && nl + 1 >= head_end / 2
    {
        head_end = nl + 1;
    }
    let mut tail_start = ceil_boundary(text, text.len() - half);
    if let Some(nl) = text[tail_start..].find('\n') {
        let candidate = tail_start + nl + 1;
        if candidate < text.len() && candidate - tail_start <= half / 2 {
            tail_start = candidate;
        }
    }
    if tail_start < head_end {
        tail_start = head_end;
    }
    let cut = &text[head_end..tail_start];
    let mut out = String::with_capacity(cap + 120);
    out.push_str(&text[..head_end]);
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&format!(
        "… {} lines ({} bytes) cut from the middle …\n",
        thousands(cut.matches('\n').count() as u64),
        thousands(cut.len() as u64)
    ));
    out.push_str(&text[tail_start..]);
    out
}

/// Collects a byte stream keeping at most `limit` bytes from its start and `limit` bytes
/// from its end, counting what falls in between. Memory stays bounded whatever the
/// command prints.
#[derive(Debug, Clone)]
pub struct HeadTail {
    limit: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
    dropped_lines: u64,
}

impl HeadTail {
    pub fn new(limit: usize) -> HeadTail {
        HeadTail {
            limit,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
            dropped_lines: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.head.len() < self.limit {
            let take = (self.limit - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        if bytes.len() >= self.limit {
            // Everything in the tail and the start of `bytes` fall out.
            let keep_from = bytes.len() - self.limit;
            self.dropped_lines += count_newlines(self.tail.iter().copied())
                + count_newlines(bytes[..keep_from].iter().copied());
            self.tail.clear();
            self.tail.extend(&bytes[keep_from..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.limit);
        self.dropped_lines += count_newlines(self.tail.drain(..overflow));
        self.tail.extend(bytes);
    }

    /// Total bytes seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept text (lossy UTF-8) with a note where bytes were dropped.
    pub fn render(&self) -> String {
        let head = String::from_utf8_lossy(&self.head).into_owned();
        let tail_bytes: Vec<u8> = self.tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail_bytes).into_owned();
        let dropped = self.total - self.head.len() as u64 - self.tail.len() as u64;
        if dropped == 0 {
            return head + &tail;
        }
        let mut out = head;
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "… {} lines ({} bytes) cut from the middle …\n",
            thousands(self.dropped_lines),
            thousands(dropped)
        ));
        out.push_str(&tail);
        out
    }
}

fn count_newlines(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.filter(|&b| b == b'\n').count() as u64
}

/// A string cut to `max` chars with `…` when longer (for one-line summaries).
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn cap_keeps_short_text_and_cuts_long_text_with_a_note() {
        assert_eq!(cap_head_tail("abc\n", 10), "abc\n");
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let capped = cap_head_tail(&text, 200);
        assert!(capped.starts_with("line 0\n"));
        assert!(capped.ends_with("line 999\n"));
        assert!(capped.contains("lines ("), "{capped}");
        assert!(capped.len() < 320);
    }

    #[test]
    fn head_tail_keeps_ends_and_counts_the_middle() {
        let mut h = HeadTail::new(10);
        h.push(b"0123456789");
        h.push(b"abc\ndef\nghij");
        h.push(b"KLMNOPQRST");
        assert_eq!(h.total(), 32);
        let r = h.render();
        assert!(r.starts_with("0123456789\n"), "{r}");
        assert!(r.ends_with("KLMNOPQRST"), "{r}");
        assert!(r.contains("2 lines (12 bytes) cut"), "{r}");
        let mut big = HeadTail::new(4);
        for chunk in [&b"ab"[..], b"c\nd\ne", b"\nfghij\n", b"k", b"lmnop\nq"] {
            big.push(chunk);
        }
        let text = "abc\nd\ne\nfghij\nklmnop\nq";
        assert_eq!(big.total(), text.len() as u64);
        let r = big.render();
        assert!(r.starts_with("abc\n"), "{r}");
        assert!(r.ends_with("op\nq"), "{r}");
        // Dropped: "d\ne\nfghij\nklmn" → 3 newlines, 14 bytes.
        assert!(r.contains("3 lines (14 bytes) cut"), "{r}");
    }

    #[test]
    fn one_line_flattens_and_cuts() {
        assert_eq!(one_line("a\nb", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
