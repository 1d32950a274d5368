//! Budget outlook events: the forecast, budget stages reached, the balance of finished
//! work; and the tally of finished reports per role and worker that the balance rests on.

use crate::state::*;

/// Counts a finished report for its role and worker. Runs before the work family folds it
/// (which forgets the worker).
pub(super) fn tally(state: &mut State, event: &Event) {
    let Event::SubtaskReported { id, report, .. } = event else {
        return;
    };
    if report.status == ReportStatus::Blocked {
        return;
    }
    let Some(s) = state.subtask(*id) else {
        return;
    };
    if s.status != SubtaskStatus::Running {
        return;
    }
    let (role, worker) = (s.role.clone(), s.worker);
    let o = &mut state.outlook;
    let n = o.finished_by_role.entry(role).or_default();
    *n = n.saturating_add(1);
    if let Some(w) = worker {
        let n = o.finished_by_worker.entry(w.0).or_default();
        *n = n.saturating_add(1);
    }
}

/// Folds one outlook event; other events change nothing here.
pub(super) fn apply(state: &mut State, event: &Event) {
    match event {
        Event::ForecastUpdated { forecast } => state.outlook.forecast = Some(forecast.clone()),
        Event::BudgetStageReached { stage } => state.outlook.stages.push(stage.clone()),
        Event::BalanceChanged { imbalance } => {
            let replans = forecast::replans_marker(state);
            state.outlook.imbalance = imbalance.clone();
            state.outlook.balance_log.push((replans, imbalance.clone()));
        }
        _ => {}
    }
}
