//! `baton export`: a run's report rendered from its folded state, as Markdown or JSON.
//!
//! Owns: the report's content and layout (task, deliverable, execution summary, subtask
//! table, replan log, integration points, conflicts, files changed) for the CLI and for the
//! TUI's `x` export ([`render_markdown`], [`render_json`]). Must not compute anything the
//! reducer does not already hold, and never includes a key (the state holds none: run
//! settings are journaled without secrets). The Markdown report and `baton runs` pass the
//! sanitizer (`crate::text`): no escape sequence reaches a terminal or a viewer through them;
//! the JSON report keeps the exact text (JSON-escaped).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::journal::{self, JournalError};
use crate::text::sanitize;

pub mod compare;
pub mod fork;
pub mod graph;
pub mod provenance;
mod runs;
mod usage;

pub use runs::runs_table;

use provenance::Provenance;

use crate::protocol::{ExecutionSummary, Origin, RunOutcome};
use crate::state::{State, Subtask, SubtaskStatus};

/// `--format` of `baton export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// A Markdown report.
    Md,
    /// The same content as one JSON object.
    Json,
}

/// The run's status in one phrase: `complete`, `failed: ...`, `stopped: ...`, `running (phase)`.
pub fn status_text(state: &State) -> String {
    match &state.outcome {
        Some(RunOutcome::Completed) => "complete".into(),
        Some(RunOutcome::Failed { reason }) => format!("failed: {reason}"),
        Some(RunOutcome::Stopped { reason }) => format!("stopped: {reason}"),
        None => format!("not finished ({})", state.phase),
    }
}

/// `$0.0123`, with `≥` when some calls had no known price.
pub fn cost_text(cost_usd: f64, unpriced_calls: u32) -> String {
    if unpriced_calls > 0 {
        format!("≥ ${cost_usd:.4} ({unpriced_calls} calls without a known price)")
    } else {
        format!("${cost_usd:.4}")
    }
}

/// Whole seconds as `1h 02m 03s`, `2m 03s` or `4.2s`.
pub fn duration_text(secs: f64) -> String {
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    let total = secs.round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::Analysis => "initial analysis".into(),
        Origin::Discovered { from, cycle } => format!("discovered by {from} (replan {cycle})"),
        Origin::Replan { cycle } => format!("replan {cycle}"),
        Origin::Person => "added by a person".into(),
        Origin::Decomposed { from } => format!("decomposed from {from}"),
        Origin::Evaluation { round } => format!("evaluation round {round}"),
        Origin::SingleWorker => "single worker".into(),
    }
}

/// The execution summary: the synthesis' (computed by the engine from the journal), or,
/// for a run without one yet, the same numbers taken from the folded state.
pub fn summary(state: &State) -> ExecutionSummary {
    if let Some(s) = &state.summary {
        return s.clone();
    }
    let count = |st: SubtaskStatus| state.count(st) as u32;
    let mut per_role: Vec<(String, u32)> = Vec::new();
    for s in state.subtasks.iter().filter(|s| s.attempts > 0) {
        match per_role.iter_mut().find(|(r, _)| *r == s.role) {
            Some((_, n)) => *n += 1,
            None => per_role.push((s.role.clone(), 1)),
        }
    }
    let mut files: Vec<String> = state.files.iter().map(|f| f.path.clone()).collect();
    files.sort();
    files.dedup();
    ExecutionSummary {
        subtasks_total: state.live_subtask_count(),
        initial_estimate: state.initial_estimate(),
        completed: count(SubtaskStatus::Complete) + count(SubtaskStatus::Partial),
        failed: count(SubtaskStatus::Failed),
        cancelled: count(SubtaskStatus::Cancelled),
        deferred: count(SubtaskStatus::Deferred),
        per_role,
        replan_cycles: state.replan_log.len() as u32,
        pivots: Vec::new(),
        elapsed_secs: state.elapsed_secs(),
        tokens: state.usage,
        cost_usd: (state.unpriced_calls == 0).then_some(state.cost_usd),
        retries: state.retries,
        evaluation_rounds: state.evaluations.len() as u32,
        findings_left: state.findings_left(),
        files_changed: files,
    }
}

/// A table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('\n', " ").replace('|', "\\|")
}

