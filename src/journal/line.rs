//! One journal line on disk: the envelope's JSON with a checksum appended as its last field,
//! `{"seq":7,"ts":"…","v":1,"type":"…",…,"sum":"0123456789abcdef"}`, and the check on read.
//!
//! Owns the framing and the checksum only; sequence numbers and versions are checked by
//! `replay`. The sum is the first 8 bytes of SHA-256 over the line's bytes before
//! `,"sum":…` (the envelope exactly as serialized), as 16 lowercase hex digits: any bit
//! flip, a cut or a spliced line fails it. It is a corruption check, not a signature.

use sha2::{Digest, Sha256};

use crate::protocol::Envelope;

const SUM_KEY: &[u8] = br#","sum":""#;
const SUM_HEX: usize = 16;
/// `,"sum":"` + 16 hex digits + `"}`.
const SUM_TAIL: usize = SUM_KEY.len() + SUM_HEX + 2;

/// The line for `envelope`, without its newline.
pub fn encode(envelope: &Envelope) -> serde_json::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(envelope)?;
    let sum = checksum(&line);
    // `line` is a JSON object: replace its closing brace with the sum field and a new one.
    line.pop();
    line.extend_from_slice(SUM_KEY);
    line.extend_from_slice(sum.as_bytes());
    line.extend_from_slice(b"\"}");
    Ok(line)
}

fn checksum(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    digest[..SUM_HEX / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A line split into the envelope's JSON and its checksum.
pub enum Framed<'a> {
    /// The line ends with a sum field, and the sum matches the body.
    Verified(&'a [u8]),
    /// The line ends with a sum field that does not match: the line was changed.
    Mismatch,
    /// The line has no sum field (a journal written before checksums, or damage).
    Unsummed(&'a [u8]),
}

/// Splits `line` (trimmed, without its newline) and checks its sum.
pub fn unframe(line: &[u8]) -> Framed<'_> {
    if !has_sum_tail(line) {
        return Framed::Unsummed(line);
    }
    let split = line.len() - SUM_TAIL;
    let sum = &line[split + SUM_KEY.len()..line.len() - 2];
    // The body is the envelope as it was serialized: ending with its own `}`.
    let mut body = Vec::with_capacity(split + 1);
    body.extend_from_slice(&line[..split]);
    body.push(b'}');
    if checksum(&body).as_bytes() == sum {
        Framed::Verified(&line[..split])
    } else {
        Framed::Mismatch
    }
}

/// The envelope's JSON of a verified body (`unframe` strips its closing brace).
pub fn body_json(body: &[u8]) -> Vec<u8> {
    let mut json = Vec::with_capacity(body.len() + 1);
    json.extend_from_slice(body);
    json.push(b'}');
    json
}

fn has_sum_tail(line: &[u8]) -> bool {
    line.len() > SUM_TAIL && is_sum_tail(&line[line.len() - SUM_TAIL..])
}

fn is_sum_tail(tail: &[u8]) -> bool {
    tail.len() == SUM_TAIL
        && tail.starts_with(SUM_KEY)
        && tail.ends_with(b"\"}")
        && tail[SUM_KEY.len()..SUM_KEY.len() + SUM_HEX]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether a complete summed record ends somewhere inside `bytes` (and something follows
/// it). A write cut short is a prefix of one record, so it never contains a whole one: an
/// unterminated last line that does is damage (a lost newline), not a torn write.
pub fn holds_a_whole_record(bytes: &[u8]) -> bool {
    bytes.len() > SUM_TAIL
        && (SUM_TAIL..bytes.len()).any(|end| is_sum_tail(&bytes[end - SUM_TAIL..end]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Event, JOURNAL_VERSION};

    fn envelope() -> Envelope {
        Envelope {
            seq: 3,
            ts: chrono::DateTime::UNIX_EPOCH,
            v: JOURNAL_VERSION,
            event: Event::Notice {
                message: "hi".into(),
            },
        }
    }

    #[test]
    fn a_line_roundtrips_and_any_flipped_bit_is_caught() {
        let line = encode(&envelope()).unwrap();
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.starts_with(r#"{"seq":3,"#), "{text}");
        assert!(
            text.ends_with(r#""}"#) && text.contains(r#","sum":""#),
            "{text}"
        );
        let Framed::Verified(body) = unframe(&line) else {
            panic!("not verified")
        };
        let back: Envelope = serde_json::from_slice(&body_json(body)).unwrap();
        assert_eq!(back, envelope());
        for i in 0..line.len() {
            for bit in 0..8 {
                let mut bad = line.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    !matches!(unframe(&bad), Framed::Verified(_)),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn a_cut_record_holds_no_whole_one_but_a_lost_newline_does() {
        let line = encode(&envelope()).unwrap();
        for cut in 0..line.len() {
            assert!(!holds_a_whole_record(&line[..cut]), "cut {cut}");
        }
        let mut joined = line.clone();
        joined.push(b'\x0b');
        joined.extend_from_slice(&line[..10]);
        assert!(holds_a_whole_record(&joined));
    }
}
