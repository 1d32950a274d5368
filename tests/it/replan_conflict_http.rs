//! Replans that change running work (`on_replan_conflict`, issue 12) through the real HTTP
//! providers against the fake LLM server, in both wire formats: a replan that drops the
//! running subtask, gives it a new dependency, or rewrites its description, under each
//! policy (`restart`: the worker is stopped and runs again saying why; `ask`: a need a
//! person answers; `finish`: a notice, the worker finishes). The running worker's answer is
//! held at the fake (a [`Gate`]) until the replan has been applied, so the worker is
//! certainly running when the replan lands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use baton::engine::policy::ReplanConflict;
use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use baton::state::*;
use engine_common::{Finished, check_consistent, config, drive, settings, st};
use serde_json::{Value, json};
use support::{FakeLlm, Gate, RecordedRequest, Reply, ScriptedResponse, protocol_answer};

const KINDS: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::Openai];

/// What replan 1 does to the running subtask #1 ("Build").
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// Cancels it.
    Drop,
    /// Adds "Design" (#3) and makes Build depend on it.
    NewDependency,
    /// Rewrites its description.
    Rewrite,
}

const CHANGES: [Change; 3] = [Change::Drop, Change::NewDependency, Change::Rewrite];
const NEW_DESCRIPTION: &str = "use the NEW api";
const GUIDANCE: &str = "follow the new plan";

impl Change {
    fn replan(self) -> Value {
        match self {
            Change::Drop => json!({"summary": "the survey made Build unnecessary", "add": [],
                "update": [], "cancel": [{"id": "#1", "reason": "not needed after the survey"}],
                "scope_note": "-1"}),
            Change::NewDependency => json!({"summary": "Build needs a design first",
                "add": [st("Design", "system_architect", &[])],
                "update": [{"id": "#1", "depends_on": ["Design"]}], "cancel": [],
                "scope_note": "+1"}),
            Change::Rewrite => json!({"summary": "Build must use the new API", "add": [],
                "update": [{"id": "#1", "description": NEW_DESCRIPTION}], "cancel": [],
                "scope_note": "same"}),
        }
    }
}

/// The first user message's text (the brief or the orchestrator's prompt) in either wire
/// format (OpenAI's first message is the system prompt).
fn user_text(r: &RecordedRequest) -> String {
    let text = |content: &Value| match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    r.messages()
        .iter()
        .find(|m| m["role"] == "user")
        .map(|m| text(&m["content"]))
        .unwrap_or_default()
}

/// The fake model: the protocol's answers (`support::protocol_answer`) for a plan of Build
/// (#1) and Survey (#2), which run at once; Build's first answer waits behind `gate`;
/// replan 1 (Survey's) answers with `change`.
fn answer(
    r: &RecordedRequest,
    kind: ProviderKind,
    change: Change,
    gate: &Gate,
    builds: &AtomicUsize,
) -> ScriptedResponse {
    let text = user_text(r);
    let plan = [
        ("Build".to_string(), "code_developer".to_string()),
        ("Survey".to_string(), "code_analyzer".to_string()),
    ];
    let response = protocol_answer(r, kind, &plan);
    match r.forced_tool() {
        Some(SUBMIT_REPLAN) => {
            let ctx: OrchestratorContext = extract_block(&text, "context").unwrap();
            if ctx.cycle == 1 && !ctx.last_replan {
                return Reply::new()
                    .tool(&format!("t{}", r.index), SUBMIT_REPLAN, change.replan())
                    .for_kind(kind);
            }
            response
        }
        None => {
            let brief: WorkerBrief = extract_block(&text, "brief").unwrap();
            if brief.id == 1 && builds.fetch_add(1, Ordering::SeqCst) == 0 {
                response.hold_until(gate)
            } else {
                response
            }
        }
        _ => response,
    }
}

/// The results of the dependencies in a worker request's brief, by id.
fn dependency_ids(r: &RecordedRequest) -> Vec<u32> {
    let brief: WorkerBrief = extract_block(&user_text(r), "brief").unwrap();
    brief.dependency_results.iter().map(|d| d.id).collect()
}