fn ids(v: &[crate::protocol::SubtaskId]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn bullet_list(out: &mut String, items: &[String], empty: &str) {
    if items.is_empty() {
        let _ = writeln!(out, "{empty}");
    }
    for i in items {
        let _ = writeln!(out, "- {}", i.trim());
    }
}

/// The run's report as Markdown.
pub fn render_markdown(state: &State) -> String {
    render_markdown_with(state, None)
}

/// The run's report as Markdown; with the journal's provenance, the deliverable's sections
/// carry footnotes to their subtasks and a provenance section ends the report.
pub fn render_markdown_with(state: &State, prov: Option<&Provenance>) -> String {
    let mut o = String::new();
    let title = if state.run_id.is_empty() {
        "Baton run".to_string()
    } else {
        format!("Baton run {}", state.run_id)
    };
    let _ = writeln!(o, "# {title}\n");
    let _ = writeln!(o, "- **Status:** {}", status_text(state));
    if let Some(at) = state.started_at {
        let _ = writeln!(o, "- **Started:** {}", at.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    if let Some(s) = &state.settings {
        let _ = writeln!(
            o,
            "- **Provider:** {} · orchestrator `{}` · workers `{}` · approve {} · max workers {}",
            s.provider, s.orchestrator_model, s.worker_model, s.approve, state.max_workers
        );
    }
    let _ = writeln!(o, "\n## Task\n\n{}\n", state.task.trim());

    let _ = writeln!(o, "## Deliverable\n");
    match &state.synthesis {
        Some(s) if prov.is_some() => {
            let text = provenance::annotate_deliverable(&s.deliverable, state);
            let _ = writeln!(o, "{text}\n");
        }
        Some(s) => {
            let _ = writeln!(o, "{}\n", s.deliverable.trim());
        }
        None => {
            let _ = writeln!(
                o,
                "_No synthesis yet: the run has not finished its work._\n"
            );
        }
    }

    let sum = summary(state);
    let _ = writeln!(o, "## Execution summary\n");
    let _ = writeln!(
        o,
        "- Subtasks: {} (initial estimate {}): {} completed, {} failed, {} cancelled, {} deferred",
        sum.subtasks_total,
        sum.initial_estimate,
        sum.completed,
        sum.failed,
        sum.cancelled,
        sum.deferred
    );
    if !sum.per_role.is_empty() {
        let roles: Vec<String> = sum
            .per_role
            .iter()
            .map(|(r, n)| format!("{} {n}", crate::state::role_label(r)))
            .collect();
        let _ = writeln!(o, "- Per role: {}", roles.join(", "));
    }
    let _ = writeln!(o, "- Replan cycles: {}", sum.replan_cycles);
    let _ = writeln!(o, "- Time: {}", duration_text(sum.elapsed_secs));
    usage::write_tokens(&mut o, state, &sum.tokens);
    let _ = writeln!(
        o,
        "- Cost: {}",
        match sum.cost_usd {
            Some(c) => format!("${c:.4}"),
            None => cost_text(state.cost_usd, state.unpriced_calls.max(1)),
        }
    );
    let _ = writeln!(o, "- Retries: {}", sum.retries);
    if sum.evaluation_rounds > 0 {
        let _ = writeln!(o, "- Evaluation rounds: {}", sum.evaluation_rounds);
    }
    if !sum.findings_left.is_empty() {
        let left = sanitize(&sum.findings_left.join("; ")).into_owned();
        let _ = writeln!(o, "- Findings left at the evaluation round limit: {left}");
    }
    if !sum.pivots.is_empty() {
        let _ = writeln!(o, "- Key pivots:");
        for p in &sum.pivots {
            let _ = writeln!(o, "  - {}", p.trim());
        }
    }
    let _ = writeln!(o);

    let _ = writeln!(o, "## Subtasks\n");
    if state.subtasks.is_empty() {
        let _ = writeln!(o, "_None._\n");
    } else {
        let _ = writeln!(
            o,
            "| id | title | role | status | attempts | tokens | cost |"
        );
        let _ = writeln!(o, "|---:|---|---|---|---:|---:|---:|");
        for s in &state.subtasks {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | ${:.4} |",
                s.id,
                cell(&s.title),
                cell(&crate::state::role_label(&s.role)),
                state.status_word(s, false), // a record, not a live view
                s.attempts,
                s.usage.total(),
                s.cost_usd
            );
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "## Replan log\n");
    if state.replan_log.is_empty() {
        let _ = writeln!(o, "_No replans._\n");
    }
    for r in &state.replan_log {
        let _ = writeln!(
            o,
            "### Cycle {} (covered {}; estimate {} → {})\n",
            r.cycle,
            ids(&r.covered),
            r.estimate_before,
            r.estimate_now
        );
        let _ = writeln!(o, "{}\n", r.summary.trim());
        let _ = writeln!(
            o,
            "- Added: {} · updated: {} · cancelled: {}",
            ids(&r.added),
            ids(&r.updated),
            ids(&r.cancelled)
        );
        if !r.scope_note.trim().is_empty() {
            let _ = writeln!(o, "- Scope: {}", r.scope_note.trim());
        }
        let _ = writeln!(o);
    }

    let (points, conflicts) = match &state.synthesis {
        Some(s) => (s.integration_points.clone(), s.conflicts.clone()),
        None => (Vec::new(), Vec::new()),
    };
    let _ = writeln!(o, "## Integration points\n");
    bullet_list(&mut o, &points, "_None recorded._");
    let _ = writeln!(o, "\n## Conflicts\n");
    let mut all_conflicts = conflicts;
    all_conflicts.extend(
        state
            .conflicts
            .iter()
            .map(|(id, path, detail)| format!("{path} ({id}): {detail}")),
    );
    bullet_list(&mut o, &all_conflicts, "_None recorded._");
    if let Some(s) = &state.synthesis
        && !s.coherence.trim().is_empty()
    {
        let _ = writeln!(o, "\n## Coherence\n\n{}", s.coherence.trim());
    }

    let _ = writeln!(o, "\n## Files changed\n");
    if state.files.is_empty() {
        let _ = writeln!(o, "_None._");
    } else {
        let _ = writeln!(o, "| path | subtask | change |");
        let _ = writeln!(o, "|---|---:|---|");
        let rolling = state.rollback_in_progress.as_ref();
        for f in &state.files {
            let interrupted = rolling.is_some_and(|r| r.id == f.id && r.files.contains(&f.path))
                && !f.rolled_back;
            let change = match (&f.before, &f.after, f.rolled_back) {
                _ if interrupted => "rollback started, not finished (interrupted)",
                (_, _, true) => "rolled back",
                (None, Some(_), _) => "created",
                (Some(_), None, _) => "deleted",
                _ => "modified",
            };
            let _ = writeln!(o, "| {} | {} | {} |", cell(&f.path), f.id, change);
        }
    }
    if let Some(p) = prov {
        let _ = writeln!(o, "\n{}", provenance::markdown_section(p).trim_end());
    }
    // One chokepoint: everything above may hold model text, files' names or reasons
    // from the journal. `export json` keeps the exact text.
    sanitize(&o).into_owned()
}

fn subtask_json(s: &Subtask) -> Value {
    json!({
        "id": s.id.0,
        "title": s.title,
        "description": s.description,
        "role": s.role,
        "priority": s.priority,
        "status": s.status,
        "origin": origin_text(&s.origin),
        "depends_on": s.depends_on.iter().map(|d| d.0).collect::<Vec<_>>(),
        "attempts": s.attempts,
        "model": s.model,
        "tokens": s.usage,
        "cost_usd": s.cost_usd,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "result": s.report.as_ref().map(|r| r.results.clone()),
        "report_status": s.report.as_ref().map(|r| r.status),
        "last_error": s.last_error,
        "files_changed": s.files_changed,
    })
}

/// The run's report as one JSON object (same content as the Markdown, structured).
pub fn render_json(state: &State) -> Value {
    let synthesis = state.synthesis.as_ref();
    json!({
        "run_id": state.run_id,
        "task": state.task,
        "status": status_text(state),
        "outcome": state.outcome,
        "phase": state.phase,
        "started_at": state.started_at,
        "settings": state.settings,
        "analysis": state.analysis,
        "deliverable": synthesis.map(|s| s.deliverable.clone()),
        "integration_points": synthesis.map(|s| s.integration_points.clone()).unwrap_or_default(),
        "conflicts": synthesis.map(|s| s.conflicts.clone()).unwrap_or_default(),
        "file_conflicts": state.conflicts.iter().map(|(id, path, detail)| json!({
            "subtask": id.0, "path": path, "detail": detail,
        })).collect::<Vec<_>>(),
        "coherence": synthesis.map(|s| s.coherence.clone()),
        "summary": summary(state),
        "cost_usd": state.cost_usd,
        "unpriced_calls": state.unpriced_calls,
        "subtasks": state.subtasks.iter().map(subtask_json).collect::<Vec<_>>(),
        "replan_log": state.replan_log,
        "scope_alerts": state.alerts,
        "evaluations": state.evaluations,
        "files_changed": state.files,
        "rollback_in_progress": state.rollback_in_progress,
    })
}

/// [`render_json`] with the journal's provenance under `"provenance"` (per subtask: added
/// by, attempts with role and model, tokens, cost, files, decisions; every decision with
/// who made it and when).
pub fn render_json_with(state: &State, prov: &Provenance) -> Value {
    let mut v = render_json(state);
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "provenance".into(),
            serde_json::to_value(prov).unwrap_or(Value::Null),
        );
    }
    v
}

/// `baton export RUN`: folds the run's journal and writes the report to `output` (or
/// stdout). Returns the exit code: 0 written, 2 no such run, 1 the journal or the output
/// could not be read or written. Problems are printed on stderr.
pub fn export_command(
    data_dir: &Path,
    run: &str,
    format: ExportFormat,
    output: Option<&Path>,
) -> i32 {
    let run_dir = match journal::resolve_run(data_dir, run) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("baton: {e}");
            return match e {
                JournalError::Io(_) => 1,
                _ => 2,
            };
        }
    };
    if let Some(file) = output
        && let Some(inside) = journal::inside_runs_dir(data_dir, file)
    {
        eprintln!(
            "baton: will not write {}: it is inside the run directory {} (Baton's own \
             records); choose a file elsewhere",
            file.display(),
            inside.display()
        );
        return 2;
    }
    let path = run_dir.join(journal::JOURNAL_FILE);
    let replay = match journal::replay(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("baton: cannot read the journal {}: {e}", path.display());
            return 1;
        }
    };
    if replay.torn_line_dropped {
        eprintln!(
            "baton: note: the last line of {} is incomplete and was left out",
            path.display()
        );
    }
    for damage in &replay.corrupt_lines {
        eprintln!(
            "baton: warning: {} of {} is damaged and was left out",
            damage,
            path.display()
        );
    }
    let state = State::fold(&replay.events);
    let prov = provenance::build(&replay.events);
    let damage: Vec<String> = replay
        .corrupt_lines
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut text = match format {
        ExportFormat::Md => {
            let mut md = render_markdown_with(&state, Some(&prov));
            if !damage.is_empty() {
                md.insert_str(0, &damage_note(&damage));
            }
            md
        }
        ExportFormat::Json => {
            let mut json = render_json_with(&state, &prov);
            json["journal_damage"] = json!(damage);
            match serde_json::to_string_pretty(&json) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("baton: cannot write the report as JSON: {e}");
                    return 1;
                }
            }
        }
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match output {
        Some(file) => match std::fs::write(file, &text) {
            Ok(()) => {
                eprintln!("baton: wrote {}", file.display());
                0
            }
            Err(e) => {
                eprintln!("baton: cannot write {}: {e}", file.display());
                1
            }
        },
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("baton: cannot write the report: {e}");
                    1
                }
            }
        }
    }
}

/// The statement at the top of a report from a damaged journal: what is missing.
fn damage_note(damage: &[String]) -> String {
    let mut note = String::from(
        "> **The journal is damaged**: this report shows only what is readable, and the \
         run cannot be continued.\n",
    );
    for d in damage {
        note.push_str(&format!(">\n> - {}\n", cell(d)));
    }
    note.push('\n');
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(4.24), "4.2s");
        assert_eq!(duration_text(123.0), "2m 03s");
        assert_eq!(duration_text(3723.0), "1h 02m 03s");
    }

    #[test]
    fn an_empty_run_still_renders() {
        let state = State::default();
        let md = render_markdown(&state);
        assert!(md.contains("## Deliverable") && md.contains("No synthesis yet"));
        assert_eq!(render_json(&state)["deliverable"], Value::Null);
    }

    #[test]
    fn table_cells_stay_on_one_line() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
