//! The TUI's view of a subtask's file changes: the files list with +/- counts in the detail
//! view, the diff view (`D`), the rollback confirmation (`R`), what the keys send, and the
//! rollback of a finished run (restores exact bytes, journals the event). Real files in a
//! temporary workspace and run directory; fixed clock; no sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use std::path::Path;

use baton::protocol::*;
use baton::tools::changes::sha256_hex;
use baton::tui::Effect;
use baton::tui::app::Screen;
use baton::tui::keymap::{Action, CONTEXTS, Context, bindings};
use crossterm::event::KeyCode;
use tui_support::both;
use tui_support::*;

const ORIGINAL: &str =
    "def shorten(url):\n\treturn url[:8]\n\n\ndef expand(code):\n    return STORE[code]\n";
const EDITED: &str = "def shorten(url):\n    if not url.startswith(\"http\"):\n        raise ValueError(\"not a URL\")\n    return url[:8]\n\n\ndef expand(code):\n    return STORE[code]\n";
const CREATED: &str = "from app import shorten\n\n\ndef test_rejects_non_urls():\n    try:\n        shorten(\"nope\")\n    except ValueError:\n        return\n    assert False\n";

struct Fixture {
    _dirs: tempfile::TempDir,
    ws: std::path::PathBuf,
    run: std::path::PathBuf,
}

/// A workspace where subtask #1 edited `app.py` (original backed up in the run directory)
/// and created `tests/test_app.py`, as the workspace tools record it.
fn fixture() -> Fixture {
    let dirs = tempfile::tempdir().unwrap();
    let ws = dirs.path().join("ws");
    let run = dirs.path().join("run");
    std::fs::create_dir_all(ws.join("tests")).unwrap();
    std::fs::create_dir_all(run.join("backups/1")).unwrap();
    std::fs::write(ws.join("app.py"), EDITED).unwrap();
    std::fs::write(ws.join("tests/test_app.py"), CREATED).unwrap();
    std::fs::write(run.join("backups/1/1-app.py"), ORIGINAL).unwrap();
    Fixture {
        _dirs: dirs,
        ws,
        run,
    }
}

fn file_events() -> Vec<Event> {
    vec![
        Event::FileChanged {
            id: SubtaskId(1),
            path: "app.py".into(),
            before: Some(sha256_hex(ORIGINAL.as_bytes())),
            after: Some(sha256_hex(EDITED.as_bytes())),
            backup: Some("backups/1/1-app.py".into()),
        },
        Event::FileChanged {
            id: SubtaskId(1),
            path: "tests/test_app.py".into(),
            before: None,
            after: Some(sha256_hex(CREATED.as_bytes())),
            backup: None,
        },
    ]
}

/// A run on the workspace: #1 (done) changed two files, #2 runs.
fn ui_with_changes(f: &Fixture) -> (baton::tui::Ui, Script) {
    let mut ui = new_ui();
    ui.info.run_dir = Some(f.run.clone());
    let mut s = Script::default();
    feed(&mut ui, &mut s, run_events(f));
    (ui, s)
}

/// The events of that run (what its journal holds).
fn run_events(f: &Fixture) -> Vec<Event> {
    let mut settings = settings();
    settings.workspace = Some(f.ws.display().to_string());
    let a = Origin::Analysis;
    let mut events = vec![
        Event::RunStarted {
            run_id: "20260101-100000-url".into(),
            task: "Improve this URL shortener and its tests".into(),
            settings,
        },
        added(
            1,
            "Validate URLs",
            "code_developer",
            Priority::High,
            &[],
            a.clone(),
            false,
        ),
        added(
            2,
            "Write docs",
            "documentation_writer",
            Priority::Normal,
            &[],
            a,
            false,
        ),
        Event::PhaseChanged {
            phase: Phase::Running,
        },
        started(1, 1, "code_developer"),
        started(2, 2, "documentation_writer"),
    ];
    events.extend(file_events());
    events.push(Event::SubtaskReported {
        id: SubtaskId(1),
        attempt: 1,
        output: "Added validation and a test.".into(),
        report: Report {
            status: ReportStatus::Complete,
            results: "shorten() rejects non-URLs.".into(),
            discoveries: vec![],
            recommendations: vec![],
            new_subtasks: vec![],
        },
    });
    events
}

