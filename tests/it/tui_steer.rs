//! The TUI side of steering one worker (issue 11, capability 4): `w` opens the steering
//! dialog for the selected running worker, which sends pause/resume, a note, brief/role/
//! model edits and a restart as commands the rule book accepts; the worker pane shows the
//! steering (paused badge, the note from you, an edited brief). Snapshots at 80x24 and
//! 160x48.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::protocol::*;
use crossterm::event::KeyCode;
use tui_support::*;

const ID: SubtaskId = SubtaskId(6);

fn steering_ui() -> (baton::tui::Ui, Script) {
    let mut ui = new_ui();
    ui.info.roles = vec!["code_developer".into(), "test_engineer".into()];
    let s = mid_run(&mut ui);
    ui.modal = None;
    (ui, s)
}

#[test]
fn w_opens_the_dialog_and_a_note_is_sent_as_the_persons() {
    let (mut ui, _) = steering_ui();
    select_shown(&mut ui, 6);
    assert!(ch(&mut ui, 'w').is_empty());
    assert!(ui.modal.is_some(), "the steering dialog opened");
    typed(&mut ui, "Use the store trait from #3; misses are 404.");
    let small = render(&mut ui, 80, 24);
    assert!(small.contains("Steer #6"), "{small}");
    insta::assert_snapshot!("steer_dialog_80x24", small);
    let big = render(&mut ui, 160, 48);
    insta::assert_snapshot!("steer_dialog_160x48", big);
    assert_eq!(
        sent(ctrl(&mut ui, 's')),
        [Command::Steer {
            id: ID,
            steer: Steer::Note {
                text: "Use the store trait from #3; misses are 404.".into()
            }
        }]
    );
    assert!(ui.modal.is_none());
}

#[test]
fn p_pauses_and_r_restarts_from_the_edited_brief_role_and_model() {
    let (mut ui, mut s) = steering_ui();
    select_shown(&mut ui, 6);
    ch(&mut ui, 'w');
    key(&mut ui, KeyCode::Esc); // out of the note box, to the choices
    assert_eq!(
        sent(ch(&mut ui, 'p')),
        [Command::Steer {
            id: ID,
            steer: Steer::Pause
        }]
    );
    feed(
        &mut ui,
        &mut s,
        vec![Event::WorkerSteered {
            id: ID,
            attempt: 1,
            steer: Steer::Pause,
            by: Actor::Person,
        }],
    );
    // Paused: the same key resumes.
    ch(&mut ui, 'w');
    key(&mut ui, KeyCode::Esc);
    assert_eq!(
        sent(ch(&mut ui, 'p')),
        [Command::Steer {
            id: ID,
            steer: Steer::Resume
        }]
    );

    let description = ui.state.subtask(ID).unwrap().description.clone();
    ch(&mut ui, 'w');
    key(&mut ui, KeyCode::Esc);
    ch(&mut ui, 'b');
    typed(&mut ui, " Keep it small.");
    key(&mut ui, KeyCode::Tab);
    ch(&mut ui, 'o'); // the next role
    ch(&mut ui, 'm');
    for _ in 0..40 {
        key(&mut ui, KeyCode::Backspace);
    }
    typed(&mut ui, "big-model");
    key(&mut ui, KeyCode::Enter);
    let fx = sent(ch(&mut ui, 'r'));
    assert_eq!(fx.len(), 3, "{fx:?}");
    match &fx[0] {
        Command::Edit { id, patch } => {
            assert_eq!(*id, ID);
            assert_eq!(
                patch.description.as_deref(),
                Some(format!("{description} Keep it small.").as_str())
            );
            assert_eq!(patch.role.as_deref(), Some("test_engineer"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fx[1],
        Command::Steer {
            id: ID,
            steer: Steer::Model {
                model: Some("big-model".into())
            }
        }
    );
    assert_eq!(
        fx[2],
        Command::Steer {
            id: ID,
            steer: Steer::Restart
        }
    );
}

#[test]
fn a_refused_steer_keeps_the_dialog_open_with_the_reason() {
    let (mut ui, _) = steering_ui();
    select_shown(&mut ui, 6);
    ch(&mut ui, 'w');
    key(&mut ui, KeyCode::Esc);
    ch(&mut ui, 'm');
    typed(&mut ui, " two");
    key(&mut ui, KeyCode::Esc);
    assert!(sent(ch(&mut ui, 's')).is_empty());
    assert!(ui.modal.is_some());
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("no spaces"), "{screen}");
    // Nothing changed: `s` says so instead of sending nothing silently.
    let (mut ui, _) = steering_ui();
    select_shown(&mut ui, 6);
    ch(&mut ui, 'w');
    key(&mut ui, KeyCode::Esc);
    assert!(sent(ch(&mut ui, 's')).is_empty());
    assert!(render(&mut ui, 160, 48).contains("nothing to send"));
}

#[test]
fn w_is_offered_only_for_a_running_worker() {
    let (mut ui, _) = steering_ui();
    // #4 is finished (or not running): no dialog, and the footer does not offer it.
    for id in [1, 4] {
        select_shown(&mut ui, id);
        if ui.state.subtask(SubtaskId(id)).unwrap().status != baton::state::SubtaskStatus::Running {
            ch(&mut ui, 'w');
            assert!(ui.modal.is_none(), "#{id}");
        }
    }
    select_shown(&mut ui, 6);
    assert!(render(&mut ui, 160, 48).contains("steer"));
}

#[test]
fn the_pane_shows_the_steering() {
    let (mut ui, mut s) = steering_ui();
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::WorkerSteered {
                id: ID,
                attempt: 1,
                steer: Steer::Pause,
                by: Actor::Person,
            },
            Event::WorkerSteered {
                id: ID,
                attempt: 1,
                steer: Steer::Note {
                    text: "Use the store trait from #3\u{1b}[2J; misses are 404.".into(),
                },
                by: Actor::Person,
            },
            Event::SubtaskEdited {
                id: ID,
                patch: SubtaskPatch {
                    description: Some("Implement the redirect API on the store trait.".into()),
                    ..SubtaskPatch::default()
                },
                by: Actor::Person,
            },
        ],
    );
    // The escalation that opened by itself is set aside: the pane is what this is about.
    ui.modal = None;
    ui.last_key_at = Some(ui.now);
    let small = render(&mut ui, 80, 24);
    assert!(small.contains("PAUSED"), "{small}");
    insta::assert_snapshot!("steered_pane_80x24", small);
    let big = render(&mut ui, 160, 48);
    assert!(big.contains("PAUSED"), "{big}");
    assert!(big.contains("paused by you"), "{big}");
    assert!(big.contains("note from you"), "{big}");
    assert!(big.contains("brief edited by you"), "{big}");
    assert!(!big.contains('\u{1b}'));
    insta::assert_snapshot!("steered_pane_160x48", big);
}
