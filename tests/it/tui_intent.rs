//! No keystroke acts on something the person did not see (issue 10): a dialog that opens by
//! itself takes no key for a moment and says so; a need the person created does not pop up;
//! destructive choices ask first, listing what they touch; `+`/`-` carry intent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::protocol::*;
use baton::tui::app::{DIALOG_GRACE_MS, Msg, TYPING_GRACE_MS, WORKERS_SETTLE_MS};
use baton::tui::update;
use chrono::Duration;
use crossterm::event::KeyCode;
use tui_support::*;

/// Moves the injected clock on by `ms` (no sleeping).
fn after_ms(ui: &mut baton::tui::Ui, ms: i64) -> Vec<baton::tui::Effect> {
    let now = ui.now + Duration::milliseconds(ms);
    update(ui, Msg::Tick(now))
}

fn main_ui() -> (baton::tui::Ui, Script) {
    let mut ui = new_ui();
    let s = mid_run(&mut ui);
    after_ms(&mut ui, DIALOG_GRACE_MS);
    key(&mut ui, KeyCode::Esc); // set the escalation aside
    after_ms(&mut ui, TYPING_GRACE_MS + 100);
    (ui, s)
}

fn scope_alert(ui: &mut baton::tui::Ui, s: &mut Script) {
    feed(
        ui,
        s,
        vec![Event::ScopeAlertRaised {
            alert: 1,
            limit: LimitKind::Cost,
            current: 2.1,
            max: 2.0,
            pending: vec![SubtaskId(10)],
        }],
    );
}

#[test]
fn a_key_50ms_before_an_auto_opened_dialog_does_not_act_in_it() {
    let (mut ui, mut s) = main_ui();
    // `d` meant for the list (defer the selected subtask), 50 ms before the alert arrives.
    let fx = sent(ch(&mut ui, 'd'));
    after_ms(&mut ui, 50);
    scope_alert(&mut ui, &mut s);
    assert!(
        ui.modal.is_none(),
        "no dialog opens under a key just pressed"
    );
    assert!(
        !fx.iter()
            .any(|c| matches!(c, Command::ResolveScopeAlert { .. })),
        "{fx:?}"
    );
    // Once the person stops, it opens, and says it just did.
    after_ms(&mut ui, TYPING_GRACE_MS);
    assert!(ui.modal.is_some());
    assert!(ui.dialog_held());
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("just opened"), "{screen}");
}

#[test]
fn a_key_50ms_after_an_auto_opened_dialog_does_not_act_in_it() {
    let (mut ui, mut s) = main_ui();
    scope_alert(&mut ui, &mut s);
    assert!(ui.modal.is_some(), "the alert opens by itself");
    after_ms(&mut ui, 50);
    assert!(
        sent(ch(&mut ui, 'd')).is_empty(),
        "`d` 50 ms after it opened was meant for the list, not `defer low priority`"
    );
    assert!(ui.modal.is_some(), "the dialog stays");
    // After the grace the same key answers the dialog.
    after_ms(&mut ui, DIALOG_GRACE_MS);
    assert!(!ui.dialog_held());
    assert!(!render(&mut ui, 80, 24).contains("just opened"));
    assert_eq!(
        sent(ch(&mut ui, 'd')),
        vec![Command::ResolveScopeAlert {
            alert: 1,
            decision: ScopeDecision::DeferLowPriority
        }]
    );
}

