//! `kill -9` of `baton rollback` at several points of a rollback of many files: either
//! nothing was journaled and the files are as they were, or the next open of the run
//! finishes the rollback and it is journaled exactly once. Uses the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Stdio};

use baton::protocol::Event;

use crate::rollback::runs_dir;
use crate::rollback_support::*;
use crate::support_cli as bin;

const FILES: usize = 600;
const RUN: &str = "20261130-090000-beef";

/// Where the process is killed.
#[derive(Debug, Clone, Copy)]
enum At {
    /// At once, probably before it opened the run.
    Spawned,
    /// As soon as `rollback_started` is in the journal.
    Started,
    /// Once the first file is back to its content before.
    FirstRestored,
    /// Once half the files are back.
    HalfRestored,
}

fn spawn(home: &std::path::Path) -> Child {
    bin::baton_bare(home)
        .args(["rollback", RUN, "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Busy-polls (no sleeping) until `ready` or the child has exited on its own.
fn wait_for(child: &mut Child, ready: impl Fn() -> bool) {
    while !ready() {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::yield_now();
    }
}

fn kill_9(child: &mut Child) {
    // SIGKILL; a child that already exited is fine.
    let _ = child.kill();
    child.wait().unwrap();
}

fn restored(run: &ChangedRun) -> usize {
    run.files.iter().filter(|f| run.now(f) == f.before).count()
}

fn check_after_kill(home: &std::path::Path, run: &ChangedRun, at: At) {
    let started = run.count(|e| matches!(e, Event::RollbackStarted { .. }));
    let ended = run.count(|e| matches!(e, Event::SubtaskRolledBack { .. }));
    assert!(
        started <= 1 && ended <= started,
        "{at:?}: {started} started, {ended} ended"
    );
    if started == 0 {
        // Killed before it journaled anything: nothing may have changed.
        assert!(
            run.all_after(),
            "{at:?}: files changed without a journaled rollback"
        );
    }
    // The next open finishes what was started (or refuses: nothing left to roll back).
    let out = bin::baton_bare(home)
        .args(["rollback", RUN, "1"])
        .output()
        .unwrap();
    let code = out.status.code();
    assert!(
        code == Some(0) || (code == Some(2) && ended == 1),
        "{at:?}: {out:?}"
    );
    assert!(
        run.all_before(),
        "{at:?}: {} of {FILES} restored",
        restored(run)
    );
    assert_eq!(
        run.count(|e| matches!(e, Event::RollbackStarted { .. })),
        1,
        "{at:?}"
    );
    assert_eq!(
        run.count(|e| matches!(e, Event::SubtaskRolledBack { .. })),
        1,
        "{at:?}"
    );
    let state =
        baton::state::State::fold(&baton::journal::replay(&run.journal_path()).unwrap().events);
    assert!(state.rollback_in_progress.is_none(), "{at:?}");
    assert!(state.files.iter().all(|f| f.rolled_back), "{at:?}");
}

#[test]
fn kill_9_during_a_rollback_never_loses_or_doubles_it() {
    for at in [
        At::Spawned,
        At::Started,
        At::FirstRestored,
        At::HalfRestored,
    ] {
        let home = tempfile::tempdir().unwrap();
        let ws = tempfile::tempdir().unwrap();
        let run = changed_run(&runs_dir(home.path()), RUN, ws.path(), FILES, completed());
        let journal = run.journal_path();
        let mut child = spawn(home.path());
        match at {
            At::Spawned => {}
            At::Started => wait_for(&mut child, || {
                std::fs::read_to_string(&journal)
                    .unwrap()
                    .contains("\"type\":\"rollback_started\"")
            }),
            At::FirstRestored => wait_for(&mut child, || restored(&run) >= 1),
            At::HalfRestored => wait_for(&mut child, || restored(&run) >= FILES / 2),
        }
        kill_9(&mut child);
        check_after_kill(home.path(), &run, at);
    }
}
