//! `baton doctor`: one small real streaming request to the configured provider, and a report
//! a person can act on (provider, base URL, model, key fingerprint, latency to first token,
//! whether tool calls work, and a diagnosis with the fix when something is wrong).
//!
//! Owns: the check request (a forced tiny `ping` tool), turning provider errors into
//! diagnoses, the MCP servers' section ([`McpReport`]), and the report's text (including every retry the provider layer made: the same
//! retry layer and budgets as a run, with the rate-limit patience and first-byte wait capped
//! so a check answers within about a minute). Must not: print or log the key (only its
//! fingerprint), or decide exit codes (the CLI does, from `ok()`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::config::Config;
use crate::llm::sse::NOT_AN_EVENT_STREAM;
use crate::llm::{
    ChatRequest, LlmError, Message, ProviderKind, ProviderSettings, StreamEvent, ToolChoice,
    ToolMode, anthropic, openai,
};
use crate::protocol::{RetryNotice, ToolDef};
use crate::session::build_provider;
use crate::tools::mcp::{McpTools, ServerStatus};
use crate::tools::text::one_line;

/// The tool the check forces the model to call.
pub const PING_TOOL: &str = "ping";

/// The longest the check waits for a first byte, whatever the configuration says.
const CHECK_FIRST_BYTE_TIMEOUT_MS: u64 = 30_000;

/// The longest the check waits out rate limits / overload in all, and per `retry-after`.
const CHECK_RATE_LIMIT_PATIENCE_MS: u64 = 60_000;

/// Whether the model called the forced tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolSupport {
    /// The forced `ping` tool was called with valid JSON arguments.
    Works,
    /// The model answered in text, or the server refused tools.
    Unsupported,
    /// The check did not get that far.
    NotChecked,
}

/// What is wrong, in the terms a person fixes it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    NoKey,
    KeyRejected,
    WrongBaseUrl,
    ModelNotFound,
    Unreachable,
    NoToolSupport,
    RateLimited,
    Timeout,
    ServerError,
    Other,
}

/// A problem, what happened, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub problem: Problem,
    /// What happened (the server's words where there are some).
    pub detail: String,
    /// What to change.
    pub fix: String,
}

/// The outcome of `baton doctor`.
#[derive(Debug, Clone, PartialEq)]
pub struct DoctorReport {
    pub provider: ProviderKind,
    /// The effective base URL (the default when none is configured); empty for demo.
    pub base_url: String,
    pub model: String,
    /// The model name the server reported, when it differs or is more precise.
    pub answered_model: Option<String>,
    /// `sha256:…` of the key, or `(none)`; never the key.
    pub key_fingerprint: String,
    /// Where the key came from (`env ANTHROPIC_API_KEY`, `keychain`, ...), set by the caller.
    pub key_source: Option<String>,
    pub tool_mode: ToolMode,
    /// False for `demo`: nothing was sent anywhere.
    pub network: bool,
    /// From sending the request to the first streamed text or tool call.
    pub first_token: Option<Duration>,
    /// From sending the request to the complete reply.
    pub total: Option<Duration>,
    pub tool_calls: ToolSupport,
    /// Retries the provider layer reported (the check allows none, so normally empty).
    pub retries: Vec<RetryNotice>,
    pub diagnosis: Option<Diagnosis>,
}

impl DoctorReport {
    /// True when the provider answered and tool calls work.
    pub fn ok(&self) -> bool {
        self.diagnosis.is_none()
    }
}

/// The `sandbox` line of the report: whether workers' commands run confined here (the
/// kernel's Landlock support) and what that means for approvals.
pub fn sandbox_line(options: &crate::tools::sandbox::SandboxOptions) -> String {
    format!("{:<12} {}", "sandbox", options.summary())
}

