//! The journal: append and replay, torn and corrupt lines, resume appending, the run index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use baton::journal::*;
use baton::protocol::*;

fn notice(i: u32) -> Event {
    Event::Notice {
        message: format!("n{i}"),
    }
}

#[test]
fn append_then_replay_roundtrips() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("runs").join("r1");
    let mut j = Journal::create(&run).unwrap();
    let a = j.append(notice(1)).unwrap();
    let b = j.append(notice(2)).unwrap();
    assert_eq!((a.seq, b.seq), (1, 2));
    assert_eq!(a.v, JOURNAL_VERSION);
    j.flush().unwrap(); // appends are buffered until a flush or a milestone
    let r = replay(&run.join(JOURNAL_FILE)).unwrap();
    assert_eq!(r.events, vec![a, b]);
    assert!(!r.torn_line_dropped);
    assert!(r.corrupt_lines.is_empty());
    // One JSON object a line, in the documented shape.
    let text = std::fs::read_to_string(run.join(JOURNAL_FILE)).unwrap();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(r#"{"seq":1,"ts":""#), "{first}");
    assert!(
        first.contains(r#""v":1,"type":"notice","message":"n1""#),
        "{first}"
    );
    // A run id is never reused.
    assert!(Journal::create(&run).is_err());
}

#[test]
fn torn_last_line_is_tolerated_and_cut_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path()).unwrap();
    j.append(notice(1)).unwrap();
    j.append(notice(2)).unwrap();
    drop(j);
    let path = dir.path().join(JOURNAL_FILE);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(br#"{"seq":3,"ts":"2026-11-26T09:00:00Z","v":1,"type":"not"#)
        .unwrap();
    drop(f);
    let r = replay(&path).unwrap();
    assert_eq!(r.events.len(), 2);
    assert!(r.torn_line_dropped);
    assert!(r.corrupt_lines.is_empty());
    let mut j = Journal::open_append(dir.path()).unwrap();
    assert_eq!(j.last_seq(), 2);
    assert_eq!(j.append(notice(3)).unwrap().seq, 3);
    j.flush().unwrap(); // appends are buffered until a flush or a milestone
    let r = replay(&path).unwrap();
    assert_eq!(r.events.len(), 3);
    assert!(!r.torn_line_dropped);
    assert!(r.corrupt_lines.is_empty());
}

#[test]
fn complete_last_line_without_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path()).unwrap();
    let e = j.append(notice(1)).unwrap();
    drop(j);
    let path = dir.path().join(JOURNAL_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.trim_end()).unwrap();
    let mut j = Journal::open_append(dir.path()).unwrap();
    assert_eq!(j.append(notice(2)).unwrap().seq, 2);
    j.flush().unwrap(); // appends are buffered until a flush or a milestone
    let r = replay(&path).unwrap();
    assert_eq!(r.events[0], e);
    assert_eq!(r.events.len(), 2);
}

#[test]
fn corrupt_middle_line_is_reported_with_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path()).unwrap();
    j.append(notice(1)).unwrap();
    drop(j);
    let path = dir.path().join(JOURNAL_FILE);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(b"{garbage\n\xff\xfe\n").unwrap();
    drop(f);
    let mut j = Journal::open_append(dir.path()).unwrap();
    j.append(notice(2)).unwrap();
    j.flush().unwrap(); // appends are buffered until a flush or a milestone
    let r = replay(&path).unwrap();
    assert_eq!(r.events.len(), 2);
    let lines: Vec<usize> = r.corrupt_lines.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![2, 3]);
    assert!(r.is_damaged());
    assert!(!r.torn_line_dropped);
}

fn make_run(data: &std::path::Path, id: &str, task: &str, finish: Option<RunOutcome>) {
    let mut j = Journal::create(&runs_dir(data).join(id)).unwrap();
    let settings = RunSettings {
        provider: "demo".into(),
        base_url: String::new(),
        orchestrator_model: "m".into(),
        worker_model: "m".into(),
        max_workers: 2,
        approve: ApprovalPolicy::Auto,
        limits: Limits::default(),
        complexity_threshold: 0.7,
        evaluate: false,
        evaluate_rounds: 1,
        workspace: None,
        read_only: false,
        allow_commands: false,
        role_dispatch: Default::default(),
    };
    j.append(Event::RunStarted {
        run_id: id.into(),
        task: task.into(),
        settings,
    })
    .unwrap();
    j.append(Event::LlmUsage {
        purpose: CallPurpose::Analysis,
        model: "m".into(),
        usage: Default::default(),
        cost_usd: Some(0.5),
    })
    .unwrap();
    if let Some(outcome) = finish {
        j.append(Event::RunFinished { outcome }).unwrap();
    }
}

