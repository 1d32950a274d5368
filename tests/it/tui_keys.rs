//! Key handling: keys → the exact commands (effects) emitted, with no runtime and no
//! terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::protocol::*;
use baton::tui::Effect;
use baton::tui::app::{Msg, Screen};
use baton::tui::update;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_support::*;

fn main_ui() -> (baton::tui::Ui, Script) {
    let mut ui = new_ui();
    let s = mid_run(&mut ui);
    later(&mut ui, 1); // past the new dialog's grace
    key(&mut ui, KeyCode::Esc); // set the escalation aside
    later(&mut ui, 1); // still within the typing grace: nothing pops up
    (ui, s)
}

fn select(ui: &mut baton::tui::Ui, id: u32) {
    key(ui, KeyCode::Home);
    for _ in 0..40 {
        if ui.selected_subtask() == Some(SubtaskId(id)) {
            return;
        }
        key(ui, KeyCode::Down);
    }
    panic!("#{id} not in the list");
}

#[test]
fn approve_defer_undefer_and_approve_all() {
    let (mut ui, _) = main_ui();
    select(&mut ui, 8);
    assert_eq!(
        sent(ch(&mut ui, 'a')),
        vec![Command::Approve { id: SubtaskId(8) }]
    );
    assert_eq!(
        sent(ch(&mut ui, 'd')),
        vec![Command::Defer { id: SubtaskId(8) }]
    );
    assert!(sent(ch(&mut ui, 'A')).is_empty(), "approve all asks first");
    assert_eq!(sent(ch(&mut ui, 'y')), vec![Command::ApproveAll]);
    // `u` only applies to deferred subtasks.
    assert!(sent(ch(&mut ui, 'u')).is_empty());
    ch(&mut ui, 'o');
    select(&mut ui, 11);
    assert_eq!(
        sent(ch(&mut ui, 'u')),
        vec![Command::Undefer { id: SubtaskId(11) }]
    );
    // `a` does nothing on a running subtask.
    select(&mut ui, 6);
    assert!(sent(ch(&mut ui, 'a')).is_empty());
}

#[test]
fn escalate_cancel_pause_and_workers() {
    let (mut ui, _) = main_ui();
    select(&mut ui, 6);
    assert_eq!(
        sent(ch(&mut ui, 'e')),
        vec![Command::Escalate {
            id: SubtaskId(6),
            reason: "a person asked to take it over".into()
        }]
    );
    ch(&mut ui, 'c');
    assert!(ui.modal.is_some(), "cancel asks first");
    assert_eq!(
        sent(ch(&mut ui, 'y')),
        vec![Command::Cancel { id: SubtaskId(6) }]
    );
    assert!(ui.modal.is_none());
    assert_eq!(sent(ch(&mut ui, 'p')), vec![Command::Pause]);
    // `+`/`-` carry intent: a relative change, sent once the presses stop.
    assert!(sent(ch(&mut ui, '+')).is_empty());
    later(&mut ui, 1);
    assert!(sent(ch(&mut ui, '-')).is_empty());
    assert!(sent(ch(&mut ui, '-')).is_empty());
    assert_eq!(
        sent({
            let now = ui.now + chrono::Duration::seconds(1);
            update(&mut ui, Msg::Tick(now))
        }),
        vec![Command::AdjustWorkers { delta: -2 }]
    );
}

#[test]
fn escalation_modal_retry_with_guidance() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    assert!(ui.modal.is_some());
    later(&mut ui, 1);
    ch(&mut ui, 'g');
    typed(&mut ui, "use base62");
    // While typing, `r` is a letter, not "retry".
    assert!(sent(ch(&mut ui, 'r')).is_empty());
    let fx = sent(ctrl(&mut ui, 's'));
    assert_eq!(
        fx,
        vec![Command::Resolve {
            id: SubtaskId(5),
            resolution: Resolution::Retry {
                guidance: "use base62r".into()
            }
        }]
    );
    assert!(ui.modal.is_none());
}

