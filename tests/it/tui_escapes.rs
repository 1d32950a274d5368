//! Terminal escape injection (issue 8, attack 3): model text full of ESC/CSI/OSC sequences,
//! bare `\r` and bidi overrides reaches every view and dialog of the TUI, and no control
//! character may land in a cell; the command-approval dialog shows the exact command with
//! its controls made visible and marks it suspicious.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::protocol::*;
use baton::tui::app::Screen;
use crossterm::event::KeyCode;
use tui_support::*;

/// Clear line, carriage return, cursor up, OSC 0 window title, OSC 52 clipboard write,
/// reverse video, cursor move, and a right-to-left override.
const EVIL: &str = "ok\x1b[2K\r\x1b[1A\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[7mrev\x1b[0m\x1b[5;5H\u{202e}gpj.exe\u{9b}2J";
const EVIL_COMMAND: &str = "touch X; \x1b[2K\r\x1b[1Agit status";

/// Every cell of a rendered screen is printable (the line breaks are the backend's own).
fn assert_clean(screen: &str, what: &str) {
    for c in screen.chars() {
        assert!(
            c == '\n' || !baton::text::is_unsafe_char(c),
            "{what}: control or bidi character {:?} reached a cell:\n{screen}",
            c
        );
    }
}

fn check(ui: &mut baton::tui::Ui, what: &str) -> String {
    let small = render(ui, 80, 24);
    assert_clean(&small, &format!("{what} 80x24"));
    let big = render(ui, 160, 48);
    assert_clean(&big, &format!("{what} 160x48"));
    big
}

fn hostile_run() -> (baton::tui::Ui, Script) {
    let mut ui = new_ui();
    let mut s = Script::default();
    use Priority::*;
    let a = Origin::Analysis;
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "20260101-100000-evil".into(),
                task: format!("Build it {EVIL}").into(),
                settings: settings(),
            },
            Event::PhaseChanged {
                phase: Phase::Running,
            },
            added(
                1,
                &format!("Report {EVIL}"),
                "code_developer",
                High,
                &[],
                a.clone(),
                false,
            ),
            added(
                2,
                &format!("Waits {EVIL}"),
                "test_engineer",
                Normal,
                &[1],
                a.clone(),
                true,
            ),
            added(
                3,
                &format!("Fails {EVIL}"),
                "code_developer",
                Normal,
                &[],
                a,
                false,
            ),
            started(1, 1, "code_developer"),
            Event::WorkerToolUsed {
                id: SubtaskId(1),
                attempt: 1,
                tool: "write_file".into(),
                summary: format!("write_file {EVIL}"),
                is_error: false,
                input: serde_json::json!({"path": EVIL}),
                output: EVIL.into(),
            },
        ],
    );
    delta(&mut ui, Some(1), &format!("streaming {EVIL}\nnext line"));
    tool_delta(
        &mut ui,
        1,
        "run_command",
        &format!("{{\"command\": \"{EVIL}\"}}"),
    );
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::SubtaskReported {
                id: SubtaskId(1),
                attempt: 1,
                output: format!("## Result {EVIL}\n\n{EVIL}"),
                report: Report {
                    status: ReportStatus::Complete,
                    results: format!("results {EVIL}"),
                    discoveries: vec![format!("discovery {EVIL}")],
                    recommendations: vec![format!("recommend {EVIL}")],
                    new_subtasks: vec![],
                },
            },
            Event::ReplanLogged {
                cycle: 1,
                covered: vec![SubtaskId(1)],
                summary: format!("replan {EVIL}"),
                added: vec![],
                updated: vec![],
                cancelled: vec![],
                scope_note: format!("scope {EVIL}"),
                estimate_before: 3,
                estimate_now: 3,
            },
            Event::Notice {
                message: format!("notice {EVIL}"),
            },
            started(3, 2, "code_developer"),
            Event::SubtaskFailed {
                id: SubtaskId(3),
                attempt: 1,
                error: format!("error {EVIL}"),
            },
            Event::SubtaskEscalated {
                id: SubtaskId(3),
                reason: format!("escalated {EVIL}"),
                by: Actor::Policy,
            },
        ],
    );
    (ui, s)
}

#[test]
fn escalation_dialog_and_main_screen_show_no_control_characters() {
    let (mut ui, _) = hostile_run();
    later(&mut ui, 5);
    assert!(ui.modal.is_some(), "the escalation opens by itself");
    let shown = check(&mut ui, "escalation dialog");
    assert!(
        shown.contains("\\x1b"),
        "controls are made visible:\n{shown}"
    );
    key(&mut ui, KeyCode::Esc);
    assert!(ui.modal.is_none());
    let shown = check(&mut ui, "main screen");
    assert!(
        shown.contains("\\x1b"),
        "controls are made visible:\n{shown}"
    );
    ch(&mut ui, 'q');
    check(&mut ui, "quit dialog");
}

