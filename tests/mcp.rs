//! MCP servers as worker tools, end to end over stdio. This test binary is also the MCP
//! server it tests: run with `--serve-mcp-fixture` it serves the fixture tools (built with
//! rmcp's server features) on stdin/stdout; otherwise it runs the cases below (no libtest
//! harness, `harness = false` in Cargo.toml, so the child's stdout is pure protocol).
//!
//! Cases: a worker calls the server's tools through the fake model (Anthropic wire format)
//! and each result reaches the next request; a tool outside the `allow` list waits for a
//! person like a command; the server's environment holds only what the config names; a huge
//! result is capped; a role the server is not for is not offered its tools; a server that
//! fails to start is journaled as a notice and the run completes; `baton doctor`'s section
//! lists started servers with their tools and failed ones with the error; config mistakes
//! are reported with their line. The streamable HTTP cases are in `mcp_http/` (an rmcp
//! server on a loopback port; both wire formats).
//!
//! No network beyond 127.0.0.1; real processes, real time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod engine_common;
mod mcp_http;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use baton::engine::Start;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::{build_provider, with_mcp_grants};
use baton::tools::WorkerTools;
use baton::tools::mcp::{McpServerSpec, McpTools, RESULT_CAP, ToolSet};
use engine_common::{config, drive, settings};
use serde_json::{Value, json};
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse};

const SERVE: &str = "--serve-mcp-fixture";
/// One case: a name and its future.
type Case = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

const FAKE_KEY: &str = "fake-fixture-not-a-real-key";
/// An HTTP server's bearer token and API key, from these variables (set in `main`).
const TOKEN_VAR: &str = "BATON_TEST_MCP_TOKEN";
const TOKEN: &str = "fake-mcp-token-not-real";
const API_KEY_VAR: &str = "BATON_TEST_MCP_API_KEY";
const API_KEY: &str = "fake-mcp-api-key-not-real";

fn main() {
    if std::env::args().any(|a| a == SERVE) {
        fixture::serve();
        return;
    }
    // Single-threaded here: no other thread reads the environment yet. The parent has an
    // API key; the test checks the server never sees it.
    unsafe {
        std::env::set_var("ANTHROPIC_API_KEY", FAKE_KEY);
        std::env::set_var(TOKEN_VAR, TOKEN);
        std::env::set_var(API_KEY_VAR, API_KEY);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cases: Vec<(&str, Case)> = vec![
        ("a_worker_calls_mcp_tools_through_the_fake_model", || {
            Box::pin(a_worker_calls_mcp_tools_through_the_fake_model())
        }),
        ("doctor_lists_started_and_failed_servers", || {
            Box::pin(doctor_lists_started_and_failed_servers())
        }),
        ("a_worker_calls_http_mcp_tools_in_both_wire_formats", || {
            Box::pin(mcp_http::cases::a_worker_calls_http_mcp_tools_in_both_wire_formats())
        }),
        (
            "http_start_failures_are_clear_and_the_token_stays_home",
            || Box::pin(mcp_http::cases::http_start_failures_are_clear_and_the_token_stays_home()),
        ),
        ("doctor_lists_http_servers", || {
            Box::pin(mcp_http::cases::doctor_lists_http_servers())
        }),
        ("config_mistakes_are_reported_with_their_line", || {
            Box::pin(async { config_mistakes_are_reported_with_their_line() })
        }),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed, mut filtered) = (0, 0, 0);
    for (name, case) in cases {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(case())));
        match outcome {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    // libtest's summary line, so `.ci/run` counts these cases with the others.
    let verdict = if failed > 0 { "FAILED" } else { "ok" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; \
         {filtered} filtered out"
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// The fixture server: `lookup` (read-only), `env_names`, `big`.
mod fixture {
    use rmcp::handler::server::wrapper::Parameters;
    use rmcp::{ServiceExt, schemars, tool, tool_router};
    use serde::Deserialize;

    #[derive(Deserialize, schemars::JsonSchema)]
    #[schemars(crate = "rmcp::schemars")]
    pub struct Lookup {
        /// The ticket id, e.g. BAT-7.
        pub ticket: String,
    }

    #[derive(Clone)]
    pub struct Tracker;

    #[tool_router(server_handler)]
    impl Tracker {
        #[tool(
            description = "Look up a ticket in the tracker",
            annotations(read_only_hint = true)
        )]
        async fn lookup(&self, Parameters(args): Parameters<Lookup>) -> String {
            format!("{}: the login page times out after 30 s", args.ticket)
        }

        #[tool(description = "The names of the variables in the server's environment")]
        async fn env_names(&self) -> String {
            let mut names: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            names.sort();
            names.join(",")
        }

        #[tool(description = "A very long answer")]
        async fn big(&self) -> String {
            "x".repeat(200_000)
        }
    }

    pub fn serve() {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if let Ok(service) = Tracker.serve(rmcp::transport::stdio()).await {
                let _ = service.waiting().await;
            }
        });
    }
}

