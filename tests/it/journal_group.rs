//! Group commit (issue 12): milestones the engine journals for one batch of its loop (the
//! reports of workers that finished together) are written and forced to disk together by
//! `Journal::commit`, not one `fsync` each; any other milestone forces the group with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baton::journal::*;
use baton::protocol::*;

fn failed(id: u32) -> Event {
    Event::SubtaskFailed {
        id: SubtaskId(id),
        attempt: 1,
        error: "e".into(),
    }
}

fn on_disk(run: &std::path::Path) -> usize {
    replay(&run.join(JOURNAL_FILE)).unwrap().events.len()
}

#[test]
fn grouped_milestones_reach_the_file_at_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    let mut j = Journal::create(&run).unwrap();
    assert!(is_milestone(&failed(1)));
    j.append_grouped(failed(1)).unwrap();
    j.append_grouped(failed(2)).unwrap();
    assert_eq!(on_disk(&run), 0, "held for the group's commit");
    j.commit().unwrap();
    assert_eq!(on_disk(&run), 2);
    // Nothing pending: a commit writes nothing more.
    j.append(Event::Notice {
        message: "buffered".into(),
    })
    .unwrap();
    j.commit().unwrap();
    assert_eq!(
        on_disk(&run),
        2,
        "a commit without grouped milestones is no flush"
    );
}

#[test]
fn an_ordinary_milestone_forces_the_group_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    let mut j = Journal::create(&run).unwrap();
    j.append_grouped(failed(1)).unwrap();
    j.append(failed(2)).unwrap();
    let r = replay(&run.join(JOURNAL_FILE)).unwrap();
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.events[0].seq, 1, "in order");
}