#[test]
fn detail_edit_form_and_panes_show_no_control_characters() {
    let (mut ui, _) = hostile_run();
    later(&mut ui, 5);
    key(&mut ui, KeyCode::Esc);
    select_shown(&mut ui, 1);
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.screen, Screen::Detail(SubtaskId(1)));
    let shown = check(&mut ui, "detail view");
    assert!(
        shown.contains("\\u{202e}"),
        "bidi override made visible:\n{shown}"
    );
    key(&mut ui, KeyCode::Esc);
    select_shown(&mut ui, 2);
    ch(&mut ui, 'E');
    check(&mut ui, "edit form");
    key(&mut ui, KeyCode::Esc);
    select_shown(&mut ui, 1);
    ch(&mut ui, 'z');
    check(&mut ui, "zoomed pane");
    ch(&mut ui, 'z');
    key(&mut ui, KeyCode::Tab);
    key(&mut ui, KeyCode::Tab);
    key(&mut ui, KeyCode::Enter);
    check(&mut ui, "replan log expanded");
}

/// The hostile run with a command waiting for approval, rendered at both sizes.
fn approval(command: &str, cwd: &str) -> (String, String) {
    let (mut ui, mut s) = hostile_run();
    later(&mut ui, 5);
    key(&mut ui, KeyCode::Esc);
    feed(
        &mut ui,
        &mut s,
        vec![Event::CommandApprovalRequested {
            request: 1,
            id: SubtaskId(1),
            command: command.into(),
            cwd: cwd.into(),
        }],
    );
    later(&mut ui, 5);
    assert!(ui.modal.is_some(), "the approval dialog opens");
    (render(&mut ui, 80, 24), render(&mut ui, 160, 48))
}

#[test]
fn command_approval_shows_the_exact_command_and_marks_it_suspicious() {
    let (small, big) = approval(EVIL_COMMAND, &format!("/home/me/{EVIL}"));
    assert_clean(&small, "approval 80x24");
    assert_clean(&big, "approval 160x48");
    for shown in [&small, &big] {
        assert!(shown.contains("SUSPICIOUS"), "{shown}");
        assert!(shown.contains("touch X;"), "{shown}");
        assert!(shown.contains("\\x1b[2K\\r\\x1b[1Agit status"), "{shown}");
    }
    insta::assert_snapshot!("suspicious_command_80x24", small);
    insta::assert_snapshot!("suspicious_command_160x48", big);
}

#[test]
fn a_plain_command_is_not_marked_suspicious() {
    let (small, big) = approval("cargo test\t--all", "/home/me/x");
    for shown in [&small, &big] {
        assert!(
            shown.contains("cargo test    --all"),
            "tab as spaces: {shown}"
        );
        assert!(!shown.contains("SUSPICIOUS"), "{shown}");
    }
}

#[test]
fn deliverable_view_shows_no_control_characters() {
    let (mut ui, mut s) = hostile_run();
    later(&mut ui, 5);
    key(&mut ui, KeyCode::Esc);
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::SynthesisCompleted {
                synthesis: Synthesis {
                    deliverable: format!(
                        "# Title {EVIL}\n\nText {EVIL}\n\n| a | b |\n|---|---|\n| {EVIL} | x |\n\n```\n{EVIL}\n```\n\n- item {EVIL}\n"
                    ),
                    integration_points: vec![format!("point {EVIL}")],
                    conflicts: vec![format!("conflict {EVIL}")],
                    coherence: format!("coherent {EVIL}"),
                },
                summary: ExecutionSummary {
                    pivots: vec![format!("pivot {EVIL}")],
                    ..Default::default()
                },
            },
            Event::PhaseChanged { phase: Phase::Done },
            Event::RunFinished {
                outcome: RunOutcome::Completed,
            },
        ],
    );
    assert_eq!(ui.screen, Screen::Synthesis);
    let shown = check(&mut ui, "deliverable view");
    assert!(
        shown.contains("\\x1b"),
        "controls are made visible:\n{shown}"
    );
}

#[test]
fn diff_view_of_a_file_full_of_escapes_shows_no_control_characters() {
    let dirs = tempfile::tempdir().unwrap();
    let ws = dirs.path().join("ws");
    let run = dirs.path().join("run");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&run).unwrap();
    let content = format!("first {EVIL}\nsecond\t{EVIL}\n");
    let name = "notes\x1b[2K.txt";
    std::fs::write(ws.join(name), &content).unwrap();
    let mut ui = new_ui();
    ui.info.run_dir = Some(run.clone());
    let mut s = Script::default();
    let mut settings = settings();
    settings.workspace = Some(ws.display().to_string());
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "20260101-100000-diff".into(),
                task: "Write notes".into(),
                settings,
            },
            added(
                1,
                &format!("Notes {EVIL}"),
                "documentation_writer",
                Priority::Normal,
                &[],
                Origin::Analysis,
                false,
            ),
            Event::PhaseChanged {
                phase: Phase::Running,
            },
            started(1, 1, "documentation_writer"),
            Event::FileChanged {
                id: SubtaskId(1),
                path: name.into(),
                before: None,
                after: Some(baton::tools::changes::sha256_hex(content.as_bytes())),
                backup: None,
            },
        ],
    );
    select_shown(&mut ui, 1);
    ch(&mut ui, 'D');
    assert_eq!(ui.screen, Screen::Diff(SubtaskId(1)));
    let shown = check(&mut ui, "diff view");
    assert!(shown.contains("+first ok\\x1b[2K\\r"), "{shown}");
}