/// Runs the check against `settings` with `model`.
pub async fn run(settings: &ProviderSettings, model: &str) -> DoctorReport {
    let mut report = DoctorReport {
        provider: settings.kind,
        base_url: effective_base_url(settings),
        model: model.to_string(),
        answered_model: None,
        key_fingerprint: settings.api_key.fingerprint(),
        key_source: None,
        tool_mode: settings.tool_mode,
        network: settings.kind != ProviderKind::Demo,
        first_token: None,
        total: None,
        tool_calls: ToolSupport::NotChecked,
        retries: Vec::new(),
        diagnosis: None,
    };
    if settings.kind == ProviderKind::Demo {
        report.tool_calls = ToolSupport::Works;
        return report;
    }
    let mut check_settings = settings.clone();
    let retry = &mut check_settings.retry;
    retry.rate_limit_patience_ms = retry
        .rate_limit_patience_ms
        .min(CHECK_RATE_LIMIT_PATIENCE_MS);
    retry.max_retry_after_ms = retry.max_retry_after_ms.min(CHECK_RATE_LIMIT_PATIENCE_MS);
    check_settings.retry.first_byte_timeout_ms = settings
        .retry
        .first_byte_timeout_ms
        .min(CHECK_FIRST_BYTE_TIMEOUT_MS);
    let provider = match build_provider(&check_settings) {
        Ok(p) => p,
        Err(e) => {
            report.diagnosis = Some(diagnose(&e, &report));
            return report;
        }
    };
    tracing::info!(provider = %settings.kind, base_url = %report.base_url, model, "doctor check");
    let first = Mutex::new(None::<Instant>);
    let retries = Mutex::new(Vec::<RetryNotice>::new());
    let sink = |event: StreamEvent| {
        if let StreamEvent::Retry(notice) = &event
            && let Ok(mut seen) = retries.lock()
        {
            seen.push(notice.clone());
        }
        if matches!(
            event,
            StreamEvent::TextDelta { .. } | StreamEvent::ToolCallStart { .. }
        ) && let Ok(mut slot) = first.lock()
            && slot.is_none()
        {
            *slot = Some(Instant::now());
        }
    };
    let started = Instant::now();
    let result = provider.chat(check_request(model), &sink).await;
    let finished = Instant::now();
    report.first_token = first
        .lock()
        .ok()
        .and_then(|slot| *slot)
        .map(|t| t - started);
    report.retries = retries.lock().map(|r| r.clone()).unwrap_or_default();
    match result {
        Ok(resp) => {
            report.total = Some(finished - started);
            if !resp.model.is_empty() && resp.model != model {
                report.answered_model = Some(resp.model.clone());
            }
            if resp.tool_calls.iter().any(|c| c.name == PING_TOOL) {
                report.tool_calls = ToolSupport::Works;
            } else {
                report.tool_calls = ToolSupport::Unsupported;
                let said = crate::llm::retry::truncate(resp.text.trim(), 120);
                report.diagnosis = Some(Diagnosis {
                    problem: Problem::NoToolSupport,
                    detail: format!(
                        "the model answered in text instead of calling the forced `{PING_TOOL}` tool: \"{said}\""
                    ),
                    fix: no_tool_support_fix(settings.tool_mode),
                });
            }
        }
        Err(e) => {
            if matches!(e, LlmError::ToolsUnsupported { .. }) {
                report.tool_calls = ToolSupport::Unsupported;
            }
            report.diagnosis = Some(diagnose(&e, &report));
        }
    }
    report
}

/// The tiny request of the check: one forced tool with one required string field.
pub fn check_request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.to_string(),
        system: "You are a connectivity check. Always call the ping tool.".into(),
        messages: vec![Message::user(
            "Call the ping tool with reply set to \"pong\".",
        )],
        tools: vec![ToolDef {
            name: PING_TOOL.into(),
            description: "Answers a connectivity check.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {"reply": {"type": "string", "enum": ["pong"]}},
                "required": ["reply"]
            }),
        }],
        tool_choice: ToolChoice::Tool(PING_TOOL.into()),
        max_tokens: 256,
        temperature: Some(0.0),
    }
}

fn effective_base_url(settings: &ProviderSettings) -> String {
    let configured = settings.base_url.trim().trim_end_matches('/');
    match settings.kind {
        ProviderKind::Demo => String::new(),
        _ if !configured.is_empty() => configured.to_string(),
        ProviderKind::Anthropic => anthropic::DEFAULT_BASE_URL.into(),
        ProviderKind::Openai => openai::DEFAULT_BASE_URL.into(),
    }
}

fn key_env(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai => openai::KEY_ENV,
        _ => anthropic::KEY_ENV,
    }
}

fn no_tool_support_fix(mode: ToolMode) -> String {
    match mode {
        ToolMode::Native => "use a model with tool support, enable tools on the server \
            (vLLM: --enable-auto-tool-choice --tool-call-parser ...; llama.cpp: --jinja), \
            or set tool_mode = \"json_text\" in the config"
            .into(),
        ToolMode::JsonText => "this model does not follow the JSON reply format; \
            try a larger or instruction-tuned model"
            .into(),
    }
}

