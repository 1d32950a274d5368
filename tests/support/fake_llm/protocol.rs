//! A fake model that plays a whole run over HTTP: it answers each protocol step (analysis
//! with `n` independent subtasks of the given roles, reports, empty replans, completion,
//! synthesis) in either wire format, so engine tests can run against the fake server.

use baton::llm::ProviderKind;
use baton::protocol::model::*;
use serde_json::{Value, json};

use super::{RecordedRequest, Reply, ScriptedResponse};

/// The subtasks of the analysis: `(title, role)`.
pub fn plan(n: usize, roles: &[&str]) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("Part {}", i + 1),
                roles[i % roles.len()].to_string(),
            )
        })
        .collect()
}

/// The answer to `r` in a run whose analysis proposes `subtasks` (all independent).
pub fn protocol_answer(
    r: &RecordedRequest,
    kind: ProviderKind,
    subtasks: &[(String, String)],
) -> ScriptedResponse {
    protocol_reply(r, subtasks).for_kind(kind)
}

/// [`protocol_answer`] as a [`Reply`] (to add usage or cache figures before sending).
pub fn protocol_reply(r: &RecordedRequest, subtasks: &[(String, String)]) -> Reply {
    let reply = |name: &str, args: Value| Reply::new().tool(&format!("t{}", r.index), name, args);
    match r.forced_tool() {
        Some(SUBMIT_ANALYSIS) => {
            let list: Vec<Value> = subtasks
                .iter()
                .map(|(title, role)| {
                    json!({"title": title, "description": format!("Do {title}."), "role": role,
                           "depends_on": [], "priority": "normal", "expected_output": "text"})
                })
                .collect();
            reply(
                SUBMIT_ANALYSIS,
                json!({"complexity": 0.9, "task_type": "open-ended", "known_requirements": [],
                       "unknowns": [], "estimated_subtasks": subtasks.len(), "strategy": "split",
                       "subtasks": list}),
            )
        }
        Some(SUBMIT_REPLAN) => reply(
            SUBMIT_REPLAN,
            json!({"summary": "ok", "add": [], "update": [], "cancel": [], "scope_note": "fine"}),
        ),
        Some(ASSESS_COMPLETION) => {
            reply(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => reply(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "done", "integration_points": [], "conflicts": [],
                   "coherence": "consistent"}),
        ),
        Some(DECIDE_RECOVERY) => reply(
            DECIDE_RECOVERY,
            json!({"action": "retry", "rationale": "r"}),
        ),
        Some(SUBMIT_EVALUATION) => reply(
            SUBMIT_EVALUATION,
            json!({"accepted": true, "feedback": "", "new_subtasks": []}),
        ),
        _ => reply(
            SUBMIT_REPORT,
            json!({"status": "complete", "results": "built", "discoveries": [],
                   "recommendations": [], "new_subtasks": []}),
        ),
    }
}