#[test]
fn escalation_modal_reassign_mark_done_and_cancel() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    later(&mut ui, 1);
    ch(&mut ui, 'a');
    key(&mut ui, KeyCode::Down);
    let fx = sent(key(&mut ui, KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Command::Resolve {
            id: SubtaskId(5),
            resolution: Resolution::Reassign {
                role: "system_architect".into(),
                guidance: String::new()
            }
        }]
    );

    let mut ui = new_ui();
    mid_run(&mut ui);
    later(&mut ui, 1);
    ch(&mut ui, 'm');
    update(
        &mut ui,
        Msg::Paste("fn code(n: u64) -> String { base62(n) }".into()),
    );
    let fx = sent(update(
        &mut ui,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)),
    ));
    assert_eq!(
        fx,
        vec![Command::Resolve {
            id: SubtaskId(5),
            resolution: Resolution::MarkDone {
                result: "fn code(n: u64) -> String { base62(n) }".into()
            }
        }]
    );

    let mut ui = new_ui();
    mid_run(&mut ui);
    later(&mut ui, 1);
    assert!(sent(ch(&mut ui, 'c')).is_empty(), "cancel asks first");
    assert_eq!(
        sent(ch(&mut ui, 'y')),
        vec![Command::Resolve {
            id: SubtaskId(5),
            resolution: Resolution::Cancel
        }]
    );
}

#[test]
fn dismissed_escalation_comes_back_with_n_and_r() {
    let (mut ui, _) = main_ui();
    later(&mut ui, 10);
    assert!(ui.modal.is_none(), "a dismissed need does not pop up again");
    ch(&mut ui, 'n');
    assert!(ui.modal.is_some(), "n opens the most urgent need");
    key(&mut ui, KeyCode::Esc);
    select(&mut ui, 5);
    ch(&mut ui, 'r');
    assert!(
        ui.modal.is_some(),
        "r on an escalated subtask opens its modal"
    );
}

#[test]
fn no_modal_pops_up_while_typing() {
    let (mut ui, mut s) = main_ui();
    ch(&mut ui, 'j'); // the person is using the list right now
    feed(
        &mut ui,
        &mut s,
        vec![Event::ScopeAlertRaised {
            alert: 1,
            limit: LimitKind::Cost,
            current: 2.1,
            max: 2.0,
            pending: vec![SubtaskId(10)],
        }],
    );
    assert!(ui.modal.is_none(), "not while keys are being pressed");
    later(&mut ui, 2);
    assert!(ui.modal.is_some(), "once the person pauses");
    later(&mut ui, 1);
    ch(&mut ui, 'r');
    // The suggested new limit is prefilled; replace it.
    for _ in 0..6 {
        key(&mut ui, KeyCode::Backspace);
    }
    typed(&mut ui, "3.5");
    let fx = sent(key(&mut ui, KeyCode::Enter));
    assert_eq!(
        fx,
        vec![Command::ResolveScopeAlert {
            alert: 1,
            decision: ScopeDecision::RaiseLimit { to: 3.5 }
        }]
    );
}

#[test]
fn scope_alert_defer_and_stop() {
    for (k, decision) in [
        ('d', ScopeDecision::DeferLowPriority),
        ('s', ScopeDecision::StopAndSynthesize),
    ] {
        let (mut ui, mut s) = main_ui();
        later(&mut ui, 5);
        feed(
            &mut ui,
            &mut s,
            vec![Event::ScopeAlertRaised {
                alert: 2,
                limit: LimitKind::Subtasks,
                current: 12.0,
                max: 12.0,
                pending: vec![],
            }],
        );
        later(&mut ui, 1);
        assert_eq!(
            sent(ch(&mut ui, k)),
            vec![Command::ResolveScopeAlert { alert: 2, decision }]
        );
    }
}

#[test]
fn command_approval_choices() {
    let cases = [
        (vec!['o'], CommandDecision::AllowOnce),
        (vec!['a'], CommandDecision::AllowAlways),
    ];
    for (keys, decision) in cases {
        let (mut ui, mut s) = main_ui();
        later(&mut ui, 5);
        feed(
            &mut ui,
            &mut s,
            vec![Event::CommandApprovalRequested {
                request: 4,
                id: SubtaskId(7),
                command: "cargo test".into(),
                cwd: "/w".into(),
            }],
        );
        later(&mut ui, 1);
        let mut fx = Vec::new();
        for k in keys {
            fx = sent(ch(&mut ui, k));
        }
        assert_eq!(
            fx,
            vec![Command::DecideCommand {
                request: 4,
                decision
            }]
        );
    }
    let (mut ui, mut s) = main_ui();
    later(&mut ui, 5);
    feed(
        &mut ui,
        &mut s,
        vec![Event::CommandApprovalRequested {
            request: 5,
            id: SubtaskId(7),
            command: "rm -rf /".into(),
            cwd: "/w".into(),
        }],
    );
    later(&mut ui, 1);
    ch(&mut ui, 'd');
    typed(&mut ui, "never");
    assert_eq!(
        sent(key(&mut ui, KeyCode::Enter)),
        vec![Command::DecideCommand {
            request: 5,
            decision: CommandDecision::Deny {
                reason: "never".into()
            }
        }]
    );
}