fn fixture_spec(name: &str) -> McpServerSpec {
    McpServerSpec {
        name: name.into(),
        command: std::env::current_exe().unwrap().display().to_string(),
        args: vec![SERVE.into()],
        env: BTreeMap::from([("TRACKER_REGION".to_string(), "eu".to_string())]),
        tools: None,
        roles: Some(vec!["code_analyzer".into()]),
        allow: vec!["lookup".into(), "big".into()],
        timeout_secs: Some(60),
        ..McpServerSpec::default()
    }
}

fn broken_spec() -> McpServerSpec {
    McpServerSpec {
        name: "broken".into(),
        command: "/nonexistent/baton-mcp-server".into(),
        args: vec![],
        env: BTreeMap::new(),
        tools: None,
        roles: None,
        allow: vec![],
        timeout_secs: Some(5),
        ..McpServerSpec::default()
    }
}

/// A tool call in the wire format of `req`.
fn tool(req: &RecordedRequest, name: &str, args: Value) -> ScriptedResponse {
    let kind = if req.is_anthropic() {
        ProviderKind::Anthropic
    } else {
        ProviderKind::Openai
    };
    Reply::new()
        .tool(&format!("toolu_{name}"), name, args)
        .usage(100, 20)
        .for_kind(kind)
}

/// The first user message's text (a worker's brief) in either wire format (OpenAI's first
/// message is the system prompt).
fn brief(req: &RecordedRequest) -> String {
    let Some(first) = req.messages().into_iter().find(|m| m["role"] == "user") else {
        return String::new();
    };
    match &first["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// The model's turns so far in this conversation (either wire format).
fn turns(req: &RecordedRequest) -> usize {
    req.messages()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count()
}

/// The tool results the model received in `req` (Anthropic `tool_result` blocks, OpenAI
/// `tool` messages).
fn tool_results(req: &RecordedRequest) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    req.messages()
        .iter()
        .flat_map(|m| {
            if m["role"] == "tool" {
                return vec![text(&m["content"])];
            }
            m["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|b| b["type"] == "tool_result")
                .map(|b| text(&b["content"]))
                .collect()
        })
        .collect()
}

/// The orchestrator's side of a run: two subtasks (the analyst looks BAT-7 up, the writer
/// writes a note); workers' turns go to `worker`.
fn respond_with(
    req: &RecordedRequest,
    worker: impl Fn(&RecordedRequest) -> ScriptedResponse,
) -> ScriptedResponse {
    match req.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            req,
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.9, "task_type": "investigation",
            "known_requirements": [], "unknowns": [], "estimated_subtasks": 2,
            "strategy": "look it up, write it down",
            "subtasks": [
                {"title": "Look up the ticket", "description": "Find BAT-7 in the tracker",
                 "role": "code_analyzer", "depends_on": [], "priority": "high",
                 "expected_output": "the ticket"},
                {"title": "Write the note", "description": "Write a release note",
                 "role": "documentation_writer", "depends_on": [], "priority": "normal",
                 "expected_output": "a note"}
            ]}),
        ),
        Some(SUBMIT_REPLAN) => tool(
            req,
            SUBMIT_REPLAN,
            json!({"summary": "on track", "add": [], "update": [], "cancel": [],
                   "scope_note": "as estimated"}),
        ),
        Some(ASSESS_COMPLETION) => tool(
            req,
            ASSESS_COMPLETION,
            json!({"complete": true, "missing": []}),
        ),
        Some(SUBMIT_SYNTHESIS) => tool(
            req,
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "BAT-7 looked up", "integration_points": [],
                   "conflicts": [], "coherence": "ok"}),
        ),
        Some(SUBMIT_EVALUATION) => tool(
            req,
            SUBMIT_EVALUATION,
            json!({"accepted": true, "feedback": "ok"}),
        ),
        Some(DECIDE_RECOVERY) => tool(
            req,
            DECIDE_RECOVERY,
            json!({"action": "escalate", "rationale": "unexpected", "impact": "test"}),
        ),
        _ => worker(req),
    }
}

