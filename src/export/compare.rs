//! `baton compare RUN RUN [--json]`: two runs side by side (typically a run and its fork).
//!
//! Owns: the comparison's content ([`compare`]: outcome, subtasks, tokens, cost, time,
//! decisions by maker, subtasks matched by title) and its text and JSON layouts. Reads
//! journals only; model-written text (titles) is stripped of control characters before it
//! reaches the terminal.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::provenance::{self, Decision, actor_name};
use super::{cost_text, duration_text, fork, status_text, summary};
use crate::protocol::Actor;
use crate::state::State;

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub run_id: String,
    pub status: String,
    pub forked_from: Option<(String, u64)>,
    pub subtasks_total: u32,
    pub completed: u32,
    pub failed: u32,
    pub cancelled: u32,
    pub tokens: u64,
    pub cost_usd: f64,
    pub unpriced_calls: u32,
    pub elapsed_secs: f64,
    pub replan_cycles: u32,
    /// Decisions by maker: person, policy, orchestrator, engine.
    pub decisions_by: Vec<(String, usize)>,
    pub decisions: Vec<Decision>,
    pub has_deliverable: bool,
}

/// A subtask title and how it went on each side (`None`: not in that run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub title: String,
    pub a: Option<Cell>,
    pub b: Option<Cell>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub id: u32,
    pub status: String,
    pub role: String,
    pub cost_usd: f64,
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub a: Side,
    pub b: Side,
    pub subtasks: Vec<Row>,
    /// The number of leading events the two journals share (a fork's point), when one is a
    /// fork of the other.
    pub shared_prefix: Option<u64>,
}

fn side(state: &State, events: &[crate::protocol::Envelope]) -> Side {
    let sum = summary(state);
    let decisions = provenance::decisions(events);
    let decisions_by = [
        Actor::Person,
        Actor::Policy,
        Actor::Orchestrator,
        Actor::Engine,
    ]
    .into_iter()
    .map(|a| {
        (
            actor_name(a).to_string(),
            decisions.iter().filter(|d| d.by == a).count(),
        )
    })
    .collect();
    Side {
        run_id: state.run_id.clone(),
        status: status_text(state),
        forked_from: state.forked_from.clone(),
        subtasks_total: sum.subtasks_total,
        completed: sum.completed,
        failed: sum.failed,
        cancelled: sum.cancelled,
        tokens: state.usage.total(),
        cost_usd: state.cost_usd,
        unpriced_calls: state.unpriced_calls,
        elapsed_secs: state.elapsed_secs(),
        replan_cycles: sum.replan_cycles,
        decisions_by,
        decisions,
        has_deliverable: state.synthesis.is_some(),
    }
}

/// Compares two folded runs.
pub fn compare(
    a: (&State, &[crate::protocol::Envelope]),
    b: (&State, &[crate::protocol::Envelope]),
) -> Comparison {
    let cell = |s: &crate::state::Subtask| Cell {
        id: s.id.0,
        status: s.status.label().to_string(),
        role: s.role.clone(),
        cost_usd: s.cost_usd,
    };
    let mut rows: Vec<Row> =
        a.0.subtasks
            .iter()
            .map(|s| Row {
                title: s.title.clone(),
                a: Some(cell(s)),
                b: None,
            })
            .collect();
    for s in &b.0.subtasks {
        match rows
            .iter_mut()
            .find(|r| r.b.is_none() && r.title == s.title)
        {
            Some(r) => r.b = Some(cell(s)),
            None => rows.push(Row {
                title: s.title.clone(),
                a: None,
                b: Some(cell(s)),
            }),
        }
    }
    let shared_prefix = match (&a.0.forked_from, &b.0.forked_from) {
        (Some((p, seq)), _) if *p == b.0.run_id => Some(*seq),
        (_, Some((p, seq))) if *p == a.0.run_id => Some(*seq),
        (Some((pa, sa)), Some((pb, sb))) if pa == pb => Some((*sa).min(*sb)),
        _ => None,
    };
    Comparison {
        a: side(a.0, a.1),
        b: side(b.0, b.1),
        subtasks: rows,
        shared_prefix,
    }
}

