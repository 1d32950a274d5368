//! One worker attempt: the agentic loop of a subtask. System prompt = the role's prompt,
//! first message = the brief; the model may use workspace tools (when the run has them and
//! the role allows them) and must finish with `submit_report`, which is forced on the last
//! allowed turn. An invalid report gets one repair round trip.
//!
//! Runs as its own tokio task; must not touch the state or the journal directly: usage,
//! tool transcripts and command approvals go through the loop ([`ToEngine`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::call::{CallCtx, Recorder, ToEngine, push_repair};
use super::policy::MAX_WORKER_TURNS;
use super::validate;
use crate::llm::{ChatRequest, ChatRole, Content, Message, ToolChoice};
use crate::protocol::model::SUBMIT_REPORT;
use crate::protocol::schemas;
use crate::protocol::*;
use crate::tools::{ToolHost, WorkerTools};

/// How a worker attempt ended.
#[derive(Debug)]
pub(crate) enum WorkerOutcome {
    Reported { output: String, report: Report },
    Failed { error: String },
}

/// Everything one attempt needs.
pub(crate) struct WorkerJob {
    pub call: CallCtx,
    pub id: SubtaskId,
    pub attempt: u32,
    pub model: String,
    pub system: String,
    pub message: String,
    /// Bytes of `message` every worker of the run repeats (prompt caching's stable prefix).
    pub stable: usize,
    pub tools: Option<Arc<dyn WorkerTools>>,
    pub allowed_tools: Vec<String>,
    pub roles: Vec<String>,
    pub timeout: Duration,
    pub max_tokens: u32,
    /// A person's steering of this worker (pause, notes), looked at before every call.
    pub steer: tokio::sync::watch::Receiver<super::steer::WorkerSteer>,
}

/// The engine's side of tool use, as the tools see it.
struct EngineHost {
    recorder: Recorder,
}

#[async_trait]
impl ToolHost for EngineHost {
    async fn approve_command(
        &self,
        subtask: SubtaskId,
        command: &str,
        cwd: &str,
    ) -> CommandDecision {
        let (reply, wait) = tokio::sync::oneshot::channel();
        let msg = ToEngine::ApproveCommand {
            subtask,
            command: command.to_string(),
            cwd: cwd.to_string(),
            reply,
        };
        if self.recorder.tx.send(msg).await.is_err() {
            return CommandDecision::Deny {
                reason: "the run is stopping".into(),
            };
        }
        wait.await.unwrap_or(CommandDecision::Deny {
            reason: "the run is stopping".into(),
        })
    }

    async fn record(&self, event: Event) -> Result<(), String> {
        self.recorder.record(event).await
    }
}

/// Runs one attempt, bounded by the worker timeout. Returns the outcome and the retry and
/// usage records of its last model call, which the loop journals just before the outcome.
/// Time a person kept the worker paused does not count (the deadline moves by it).
pub(crate) async fn run(job: WorkerJob) -> (WorkerOutcome, Vec<Event>) {
    let secs = job.timeout.as_secs();
    let mut records = Vec::new();
    let paused_ms = AtomicU64::new(0);
    let mut steer = job.steer.clone();
    let mut watch = job.steer.clone();
    let mut deadline = Instant::now() + job.timeout;
    // Paused milliseconds already added to the deadline; `held`: the deadline passed while
    // the worker was paused, so it waits for the pause to end.
    let mut counted = 0u64;
    let mut held = false;
    let outcome = {
        let work = attempt(&job, &mut steer, &mut records, &paused_ms);
        tokio::pin!(work);
        loop {
            // `biased`: the work goes first, so a pause that just ended is counted before
            // the deadline is looked at again.
            tokio::select! {
                biased;
                outcome = &mut work => break outcome,
                changed = watch.changed(), if held => {
                    held = changed.is_ok() && watch.borrow_and_update().paused;
                }
                () = tokio::time::sleep_until(deadline), if !held => {
                    let paused = paused_ms.load(Ordering::Relaxed);
                    if paused > counted {
                        deadline += Duration::from_millis(paused - counted);
                        counted = paused;
                    } else if watch.borrow_and_update().paused {
                        held = true;
                    } else {
                        break WorkerOutcome::Failed {
                            error: format!("timed out after {secs} s (worker_timeout_secs)"),
                        };
                    }
                }
            }
        }
    };
    (outcome, records)
}

/// Journals the held records now (the attempt goes on).
async fn flush(job: &WorkerJob, records: &mut Vec<Event>) {
    for event in records.drain(..) {
        job.call.recorder.note(event).await;
    }
}