fn respond(req: &RecordedRequest) -> ScriptedResponse {
    respond_with(req, worker_turn)
}

fn report(req: &RecordedRequest, results: &str) -> ScriptedResponse {
    tool(
        req,
        SUBMIT_REPORT,
        json!({"status": "complete", "results": results, "discoveries": [],
               "recommendations": [], "new_subtasks": []}),
    )
}

fn worker_turn(req: &RecordedRequest) -> ScriptedResponse {
    let report = |results: &str| report(req, results);
    if !brief(req).contains("Find BAT-7") {
        return report("note written");
    }
    match turns(req) {
        0 => tool(req, "mcp__tracker__lookup", json!({"ticket": "BAT-7"})),
        1 => tool(req, "mcp__tracker__env_names", json!({})),
        2 => tool(req, "mcp__tracker__big", json!({})),
        _ => report("BAT-7: the login page times out"),
    }
}

/// Runs `task` with the MCP servers of `specs` (started in `cwd`) through `provider`,
/// allowing every approval once; the run and the approvals asked `(command, place)`.
async fn run_with_servers(
    specs: Vec<McpServerSpec>,
    cwd: &Path,
    provider: Arc<dyn baton::llm::Provider>,
    run_id: &str,
) -> (engine_common::Finished, Vec<(String, String)>) {
    let run_dir = cwd.join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let mcp = Arc::new(McpTools::new(specs.clone(), cwd, false));
    mcp.start_in_background();
    let mut cfg = config(&run_dir, settings(ApprovalPolicy::Auto, 2));
    cfg.roles = with_mcp_grants(cfg.roles, &specs);
    cfg.tools = Some(Arc::new(ToolSet {
        workspace: None,
        mcp,
    }) as Arc<dyn WorkerTools>);
    let mut approvals = Vec::new();
    let finished = drive(
        cfg,
        provider,
        Start::New {
            run_id: run_id.into(),
            task: "What is BAT-7 about?".into(),
        },
        |env, _| match &env.event {
            Event::CommandApprovalRequested {
                request,
                command,
                cwd,
                ..
            } => {
                approvals.push((command.clone(), cwd.clone()));
                vec![Command::DecideCommand {
                    request: *request,
                    decision: CommandDecision::AllowOnce,
                }]
            }
            _ => vec![],
        },
    )
    .await;
    (finished, approvals)
}

/// The transcript: each tool call's name, whether it failed, and what the model received.
fn tool_uses(finished: &engine_common::Finished) -> Vec<(String, bool, String)> {
    finished
        .of(|e| matches!(e, Event::WorkerToolUsed { .. }))
        .filter_map(|e| match e {
            Event::WorkerToolUsed {
                tool,
                is_error,
                output,
                ..
            } => Some((tool.clone(), *is_error, output.clone())),
            _ => None,
        })
        .collect()
}

