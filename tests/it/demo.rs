//! Tests of the `demo` provider called directly with crafted requests: the analysis, every
//! other orchestrator step, the workers without workspace tools, role mapping, unexpected
//! requests and the pace of streaming. Pace 0 unless a test says otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::demo_support;

use baton::demo::DemoProvider;
use baton::llm::*;
use baton::protocol::model::*;
use baton::protocol::{Priority, Report, ReportStatus};
use demo_support::*;
use serde_json::json;

#[tokio::test]
async fn analysis_is_valid_streamed_and_deterministic() {
    let p = provider(7);
    let req = orchestrator_request(SUBMIT_ANALYSIS, &context(Step::Analysis, SHOWCASE));
    let (resp, events) = call(&p, req.clone()).await;
    assert_streamed(&resp, &events);
    let a: AnalysisArgs = args(&resp, SUBMIT_ANALYSIS);
    assert!(a.complexity >= 0.7);
    assert_eq!(a.estimated_subtasks, 6);
    assert_eq!(a.subtasks.len(), 6);
    assert!(a.subtasks.iter().all(|s| ROLES.contains(&s.role.as_str())));
    assert!(resp.text.contains(SHOWCASE), "the task is quoted");
    // Two subtasks with no dependencies run in parallel at the start.
    assert!(
        a.subtasks
            .iter()
            .filter(|s| s.depends_on.is_empty())
            .count()
            >= 2
    );

    let (again, events_again) = call(&p, req.clone()).await;
    assert_eq!(again, resp, "same seed, same answer");
    assert_eq!(events_again, events, "same seed, same stream");
    let (other, _) = call(&provider(8), req).await;
    assert_eq!(
        other.text, resp.text,
        "the script does not depend on the seed"
    );
}

#[tokio::test]
async fn any_other_task_gets_a_generic_plan_around_its_words() {
    let p = provider(7);
    let task = "Build a CLI todo app with sync";
    let (resp, events) = call(
        &p,
        orchestrator_request(SUBMIT_ANALYSIS, &context(Step::Analysis, task)),
    )
    .await;
    assert_streamed(&resp, &events);
    let a: AnalysisArgs = args(&resp, SUBMIT_ANALYSIS);
    assert!(
        a.subtasks
            .iter()
            .any(|s| s.title == "Implement the core changes"
                && s.description.contains("CLI todo app"))
    );
    let all = serde_json::to_string(&a).unwrap() + &resp.text;
    assert!(
        !all.to_lowercase().contains("short code"),
        "no URL-shortener text"
    );
}

#[tokio::test]
async fn survey_worker_discovers_two_subtasks_one_low() {
    let p = provider(7);
    let b = brief(
        "Survey the requirements and existing code",
        "code_analyzer",
        1,
        None,
    );
    let (resp, events) = call(&p, worker_request(&b, vec![], vec![])).await;
    assert_streamed(&resp, &events);
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Complete);
    assert_eq!(r.new_subtasks.len(), 2);
    assert!(r.new_subtasks.iter().any(|s| s.priority == Priority::Low));
    assert!(!r.discoveries.is_empty() && !r.recommendations.is_empty());
    assert!(
        resp.text.contains("#3 Design the API and storage schema"),
        "it says what it builds on"
    );
}

#[tokio::test]
async fn storage_is_blocked_on_attempt_one_and_done_after_guidance() {
    let p = provider(7);
    let title = "Implement the storage layer";
    let (resp, _) = call(
        &p,
        worker_request(&brief(title, "code_developer", 1, None), vec![], vec![]),
    )
    .await;
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Blocked);
    assert!(r.results.contains("link expiry"));

    let guidance = "Links expire after 90 days unless the creator picks a date";
    let (resp, events) = call(
        &p,
        worker_request(
            &brief(title, "code_developer", 2, Some(guidance)),
            vec![],
            vec![],
        ),
    )
    .await;
    assert_streamed(&resp, &events);
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Complete);
    assert!(r.results.contains("90 days"), "the guidance is applied");
    assert!(resp.text.contains(guidance));

    // A retry without guidance is not blocked again: it applies the stated default.
    let (resp, _) = call(
        &p,
        worker_request(&brief(title, "code_developer", 2, None), vec![], vec![]),
    )
    .await;
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Complete);
    assert!(r.results.contains("30 days"));
}

