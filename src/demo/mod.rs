//! The `demo` provider: a built-in simulated orchestrator and workers behind the same
//! [`Provider`] trait as the HTTP providers, so the whole app runs with no key and no network.
//!
//! It reads the protocol blocks the engine writes (`<context>` for orchestrator steps,
//! `<brief>` for workers, see `engine::protocol`), answers with valid tool arguments taken
//! from the scenario in `assets/demo/` (docs/demo.md), and streams them word by word at
//! `demo_pace_ms`. Everything is a pure function of the request and `demo_seed`, so runs are
//! reproducible and resume-safe.
//!
//! Must not: use the network, keep state between calls, or panic on any request (an
//! unexpected one gets a generic but valid answer).

pub mod analysis;
mod edits;
mod listing;
mod orchestrator;
mod replan;
mod scenario;
mod stream;
mod synthesis;
mod tools;
mod vars;
mod worker;
mod workspace;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

pub use scenario::Scenario;
pub use stream::Reply;

use crate::llm::{
    ChatRequest, ChatResponse, ChatRole, Content, DeltaSink, LlmError, Provider, ProviderSettings,
    ToolChoice,
};
use crate::protocol::model::{
    ASSESS_COMPLETION, DECIDE_RECOVERY, OrchestratorContext, SUBMIT_ANALYSIS, SUBMIT_EVALUATION,
    SUBMIT_REPLAN, SUBMIT_REPORT, SUBMIT_SYNTHESIS, Step, WorkerBrief, extract_block,
};

/// The simulated model.
pub struct DemoProvider {
    scenario: Result<Arc<Scenario>, String>,
    pace_ms: u64,
    seed: u64,
}

impl DemoProvider {
    pub fn new(settings: &ProviderSettings) -> Self {
        Self {
            scenario: Scenario::builtin().map(Arc::new),
            pace_ms: settings.demo_pace_ms,
            seed: settings.demo_seed,
        }
    }

    /// What the model answers to `req`, before streaming (pure; used by `chat` and tests).
    pub fn reply(&self, req: &ChatRequest) -> Result<Reply, LlmError> {
        let scenario = self.scenario.as_ref().map_err(|e| {
            LlmError::InvalidResponse(format!("the built-in demo scenario is invalid: {e}"))
        })?;
        Ok(reply(scenario, req))
    }
}

#[async_trait]
impl Provider for DemoProvider {
    fn name(&self) -> &str {
        "demo"
    }

    fn base_url(&self) -> &str {
        ""
    }

    async fn chat(&self, req: ChatRequest, sink: DeltaSink<'_>) -> Result<ChatResponse, LlmError> {
        let reply = self.reply(&req)?;
        let key = request_key(&req);
        let mut rng = stream::Rng::new(self.seed, &key);
        let call_id = format!("toolu_demo_{:016x}", rng.next_u64());
        Ok(stream::play(&req, reply, self.pace_ms, &mut rng, call_id, sink).await)
    }
}

/// A stable digest of the request's content, so the same request always plays the same.
fn request_key(req: &ChatRequest) -> String {
    let mut key = String::new();
    for m in &req.messages {
        for c in &m.content {
            match c {
                Content::Text { text } => key.push_str(text),
                Content::ToolUse { id, name, .. } => {
                    key.push_str(id);
                    key.push_str(name);
                }
                Content::ToolResult { tool_use_id, .. } => key.push_str(tool_use_id),
            }
        }
    }
    format!("{:016x}", stream::fnv1a(&key))
}

/// All text of the user messages, newest first (where the engine puts its blocks).
fn user_texts(req: &ChatRequest) -> Vec<&str> {
    let mut out = Vec::new();
    for m in req.messages.iter().rev() {
        if m.role != ChatRole::User {
            continue;
        }
        for c in &m.content {
            if let Content::Text { text } = c {
                out.push(text.as_str());
            }
        }
    }
    out
}

fn find_block<T: for<'de> serde::Deserialize<'de>>(req: &ChatRequest, tag: &str) -> Option<T> {
    user_texts(req)
        .into_iter()
        .chain(std::iter::once(req.system.as_str()))
        .find_map(|t| extract_block::<T>(t, tag))
}

/// The orchestrator steps, by tool name.
fn step_of_tool(name: &str) -> Option<Step> {
    Some(match name {
        SUBMIT_ANALYSIS => Step::Analysis,
        SUBMIT_REPLAN => Step::Replan,
        DECIDE_RECOVERY => Step::Recovery,
        ASSESS_COMPLETION => Step::Completion,
        SUBMIT_SYNTHESIS => Step::Synthesis,
        SUBMIT_EVALUATION => Step::Evaluation,
        _ => return None,
    })
}

/// Picks the answer for a request, with every `role` in the arguments one the run offers.
pub fn reply(sc: &Scenario, req: &ChatRequest) -> Reply {
    let mut reply = script_reply(sc, req);
    let roles = offered_roles(req);
    if let Some((_, args)) = reply.tool.as_mut() {
        fit_roles(args, &roles);
    }
    reply
}

/// The roles this run offers: the `<context>` block's list, else the `role` enum of a tool
/// schema (workers see roles only there).
fn offered_roles(req: &ChatRequest) -> Vec<String> {
    if let Some(ctx) = find_block::<OrchestratorContext>(req, "context")
        && !ctx.roles.is_empty()
    {
        return ctx.roles;
    }
    fn find_enum(v: &Value) -> Option<Vec<String>> {
        match v {
            Value::Object(map) => {
                if let Some(list) = map
                    .get("role")
                    .and_then(|r| r.get("enum"))
                    .and_then(|e| e.as_array())
                {
                    return Some(
                        list.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect(),
                    );
                }
                map.values().find_map(find_enum)
            }
            Value::Array(items) => items.iter().find_map(find_enum),
            _ => None,
        }
    }
    req.tools
        .iter()
        .find_map(|t| find_enum(&t.input_schema))
        .unwrap_or_default()
}