/// The diagnosis for an error of the check.
fn diagnose(error: &LlmError, report: &DoctorReport) -> Diagnosis {
    let env = key_env(report.provider);
    let base = &report.base_url;
    let model = &report.model;
    let d = |problem, fix: String| Diagnosis {
        problem,
        detail: error.to_string(),
        fix,
    };
    match error {
        LlmError::RetriesExhausted { last, .. } => diagnose(last, report),
        LlmError::MissingKey { env_var } => d(
            Problem::NoKey,
            format!(
                "export {env_var}=<your key>, run `baton login`, or set `api_key` in the config file \
                 (`baton config` shows where each setting comes from); \
                 or run with --provider demo to try Baton without a key"
            ),
        ),
        LlmError::Auth { .. } => d(
            Problem::KeyRejected,
            format!(
                "check that {env} (key {}) is a valid, active key for {base}; \
                 a key for another provider or project does not work",
                report.key_fingerprint
            ),
        ),
        LlmError::NotFound { message, .. } if message.to_ascii_lowercase().contains("model") => d(
            Problem::ModelNotFound,
            format!(
                "the server does not know the model `{model}`; check --model \
                     (for Ollama, `ollama pull {model}` first)"
            ),
        ),
        LlmError::NotFound { .. } => d(Problem::WrongBaseUrl, wrong_base_url_fix(report)),
        LlmError::InvalidResponse(message) if message.contains(NOT_AN_EVENT_STREAM) => {
            d(Problem::WrongBaseUrl, wrong_base_url_fix(report))
        }
        LlmError::ToolsUnsupported { .. } => d(
            Problem::NoToolSupport,
            no_tool_support_fix(report.tool_mode),
        ),
        LlmError::Unreachable { .. } => d(
            Problem::Unreachable,
            format!(
                "nothing answered at {base}: start the server, or fix --base-url \
                 (and check proxies and firewalls)"
            ),
        ),
        LlmError::Timeout(_) => d(
            Problem::Timeout,
            "the server accepted the connection but did not answer in time; \
             it may be overloaded or loading the model, try again"
                .into(),
        ),
        LlmError::RateLimited { .. } => d(
            Problem::RateLimited,
            "the key works but is rate limited right now; wait a minute and run \
             `baton doctor` again, or check your plan's limits"
                .into(),
        ),
        LlmError::TooLarge { .. } => d(
            Problem::Other,
            "the server sent an answer larger than max_response_bytes to a tiny request; \
             check that --base-url points at an LLM API"
                .into(),
        ),
        LlmError::Redirected { .. } => d(
            Problem::Other,
            "the base URL answers with a redirect, which Baton does not follow (it would \
             send the key there); set --base-url (or `base_url`) to the final address if you \
             trust it"
                .into(),
        ),
        LlmError::Server { .. } => d(
            Problem::ServerError,
            "the server failed on its side; try again later (Baton retries these during runs)"
                .into(),
        ),
        LlmError::BadRequest { .. } => d(
            Problem::Other,
            format!(
                "the server refused the request; check that `{model}` is a chat model and \
                 that --provider matches the server's API"
            ),
        ),
        LlmError::Stream(_) | LlmError::InvalidResponse(_) | LlmError::Cancelled => d(
            Problem::Other,
            format!(
                "the server's answer was not a valid {} stream; check --provider and --base-url",
                report.provider
            ),
        ),
    }
}

