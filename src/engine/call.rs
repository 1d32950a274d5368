//! One model call as the engine makes it: live deltas to the lossy channel, every retry
//! journaled when it starts and every response's usage journaled, rejected or not (through
//! the engine's loop, which is the only journal writer), and the forced structured call with
//! its one repair round trip (invalid or malformed arguments, or an answer cut off at the
//! output cap: one repair with the reason, then a failure).
//!
//! Runs inside orchestrator-step and worker tasks; must not touch the state: everything it
//! wants recorded goes to the loop as [`ToEngine::Record`].

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::Delta;
use crate::llm::pricing::PriceTable;
use crate::llm::{
    ChatRequest, ChatResponse, ChatRole, Content, LlmError, Message, Provider, StopReason,
    StreamEvent, ToolChoice,
};
use crate::protocol::*;
use crate::protocol::{ToolCall, Usage};

/// What tasks (workers, orchestrator steps, tool hosts) send to the engine's loop.
pub(crate) enum ToEngine {
    /// Journal this event; `done` answers once it is written, or why it was not.
    Record {
        event: Event,
        done: oneshot::Sender<Result<(), String>>,
    },
    /// A worker's tool wants to run a command.
    ApproveCommand {
        subtask: SubtaskId,
        command: String,
        cwd: String,
        reply: oneshot::Sender<CommandDecision>,
    },
    /// A worker attempt ended.
    WorkerDone {
        id: SubtaskId,
        attempt: u32,
        outcome: super::worker::WorkerOutcome,
        /// Retry and usage records of the attempt's last call, journaled before the outcome.
        records: Vec<Event>,
    },
    /// An orchestrator step ended.
    StepDone {
        job: u64,
        result: Result<super::run::StepOutput, String>,
    },
}

/// The handle tasks use to get events journaled.
#[derive(Clone)]
pub(crate) struct Recorder {
    pub tx: mpsc::Sender<ToEngine>,
}

impl Recorder {
    /// Journals an event and waits until it is written. An error says it was not (the
    /// journal cannot be written, or the engine is gone): callers about to act on the
    /// record (a file change) must not act.
    pub async fn record(&self, event: Event) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        let gone = || "the run is stopping; nothing more is journaled".to_string();
        self.tx
            .send(ToEngine::Record { event, done })
            .await
            .map_err(|_| gone())?;
        wait.await.map_err(|_| gone())?
    }

    /// Journals a record nothing depends on (a retry notice, usage): when the journal
    /// cannot be written the run is already failing, so there is nothing to do here.
    pub async fn note(&self, event: Event) {
        if let Err(e) = self.record(event).await {
            tracing::debug!("record not journaled: {e}");
        }
    }
}

/// The cost of a call, `None` when the model has no known price.
pub(crate) fn price(pricing: &PriceTable, model: &str, usage: &Usage) -> Option<f64> {
    pricing.cost(model, usage)
}

/// Everything a call needs besides the request.
pub(crate) struct CallCtx {
    pub provider: Arc<dyn Provider>,
    pub recorder: Recorder,
    pub pricing: Arc<PriceTable>,
    pub deltas: mpsc::Sender<Delta>,
    pub purpose: CallPurpose,
    /// For deltas: the subtask (`None`: orchestrator) and attempt.
    pub subtask: Option<SubtaskId>,
    pub attempt: u32,
    /// The context-size warning was given for this attempt or step (once is enough).
    pub context_warned: std::sync::atomic::AtomicBool,
}

/// Bytes per token of the prompt estimate: about 4 for English prose and code in the
/// tokenizers of Anthropic and OpenAI. An estimate, so the warning says "about".
pub const BYTES_PER_TOKEN: u64 = 4;

