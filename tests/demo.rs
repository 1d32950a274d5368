//! Tests of the `demo` provider: every orchestrator step and the workers (with and without
//! workspace tools) called directly with crafted requests, whole scripted runs driven by a
//! small simulator of the engine's loop, and whole runs of the real engine on the demo
//! (with and without the sample project as a workspace). Pace 0: nothing waits on time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod engine_common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use baton::demo::DemoProvider;
use baton::llm::*;
use baton::protocol::ToolDef;
use baton::protocol::model::*;
use baton::protocol::{Priority, ProposedSubtask, Report, ReportStatus};
use serde_json::{Value, json};

const SHOWCASE: &str = "Build a URL shortener with an API, storage and tests";
const ROLES: [&str; 6] = [
    "code_analyzer",
    "system_architect",
    "code_developer",
    "test_engineer",
    "documentation_writer",
    "performance_optimizer",
];

fn provider(seed: u64) -> DemoProvider {
    DemoProvider::new(&ProviderSettings {
        demo_pace_ms: 0,
        demo_seed: seed,
        ..ProviderSettings::default()
    })
}

fn tool(name: &str, schema: Value) -> ToolDef {
    ToolDef {
        name: name.into(),
        description: format!("the {name} tool"),
        input_schema: schema,
    }
}

fn request(choice: ToolChoice, tools: Vec<ToolDef>, messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: "demo-model".into(),
        system: "You are part of Baton.".into(),
        messages,
        tools,
        tool_choice: choice,
        max_tokens: 4096,
        temperature: None,
    }
}

fn context(step: Step, task: &str) -> OrchestratorContext {
    OrchestratorContext {
        step,
        task: task.into(),
        initial_estimate: 6,
        current_estimate: 6,
        subtasks: Vec::new(),
        reports: Vec::new(),
        failure: None,
        roles: ROLES.iter().map(|r| r.to_string()).collect(),
        cycle: 1,
        person_available: true,
    }
}

fn orchestrator_request(tool_name: &str, ctx: &OrchestratorContext) -> ChatRequest {
    request(
        ToolChoice::Tool(tool_name.into()),
        vec![tool(tool_name, json!({"type": "object"}))],
        vec![Message::user(format!(
            "Here is the plan.\n{}",
            render_block("context", ctx)
        ))],
    )
}

fn brief(title: &str, role: &str, attempt: u32, guidance: Option<&str>) -> WorkerBrief {
    WorkerBrief {
        task: SHOWCASE.into(),
        id: 7,
        title: title.into(),
        description: "As planned.".into(),
        role: role.into(),
        expected_output: "A report".into(),
        attempt,
        shared_decisions: vec!["7-char base62 codes".into()],
        dependency_results: vec![DependencyResult {
            id: 3,
            title: "Design the API and storage schema".into(),
            results: "API designed.".into(),
        }],
        guidance: guidance.map(str::to_string),
    }
}

fn worker_request(b: &WorkerBrief, tools: Vec<ToolDef>, history: Vec<Message>) -> ChatRequest {
    let mut messages = vec![Message::user(format!(
        "Your subtask.\n{}",
        render_block("brief", b)
    ))];
    messages.extend(history);
    let mut all = vec![tool(SUBMIT_REPORT, json!({"type": "object"}))];
    all.extend(tools);
    request(ToolChoice::Any, all, messages)
}

/// Calls the provider, collecting the streamed events.
async fn call(p: &DemoProvider, req: ChatRequest) -> (ChatResponse, Vec<StreamEvent>) {
    let events = Mutex::new(Vec::new());
    let sink = |e: StreamEvent| events.lock().unwrap().push(e);
    let resp = p.chat(req, &sink).await.expect("the demo never fails");
    (resp, events.into_inner().unwrap())
}

/// The arguments of the one tool call, checked by the engine's own validator (JSON Schema
/// with the default roles, then the typed struct).
fn args<T: for<'de> serde::Deserialize<'de>>(resp: &ChatResponse, name: &str) -> T {
    let roles: Vec<String> = ROLES.iter().map(|r| r.to_string()).collect();
    args_with_roles(resp, name, &roles)
}