#[tokio::test]
async fn the_code_scheme_study_is_partial() {
    let p = provider(7);
    let b = brief(
        "Compare short-code generation schemes",
        "performance_optimizer",
        1,
        None,
    );
    let (resp, _) = call(&p, worker_request(&b, vec![], vec![])).await;
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Partial);
    assert!(r.results.contains("Not done"));
}

#[tokio::test]
async fn unknown_subtask_gets_the_role_script() {
    let p = provider(7);
    let b = brief(
        "Add a QR code for each link",
        "documentation_writer",
        1,
        None,
    );
    let (resp, events) = call(&p, worker_request(&b, vec![], vec![])).await;
    assert_streamed(&resp, &events);
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Complete);
    assert!(r.results.contains("Add a QR code for each link"));
}

// ---- other orchestrator steps ----------------------------------------------------------------

fn view(id: u32, title: &str, role: &str, status: &str, deps: &[u32]) -> SubtaskView {
    SubtaskView {
        id,
        title: title.into(),
        role: role.into(),
        status: status.into(),
        priority: Priority::Normal,
        depends_on: deps.to_vec(),
        results: (status == "complete").then(|| format!("{title}: done. More text.")),
        guidance: None,
    }
}

fn showcase_plan() -> Vec<SubtaskView> {
    vec![
        view(
            1,
            "Survey the requirements and existing code",
            "code_analyzer",
            "complete",
            &[],
        ),
        view(
            2,
            "Compare short-code generation schemes",
            "performance_optimizer",
            "running",
            &[],
        ),
        view(
            3,
            "Design the API and storage schema",
            "system_architect",
            "ready",
            &[1],
        ),
        view(
            4,
            "Implement the shortening API",
            "code_developer",
            "ready",
            &[3],
        ),
        view(5, "Write the test suite", "test_engineer", "ready", &[4]),
        view(
            6,
            "Write the API documentation",
            "documentation_writer",
            "ready",
            &[5],
        ),
    ]
}

#[tokio::test]
async fn replan_adds_the_discoveries_and_grows_the_estimate() {
    let p = provider(7);
    let (survey, _) = call(
        &p,
        worker_request(
            &brief(
                "Survey the requirements and existing code",
                "code_analyzer",
                1,
                None,
            ),
            vec![],
            vec![],
        ),
    )
    .await;
    let report: Report = args(&survey, SUBMIT_REPORT);
    let mut ctx = context(Step::Replan, SHOWCASE);
    ctx.subtasks = showcase_plan();
    ctx.reports = vec![ReportView {
        id: 1,
        title: "Survey the requirements and existing code".into(),
        role: "code_analyzer".into(),
        report,
    }];
    let (resp, events) = call(&p, orchestrator_request(SUBMIT_REPLAN, &ctx)).await;
    assert_streamed(&resp, &events);
    let r: ReplanArgs = args(&resp, SUBMIT_REPLAN);
    assert_eq!(r.add.len(), 2);
    assert_eq!(r.estimated_total, Some(8));
    assert!(r.scope_note.contains("Original estimate 6"));
    assert!(
        r.add
            .iter()
            .all(|s| s.depends_on.iter().all(|d| d.starts_with('#')))
    );
    assert!(!r.summary.is_empty());
}

