//! Whole runs under `--approve plan` and with `--evaluate`: a replan with additions, edits
//! and drops scripted at the fake LLM server (both wire formats), a person who accepts some
//! rows and rejects others, the next replan's request carrying the rejections; a headless
//! run that stops for the diff and a resumed run that finishes it; the evaluator's round
//! limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use baton::engine::Start;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use baton::state::*;
use serde_json::{Value, json};

use crate::engine_common::{
    Fake, Reply as FakeReply, check_consistent, config, drive, settings, st,
};
use crate::engine_http::first_user_text;
use crate::support::{FakeLlm, RecordedRequest, Reply};

/// Survey first; the rest waits for it. The replan after Survey adds `Cache`, raises
/// Build's priority, moves Tests to another role and drops Docs.
fn plan_answer(r: &RecordedRequest, kind: ProviderKind) -> crate::support::ScriptedResponse {
    let text = first_user_text(r);
    let tool = |name: &str, args: Value| {
        Reply::new()
            .tool(&format!("t{}", r.index), name, args)
            .usage(100, 30)
            .for_kind(kind)
    };
    match r.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.9, "task_type": "software", "known_requirements": [],
                   "unknowns": [], "estimated_subtasks": 4, "strategy": "survey first",
                   "subtasks": [st("Survey", "code_analyzer", &[]),
                                st("Build", "code_developer", &["Survey"]),
                                st("Tests", "code_developer", &["Survey"]),
                                st("Docs", "documentation_writer", &["Survey"])]}),
        ),
        Some(SUBMIT_REPLAN) => {
            let ctx: OrchestratorContext = extract_block(&text, "context").unwrap();
            let after_survey = ctx.reports.iter().any(|r| r.title == "Survey");
            let args = if after_survey {
                json!({"summary": "survey done: cache it, tests by the test engineer, no docs",
                       "add": [st("Cache", "code_developer", &["Survey"])],
                       "update": [{"id": "Build", "priority": "high"},
                                  {"id": "#3", "role": "test_engineer"}],
                       "cancel": [{"id": "Docs", "reason": "the README is enough"}],
                       "scope_note": "one more"})
            } else {
                json!({"summary": "ok", "add": [], "update": [], "cancel": [],
                       "scope_note": "as planned"})
            };
            tool(SUBMIT_REPLAN, args)
        }
        _ => crate::support::protocol_answer(r, kind, &[]),
    }
}

/// The person's decisions: accept the addition and the priority, reject the role change
/// and the drop.
fn decide(changes: &[PlanChange]) -> Vec<bool> {
    changes
        .iter()
        .map(|c| match c {
            PlanChange::Add { .. } => true,
            PlanChange::Edit { fields, .. } => fields.iter().all(|f| f.field == "priority"),
            PlanChange::Drop { .. } => false,
        })
        .collect()
}

/// The person's answer to a proposed diff: `decide` says yes or no per row.
fn answer_diff(event: &Event, decide: impl Fn(&[PlanChange]) -> Vec<bool>) -> Vec<Command> {
    match event {
        Event::PlanDiffProposed {
            proposal, changes, ..
        } => vec![Command::DecidePlanDiff {
            proposal: *proposal,
            accepted: decide(changes),
        }],
        _ => vec![],
    }
}

