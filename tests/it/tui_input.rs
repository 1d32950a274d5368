//! Text input and the finding/reading keys: paste round-trips exactly, undo/redo, soft wrap,
//! the deny-reason box's Ctrl-S, `/` search, `:`/`#` jump, context help, the message log,
//! copy/open, Ctrl-L, remapped keys, and snapshots of each new view at 80x24 and 160x48.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use std::collections::BTreeMap;

use baton::protocol::*;
use baton::tui::Effect;
use baton::tui::app::{Focus, Msg, Screen, Sel};
use baton::tui::clip::Opener;
use baton::tui::keymap::Keymap;
use baton::tui::update;
use crossterm::event::KeyCode;
use tui_support::both;
use tui_support::*;

fn main_ui() -> baton::tui::Ui {
    let mut ui = new_ui();
    mid_run(&mut ui);
    key(&mut ui, KeyCode::Esc); // set the escalation aside
    ui
}

fn paste(ui: &mut baton::tui::Ui, text: &str) {
    update(ui, Msg::Paste(text.into()));
}

const PASTED: &str = "First line\r\nsecond\tcolumn\rthird line";
const EXACT: &str = "First line\nsecond\tcolumn\nthird line";

#[test]
fn a_paste_into_the_task_editor_starts_the_run_with_the_exact_text() {
    let mut ui = new_ui().with_editor();
    paste(&mut ui, PASTED);
    assert_eq!(
        ui.editor.lines(),
        ["First line", "second\tcolumn", "third line"]
    );
    let fx = ctrl(&mut ui, 's');
    assert_eq!(fx, vec![Effect::StartRun(EXACT.into())]);
}

#[test]
fn a_paste_into_the_guidance_box_reaches_the_command_exactly() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    assert!(ui.modal.is_some(), "the escalation is open");
    paste(&mut ui, PASTED);
    let fx = sent(ctrl(&mut ui, 's'));
    assert_eq!(
        fx,
        vec![Command::Resolve {
            id: SubtaskId(5),
            resolution: Resolution::Retry {
                guidance: EXACT.into()
            }
        }]
    );
}

#[test]
fn ctrl_z_undoes_and_ctrl_y_redoes_in_text_boxes() {
    let mut ui = new_ui().with_editor();
    typed(&mut ui, "ab");
    ctrl(&mut ui, 'z');
    assert_eq!(ui.editor.lines(), ["a"]);
    ctrl(&mut ui, 'y');
    assert_eq!(ui.editor.lines(), ["ab"], "Ctrl-Y redoes, it does not yank");
    ctrl(&mut ui, 'z');
    ctrl(&mut ui, 'z');
    assert_eq!(ui.editor.lines(), [""]);
}

#[test]
fn the_deny_reason_box_submits_with_ctrl_s() {
    let mut ui = main_ui();
    request_command(&mut ui, "rm -rf target");
    assert!(ui.modal.is_some());
    ch(&mut ui, 'd');
    paste(&mut ui, "not\r\nnow");
    let fx = sent(ctrl(&mut ui, 's'));
    assert_eq!(
        fx,
        vec![Command::DecideCommand {
            request: 1,
            decision: CommandDecision::Deny {
                reason: "not now".into()
            }
        }]
    );
}

#[test]
fn long_text_soft_wraps_in_the_editor() {
    let mut ui = new_ui().with_editor();
    paste(
        &mut ui,
        "Build a URL shortener with an HTTP API, SQLite storage, rate limiting per client, \
         expiring links, an admin page listing the most used links, and tests for every \
         endpoint including the error cases.\nSecond paragraph stays on its own line.",
    );
    let screen = render(&mut ui, 80, 24);
    assert!(
        screen.contains("endpoint including the error cases."),
        "{screen}"
    );
    assert!(screen.contains("Build a URL shortener"), "{screen}");
    both!("editor_wrapped", &mut ui);
}

#[test]
fn search_finds_by_title_and_description_and_selects() {
    let mut ui = main_ui();
    ch(&mut ui, '/');
    typed(&mut ui, "rate");
    both!("search", &mut ui);
    // Keys typed into the prompt are text, not commands.
    assert!(ui.prompt.is_some());
    key(&mut ui, KeyCode::Enter);
    assert!(ui.prompt.is_none());
    assert_eq!(ui.selected, Some(Sel::Subtask(SubtaskId(8))));
    // Descriptions count too: every spec's description says "with tests".
    ch(&mut ui, '/');
    typed(&mut ui, "expired");
    key(&mut ui, KeyCode::Enter);
    assert!(
        ui.flash
            .as_deref()
            .unwrap_or("")
            .contains("no subtask matches")
    );
    ch(&mut ui, '/');
    typed(&mut ui, "api");
    key(&mut ui, KeyCode::Down);
    key(&mut ui, KeyCode::Enter);
    assert_eq!(
        ui.selected,
        Some(Sel::Subtask(SubtaskId(6))),
        "second match"
    );
}

