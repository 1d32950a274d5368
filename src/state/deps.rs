//! Dependency resolution for new subtasks: `depends_on` entries written as `#id`, `id` or an
//! exact title (case-insensitive) are resolved among the existing subtasks and the same
//! batch; unknown references, unknown roles and cycles reject the subtask with a reason
//! (and so do subtasks that depend on a rejected one), so a bad plan is never a deadlock.
//!
//! Pure over the [`State`]; must not journal.

use std::collections::HashMap;

use super::{State, SubtaskStatus};
use crate::protocol::*;

/// The outcome of planning one batch of new subtasks.
#[derive(Debug, Default)]
pub struct Batch {
    /// Accepted subtasks with final ids, in input order, and the input index of each.
    pub accepted: Vec<(usize, SubtaskSpec)>,
    /// `(title, reason)` of each rejected one.
    pub rejected: Vec<(String, String)>,
}

/// `#3`, `3` or an exact title (latest non-cancelled match first) of an existing subtask.
pub fn resolve_ref(state: &State, r: &str) -> Option<SubtaskId> {
    let t = r.trim();
    let num = t.strip_prefix('#').unwrap_or(t);
    if let Ok(n) = num.parse::<u32>() {
        return state.subtask(SubtaskId(n)).map(|s| s.id);
    }
    find_title(state, t)
}

fn find_title(state: &State, title: &str) -> Option<SubtaskId> {
    let t = title.trim().to_lowercase();
    let mut matches = state
        .subtasks
        .iter()
        .rev()
        .filter(|s| s.title.trim().to_lowercase() == t);
    let all: Vec<_> = matches.by_ref().collect();
    all.iter()
        .find(|s| s.status != SubtaskStatus::Cancelled)
        .or(all.first())
        .map(|s| s.id)
}

