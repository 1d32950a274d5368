//! The rule book: which [`Command`] applies to the run as it is now ([`State::check`]).
//!
//! The engine checks every command here before acting on it (a refusal becomes a `Notice`
//! event carrying [`Refusal`]'s text), and the TUI asks the same question to decide which
//! keys are offered, so the rules live once. Only what the folded state can answer is here:
//! what depends on the engine's configuration (known role names, workspace tools) or on
//! its live tasks is checked by the engine after this.

use std::fmt;

use super::{State, SubtaskStatus};
use crate::protocol::*;

/// Why a command does not apply now. `Display` is the sentence shown to the person.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The command names a subtask that does not exist.
    NoSuchSubtask {
        what: &'static str,
        id: SubtaskId,
    },
    /// The subtask is in a status the command does not apply to.
    NotApplicable {
        what: &'static str,
        id: SubtaskId,
        status: SubtaskStatus,
    },
    /// Edit or cancel of a subtask that has finished.
    Finished {
        what: &'static str,
        id: SubtaskId,
        status: SubtaskStatus,
    },
    NothingAwaitsApproval,
    /// An edit that changes nothing.
    EmptyEdit(SubtaskId),
    /// An edit whose new dependencies are unknown or make a cycle.
    BadDependencies {
        id: SubtaskId,
        reason: String,
    },
    /// A role that is not one of the run's roles.
    UnknownRole {
        role: String,
        roles: Vec<String>,
    },
    AlreadyPaused,
    NotPaused,
    ZeroWorkers,
    /// `+`/`-` that would leave the number of workers where it is (at 1 or at the maximum).
    WorkersUnchanged(u32),
    NoModeChoice,
    AlertNotOpen(u32),
    /// A raised limit that is not a usable number (NaN, infinite, negative, too large).
    BadLimit(String),
    CommandNotWaiting(u32),
    /// Rollback of a running subtask.
    RollbackRunning(SubtaskId),
    /// Rollback of a subtask with no live (not rolled back) file changes.
    NoChanges(SubtaskId),
    /// A steer of one worker that does not apply (already paused, an empty note, ...).
    Steer(String),
    /// Decisions on a plan diff that is not waiting (unknown, or already decided).
    DiffNotPending(u32),
    /// Decisions whose number is not the diff's number of rows.
    DiffRows {
        proposal: u32,
        rows: usize,
        given: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoSuchSubtask { what, id } => {
                write!(f, "cannot {what} {id}: there is no such subtask")
            }
            Refusal::NotApplicable { what, id, status } => {
                write!(f, "cannot {what} {id}: it is {}", status.label())
            }
            Refusal::Finished { what, id, status } => {
                write!(f, "cannot {what} {id}: it is already {}", status.label())
            }
            Refusal::NothingAwaitsApproval => f.write_str("nothing awaits approval"),
            Refusal::EmptyEdit(id) => write!(f, "nothing to change in {id}"),
            Refusal::BadDependencies { id, reason } => write!(f, "cannot edit {id}: {reason}"),
            Refusal::UnknownRole { role, roles } => {
                write!(f, "unknown role `{role}`; roles: {}", roles.join(", "))
            }
            Refusal::AlreadyPaused => f.write_str("dispatch is already paused"),
            Refusal::NotPaused => f.write_str("dispatch is not paused"),
            Refusal::ZeroWorkers => {
                f.write_str("max workers must be at least 1 (use pause to stop dispatch)")
            }
            Refusal::WorkersUnchanged(n) if *n <= 1 => {
                f.write_str("at least one worker runs (use pause to stop dispatch)")
            }
            Refusal::WorkersUnchanged(n) => write!(f, "{n} workers is the most a run may have"),
            Refusal::NoModeChoice => f.write_str("no run-mode choice is pending"),
            Refusal::AlertNotOpen(a) => write!(f, "scope alert {a} is not open"),
            Refusal::BadLimit(why) => f.write_str(why),
            Refusal::CommandNotWaiting(r) => write!(f, "command request {r} is not waiting"),
            Refusal::RollbackRunning(id) => {
                write!(f, "{id} is running; cancel it before rolling back")
            }
            Refusal::NoChanges(id) => write!(f, "{id} changed no files"),
            Refusal::Steer(why) => f.write_str(why),
            Refusal::DiffNotPending(p) => write!(f, "plan diff {p} is not waiting for decisions"),
            Refusal::DiffRows {
                proposal,
                rows,
                given,
            } => write!(
                f,
                "plan diff {proposal} has {rows} changes, {given} decisions were given"
            ),
        }
    }
}