fn sent(fx: Vec<Effect>) -> Vec<Command> {
    fx.into_iter()
        .filter_map(|e| match e {
            Effect::Send(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn detail_view_lists_changed_files_with_counts() {
    let f = fixture();
    let (mut ui, _s) = ui_with_changes(&f);
    select_shown(&mut ui, 1);
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.screen, Screen::Detail(SubtaskId(1)));
    let c = ui.changes.as_ref().unwrap();
    assert_eq!(c.diffs.len(), 2);
    assert_eq!((c.diffs[0].added, c.diffs[0].removed), (3, 1));
    assert_eq!((c.diffs[1].added, c.diffs[1].removed), (9, 0));
    let text = render(&mut ui, 160, 48);
    assert!(text.contains("app.py  +3 -1"), "{text}");
    assert!(text.contains("tests/test_app.py  +9 -0  created"), "{text}");
    insta::assert_snapshot!("changes_detail_160x48", text);
    // At 80x24 the files are below the fold: scroll to them.
    for _ in 0..10 {
        key(&mut ui, KeyCode::Down);
    }
    let text = render(&mut ui, 80, 24);
    assert!(text.contains("app.py  +3 -1"), "{text}");
    insta::assert_snapshot!("changes_detail_80x24", text);
}

#[test]
fn diff_view_colours_scrolls_and_jumps_between_files() {
    let f = fixture();
    let (mut ui, _s) = ui_with_changes(&f);
    select_shown(&mut ui, 1);
    ch(&mut ui, 'D');
    assert_eq!(ui.screen, Screen::Diff(SubtaskId(1)));
    let text = render(&mut ui, 160, 48);
    // Readable without colour: the unified diff's own +/- prefixes stay.
    assert!(
        text.contains("+    if not url.startswith(\"http\"):"),
        "{text}"
    );
    assert!(
        text.contains("-    return url[:8]"),
        "tabs expanded: {text}"
    );
    assert!(text.contains("--- a/app.py"), "{text}");
    both!("changes_diff", &mut ui);
    // `]` jumps to the next file, `[` back; scrolling is clamped.
    update_size(&mut ui, 80, 24);
    ch(&mut ui, ']');
    let second = ui.changes.as_ref().unwrap().file_starts[1];
    assert_eq!(
        ui.changes.as_ref().unwrap().scroll,
        second.min(max_scroll(&ui))
    );
    ch(&mut ui, '[');
    assert_eq!(ui.changes.as_ref().unwrap().scroll, 0);
    for _ in 0..200 {
        key(&mut ui, KeyCode::Down);
    }
    assert_eq!(ui.changes.as_ref().unwrap().scroll, max_scroll(&ui));
    insta::assert_snapshot!("changes_diff_scrolled_80x24", render(&mut ui, 80, 24));
    // Esc goes back where the diff was opened from.
    key(&mut ui, KeyCode::Esc);
    assert_eq!(ui.screen, Screen::Main);
    key(&mut ui, KeyCode::Enter);
    ch(&mut ui, 'D');
    key(&mut ui, KeyCode::Esc);
    assert_eq!(ui.screen, Screen::Detail(SubtaskId(1)));
}

fn update_size(ui: &mut baton::tui::Ui, w: u16, h: u16) {
    baton::tui::update(ui, baton::tui::Msg::Resize(w, h));
}

fn max_scroll(ui: &baton::tui::Ui) -> usize {
    let c = ui.changes.as_ref().unwrap();
    c.lines.len().saturating_sub(baton::tui::changes::page(ui))
}

#[test]
fn rollback_asks_first_and_sends_exactly_one_command() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    select_shown(&mut ui, 1);
    ch(&mut ui, 'R');
    assert!(ui.modal.is_some(), "R opens the confirmation");
    both!("changes_rollback_modal", &mut ui);
    let fx = ch(&mut ui, 'y');
    assert_eq!(
        fx,
        vec![Effect::Send(Command::Rollback { id: SubtaskId(1) })]
    );
    assert!(ui.modal.is_none());

    // Esc and n cancel without sending anything.
    ch(&mut ui, 'R');
    assert!(ui.modal.is_some());
    assert!(key(&mut ui, KeyCode::Esc).is_empty());
    assert!(ui.modal.is_none());
    ch(&mut ui, 'R');
    assert!(sent(ch(&mut ui, 'n')).is_empty());
    assert!(ui.modal.is_none());

    // The engine rolled back: the detail and diff views say so; R is no longer offered.
    key(&mut ui, KeyCode::Enter);
    std::fs::write(f.ws.join("app.py"), ORIGINAL).unwrap();
    std::fs::remove_file(f.ws.join("tests/test_app.py")).unwrap();
    feed(
        &mut ui,
        &mut s,
        vec![Event::SubtaskRolledBack {
            id: SubtaskId(1),
            files: vec!["app.py".into(), "tests/test_app.py".into()],
            by: Actor::Person,
        }],
    );
    let text = render(&mut ui, 160, 48);
    assert!(text.contains("  app.py  ↻ rolled back"), "{text}");
    assert!(
        text.contains("  tests/test_app.py  ↻ rolled back"),
        "{text}"
    );
    assert!(ch(&mut ui, 'R').is_empty());
    assert!(ui.modal.is_none(), "nothing left to roll back");
    ch(&mut ui, 'D');
    both!("changes_diff_rolled_back", &mut ui);
}

#[test]
fn rollback_is_not_offered_for_a_running_subtask_or_one_without_files() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    // #2 runs and writes a file: D is offered, R is not (the engine refuses it too).
    std::fs::write(f.ws.join("README.md"), "# docs\n").unwrap();
    feed(
        &mut ui,
        &mut s,
        vec![Event::FileChanged {
            id: SubtaskId(2),
            path: "README.md".into(),
            before: None,
            after: Some(sha256_hex(b"# docs\n")),
            backup: None,
        }],
    );
    select_shown(&mut ui, 2);
    let offered = baton::tui::footer::offered(&ui);
    assert!(offered.contains(&("D".to_string(), "diff")), "{offered:?}");
    assert!(!offered.iter().any(|(k, _)| *k == "R"), "{offered:?}");
    assert!(ch(&mut ui, 'R').is_empty());
    assert!(ui.modal.is_none());
    // A subtask with no files offers neither.
    let mut plain = new_ui();
    mid_run(&mut plain);
    key(&mut plain, KeyCode::Esc);
    let offered = baton::tui::footer::offered(&plain);
    assert!(
        !offered.iter().any(|(k, _)| *k == "D" || *k == "R"),
        "{offered:?}"
    );
}

#[test]
fn new_changes_refresh_the_open_views() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    select_shown(&mut ui, 2);
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.screen, Screen::Detail(SubtaskId(2)));
    std::fs::write(f.ws.join("README.md"), "# docs\nline\n").unwrap();
    feed(
        &mut ui,
        &mut s,
        vec![Event::FileChanged {
            id: SubtaskId(2),
            path: "README.md".into(),
            before: None,
            after: Some(sha256_hex(b"# docs\nline\n")),
            backup: None,
        }],
    );
    let c = ui.changes.as_ref().unwrap();
    assert_eq!(c.id, SubtaskId(2));
    assert_eq!(c.diffs.len(), 1);
    assert_eq!(c.diffs[0].added, 2);
}

