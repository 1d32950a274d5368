//! Shared by the demo tests: crafted requests to the demo provider (orchestrator steps and
//! worker briefs), the call that collects the streamed events, and the real engine on the demo
//! with a person who answers every escalation.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use baton::demo::DemoProvider;
use baton::engine::Start;
use baton::llm::*;
use baton::protocol::model::*;
use baton::protocol::{ApprovalPolicy, Command, CommandDecision, Event, Resolution, ToolDef};
use serde_json::{Value, json};

use crate::engine_common::{self, config, drive, settings};

pub const SHOWCASE: &str = "Build a URL shortener with an API, storage and tests";
pub const ROLES: [&str; 6] = [
    "code_analyzer",
    "system_architect",
    "code_developer",
    "test_engineer",
    "documentation_writer",
    "performance_optimizer",
];

pub fn provider(seed: u64) -> DemoProvider {
    DemoProvider::new(&ProviderSettings {
        demo_pace_ms: 0,
        demo_seed: seed,
        ..ProviderSettings::default()
    })
}

pub fn tool(name: &str, schema: Value) -> ToolDef {
    ToolDef {
        name: name.into(),
        description: format!("the {name} tool"),
        input_schema: schema,
    }
}

pub fn request(choice: ToolChoice, tools: Vec<ToolDef>, messages: Vec<Message>) -> ChatRequest {
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

pub fn context(step: Step, task: &str) -> OrchestratorContext {
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
        last_replan: false,
        plan_index: None,
        balance: None,
        rejected_by_person: Vec::new(),
    }
}

pub fn orchestrator_request(tool_name: &str, ctx: &OrchestratorContext) -> ChatRequest {
    request(
        ToolChoice::Tool(tool_name.into()),
        vec![tool(tool_name, json!({"type": "object"}))],
        vec![Message::user(format!(
            "Here is the plan.\n{}",
            render_block("context", ctx)
        ))],
    )
}

pub fn brief(title: &str, role: &str, attempt: u32, guidance: Option<&str>) -> WorkerBrief {
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

pub fn worker_request(b: &WorkerBrief, tools: Vec<ToolDef>, history: Vec<Message>) -> ChatRequest {
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
pub async fn call(p: &DemoProvider, req: ChatRequest) -> (ChatResponse, Vec<StreamEvent>) {
    let events = Mutex::new(Vec::new());
    let sink = |e: StreamEvent| events.lock().unwrap().push(e);
    let resp = p.chat(req, &sink).await.expect("the demo never fails");
    (resp, events.into_inner().unwrap())
}

/// The arguments of the one tool call, checked by the engine's own validator (JSON Schema
/// with the default roles, then the typed struct).
pub fn args<T: for<'de> serde::Deserialize<'de>>(resp: &ChatResponse, name: &str) -> T {
    let roles: Vec<String> = ROLES.iter().map(|r| r.to_string()).collect();
    args_with_roles(resp, name, &roles)
}

pub fn args_with_roles<T: for<'de> serde::Deserialize<'de>>(
    resp: &ChatResponse,
    name: &str,
    roles: &[String],
) -> T {
    assert_eq!(resp.tool_calls.len(), 1, "one tool call");
    assert_eq!(resp.tool_calls[0].name, name);
    baton::engine::validate::parse(name, &resp.tool_calls[0].arguments, roles)
        .unwrap_or_else(|e| panic!("invalid {name} arguments: {e}"))
}

pub fn assert_streamed(resp: &ChatResponse, events: &[StreamEvent]) {
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

pub const GUIDANCE: &str = "Links expire after 90 days; creators may choose a shorter expiry";

pub fn demo_arc() -> Arc<dyn Provider> {
    baton::session::build_provider(&ProviderSettings {
        kind: ProviderKind::Demo,
        demo_pace_ms: 0,
        ..ProviderSettings::default()
    })
    .unwrap()
}

/// A person who answers every escalation with guidance and allows every command once.
pub fn person(env: &baton::protocol::Envelope) -> Vec<Command> {
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

pub async fn run_showcase(dir: &Path, evaluate: bool) -> engine_common::Finished {
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
