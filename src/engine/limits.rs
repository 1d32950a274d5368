//! Limits: which budgets are reached, holding dispatch, raising and resolving scope alerts;
//! the settings (workers, limits, policy) a resumed run journals it runs with.

use super::policy::{self};
use super::run::*;
use crate::protocol::*;
use crate::state::{Refusal, SubtaskStatus};

impl Engine {
    /// On resume: the run continues with the settings it is given now (flags given to
    /// `baton resume`, resume trust), journaled where they differ from the journal's, so
    /// the state (workers, limits), the next resume and `export` follow them.
    pub(super) async fn journal_settings_in_force(&mut self) {
        let Some(before) = self.state.settings_in_force() else {
            return;
        };
        let changes = before.changes_to(&self.cfg.settings);
        if !changes.is_empty() {
            self.emit(Event::SettingsChanged {
                changes,
                settings: self.cfg.settings.clone(),
                by: Actor::Person,
            })
            .await;
        }
    }

    /// Is this limit's alert open, or was its overrun accepted (defer low priority) at the
    /// current maximum?
    pub(super) fn limit_held(&self, limit: LimitKind) -> bool {
        if policy::alert_open(&self.state, limit) {
            return true;
        }
        let max = self.limit_max(limit);
        self.state
            .alerts
            .iter()
            .rev()
            .find(|a| a.limit == limit)
            .is_some_and(|a| {
                a.resolution == Some(ScopeDecision::DeferLowPriority) && Some(a.max) == max
            })
    }

    pub(super) fn limit_max(&self, limit: LimitKind) -> Option<f64> {
        let l = &self.state.limits;
        match limit {
            LimitKind::Subtasks => l.max_subtasks.map(f64::from),
            LimitKind::Cycles => l.max_cycles.map(f64::from),
            LimitKind::Tokens => l.max_tokens.map(|v| v as f64),
            LimitKind::Cost => l.budget_usd,
            LimitKind::WallClock => l.max_wall_secs.map(|v| v as f64),
        }
    }

    /// A budget alert (tokens, cost, wall clock) or a budget stage's alert is open:
    /// nothing new starts.
    pub(super) fn budget_hold(&self) -> bool {
        self.state.open_alerts().any(|a| {
            matches!(
                a.limit,
                LimitKind::Tokens | LimitKind::Cost | LimitKind::WallClock
            ) || self.state.outlook.stage_of(a.alert).is_some()
        })
    }

    pub(super) async fn check_budgets(&mut self) {
        self.refresh_outlook().await;
        if policy::winding_down(&self.state) {
            return;
        }
        for (limit, current, max) in policy::budgets_reached(&self.state, self.wall_secs()) {
            if !self.limit_held(limit) {
                self.raise_alert(limit, current, max).await;
            }
        }
    }

    pub(super) async fn raise_alert(&mut self, limit: LimitKind, current: f64, max: f64) {
        let alert = self.next_alert();
        self.emit_alert(alert, limit, current, max).await;
        if self.cfg.settings.approve == ApprovalPolicy::Auto {
            self.resolve_alert(alert, policy::auto_scope_decision(limit), Actor::Policy)
                .await;
        }
    }

    /// The number the next scope alert gets.
    pub(super) fn next_alert(&self) -> u32 {
        u32::try_from(self.state.alerts.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// Journals scope alert `alert` with the subtasks not yet run.
    pub(super) async fn emit_alert(
        &mut self,
        alert: u32,
        limit: LimitKind,
        current: f64,
        max: f64,
    ) {
        let pending = self
            .state
            .subtasks
            .iter()
            .filter(|s| {
                matches!(
                    s.status,
                    SubtaskStatus::Ready
                        | SubtaskStatus::AwaitingApproval
                        | SubtaskStatus::Deferred
                )
            })
            .map(|s| s.id)
            .collect();
        self.emit(Event::ScopeAlertRaised {
            alert,
            limit,
            current,
            max,
            pending,
        })
        .await;
    }

    pub(super) async fn resolve_alert(&mut self, alert: u32, decision: ScopeDecision, by: Actor) {
        let Some(limit) = self
            .state
            .open_alerts()
            .find(|a| a.alert == alert)
            .map(|a| a.limit)
        else {
            self.notice(Refusal::AlertNotOpen(alert).to_string()).await;
            return;
        };
        self.emit(Event::ScopeAlertResolved {
            alert,
            decision: decision.clone(),
            by,
        })
        .await;
        match decision {
            ScopeDecision::DeferLowPriority => {
                let low: Vec<SubtaskId> = self
                    .state
                    .subtasks
                    .iter()
                    .filter(|s| s.priority == Priority::Low)
                    .filter(|s| {
                        matches!(
                            s.status,
                            SubtaskStatus::Ready | SubtaskStatus::AwaitingApproval
                        )
                    })
                    .map(|s| s.id)
                    .collect();
                for id in low {
                    self.emit(Event::SubtaskDeferred { id, by }).await;
                }
            }
            ScopeDecision::RaiseLimit { .. } if limit == LimitKind::Subtasks => {
                // Held-back subtasks are in the state (rebuilt on resume): release them
                // oldest first while the raised limit has room.
                for id in self.state.held_back() {
                    let room = self
                        .state
                        .limits
                        .max_subtasks
                        .is_none_or(|m| policy::counted_subtasks(&self.state) < m);
                    if !room {
                        break;
                    }
                    self.emit(Event::SubtaskUndeferred { id, by }).await;
                }
            }
            _ => {}
        }
    }

    /// Why the run ends early, when a limit kept subtasks from running: the subtasks held
    /// back by the subtask limit, or the work left when a limit made the run stop and
    /// synthesise (`stopped at the subtask limit: 10 of 50 not run`). `None` when every
    /// subtask ran (or a person set it aside: cancelled, or deferred by hand).
    pub(super) fn stopped_by_limit(&self) -> Option<String> {
        let total = self
            .state
            .subtasks
            .iter()
            .filter(|s| s.status != SubtaskStatus::Cancelled)
            .count();
        let held = self.state.held_back().len();
        let (limit, not_run) = if held > 0 {
            (LimitKind::Subtasks, held)
        } else {
            let limit = self
                .state
                .alerts
                .iter()
                .find(|a| a.resolution == Some(ScopeDecision::StopAndSynthesize))?
                .limit;
            let left = self
                .state
                .subtasks
                .iter()
                .filter(|s| {
                    // Deferred by a person: set aside on purpose, not kept by a limit.
                    !s.status.is_terminal()
                        && (s.status != SubtaskStatus::Deferred || s.held_by_limit)
                })
                .count();
            (limit, left)
        };
        (not_run > 0).then(|| {
            format!(
                "stopped at the {} limit: {not_run} of {total} not run",
                limit_name(limit)
            )
        })
    }
}

/// A limit's name in a sentence ("the subtask limit").
fn limit_name(limit: LimitKind) -> &'static str {
    match limit {
        LimitKind::Subtasks => "subtask",
        LimitKind::Cycles => "replan cycle",
        LimitKind::Tokens => "token",
        LimitKind::Cost => "cost",
        LimitKind::WallClock => "wall-clock",
    }
}