fn args_with_roles<T: for<'de> serde::Deserialize<'de>>(
    resp: &ChatResponse,
    name: &str,
    roles: &[String],
) -> T {
    assert_eq!(resp.tool_calls.len(), 1, "one tool call");
    assert_eq!(resp.tool_calls[0].name, name);
    baton::engine::validate::parse(name, &resp.tool_calls[0].arguments, roles)
        .unwrap_or_else(|e| panic!("invalid {name} arguments: {e}"))
}

fn assert_streamed(resp: &ChatResponse, events: &[StreamEvent]) {
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let deltas = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::TextDelta { .. }))
        .count();
    assert!(deltas > 5, "text streamed word by word ({deltas} deltas)");
    assert_eq!(text, resp.text, "the deltas add up to the text");
    if let Some(call) = resp.tool_calls.first() {
        assert!(events.iter().any(|e| matches!(
            e,
            StreamEvent::ToolCallStart { id, name, .. } if id == &call.id && name == &call.name
        )));
        let json: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ToolCallDelta { json, .. } => Some(json.as_str()),
                _ => None,
            })
            .collect();
        let parsed: Value = serde_json::from_str(&json).expect("fragments form valid JSON");
        assert_eq!(parsed, call.arguments);
    }
    assert!(resp.usage.input_tokens > 0 && resp.usage.output_tokens > 0);
    assert_eq!(
        resp.stop_reason == StopReason::ToolUse,
        !resp.tool_calls.is_empty()
    );
    assert_eq!(resp.model, "demo-model");
}

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

// ---- workspace tools -------------------------------------------------------------------------

fn workspace_tools() -> Vec<ToolDef> {
    let path =
        json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]});
    vec![
        tool("list_dir", path.clone()),
        tool("read_file", path),
        tool(
            "search",
            json!({"type": "object", "properties": {"pattern": {"type": "string"}}}),
        ),
        tool(
            "write_file",
            json!({"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}}),
        ),
        tool(
            "edit_file",
            json!({"type": "object", "properties": {"path": {"type": "string"}, "old_string": {"type": "string"}, "new_string": {"type": "string"}}}),
        ),
        tool(
            "run_command",
            json!({"type": "object", "properties": {"command": {"type": "string"}}}),
        ),
    ]
}

/// Appends the assistant's tool call and a tool result to the conversation.
fn answer(history: &mut Vec<Message>, resp: &ChatResponse, result: &str, is_error: bool) {
    let call = &resp.tool_calls[0];
    history.push(Message {
        role: ChatRole::Assistant,
        content: vec![
            Content::Text {
                text: resp.text.clone(),
            },
            Content::ToolUse {
                id: call.id.clone(),
                name: call.name.clone(),
                input: call.arguments.clone(),
            },
        ],
    });
    history.push(Message {
        role: ChatRole::User,
        content: vec![Content::ToolResult {
            tool_use_id: call.id.clone(),
            content: result.into(),
            is_error,
        }],
    });
}

const APP_PY: &str = "import sqlite3\n\n\ndef shorten(url):\n    return url[:7]\n\n\ndef resolve(code):\n    return None\n";

#[tokio::test]
async fn developer_lists_reads_and_makes_an_exact_edit() {
    let p = provider(7);
    let b = brief("Implement the shortening API", "code_developer", 1, None);
    let mut history = Vec::new();

    let (resp, events) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_streamed(&resp, &events);
    assert_eq!(resp.tool_calls[0].name, "list_dir");
    assert_eq!(resp.tool_calls[0].arguments, json!({"path": "."}));
    answer(
        &mut history,
        &resp,
        "src/\ntests/\nREADME.md\npyproject.toml\n",
        false,
    );

    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "list_dir", "looks inside src/");
    assert_eq!(resp.tool_calls[0].arguments, json!({"path": "src"}));
    answer(&mut history, &resp, "app.py\n__init__.py\n", false);

    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "read_file");
    assert_eq!(resp.tool_calls[0].arguments, json!({"path": "src/app.py"}));
    answer(&mut history, &resp, APP_PY, false);

    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "edit_file");
    let a = &resp.tool_calls[0].arguments;
    let old = a["old_string"].as_str().unwrap();
    let new = a["new_string"].as_str().unwrap();
    assert_eq!(a["path"], "src/app.py");
    assert_eq!(
        APP_PY.matches(old).count(),
        1,
        "the snippet is exact and unique"
    );
    assert!(new.contains(old) && new.len() > old.len());
    answer(
        &mut history,
        &resp,
        "edited src/app.py (1 replacement)",
        false,
    );

    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Complete);
    assert!(r.results.contains("Edited `src/app.py`"));
    assert!(r.results.contains("Read `src/app.py`"));
}