/// Replaces every `role` string the run does not offer with the closest one it does: the
/// same kind of role (a user's `qa_engineer` for `test_engineer`), else a developer role,
/// else the first.
fn fit_roles(args: &mut Value, roles: &[String]) {
    if roles.is_empty() {
        return;
    }
    match args {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::String(role) if k == "role" && !roles.contains(role) => {
                        *role = closest_role(role, roles);
                    }
                    other => fit_roles(other, roles),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fit_roles(v, roles)),
        _ => {}
    }
}

fn closest_role(role: &str, roles: &[String]) -> String {
    use vars::RoleKind;
    let kind = RoleKind::of(role);
    roles
        .iter()
        .find(|r| RoleKind::of(r) == kind)
        .or_else(|| {
            roles
                .iter()
                .find(|r| RoleKind::of(r) == RoleKind::Developer)
        })
        .or_else(|| roles.first())
        .cloned()
        .unwrap_or_else(|| role.to_string())
}

fn script_reply(sc: &Scenario, req: &ChatRequest) -> Reply {
    let forced = match &req.tool_choice {
        ToolChoice::Tool(name) => Some(name.as_str()),
        _ => None,
    };
    let context: Option<OrchestratorContext> = find_block(req, "context");
    // A forced tool decides; otherwise the only orchestrator tool offered, else the context.
    let step = forced.and_then(step_of_tool).or_else(|| {
        if forced.is_some() {
            return None;
        }
        let offered: Vec<Step> = req
            .tools
            .iter()
            .filter_map(|t| step_of_tool(&t.name))
            .collect();
        match (&context, offered.as_slice()) {
            (_, [only]) => Some(*only),
            (Some(ctx), _) => Some(ctx.step),
            _ => None,
        }
    });
    if let Some(step) = step {
        let ctx = context.unwrap_or_else(|| bare_context(req, step));
        return match step {
            Step::Analysis => analysis::analysis(sc, &ctx.task),
            Step::Replan => replan::replan(sc, &ctx),
            Step::Recovery => orchestrator::recovery(sc, &ctx),
            Step::Completion => orchestrator::completion(&ctx),
            Step::Synthesis => synthesis::synthesis(sc, &ctx),
            Step::Evaluation => orchestrator::evaluation(sc, &ctx),
        };
    }
    let offers_report = req.tools.iter().any(|t| t.name == SUBMIT_REPORT);
    let brief = find_block::<WorkerBrief>(req, "brief");
    if forced.is_none_or(|f| f == SUBMIT_REPORT)
        && (offers_report || forced.is_some() || brief.is_some())
    {
        let brief = brief.unwrap_or_else(|| bare_brief(req));
        return worker::worker(sc, req, &brief);
    }
    generic(req, forced)
}

/// A context for an orchestrator request that carries no `<context>` block: the task is
/// the last user text.
fn bare_context(req: &ChatRequest, step: Step) -> OrchestratorContext {
    OrchestratorContext {
        step,
        task: user_texts(req)
            .first()
            .map(|t| t.trim().into())
            .unwrap_or_default(),
        initial_estimate: 0,
        current_estimate: 0,
        subtasks: Vec::new(),
        reports: Vec::new(),
        failure: None,
        roles: Vec::new(),
        cycle: 0,
        person_available: true,
        last_replan: false,
        plan_index: None,
        balance: None,
        rejected_by_person: Vec::new(),
    }
}

/// A brief for a worker request that carries no `<brief>` block.
fn bare_brief(req: &ChatRequest) -> WorkerBrief {
    let text = user_texts(req)
        .last()
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    WorkerBrief {
        task: text.as_str().into(),
        id: 0,
        title: vars::subject_of(&text),
        description: text,
        role: "code_developer".into(),
        expected_output: String::new(),
        attempt: 1,
        shared_decisions: Vec::new(),
        dependency_results: Vec::new(),
        guidance: None,
    }
}

/// An answer to a request the demo has no script for: plain text, or a call of the forced
/// (or only) tool with arguments made from its schema.
fn generic(req: &ChatRequest, forced: Option<&str>) -> Reply {
    const NOTE: &str = "This is Baton's built-in demo model: it plays a scripted orchestrator and workers so you can try Baton with no API key. Configure a real provider (see `baton doctor`) for real answers.";
    let tool = match (&req.tool_choice, forced) {
        (_, Some(name)) => req.tools.iter().find(|t| t.name == name),
        (ToolChoice::Any, None) => req.tools.first(),
        _ => None,
    };
    match tool {
        Some(t) => Reply::tool(NOTE, &t.name, example_of(&t.input_schema, 0)),
        None => match forced {
            // A forced tool without a definition: call it with an empty object.
            Some(name) => Reply::tool(NOTE, name, json!({})),
            None => Reply::text(NOTE),
        },
    }
}

/// A minimal value that satisfies a JSON Schema (required properties, first enum value).
fn example_of(schema: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
    {
        return first.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(a)) => a.iter().find_map(|t| t.as_str()).unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut obj = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(|r| r.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                for (k, v) in props {
                    if required.contains(&k.as_str()) {
                        obj.insert(k.clone(), example_of(v, depth + 1));
                    }
                }
            }
            Value::Object(obj)
        }
        "array" => json!([]),
        "string" => json!("demo"),
        "integer" => json!(1),
        "number" => json!(1.0),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}
