//! A run as a Markdown document (task, deliverable, summary, subtasks, replan log), for
//! the `x` key of the synthesis view.
//!
//! Owns only the fallback rendering the TUI uses until the shared exporter is wired; must
//! not read anything but `State`.

use std::fmt::Write;

use crate::engine::plan::State;

pub fn render_markdown(state: &State) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {}\n",
        state.task.lines().next().unwrap_or("Baton run")
    );
    let _ = writeln!(s, "Run `{}`\n", state.run_id);
    if let Some(syn) = &state.synthesis {
        let _ = writeln!(s, "## Deliverable\n\n{}\n", syn.deliverable.trim());
        if !syn.integration_points.is_empty() {
            let _ = writeln!(s, "## Integration points\n");
            for p in &syn.integration_points {
                let _ = writeln!(s, "- {p}");
            }
            s.push('\n');
        }
        if !syn.conflicts.is_empty() {
            let _ = writeln!(s, "## Conflicts\n");
            for c in &syn.conflicts {
                let _ = writeln!(s, "- {c}");
            }
            s.push('\n');
        }
    }
    if let Some(sum) = &state.summary {
        let _ = writeln!(
            s,
            "## Execution summary\n\n- subtasks: {} (first estimate {})\n- completed {}, failed {}, cancelled {}, deferred {}\n- replan cycles: {}\n- tokens: {}\n- cost: {}\n- time: {:.0}s\n",
            sum.subtasks_total,
            sum.initial_estimate,
            sum.completed,
            sum.failed,
            sum.cancelled,
            sum.deferred,
            sum.replan_cycles,
            sum.tokens.total(),
            sum.cost_usd
                .map_or("unknown".to_string(), |c| format!("${c:.2}")),
            sum.elapsed_secs
        );
    }
    let _ = writeln!(s, "## Subtasks\n");
    for t in &state.subtasks {
        let _ = writeln!(
            s,
            "- {} {} ({}, {})",
            t.id,
            t.title,
            t.role,
            t.status.label()
        );
    }
    if !state.replan_log.is_empty() {
        let _ = writeln!(s, "\n## Replan log\n");
        for r in &state.replan_log {
            let _ = writeln!(
                s,
                "- cycle {}: {} (scope {} → {})",
                r.cycle, r.summary, r.estimate_before, r.estimate_now
            );
        }
    }
    s
}
