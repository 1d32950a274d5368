//! Steering one worker (issue 11, capability 4): what a person did to a subtask's worker
//! while the run went on ([`Steering`], folded from `worker_steered` and a person's edits),
//! the queries the engine and the TUI share (is this worker paused, which model and notes
//! its next attempt gets) and the rule for `Command::Steer` ([`State::check_steer`]).
//!
//! Decisions (written down here and in docs/tui.md):
//! - A pause holds the attempt it was given to: a new attempt (a retry, a restart, a resumed
//!   run) starts unpaused, so a run reopened headless never waits on a pause nobody can lift.
//! - Notes are kept for the subtask: the running attempt reads each new one before its next
//!   model call, and every later attempt gets them all with its brief.
//! - A person's model applies from the next attempt on (the running call keeps its model);
//!   a restart makes it, and an edited brief or role, take effect now.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rules::Refusal;
use super::{State, SubtaskStatus};
use crate::protocol::*;

/// A person's note to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonNote {
    pub at: DateTime<Utc>,
    /// The attempt running when it was given.
    pub attempt: u32,
    pub text: String,
}

/// One steering decision about a subtask, in journal order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteerRecord {
    pub at: DateTime<Utc>,
    pub attempt: u32,
    pub steer: Steer,
    pub by: Actor,
}

/// Everything a person did to one subtask's worker.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Steering {
    /// The attempt a person paused (`None`: not paused).
    pub paused_attempt: Option<u32>,
    pub notes: Vec<PersonNote>,
    /// The model a person chose for its next attempts (`None`: its role's).
    pub model: Option<String>,
    /// The attempt that was running when a person last edited the subtask (its brief, role,
    /// ...): that attempt still works from the old brief.
    pub edited_attempt: Option<u32>,
    pub log: Vec<SteerRecord>,
}

impl State {
    /// What a person did to `id`'s worker, if anything.
    pub fn steering(&self, id: SubtaskId) -> Option<&Steering> {
        self.steering.get(&id)
    }

    /// Is `id`'s running attempt paused by a person?
    pub fn worker_paused(&self, id: SubtaskId) -> bool {
        match (self.subtask(id), self.steering(id)) {
            (Some(s), Some(st)) => {
                s.status == SubtaskStatus::Running && st.paused_attempt == Some(s.attempts)
            }
            _ => false,
        }
    }

    /// The model a person chose for `id`'s next attempts.
    pub fn steered_model(&self, id: SubtaskId) -> Option<&str> {
        self.steering(id).and_then(|st| st.model.as_deref())
    }

    /// The notes a person gave `id`, oldest first.
    pub fn person_notes(&self, id: SubtaskId) -> &[PersonNote] {
        self.steering(id).map_or(&[], |st| st.notes.as_slice())
    }

    /// Does the running attempt of `id` work from a brief a person has edited since it
    /// started (a restart would apply the edit)?
    pub fn brief_edited_since_start(&self, id: SubtaskId) -> bool {
        match (self.subtask(id), self.steering(id)) {
            (Some(s), Some(st)) => {
                s.status == SubtaskStatus::Running && st.edited_attempt == Some(s.attempts)
            }
            _ => false,
        }
    }

    /// Does `steer` apply to `id` now? Pause, resume and restart need a running worker;
    /// a note and a model any subtask that has not finished (its next attempt gets them).
    pub(super) fn check_steer(&self, id: SubtaskId, steer: &Steer) -> Result<(), Refusal> {
        let what = match steer {
            Steer::Pause => "pause",
            Steer::Resume => "resume",
            Steer::Note { .. } => "give a note to",
            Steer::Model { .. } => "set the model of",
            Steer::Restart => "restart",
        };
        let status = self
            .subtask(id)
            .map(|s| s.status)
            .ok_or(Refusal::NoSuchSubtask { what, id })?;
        let running = status == SubtaskStatus::Running;
        match steer {
            Steer::Pause | Steer::Resume | Steer::Restart if !running => {
                Err(Refusal::NotApplicable { what, id, status })
            }
            Steer::Pause if self.worker_paused(id) => Err(Refusal::Steer(format!(
                "the worker of {id} is already paused"
            ))),
            Steer::Resume if !self.worker_paused(id) => {
                Err(Refusal::Steer(format!("the worker of {id} is not paused")))
            }
            Steer::Note { text } => {
                if text.trim().is_empty() {
                    return Err(Refusal::Steer("the note is empty".into()));
                }
                if text.chars().count() > NOTE_MAX_CHARS {
                    return Err(Refusal::Steer(format!(
                        "a note is at most {NOTE_MAX_CHARS} characters"
                    )));
                }
                self.check_open(what, id)
            }
            Steer::Model { model } => {
                if let Some(m) = model {
                    check_model_name(m).map_err(Refusal::Steer)?;
                }
                self.check_open(what, id)
            }
            Steer::Pause | Steer::Resume | Steer::Restart => Ok(()),
        }
    }
}