async fn a_worker_calls_mcp_tools_through_the_fake_model() {
    let tmp = tempfile::tempdir().unwrap();
    let server = FakeLlm::with_responder(respond).await;
    let provider = build_provider(&server.settings(ProviderKind::Anthropic)).unwrap();

    let specs = vec![fixture_spec("tracker"), broken_spec()];
    let (finished, approvals) = run_with_servers(specs, tmp.path(), provider, "mcp-e2e").await;
    assert_eq!(
        finished.outcome,
        RunOutcome::Completed,
        "{:?}",
        finished.state.notices
    );

    // Only `env_names` is outside the `allow` list: it waited for a person, like a command.
    assert_eq!(
        approvals,
        vec![(
            "mcp__tracker__env_names {}".to_string(),
            "MCP server tracker".to_string()
        )]
    );

    // The transcript journals each call with what the model received.
    let used = tool_uses(&finished);
    let names: Vec<&str> = used.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "mcp__tracker__lookup",
            "mcp__tracker__env_names",
            "mcp__tracker__big"
        ]
    );
    assert!(used.iter().all(|(_, err, _)| !err), "{used:?}");
    assert_eq!(used[0].2, "BAT-7: the login page times out after 30 s");
    // The server's environment is exactly what the config names: no API key, no PATH.
    assert_eq!(used[1].2, "TRACKER_REGION");
    assert!(used[2].2.len() <= RESULT_CAP + 200, "{}", used[2].2.len());
    assert!(used[2].2.len() >= RESULT_CAP / 2);

    // Each result reached the next request of the worker.
    let requests = server.requests();
    let analyst: Vec<&RecordedRequest> = requests
        .iter()
        .filter(|r| r.forced_tool().is_none() && brief(r).contains("Find BAT-7"))
        .collect();
    assert!(analyst.len() >= 4, "{}", analyst.len());
    assert!(
        analyst[0].tool_names().contains(&"mcp__tracker__lookup"),
        "{:?}",
        analyst[0].tool_names()
    );
    assert_eq!(
        tool_results(analyst[1]),
        ["BAT-7: the login page times out after 30 s"]
    );
    assert_eq!(tool_results(analyst[2])[1], "TRACKER_REGION");
    assert!(tool_results(analyst[3])[2].starts_with("xxxx"));
    // The schema the server gave is what the model was offered.
    let lookup = analyst[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "mcp__tracker__lookup")
        .unwrap();
    assert_eq!(lookup["input_schema"]["required"], json!(["ticket"]));

    // The documentation writer is not among the server's roles: no MCP tools offered.
    let writer = requests
        .iter()
        .find(|r| r.forced_tool().is_none() && brief(r).contains("release note"))
        .unwrap();
    assert!(
        writer.tool_names().iter().all(|t| !t.starts_with("mcp__")),
        "{:?}",
        writer.tool_names()
    );

    // The server that could not start is one notice; the run went on without it. (Other
    // notices may come from the engine's own timing, e.g. a replan superseded by the last
    // one when reports land together: only the MCP ones are counted.)
    let notices: Vec<&String> = finished
        .of(|e| matches!(e, Event::Notice { .. }))
        .filter_map(|e| match e {
            Event::Notice { message } if message.contains("MCP server") => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].starts_with("the MCP server `broken` did not start"),
        "{}",
        notices[0]
    );
    assert!(
        notices[0].contains("/nonexistent/baton-mcp-server"),
        "{}",
        notices[0]
    );
    assert!(
        !serde_json::to_string(&finished.events)
            .unwrap()
            .contains(FAKE_KEY),
        "the key reached the journal"
    );
}

fn load_config(home: &Path, toml: &str) -> Result<baton::config::Config, String> {
    use baton::cli::CommonArgs;
    use baton::config::{Config, Env};
    std::fs::write(home.join("config.toml"), toml).unwrap();
    let env = Env::from_pairs([("BATON_HOME", home.display().to_string())]);
    Config::load_with(&CommonArgs::default(), &env).map_err(|e| e.to_string())
}