impl State {
    /// Does `command` apply to the run as it is now? `Ok` does not promise success (the
    /// engine may still refuse what only it can know, such as an unknown role), but a
    /// refusal here is final.
    pub fn check(&self, command: &Command) -> Result<(), Refusal> {
        use SubtaskStatus as S;
        match command {
            Command::Approve { id } => {
                self.status_in("approve", *id, &[S::AwaitingApproval, S::Deferred])
            }
            Command::ApproveAll => {
                if self.count(S::AwaitingApproval) == 0 {
                    Err(Refusal::NothingAwaitsApproval)
                } else {
                    Ok(())
                }
            }
            Command::Defer { id } => self.status_in("defer", *id, &[S::AwaitingApproval, S::Ready]),
            Command::Undefer { id } => self.status_in("un-defer", *id, &[S::Deferred]),
            Command::Escalate { id, .. } => {
                let status = self.status_of("escalate", *id)?;
                if status.is_terminal() || status == S::Escalated {
                    return Err(Refusal::NotApplicable {
                        what: "escalate",
                        id: *id,
                        status,
                    });
                }
                Ok(())
            }
            Command::Resolve { id, .. } => self.status_in("resolve", *id, &[S::Escalated]),
            Command::Edit { id, patch } => {
                if let Some(d) = &patch.depends_on {
                    super::deps::check_new_deps(self, *id, d)
                        .map_err(|reason| Refusal::BadDependencies { id: *id, reason })?;
                }
                if patch.is_empty() {
                    return Err(Refusal::EmptyEdit(*id));
                }
                self.check_open("edit", *id)
            }
            Command::EditAndApprove { id, patch } => {
                if let Some(d) = &patch.depends_on {
                    super::deps::check_new_deps(self, *id, d)
                        .map_err(|reason| Refusal::BadDependencies { id: *id, reason })?;
                }
                self.status_in("approve", *id, &[S::AwaitingApproval])
            }
            Command::Cancel { id } => self.check_open("cancel", *id),
            Command::Add { .. } | Command::Stop | Command::StopForSignal { .. } => Ok(()),
            Command::Pause if self.paused => Err(Refusal::AlreadyPaused),
            Command::Resume if !self.paused => Err(Refusal::NotPaused),
            Command::Pause | Command::Resume => Ok(()),
            Command::SetMaxWorkers { max_workers: 0 } => Err(Refusal::ZeroWorkers),
            Command::SetMaxWorkers { .. } => Ok(()),
            Command::AdjustWorkers { delta } => {
                if self.workers_after(*delta) == self.max_workers {
                    Err(Refusal::WorkersUnchanged(self.max_workers))
                } else {
                    Ok(())
                }
            }
            Command::ChooseMode { .. } => {
                if self.mode_choice.is_some() && self.mode.is_none() {
                    Ok(())
                } else {
                    Err(Refusal::NoModeChoice)
                }
            }
            Command::ResolveScopeAlert { alert, decision } => {
                let Some(open) = self.open_alerts().find(|a| a.alert == *alert) else {
                    return Err(Refusal::AlertNotOpen(*alert));
                };
                if let ScopeDecision::RaiseLimit { to } = decision {
                    open.limit.checked(*to).map_err(Refusal::BadLimit)?;
                }
                Ok(())
            }
            Command::DecideCommand { request, .. } => {
                if self.open_command_requests().any(|c| c.request == *request) {
                    Ok(())
                } else {
                    Err(Refusal::CommandNotWaiting(*request))
                }
            }
            Command::SetDispatch { id, .. } => {
                let status = self.status_of("set the dispatch policy of", *id)?;
                if status == S::Running {
                    return Err(Refusal::NotApplicable {
                        what: "set the dispatch policy of",
                        id: *id,
                        status,
                    });
                }
                self.check_open("set the dispatch policy of", *id)
            }
            Command::Steer { id, steer } => self.check_steer(*id, steer),
            Command::DecidePlanDiff { proposal, accepted } => {
                let Some(d) = self.pending_plan_diff().filter(|d| d.proposal == *proposal) else {
                    return Err(Refusal::DiffNotPending(*proposal));
                };
                if d.changes.len() != accepted.len() {
                    return Err(Refusal::DiffRows {
                        proposal: *proposal,
                        rows: d.changes.len(),
                        given: accepted.len(),
                    });
                }
                Ok(())
            }
            Command::Rollback { id } => {
                let status = self.status_of("roll back", *id)?;
                if status == S::Running {
                    return Err(Refusal::RollbackRunning(*id));
                }
                if !self.files.iter().any(|f| f.id == *id && !f.rolled_back) {
                    return Err(Refusal::NoChanges(*id));
                }
                Ok(())
            }
        }
    }

    /// Is `role` one of the run's `roles`? The engine knows the run's roles (from the
    /// configuration), the TUI's form gets the same list: both ask here.
    pub fn check_role(role: &str, roles: &[String]) -> Result<(), Refusal> {
        if roles.iter().any(|r| r == role) {
            Ok(())
        } else {
            Err(Refusal::UnknownRole {
                role: role.to_string(),
                roles: roles.to_vec(),
            })
        }
    }

    /// The number of workers after a relative change, kept within `1..=MAX_WORKERS`.
    pub fn workers_after(&self, delta: i32) -> u32 {
        let n = i64::from(self.max_workers) + i64::from(delta);
        u32::try_from(n.clamp(1, i64::from(MAX_WORKERS))).unwrap_or(1)
    }

    fn status_of(&self, what: &'static str, id: SubtaskId) -> Result<SubtaskStatus, Refusal> {
        self.subtask(id)
            .map(|s| s.status)
            .ok_or(Refusal::NoSuchSubtask { what, id })
    }

    fn status_in(
        &self,
        what: &'static str,
        id: SubtaskId,
        allowed: &[SubtaskStatus],
    ) -> Result<(), Refusal> {
        let status = self.status_of(what, id)?;
        if allowed.contains(&status) {
            Ok(())
        } else {
            Err(Refusal::NotApplicable { what, id, status })
        }
    }

    /// Edit and cancel apply to any subtask that has not finished (the orchestrator's replan
    /// edits and cancels go through this rule too).
    pub fn check_open(&self, what: &'static str, id: SubtaskId) -> Result<(), Refusal> {
        let status = self.status_of(what, id)?;
        if status.is_terminal() {
            Err(Refusal::Finished { what, id, status })
        } else {
            Ok(())
        }
    }
}