#[test]
fn keymap_lists_the_diff_and_rollback_keys() {
    for ctx in [Context::Tasks, Context::Detail] {
        assert!(bindings(ctx).any(|b| b.action == Action::Diff), "{ctx:?}");
        assert!(
            bindings(ctx).any(|b| b.action == Action::Rollback),
            "{ctx:?}"
        );
    }
    assert!(CONTEXTS.iter().any(|(c, _)| *c == Context::Diff));
    assert!(bindings(Context::Diff).any(|b| b.action == Action::Rollback));
    assert!(bindings(Context::Diff).any(|b| b.action == Action::Help));
    let ui = new_ui();
    let help: Vec<String> = baton::tui::help::lines(&ui)
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    assert!(
        help.iter()
            .any(|l| l.contains("Diff of a subtask's changes")),
        "{help:?}"
    );
    assert!(help.iter().any(|l| l.contains("roll back")), "{help:?}");
}

fn journal_with(run: &Path, events: Vec<Event>) {
    let mut j = baton::journal::Journal::create(run).unwrap();
    for e in events {
        j.append(e).unwrap();
    }
}

#[test]
fn a_dialog_over_a_finished_run_does_not_say_the_run_keeps_going() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    select_shown(&mut ui, 1);
    ch(&mut ui, 'R');
    assert!(ui.modal.is_some());
    let live = render(&mut ui, 80, 24);
    assert!(
        live.contains("the run keeps going behind this dialog"),
        "{live}"
    );
    feed(
        &mut ui,
        &mut s,
        vec![Event::RunFinished {
            outcome: RunOutcome::Completed,
        }],
    );
    assert!(ui.modal.is_some(), "the dialog stays open");
    let done = render(&mut ui, 80, 24);
    assert!(!done.contains("keeps going"), "{done}");
    assert!(done.contains("the run has ended"), "{done}");
}