#[test]
fn an_escalation_the_person_made_does_not_pop_up_and_r_then_asks_before_retrying_blind() {
    let (mut ui, mut s) = main_ui();
    select_shown(&mut ui, 6);
    assert_eq!(
        sent(ch(&mut ui, 'e')),
        vec![Command::Escalate {
            id: SubtaskId(6),
            reason: "a person asked to take it over".into()
        }]
    );
    // The engine answers ~1.3 s later.
    after_ms(&mut ui, 1_300);
    feed(
        &mut ui,
        &mut s,
        vec![Event::SubtaskEscalated {
            id: SubtaskId(6),
            reason: "a person asked to take it over".into(),
            by: Actor::Person,
        }],
    );
    after_ms(&mut ui, 5_000);
    assert!(
        ui.modal.is_none(),
        "the person's own escalation does not pop up"
    );
    // `r` opens its dialog; a second `r` (retry) with no guidance asks first.
    select_shown(&mut ui, 6);
    assert!(sent(ch(&mut ui, 'r')).is_empty());
    assert!(ui.modal.is_some(), "r opens the dialog");
    assert!(!ui.dialog_held(), "opened by a key: no grace needed");
    assert!(sent(ch(&mut ui, 'r')).is_empty(), "no blind retry yet");
    both!("retry_without_guidance_asks", &mut ui);
    assert_eq!(
        sent(ch(&mut ui, 'y')),
        vec![Command::Resolve {
            id: SubtaskId(6),
            resolution: Resolution::Retry {
                guidance: String::new()
            }
        }]
    );
}

#[test]
fn cancel_in_the_escalation_dialog_asks_and_lists_what_it_touches() {
    let (mut ui, mut s) = main_ui();
    // #6 is escalated by the orchestrator: its dialog opens by itself.
    feed(
        &mut ui,
        &mut s,
        vec![Event::SubtaskEscalated {
            id: SubtaskId(6),
            reason: "the redirect API needs a decision on 301 vs 302".into(),
            by: Actor::Orchestrator,
        }],
    );
    assert!(ui.modal.is_some());
    after_ms(&mut ui, DIALOG_GRACE_MS);
    assert!(sent(ch(&mut ui, 'c')).is_empty(), "cancel asks first");
    let screen = render(&mut ui, 80, 24);
    for dependent in ["#7", "#8", "#10"] {
        assert!(screen.contains(dependent), "{dependent} listed: {screen}");
    }
    both!("escalation_cancel_asks", &mut ui);
    // `n` goes back to the choices; `c`, `y` cancels.
    assert!(sent(ch(&mut ui, 'n')).is_empty());
    assert!(ui.modal.is_some());
    ch(&mut ui, 'c');
    assert_eq!(
        sent(ch(&mut ui, 'y')),
        vec![Command::Resolve {
            id: SubtaskId(6),
            resolution: Resolution::Cancel
        }]
    );
}

#[test]
fn approve_all_asks_and_lists_the_subtasks() {
    let (mut ui, _) = main_ui();
    assert!(sent(ch(&mut ui, 'A')).is_empty(), "approve all asks first");
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("#8 Add rate limiting"), "{screen}");
    assert!(screen.contains("#9 Email alerts for abuse"), "{screen}");
    both!("approve_all_asks", &mut ui);
    assert_eq!(sent(ch(&mut ui, 'y')), vec![Command::ApproveAll]);
}

#[test]
fn plus_presses_in_a_burst_are_one_relative_change() {
    let (mut ui, _) = main_ui();
    assert_eq!(ui.state.max_workers, 4);
    for _ in 0..3 {
        assert!(sent(ch(&mut ui, '+')).is_empty(), "nothing sent mid-burst");
        after_ms(&mut ui, 100);
    }
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("workers: 4 → 7"), "{screen}");
    assert_eq!(
        sent(after_ms(&mut ui, WORKERS_SETTLE_MS)),
        vec![Command::AdjustWorkers { delta: 3 }]
    );
    assert!(
        sent(after_ms(&mut ui, WORKERS_SETTLE_MS)).is_empty(),
        "sent once"
    );
    // `-` at one worker is refused on the spot with the rule book's reason.
    ui.state.max_workers = 1;
    assert!(sent(ch(&mut ui, '-')).is_empty());
    assert!(sent(after_ms(&mut ui, WORKERS_SETTLE_MS)).is_empty());
    assert!(
        ui.messages
            .iter()
            .any(|(_, m)| m.contains("at least one worker")),
        "{:?}",
        ui.messages
    );
}