#[test]
fn jump_by_number_shows_hidden_subtasks_too() {
    let mut ui = main_ui();
    ch(&mut ui, ':');
    typed(&mut ui, "10");
    both!("jump", &mut ui);
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.selected, Some(Sel::Subtask(SubtaskId(10))));
    // #4 was cancelled: the finished group opens to show it.
    assert!(!ui.show_finished);
    ch(&mut ui, '#');
    typed(&mut ui, "4");
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.selected, Some(Sel::Subtask(SubtaskId(4))));
    assert!(ui.show_finished);
    ch(&mut ui, '#');
    typed(&mut ui, "99");
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.flash.as_deref(), Some("no subtask #99"));
    assert_eq!(ui.selected, Some(Sel::Subtask(SubtaskId(4))));
}

#[test]
fn help_opens_at_the_keys_of_where_you_are_and_scrolls() {
    let mut ui = main_ui();
    key(&mut ui, KeyCode::Tab);
    assert_eq!(ui.focus, Focus::Panes);
    ch(&mut ui, '?');
    let first: String = baton::tui::help::lines(&ui)[0].to_string();
    assert_eq!(first, "Keys here: Worker panes (Tab to focus)");
    both!("help_panes", &mut ui);
    // No line of help is repeated.
    let all: Vec<String> = baton::tui::help::lines(&ui)
        .iter()
        .map(|l| l.to_string())
        .filter(|l| l.starts_with("  "))
        .collect();
    for (i, l) in all.iter().enumerate() {
        assert!(!all[..i].contains(l), "repeated: {l}");
    }
    render(&mut ui, 80, 24);
    key(&mut ui, KeyCode::PageDown);
    assert!(ui.help_scroll > 0);
    ch(&mut ui, 'G');
    let bottom = ui.help_scroll;
    key(&mut ui, KeyCode::PageUp);
    assert!(
        ui.help_scroll < bottom,
        "PgUp from the bottom moves at once"
    );
    ch(&mut ui, 'g');
    assert_eq!(ui.help_scroll, 0);
    key(&mut ui, KeyCode::Esc);
    assert!(!ui.help);
}

#[test]
fn the_message_log_keeps_past_notices() {
    let mut ui = main_ui();
    let mut s = Script {
        seq: 600,
        at: ui.now,
    };
    for m in ["retrying the orchestrator in 2s (429)", "budget 80% used"] {
        feed(&mut ui, &mut s, vec![Event::Notice { message: m.into() }]);
        later(&mut ui, 30);
    }
    assert!(ui.flash.is_none(), "the footer gave the keys back");
    ch(&mut ui, 'm');
    assert!(ui.log);
    let screen = render(&mut ui, 80, 24);
    assert!(
        screen.contains("retrying the orchestrator in 2s (429)"),
        "{screen}"
    );
    assert!(screen.contains("budget 80% used"), "{screen}");
    both!("message_log", &mut ui);
    let fx = ch(&mut ui, 'y');
    assert!(matches!(&fx[..], [Effect::Copy(t)] if t.contains("budget 80% used")));
    key(&mut ui, KeyCode::Esc);
    assert!(!ui.log);
}

#[test]
fn copy_and_open_the_text_in_view_and_repaint() {
    let mut ui = main_ui();
    // The selected subtask's report (#1 is done: show finished, pick it).
    ch(&mut ui, '#');
    typed(&mut ui, "1");
    key(&mut ui, KeyCode::Enter);
    let fx = ch(&mut ui, 'y');
    match &fx[..] {
        [Effect::Copy(t)] => assert!(t.starts_with("## Result of #1"), "{t}"),
        other => panic!("{other:?}"),
    }
    assert!(ui.flash.as_deref().unwrap_or("").contains("OSC 52"));
    let fx = ch(&mut ui, 'v');
    assert!(matches!(&fx[..], [Effect::Open(Opener::Pager, t)] if t.starts_with("## Result")));
    let fx = ch(&mut ui, 'V');
    assert!(matches!(&fx[..], [Effect::Open(Opener::Editor, _)]));
    assert_eq!(ctrl(&mut ui, 'l'), vec![Effect::Repaint]);
    // A worker pane's output when the panes have the focus.
    key(&mut ui, KeyCode::Tab);
    let fx = ch(&mut ui, 'y');
    assert!(matches!(&fx[..], [Effect::Copy(_)]), "{fx:?}");
}

