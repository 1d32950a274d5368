//! The change record: backups and `FileChanged` before every write, rollback restoring
//! exact bytes (modified, created, deleted files), refusal when a later change would be
//! lost, and conflict detection between parallel workers.
//!
//! Must not touch anything outside its temporary directories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tools_support;

use serde_json::json;

use baton::protocol::{Event, SubtaskId};
use baton::state::FileChange;
use baton::tools::WorkerTools;
use baton::tools::changes::sha256_hex;
use tools_support::{FakeHost, Fixture, run, tool_call};

/// The `FileChanged` events of `host` as the reducer would store them.
fn changes_of(host: &FakeHost, id: u32) -> Vec<FileChange> {
    host.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::FileChanged {
                id: sid,
                path,
                before,
                after,
                backup,
            } if sid == SubtaskId(id) => Some(FileChange {
                id: sid,
                path,
                before,
                after,
                backup,
                rolled_back: false,
            }),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_write_is_recorded_with_hashes_and_a_backup() {
    let fx = Fixture::new();
    let original: &[u8] = b"keep\r\nthese \xff exact bytes\n";
    std::fs::write(fx.ws.join("data.txt"), original).unwrap();
    let ws = fx.open();
    let host = FakeHost::default();
    run(&ws, &host, 7, "read_file", json!({"path": "data.txt"})).await;
    let out = run(
        &ws,
        &host,
        7,
        "write_file",
        json!({"path": "data.txt", "content": "one\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    run(
        &ws,
        &host,
        7,
        "write_file",
        json!({"path": "data.txt", "content": "two\n"}),
    )
    .await;
    let changes = changes_of(&host, 7);
    assert_eq!(changes.len(), 2);
    let first = &changes[0];
    assert_eq!(first.path, "data.txt");
    assert_eq!(first.before.as_deref(), Some(sha256_hex(original).as_str()));
    assert_eq!(first.after.as_deref(), Some(sha256_hex(b"one\n").as_str()));
    let backup = first.backup.clone().unwrap();
    assert_eq!(backup, "backups/7/1-data.txt");
    assert_eq!(std::fs::read(fx.run.join(&backup)).unwrap(), original);
    // Only the first change backs up; later ones point at the same original.
    assert_eq!(changes[1].before, first.after);
    assert_eq!(changes[1].backup.as_deref(), Some(backup.as_str()));
    assert_eq!(
        std::fs::read_dir(fx.run.join("backups/7")).unwrap().count(),
        1
    );
}

#[tokio::test]
async fn rollback_restores_exact_bytes_removes_created_and_restores_deleted() {
    let fx = Fixture::new();
    let modified: &[u8] = b"line one\n\ttabbed \xe2\x9c\x93\nno newline at end";
    let doomed: &[u8] = b"delete me\x00binary\n";
    std::fs::write(fx.ws.join("mod.txt"), modified).unwrap();
    fx.write("src/keep.py", "x = 1\n");
    std::fs::write(fx.ws.join("doomed.bin"), doomed).unwrap();
    let ws = fx.open();
    let host = FakeHost::default();

    run(&ws, &host, 3, "read_file", json!({"path": "mod.txt"})).await;
    let out = run(
        &ws,
        &host,
        3,
        "edit_file",
        json!({"path": "mod.txt", "old_string": "one", "new_string": "ONE"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    run(
        &ws,
        &host,
        3,
        "write_file",
        json!({"path": "mod.txt", "content": "replaced\n"}),
    )
    .await;
    let out = run(
        &ws,
        &host,
        3,
        "write_file",
        json!({"path": "src/new/created.py", "content": "new\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    run(
        &ws,
        &host,
        3,
        "edit_file",
        json!({"path": "src/new/created.py", "old_string": "new", "new_string": "newer"}),
    )
    .await;
    run(&ws, &host, 3, "read_file", json!({"path": "doomed.bin"})).await;
    let out = run(&ws, &host, 3, "delete_file", json!({"path": "doomed.bin"})).await;
    assert!(!out.is_error, "{}", out.content);
    assert!(!fx.exists("doomed.bin"));

    let changes = changes_of(&host, 3);
    assert_eq!(changes.len(), 5);
    let mut restored = ws.rollback(&changes).await.unwrap();
    restored.sort();
    assert_eq!(
        restored,
        vec!["doomed.bin", "mod.txt", "src/new/created.py"]
    );
    assert_eq!(std::fs::read(fx.ws.join("mod.txt")).unwrap(), modified);
    assert_eq!(std::fs::read(fx.ws.join("doomed.bin")).unwrap(), doomed);
    assert!(!fx.exists("src/new/created.py"));
    assert_eq!(fx.read("src/keep.py"), "x = 1\n");
}

#[tokio::test]
async fn rollback_refuses_when_the_file_changed_afterwards() {
    let fx = Fixture::new();
    fx.write("shared.txt", "v0\n");
    let ws = fx.open();
    let host = FakeHost::default();
    run(&ws, &host, 1, "read_file", json!({"path": "shared.txt"})).await;
    run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "shared.txt", "content": "v1\n"}),
    )
    .await;
    run(&ws, &host, 2, "read_file", json!({"path": "shared.txt"})).await;
    run(
        &ws,
        &host,
        2,
        "write_file",
        json!({"path": "shared.txt", "content": "v2\n"}),
    )
    .await;
    // The check (before `rollback_started` is journaled) refuses; so does the restore.
    let err = ws.check_rollback(&changes_of(&host, 1)).await.unwrap_err();
    assert!(err.contains("changed after subtask #1"), "{err}");
    let err = ws.rollback(&changes_of(&host, 1)).await.unwrap_err();
    assert!(err.contains("nothing more was restored"), "{err}");
    assert_eq!(fx.read("shared.txt"), "v2\n");
    // Rolling back the later subtask first, then the earlier one, works.
    assert_eq!(
        ws.rollback(&changes_of(&host, 2)).await.unwrap(),
        vec!["shared.txt"]
    );
    assert_eq!(fx.read("shared.txt"), "v1\n");
    assert_eq!(
        ws.rollback(&changes_of(&host, 1)).await.unwrap(),
        vec!["shared.txt"]
    );
    assert_eq!(fx.read("shared.txt"), "v0\n");
}

#[tokio::test]
async fn rolled_back_changes_are_skipped() {
    let fx = Fixture::new();
    let ws = fx.open();
    let host = FakeHost::default();
    run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "a.txt", "content": "a\n"}),
    )
    .await;
    let mut changes = changes_of(&host, 1);
    changes[0].rolled_back = true;
    assert!(ws.rollback(&changes).await.unwrap().is_empty());
    assert!(fx.exists("a.txt"));
}

#[tokio::test]
async fn parallel_writers_conflict_instead_of_overwriting() {
    let fx = Fixture::new();
    fx.write("api.py", "def f():\n    pass\n");
    let ws = fx.open();
    let host = FakeHost::default();
    // Subtasks #1 and #2 both read the file.
    run(&ws, &host, 1, "read_file", json!({"path": "api.py"})).await;
    run(&ws, &host, 2, "read_file", json!({"path": "api.py"})).await;
    // #1 writes first.
    let out = run(
        &ws,
        &host,
        1,
        "edit_file",
        json!({"path": "api.py", "old_string": "pass", "new_string": "return 1"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    // #2's write is refused, the file keeps #1's version, and a conflict is recorded.
    let out = run(
        &ws,
        &host,
        2,
        "edit_file",
        json!({"path": "api.py", "old_string": "pass", "new_string": "return 2"}),
    )
    .await;
    assert!(out.is_error);
    assert!(
        out.content.contains("conflict") && out.content.contains("changed since"),
        "{}",
        out.content
    );
    let out2 = run(
        &ws,
        &host,
        2,
        "write_file",
        json!({"path": "api.py", "content": "clobber\n"}),
    )
    .await;
    assert!(out2.is_error, "{}", out2.content);
    assert_eq!(fx.read("api.py"), "def f():\n    return 1\n");
    let conflicts: Vec<_> = host
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::FileConflict { .. }))
        .collect();
    assert_eq!(conflicts.len(), 2);
    match &conflicts[0] {
        Event::FileConflict { id, path, detail } => {
            assert_eq!(*id, SubtaskId(2));
            assert_eq!(path, "api.py");
            assert!(detail.contains("#2"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(changes_of(&host, 2).is_empty());
    // After reading again, #2 can make its change on top of #1's.
    run(&ws, &host, 2, "read_file", json!({"path": "api.py"})).await;
    let out = run(
        &ws,
        &host,
        2,
        "edit_file",
        json!({"path": "api.py", "old_string": "def f", "new_string": "def g"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(fx.read("api.py"), "def g():\n    return 1\n");
}

#[tokio::test]
async fn a_new_attempt_must_read_again() {
    let fx = Fixture::new();
    fx.write("f.txt", "a\n");
    let ws = fx.open();
    let host = FakeHost::default();
    run(&ws, &host, 5, "read_file", json!({"path": "f.txt"})).await;
    let out = ws
        .call(
            &host,
            SubtaskId(5),
            2,
            &tool_call("write_file", json!({"path": "f.txt", "content": "b\n"})),
        )
        .await;
    assert!(
        out.is_error && out.content.contains("have not read it"),
        "{}",
        out.content
    );
    assert_eq!(fx.read("f.txt"), "a\n");
}

#[tokio::test]
async fn two_workers_creating_the_same_file_conflict() {
    let fx = Fixture::new();
    let ws = fx.open();
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "NOTES.md", "content": "from 1\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    let out = run(
        &ws,
        &host,
        2,
        "write_file",
        json!({"path": "NOTES.md", "content": "from 2\n"}),
    )
    .await;
    assert!(out.is_error);
    assert!(
        out.content.contains("another worker (#1)"),
        "{}",
        out.content
    );
    assert_eq!(fx.read("NOTES.md"), "from 1\n");
    let conflicts: Vec<_> = host
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::FileConflict { id, .. } if *id == SubtaskId(2)))
        .collect();
    assert_eq!(conflicts.len(), 1);
}

#[tokio::test]
async fn diffs_show_each_changed_file_against_its_original() {
    use baton::tools::diff::file_diffs;
    let fx = Fixture::new();
    fx.write("a.txt", "one\ntwo\nthree\n");
    fx.write("gone.txt", "bye\n");
    let ws = fx.open();
    let host = FakeHost::default();
    run(&ws, &host, 1, "read_file", json!({"path": "a.txt"})).await;
    run(
        &ws,
        &host,
        1,
        "edit_file",
        json!({"path": "a.txt", "old_string": "two", "new_string": "TWO"}),
    )
    .await;
    run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "new.txt", "content": "fresh\n"}),
    )
    .await;
    run(&ws, &host, 1, "read_file", json!({"path": "gone.txt"})).await;
    run(&ws, &host, 1, "delete_file", json!({"path": "gone.txt"})).await;
    let diffs = file_diffs(&fx.run, &fx.ws, &changes_of(&host, 1));
    assert_eq!(diffs.len(), 3);
    assert_eq!(diffs[0].path, "a.txt");
    assert!(
        diffs[0].diff.contains("--- a/a.txt\n+++ b/a.txt\n"),
        "{}",
        diffs[0].diff
    );
    assert!(diffs[0].diff.contains("-two\n+TWO\n"), "{}", diffs[0].diff);
    assert_eq!((diffs[0].added, diffs[0].removed), (1, 1));
    assert!(diffs[0].notes.is_empty(), "{:?}", diffs[0].notes);
    assert_eq!(diffs[1].notes, vec!["created"]);
    assert!(diffs[1].diff.contains("+fresh"), "{}", diffs[1].diff);
    assert_eq!(diffs[2].notes, vec!["deleted"]);
    assert!(diffs[2].diff.contains("-bye"), "{}", diffs[2].diff);
    // Someone else changes a.txt afterwards: the diff says so.
    fx.write("a.txt", "other\n");
    let diffs = file_diffs(&fx.run, &fx.ws, &changes_of(&host, 1));
    assert_eq!(diffs[0].notes, vec!["changed since by someone else"]);
}

#[tokio::test]
async fn a_reopened_workspace_never_overwrites_earlier_backups() {
    let fx = Fixture::new();
    fx.write("f.txt", "v0\n");
    let host = FakeHost::default();
    {
        let ws = fx.open();
        run(&ws, &host, 1, "read_file", json!({"path": "f.txt"})).await;
        run(
            &ws,
            &host,
            1,
            "write_file",
            json!({"path": "f.txt", "content": "v1\n"}),
        )
        .await;
    }
    // As after a resume: a new Workspace over the same run directory.
    let ws = fx.open();
    run(&ws, &host, 1, "read_file", json!({"path": "f.txt"})).await;
    run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "f.txt", "content": "v2\n"}),
    )
    .await;
    let changes = changes_of(&host, 1);
    assert_eq!(changes[0].backup.as_deref(), Some("backups/1/1-f.txt"));
    assert_eq!(changes[1].backup.as_deref(), Some("backups/1/2-f.txt"));
    assert_eq!(
        std::fs::read_to_string(fx.run.join("backups/1/1-f.txt")).unwrap(),
        "v0\n"
    );
    // Rollback over both sessions' records restores the true original.
    ws.rollback(&changes).await.unwrap();
    assert_eq!(fx.read("f.txt"), "v0\n");
}