/// The estimated prompt size of `req` in tokens: every byte of the system prompt, the
/// messages (text, tool calls' arguments, tool results) and the tool definitions, divided
/// by [`BYTES_PER_TOKEN`], rounded up.
pub fn estimated_prompt_tokens(req: &ChatRequest) -> u64 {
    let json_len = |v: &Value| v.to_string().len();
    let messages: usize = req
        .messages
        .iter()
        .flat_map(|m| m.content.iter())
        .map(|c| match c {
            Content::Text { text } => text.len(),
            Content::ToolUse { name, input, .. } => name.len() + json_len(input),
            Content::ToolResult { content, .. } => content.len(),
        })
        .sum();
    let tools: usize = req
        .tools
        .iter()
        .map(|t| t.name.len() + t.description.len() + json_len(&t.input_schema))
        .sum();
    let bytes = u64::try_from(req.system.len() + messages + tools).unwrap_or(u64::MAX);
    bytes.div_ceil(BYTES_PER_TOKEN)
}

/// The warning for a prompt of about `tokens` that exceeds `model`'s `context` window.
pub fn context_warning(purpose: &CallPurpose, model: &str, tokens: u64, context: u64) -> String {
    let what = match purpose {
        CallPurpose::Worker { id, attempt } => format!("worker {id} (attempt {attempt})"),
        CallPurpose::Analysis => "the orchestrator's analysis".to_string(),
        CallPurpose::Replan { cycle } => format!("the orchestrator's replan {cycle}"),
        CallPurpose::Recovery { id } => format!("the orchestrator's recovery of {id}"),
        CallPurpose::Completion => "the orchestrator's completion check".to_string(),
        CallPurpose::Synthesis => "the orchestrator's synthesis".to_string(),
        CallPurpose::Evaluation { round } => format!("the evaluation, round {round}"),
    };
    format!(
        "context window exceeded: the prompt for {what} is about {tokens} tokens (bytes / \
         {BYTES_PER_TOKEN}), over the {context} of {model}; the provider may refuse or cut it \
         (shorten the task or what workers read, or use a model with a larger window)"
    )
}

impl CallCtx {
    /// One provider call. Streams deltas (lossy), journals each retry and the usage.
    pub async fn chat(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        let (result, events) = self.chat_collect(req).await;
        for event in events {
            self.recorder.note(event).await;
        }
        result
    }

    /// One provider call. Each retry is journaled *when its wait starts* (so the TUI and
    /// headless show it at once), with the usage of the attempt it replaces; the usage of
    /// the final response (and of a failed last attempt) is returned for the caller to
    /// journal (a worker hands it to the loop with its result, in one message).
    pub async fn chat_collect(
        &self,
        req: ChatRequest,
    ) -> (Result<ChatResponse, LlmError>, Vec<Event>) {
        self.check_context(&req).await;
        let (live_tx, mut live) = mpsc::unbounded_channel::<Event>();
        let deltas = self.deltas.clone();
        let (subtask, attempt) = (self.subtask, self.attempt);
        let sink = |event: StreamEvent| {
            match &event {
                StreamEvent::Retry(notice) => {
                    let _ = live_tx.send(Event::LlmRetried {
                        purpose: self.purpose.clone(),
                        notice: notice.clone(),
                    });
                }
                StreamEvent::Usage { model, usage } => {
                    let _ = live_tx.send(self.usage_event(model.clone(), *usage));
                    return;
                }
                StreamEvent::Throttle(notice) => {
                    let _ = live_tx.send(Event::ProviderThrottled {
                        notice: notice.clone(),
                    });
                    return;
                }
                _ => {}
            }
            let _ = deltas.try_send(Delta {
                subtask,
                attempt,
                event,
            });
        };
        let model = req.model.clone();
        let result = {
            let mut call = std::pin::pin!(self.provider.chat(req, &sink));
            loop {
                tokio::select! {
                    biased;
                    Some(event) = live.recv() => self.recorder.note(event).await,
                    result = &mut call => break result,
                }
            }
        };
        let mut events = Vec::new();
        while let Ok(event) = live.try_recv() {
            events.push(event);
        }
        if let Ok(resp) = &result {
            let model = if resp.model.is_empty() {
                model
            } else {
                resp.model.clone()
            };
            events.push(self.usage_event(model, resp.usage));
        }
        (result, events)
    }