/// Lists, reads and proposes an edit of `APP_PY`; returns the conversation so far.
async fn up_to_the_edit(p: &DemoProvider, b: &WorkerBrief) -> (Vec<Message>, ChatResponse) {
    let mut history = Vec::new();
    let (resp, _) = call(p, worker_request(b, workspace_tools(), history.clone())).await;
    answer(
        &mut history,
        &resp,
        "./ (1 entries, depth 1)\napp.py (120 bytes)\n",
        false,
    );
    let (resp, _) = call(p, worker_request(b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "read_file");
    answer(
        &mut history,
        &resp,
        &format!("app.py (9 lines)\n{APP_PY}"),
        false,
    );
    let (resp, _) = call(p, worker_request(b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "edit_file");
    let old = resp.tool_calls[0].arguments["old_string"].as_str().unwrap();
    assert_eq!(
        APP_PY.matches(old).count(),
        1,
        "the header line is not part of the text"
    );
    (history, resp)
}

#[tokio::test]
async fn developer_reports_a_failed_edit() {
    let p = provider(7);
    let b = brief(
        "Validate and normalise target URLs",
        "code_developer",
        1,
        None,
    );
    let (mut history, resp) = up_to_the_edit(&p, &b).await;
    answer(
        &mut history,
        &resp,
        "`def resolve(code):` was not found in app.py",
        true,
    );
    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Partial);
    assert!(r.results.contains("was not found in app.py"));
    assert!(
        r.discoveries
            .iter()
            .any(|d| d.contains("could not be made"))
    );
}

#[tokio::test]
async fn developer_rereads_after_a_conflict_and_edits_again() {
    let p = provider(7);
    let b = brief(
        "Add rate limiting to link creation",
        "code_developer",
        1,
        None,
    );
    let (mut history, resp) = up_to_the_edit(&p, &b).await;
    answer(
        &mut history,
        &resp,
        "conflict: `app.py` was not written because it changed since this worker read it",
        true,
    );
    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "read_file", "reads the new text");
    let changed = APP_PY.replace("def shorten(url):", "def shorten(url: str) -> str:");
    answer(&mut history, &resp, &changed, false);
    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "edit_file");
    let old = resp.tool_calls[0].arguments["old_string"].as_str().unwrap();
    assert_eq!(
        changed.matches(old).count(),
        1,
        "the edit is planned on the new text"
    );
    answer(&mut history, &resp, "edited app.py (1 replacement)", false);
    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    let r: Report = args(&resp, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Complete);
    assert!(r.discoveries.iter().any(|d| d.contains("re-read the file")));
}

#[tokio::test]
async fn test_engineer_runs_the_suite_and_reports_the_exit_code() {
    let p = provider(7);
    let b = brief("Write the test suite", "test_engineer", 1, None);
    let mut history = Vec::new();
    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "list_dir");
    answer(&mut history, &resp, "src/\ntests/\npyproject.toml\n", false);
    let (resp, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    assert_eq!(resp.tool_calls[0].name, "run_command");
    assert_eq!(
        resp.tool_calls[0].arguments,
        json!({"command": "python3 -m pytest -q"})
    );
    let mut denied = history.clone();
    answer(
        &mut history,
        &resp,
        "exit code: 0\n12 passed in 0.20s",
        false,
    );
    let (resp2, _) = call(&p, worker_request(&b, workspace_tools(), history.clone())).await;
    let r: Report = args(&resp2, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Complete);
    assert!(r.results.contains("exit code 0"));

    // Denied by the person: a tool error; the worker reports partial and says why.
    answer(
        &mut denied,
        &resp,
        "denied by the person: not on my laptop",
        true,
    );
    let (resp3, _) = call(&p, worker_request(&b, workspace_tools(), denied)).await;
    let r: Report = args(&resp3, SUBMIT_REPORT);
    assert_eq!(r.status, ReportStatus::Partial);
    assert!(r.discoveries.iter().any(|d| d.contains("not on my laptop")));
}

