//! Steering events: a person paused, resumed, noted, re-modelled or restarted one worker
//! (`worker_steered`), and a person's edit of a running subtask (which its running attempt
//! does not see until a restart).

use chrono::{DateTime, Utc};

use crate::state::steer::{PersonNote, SteerRecord};
use crate::state::*;

/// Folds `worker_steered`; other events change nothing here.
pub(super) fn apply(state: &mut State, ts: DateTime<Utc>, event: &Event) {
    let Event::WorkerSteered {
        id,
        attempt,
        steer,
        by,
    } = event
    else {
        return;
    };
    if state.subtask(*id).is_none() {
        return;
    }
    let st = state.steering.entry(*id).or_default();
    st.log.push(SteerRecord {
        at: ts,
        attempt: *attempt,
        steer: steer.clone(),
        by: *by,
    });
    match steer {
        Steer::Pause => st.paused_attempt = Some(*attempt),
        Steer::Resume => st.paused_attempt = None,
        Steer::Note { text } => st.notes.push(PersonNote {
            at: ts,
            attempt: *attempt,
            text: text.clone(),
        }),
        Steer::Model { model } => st.model = model.clone(),
        Steer::Restart => {
            st.paused_attempt = None;
            st.edited_attempt = None;
            if let Some(s) = state.subtask_mut(*id)
                && s.status == SubtaskStatus::Running
            {
                // Back to the queue: the next attempt starts from the subtask as it is now.
                s.requeue();
            }
        }
    }
}

/// A person's edit of a running subtask: its attempt keeps the old brief (the pane says so).
pub(super) fn on_edit(state: &mut State, id: SubtaskId, by: Actor) {
    let Some(s) = state.subtask(id) else {
        return;
    };
    if by == Actor::Person && s.status == SubtaskStatus::Running {
        let attempt = s.attempts;
        state.steering.entry(id).or_default().edited_attempt = Some(attempt);
    }
}
