//! Reading a journal back: every line's checksum, version and sequence number checked, and
//! every damaged line named.
//!
//! The rule: replay returns the run's events only when the history is whole. A line that
//! fails its checksum, an unknown version `v`, a sequence number that skips (a deleted
//! line), repeats (a duplicated line) or goes back (reordered lines) is [`Damage`], named by
//! its line number. Damaged lines never reach `events` (a duplicate is never folded twice),
//! and a run with damage must not be continued (`session` refuses; `runs` says "damaged";
//! `export` writes what is readable and says what is missing). The one tolerated fault is
//! a torn last line: the process died mid-write, the line is a prefix of a record, and
//! the run continues from the event before it. A last line lost whole is indistinguishable
//! from the process having died before writing it, and is treated the same way.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use super::line::{self, Framed};
use crate::protocol::{Envelope, JOURNAL_VERSION};

/// A journal read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// The readable events, in order, each sequence number once.
    pub events: Vec<Envelope>,
    /// The last line was incomplete (the process died mid-write) and was left out.
    pub torn_line_dropped: bool,
    /// Every damaged line, in file order. Empty for a whole history.
    pub corrupt_lines: Vec<Damage>,
    /// The journal predates checksums (no line carries one): lines could not be verified.
    pub unverified: bool,
}

impl Replay {
    /// Whether the history has holes or changes (the run must not be continued).
    pub fn is_damaged(&self) -> bool {
        !self.corrupt_lines.is_empty()
    }

    /// The damaged lines' numbers, for messages: `3, 17, 18`.
    pub fn damaged_line_list(&self) -> String {
        let mut lines: Vec<usize> = self.corrupt_lines.iter().map(|d| d.line).collect();
        lines.dedup();
        lines
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One damaged line of a journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    /// 1-based line number in the file.
    pub line: usize,
    pub kind: DamageKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DamageKind {
    /// Not a record: not JSON, no checksum in a checksummed journal, or not an event.
    Unreadable(String),
    /// The checksum does not match: the line was changed after it was written.
    Checksum,
    /// Written by another journal version than this Baton reads.
    UnknownVersion(u32),
    /// Events `from..=to` are missing before this line (deleted lines).
    Gap { from: u64, to: u64 },
    /// This sequence number was already read (a duplicated or second writer's line).
    Duplicate { seq: u64 },
    /// The sequence number goes back without repeating one (reordered lines).
    OutOfOrder { seq: u64, after: u64 },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            DamageKind::Unreadable(e) => write!(f, "not a valid event ({e})"),
            DamageKind::Checksum => write!(f, "checksum mismatch (the line was changed)"),
            DamageKind::UnknownVersion(v) => write!(
                f,
                "journal version {v}, this Baton reads version {JOURNAL_VERSION}"
            ),
            DamageKind::Gap { from, to } if from == to => {
                write!(f, "event {from} is missing before it")
            }
            DamageKind::Gap { from, to } => write!(f, "events {from}-{to} are missing before it"),
            DamageKind::Duplicate { seq } => write!(f, "event {seq} appears a second time"),
            DamageKind::OutOfOrder { seq, after } => {
                write!(f, "event {seq} comes after event {after} (out of order)")
            }
        }
    }
}

/// The two fields checked before the event itself is parsed.
#[derive(Deserialize)]
struct Header {
    seq: u64,
    v: u32,
}