/// Resolves a batch of proposed subtasks against the state.
pub fn plan_batch(state: &State, items: &[ProposedSubtask], roles: &[String]) -> Batch {
    let base = state.next_id().0;
    let n = items.len();
    let mut reason: Vec<Option<String>> = vec![None; n];
    // Tentative dependencies: Existing(id) or Batch(index).
    #[derive(Clone, Copy, PartialEq)]
    enum Dep {
        Existing(SubtaskId),
        Batch(usize),
    }
    let titles: Vec<String> = items
        .iter()
        .map(|p| p.title.trim().to_lowercase())
        .collect();
    let mut deps: Vec<Vec<Dep>> = vec![Vec::new(); n];
    for (i, p) in items.iter().enumerate() {
        if p.title.trim().is_empty() {
            reason[i] = Some("the title is empty".into());
            continue;
        }
        if let Err(refusal) = State::check_role(&p.role, roles) {
            reason[i] = Some(refusal.to_string());
            continue;
        }
        for d in &p.depends_on {
            let t = d.trim();
            if t.is_empty() {
                continue;
            }
            let num = t.strip_prefix('#').unwrap_or(t);
            let dep = if let Ok(k) = num.parse::<u32>() {
                if k >= 1 && k < base {
                    Some(Dep::Existing(SubtaskId(k)))
                } else if k >= base && ((k - base) as usize) < n {
                    Some(Dep::Batch((k - base) as usize))
                } else {
                    None
                }
            } else if let Some(j) = titles.iter().position(|x| *x == t.to_lowercase()) {
                Some(Dep::Batch(j))
            } else {
                find_title(state, t).map(Dep::Existing)
            };
            match dep {
                Some(dep) if dep == Dep::Batch(i) => {
                    reason[i] = Some("it depends on itself".into());
                }
                Some(dep) => {
                    if !deps[i].contains(&dep) {
                        deps[i].push(dep);
                    }
                }
                None => {
                    reason[i] = Some(format!(
                        "depends on \"{t}\", which is neither the id nor the title of a subtask"
                    ));
                }
            }
            if reason[i].is_some() {
                break;
            }
        }
    }
    // Cycles within the batch (existing subtasks never depend on new ones).
    for i in 0..n {
        if reason[i].is_none() {
            let cyclic = in_cycle(i, &deps, |d| match d {
                Dep::Batch(j) => Some(*j),
                Dep::Existing(_) => None,
            });
            if cyclic {
                reason[i] = Some(format!(
                    "dependency cycle: \"{}\" (indirectly) depends on itself",
                    items[i].title
                ));
            }
        }
    }
    // Subtasks that depend on rejected ones are rejected too (to a fixpoint).
    loop {
        let mut changed = false;
        for i in 0..n {
            if reason[i].is_some() {
                continue;
            }
            if let Some(j) = deps[i].iter().find_map(|d| match d {
                Dep::Batch(j) if reason[*j].is_some() => Some(*j),
                _ => None,
            }) {
                reason[i] = Some(format!(
                    "depends on \"{}\", which was rejected",
                    items[j].title
                ));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut final_id: HashMap<usize, SubtaskId> = HashMap::new();
    let mut next = base;
    for (i, r) in reason.iter().enumerate() {
        if r.is_none() {
            final_id.insert(i, SubtaskId(next));
            next += 1;
        }
    }
    let mut batch = Batch::default();
    for (i, p) in items.iter().enumerate() {
        match &reason[i] {
            Some(r) => batch.rejected.push((p.title.clone(), r.clone())),
            None => {
                let depends_on = deps[i]
                    .iter()
                    .filter_map(|d| match d {
                        Dep::Existing(id) => Some(*id),
                        Dep::Batch(j) => final_id.get(j).copied(),
                    })
                    .collect();
                batch.accepted.push((
                    i,
                    SubtaskSpec {
                        id: final_id.get(&i).copied().unwrap_or(SubtaskId(0)),
                        title: p.title.trim().to_string(),
                        description: p.description.clone(),
                        role: p.role.clone(),
                        priority: p.priority,
                        depends_on,
                        expected_output: p.expected_output.clone(),
                    },
                ));
            }
        }
    }
    batch
}

/// Can `start` reach itself through `edge`s?
fn in_cycle<D>(start: usize, deps: &[Vec<D>], edge: impl Fn(&D) -> Option<usize>) -> bool {
    let mut stack: Vec<usize> = deps[start].iter().filter_map(&edge).collect();
    let mut seen = vec![false; deps.len()];
    while let Some(k) = stack.pop() {
        if k == start {
            return true;
        }
        if seen[k] {
            continue;
        }
        seen[k] = true;
        stack.extend(deps[k].iter().filter_map(&edge));
    }
    false
}

/// Would giving `id` these dependencies create a cycle (or point at unknown subtasks)?
///
/// A running subtask cannot be given a dependency that is not done yet: its worker started
/// without that result, so the plan would say it waits for something it is not waiting
/// for. Decision (issue 10): a person's edit is refused (whoever wants it redone cancels or
/// escalates it). A replan first goes through `on_replan_conflict` (issue 12, engine
/// `conflicts.rs`): `restart` and `ask` stop the worker, after which the dependency is
/// allowed; under `finish` the worker keeps running and this refusal applies (a journaled
/// notice; the orchestrator sees the dependencies unchanged in its next context).
pub fn check_new_deps(state: &State, id: SubtaskId, new_deps: &[SubtaskId]) -> Result<(), String> {
    let running = state
        .subtask(id)
        .filter(|s| s.status == SubtaskStatus::Running);
    for d in new_deps {
        let Some(dep) = state.subtask(*d) else {
            return Err(format!("there is no subtask {d}"));
        };
        if *d == id {
            return Err(format!("{id} cannot depend on itself"));
        }
        if let Some(s) = running
            && !s.depends_on.contains(d)
            && !dep.status.satisfies_dependency()
        {
            return Err(format!(
                "{id} is already running, so it cannot start waiting for {d}, which is not done"
            ));
        }
    }
    // Does any new dependency reach `id`?
    let mut stack: Vec<SubtaskId> = new_deps.to_vec();
    let mut seen = vec![false; state.subtasks.len() + 1];
    while let Some(cur) = stack.pop() {
        if cur == id {
            return Err(format!("that would make a dependency cycle through {id}"));
        }
        let k = cur.0 as usize;
        if k >= seen.len() || seen[k] {
            continue;
        }
        seen[k] = true;
        if let Some(s) = state.subtask(cur) {
            stack.extend(s.depends_on.iter().copied());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(title: &str, deps: &[&str]) -> ProposedSubtask {
        ProposedSubtask {
            title: title.into(),
            description: "d".into(),
            role: "r".into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            priority: Priority::Normal,
            expected_output: String::new(),
        }
    }

    #[test]
    fn resolves_titles_ids_and_rejects_cycles_and_unknowns() {
        let state = State::default();
        let roles = vec!["r".to_string()];
        let items = vec![
            p("A", &[]),
            p("B", &["a"]),
            p("C", &["#2", "D"]),
            p("D", &["C"]),
            p("E", &["nope"]),
            p("F", &["E"]),
            p("G", &["1", "B"]),
        ];
        let b = plan_batch(&state, &items, &roles);
        let titles: Vec<&str> = b.accepted.iter().map(|(_, s)| s.title.as_str()).collect();
        assert_eq!(titles, ["A", "B", "G"]);
        assert_eq!(b.accepted[2].1.id, SubtaskId(3));
        assert_eq!(b.accepted[2].1.depends_on, vec![SubtaskId(1), SubtaskId(2)]);
        assert_eq!(b.accepted[1].1.depends_on, vec![SubtaskId(1)]);
        let rejected: Vec<&str> = b.rejected.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(rejected, ["C", "D", "E", "F"]);
        assert!(b.rejected[0].1.contains("cycle"));
        assert!(b.rejected[2].1.contains("nope"));
        assert!(b.rejected[3].1.contains("rejected"));
    }
}