/// Control characters out, one line.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn clip(s: &str, max: usize) -> String {
    let s = clean(s);
    if s.chars().count() > max {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn cell_text(c: &Option<Cell>) -> String {
    match c {
        Some(c) => format!("#{} {} ${:.4}", c.id, c.status, c.cost_usd),
        None => "-".into(),
    }
}

/// The comparison as aligned text.
pub fn render_text(c: &Comparison) -> String {
    let mut o = String::new();
    let decisions = |s: &Side| {
        s.decisions_by
            .iter()
            .map(|(who, n)| format!("{who} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows: Vec<(&str, String, String)> = vec![
        ("run", clean(&c.a.run_id), clean(&c.b.run_id)),
        ("outcome", clip(&c.a.status, 40), clip(&c.b.status, 40)),
        (
            "subtasks",
            format!(
                "{} ({} done, {} failed, {} cancelled)",
                c.a.subtasks_total, c.a.completed, c.a.failed, c.a.cancelled
            ),
            format!(
                "{} ({} done, {} failed, {} cancelled)",
                c.b.subtasks_total, c.b.completed, c.b.failed, c.b.cancelled
            ),
        ),
        (
            "replans",
            c.a.replan_cycles.to_string(),
            c.b.replan_cycles.to_string(),
        ),
        ("tokens", c.a.tokens.to_string(), c.b.tokens.to_string()),
        (
            "cost",
            cost_text(c.a.cost_usd, c.a.unpriced_calls),
            cost_text(c.b.cost_usd, c.b.unpriced_calls),
        ),
        (
            "time",
            duration_text(c.a.elapsed_secs),
            duration_text(c.b.elapsed_secs),
        ),
        ("decisions", decisions(&c.a), decisions(&c.b)),
        (
            "deliverable",
            if c.a.has_deliverable { "yes" } else { "no" }.into(),
            if c.b.has_deliverable { "yes" } else { "no" }.into(),
        ),
    ];
    let w0 = 12;
    let w1 = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    if let Some(seq) = c.shared_prefix {
        let _ = writeln!(o, "The runs share their first {seq} events (a fork).\n");
    }
    for (k, a, b) in &rows {
        let pad = w1.saturating_sub(a.chars().count());
        let _ = writeln!(o, "{k:<w0$}{a}{}  {b}", " ".repeat(pad));
    }
    let _ = writeln!(o, "\nSubtasks (matched by title):");
    let title_w = 36;
    for r in &c.subtasks {
        let a = cell_text(&r.a);
        let _ = writeln!(
            o,
            "  {:<title_w$}  {:<28}  {}",
            clip(&r.title, title_w),
            a,
            cell_text(&r.b)
        );
    }
    let _ = writeln!(o, "\nDecisions after the shared prefix:");
    let from = c.shared_prefix.unwrap_or(0);
    for (name, side) in [("A", &c.a), ("B", &c.b)] {
        let later: Vec<&Decision> = side.decisions.iter().filter(|d| d.seq > from).collect();
        if later.is_empty() {
            let _ = writeln!(o, "  {name}: none");
        }
        for d in later {
            let _ = writeln!(
                o,
                "  {name} d{:<3} {:<12} {:<11} {}{}",
                d.n,
                actor_name(d.by),
                d.kind,
                d.subtask.map_or_else(String::new, |i| format!("#{i} ")),
                clip(&d.detail, 60)
            );
        }
    }
    o
}

/// `baton compare A B [--json]`: prints the comparison; returns the exit code (0, or 2 for
/// an unknown run, 1 for an unreadable journal).
pub fn compare_command(data_dir: &Path, a: &str, b: &str, json: bool) -> i32 {
    let load = |run: &str| fork::load(data_dir, run);
    let (ra, rb) = match (load(a), load(b)) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("baton: {e}");
            return e.exit_code();
        }
    };
    let (sa, sb) = (State::fold(&ra.2.events), State::fold(&rb.2.events));
    let c = compare((&sa, &ra.2.events), (&sb, &rb.2.events));
    if json {
        let v = serde_json::to_value(&c).unwrap_or(Value::Null);
        match serde_json::to_string_pretty(&v) {
            Ok(t) => println!("{t}"),
            Err(e) => {
                eprintln!("baton: cannot write the comparison as JSON: {e}");
                return 1;
            }
        }
    } else {
        print!("{}", render_text(&c));
    }
    0
}