#[tokio::test]
async fn recovery_escalates_the_blocked_storage_and_retries_a_transient_failure() {
    let p = provider(7);
    let mut ctx = context(Step::Recovery, SHOWCASE);
    ctx.subtasks = showcase_plan();
    ctx.subtasks.push(view(
        7,
        "Implement the storage layer",
        "code_developer",
        "blocked",
        &[3],
    ));
    ctx.failure = Some(FailureView {
        id: 7,
        title: "Implement the storage layer".into(),
        role: "code_developer".into(),
        attempts: 1,
        error: "blocked: the schema needs a decision on link expiry".into(),
        last_output: String::new(),
    });
    let (resp, events) = call(&p, orchestrator_request(DECIDE_RECOVERY, &ctx)).await;
    assert_streamed(&resp, &events);
    let r: RecoveryArgs = args(&resp, DECIDE_RECOVERY);
    assert_eq!(r.action, RecoveryChoice::Escalate);
    assert!(r.rationale.contains("link expiry"));

    // Headless: no person can answer, so the orchestrator settles it and retries.
    ctx.person_available = false;
    let (resp, _) = call(&p, orchestrator_request(DECIDE_RECOVERY, &ctx)).await;
    let r: RecoveryArgs = args(&resp, DECIDE_RECOVERY);
    assert_eq!(r.action, RecoveryChoice::Retry);
    assert!(r.rationale.contains("No person is available"));
    ctx.person_available = true;

    ctx.subtasks[6].status = "failed".into();
    ctx.failure = Some(FailureView {
        id: 4,
        title: "Implement the shortening API".into(),
        role: "code_developer".into(),
        attempts: 1,
        error: "timed out: worker took longer than 600 s".into(),
        last_output: String::new(),
    });
    let (resp, _) = call(&p, orchestrator_request(DECIDE_RECOVERY, &ctx)).await;
    let r: RecoveryArgs = args(&resp, DECIDE_RECOVERY);
    assert_eq!(r.action, RecoveryChoice::Retry);

    ctx.failure.as_mut().unwrap().attempts = 2;
    let (resp, _) = call(&p, orchestrator_request(DECIDE_RECOVERY, &ctx)).await;
    let r: RecoveryArgs = args(&resp, DECIDE_RECOVERY);
    assert_eq!(r.action, RecoveryChoice::Reassign);
    assert!(ROLES.contains(&r.role.as_deref().unwrap()));
}

#[tokio::test]
async fn completion_is_complete_when_every_live_subtask_is_done() {
    let p = provider(7);
    let mut ctx = context(Step::Completion, SHOWCASE);
    ctx.subtasks = vec![
        view(1, "a", "code_analyzer", "complete", &[]),
        view(2, "b", "code_developer", "partial", &[]),
        view(3, "c", "code_developer", "cancelled", &[]),
    ];
    let (resp, _) = call(&p, orchestrator_request(ASSESS_COMPLETION, &ctx)).await;
    let c: CompletionArgs = args(&resp, ASSESS_COMPLETION);
    assert!(c.complete && c.missing.is_empty());

    ctx.subtasks
        .push(view(4, "d", "test_engineer", "escalated", &[1]));
    let (resp, _) = call(&p, orchestrator_request(ASSESS_COMPLETION, &ctx)).await;
    let c: CompletionArgs = args(&resp, ASSESS_COMPLETION);
    assert!(!c.complete);
    assert_eq!(c.missing.len(), 1);
    assert!(c.missing[0].contains("#4"));
}

#[tokio::test]
async fn synthesis_is_real_markdown() {
    let p = provider(7);
    let mut ctx = context(Step::Synthesis, SHOWCASE);
    ctx.subtasks = showcase_plan();
    let (resp, events) = call(&p, orchestrator_request(SUBMIT_SYNTHESIS, &ctx)).await;
    assert_streamed(&resp, &events);
    let s: SynthesisArgs = args(&resp, SUBMIT_SYNTHESIS);
    for needle in [
        "# URL shortener",
        "## API",
        "| Method | Path |",
        "```sql",
        "Survey the requirements",
    ] {
        assert!(s.deliverable.contains(needle), "deliverable has {needle}");
    }
    assert!(s.deliverable.contains(SHOWCASE));
    assert!(!s.integration_points.is_empty() && !s.coherence.is_empty());
}

#[tokio::test]
async fn evaluation_asks_for_one_subtask_then_accepts() {
    let p = provider(7);
    let mut ctx = context(Step::Evaluation, SHOWCASE);
    ctx.subtasks = showcase_plan();
    let (resp, _) = call(&p, orchestrator_request(SUBMIT_EVALUATION, &ctx)).await;
    let e: EvaluationArgs = args(&resp, SUBMIT_EVALUATION);
    assert!(!e.accepted);
    assert_eq!(e.new_subtasks.len(), 1);
    assert_eq!(e.new_subtasks[0].depends_on, vec!["#5".to_string()]);

    ctx.subtasks.push(view(
        11,
        &e.new_subtasks[0].title,
        "test_engineer",
        "complete",
        &[5],
    ));
    ctx.cycle = 2;
    let (resp, _) = call(&p, orchestrator_request(SUBMIT_EVALUATION, &ctx)).await;
    let e: EvaluationArgs = args(&resp, SUBMIT_EVALUATION);
    assert!(e.accepted && e.new_subtasks.is_empty());
}

