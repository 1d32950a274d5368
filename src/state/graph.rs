//! The plan as a graph: subtasks in dependency layers, the critical path of the work that
//! remains, and an estimate of the time to finish if nothing else fails.
//!
//! Pure over the [`State`] and a clock reading (`now`); shared by the TUI's graph view and
//! `baton graph`, so both say the same thing.
//!
//! Decisions (issue 11, "live DAG view"):
//! - A subtask's layer is 1 + the deepest layer among its dependencies (layer 0: none).
//!   Dependencies on unknown ids are ignored; a cycle (which the planner rejects, but a
//!   damaged journal could still hold) is broken at the edge that closes it, never a loop.
//! - Expected duration per role: the mean wall time of this run's finished attempts of
//!   that role (started → finished); a role with none yet uses the mean over every role;
//!   before anything has finished there is no estimate (`None`), and the view says so
//!   rather than guessing.
//! - Remaining time of a subtask: 0 when it is finished (complete, partial, cancelled);
//!   expected − elapsed (at least 0) while running; the expected duration otherwise.
//! - The critical path is the longest chain of remaining time through unfinished subtasks
//!   (ties broken by the lower id, so it is stable between frames). The time to finish is
//!   the larger of that chain and the remaining work spread over the run's workers: a
//!   lower bound that holds "if nothing else fails".

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{State, Subtask, SubtaskStatus};
use crate::protocol::SubtaskId;

/// The plan laid out for drawing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Layer `i` holds the subtasks whose deepest dependency is in layer `i - 1`, by id.
    pub layers: Vec<Vec<SubtaskId>>,
    /// The chain of unfinished subtasks with the most remaining time, first to last.
    pub critical: Vec<SubtaskId>,
    /// Seconds of remaining time along the critical path (`None`: nothing has finished yet,
    /// so there is no observed duration to estimate from).
    pub critical_secs: Option<f64>,
    /// Estimated seconds to finish: the critical path or the remaining work over the
    /// workers, whichever is longer (`None` as above; `Some(0.0)` when nothing remains).
    pub eta_secs: Option<f64>,
    /// Expected seconds per role, from this run's finished attempts.
    pub role_secs: BTreeMap<String, f64>,
}

impl Graph {
    /// Is `id` on the critical path?
    pub fn is_critical(&self, id: SubtaskId) -> bool {
        self.critical.contains(&id)
    }

    /// The layer holding `id`.
    pub fn layer_of(&self, id: SubtaskId) -> Option<usize> {
        self.layers.iter().position(|l| l.contains(&id))
    }
}

/// Subtasks that depend on `id`, by id.
pub fn dependents(state: &State, id: SubtaskId) -> Vec<SubtaskId> {
    state
        .subtasks
        .iter()
        .filter(|s| s.depends_on.contains(&id))
        .map(|s| s.id)
        .collect()
}