#[test]
fn a_finished_run_is_rolled_back_by_the_tui_and_journaled() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    let end = Event::RunFinished {
        outcome: RunOutcome::Completed,
    };
    journal_with(&f.run, [run_events(&f), vec![end.clone()]].concat());
    feed(&mut ui, &mut s, vec![end]);
    assert!(ui.state.is_finished());
    baton::tui::changes::roll_back_finished(&mut ui, SubtaskId(1));
    assert_eq!(
        std::fs::read_to_string(f.ws.join("app.py")).unwrap(),
        ORIGINAL,
        "exact bytes"
    );
    assert!(
        !f.ws.join("tests/test_app.py").exists(),
        "created file removed"
    );
    assert!(ui.state.files.iter().all(|c| c.rolled_back));
    let flash = ui.flash.clone().unwrap_or_default();
    assert!(flash.contains("rolled back #1"), "{flash}");
    let replay = baton::journal::replay(&f.run.join("journal.jsonl")).unwrap();
    let last = replay.events.last().unwrap();
    assert!(
        matches!(&last.event, Event::SubtaskRolledBack { id, files, by: Actor::Person }
            if *id == SubtaskId(1) && files.len() == 2),
        "{last:?}"
    );
    // A second rollback has nothing to do and says so.
    baton::tui::changes::roll_back_finished(&mut ui, SubtaskId(1));
    let flash = ui.flash.clone().unwrap_or_default();
    assert!(flash.contains("changed no files"), "{flash}");
}

#[test]
fn a_finished_run_refuses_to_lose_later_edits() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    let end = Event::RunFinished {
        outcome: RunOutcome::Completed,
    };
    journal_with(&f.run, [run_events(&f), vec![end.clone()]].concat());
    feed(&mut ui, &mut s, vec![end]);
    std::fs::write(f.ws.join("app.py"), "edited by hand\n").unwrap();
    baton::tui::changes::roll_back_finished(&mut ui, SubtaskId(1));
    let flash = ui.flash.clone().unwrap_or_default();
    assert!(flash.contains("rollback of #1 failed"), "{flash}");
    assert_eq!(
        std::fs::read_to_string(f.ws.join("app.py")).unwrap(),
        "edited by hand\n"
    );
    assert!(f.ws.join("tests/test_app.py").exists(), "nothing changed");
    assert!(ui.state.files.iter().all(|c| !c.rolled_back));
}