fn wrong_base_url_fix(report: &DoctorReport) -> String {
    let example = match report.provider {
        ProviderKind::Openai => {
            "for OpenAI-compatible servers it usually ends in /v1 \
             (https://api.openai.com/v1, http://localhost:11434/v1 for Ollama)"
        }
        _ => "for Anthropic it is https://api.anthropic.com (Baton adds /v1/messages)",
    };
    let endpoint = match report.provider {
        ProviderKind::Openai => format!("{}/chat/completions", report.base_url),
        _ => format!(
            "{}/v1/messages",
            report
                .base_url
                .strip_suffix("/v1")
                .unwrap_or(&report.base_url)
        ),
    };
    format!(
        "{endpoint} does not look like the {} API; check --base-url: {example}",
        report.provider
    )
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

impl fmt::Display for DoctorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |f: &mut fmt::Formatter<'_>, label: &str, value: &str| {
            writeln!(f, "{label:<12} {value}")
        };
        line(f, "provider", &self.provider.to_string())?;
        if !self.network {
            line(
                f,
                "network",
                "none: the demo model is built in (no key, no requests)",
            )?;
            line(f, "model", &self.model)?;
            line(f, "tool calls", "work (simulated)")?;
            return line(f, "result", "OK: the demo provider needs nothing");
        }
        line(f, "base URL", &self.base_url)?;
        let model = match &self.answered_model {
            Some(answered) => format!("{} (answered as {answered})", self.model),
            None => self.model.clone(),
        };
        line(f, "model", &model)?;
        match &self.key_source {
            Some(source) if !self.key_fingerprint.starts_with('(') => line(
                f,
                "API key",
                &format!("{} (from {source})", self.key_fingerprint),
            )?,
            _ => line(f, "API key", &self.key_fingerprint)?,
        }
        let mode = match self.tool_mode {
            ToolMode::Native => "native",
            ToolMode::JsonText => "json_text",
        };
        line(f, "tool mode", mode)?;
        match (self.first_token, self.total) {
            (Some(first), Some(total)) => line(
                f,
                "first token",
                &format!("{} (whole reply {})", millis(first), millis(total)),
            )?,
            (Some(first), None) => line(f, "first token", &millis(first))?,
            (None, Some(total)) => line(
                f,
                "first token",
                &format!("none (reply in {})", millis(total)),
            )?,
            (None, None) => line(f, "first token", "none")?,
        }
        let tools = match self.tool_calls {
            ToolSupport::Works => format!("work (the forced `{PING_TOOL}` tool was called)"),
            ToolSupport::Unsupported => "do not work".to_string(),
            ToolSupport::NotChecked => "not checked".to_string(),
        };
        line(f, "tool calls", &tools)?;
        for r in &self.retries {
            line(
                f,
                "retry",
                &format!("#{} after {} ms: {}", r.attempt, r.delay_ms, r.reason),
            )?;
        }
        match &self.diagnosis {
            None => line(f, "result", "OK: Baton can use this provider"),
            Some(d) => {
                line(f, "problem", &d.detail)?;
                line(f, "fix", &d.fix)?;
                line(f, "result", "FAILED")
            }
        }
    }
}

/// `baton doctor`'s MCP section: each `[[mcp_servers]]` entry started as a run would start
/// it, with the tools it offers or why it did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpReport {
    pub servers: Vec<ServerStatus>,
}

impl McpReport {
    /// Every server started.
    pub fn ok(&self) -> bool {
        self.servers.iter().all(|s| s.result.is_ok())
    }
}

/// Starts the config's MCP servers (in the workspace, else the current directory), lists
/// their tools and stops them again.
pub async fn mcp_servers(config: &Config) -> McpReport {
    let cwd = match &config.workspace {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let tools = McpTools::new(config.mcp_servers.clone(), &cwd, config.read_only);
    let servers = tools.statuses().await;
    tools.stop().await;
    McpReport { servers }
}

/// Server text made safe for a terminal: one line, control characters shown as `?`.
fn printable(s: &str, max: usize) -> String {
    one_line(s, max)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl fmt::Display for McpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "MCP servers")?;
        for s in &self.servers {
            let name = printable(&s.name, 40);
            match &s.result {
                Ok(tools) if tools.is_empty() => {
                    writeln!(f, "  {name:<14} started, offers no tools")?
                }
                Ok(tools) => {
                    let list: Vec<String> = tools.iter().map(|t| printable(t, 80)).collect();
                    writeln!(
                        f,
                        "  {name:<14} started, {} tool{}: {}",
                        tools.len(),
                        if tools.len() == 1 { "" } else { "s" },
                        list.join(", ")
                    )?
                }
                Err(e) => writeln!(f, "  {name:<14} FAILED to start: {}", printable(e, 400))?,
            }
            if let Some(url) = &s.url {
                writeln!(f, "  {:<14} at {}", "", printable(url, 200))?;
            }
            for skipped in &s.skipped {
                writeln!(f, "  {:<14} not offered: {}", "", printable(skipped, 120))?;
            }
        }
        Ok(())
    }
}