#[test]
fn mode_choice_keys() {
    let mut ui = new_ui();
    let mut s = Script::default();
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "r".into(),
                task: "t".into(),
                settings: settings(),
            },
            Event::ModeChoiceRequested {
                complexity: 0.2,
                threshold: 0.7,
            },
        ],
    );
    later(&mut ui, 1);
    assert_eq!(
        sent(ch(&mut ui, 's')),
        vec![Command::ChooseMode {
            mode: RunMode::SingleWorker
        }]
    );
}

#[test]
fn edit_then_approve_sends_only_changed_fields() {
    let (mut ui, _) = main_ui();
    select(&mut ui, 8);
    ch(&mut ui, 'E');
    // Title: append text. Then the priority picker: `h` picks high.
    typed(&mut ui, " per IP");
    key(&mut ui, KeyCode::Tab);
    key(&mut ui, KeyCode::Tab);
    ch(&mut ui, 'h');
    let fx = sent(ctrl(&mut ui, 's'));
    assert_eq!(
        fx,
        vec![Command::EditAndApprove {
            id: SubtaskId(8),
            patch: SubtaskPatch {
                title: Some("Add rate limiting per IP".into()),
                priority: Some(Priority::High),
                ..Default::default()
            }
        }]
    );
}

#[test]
fn edit_rejects_bad_dependencies_and_keeps_the_form() {
    let (mut ui, _) = main_ui();
    select(&mut ui, 8);
    ch(&mut ui, 'E');
    for _ in 0..3 {
        key(&mut ui, KeyCode::Tab);
    }
    typed(&mut ui, " #99");
    assert!(sent(ctrl(&mut ui, 's')).is_empty());
    assert!(ui.modal.is_some(), "the form stays open with the error");
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("there is no subtask #99"), "{screen}");
}

#[test]
fn add_a_subtask_by_hand() {
    let (mut ui, _) = main_ui();
    ch(&mut ui, 'N');
    typed(&mut ui, "Write a README");
    key(&mut ui, KeyCode::Tab);
    // The role picker: `d` picks the first role starting with d.
    ch(&mut ui, 'd');
    key(&mut ui, KeyCode::Tab);
    key(&mut ui, KeyCode::Tab);
    // The dependency picker: ↓ to #6, Space adds it.
    for _ in 0..4 {
        key(&mut ui, KeyCode::Down);
    }
    ch(&mut ui, ' ');
    key(&mut ui, KeyCode::Tab);
    update(
        &mut ui,
        Msg::Paste("Explain the API\nand how to run it.".into()),
    );
    let fx = sent(ctrl(&mut ui, 's'));
    assert_eq!(
        fx,
        vec![Command::Add {
            subtask: ProposedSubtask {
                title: "Write a README".into(),
                description: "Explain the API\nand how to run it.".into(),
                role: "documentation_writer".into(),
                depends_on: vec!["#6".into()],
                priority: Priority::Normal,
                expected_output: String::new(),
            }
        }]
    );
}

#[test]
fn quit_asks_during_a_run_and_ctrl_c_confirms() {
    let (mut ui, mut s) = main_ui();
    assert!(ch(&mut ui, 'q').is_empty());
    assert!(ui.modal.is_some());
    assert_eq!(ctrl(&mut ui, 'c'), vec![Effect::Quit]);
    // Ctrl-C inside a text box asks to quit too (never lost in the box).
    select(&mut ui, 8);
    ch(&mut ui, 'E');
    assert!(ctrl(&mut ui, 'c').is_empty());
    assert!(ui.modal.is_some(), "the quit question replaced the form");
    key(&mut ui, KeyCode::Esc);
    // Once the run is over, q leaves at once.
    feed(
        &mut ui,
        &mut s,
        vec![Event::RunFinished {
            outcome: RunOutcome::Completed,
        }],
    );
    assert_eq!(ch(&mut ui, 'q'), vec![Effect::Quit]);
}

#[test]
fn the_editor_starts_the_run() {
    let mut ui = new_ui().with_editor();
    assert!(
        sent(ctrl(&mut ui, 's')).is_empty(),
        "empty task: nothing starts"
    );
    typed(&mut ui, "Build it");
    key(&mut ui, KeyCode::Enter);
    typed(&mut ui, "well");
    assert_eq!(
        ctrl(&mut ui, 's'),
        vec![Effect::StartRun("Build it\nwell".into())]
    );
    assert_eq!(ui.screen, Screen::Main);
}