/// One run under `policy` with `change`; a person (under `ask`) answers the escalation
/// with a retry and [`GUIDANCE`]. Returns the run and Build's requests at the fake.
async fn run(
    kind: ProviderKind,
    policy: ReplanConflict,
    change: Change,
) -> (Finished, Vec<RecordedRequest>, Vec<RecordedRequest>) {
    let gate = Gate::new();
    let builds = Arc::new(AtomicUsize::new(0));
    let (g, b) = (gate.clone(), builds.clone());
    let server = FakeLlm::with_responder(move |r| answer(r, kind, change, &g, &b)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 2));
    cfg.on_replan_conflict = policy;
    let answered = AtomicBool::new(false);
    let f = drive(
        cfg,
        build_provider(&server.settings(kind)).unwrap(),
        Start::New {
            run_id: "conflict".into(),
            task: "build it".into(),
        },
        move |e, _| match &e.event {
            // The replan has been applied (the conflict policy had its say): let Build's
            // first answer go (its client is gone when the worker was stopped).
            Event::ReplanLogged { cycle: 1, .. } => {
                gate.open();
                vec![]
            }
            // The person answers the conflict's escalation (once: a later escalation
            // would be a failure the test does not expect).
            Event::SubtaskEscalated { id, .. }
                if id.0 == 1 && !answered.swap(true, Ordering::SeqCst) =>
            {
                vec![Command::Resolve {
                    id: *id,
                    resolution: Resolution::Retry {
                        guidance: GUIDANCE.into(),
                    },
                }]
            }
            _ => vec![],
        },
    )
    .await;
    let requests = server.requests();
    let build: Vec<RecordedRequest> = requests
        .iter()
        .filter(|r| r.forced_tool().is_none() && user_text(r).contains("# Your subtask #1:"))
        .cloned()
        .collect();
    (f, build, requests)
}

fn reports(f: &Finished, id: u32) -> usize {
    f.of(|e| matches!(e, Event::SubtaskReported { id: i, .. } if i.0 == id))
        .count()
}

/// Every policy: dropping the running subtask stops its worker; nothing reports for it.
fn assert_dropped(f: &Finished, what: &str) {
    let build = &f.state.subtasks[0];
    assert_eq!(build.status, SubtaskStatus::Cancelled, "{what}");
    assert_eq!(build.attempts, 1, "{what}");
    assert_eq!(reports(f, 1), 0, "{what}: the stopped worker never reports");
    assert!(
        f.of(
            |e| matches!(e, Event::SubtaskCancelled { id, reason, by: Actor::Orchestrator }
            if id.0 == 1 && reason == "not needed after the survey")
        )
        .count()
            == 1,
        "{what}"
    );
}

/// `restart` and `ask`: Build ran a second time under the new plan, and only that
/// attempt reported; its request carries the change.
fn assert_ran_again(
    f: &Finished,
    build: &[RecordedRequest],
    all: &[RecordedRequest],
    change: Change,
    what: &str,
) {
    let s = &f.state.subtasks[0];
    assert_eq!(s.status, SubtaskStatus::Complete, "{what}");
    assert_eq!(s.attempts, 2, "{what}");
    assert_eq!(reports(f, 1), 1, "{what}: only the second attempt reported");
    assert_eq!(build.len(), 2, "{what}");
    match change {
        Change::Rewrite => {
            assert!(!user_text(&build[0]).contains(NEW_DESCRIPTION), "{what}");
            assert!(user_text(&build[1]).contains(NEW_DESCRIPTION), "{what}");
        }
        Change::NewDependency => {
            assert_eq!(s.depends_on, vec![SubtaskId(3)], "{what}");
            // Build ran again only after Design answered, with Design's result.
            let design = all
                .iter()
                .position(|r| user_text(r).contains("# Your subtask #3:"))
                .unwrap();
            assert!(build[1].index > all[design].index, "{what}");
            assert_eq!(dependency_ids(&build[1]), vec![3], "{what}");
            assert!(dependency_ids(&build[0]).is_empty(), "{what}");
        }
        Change::Drop => unreachable!(),
    }
}

fn why(change: Change) -> &'static str {
    match change {
        Change::NewDependency => "(a new dependency on #3 not done yet)",
        Change::Rewrite => "(a new description)",
        Change::Drop => unreachable!(),
    }
}

/// A run that changed the running subtask (not dropped it), for a policy's own checks.
struct Case {
    what: String,
    change: Change,
    f: Finished,
    build: Vec<RecordedRequest>,
    all: Vec<RecordedRequest>,
}