#[tokio::test]
async fn roles_the_run_does_not_offer_are_mapped_to_ones_it_does() {
    let p = provider(7);
    let mut ctx = context(Step::Analysis, SHOWCASE);
    ctx.roles = vec!["analyst".into(), "qa_engineer".into(), "engineer".into()];
    let (resp, _) = call(&p, orchestrator_request(SUBMIT_ANALYSIS, &ctx)).await;
    let a: AnalysisArgs = args_with_roles(&resp, SUBMIT_ANALYSIS, &ctx.roles);
    let roles: Vec<&str> = a.subtasks.iter().map(|s| s.role.as_str()).collect();
    assert_eq!(roles[0], "analyst");
    assert!(roles.contains(&"qa_engineer"));
    assert!(
        roles.iter().all(|r| ctx.roles.iter().any(|c| c == r)),
        "{roles:?}"
    );

    // A worker learns the roles from the `submit_report` schema.
    let b = brief(
        "Survey the requirements and existing code",
        "analyst",
        1,
        None,
    );
    let mut req = worker_request(&b, vec![], vec![]);
    req.tools[0].input_schema = json!({"type": "object", "properties": {"new_subtasks": {
        "type": "array", "items": {"type": "object", "properties": {
            "role": {"type": "string", "enum": ["analyst", "qa_engineer", "engineer"]}}}}}});
    let (resp, _) = call(&p, req).await;
    let r: Report = args_with_roles(&resp, SUBMIT_REPORT, &ctx.roles);
    assert!(r.new_subtasks.iter().all(|s| s.role == "engineer"));
}

#[tokio::test]
async fn unexpected_requests_get_sensible_answers() {
    let p = provider(7);
    // No block, no tools: plain text.
    let (resp, _) = call(
        &p,
        request(ToolChoice::Auto, vec![], vec![Message::user("hello")]),
    )
    .await;
    assert!(resp.tool_calls.is_empty());
    assert_eq!(resp.stop_reason, StopReason::EndTurn);
    assert!(resp.text.contains("demo"));

    // A forced unknown tool (like `baton doctor`'s probe): arguments from its schema.
    let schema = json!({"type": "object", "properties": {
        "ok": {"type": "boolean"}, "word": {"type": "string", "enum": ["pong"]},
        "n": {"type": "integer"}, "extra": {"type": "string"}}, "required": ["ok", "word", "n"]});
    let (resp, _) = call(
        &p,
        request(
            ToolChoice::Tool("ping".into()),
            vec![tool("ping", schema)],
            vec![Message::user("call ping")],
        ),
    )
    .await;
    assert_eq!(resp.tool_calls[0].name, "ping");
    assert_eq!(
        resp.tool_calls[0].arguments,
        json!({"ok": true, "word": "pong", "n": 1})
    );

    // An orchestrator tool forced without any context block, and garbage in the block.
    for text in [
        "Plan this: write a haiku",
        "<context>{not json</context>",
        "<brief>[]</brief>",
    ] {
        for name in [
            SUBMIT_ANALYSIS,
            SUBMIT_REPLAN,
            DECIDE_RECOVERY,
            ASSESS_COMPLETION,
            SUBMIT_SYNTHESIS,
            SUBMIT_EVALUATION,
            SUBMIT_REPORT,
        ] {
            let (resp, _) = call(
                &p,
                request(
                    ToolChoice::Tool(name.into()),
                    vec![tool(name, json!({"type": "object"}))],
                    vec![Message::user(text)],
                ),
            )
            .await;
            assert_eq!(resp.tool_calls[0].name, name);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn words_arrive_at_a_human_pace() {
    let p = DemoProvider::new(&ProviderSettings {
        demo_pace_ms: 25,
        ..ProviderSettings::default()
    });
    let req = orchestrator_request(SUBMIT_ANALYSIS, &context(Step::Analysis, SHOWCASE));
    let start = tokio::time::Instant::now();
    let (resp, events) = call(&p, req).await;
    let elapsed = start.elapsed();
    let words = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::TextDelta { .. }))
        .count() as u128;
    assert!(words > 50);
    // At least 60% of the pace per word, and not absurdly slow either.
    assert!(
        elapsed.as_millis() >= words * 15,
        "{elapsed:?} for {words} words"
    );
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
    assert!(!resp.tool_calls.is_empty());
}
