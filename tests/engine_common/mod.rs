//! Shared test support for the engine tests: a scripted model at the provider edge that
//! answers according to the forced tool and the `<context>`/`<brief>` blocks, a config
//! builder, and a driver that runs the engine, answers with commands and collects events.
//!
//! Test-only; must not be used by the binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use baton::engine::roles::default_roles;
use baton::engine::*;
use baton::journal::{self, Journal};
use baton::llm::pricing::PriceTable;
use baton::llm::*;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::state::*;
use serde_json::{Value, json};
use tokio::time::Instant;

/// What the scripted model sees of one call.
#[derive(Debug, Clone)]
pub struct Call {
    pub n: usize,
    pub forced: Option<String>,
    pub ctx: Option<OrchestratorContext>,
    pub brief: Option<WorkerBrief>,
    pub req: ChatRequest,
    /// Messages in this conversation so far (1 = first call).
    pub turn: usize,
}

impl Call {
    /// The last user message contains a tool error (a repair round trip).
    pub fn is_repair(&self) -> bool {
        self.req.messages.last().is_some_and(|m| {
            m.content.iter().any(|c| match c {
                Content::ToolResult { is_error, .. } => *is_error,
                Content::Text { text } => text.contains("Fix this"),
                _ => false,
            })
        })
    }
}