/// Every change in both wire formats under `policy`: each run completes with a consistent
/// journal; the drop (the same under every policy: the worker is stopped, the subtask
/// cancelled, nobody asked) is checked here; the other runs are returned.
async fn changed_runs(policy: ReplanConflict) -> Vec<Case> {
    let mut out = Vec::new();
    for kind in KINDS {
        for change in CHANGES {
            let what = format!("{kind:?}, {policy:?}, {change:?}");
            let (f, build, all) = run(kind, policy, change).await;
            assert_eq!(f.outcome, RunOutcome::Completed, "{what}");
            check_consistent(&f);
            if change == Change::Drop {
                assert_dropped(&f, &what);
                let asked = f
                    .of(|e| matches!(e, Event::SubtaskEscalated { .. }))
                    .count();
                assert_eq!(asked, 0, "{what}");
                continue;
            }
            out.push(Case {
                what,
                change,
                f,
                build,
                all,
            });
        }
    }
    out
}

#[tokio::test]
async fn restart_stops_the_worker_and_runs_it_again_saying_why() {
    for Case {
        what,
        change,
        f,
        build,
        all,
    } in changed_runs(ReplanConflict::Restart).await
    {
        assert_ran_again(&f, &build, &all, change, &what);
        let r = &f.state.subtasks[0].recoveries[0];
        assert_eq!(
            (r.action.clone(), r.by),
            (RecoveryAction::Retry, Actor::Engine),
            "{what}"
        );
        assert!(
            r.rationale
                .contains(&format!("replan 1 changed it while it ran {}", why(change)))
                && r.rationale.contains("on_replan_conflict = restart"),
            "{what}: {}",
            r.rationale
        );
    }
}

#[tokio::test]
async fn ask_stops_the_worker_and_a_person_answers() {
    for Case {
        what,
        change,
        f,
        build,
        all,
    } in changed_runs(ReplanConflict::Ask).await
    {
        // The need the person answered: the escalation says why, by the engine.
        let reason = f
            .events
            .iter()
            .find_map(|e| match &e.event {
                Event::SubtaskEscalated {
                    id,
                    reason,
                    by: Actor::Engine,
                } if id.0 == 1 => Some(reason.clone()),
                _ => None,
            })
            .unwrap();
        assert!(
            reason.contains(&format!("replan 1 changed it while it ran {}", why(change)))
                && reason.contains("on_replan_conflict = ask"),
            "{what}: {reason}"
        );
        assert_eq!(
            f.of(|e| matches!(
                e,
                Event::EscalationResolved {
                    by: Actor::Person,
                    ..
                }
            ))
            .count(),
            1,
            "{what}"
        );
        assert_ran_again(&f, &build, &all, change, &what);
        assert!(user_text(&build[1]).contains(GUIDANCE), "{what}");
    }
}

#[tokio::test]
async fn finish_lets_the_worker_finish_with_a_notice() {
    for Case {
        what,
        change,
        f,
        build,
        ..
    } in changed_runs(ReplanConflict::Finish).await
    {
        let s = &f.state.subtasks[0];
        assert_eq!(
            (s.status, s.attempts),
            (SubtaskStatus::Complete, 1),
            "{what}"
        );
        assert_eq!(build.len(), 1, "{what}");
        assert_eq!(reports(&f, 1), 1, "{what}");
        assert!(s.recoveries.is_empty(), "{what}");
        assert!(
            f.state.notices.iter().any(|n| n.contains(&format!(
                "replan 1 changed #1 while it runs {}; it finishes against its old brief",
                why(change)
            ))),
            "{what}: {:?}",
            f.state.notices
        );
        match change {
            // The rewrite applies to the plan; a dependency the finished work never
            // waited for is refused (with a notice), and Design still runs.
            Change::Rewrite => assert_eq!(s.description, NEW_DESCRIPTION, "{what}"),
            Change::NewDependency => {
                assert!(s.depends_on.is_empty(), "{what}");
                assert!(
                    f.state
                        .notices
                        .iter()
                        .any(|n| n.contains("dependencies of #1 left unchanged")),
                    "{what}: {:?}",
                    f.state.notices
                );
                assert_eq!(
                    f.state.subtasks[2].status,
                    SubtaskStatus::Complete,
                    "{what}"
                );
            }
            Change::Drop => unreachable!(),
        }
    }
}