#[tokio::test]
async fn read_only_tools_still_end_in_a_report() {
    let p = provider(7);
    let b = brief("Implement the shortening API", "code_developer", 1, None);
    let tools: Vec<ToolDef> = workspace_tools()
        .into_iter()
        .filter(|t| t.name == "list_dir" || t.name == "read_file")
        .collect();
    let mut history = Vec::new();
    for _ in 0..10 {
        let (resp, _) = call(&p, worker_request(&b, tools.clone(), history.clone())).await;
        if resp.tool_calls[0].name == SUBMIT_REPORT {
            let r: Report = args(&resp, SUBMIT_REPORT);
            assert_eq!(r.status, ReportStatus::Complete);
            return;
        }
        assert_ne!(resp.tool_calls[0].name, "edit_file", "not offered");
        answer(&mut history, &resp, "no such file or directory", true);
    }
    panic!("the worker never reported");
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

// ---- a whole run, driven by a small simulator of the engine's loop ------------------------------

struct SimSubtask {
    id: u32,
    title: String,
    role: String,
    priority: Priority,
    deps: Vec<u32>,
    status: String,
    results: Option<String>,
    attempts: u32,
    guidance: Option<String>,
}

struct Sim {
    p: DemoProvider,
    task: String,
    subtasks: Vec<SimSubtask>,
    initial: u32,
    cycle: u32,
    escalations: Vec<String>,
    calls: u32,
}

impl Sim {
    fn resolve(&self, reference: &str, batch_ids: &[(String, u32)]) -> u32 {
        if let Some(n) = reference.strip_prefix('#') {
            let n: u32 = n.parse().unwrap();
            assert!(self.subtasks.iter().any(|s| s.id == n), "unknown #{n}");
            return n;
        }
        self.subtasks
            .iter()
            .find(|s| s.title == reference)
            .map(|s| s.id)
            .or_else(|| {
                batch_ids
                    .iter()
                    .find(|(t, _)| t == reference)
                    .map(|(_, i)| *i)
            })
            .unwrap_or_else(|| panic!("unknown dependency {reference:?}"))
    }

    fn add(&mut self, list: &[ProposedSubtask]) {
        let mut batch = Vec::new();
        for s in list {
            let deps = s
                .depends_on
                .iter()
                .map(|d| self.resolve(d, &batch))
                .collect();
            let id = self.subtasks.len() as u32 + 1;
            batch.push((s.title.clone(), id));
            assert!(ROLES.contains(&s.role.as_str()), "role {}", s.role);
            self.subtasks.push(SimSubtask {
                id,
                title: s.title.clone(),
                role: s.role.clone(),
                priority: s.priority,
                deps,
                status: "ready".into(),
                results: None,
                attempts: 0,
                guidance: None,
            });
        }
    }

    fn context(&self, step: Step) -> OrchestratorContext {
        OrchestratorContext {
            step,
            task: self.task.clone(),
            initial_estimate: self.initial,
            current_estimate: self
                .subtasks
                .iter()
                .filter(|s| s.status != "cancelled")
                .count() as u32,
            subtasks: self
                .subtasks
                .iter()
                .map(|s| SubtaskView {
                    id: s.id,
                    title: s.title.clone(),
                    role: s.role.clone(),
                    status: s.status.clone(),
                    priority: s.priority,
                    depends_on: s.deps.clone(),
                    results: s.results.clone(),
                })
                .collect(),
            reports: Vec::new(),
            failure: None,
            roles: ROLES.iter().map(|r| r.to_string()).collect(),
            cycle: self.cycle,
            person_available: true,
        }
    }

    async fn orchestrate<T: for<'de> serde::Deserialize<'de>>(
        &mut self,
        name: &str,
        ctx: &OrchestratorContext,
    ) -> T {
        self.calls += 1;
        let (resp, _) = call(&self.p, orchestrator_request(name, ctx)).await;
        args(&resp, name)
    }

    fn runnable(&self) -> Option<usize> {
        self.subtasks.iter().position(|s| {
            s.status == "ready"
                && s.deps.iter().all(|d| {
                    let st = &self.subtasks[*d as usize - 1].status;
                    st == "complete" || st == "partial"
                })
        })
    }

    async fn run_worker(&mut self, i: usize) {
        self.subtasks[i].attempts += 1;
        self.subtasks[i].status = "running".into();
        let s = &self.subtasks[i];
        let b = WorkerBrief {
            task: self.task.clone(),
            id: s.id,
            title: s.title.clone(),
            description: String::new(),
            role: s.role.clone(),
            expected_output: String::new(),
            attempt: s.attempts,
            shared_decisions: Vec::new(),
            dependency_results: s
                .deps
                .iter()
                .map(|d| DependencyResult {
                    id: *d,
                    title: self.subtasks[*d as usize - 1].title.clone(),
                    results: self.subtasks[*d as usize - 1]
                        .results
                        .clone()
                        .unwrap_or_default(),
                })
                .collect(),
            guidance: s.guidance.clone(),
        };
        self.calls += 1;
        let (resp, _) = call(&self.p, worker_request(&b, vec![], vec![])).await;
        let report: Report = args(&resp, SUBMIT_REPORT);
        let s = &mut self.subtasks[i];
        s.status = match report.status {
            ReportStatus::Complete => "complete",
            ReportStatus::Partial => "partial",
            ReportStatus::Blocked => "blocked",
        }
        .into();
        s.results = Some(report.results.clone());
        let (id, title, role, attempts) = (s.id, s.title.clone(), s.role.clone(), s.attempts);
        if report.status == ReportStatus::Blocked {
            let mut ctx = self.context(Step::Recovery);
            ctx.failure = Some(FailureView {
                id,
                title,
                role,
                attempts,
                error: format!("blocked: {}", report.results),
                last_output: resp.text.clone(),
            });
            let r: RecoveryArgs = self.orchestrate(DECIDE_RECOVERY, &ctx).await;
            assert_eq!(r.action, RecoveryChoice::Escalate);
            self.escalations.push(r.rationale);
            self.subtasks[i].status = "escalated".into();
            return;
        }
        self.cycle += 1;
        let mut ctx = self.context(Step::Replan);
        ctx.reports = vec![ReportView {
            id,
            title,
            role,
            report,
        }];
        let r: ReplanArgs = self.orchestrate(SUBMIT_REPLAN, &ctx).await;
        self.add(&r.add);
        for u in &r.update {
            let target = self.resolve(&u.id, &[]);
            if let Some(deps) = &u.depends_on {
                let deps = deps.iter().map(|d| self.resolve(d, &[])).collect();
                self.subtasks[target as usize - 1].deps = deps;
            }
        }
        for c in &r.cancel {
            let target = self.resolve(&c.id, &[]);
            self.subtasks[target as usize - 1].status = "cancelled".into();
        }
        let live = self
            .subtasks
            .iter()
            .filter(|s| s.status != "cancelled")
            .count() as u32;
        assert_eq!(
            r.estimated_total,
            Some(live),
            "the estimate matches the plan"
        );
    }

    async fn run_until_idle(&mut self) {
        loop {
            while let Some(i) = self.runnable() {
                self.run_worker(i).await;
            }
            // A person answers each escalation with guidance.
            let Some(s) = self.subtasks.iter_mut().find(|s| s.status == "escalated") else {
                return;
            };
            s.guidance =
                Some("Links expire after 90 days; creators may choose a shorter expiry".into());
            s.status = "ready".into();
        }
    }
}

#[tokio::test]
async fn a_whole_run_grows_the_plan_escalates_once_and_synthesises() {
    let cpu = std::time::Instant::now();
    let mut sim = Sim {
        p: provider(7),
        task: SHOWCASE.into(),
        subtasks: Vec::new(),
        initial: 0,
        cycle: 0,
        escalations: Vec::new(),
        calls: 0,
    };
    let a: AnalysisArgs = sim
        .orchestrate(SUBMIT_ANALYSIS, &context(Step::Analysis, SHOWCASE))
        .await;
    sim.initial = a.estimated_subtasks;
    sim.add(&a.subtasks);
    sim.run_until_idle().await;

    assert_eq!(sim.escalations.len(), 1, "one escalation");
    assert!(sim.escalations[0].contains("link expiry"));
    let storage = sim
        .subtasks
        .iter()
        .find(|s| s.title == "Implement the storage layer")
        .unwrap();
    assert_eq!(storage.attempts, 2);
    assert!(storage.results.as_deref().unwrap().contains("90 days"));
    // The tests waited for the storage layer (re-linked by a replan).
    let tests = sim
        .subtasks
        .iter()
        .find(|s| s.title == "Write the test suite")
        .unwrap();
    assert!(tests.deps.contains(&storage.id));
    assert_eq!(sim.subtasks.len(), 10, "scope grew from 6 to 10");
    assert!(sim.subtasks.len() as u32 > sim.initial);
    assert!(sim.subtasks.iter().any(|s| s.status == "partial"));
    assert!(
        sim.subtasks
            .iter()
            .all(|s| s.status == "complete" || s.status == "partial")
    );

    let c: CompletionArgs = sim
        .orchestrate(ASSESS_COMPLETION, &sim.context(Step::Completion))
        .await;
    assert!(c.complete);

    // Evaluation: one more subtask, then accepted.
    sim.cycle = 1;
    let e: EvaluationArgs = sim
        .orchestrate(SUBMIT_EVALUATION, &sim.context(Step::Evaluation))
        .await;
    assert!(!e.accepted);
    sim.add(&e.new_subtasks);
    sim.run_until_idle().await;
    sim.cycle = 2;
    let e: EvaluationArgs = sim
        .orchestrate(SUBMIT_EVALUATION, &sim.context(Step::Evaluation))
        .await;
    assert!(e.accepted);
    assert_eq!(sim.subtasks.len(), 11);

    let s: SynthesisArgs = sim
        .orchestrate(SUBMIT_SYNTHESIS, &sim.context(Step::Synthesis))
        .await;
    assert!(
        s.deliverable
            .contains("| 7 | Implement the storage layer |")
    );
    assert!(
        s.deliverable.contains("90 days"),
        "the person's decision reaches the deliverable"
    );
    let elapsed = cpu.elapsed();
    assert!(
        elapsed.as_secs_f64() < 3.0,
        "{} calls took {elapsed:?}",
        sim.calls
    );
}

#[tokio::test]
async fn a_whole_generic_run_also_completes() {
    let task = "Create a recipe manager that imports recipes from the web";
    let mut sim = Sim {
        p: provider(3),
        task: task.into(),
        subtasks: Vec::new(),
        initial: 0,
        cycle: 0,
        escalations: Vec::new(),
        calls: 0,
    };
    let a: AnalysisArgs = sim
        .orchestrate(SUBMIT_ANALYSIS, &context(Step::Analysis, task))
        .await;
    sim.initial = a.estimated_subtasks;
    sim.add(&a.subtasks);
    sim.run_until_idle().await;
    assert_eq!(sim.escalations.len(), 1);
    assert!(sim.escalations[0].contains("data retention"));
    assert_eq!(sim.subtasks.len(), 10);
    let s: SynthesisArgs = sim
        .orchestrate(SUBMIT_SYNTHESIS, &sim.context(Step::Synthesis))
        .await;
    assert!(s.deliverable.contains("recipe manager"));
}

// ---- the real engine on the demo ------------------------------------------------------------

use baton::engine::Start;
use baton::protocol::{ApprovalPolicy, Command, CommandDecision, Event, Resolution, RunOutcome};
use baton::state::SubtaskStatus;
use baton::tools::{WorkerTools, Workspace, WorkspaceOptions};
use engine_common::{check_consistent, config, drive, settings};

const GUIDANCE: &str = "Links expire after 90 days; creators may choose a shorter expiry";

fn demo_arc() -> Arc<dyn Provider> {
    baton::session::build_provider(&ProviderSettings {
        kind: ProviderKind::Demo,
        demo_pace_ms: 0,
        ..ProviderSettings::default()
    })
    .unwrap()
}

/// A person who answers every escalation with guidance and allows every command once.
fn person(env: &baton::protocol::Envelope) -> Vec<Command> {
    match &env.event {
        Event::SubtaskEscalated { id, .. } => vec![Command::Resolve {
            id: *id,
            resolution: Resolution::Retry {
                guidance: GUIDANCE.into(),
            },
        }],
        Event::CommandApprovalRequested { request, .. } => vec![Command::DecideCommand {
            request: *request,
            decision: CommandDecision::AllowOnce,
        }],
        _ => vec![],
    }
}

async fn run_showcase(dir: &Path, evaluate: bool) -> engine_common::Finished {
    let mut s = settings(ApprovalPolicy::Auto, 3);
    s.provider = "demo".into();
    s.evaluate = evaluate;
    drive(
        config(dir, s),
        demo_arc(),
        Start::New {
            run_id: "demo-e2e".into(),
            task: SHOWCASE.into(),
        },
        |env, _| person(env),
    )
    .await
}

#[tokio::test(start_paused = true)]
async fn with_evaluate_the_evaluator_adds_one_subtask_then_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let f = run_showcase(dir.path(), true).await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);
    let rounds: Vec<(bool, usize)> = f
        .of(|e| matches!(e, Event::EvaluationCompleted { .. }))
        .filter_map(|e| match e {
            Event::EvaluationCompleted {
                accepted, added, ..
            } => Some((*accepted, added.len())),
            _ => None,
        })
        .collect();
    assert_eq!(rounds, vec![(false, 1), (true, 0)]);
    assert_eq!(f.state.subtasks.len(), 11);
    let smoke = f.state.subtasks.last().unwrap();
    assert_eq!(smoke.title, "Add an end-to-end smoke test");
    assert_eq!(smoke.status, SubtaskStatus::Complete);
}