/// What the scripted model answers.
pub enum Reply {
    Tool(&'static str, Value),
    Text(String),
    Error(LlmError),
    /// The provider panics (a bug at the edge): the engine must survive it.
    Panic(&'static str),
}

pub type Rule = Box<dyn Fn(&Call) -> Option<Reply> + Send + Sync>;
pub type Delay = Box<dyn Fn(&Call) -> Option<Duration> + Send + Sync>;

/// One provider call as recorded (tokio clock).
#[derive(Debug, Clone)]
pub struct Record {
    pub forced: Option<String>,
    pub subtask: Option<u32>,
    pub step: Option<Step>,
    pub start: Instant,
    pub end: Instant,
}

pub struct Fake {
    pub latency: Duration,
    /// Per-call latency, overriding `latency` when it returns `Some`.
    pub delay: Option<Delay>,
    /// Tried in order before the defaults; the first `Some` answers.
    pub rules: Vec<Rule>,
    /// Default analysis subtasks.
    pub first: Vec<Value>,
    pub complexity: f64,
    pub estimate: u32,
    pub calls: AtomicUsize,
    pub log: Mutex<Vec<Record>>,
}

pub fn st(title: &str, role: &str, deps: &[&str]) -> Value {
    json!({"title": title, "description": format!("do {title}"), "role": role,
           "depends_on": deps, "priority": "normal", "expected_output": "text"})
}

pub fn report(status: &str, results: &str, new: Vec<Value>) -> Value {
    json!({"status": status, "results": results, "discoveries": [format!("found by {results}")],
           "recommendations": [], "new_subtasks": new})
}

impl Fake {
    pub fn new(first: Vec<Value>) -> Self {
        Self {
            latency: Duration::ZERO,
            delay: None,
            rules: Vec::new(),
            estimate: first.len() as u32,
            first,
            complexity: 0.9,
            calls: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    pub fn rule(mut self, r: impl Fn(&Call) -> Option<Reply> + Send + Sync + 'static) -> Self {
        self.rules.push(Box::new(r));
        self
    }

    pub fn delay(mut self, d: impl Fn(&Call) -> Option<Duration> + Send + Sync + 'static) -> Self {
        self.delay = Some(Box::new(d));
        self
    }

    pub fn latency(mut self, ms: u64) -> Self {
        self.latency = Duration::from_millis(ms);
        self
    }

    pub fn records(&self) -> Vec<Record> {
        self.log.lock().unwrap().clone()
    }

    fn default_reply(&self, c: &Call) -> Reply {
        match c.forced.as_deref() {
            Some(SUBMIT_ANALYSIS) => Reply::Tool(
                SUBMIT_ANALYSIS,
                json!({"complexity": self.complexity, "task_type": "open-ended",
                       "known_requirements": ["r1"], "unknowns": ["u1"],
                       "estimated_subtasks": self.estimate, "strategy": "divide and conquer",
                       "subtasks": self.first}),
            ),
            Some(SUBMIT_REPLAN) => {
                // A reasonable orchestrator: accept the workers' proposals not yet planned.
                let ctx = c.ctx.as_ref().unwrap();
                let known: Vec<String> = ctx
                    .subtasks
                    .iter()
                    .map(|s| s.title.to_lowercase())
                    .collect();
                let mut add = Vec::new();
                for r in &ctx.reports {
                    for p in &r.report.new_subtasks {
                        if !known.contains(&p.title.to_lowercase()) {
                            add.push(serde_json::to_value(p).unwrap());
                        }
                    }
                }
                Reply::Tool(
                    SUBMIT_REPLAN,
                    json!({"summary": "keep going", "add": add, "update": [], "cancel": [],
                           "scope_note": "as estimated"}),
                )
            }
            Some(DECIDE_RECOVERY) => Reply::Tool(
                DECIDE_RECOVERY,
                json!({"action": "retry", "rationale": "transient", "impact": "none"}),
            ),
            Some(ASSESS_COMPLETION) => {
                Reply::Tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
            }
            Some(SUBMIT_SYNTHESIS) => {
                let ctx = c.ctx.as_ref().unwrap();
                let parts: Vec<String> = ctx
                    .subtasks
                    .iter()
                    .filter_map(|s| s.results.clone())
                    .collect();
                Reply::Tool(
                    SUBMIT_SYNTHESIS,
                    json!({"deliverable": format!("DELIVERABLE: {}", parts.join(" | ")),
                           "integration_points": [], "conflicts": [], "coherence": "ok"}),
                )
            }
            Some(SUBMIT_EVALUATION) => Reply::Tool(
                SUBMIT_EVALUATION,
                json!({"accepted": true, "feedback": "good"}),
            ),
            _ => {
                let b = c.brief.as_ref().unwrap();
                Reply::Tool(
                    SUBMIT_REPORT,
                    report("complete", &format!("result of {}", b.title), vec![]),
                )
            }
        }
    }
}

fn first_text(req: &ChatRequest) -> String {
    req.messages
        .first()
        .map(|m| {
            m.content
                .iter()
                .filter_map(|c| match c {
                    Content::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("")
        })
        .unwrap_or_default()
}

#[async_trait]
impl Provider for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    fn base_url(&self) -> &str {
        ""
    }
    async fn chat(&self, req: ChatRequest, sink: DeltaSink<'_>) -> Result<ChatResponse, LlmError> {
        let start = Instant::now();
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let text = first_text(&req);
        let forced = match &req.tool_choice {
            ToolChoice::Tool(t) => Some(t.clone()),
            _ => None,
        };
        let call = Call {
            n,
            forced: forced.clone(),
            ctx: extract_block(&text, "context"),
            brief: extract_block(&text, "brief"),
            turn: req.messages.len() / 2 + 1,
            req,
        };
        let wait = self
            .delay
            .as_ref()
            .and_then(|d| d(&call))
            .unwrap_or(self.latency);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let reply = self
            .rules
            .iter()
            .find_map(|r| r(&call))
            .unwrap_or_else(|| self.default_reply(&call));
        self.log.lock().unwrap().push(Record {
            forced: forced.clone(),
            subtask: call.brief.as_ref().map(|b| b.id),
            step: call.ctx.as_ref().map(|c| c.step),
            start,
            end: Instant::now(),
        });
        let usage = Usage {
            input_tokens: 100,
            output_tokens: 50,
            ..Usage::default()
        };
        match reply {
            Reply::Panic(m) => panic!("{m}"),
            Reply::Error(e) => Err(e),
            Reply::Text(t) => {
                sink(StreamEvent::TextDelta { text: t.clone() });
                Ok(ChatResponse {
                    text: t,
                    tool_calls: vec![],
                    stop_reason: StopReason::EndTurn,
                    usage,
                    model: call.req.model.clone(),
                    retries: vec![],
                })
            }
            Reply::Tool(name, args) => Ok(ChatResponse {
                text: String::new(),
                tool_calls: vec![ToolCall {
                    id: format!("call_{n}"),
                    name: name.to_string(),
                    arguments: args,
                }],
                stop_reason: StopReason::ToolUse,
                usage,
                model: call.req.model.clone(),
                retries: vec![],
            }),
        }
    }
}

pub fn settings(approve: ApprovalPolicy, max_workers: u32) -> RunSettings {
    RunSettings {
        provider: "fake".into(),
        base_url: String::new(),
        orchestrator_model: "orch".into(),
        worker_model: "work".into(),
        max_workers,
        approve,
        limits: Limits::default(),
        complexity_threshold: 0.7,
        evaluate: false,
        evaluate_rounds: 1,
        workspace: None,
        read_only: false,
        allow_commands: false,
        role_dispatch: Default::default(),
    }
}

pub fn config(dir: &std::path::Path, settings: RunSettings) -> EngineConfig {
    EngineConfig {
        settings,
        roles: default_roles(),
        pricing: PriceTable::default(),
        worker_timeout_secs: 600,
        run_dir: dir.to_path_buf(),
        tools: None,
        stop_when_person_needed: false,
        project_instructions: Default::default(),
        isolation: None,
        role_providers: Default::default(),
        on_replan_conflict: Default::default(),
    }
}

/// What a finished run left behind.
pub struct Finished {
    pub outcome: RunOutcome,
    /// Events as the front end received them.
    pub events: Vec<Envelope>,
    /// The engine's own final state.
    pub state: State,
    /// The journal read back.
    pub journal: journal::Replay,
}

impl Finished {
    pub fn of<'a>(
        &'a self,
        f: impl Fn(&Event) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Event> + 'a {
        self.events.iter().map(|e| &e.event).filter(move |e| f(e))
    }
    pub fn started(&self, id: u32) -> usize {
        self.of(move |e| matches!(e, Event::SubtaskStarted { id: i, .. } if i.0 == id))
            .count()
    }
}

/// Runs the engine to the end; `on_event` sees every event with the front end's replica
/// state and returns commands to send.
pub async fn drive(
    cfg: EngineConfig,
    provider: Arc<dyn Provider>,
    start: Start,
    mut on_event: impl FnMut(&Envelope, &State) -> Vec<Command>,
) -> Finished {
    let dir = cfg.run_dir.clone();
    let journal = match &start {
        Start::New { .. } => Journal::create(&dir).unwrap(),
        Start::Resume { .. } => Journal::open_append(&dir).unwrap(),
    };
    let mut h = spawn(cfg, provider, journal, start);
    let mut replica = State::default();
    let mut events = Vec::new();
    let collect = async {
        while let Some(e) = h.events.recv().await {
            apply(&mut replica, &e);
            for c in on_event(&e, &replica) {
                // The run may have ended already; a late command is simply not delivered.
                let _ = h.commands.send(c).await;
            }
            events.push(e);
        }
    };
    // Virtual time: an engine that waits for nothing would otherwise hang the test.
    if tokio::time::timeout(Duration::from_secs(24 * 3600), collect)
        .await
        .is_err()
    {
        let last: Vec<String> = events
            .iter()
            .rev()
            .take(8)
            .map(|e| format!("{:?}", e.event))
            .collect();
        panic!("the engine hangs; last events: {last:#?}");
    }
    let outcome = h.join.await.unwrap();
    let state = h.final_state.await.unwrap();
    let journal = journal::replay(&dir.join(journal::JOURNAL_FILE)).unwrap();
    Finished {
        outcome,
        events,
        state,
        journal,
    }
}

pub async fn run_new(cfg: EngineConfig, fake: Arc<Fake>, task: &str) -> Finished {
    drive(
        cfg,
        fake,
        Start::New {
            run_id: "test-run".into(),
            task: task.into(),
        },
        |_, _| vec![],
    )
    .await
}

/// A new run in which a person answers the mode choice with `mode`.
pub async fn run_choosing(cfg: EngineConfig, fake: Arc<Fake>, mode: RunMode) -> Finished {
    drive(
        cfg,
        fake,
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        move |e, _| match &e.event {
            Event::ModeChoiceRequested { .. } => vec![Command::ChooseMode { mode }],
            _ => vec![],
        },
    )
    .await
}

/// A new run that stops at once when a person is needed (headless under `scope`).
pub async fn run_until_person_needed(
    dir: &std::path::Path,
    settings: RunSettings,
    fake: Fake,
) -> Finished {
    let mut cfg = config(dir, settings);
    cfg.stop_when_person_needed = true;
    let stopped = run_new(cfg, Arc::new(fake), "t").await;
    assert!(
        matches!(stopped.outcome, RunOutcome::Stopped { .. }),
        "{:?}",
        stopped.outcome
    );
    stopped
}

/// Every journal invariant the tests share: the journal equals what the front end got,
/// and folding it gives the engine's own state.
pub fn check_consistent(f: &Finished) {
    assert!(f.journal.corrupt_lines.is_empty());
    assert!(!f.journal.torn_line_dropped);
    assert_eq!(f.journal.events, f.events, "journal and channel differ");
    assert_eq!(
        State::fold(&f.journal.events),
        f.state,
        "fold(journal) != engine state"
    );
}
