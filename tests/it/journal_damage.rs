//! A damaged journal on the real binary: a deleted, bit-flipped or duplicated line makes
//! `runs` say "damaged", `resume` refuse naming the line, and `export` still write what is
//! readable with the damage stated; a deleted journal is listed, not hidden; `export -o`
//! never writes into a run directory; one writer per run (a second resume exits 2 naming the
//! process that holds it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support_cli as cli;

use std::io::BufReader;
use std::path::Path;
use std::process::Stdio;

use baton::journal::JOURNAL_FILE;
use cli::*;

/// A completed demo run; returns its journal's lines.
fn completed_run(home: &Path) -> Vec<String> {
    completed_demo_run(home);
    let journal = only_run_dir(home).join(JOURNAL_FILE);
    std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(home: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(only_run_dir(home).join(JOURNAL_FILE), text).unwrap();
}

/// 1-based number of the first line containing `needle`.
fn line_of(lines: &[String], needle: &str) -> usize {
    lines.iter().position(|l| l.contains(needle)).unwrap() + 1
}

/// `runs` marks the run damaged, `resume` refuses naming `line`, `export` states it.
fn assert_refused_and_reported(home: &Path, line: usize) {
    let o = baton(home).arg("runs").output().unwrap();
    let (table, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(table.contains("damaged"), "{table}");

    let o = baton(home)
        .args(["resume", "latest", "--headless"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(err.contains("cannot be continued"), "{err}");
    assert!(!err.contains("complete."), "{err}");

    let o = baton(home).args(["export", "latest"]).output().unwrap();
    let (md, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(md.contains("damaged"), "{md}");
    assert!(md.contains(&format!("line {line}")), "{md}");
}

#[test]
fn a_deleted_subtask_line_is_damage_not_a_smaller_run() {
    let home = tempfile::tempdir().unwrap();
    let mut lines = completed_run(home.path());
    let at = line_of(&lines, r#""type":"subtask_added""#);
    lines.remove(at - 1);
    write_lines(home.path(), &lines);
    assert_refused_and_reported(home.path(), at);
}

#[test]
fn a_bit_flipped_subtask_line_is_damage_not_a_smaller_run() {
    let home = tempfile::tempdir().unwrap();
    let mut lines = completed_run(home.path());
    let at = line_of(&lines, r#""type":"subtask_added""#);
    // One bit of the title: still valid JSON, a different run.
    let flipped = lines[at - 1].replacen(r#""title":""#, r#""title":"A"#, 1);
    let mut bytes = flipped.into_bytes();
    let pos = bytes.iter().position(|b| *b == b'A').unwrap();
    bytes[pos] ^= 0x20;
    lines[at - 1] = String::from_utf8(bytes).unwrap();
    write_lines(home.path(), &lines);
    assert_refused_and_reported(home.path(), at);
}

#[test]
fn a_duplicated_usage_line_never_doubles_tokens_or_cost() {
    let home = tempfile::tempdir().unwrap();
    let mut lines = completed_run(home.path());
    let export = |home: &Path| {
        let o = baton(home)
            .args(["export", "latest", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let before = export(home.path());
    let at = line_of(&lines, r#""type":"llm_usage""#);
    let copy = lines[at - 1].clone();
    lines.insert(at, copy);
    write_lines(home.path(), &lines);
    let after = export(home.path());
    assert_eq!(before["cost_usd"], after["cost_usd"]);
    assert_eq!(before["summary"], after["summary"]);
    assert_refused_and_reported(home.path(), at + 1);
}

#[test]
fn a_deleted_journal_is_listed_not_hidden() {
    let home = tempfile::tempdir().unwrap();
    completed_run(home.path());
    let dir = only_run_dir(home.path());
    let id = dir.file_name().unwrap().to_string_lossy().into_owned();
    std::fs::remove_file(dir.join(JOURNAL_FILE)).unwrap();
    let o = baton(home.path()).arg("runs").output().unwrap();
    let (table, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(!table.contains("no runs yet"), "{table}");
    assert!(table.contains(&id), "{table}");
    assert!(table.contains("journal missing"), "{table}");
}

#[test]
fn export_never_writes_into_a_run_directory() {
    let home = tempfile::tempdir().unwrap();
    completed_run(home.path());
    let dir = only_run_dir(home.path());
    let journal = dir.join(JOURNAL_FILE);
    let before = std::fs::read(&journal).unwrap();
    for target in [journal.clone(), dir.join("report.md"), dir.join("a/b.md")] {
        let o = baton(home.path())
            .args(["export", "latest", "-o"])
            .arg(&target)
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("run directory"), "{err}");
        assert!(!dir.join("report.md").exists());
    }
    assert_eq!(std::fs::read(&journal).unwrap(), before);
    // Elsewhere is fine.
    let elsewhere = home.path().join("report.md");
    let o = baton(home.path())
        .args(["export", "latest", "-o"])
        .arg(&elsewhere)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert!(elsewhere.is_file());
}

/// While a run is live, a second `resume` of it exits 2 naming the live process; the run's
/// journal then holds one writer's history (no duplicate or missing sequence numbers).
#[cfg(unix)]
#[test]
fn a_second_resume_of_a_live_run_exits_2_naming_the_holder() {
    let home = tempfile::tempdir().unwrap();
    // Stop a paced run with Ctrl-C first, so both processes below are resumes with work left.
    let mut original = baton_paced(home.path(), 30)
        .args(["--headless", TASK])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(original.stderr.take().unwrap());
    wait_for(&mut stderr, "started:");
    kill(&original, "-INT");
    drop(stderr);
    assert_eq!(original.wait().unwrap().code(), Some(3));
    let mut first = baton(home.path())
        .args(["resume", "latest", "--headless"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(first.stderr.take().unwrap());
    wait_for(&mut stderr, "resumed");
    let o = baton(home.path())
        .args(["resume", "latest", "--headless"])
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("process {}", first.id())), "{err}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(first.wait().unwrap().code(), Some(0), "{rest}");
    let replay = baton::journal::replay(&only_run_dir(home.path()).join(JOURNAL_FILE)).unwrap();
    assert!(
        replay.corrupt_lines.is_empty(),
        "{:?}",
        replay.corrupt_lines
    );
    for (i, e) in replay.events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
    }
    // Once the holder is gone the run can be opened again.
    let o = baton(home.path())
        .args(["resume", "latest", "--headless"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(2), "{}", text(&o).1);
}