#[tokio::test(start_paused = true)]
async fn the_engine_runs_the_showcase_on_the_demo_to_a_deliverable() {
    let dir = tempfile::tempdir().unwrap();
    let f = run_showcase(dir.path(), false).await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);
    let st = &f.state;
    assert_eq!(st.initial_estimate(), 6);
    assert_eq!(st.subtasks.len(), 10, "the plan grew from 6 to 10");
    assert!(st.rejected.is_empty(), "{:?}", st.rejected);
    assert!(
        st.subtasks
            .iter()
            .all(|t| matches!(t.status, SubtaskStatus::Complete | SubtaskStatus::Partial)),
        "{:?}",
        st.subtasks
            .iter()
            .map(|t| (t.id, t.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskEscalated { .. }))
            .count(),
        1,
        "one escalation"
    );
    let storage = st
        .subtasks
        .iter()
        .find(|t| t.title == "Implement the storage layer")
        .unwrap();
    assert_eq!(storage.attempts, 2);
    let tests = st
        .subtasks
        .iter()
        .find(|t| t.title == "Write the test suite")
        .unwrap();
    assert!(
        tests.depends_on.contains(&storage.id),
        "re-linked by a replan"
    );
    let synthesis = st.synthesis.as_ref().unwrap();
    assert!(synthesis.deliverable.contains("## API"));
    assert!(
        synthesis.deliverable.contains("90 days"),
        "the person's decision is in it"
    );
    assert!(st.replan_log.len() >= 3, "{}", st.replan_log.len());
    assert!(st.usage.input_tokens > 0 && st.usage.output_tokens > 0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The issue #5 demo: on a copy of the sample project, workers read files, make real edits,
/// ask before running the tests, and every change is on record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_workers_read_edit_and_test_the_sample_project() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = tmp.path().join("project");
    let run_dir = tmp.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-project"),
        &ws_dir,
    );
    let ws = Arc::new(Workspace::open(&ws_dir, WorkspaceOptions::new(&run_dir)).unwrap());
    // One worker at a time: the edits land in a fixed order (parallel edits of the same
    // file are covered by `developer_rereads_after_a_conflict_and_edits_again`).
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.provider = "demo".into();
    s.workspace = Some(ws_dir.display().to_string());
    let mut cfg = config(&run_dir, s);
    cfg.tools = Some(ws as Arc<dyn WorkerTools>);
    let f = drive(
        cfg,
        demo_arc(),
        Start::New {
            run_id: "demo-workspace".into(),
            task: SHOWCASE.into(),
        },
        |env, _| person(env),
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);

    let used: Vec<(String, String, bool)> = f
        .of(|e| matches!(e, Event::WorkerToolUsed { .. }))
        .filter_map(|e| match e {
            Event::WorkerToolUsed {
                tool,
                summary,
                is_error,
                ..
            } => Some((tool.clone(), summary.clone(), *is_error)),
            _ => None,
        })
        .collect();
    for tool in [
        "list_dir",
        "read_file",
        "search",
        "edit_file",
        "run_command",
    ] {
        assert!(
            used.iter().any(|(t, _, _)| t == tool),
            "{tool} used: {used:?}"
        );
    }
    // The tests ran after approval, and passed on the edited project.
    assert!(
        f.of(|e| matches!(e, Event::CommandApprovalRequested { .. }))
            .count()
            >= 1
    );
    assert!(
        used.iter()
            .any(|(t, sum, err)| t == "run_command" && sum.contains("exit 0") && !err),
        "{used:?}"
    );
    // Real edits to the sample, on record.
    assert!(f.of(|e| matches!(e, Event::FileChanged { .. })).count() >= 2);
    let core = std::fs::read_to_string(ws_dir.join("shortener/core.py")).unwrap();
    let transcript: Vec<String> = f
        .state
        .subtasks
        .iter()
        .map(|t| format!("#{} {} {:?}: {:?}", t.id, t.title, t.status, t.tool_uses))
        .collect();
    assert!(
        !core.contains("TODO: reject URLs"),
        "the validation TODO is fixed:\n{core}\n{}",
        transcript.join("\n")
    );
    assert!(core.contains("raise ValueError(f\"not an http(s) URL"));
    let tester = f
        .state
        .subtasks
        .iter()
        .find(|t| t.title == "Write the test suite")
        .unwrap();
    let report = tester.report.as_ref().unwrap();
    assert!(report.results.contains("exit code 0"), "{}", report.results);
}