/// Lays the plan out and finds its critical path as of `now`.
pub fn graph(state: &State, now: DateTime<Utc>) -> Graph {
    let layers = layers(state);
    let role_secs = role_durations(state);
    let overall = mean(role_secs.values().copied());
    let expected = |s: &Subtask| role_secs.get(&s.role).copied().or(overall);
    let remaining = |s: &Subtask| -> Option<f64> {
        match s.status {
            st if st.is_terminal() => Some(0.0),
            SubtaskStatus::Running => {
                let spent = s
                    .started_at
                    .map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(0.0);
                expected(s).map(|e| (e - spent).max(0.0))
            }
            _ => expected(s),
        }
    };
    // Longest remaining chain ending at each subtask, in layer order (dependencies first).
    // Without an estimate yet, every unfinished subtask counts 1 so the chain is still found.
    let have_estimate = overall.is_some();
    let mut best: HashMap<SubtaskId, (f64, Option<SubtaskId>)> = HashMap::new();
    for id in layers.iter().flatten() {
        let Some(s) = state.subtask(*id) else {
            continue;
        };
        if s.status.is_terminal() {
            continue;
        }
        let own = if have_estimate {
            remaining(s).unwrap_or(0.0)
        } else {
            1.0
        };
        let mut prev: Option<(f64, SubtaskId)> = None;
        for d in &s.depends_on {
            if let Some(&(len, _)) = best.get(d)
                && prev.is_none_or(|(l, p)| len > l || (len == l && *d < p))
            {
                prev = Some((len, *d));
            }
        }
        best.insert(*id, (own + prev.map_or(0.0, |p| p.0), prev.map(|p| p.1)));
    }
    let mut end: Option<(f64, SubtaskId)> = None;
    for (id, (len, _)) in &best {
        if end.is_none_or(|(l, e)| *len > l || (*len == l && *id < e)) {
            end = Some((*len, *id));
        }
    }
    let mut critical = Vec::new();
    let mut at = end.map(|e| e.1);
    while let Some(id) = at {
        if critical.contains(&id) {
            break;
        }
        critical.push(id);
        at = best.get(&id).and_then(|b| b.1);
    }
    critical.reverse();
    let (critical_secs, eta_secs) = if have_estimate {
        let chain = end.map_or(0.0, |e| e.0);
        let work: f64 = state.subtasks.iter().filter_map(remaining).sum();
        let workers = f64::from(state.max_workers.max(1));
        (Some(chain), Some(chain.max(work / workers)))
    } else if best.is_empty() {
        (Some(0.0), Some(0.0))
    } else {
        (None, None)
    };
    Graph {
        layers,
        critical,
        critical_secs,
        eta_secs,
        role_secs,
    }
}

/// Subtasks by dependency depth; within a layer by id.
fn layers(state: &State) -> Vec<Vec<SubtaskId>> {
    let mut depth: HashMap<SubtaskId, usize> = HashMap::new();
    for s in &state.subtasks {
        let mut on_path = Vec::new();
        depth_of(state, s.id, &mut depth, &mut on_path);
    }
    let mut layers: Vec<Vec<SubtaskId>> = Vec::new();
    for s in &state.subtasks {
        let d = depth.get(&s.id).copied().unwrap_or(0);
        if layers.len() <= d {
            layers.resize_with(d + 1, Vec::new);
        }
        layers[d].push(s.id);
    }
    layers
}

/// Depth of `id`, memoised; `on_path` breaks cycles (an edge back onto the path is ignored).
/// Iterative, so a long chain from a journal cannot overflow the stack.
fn depth_of(
    state: &State,
    id: SubtaskId,
    memo: &mut HashMap<SubtaskId, usize>,
    on_path: &mut Vec<SubtaskId>,
) {
    // Frames: (subtask, index of the next dependency to look at).
    let mut stack: Vec<(SubtaskId, usize)> = vec![(id, 0)];
    on_path.push(id);
    while let Some(&mut (cur, ref mut next)) = stack.last_mut() {
        if memo.contains_key(&cur) {
            stack.pop();
            on_path.pop();
            continue;
        }
        let deps: &[SubtaskId] = state
            .subtask(cur)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or(&[]);
        if let Some(&d) = deps.get(*next) {
            *next += 1;
            if state.subtask(d).is_some() && !memo.contains_key(&d) && !on_path.contains(&d) {
                stack.push((d, 0));
                on_path.push(d);
            }
            continue;
        }
        let d = deps
            .iter()
            .filter_map(|d| memo.get(d))
            .max()
            .map_or(0, |m| m + 1);
        memo.insert(cur, d);
        stack.pop();
        on_path.pop();
    }
}

/// Mean seconds per role over this run's finished attempts.
fn role_durations(state: &State) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, u32)> = BTreeMap::new();
    for s in &state.subtasks {
        if let (Some(a), Some(b)) = (s.started_at, s.finished_at)
            && b >= a
        {
            let e = sums.entry(s.role.clone()).or_insert((0.0, 0));
            e.0 += (b - a).num_milliseconds() as f64 / 1000.0;
            e.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(role, (sum, n))| (role, sum / f64::from(n)))
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}
