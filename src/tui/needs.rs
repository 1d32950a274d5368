//! What needs the person: the bell (once per new need), opening the most urgent modal when
//! the person is not typing, closing a modal whose need was resolved elsewhere, and keeping
//! the selection valid as the plan changes.
//!
//! Owns the policy of *when* to interrupt the person. Must not decide *what* needs them:
//! that is `State::needs_person`.

use super::app::{Effect, NeedKey, Screen, Sel, TYPING_GRACE_MS, Ui};
use super::modals::{self, Modal};
use super::task_list;
use crate::notify::Occasion;
use crate::protocol::RunOutcome;
use crate::state::NeedsPerson;

/// Runs after every update.
pub fn reconcile(ui: &mut Ui) -> Vec<Effect> {
    let mut fx = Vec::new();
    let needs: Vec<NeedKey> = ui
        .state
        .needs_person()
        .iter()
        .map(|n| NeedKey::of(n, &ui.state))
        .collect();

    // A modal whose need went away (answered by the policy, or by another key) closes.
    if let Some(need) = ui.modal.as_ref().and_then(|m| m.need())
        && !needs.contains(&need)
    {
        ui.modal = None;
    }

    let new: Vec<NeedKey> = needs
        .iter()
        .filter(|n| !ui.rung.contains(n))
        .copied()
        .collect();
    if !new.is_empty() {
        ui.rung.extend(new.iter().copied());
        if ui.options.bell {
            fx.push(Effect::Bell);
        }
    }

    if may_interrupt(ui)
        && let Some(need) = needs
            .iter()
            .find(|n| n.wants_modal() && !ui.dismissed.contains(n))
    {
        ui.modal = modals::open_for(*need, &ui.state, &ui.info);
        if ui.modal.is_some() {
            ui.auto_opened = Some((*need, ui.now));
        }
    }

    keep_selection(ui);
    fx
}

/// A modal may pop up: none is open, no text box or help is in use, and no key was pressed
/// in the last moment (so a keystroke meant for the list never lands in a modal).
fn may_interrupt(ui: &Ui) -> bool {
    if ui.modal.is_some() || ui.help || ui.screen == Screen::Editor {
        return false;
    }
    match ui.last_key_at {
        Some(at) => (ui.now - at).num_milliseconds() >= TYPING_GRACE_MS,
        None => true,
    }
}

/// Opens the modal for a need now (the `n` key), even if it was dismissed before.
pub fn open_need(ui: &mut Ui, need: NeedKey) {
    ui.dismissed.remove(&need);
    ui.auto_opened = None;
    match need {
        NeedKey::Approval(id) => {
            ui.screen = Screen::Main;
            ui.selected = Some(Sel::Subtask(id));
            ui.flash = Some(format!(
                "{id} waits for approval: a approve · d defer · E edit first"
            ));
        }
        _ => ui.modal = modals::open_for(need, &ui.state, &ui.info),
    }
}

/// The most urgent need, for the `n` key.
pub fn most_urgent(ui: &Ui) -> Option<NeedKey> {
    ui.state
        .needs_person()
        .first()
        .map(|n| NeedKey::of(n, &ui.state))
}

/// A modal closed: without effects it was dismissed ("later"), so it does not pop up again.
pub fn closed(ui: &mut Ui, modal: &dyn Modal, sent_something: bool) {
    if let Some(need) = modal.need()
        && !sent_something
    {
        ui.dismissed.insert(need);
        ui.flash = Some("set aside for now: press n to come back to it".to_string());
    }
}

fn keep_selection(ui: &mut Ui) {
    let rows = task_list::rows(ui);
    let valid = ui
        .selected
        .is_some_and(|sel| rows.iter().any(|r| r.sel() == sel));
    if !valid {
        ui.selected = rows.first().map(|r| r.sel());
    }
}

/// The words of a notification (the notifier sanitises them; titles are model text).
pub fn notice_text(ui: &Ui, occasion: Occasion) -> String {
    let run = ui.run_id();
    match occasion {
        Occasion::NeedsPerson => {
            let needs = ui.state.needs_person();
            let first = match needs.first() {
                Some(NeedsPerson::Approval(id)) => ui
                    .state
                    .subtask(*id)
                    .map(|s| format!("approve #{} {}", id.0, s.title)),
                Some(NeedsPerson::Escalation(id)) => ui
                    .state
                    .subtask(*id)
                    .map(|s| format!("#{} {} was escalated", id.0, s.title)),
                Some(NeedsPerson::CommandApproval(_)) => {
                    Some("a command waits for approval".into())
                }
                Some(NeedsPerson::ScopeAlert(_)) => Some("a scope alert".into()),
                Some(NeedsPerson::PlanDiff(_)) => Some("a replan to approve".into()),
                Some(NeedsPerson::ModeChoice { .. }) => {
                    Some("orchestrate or single worker?".into())
                }
                None => None,
            };
            match (needs.len(), first) {
                (0, _) | (_, None) => format!("run {run} needs you"),
                (1, Some(what)) => format!("run {run} needs you: {what}"),
                (n, Some(what)) => format!("run {run}: {n} things need you ({what}, ...)"),
            }
        }
        Occasion::Finished => match &ui.state.outcome {
            Some(RunOutcome::Completed) => format!("run {run} is complete"),
            Some(RunOutcome::Failed { reason }) => format!("run {run} failed: {reason}"),
            Some(RunOutcome::Stopped { reason }) => format!("run {run} stopped: {reason}"),
            None => format!("run {run} ended"),
        },
    }
}