#[tokio::test]
async fn a_person_accepts_some_rows_and_the_next_replan_hears_of_the_rejected_ones() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let server = FakeLlm::with_responder(move |r| plan_answer(r, kind)).await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // The roles the replan changes are held until the diff is applied, so the subtasks
        // it edits and drops are still open when it arrives, however fast the workers are.
        let mut s = settings(ApprovalPolicy::Plan, 1);
        for role in ["code_developer", "documentation_writer"] {
            s.role_dispatch.insert(
                role.into(),
                RoleDispatch {
                    policy: DispatchPolicy::Hold,
                    max_concurrent: None,
                },
            );
        }
        let f = drive(
            config(dir.path(), s),
            provider,
            Start::New {
                run_id: "plan".into(),
                task: "build it".into(),
            },
            |e, state| match &e.event {
                Event::PlanDiffProposed { .. } => answer_diff(&e.event, decide),
                // Applied: release the held subtasks.
                Event::ReplanLogged { cycle: 1, .. } => state
                    .subtasks
                    .iter()
                    .filter(|s| s.status == SubtaskStatus::Ready)
                    .map(|s| Command::SetDispatch {
                        id: s.id,
                        policy: DispatchPolicy::Auto,
                    })
                    .collect(),
                _ => vec![],
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        check_consistent(&f);
        let s = &f.state;
        // One diff, four rows, every decision by the person.
        assert_eq!(s.plan_diffs.len(), 1, "{kind:?}");
        let d = &s.plan_diffs[0];
        let signs: String = d.changes.iter().map(PlanChange::sign).collect();
        assert_eq!(signs, "+~~-");
        assert!(d.applied);
        let decisions: Vec<_> = f
            .of(|e| matches!(e, Event::PlanChangeDecided { .. }))
            .collect();
        assert_eq!(decisions.len(), 4);
        assert!(decisions.iter().all(|e| matches!(
            e,
            Event::PlanChangeDecided {
                by: Actor::Person,
                ..
            }
        )));
        // The export's provenance answers who decided each row, and what it was.
        let rows: Vec<_> = baton::export::provenance::decisions(&f.journal.events)
            .into_iter()
            .filter(|d| d.kind == "plan_change")
            .collect();
        assert_eq!(rows.len(), 4, "{kind:?}");
        assert!(rows.iter().all(|d| d.by == Actor::Person));
        assert_eq!(
            rows.iter()
                .filter(|d| d.detail.starts_with("rejected: "))
                .count(),
            2,
            "{rows:?}"
        );
        assert!(
            rows.iter().any(|d| d.detail.contains("+ Cache")),
            "{rows:?}"
        );
        // Accepted rows applied as a replan would; rejected ones left the plan alone.
        let by_title = |t: &str| s.subtasks.iter().find(|x| x.title == t).unwrap();
        assert_eq!(by_title("Build").priority, Priority::High);
        assert_eq!(by_title("Tests").role, "code_developer");
        assert_eq!(by_title("Docs").status, SubtaskStatus::Complete);
        let cache = by_title("Cache");
        assert_eq!(cache.status, SubtaskStatus::Complete);
        assert!(cache.approved, "accepted in the diff: no second approval");
        assert_eq!(s.replan_log[0].updated, vec![by_title("Build").id]);
        // The next replan request, as the fake received it, names the rejections.
        let replans: Vec<String> = server
            .requests()
            .iter()
            .filter(|r| r.forced_tool() == Some(SUBMIT_REPLAN))
            .map(first_user_text)
            .collect();
        assert!(replans.len() >= 2, "{kind:?}: {}", replans.len());
        assert!(!replans[0].contains("Rejected by the person"));
        for later in &replans[1..] {
            assert!(
                later.contains(
                    "- rejected by the person: ~ #3 Tests: role code_developer -> test_engineer"
                ),
                "{kind:?}: {later}"
            );
            assert!(
                later.contains("- rejected by the person: - #4 Docs: the README is enough"),
                "{kind:?}"
            );
            let ctx: OrchestratorContext = extract_block(later, "context").unwrap();
            assert_eq!(ctx.rejected_by_person.len(), 2);
        }
    }
}

