//! A change of the plan held for a person under the `plan` approval policy: the proposed
//! diff ([`PlanChange`] rows: `+` added, `-` dropped, `~` edited with before → after per
//! field), where it came from ([`DiffSource`]: a replan or an evaluation round), and the
//! text one row reads as (the TUI dialog, headless, the next replan's "rejected by the
//! person" section).
//!
//! Pure data with serde, like the rest of `protocol`; the engine builds the diff
//! (`engine/plan_diff.rs`), the reducer keeps it (`state/reduce/plan_diff.rs`).

use serde::{Deserialize, Serialize};

use super::ids::SubtaskId;
use super::model::ReplanUpdate;
use super::payload::ProposedSubtask;

/// One row of a proposed diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum PlanChange {
    /// `+`: a new subtask.
    Add { subtask: ProposedSubtask },
    /// `-`: an open subtask dropped (cancelled when accepted).
    Drop {
        id: SubtaskId,
        title: String,
        reason: String,
    },
    /// `~`: an open subtask edited: each field before → after as text (`fields`), and the
    /// update that applies when accepted (its `id` is `#n`).
    Edit {
        id: SubtaskId,
        title: String,
        fields: Vec<FieldChange>,
        update: ReplanUpdate,
    },
}

/// One field of an edit, as a person reads it: `priority: normal -> high`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// `title`, `description`, `role`, `priority` or `depends_on`.
    pub field: String,
    pub before: String,
    pub after: String,
}

/// What proposed the diff, and what the engine needs to finish it once it is decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiffSource {
    /// A replan cycle (`submit_replan`): its covered reports, rationale and, for the last
    /// replan, the completion assessment.
    Replan {
        cycle: u32,
        covered: Vec<SubtaskId>,
        #[serde(default)]
        last: bool,
        summary: String,
        #[serde(default)]
        scope_note: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        estimated_total: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        complete: Option<bool>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        missing: Vec<String>,
    },
    /// An evaluator round (`--evaluate`) whose findings add subtasks.
    Evaluation {
        round: u32,
        #[serde(default)]
        feedback: String,
    },
}

impl DiffSource {
    /// `replan 3` / `evaluation round 1`.
    pub fn label(&self) -> String {
        match self {
            DiffSource::Replan { cycle, .. } => format!("replan {cycle}"),
            DiffSource::Evaluation { round, .. } => format!("evaluation round {round}"),
        }
    }

    /// The orchestrator's or evaluator's rationale.
    pub fn rationale(&self) -> &str {
        match self {
            DiffSource::Replan { summary, .. } => summary,
            DiffSource::Evaluation { feedback, .. } => feedback,
        }
    }
}

impl PlanChange {
    /// `+`, `-` or `~`.
    pub fn sign(&self) -> char {
        match self {
            PlanChange::Add { .. } => '+',
            PlanChange::Drop { .. } => '-',
            PlanChange::Edit { .. } => '~',
        }
    }

    /// The subtask an edit or drop touches (an addition touches none yet).
    pub fn touches(&self) -> Option<SubtaskId> {
        match self {
            PlanChange::Add { .. } => None,
            PlanChange::Drop { id, .. } | PlanChange::Edit { id, .. } => Some(*id),
        }
    }

    /// One line: `+ Add caching (code_developer)`, `- #4 Docs: not needed`,
    /// `~ #3 Tests: priority normal -> high; role a -> b`. Not sanitised: whoever draws it
    /// does that.
    pub fn summary(&self) -> String {
        match self {
            PlanChange::Add { subtask } => {
                format!("+ {} ({})", subtask.title, subtask.role)
            }
            PlanChange::Drop { id, title, reason } => {
                if reason.is_empty() {
                    format!("- {id} {title}")
                } else {
                    format!("- {id} {title}: {reason}")
                }
            }
            PlanChange::Edit {
                id, title, fields, ..
            } => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{} {} -> {}", f.field, f.before, f.after))
                    .collect();
                format!("~ {id} {title}: {}", parts.join("; "))
            }
        }
    }
}
