//! The FAILED screen after the engine's task ended abnormally (a panic): subtasks that were
//! running are shown as interrupted (said in words), never with the running marker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::tui::app::Msg;
use baton::tui::update;
use crossterm::event::KeyCode;
use tui_support::both;
use tui_support::*;

#[test]
fn rows_that_were_running_when_the_engine_panicked_show_as_interrupted() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    key(&mut ui, KeyCode::Esc);
    let running: Vec<String> = ui.state.running().map(|s| s.id.to_string()).collect();
    assert!(!running.is_empty(), "the scene has running subtasks");
    update(&mut ui, Msg::EngineClosed);
    update(
        &mut ui,
        Msg::EngineFailed("the engine panicked: index out of bounds".into()),
    );
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = render(&mut ui, w, h);
        assert!(screen.contains("FAILED"), "{screen}");
        assert!(
            !screen.contains('▶'),
            "a running marker on a failed run:\n{screen}"
        );
        for id in &running {
            let row = screen
                .lines()
                .find(|l| {
                    l.trim_start_matches(['"', '│']).split_whitespace().nth(1) == Some(id.as_str())
                })
                .unwrap_or_else(|| panic!("no row for {id}:\n{screen}"));
            assert!(row.contains("interrupted"), "{row}");
        }
    }
    both!("interrupted_rows", &mut ui);
}
