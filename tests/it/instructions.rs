//! Project instructions end to end: a workspace's AGENTS.md and a nested CLAUDE.md reach the
//! orchestrator's and the worker's requests at the fake LLM server (Anthropic wire format),
//! quoted as repository text; a file in `target/` does not; the journaled brief stays
//! without them; `--no-project-instructions` keeps them out.
//!
//! Started through `session::start` (config -> session -> engine), headless, no network
//! beyond 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;

use serde_json::{Value, json};

use baton::cli::CommonArgs;
use baton::config::{Config, Env};
use baton::protocol::model::*;
use baton::protocol::{Event, RunOutcome};
use baton::session::{self, FrontEnd, Launch};
use support::{FakeLlm, RecordedRequest, ScriptedResponse, anthropic_tool_call as tool};

const ROOT_RULE: &str = "Run `make check` before you report; never edit generated files.";
const NESTED_RULE: &str = "Code under web/ uses two-space indentation.";
const BUILD_RULE: &str = "this file is build output";

fn respond(req: &RecordedRequest) -> ScriptedResponse {
    match req.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.9, "task_type": "code change",
            "known_requirements": [], "unknowns": [], "estimated_subtasks": 1,
            "strategy": "one step",
            "subtasks": [{"title": "Do it", "description": "Do the change",
                "role": "code_developer", "depends_on": [], "priority": "high",
                "expected_output": "the change"}]}),
        ),
        Some(SUBMIT_REPLAN) => tool(
            SUBMIT_REPLAN,
            json!({"summary": "done", "add": [], "update": [], "cancel": [],
                   "scope_note": "as estimated"}),
        ),
        Some(ASSESS_COMPLETION) => {
            tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => tool(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "done", "integration_points": [], "conflicts": [],
                   "coherence": "ok"}),
        ),
        Some(other) => panic!("unexpected forced tool {other}"),
        None => tool(
            SUBMIT_REPORT,
            json!({"status": "complete", "results": "done", "discoveries": [],
                   "recommendations": [], "new_subtasks": []}),
        ),
    }
}

/// All text of a request's messages.
fn user_text(req: &RecordedRequest) -> String {
    req.messages()
        .iter()
        .map(|m| match &m["content"] {
            Value::String(s) => s.clone(),
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn workspace(root: &Path) {
    std::fs::write(root.join("AGENTS.md"), format!("# Rules\n{ROOT_RULE}\n")).unwrap();
    std::fs::create_dir_all(root.join("web")).unwrap();
    std::fs::write(root.join("web/CLAUDE.md"), NESTED_RULE).unwrap();
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::write(root.join("target/AGENTS.md"), BUILD_RULE).unwrap();
    std::fs::write(root.join("main.py"), "print('hi')\n").unwrap();
}

/// Runs one headless run on the fake server; returns the requests and the journaled briefs.
async fn run(skip_instructions: bool) -> (Vec<RecordedRequest>, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("project");
    std::fs::create_dir_all(&ws).unwrap();
    workspace(&ws);
    let server = FakeLlm::with_responder(respond).await;
    let env = Env::from_pairs([
        ("BATON_HOME", tmp.path().join("home").display().to_string()),
        ("ANTHROPIC_API_KEY", "sk-test-instructions".to_string()),
        (
            "ANTHROPIC_BASE_URL",
            server.base_url(baton::llm::ProviderKind::Anthropic),
        ),
    ]);
    let args = CommonArgs {
        workspace: Some(ws.clone()),
        read_only: true,
        no_project_instructions: skip_instructions,
        ..CommonArgs::default()
    };
    let config = Config::load_with(&args, &env).unwrap();
    let mut s = session::start(
        &config,
        Launch::New {
            task: "Change main.py".into(),
        },
        FrontEnd::Headless,
    )
    .unwrap();
    if skip_instructions {
        assert!(s.instructions.is_empty());
    } else {
        let names: Vec<(&str, u64)> = s
            .instructions
            .iter()
            .map(|f| (f.path.as_str(), f.size))
            .collect();
        let root_size = u64::try_from(format!("# Rules\n{ROOT_RULE}\n").len()).unwrap();
        let nested_size = u64::try_from(NESTED_RULE.len()).unwrap();
        assert_eq!(
            names,
            [("AGENTS.md", root_size), ("web/CLAUDE.md", nested_size)]
        );
    }
    let mut briefs = Vec::new();
    let drive = async {
        while let Some(e) = s.handle.events.recv().await {
            match &e.event {
                Event::SubtaskStarted { brief, .. } => briefs.push(brief.clone()),
                Event::RunFinished { outcome } => {
                    assert_eq!(outcome, &RunOutcome::Completed);
                    break;
                }
                _ => {}
            }
        }
    };
    // A safety net against a hung engine, not a wait for something.
    tokio::time::timeout(std::time::Duration::from_secs(60), drive)
        .await
        .expect("the run finishes");
    (server.requests(), briefs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_md_reaches_the_orchestrator_and_the_worker_as_quoted_repository_text() {
    let (requests, briefs) = run(false).await;
    let worker = requests
        .iter()
        .find(|r| r.forced_tool().is_none())
        .expect("a worker request");
    let text = user_text(worker);
    assert!(text.contains("# Project instructions"), "{text}");
    assert!(text.contains(ROOT_RULE), "{text}");
    assert!(text.contains(NESTED_RULE), "{text}");
    assert!(!text.contains(BUILD_RULE), "target/ is skipped: {text}");
    assert!(
        text.contains("<project_instructions path=\"AGENTS.md\"")
            && text.contains("<project_instructions path=\"web/CLAUDE.md\""),
        "{text}"
    );
    assert!(
        text.contains("not from the person"),
        "framed as repository text: {text}"
    );
    // The root file comes before the nested one, and both before the brief.
    let root_at = text.find(ROOT_RULE).unwrap();
    let nested_at = text.find(NESTED_RULE).unwrap();
    let brief_at = text.find("# Your subtask").unwrap();
    assert!(root_at < nested_at && nested_at < brief_at, "{text}");

    let analysis = requests
        .iter()
        .find(|r| r.forced_tool() == Some(SUBMIT_ANALYSIS))
        .expect("an analysis request");
    assert!(user_text(analysis).contains(ROOT_RULE));
    // The system prompts stay Baton's own.
    assert!(
        requests
            .iter()
            .all(|r| !r.system_prompt().unwrap_or_default().contains(ROOT_RULE))
    );
    // The journaled brief is the brief alone (the files are read again on resume).
    assert_eq!(briefs.len(), 1);
    assert!(!briefs[0].contains(ROOT_RULE), "{}", briefs[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_project_instructions_keeps_them_out_of_every_request() {
    let (requests, _) = run(true).await;
    assert!(requests.len() >= 3);
    for r in &requests {
        let text = user_text(r);
        assert!(!text.contains(ROOT_RULE) && !text.contains("# Project instructions"));
    }
}
