//! The TUI's side of notifications and project instructions: a live end of the run asks the
//! runtime to notify (a replayed one does not), the notice text names what waits (and the
//! bytes written for it carry no control characters from model text), and the detail view
//! lists the project instruction files by name and size (snapshots at 80x24 and 160x48).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::instructions::InstructionSummary;
use baton::notify::{Notifier, NotifyMode, Occasion, TerminalKind};
use baton::protocol::*;
use baton::tui::Effect;
use baton::tui::app::{Screen, notice_text};
use crossterm::event::KeyCode;
use tui_support::*;

fn finished() -> Event {
    Event::RunFinished {
        outcome: RunOutcome::Completed,
    }
}

#[test]
fn a_live_end_asks_for_a_notification_and_a_replayed_one_does_not() {
    let mut ui = new_ui();
    let mut s = mid_run(&mut ui);
    let fx = feed(&mut ui, &mut s, vec![finished()]);
    assert_eq!(fx.iter().filter(|e| **e == Effect::Finished).count(), 1);

    // A resumed run replays its journal first: its old end is not news.
    let mut ui = new_ui();
    ui.live_from = 1_000;
    let mut s = mid_run(&mut ui);
    let fx = feed(&mut ui, &mut s, vec![finished()]);
    assert!(!fx.contains(&Effect::Finished), "{fx:?}");
}

#[test]
fn the_notice_names_what_waits_and_its_bytes_are_clean() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    let text = notice_text(&ui, Occasion::NeedsPerson);
    assert_eq!(
        text,
        "run 20260101-100000-url: 3 things need you \
         (#5 Hash function for short codes was escalated, ...)"
    );
    let mut n = Notifier::new(NotifyMode::Osc, None, TerminalKind::default());
    n.set_focused(false);
    let bytes = n.terminal_bytes(Occasion::NeedsPerson, &format!("{text}\x1b]0;owned\x07"));
    // Bell, then one OSC 9 sequence: exactly two BELs and one ESC in all.
    assert_eq!(bytes.iter().filter(|b| **b == 0x07).count(), 2);
    assert_eq!(bytes.iter().filter(|b| **b == 0x1b).count(), 1);
    assert!(bytes.starts_with(b"\x07\x1b]9;Baton: "));
}

#[test]
fn detail_view_lists_project_instruction_files() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    key(&mut ui, KeyCode::Esc);
    ui.instructions = vec![
        InstructionSummary {
            path: "AGENTS.md".into(),
            size: 2_345,
            truncated: false,
        },
        InstructionSummary {
            path: "web/CLAUDE\x1b[2J.md".into(),
            size: 40_000,
            truncated: true,
        },
    ];
    ch(&mut ui, 'o');
    while ui.selected_subtask() != Some(SubtaskId(2)) {
        key(&mut ui, KeyCode::Down);
    }
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.screen, Screen::Detail(SubtaskId(2)));
    ui.detail_scroll = 200;
    let small = render(&mut ui, 80, 24);
    assert!(small.contains("Project instructions"), "{small}");
    assert!(small.contains("AGENTS.md  2.3 KiB"), "{small}");
    assert!(small.contains("web/CLAUDE?[2J.md"), "{small}");
    insta::assert_snapshot!("detail_instructions_80x24", small);
    insta::assert_snapshot!("detail_instructions_160x48", render(&mut ui, 160, 48));
}