/// Reads a journal file. Never panics on bad content; see the module comment for the rules.
pub fn replay(path: &Path) -> io::Result<Replay> {
    let lines = read_lines(path)?;
    let summed = lines
        .iter()
        .any(|l| matches!(l.framed(), Framed::Verified(_) | Framed::Mismatch));
    let mut out = Replay {
        unverified: !summed && !lines.is_empty(),
        ..Replay::default()
    };
    let mut last_seq = 0u64;
    // Damaged lines since the last good one: a gap of exactly that many is their doing.
    let mut unreadable_since_good = 0u64;
    let count = lines.len();
    for (i, l) in lines.iter().enumerate() {
        let last = i + 1 == count;
        let parsed = parse(&l.text, summed);
        let envelope = match parsed {
            Ok(e) => e,
            Err(_) if last && !l.complete && !line::holds_a_whole_record(&l.text) => {
                out.torn_line_dropped = true;
                continue;
            }
            Err(kind) => {
                out.corrupt_lines.push(Damage {
                    line: l.number,
                    kind,
                });
                unreadable_since_good += 1;
                continue;
            }
        };
        let seq = envelope.seq;
        if seq <= last_seq {
            let kind = if out.events.iter().any(|e| e.seq == seq) {
                DamageKind::Duplicate { seq }
            } else {
                DamageKind::OutOfOrder {
                    seq,
                    after: last_seq,
                }
            };
            out.corrupt_lines.push(Damage {
                line: l.number,
                kind,
            });
            continue;
        }
        let missing = seq - last_seq - 1;
        if missing > 0 && missing != unreadable_since_good {
            out.corrupt_lines.push(Damage {
                line: l.number,
                kind: DamageKind::Gap {
                    from: last_seq + 1,
                    to: seq - 1,
                },
            });
        }
        unreadable_since_good = 0;
        last_seq = seq;
        out.events.push(envelope);
    }
    Ok(out)
}

/// The envelope of one line, or why it is damaged. `summed`: the journal carries checksums,
/// so a line without one is damage.
fn parse(text: &[u8], summed: bool) -> Result<Envelope, DamageKind> {
    let json = match line::unframe(text) {
        Framed::Verified(body) => line::body_json(body),
        Framed::Mismatch => return Err(DamageKind::Checksum),
        Framed::Unsummed(_) if summed => {
            return Err(DamageKind::Unreadable("no checksum".into()));
        }
        Framed::Unsummed(raw) => raw.to_vec(),
    };
    let header: Header = serde_json::from_slice(&json).map_err(unreadable)?;
    if header.v != JOURNAL_VERSION {
        return Err(DamageKind::UnknownVersion(header.v));
    }
    let envelope: Envelope = serde_json::from_slice(&json).map_err(unreadable)?;
    debug_assert_eq!(envelope.seq, header.seq);
    Ok(envelope)
}

/// The parse error, which may quote the file (untrusted): control characters replaced and
/// cut to one short line, so it is safe on a terminal.
fn unreadable(e: serde_json::Error) -> DamageKind {
    let text: String = e
        .to_string()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(160)
        .collect();
    DamageKind::Unreadable(text)
}

/// One non-blank line of the file.
pub(super) struct Line {
    pub number: usize,
    pub text: Vec<u8>,
    /// Ended with a newline.
    pub complete: bool,
}

impl Line {
    fn framed(&self) -> Framed<'_> {
        line::unframe(&self.text)
    }
}

pub(super) fn read_lines(path: &Path) -> io::Result<Vec<Line>> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        number += 1;
        let complete = buf.last() == Some(&b'\n');
        let text = trim_line(&buf);
        if !text.is_empty() {
            out.push(Line {
                number,
                text: text.to_vec(),
                complete,
            });
        }
    }
    Ok(out)
}

fn trim_line(buf: &[u8]) -> &[u8] {
    let mut end = buf.len();
    while end > 0 && matches!(buf[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &buf[..end]
}

/// The sequence number of the last verifiable record in `bytes` (for appending after it).
pub(super) fn last_seq_in(bytes: &[u8]) -> u64 {
    bytes
        .split(|b| *b == b'\n')
        .rev()
        .map(trim_line)
        .filter(|l| !l.is_empty())
        .find_map(|l| parse(l, false).ok())
        .map_or(0, |e| e.seq)
}

/// Whether `bytes` (one line, without newline) is a complete record.
pub(super) fn is_record(bytes: &[u8]) -> bool {
    parse(trim_line(bytes), false).is_ok()
}