/// A scripted model (virtual time): `Survey` reports at once and its replan (10 ms) edits
/// `Build` and drops `Docs`, which wait for `Other` (100 ms); `Free` waits for it too.
fn diff_fake() -> Fake {
    Fake::new(vec![
        st("Survey", "code_analyzer", &[]),
        st("Other", "code_developer", &[]),
        st("Build", "code_developer", &["Other"]),
        st("Docs", "documentation_writer", &["Other"]),
        st("Free", "code_developer", &["Other"]),
    ])
    .delay(|c| match (&c.brief, c.forced.as_deref()) {
        (Some(b), _) if b.title == "Other" => Some(Duration::from_millis(100)),
        (_, Some(SUBMIT_REPLAN)) => Some(Duration::from_millis(10)),
        _ => None,
    })
    .rule(|c| {
        let ctx = c.ctx.as_ref()?;
        (c.forced.as_deref() == Some(SUBMIT_REPLAN)
            && ctx.reports.iter().any(|r| r.title == "Survey"))
        .then(|| {
            FakeReply::Tool(
                SUBMIT_REPLAN,
                json!({"summary": "rework", "add": [],
                           "update": [{"id": "Build", "description": "build it well"}],
                           "cancel": [{"id": "Docs", "reason": "not needed"}],
                           "scope_note": "smaller"}),
            )
        })
    })
}

/// A headless run under `plan` (stops when a person is needed) on [`diff_fake`]: it stops at
/// the diff.
async fn stopped_at_the_diff(dir: &std::path::Path) -> crate::engine_common::Finished {
    let mut cfg = config(dir, settings(ApprovalPolicy::Plan, 3));
    cfg.stop_when_person_needed = true;
    drive(
        cfg,
        Arc::new(diff_fake()),
        Start::New {
            run_id: "h".into(),
            task: "t".into(),
        },
        |_, _| vec![],
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn headless_stops_for_the_diff_and_a_resumed_run_applies_the_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let f = stopped_at_the_diff(dir.path()).await;
    let RunOutcome::Stopped { reason } = &f.outcome else {
        panic!("{:?}", f.outcome);
    };
    assert!(
        reason.contains("needs a person: a replan to approve"),
        "{reason}"
    );
    // The untouched subtask ran once its dependency was done; the ones the diff would
    // change waited.
    let started = |t: &str| {
        let id = f.state.subtasks.iter().find(|s| s.title == t).unwrap().id;
        f.of(|e| matches!(e, Event::SubtaskStarted { id: i, .. } if *i == id))
            .count()
    };
    assert_eq!(started("Other"), 1);
    assert_eq!(started("Free"), 1);
    assert_eq!(started("Build"), 0);
    assert_eq!(started("Docs"), 0);
    assert!(f.state.pending_plan_diff().is_some());

    // Resume: the pending diff is there again; the person keeps Docs and accepts the edit.
    let replay = baton::journal::replay(&dir.path().join(baton::journal::JOURNAL_FILE)).unwrap();
    let replayed = replay.events.len() as u64;
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Plan, 3)),
        Arc::new(diff_fake()),
        Start::Resume {
            events: replay.events,
            torn_line_dropped: false,
        },
        move |e, state| match (&e.event, state.pending_plan_diff()) {
            (Event::RunResumed { .. }, Some(d)) if e.seq > replayed => {
                vec![Command::DecidePlanDiff {
                    proposal: d.proposal,
                    accepted: vec![true, false],
                }]
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    let s = &f.state;
    let by_title = |t: &str| s.subtasks.iter().find(|x| x.title == t).unwrap();
    assert_eq!(by_title("Build").description, "build it well");
    assert_eq!(by_title("Docs").status, SubtaskStatus::Complete);
    assert_eq!(
        s.rejected_changes(),
        vec!["- #4 Docs: not needed".to_string()]
    );
}

#[tokio::test(start_paused = true)]
async fn a_diff_left_pending_is_accepted_by_the_policy_when_resumed_under_auto() {
    let dir = tempfile::tempdir().unwrap();
    let f = stopped_at_the_diff(dir.path()).await;
    assert!(matches!(f.outcome, RunOutcome::Stopped { .. }));
    let replay = baton::journal::replay(&dir.path().join(baton::journal::JOURNAL_FILE)).unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 3));
    cfg.stop_when_person_needed = true;
    let f = drive(
        cfg,
        Arc::new(diff_fake()),
        Start::Resume {
            events: replay.events,
            torn_line_dropped: false,
        },
        |_, _| vec![],
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    let s = &f.state;
    let by_policy = f
        .of(|e| {
            matches!(
                e,
                Event::PlanChangeDecided {
                    accepted: true,
                    by: Actor::Policy,
                    ..
                }
            )
        })
        .count();
    assert_eq!(by_policy, 2);
    let by_title = |t: &str| s.subtasks.iter().find(|x| x.title == t).unwrap();
    assert_eq!(by_title("Build").description, "build it well");
    assert_eq!(by_title("Docs").status, SubtaskStatus::Cancelled);
}

