//! The screen says what blocks progress and what the run did (issue 10): `WAITING FOR YOU`
//! while the complexity gate waits (not `RUNNING · analysing`), `⚑` on a subtask whose
//! command waits for approval, `p resume` offered while paused, elapsed time that leaves
//! out the time the run was stopped (the same number in the header and the export), and an
//! export of an interrupted run that reads as one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::export::{duration_text, render_markdown};
use baton::protocol::*;
use baton::state::State;
use baton::tui::app::Msg;
use baton::tui::update;
use chrono::Duration;
use tui_support::*;

fn at(seq: u64, secs: i64, event: Event) -> Envelope {
    Envelope {
        seq,
        ts: t0() + Duration::seconds(secs),
        v: JOURNAL_VERSION,
        event,
    }
}

#[test]
fn the_complexity_gate_reads_waiting_for_you_not_analysing() {
    let mut ui = new_ui();
    let mut s = Script::default();
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "r".into(),
                task: "Rename a variable".into(),
                settings: settings(),
            },
            Event::PhaseChanged {
                phase: Phase::Analysing,
            },
            Event::ModeChoiceRequested {
                complexity: 0.22,
                threshold: 0.7,
            },
        ],
    );
    assert!(ui.state.waiting_for_person());
    later(&mut ui, 1); // past the dialog's grace (which repaints)
    assert!(!ui.animating(), "no spinner: nothing works");
    let screen = render(&mut ui, 80, 24);
    let header = screen.lines().next().unwrap();
    assert!(header.contains("WAITING FOR YOU"), "{header}");
    assert!(!header.contains("analysing"), "{header}");
}

#[test]
fn a_subtask_whose_command_waits_shows_the_flag() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    later(&mut ui, 1);
    key(&mut ui, crossterm::event::KeyCode::Esc);
    request_command(&mut ui, "cargo test");
    later(&mut ui, 1);
    key(&mut ui, crossterm::event::KeyCode::Esc); // set the dialog aside
    let screen = render(&mut ui, 160, 48);
    let row = screen
        .lines()
        .find(|l| l.contains("#7 ") && l.contains("Write API tests"))
        .unwrap();
    assert!(row.contains("⚑ #7"), "{row}");
    assert!(row.contains("command?"), "{row}");
    both!("command_waits_flag", &mut ui);
}

#[test]
fn pause_is_not_offered_while_paused_resume_is() {
    let mut ui = new_ui();
    let mut s = mid_run(&mut ui);
    later(&mut ui, 1);
    key(&mut ui, crossterm::event::KeyCode::Esc);
    later(&mut ui, 10);
    let footer = render(&mut ui, 160, 48);
    assert!(footer.lines().last().unwrap().contains("p pause"));
    feed(
        &mut ui,
        &mut s,
        vec![Event::DispatchPaused { by: Actor::Person }],
    );
    let screen = render(&mut ui, 160, 48);
    let footer = screen.lines().last().unwrap();
    assert!(!footer.contains("p pause"), "{footer}");
    assert!(footer.contains("p resume"), "{footer}");
    assert_eq!(sent(ch(&mut ui, 'p')), vec![Command::Resume]);
}

/// Started, stopped after 60 s, resumed 9 minutes later, done 40 s after that.
fn stopped_and_resumed() -> Vec<Envelope> {
    vec![
        at(
            1,
            0,
            Event::RunStarted {
                run_id: "r".into(),
                task: "t".into(),
                settings: settings(),
            },
        ),
        at(
            2,
            60,
            Event::RunFinished {
                outcome: RunOutcome::Stopped {
                    reason: "stopped by a person".into(),
                },
            },
        ),
        at(
            3,
            600,
            Event::RunResumed {
                interrupted: vec![],
                torn_line_dropped: false,
            },
        ),
        at(
            4,
            640,
            Event::RunFinished {
                outcome: RunOutcome::Completed,
            },
        ),
    ]
}

#[test]
fn elapsed_time_leaves_out_the_time_the_run_was_stopped() {
    let events = stopped_and_resumed();
    let state = State::fold(&events);
    assert_eq!(state.elapsed_secs(), 100.0);
    let mut ui = new_ui();
    for e in events {
        update(&mut ui, Msg::Event(Box::new(e)));
    }
    let header = render(&mut ui, 80, 24);
    assert!(header.lines().next().unwrap().contains("1m40s"), "{header}");
    let export = render_markdown(&state);
    assert!(
        export.contains(&format!("- Time: {}", duration_text(100.0))),
        "{export}"
    );
    // A live resumed run counts from the resume, not from the first start.
    let live = State::fold(&stopped_and_resumed()[..3]);
    assert_eq!(
        live.elapsed_secs_at(t0() + Duration::seconds(610)),
        70.0,
        "60 s before the stop + 10 s since the resume"
    );
}

#[test]
fn a_killed_process_does_not_count_as_running_time() {
    // No `RunFinished`: the process died after its last event at 30 s.
    let events = vec![
        at(
            1,
            0,
            Event::RunStarted {
                run_id: "r".into(),
                task: "t".into(),
                settings: settings(),
            },
        ),
        at(
            2,
            30,
            Event::PhaseChanged {
                phase: Phase::Running,
            },
        ),
        at(
            3,
            3_600,
            Event::RunResumed {
                interrupted: vec![],
                torn_line_dropped: false,
            },
        ),
        at(
            4,
            3_605,
            Event::PhaseChanged {
                phase: Phase::Running,
            },
        ),
    ];
    assert_eq!(State::fold(&events).elapsed_secs(), 35.0);
}

#[test]
fn an_interrupted_run_exports_as_interrupted_in_the_screens_words() {
    let mut events = vec![at(
        1,
        0,
        Event::RunStarted {
            run_id: "r".into(),
            task: "t".into(),
            settings: settings(),
        },
    )];
    for (i, id) in [1u32, 2].into_iter().enumerate() {
        events.push(at(
            2 + i as u64,
            1,
            added(
                id,
                &format!("Part {id}"),
                "code_developer",
                Priority::Normal,
                &[],
                Origin::Analysis,
                false,
            ),
        ));
    }
    events.push(at(4, 2, started(1, 1, "code_developer")));
    events.push(at(
        5,
        3,
        Event::RunFinished {
            outcome: RunOutcome::Stopped {
                reason: "stopped by SIGTERM".into(),
            },
        },
    ));
    let md = render_markdown(&State::fold(&events));
    let row = |n: &str| md.lines().find(|l| l.contains(n)).unwrap().to_string();
    assert!(
        row("Part 1").contains("| interrupted |"),
        "{}",
        row("Part 1")
    );
    assert!(
        row("Part 2").contains("| not started |"),
        "{}",
        row("Part 2")
    );
    assert!(
        row("Part 1").contains("| code developer |"),
        "{}",
        row("Part 1")
    );
    assert!(md.contains("approve scope"), "{md}");
    assert!(!md.contains("approve Scope"), "{md}");
    assert!(
        !md.contains("| running |") && !md.contains("| ready |"),
        "{md}"
    );
}