async fn attempt(
    job: &WorkerJob,
    steer: &mut tokio::sync::watch::Receiver<super::steer::WorkerSteer>,
    records: &mut Vec<Event>,
    paused_ms: &AtomicU64,
) -> WorkerOutcome {
    let host = EngineHost {
        recorder: job.call.recorder.clone(),
    };
    let mut defs = vec![schemas::tool_def(SUBMIT_REPORT, &job.roles)];
    if let Some(tools) = &job.tools {
        tools.ready(&host).await;
        defs.extend(tools.definitions(&job.allowed_tools));
    }
    let mut messages = vec![Message::user_split(&job.message, job.stable)];
    let mut output = String::new();
    let mut force = false;
    let mut repaired = false;
    let mut notes_read = 0;
    for turn in 1..=MAX_WORKER_TURNS {
        super::steer::before_call(steer, &mut notes_read, &mut messages, paused_ms).await;
        let forced = force || turn == MAX_WORKER_TURNS;
        let req = ChatRequest {
            model: job.model.clone(),
            system: job.system.clone(),
            messages: messages.clone(),
            tools: defs.clone(),
            tool_choice: if forced {
                ToolChoice::Tool(SUBMIT_REPORT.into())
            } else {
                ToolChoice::Auto
            },
            max_tokens: job.max_tokens,
            temperature: None,
        };
        let (result, events) = job.call.chat_collect(req).await;
        *records = events;
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                return WorkerOutcome::Failed {
                    error: format!("model call failed: {e}"),
                };
            }
        };
        if !resp.text.trim().is_empty() {
            if !output.is_empty() {
                output.push_str("\n\n");
            }
            output.push_str(resp.text.trim());
        }
        if let Some(call) = resp.tool_calls.iter().find(|c| c.name == SUBMIT_REPORT) {
            let checked = match call.arguments_error() {
                Some(e) => Err(e),
                None => validate::report(&call.arguments, &job.roles),
            };
            match checked {
                Ok(report) => {
                    if output.is_empty() {
                        output = report.results.clone();
                    }
                    return WorkerOutcome::Reported { output, report };
                }
                Err(e) if repaired => {
                    return WorkerOutcome::Failed {
                        error: format!("invalid report after one repair: {e}"),
                    };
                }
                Err(e) => {
                    repaired = true;
                    force = true;
                    push_repair(&mut messages, &resp, &e, SUBMIT_REPORT);
                    flush(job, records).await;
                    continue;
                }
            }
        }
        if resp.tool_calls.is_empty() {
            if forced {
                return WorkerOutcome::Failed {
                    error: "the model did not call `submit_report` when required".into(),
                };
            }
            messages.push(Message::assistant(if resp.text.is_empty() {
                "(no answer)".to_string()
            } else {
                resp.text.clone()
            }));
            messages.push(Message::user(format!(
                "Now call `{SUBMIT_REPORT}` with your status and results."
            )));
            force = true;
            flush(job, records).await;
            continue;
        }
        // Workspace tool calls: journal this call's usage first, then run each tool and
        // feed the results back.
        flush(job, records).await;
        let mut assistant = Vec::new();
        if !resp.text.is_empty() {
            assistant.push(Content::Text {
                text: resp.text.clone(),
            });
        }
        let mut results = Vec::new();
        for call in &resp.tool_calls {
            assistant.push(super::call::tool_use(call));
            let allowed = crate::tools::mcp::allows(&job.allowed_tools, &call.name);
            let (content, is_error, summary) = match (call.arguments_error(), &job.tools, allowed) {
                // Malformed arguments: the model repairs them from the tool error.
                (Some(e), _, _) => (
                    format!("{e}; call `{}` again with a JSON object", call.name),
                    true,
                    format!("{} (malformed arguments)", call.name),
                ),
                (None, Some(tools), true) => {
                    let out = tools.call(&host, job.id, job.attempt, call).await;
                    (out.content, out.is_error, out.summary)
                }
                _ => (
                    format!(
                        "unknown tool `{}`; available: {}",
                        call.name,
                        defs.iter()
                            .map(|d| d.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    true,
                    format!("{} (not available)", call.name),
                ),
            };
            job.call
                .recorder
                .note(Event::WorkerToolUsed {
                    id: job.id,
                    attempt: job.attempt,
                    tool: call.name.clone(),
                    summary,
                    is_error,
                    input: call.arguments.clone(),
                    output: content.clone(),
                })
                .await;
            results.push(Content::ToolResult {
                tool_use_id: call.id.clone(),
                content,
                is_error,
            });
        }
        messages.push(Message {
            role: ChatRole::Assistant,
            content: assistant,
        });
        messages.push(Message {
            role: ChatRole::User,
            content: results,
        });
    }
    WorkerOutcome::Failed {
        error: format!("no report after {MAX_WORKER_TURNS} turns"),
    }
}