/// An evaluator that never accepts and always asks for one more subtask.
fn picky_evaluator() -> Fake {
    Fake::new(vec![st("Work", "code_developer", &[])]).rule(|c| {
        let ctx = c.ctx.as_ref()?;
        (c.forced.as_deref() == Some(SUBMIT_EVALUATION)).then(|| {
            FakeReply::Tool(
                SUBMIT_EVALUATION,
                json!({"accepted": false, "feedback": "not there yet",
                       "findings": [format!("round {} finds a gap", ctx.cycle)],
                       "new_subtasks": [st(&format!("Polish {}", ctx.cycle), "code_developer", &[])]}),
            )
        })
    })
}

#[tokio::test(start_paused = true)]
async fn the_evaluator_reopens_work_up_to_its_round_limit_and_the_summary_names_what_is_left() {
    for rounds in [0u32, 1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(ApprovalPolicy::Auto, 2);
        s.evaluate = true;
        s.evaluate_rounds = rounds;
        let f = drive(
            config(dir.path(), s),
            Arc::new(picky_evaluator()),
            Start::New {
                run_id: "e".into(),
                task: "t".into(),
            },
            |_, _| vec![],
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "rounds {rounds}");
        let st = &f.state;
        // `rounds` rounds reopen work, the one after only judges.
        assert_eq!(st.evaluations.len() as u32, rounds + 1, "rounds {rounds}");
        let polish = st
            .subtasks
            .iter()
            .filter(|s| s.title.starts_with("Polish"))
            .count();
        assert_eq!(polish as u32, rounds);
        let last = st.evaluations.last().unwrap();
        assert!(last.added.is_empty());
        let left = format!("round {} finds a gap", rounds + 1);
        assert_eq!(
            last.left,
            vec![left.clone(), format!("Polish {}", rounds + 1)]
        );
        let sum = st.summary.as_ref().unwrap();
        assert_eq!(sum.findings_left, last.left);
        assert_eq!(sum.evaluation_rounds, rounds + 1);
    }
}

#[tokio::test(start_paused = true)]
async fn under_plan_the_evaluators_findings_are_a_diff_to_approve() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Plan, 2);
    s.evaluate = true;
    let f = drive(
        config(dir.path(), s),
        Arc::new(picky_evaluator()),
        Start::New {
            run_id: "e".into(),
            task: "t".into(),
        },
        |e, _| answer_diff(&e.event, |changes| vec![true; changes.len()]),
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    let st = &f.state;
    assert_eq!(st.plan_diffs.len(), 1);
    assert!(matches!(
        st.plan_diffs[0].source,
        DiffSource::Evaluation { round: 1, .. }
    ));
    let polish = st.subtasks.iter().find(|s| s.title == "Polish 1").unwrap();
    assert_eq!(polish.origin, Origin::Evaluation { round: 1 });
    assert_eq!(polish.status, SubtaskStatus::Complete);
    assert_eq!(st.evaluations.len(), 2);
    assert_eq!(st.evaluations[0].added, vec![polish.id]);
}
