//! How headless names a plan diff it stopped for (`--approve plan`): the proposal, its
//! rows (`+`/`-`/`~`, sanitised, one line each, capped), and that `baton resume` opens it
//! in the TUI, where each row is accepted or rejected.

use crate::protocol::{DiffSource, Event, PlanChange};
use crate::state::State;
use crate::text;

/// Rows listed before "... and N more".
const ROWS_SHOWN: usize = 8;

/// `a replan to approve (replan 2, plan diff 1): + ...; ~ ...; decide in the TUI`.
pub fn describe(state: &State, proposal: u32) -> String {
    let Some(d) = state.plan_diffs.iter().find(|d| d.proposal == proposal) else {
        return format!("a replan to approve (plan diff {proposal})");
    };
    let mut rows: Vec<String> = d
        .changes
        .iter()
        .take(ROWS_SHOWN)
        .map(|c| text::one_line(&c.summary(), 100))
        .collect();
    if d.changes.len() > ROWS_SHOWN {
        rows.push(format!("... and {} more", d.changes.len() - ROWS_SHOWN));
    }
    format!(
        "a replan to approve ({}, plan diff {proposal}, {} changes): {}; accept or reject each \
         change in the TUI (baton resume)",
        d.source.label(),
        d.changes.len(),
        rows.join("; ")
    )
}

/// The progress line of a plan diff event: the proposal with its row counts, each rejected
/// row (accepted rows show as the replan that follows).
pub fn progress(event: &Event) -> Option<String> {
    match event {
        Event::PlanDiffProposed {
            proposal,
            source,
            changes,
        } => {
            let count = |f: fn(&PlanChange) -> bool| changes.iter().filter(|c| f(c)).count();
            let adds = count(|c| matches!(c, PlanChange::Add { .. }));
            let edits = count(|c| matches!(c, PlanChange::Edit { .. }));
            let drops = count(|c| matches!(c, PlanChange::Drop { .. }));
            let what = match source {
                DiffSource::Replan { .. } => "replan",
                DiffSource::Evaluation { .. } => "evaluation",
            };
            Some(format!(
                "plan diff {proposal} ({}): +{adds} ~{edits} -{drops} waits for a person to approve the {what}",
                source.label()
            ))
        }
        Event::PlanChangeDecided {
            proposal,
            change,
            accepted: false,
            ..
        } => Some(format!(
            "plan diff {proposal}: change {change} rejected by the person"
        )),
        _ => None,
    }
}