#[test]
fn list_and_resolve_runs() {
    let data = tempfile::tempdir().unwrap();
    assert!(list_runs(data.path()).unwrap().is_empty());
    assert!(matches!(
        resolve_run(data.path(), "latest"),
        Err(JournalError::NoRuns(_))
    ));
    make_run(
        data.path(),
        "20261126-090000-aaaa",
        "first",
        Some(RunOutcome::Completed),
    );
    make_run(data.path(), "20261126-090500-bbbb", "second", None);
    make_run(
        data.path(),
        "20261126-100000-cccc",
        "third",
        Some(RunOutcome::Stopped { reason: "x".into() }),
    );
    std::fs::create_dir_all(runs_dir(data.path()).join("not-a-run")).unwrap();
    // A run whose journal was deleted is listed, not hidden.
    std::fs::create_dir_all(runs_dir(data.path()).join("20261126-080000-dddd")).unwrap();
    let runs = list_runs(data.path()).unwrap();
    let rows: Vec<(&str, &str, RunStatus)> = runs
        .iter()
        .map(|r| (r.id.as_str(), r.task.as_str(), r.status))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("20261126-080000-dddd", "", RunStatus::JournalMissing),
            ("20261126-090000-aaaa", "first", RunStatus::Completed),
            ("20261126-090500-bbbb", "second", RunStatus::Unfinished),
            ("20261126-100000-cccc", "third", RunStatus::Stopped),
        ]
    );
    assert_eq!(runs[1].cost_usd, 0.5);
    let dir = |id: &str| runs_dir(data.path()).join(id);
    assert_eq!(
        resolve_run(data.path(), "latest").unwrap(),
        dir("20261126-100000-cccc")
    );
    assert_eq!(
        resolve_run(data.path(), "20261126-0905").unwrap(),
        dir("20261126-090500-bbbb")
    );
    assert_eq!(
        resolve_run(data.path(), "20261126-090000-aaaa").unwrap(),
        dir("20261126-090000-aaaa")
    );
    match resolve_run(data.path(), "20261126-0") {
        Err(e @ JournalError::Ambiguous { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("20261126-090000-aaaa") && msg.contains("20261126-090500-bbbb"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    match resolve_run(data.path(), "1999") {
        Err(e @ JournalError::NotFound { .. }) => assert!(e.to_string().contains("baton runs")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn run_ids_sort_by_time() {
    let a = new_run_id();
    assert_eq!(a.len(), "20261126-093012-7f3a".len());
    assert!(a.chars().nth(8) == Some('-') && a.chars().nth(15) == Some('-'));
}

fn write_lines(path: &std::path::Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

fn three_lines(dir: &std::path::Path) -> Vec<String> {
    let mut j = Journal::create(dir).unwrap();
    for i in 1..=3 {
        j.append(notice(i)).unwrap();
    }
    j.flush().unwrap(); // appends are buffered until a flush or a milestone
    let text = std::fs::read_to_string(dir.join(JOURNAL_FILE)).unwrap();
    text.lines().map(str::to_string).collect()
}

#[test]
fn every_line_carries_a_checksum_and_a_changed_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = three_lines(dir.path());
    assert!(lines.iter().all(|l| l.contains(r#","sum":""#)));
    lines[1] = lines[1].replace("n2", "n9");
    let path = dir.path().join(JOURNAL_FILE);
    write_lines(&path, &lines);
    let r = replay(&path).unwrap();
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.corrupt_lines.len(), 1);
    assert_eq!(r.corrupt_lines[0].line, 2);
    assert_eq!(r.corrupt_lines[0].kind, DamageKind::Checksum);
    assert_eq!(r.damaged_line_list(), "2");
}

#[test]
fn unknown_versions_gaps_duplicates_and_reordering_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    let lines = three_lines(dir.path());
    let path = dir.path().join(JOURNAL_FILE);
    let case = |rows: Vec<String>| {
        write_lines(&path, &rows);
        replay(&path).unwrap().corrupt_lines
    };
    // A line of another version, with a valid checksum: written by a newer Baton.
    let other = {
        let e: Envelope = serde_json::from_str(&lines[2]).unwrap();
        encode_line(&Envelope { v: 99, ..e }).unwrap()
    };
    let d = case(vec![lines[0].clone(), lines[1].clone(), other]);
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].line, &d[0].kind),
        (3, &DamageKind::UnknownVersion(99))
    );
    let d = case(vec![lines[0].clone(), lines[2].clone()]);
    assert_eq!(
        (d[0].line, &d[0].kind),
        (2, &DamageKind::Gap { from: 2, to: 2 })
    );
    assert!(d[0].to_string().contains("event 2 is missing"));
    let d = case(vec![
        lines[0].clone(),
        lines[1].clone(),
        lines[1].clone(),
        lines[2].clone(),
    ]);
    assert_eq!(
        (d[0].line, &d[0].kind),
        (3, &DamageKind::Duplicate { seq: 2 })
    );
    let d = case(vec![lines[0].clone(), lines[2].clone(), lines[1].clone()]);
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[1].line, &d[1].kind),
        (3, &DamageKind::OutOfOrder { seq: 2, after: 3 })
    );
}

#[test]
fn a_lost_newline_on_the_last_line_is_damage_not_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let lines = three_lines(dir.path());
    let path = dir.path().join(JOURNAL_FILE);
    let mut text = format!("{}\n{}\n{}", lines[0], lines[1], lines[2]);
    text.push('\u{b}');
    std::fs::write(&path, text).unwrap();
    let r = replay(&path).unwrap();
    assert!(!r.torn_line_dropped);
    assert_eq!(r.corrupt_lines[0].line, 3);
}

#[test]
fn a_journal_from_before_checksums_is_read_unverified() {
    let dir = tempfile::tempdir().unwrap();
    let lines = three_lines(dir.path());
    let legacy: Vec<String> = lines
        .iter()
        .map(|l| {
            let e: Envelope = serde_json::from_str(l).unwrap();
            serde_json::to_string(&e).unwrap()
        })
        .collect();
    let path = dir.path().join(JOURNAL_FILE);
    write_lines(&path, &legacy);
    let r = replay(&path).unwrap();
    assert!(r.unverified && !r.is_damaged());
    assert_eq!(r.events.len(), 3);
    // Appending to it continues the sequence.
    let mut j = Journal::open_append(dir.path()).unwrap();
    assert_eq!(j.append(notice(4)).unwrap().seq, 4);
}

#[test]
fn milestones_are_what_must_survive_a_power_loss() {
    use baton::protocol::{Actor, SubtaskId};
    assert!(is_milestone(&Event::RunFinished {
        outcome: RunOutcome::Completed
    }));
    assert!(is_milestone(&Event::SubtaskFailed {
        id: SubtaskId(1),
        attempt: 1,
        error: String::new()
    }));
    assert!(is_milestone(&Event::DispatchPaused { by: Actor::Person }));
    assert!(!is_milestone(&Event::DispatchPaused { by: Actor::Engine }));
    assert!(!is_milestone(&notice(1)));
}

#[test]
fn only_files_inside_the_runs_directory_are_refused_as_export_targets() {
    let data = tempfile::tempdir().unwrap();
    let run = runs_dir(data.path()).join("20261126-080000-dddd");
    Journal::create(&run).unwrap();
    assert_eq!(
        inside_runs_dir(data.path(), &run.join(JOURNAL_FILE)),
        Some(run.canonicalize().unwrap())
    );
    assert!(inside_runs_dir(data.path(), &run.join("new/report.md")).is_some());
    assert!(inside_runs_dir(data.path(), &run.join("../../elsewhere.md")).is_none());
    assert!(inside_runs_dir(data.path(), &data.path().join("report.md")).is_none());
    #[cfg(unix)]
    {
        let link = data.path().join("innocent.md");
        std::os::unix::fs::symlink(run.join(JOURNAL_FILE), &link).unwrap();
        assert!(inside_runs_dir(data.path(), &link).is_some());
    }
}

#[test]
fn appends_are_buffered_until_a_milestone_or_a_flush() {
    use baton::protocol::RunOutcome;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(JOURNAL_FILE);
    let mut j = Journal::create(dir.path()).unwrap();
    j.append(notice(1)).unwrap();
    j.append(notice(2)).unwrap();
    // Ordinary events wait in memory: no write call per event.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    j.flush().unwrap();
    assert_eq!(replay(&path).unwrap().events.len(), 2);
    j.append(notice(3)).unwrap();
    // A milestone writes (and syncs) everything before it returns.
    j.append(Event::RunFinished {
        outcome: RunOutcome::Completed,
    })
    .unwrap();
    assert_eq!(replay(&path).unwrap().events.len(), 4);
    // Dropping the journal writes what is left.
    j.append(notice(5)).unwrap();
    drop(j);
    assert_eq!(replay(&path).unwrap().events.len(), 5);
}
