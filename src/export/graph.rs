//! `baton graph RUN`: the plan as a graph outside the TUI, as text (layers, the critical
//! path, the time to finish), Graphviz `dot`, or JSON; the text form is also what the TUI's
//! graph view copies (`y`) and opens (`v`).
//!
//! Owns those three renderings. The layout and the critical path come from
//! `state::graph`, so the TUI and this command agree. Titles are model text: sanitized for
//! the terminal in text, escaped in `dot` and JSON. The clock is the run's last event
//! (a run read from disk is not running now, whatever its last state said).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::protocol::SubtaskId;
use crate::state::graph::{Graph, dependents, graph};
use crate::state::{State, SubtaskStatus};
use crate::text::{duration, one_line};

/// How `baton graph` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Layers, critical path and time to finish, for a person.
    Text,
    /// Graphviz (`baton graph RUN --format dot | dot -Tsvg > plan.svg`).
    Dot,
    /// One JSON object for scripts.
    Json,
}

#[derive(Debug, Serialize)]
struct JsonNode {
    id: u32,
    title: String,
    role: String,
    status: SubtaskStatus,
    layer: usize,
    depends_on: Vec<u32>,
    critical: bool,
}

#[derive(Debug, Serialize)]
struct JsonGraph {
    run_id: String,
    layers: Vec<Vec<u32>>,
    critical_path: Vec<u32>,
    critical_path_secs: Option<f64>,
    eta_secs: Option<f64>,
    role_secs: std::collections::BTreeMap<String, f64>,
    nodes: Vec<JsonNode>,
}

fn ids(v: &[SubtaskId], sep: &str) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// One sentence on the critical path and the time to finish, as the graph view's title
/// line says it.
pub fn summary_line(g: &Graph) -> String {
    if g.critical.is_empty() {
        return "nothing left to run".to_string();
    }
    let path = ids(&g.critical, " → ");
    match g.eta_secs {
        Some(eta) => format!(
            "critical path {path} · ~{} to finish if nothing else fails",
            duration(eta)
        ),
        None => format!("critical path {path} · no time estimate until a subtask finishes"),
    }
}

/// The plan for a person: one block per layer, `*` on the critical path.
pub fn render_text(state: &State, g: &Graph) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Plan of run {} · {} subtasks in {} layers",
        one_line(&state.run_id, 40),
        state.subtasks.len(),
        g.layers.len()
    );
    let _ = writeln!(o, "{}", summary_line(g));
    if !g.role_secs.is_empty() {
        let roles: Vec<String> = g
            .role_secs
            .iter()
            .map(|(r, s)| format!("{} {}", one_line(r, 30), duration(*s)))
            .collect();
        let _ = writeln!(o, "observed time per subtask: {}", roles.join(", "));
    }
    for (i, layer) in g.layers.iter().enumerate() {
        let _ = writeln!(o, "\nlayer {}", i + 1);
        for id in layer {
            let Some(s) = state.subtask(*id) else {
                continue;
            };
            let crit = if g.is_critical(*id) { "*" } else { " " };
            let deps = if s.depends_on.is_empty() {
                String::new()
            } else {
                format!("  <- {}", ids(&s.depends_on, " "))
            };
            let _ = writeln!(
                o,
                "  {crit} {:<5} {:<17} {:<20} {}{deps}",
                id.to_string(),
                s.status.label(),
                one_line(&s.role, 20),
                one_line(&s.title, 60),
            );
        }
    }
    o
}

/// Graphviz: a node per subtask (label `#id title`, status), edges dependency → dependent,
/// the critical path bold.
pub fn render_dot(state: &State, g: &Graph) -> String {
    let esc = |s: &str| one_line(s, 60).replace('\\', "\\\\").replace('"', "\\\"");
    let mut o = String::from("digraph plan {\n  rankdir=LR;\n  node [shape=box];\n");
    for s in &state.subtasks {
        let style = if g.is_critical(s.id) {
            ", style=bold, color=red"
        } else {
            ""
        };
        let _ = writeln!(
            o,
            "  n{} [label=\"{} {}\\n{} · {}\"{style}];",
            s.id.0,
            s.id,
            esc(&s.title),
            esc(&s.role),
            s.status.label()
        );
    }
    for s in &state.subtasks {
        for d in &s.depends_on {
            if state.subtask(*d).is_none() {
                continue;
            }
            let on_path = g.critical.windows(2).any(|w| w[0] == *d && w[1] == s.id);
            let style = if on_path {
                " [style=bold, color=red]"
            } else {
                ""
            };
            let _ = writeln!(o, "  n{} -> n{}{style};", d.0, s.id.0);
        }
    }
    o.push_str("}\n");
    o
}

fn to_json(state: &State, g: &Graph) -> JsonGraph {
    let n = |v: &[SubtaskId]| v.iter().map(|i| i.0).collect::<Vec<_>>();
    JsonGraph {
        run_id: state.run_id.clone(),
        layers: g.layers.iter().map(|l| n(l)).collect(),
        critical_path: n(&g.critical),
        critical_path_secs: g.critical_secs,
        eta_secs: g.eta_secs,
        role_secs: g.role_secs.clone(),
        nodes: state
            .subtasks
            .iter()
            .map(|s| JsonNode {
                id: s.id.0,
                title: s.title.clone(),
                role: s.role.clone(),
                status: s.status,
                layer: g.layer_of(s.id).unwrap_or(0),
                depends_on: n(&s.depends_on),
                critical: g.is_critical(s.id),
            })
            .collect(),
    }
}

/// What a subtask is linked to, for the view's info line: `← #1 #2 · → #7`.
pub fn links(state: &State, id: SubtaskId) -> String {
    let mut parts = Vec::new();
    if let Some(s) = state.subtask(id)
        && !s.depends_on.is_empty()
    {
        parts.push(format!("← {}", ids(&s.depends_on, " ")));
    }
    let after = dependents(state, id);
    if !after.is_empty() {
        parts.push(format!("→ {}", ids(&after, " ")));
    }
    parts.join(" · ")
}

/// `baton graph RUN [--format text|dot|json]`: what to print, or the exit code after the
/// reason went to stderr (2 for an unknown run, 1 for an unreadable journal).
pub fn graph_command(data_dir: &Path, run: &str, format: GraphFormat) -> Result<String, i32> {
    let (_, _, replay) = match super::fork::load(data_dir, run) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("baton: {e}");
            return Err(e.exit_code());
        }
    };
    let state = State::fold(&replay.events);
    let now = state.last_event_at.unwrap_or_else(chrono::Utc::now);
    let g = graph(&state, now);
    match format {
        GraphFormat::Text => Ok(render_text(&state, &g)),
        GraphFormat::Dot => Ok(render_dot(&state, &g)),
        GraphFormat::Json => match serde_json::to_string_pretty(&to_json(&state, &g)) {
            Ok(t) => Ok(t + "\n"),
            Err(e) => {
                eprintln!("baton: cannot write the graph as JSON: {e}");
                Err(1)
            }
        },
    }
}