#[test]
fn bell_rings_once_per_new_need() {
    let mut ui = new_ui();
    ui.options.bell = true;
    let mut s = Script::default();
    let fx = feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "r".into(),
                task: "t".into(),
                settings: settings(),
            },
            added(
                1,
                "A",
                "code_developer",
                Priority::Normal,
                &[],
                Origin::Analysis,
                true,
            ),
        ],
    );
    assert_eq!(fx.iter().filter(|e| **e == Effect::Bell).count(), 1);
    let fx = feed(
        &mut ui,
        &mut s,
        vec![Event::Notice {
            message: "hello".into(),
        }],
    );
    assert!(
        !fx.contains(&Effect::Bell),
        "the same need does not ring again"
    );
    let fx = feed(
        &mut ui,
        &mut s,
        vec![added(
            2,
            "B",
            "code_developer",
            Priority::Normal,
            &[],
            Origin::Analysis,
            true,
        )],
    );
    assert_eq!(fx.iter().filter(|e| **e == Effect::Bell).count(), 1);
}

#[test]
fn export_and_synthesis_keys() {
    let (mut ui, mut s) = main_ui();
    feed(
        &mut ui,
        &mut s,
        vec![Event::SynthesisCompleted {
            synthesis: Synthesis {
                deliverable: "# Done".into(),
                integration_points: vec![],
                conflicts: vec![],
                coherence: String::new(),
            },
            summary: ExecutionSummary::default(),
        }],
    );
    assert_eq!(ui.screen, Screen::Synthesis);
    assert_eq!(ch(&mut ui, 'x'), vec![Effect::Export]);
    key(&mut ui, KeyCode::Esc);
    assert_eq!(ui.screen, Screen::Main);
    ch(&mut ui, 's');
    assert_eq!(ui.screen, Screen::Synthesis);
}

#[test]
fn mouse_wheel_scrolls_the_pane_under_it() {
    let (mut ui, _) = main_ui();
    for i in 0..100 {
        delta(&mut ui, Some(6), &format!("line {i}\n"));
    }
    render(&mut ui, 160, 48);
    let up = crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::ScrollUp,
        column: 120,
        row: 5,
        modifiers: KeyModifiers::NONE,
    };
    update(&mut ui, Msg::Mouse(up));
    assert_eq!(ui.outputs.workers[&SubtaskId(6)].scroll, Some(3));
    let click = crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
        column: 10,
        row: 4,
        modifiers: KeyModifiers::NONE,
    };
    update(&mut ui, Msg::Mouse(click));
    assert_eq!(
        ui.selected_subtask(),
        Some(SubtaskId(8)),
        "a click selects the row under it"
    );
    assert_eq!(
        ui.outputs.workers[&SubtaskId(7)].scroll,
        None,
        "the other pane still follows"
    );
}

#[test]
fn a_message_gives_the_footer_back_after_a_while() {
    let (mut ui, mut s) = main_ui();
    feed(
        &mut ui,
        &mut s,
        vec![Event::Notice {
            message: "#99 does not exist".into(),
        }],
    );
    assert_eq!(ui.flash.as_deref(), Some("#99 does not exist"));
    later(&mut ui, 3);
    assert!(ui.flash.is_some());
    later(&mut ui, 6);
    assert!(ui.flash.is_none(), "the keys come back in the footer");
}

#[test]
fn unusable_raised_limits_are_refused_in_the_dialog() {
    let (mut ui, mut s) = main_ui();
    feed(
        &mut ui,
        &mut s,
        vec![Event::ScopeAlertRaised {
            alert: 1,
            limit: LimitKind::WallClock,
            current: 60.0,
            max: 60.0,
            pending: vec![],
        }],
    );
    later(&mut ui, 2);
    assert!(ui.modal.is_some());
    later(&mut ui, 1);
    ch(&mut ui, 'r');
    for bad in ["inf", "1e19", "-1", "nan"] {
        for _ in 0..12 {
            key(&mut ui, KeyCode::Backspace);
        }
        typed(&mut ui, bad);
        let fx = sent(key(&mut ui, KeyCode::Enter));
        assert!(fx.is_empty(), "{bad} was sent: {fx:?}");
        assert!(ui.modal.is_some(), "{bad}: the dialog stays open");
    }
    for _ in 0..12 {
        key(&mut ui, KeyCode::Backspace);
    }
    typed(&mut ui, "120");
    assert_eq!(
        sent(key(&mut ui, KeyCode::Enter)),
        vec![Command::ResolveScopeAlert {
            alert: 1,
            decision: ScopeDecision::RaiseLimit { to: 120.0 }
        }]
    );
}