#[test]
fn remapped_keys_act_and_show_in_footer_and_help() {
    let mut ui = main_ui();
    let overrides: BTreeMap<String, Vec<String>> = [
        ("approve".to_string(), vec!["Y".to_string()]),
        ("copy".to_string(), vec!["C-y".to_string()]),
    ]
    .into_iter()
    .collect();
    ui.keymap = Keymap::with_overrides(&overrides).unwrap();
    ch(&mut ui, '/');
    typed(&mut ui, "rate limiting");
    key(&mut ui, KeyCode::Enter);
    assert!(sent(ch(&mut ui, 'a')).is_empty(), "a is no longer approve");
    assert_eq!(
        sent(ch(&mut ui, 'Y')),
        vec![Command::Approve { id: SubtaskId(8) }]
    );
    let footer = baton::tui::footer::offered(&ui);
    assert!(footer.contains(&("Y".to_string(), "approve")), "{footer:?}");
    ch(&mut ui, '?');
    let help: Vec<String> = baton::tui::help::lines(&ui)
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert!(
        help.iter()
            .any(|l| l.contains("Y ") && l.contains("approve the selected"))
    );
}

#[test]
fn scroll_indicators_say_what_is_out_of_view() {
    let mut ui = main_ui();
    ch(&mut ui, 'o'); // finished subtasks too: more rows than fit at 80x24
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("more below"), "{screen}");
    both!("scroll_indicators", &mut ui);
}

#[test]
fn ascii_mode_draws_no_glyph_outside_ascii() {
    let mut ui = main_ui();
    ui.theme.ascii = true;
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = render(&mut ui, w, h);
        assert!(screen.is_ascii(), "non-ASCII left in:\n{screen}");
    }
    both!("ascii", &mut ui);
    ch(&mut ui, '?');
    let screen = render(&mut ui, 80, 24);
    assert!(screen.is_ascii(), "{screen}");
}

#[test]
fn the_light_theme_uses_dark_colours_and_no_color_none() {
    use ratatui::style::Color;
    let mut ui = main_ui();
    ui.theme.light = true;
    both!("light", &mut ui);
    let t = ui.theme;
    assert_ne!(
        t.key().fg,
        Some(Color::Yellow),
        "yellow is unreadable on white"
    );
    assert_ne!(t.title().fg, Some(Color::Cyan));
    ui.theme.color = false;
    assert_eq!(ui.theme.key().fg, None);
    assert_eq!(ui.theme.warn().fg, None);
}

#[test]
fn a_key_from_the_help_or_log_reaches_the_main_screen_only_after_closing() {
    let mut ui = main_ui();
    ch(&mut ui, '/');
    typed(&mut ui, "a");
    // `a` went into the prompt: nothing approved.
    assert_eq!(ui.prompt.as_ref().map(|p| p.text.as_str()), Some("a"));
    key(&mut ui, KeyCode::Esc);
    assert!(ui.prompt.is_none());
    assert_eq!(ui.screen, Screen::Main);
}

#[test]
fn resume_restores_the_view_and_the_panes_last_lines() {
    use baton::tui::view_state::{ViewState, capture, load, save};
    // How many events the run has (the "journal").
    let mut probe = new_ui();
    let last = mid_run(&mut probe).seq;
    let mut ui = new_ui();
    ui.replayed_up_to = last;
    let dir = tempfile::tempdir().unwrap();
    save(
        dir.path(),
        &ViewState {
            selected: Some(8),
            show_finished: true,
            replan_expanded: vec![2, 99],
            filter: "all".into(),
            focus: "tasks".into(),
        },
    );
    ui.restore = load(dir.path());
    assert!(ui.restore.is_some());
    mid_run(&mut ui);
    assert!(ui.restore.is_none(), "applied once the replay arrived");
    assert_eq!(ui.selected, Some(Sel::Subtask(SubtaskId(8))));
    assert!(ui.show_finished);
    assert_eq!(
        ui.replan_expanded.iter().copied().collect::<Vec<_>>(),
        vec![2]
    );
    // #1 reported during the replay: its pane shows the report's last lines.
    let pane = ui.outputs.pane(Some(SubtaskId(1))).unwrap();
    let text: Vec<&str> = pane.lines().map(|l| l.text.as_str()).collect();
    assert!(text.contains(&"- another point"), "{text:?}");
    // What is kept on quit is what was on screen.
    let kept = capture(&ui);
    assert_eq!(kept.selected, Some(8));
    assert_eq!(kept.replan_expanded, vec![2]);
    // A damaged file is ignored.
    std::fs::write(dir.path().join("view.json"), "{not json").unwrap();
    assert!(load(dir.path()).is_none());
}