#[test]
fn synthesis_lists_the_files_the_run_changed() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    let summary = ExecutionSummary {
        files_changed: vec!["app.py".into(), "tests/test_app.py".into()],
        ..Default::default()
    };
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::SynthesisCompleted {
                synthesis: Synthesis {
                    deliverable: "# Done\n\nValidation added.".into(),
                    integration_points: vec![],
                    conflicts: vec![],
                    coherence: String::new(),
                },
                summary,
            },
            Event::SubtaskRolledBack {
                id: SubtaskId(1),
                files: vec!["app.py".into()],
                by: Actor::Person,
            },
        ],
    );
    assert_eq!(ui.screen, Screen::Synthesis);
    let text = render(&mut ui, 160, 48);
    assert!(text.contains("Files changed (2):"), "{text}");
    assert!(text.contains("app.py  by #1  ↻ rolled back"), "{text}");
    // Partly rolled back: a file two subtasks changed, one of them undone.
    feed(
        &mut ui,
        &mut s,
        vec![Event::FileChanged {
            id: SubtaskId(2),
            path: "tests/test_app.py".into(),
            before: Some(sha256_hex(CREATED.as_bytes())),
            after: None,
            backup: Some("backups/2/1-tests__test_app.py".into()),
        }],
    );
    let text = render(&mut ui, 160, 48);
    assert!(
        text.contains("tests/test_app.py  by #1 #2  ↻ #1 rolled back"),
        "{text}"
    );
}

#[test]
fn a_later_edit_by_another_subtask_is_kept_out_of_the_diff_and_named() {
    let f = fixture();
    let (mut ui, mut s) = ui_with_changes(&f);
    // #2 edits app.py after #1: its backup holds what #1 left.
    let later = format!("{EDITED}\n\ndef stats(code):\n    return 0\n");
    std::fs::create_dir_all(f.run.join("backups/2")).unwrap();
    std::fs::write(f.run.join("backups/2/1-app.py"), EDITED).unwrap();
    std::fs::write(f.ws.join("app.py"), &later).unwrap();
    feed(
        &mut ui,
        &mut s,
        vec![Event::FileChanged {
            id: SubtaskId(2),
            path: "app.py".into(),
            before: Some(sha256_hex(EDITED.as_bytes())),
            after: Some(sha256_hex(later.as_bytes())),
            backup: Some("backups/2/1-app.py".into()),
        }],
    );
    select_shown(&mut ui, 1);
    ch(&mut ui, 'D');
    let c = ui.changes.as_ref().unwrap();
    let app = &c.diffs[0];
    assert_eq!((app.added, app.removed), (3, 1), "only #1's own lines");
    assert!(
        app.notes.contains(&"changed since by #2".to_string()),
        "{:?}",
        app.notes
    );
    assert!(!app.diff.contains("stats"), "{}", app.diff);
    // #2's own diff of the file has only its lines.
    key(&mut ui, KeyCode::Esc);
    select_shown(&mut ui, 2);
    ch(&mut ui, 'D');
    let c = ui.changes.as_ref().unwrap();
    assert_eq!((c.diffs[0].added, c.diffs[0].removed), (4, 0));
    // Rolling back #1 now would lose #2's edit: the confirmation says so up front.
    key(&mut ui, KeyCode::Esc);
    select_shown(&mut ui, 1);
    ch(&mut ui, 'R');
    let text = render(&mut ui, 160, 48);
    assert!(
        text.contains("changed since by #2: roll that back first"),
        "{text}"
    );
}
