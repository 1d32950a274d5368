//! `baton runs`: the table of runs (id, start, status with an interrupted rollback and a
//! worktree run's branch, subtasks, cost, task), every cell from disk sanitised.

use std::path::Path;

use crate::journal::RunSummary;
use crate::text::{one_line, sanitize};

/// `baton runs`: one aligned row per run, newest first, or a hint when there are none.
pub fn runs_table(runs: &[RunSummary], runs_dir: &Path) -> String {
    if runs.is_empty() {
        return format!(
            "no runs yet (runs are kept in {}); start one with `baton \"TASK\"`\n",
            runs_dir.display()
        );
    }
    let rows: Vec<[String; 6]> = runs
        .iter()
        .rev()
        .map(|r| {
            [
                sanitize(&r.id).into_owned(),
                r.started
                    .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                match r.rollback_in_progress {
                    // Said until a process that opens the run finishes it.
                    Some(id) => format!("{}, rollback of {id} interrupted", r.status.label()),
                    None => r.status.label().to_string(),
                } + &r.branch.as_deref().map_or(String::new(), |b| {
                    format!(", on {}", crate::isolation::shown_branch(b))
                }),
                r.subtasks.to_string(),
                if r.cost_incomplete {
                    format!("≥${:.2}", r.cost_usd)
                } else {
                    format!("${:.2}", r.cost_usd)
                },
                one_line(&r.task, 60),
            ]
        })
        .collect();
    let header = ["ID", "STARTED (UTC)", "STATUS", "SUBTASKS", "COST", "TASK"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            match i {
                3 | 4 => l.push_str(&format!("{}{cell}  ", " ".repeat(pad))),
                5 => l.push_str(cell),
                _ => l.push_str(&format!("{cell}{}  ", " ".repeat(pad))),
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    out
}
