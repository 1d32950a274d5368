//! Random corruptions of a written journal (truncate, flip one bit, duplicate, delete or
//! swap a line): replay either gives back exactly the journaled events (all of them, or for
//! a cut at the end a prefix, as after a crash) or reports damage naming the damaged line.
//! Never a silently different history, and never an event that was not written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baton::journal::{JOURNAL_FILE, Journal, replay};
use baton::protocol::{Actor, Envelope, Event};
use baton::state::State;
use proptest::prelude::*;
use proptest::sample::Index;

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(Index),
    Flip(Index, u8),
    Duplicate(Index),
    Delete(Index),
    Swap(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<Index>().prop_map(Mutation::Duplicate),
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Swap),
    ]
}

fn event(kind: u8, text: String) -> Event {
    match kind % 3 {
        0 => Event::Notice { message: text },
        1 => Event::MaxWorkersChanged {
            max_workers: u32::from(kind),
            by: Actor::Person,
        },
        _ => Event::DispatchPaused { by: Actor::Engine },
    }
}

/// The 1-based number of the line holding byte `at`.
fn line_at(bytes: &[u8], at: usize) -> usize {
    bytes[..at].iter().filter(|b| **b == b'\n').count() + 1
}

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn replay_is_exact_or_names_the_damaged_line(
        written in prop::collection::vec((any::<u8>(), "[a-z *\"\\\\]{0,12}"), 2..14),
        mutation in mutation(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path()).unwrap();
        let original: Vec<Envelope> = written
            .into_iter()
            .map(|(k, t)| journal.append(event(k, t)).unwrap())
            .collect();
        drop(journal);
        let path = dir.path().join(JOURNAL_FILE);
        let bytes = std::fs::read(&path).unwrap();
        let mut rows = lines(&bytes);
        let n = rows.len();
        // What replay must give: `Ok(k)` a prefix of k events and no damage, `Err(line)`
        // damage naming that line.
        let expected: Result<usize, usize> = match &mutation {
            Mutation::Truncate(i) => {
                let cut = i.index(bytes.len());
                std::fs::write(&path, &bytes[..cut]).unwrap();
                // Whole records before the cut (a record without its newline counts).
                let whole = rows
                    .iter()
                    .scan(0, |end, r| { *end += r.len(); Some(*end - 1) })
                    .filter(|end| *end <= cut)
                    .count();
                Ok(whole)
            }
            Mutation::Flip(i, bit) => {
                let at = i.index(bytes.len());
                let mut b = bytes.clone();
                b[at] ^= 1 << bit;
                std::fs::write(&path, &b).unwrap();
                Err(line_at(&bytes, at))
            }
            Mutation::Duplicate(i) => {
                let k = i.index(n);
                let copy = rows[k].clone();
                rows.insert(k + 1, copy);
                std::fs::write(&path, rows.concat()).unwrap();
                Err(k + 2)
            }
            Mutation::Delete(i) => {
                let k = i.index(n);
                rows.remove(k);
                std::fs::write(&path, rows.concat()).unwrap();
                if k + 1 == n { Ok(n - 1) } else { Err(k + 1) }
            }
            Mutation::Swap(i) => {
                let k = i.index(n - 1);
                rows.swap(k, k + 1);
                std::fs::write(&path, rows.concat()).unwrap();
                Err(k + 1)
            }
        };
        let r = replay(&path).unwrap();
        // Whatever happened, every event read back is one that was written, in order.
        for e in &r.events {
            prop_assert!(original.contains(e), "{e:?} was never written");
        }
        prop_assert!(r.events.windows(2).all(|w| w[0].seq < w[1].seq));
        match expected {
            Ok(k) => {
                prop_assert!(!r.is_damaged(), "{:?}", r.corrupt_lines);
                prop_assert_eq!(&r.events[..], &original[..k]);
                prop_assert_eq!(State::fold(&r.events).cost_usd, State::fold(&original[..k]).cost_usd);
            }
            Err(line) => {
                prop_assert!(
                    r.corrupt_lines.iter().any(|d| d.line == line),
                    "line {line} not named: {:?}", r.corrupt_lines
                );
            }
        }
    }
}