#[tokio::test]
async fn a_whole_writing_run_escalates_the_audience_and_completes() {
    let task = "Write a report on the adoption of heat pumps in Europe";
    let mut sim = Sim {
        p: provider(5),
        task: task.into(),
        subtasks: Vec::new(),
        initial: 0,
        cycle: 0,
        escalations: Vec::new(),
        calls: 0,
    };
    let a: AnalysisArgs = sim
        .orchestrate(SUBMIT_ANALYSIS, &context(Step::Analysis, task))
        .await;
    assert_eq!(a.subtasks[0].title, "Gather the sources");
    sim.initial = a.estimated_subtasks;
    sim.add(&a.subtasks);
    sim.run_until_idle().await;
    assert_eq!(sim.escalations.len(), 1);
    assert!(sim.escalations[0].contains("audience"));
    assert_eq!(sim.subtasks.len(), 10);
    assert!(sim.subtasks.iter().any(|s| s.status == "partial"));
    let s: SynthesisArgs = sim
        .orchestrate(SUBMIT_SYNTHESIS, &sim.context(Step::Synthesis))
        .await;
    assert!(
        s.deliverable
            .starts_with("# Adoption of heat pumps in Europe\n"),
        "{}",
        s.deliverable
    );
    assert!(
        s.deliverable.contains("90 days"),
        "the person's decision is in it"
    );
}