async fn doctor_lists_started_and_failed_servers() {
    let home = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let toml = format!(
        "provider = \"demo\"\n\n[[mcp_servers]]\nname = \"tracker\"\ncommand = {exe:?}\n\
         args = [\"{SERVE}\"]\ntools = [\"lookup\", \"env_names\"]\n\n\
         [[mcp_servers]]\nname = \"broken\"\ncommand = \"/nonexistent/baton-mcp-server\"\n",
        exe = exe.display().to_string()
    );
    let config = load_config(home.path(), &toml).unwrap();
    assert_eq!(config.mcp_servers.len(), 2);
    let report = baton::doctor::mcp_servers(&config).await;
    assert!(!report.ok());
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "MCP servers", "{text}");
    assert_eq!(
        lines[1],
        "  tracker        started, 2 tools: mcp__tracker__env_names, mcp__tracker__lookup",
        "{text}"
    );
    assert_eq!(
        lines[2], "                 not offered: big (not in `tools`)",
        "{text}"
    );
    assert!(
        lines[3].starts_with(
            "  broken         FAILED to start: could not start `/nonexistent/baton-mcp-server`:"
        ),
        "{text}"
    );
    assert_eq!(lines.len(), 4, "{text}");
}

fn config_mistakes_are_reported_with_their_line() {
    let home = tempfile::tempdir().unwrap();
    let bad_name = "provider = \"demo\"\n\n[[mcp_servers]]\nname = \"a__b\"\ncommand = \"x\"\n";
    let e = load_config(home.path(), bad_name).unwrap_err();
    assert!(e.contains(":3:") && e.contains("no `__`"), "{e}");
    let twice = "[[mcp_servers]]\nname = \"t\"\ncommand = \"x\"\n\n\
                 [[mcp_servers]]\nname = \"t\"\ncommand = \"y\"\n";
    let e = load_config(home.path(), twice).unwrap_err();
    assert!(e.contains(":5:") && e.contains("defined twice"), "{e}");
    let role = "[[mcp_servers]]\nname = \"t\"\ncommand = \"x\"\nroles = [\"wizard\"]\n";
    let e = load_config(home.path(), role).unwrap_err();
    assert!(e.contains("role `wizard`, which does not exist"), "{e}");
    let both = "[[mcp_servers]]\nname = \"t\"\ncommand = \"x\"\nurl = \"http://127.0.0.1:9/mcp\"\n";
    let e = load_config(home.path(), both).unwrap_err();
    assert!(e.contains(":1:") && e.contains("choose one"), "{e}");
    let ftp = "[[mcp_servers]]\nname = \"t\"\nurl = \"ftp://example.com/mcp\"\n";
    let e = load_config(home.path(), ftp).unwrap_err();
    assert!(e.contains("http:// or https://"), "{e}");
    let plain = "[[mcp_servers]]\nname = \"t\"\nurl = \"http://mcp.example.com/mcp\"\n\
                 bearer_token_env_var = \"T\"\n";
    let e = load_config(home.path(), plain).unwrap_err();
    assert!(e.contains("must be https://"), "{e}");
    let neither = "[[mcp_servers]]\nname = \"t\"\n";
    let e = load_config(home.path(), neither).unwrap_err();
    assert!(e.contains("needs a `command` (stdio) or a `url`"), "{e}");
    let good = "provider = \"demo\"\n[[mcp_servers]]\nname = \"t\"\n\
                url = \"https://mcp.example.com/mcp\"\nbearer_token_env_var = \"T\"\n\
                env_http_headers = { \"X-Api-Key\" = \"K\" }\n";
    let config = load_config(home.path(), good).unwrap();
    assert_eq!(
        config.mcp_servers[0].url.as_deref(),
        Some("https://mcp.example.com/mcp")
    );
}