    /// Before sending: a journaled notice (the TUI flashes it, headless prints it) when the
    /// prompt will exceed the model's context window, once per attempt or step.
    async fn check_context(&self, req: &ChatRequest) {
        use std::sync::atomic::Ordering;
        let Some(context) = self.pricing.limits(&req.model).and_then(|l| l.context) else {
            return;
        };
        if context == 0 || self.context_warned.load(Ordering::Relaxed) {
            return;
        }
        let tokens = estimated_prompt_tokens(req);
        if tokens > context {
            self.context_warned.store(true, Ordering::Relaxed);
            let message = context_warning(&self.purpose, &req.model, tokens, context);
            tracing::warn!("{message}");
            self.recorder.note(Event::Notice { message }).await;
        }
    }

    fn usage_event(&self, model: String, usage: Usage) -> Event {
        let cost_usd = price(&self.pricing, &model, &usage);
        Event::LlmUsage {
            purpose: self.purpose.clone(),
            model,
            usage,
            cost_usd,
        }
    }

    /// A call that must end in `tool` (forced with `tool_choice`), parsed by `parse`. An
    /// invalid answer gets one repair round trip with the validation error; a second invalid
    /// answer, or a provider error, is an `Err` with the reason.
    pub async fn call_forced<T>(
        &self,
        mut req: ChatRequest,
        tool: &str,
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<T, String> {
        req.tool_choice = ToolChoice::Tool(tool.to_string());
        let mut repaired = false;
        loop {
            let resp = self
                .chat(req.clone())
                .await
                .map_err(|e| format!("model call failed: {e}"))?;
            let call = resp
                .tool_calls
                .iter()
                .find(|c| c.name == tool)
                .or_else(|| resp.tool_calls.first());
            let error = match call {
                None => format!("no tool call: you must call `{tool}`"),
                Some(c) if c.name != tool => {
                    format!("wrong tool `{}`: you must call `{tool}`", c.name)
                }
                Some(c) => match c.arguments_error() {
                    Some(e) => e,
                    None => match parse(&c.arguments) {
                        Ok(v) => return Ok(v),
                        Err(e) => e,
                    },
                },
            };
            // A `length` stop: the answer did not fit the output cap. Ask for a shorter one.
            let error = if resp.stop_reason == StopReason::MaxTokens {
                format!(
                    "{error}; your answer was cut off at the output cap of {} tokens: answer \
                     again, shorter (fewer and briefer fields), so that it fits",
                    req.max_tokens
                )
            } else {
                error
            };
            if repaired {
                return Err(format!("invalid output after one repair: {error}"));
            }
            repaired = true;
            push_repair(&mut req.messages, &resp, &error, tool);
        }
    }
}

/// A tool call as the assistant turn of a conversation. Unusable arguments (not a JSON
/// object) go back as `{}`: both APIs reject anything but an object as tool input.
pub(crate) fn tool_use(call: &ToolCall) -> Content {
    Content::ToolUse {
        id: call.id.clone(),
        name: call.name.clone(),
        input: if call.arguments.is_object() {
            call.arguments.clone()
        } else {
            Value::Object(Default::default())
        },
    }
}

/// Appends the model's answer and the repair request to a conversation.
pub(crate) fn push_repair(
    messages: &mut Vec<Message>,
    resp: &ChatResponse,
    error: &str,
    tool: &str,
) {
    let mut assistant = Vec::new();
    if !resp.text.is_empty() {
        assistant.push(Content::Text {
            text: resp.text.clone(),
        });
    }
    for c in &resp.tool_calls {
        assistant.push(tool_use(c));
    }
    if assistant.is_empty() {
        assistant.push(Content::Text {
            text: "(no answer)".into(),
        });
    }
    messages.push(Message {
        role: ChatRole::Assistant,
        content: assistant,
    });
    let fix = format!("{error}. Fix this and call `{tool}` again with valid arguments.");
    let mut user: Vec<Content> = resp
        .tool_calls
        .iter()
        .map(|c| Content::ToolResult {
            tool_use_id: c.id.clone(),
            content: fix.clone(),
            is_error: true,
        })
        .collect();
    if user.is_empty() {
        user.push(Content::Text { text: fix });
    }
    messages.push(Message {
        role: ChatRole::User,
        content: user,
    });
}
