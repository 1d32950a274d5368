//! End to end: a whole run on the fake LLM HTTP server (Anthropic wire format) with a
//! workspace copied from `assets/sample-project`. A developer worker lists the project,
//! reads a file, edits it, and runs the tests after a person approved the command
//! (`Command::DecideCommand`); the journal has `FileChanged` and `WorkerToolUsed`; a
//! person then rolls the subtask back (`Command::Rollback`) and the file is restored.
//!
//! Real time (commands are real processes); no network beyond 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use baton::tools::{WorkerTools, Workspace, WorkspaceOptions};
use engine_common::{check_consistent, config, drive, settings};
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse, copy_dir};

const CORE: &str = "shortener/core.py";
const TODO_LINE: &str =
    "        # TODO: reject URLs that are not http:// or https:// (raise ValueError).\n";
const FIX: &str = "        if not url.startswith((\"http://\", \"https://\")):\n            raise ValueError(f\"not an http(s) URL: {url!r}\")\n";
const TEST_COMMAND: &str = "python3 -m unittest discover -s tests";

fn tool(name: &str, args: Value) -> ScriptedResponse {
    Reply::new()
        .tool(&format!("toolu_{name}"), name, args)
        .usage(100, 20)
        .anthropic()
}

fn respond(req: &RecordedRequest) -> ScriptedResponse {
    match req.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.9, "task_type": "code change",
            "known_requirements": ["validate URLs"], "unknowns": [],
            "estimated_subtasks": 2, "strategy": "fix, then review",
            "subtasks": [
                {"title": "Validate URLs", "description": "Make shorten() reject non-http(s) URLs",
                 "role": "code_developer", "depends_on": [], "priority": "high",
                 "expected_output": "the change, tests passing"},
                {"title": "Review", "description": "Review the change",
                 "role": "code_analyzer", "depends_on": ["Validate URLs"], "priority": "normal",
                 "expected_output": "review notes"}
            ]}),
        ),
        Some(SUBMIT_REPLAN) => tool(
            SUBMIT_REPLAN,
            json!({"summary": "on track", "add": [], "update": [], "cancel": [],
                   "scope_note": "as estimated"}),
        ),
        Some(ASSESS_COMPLETION) => {
            tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => tool(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "URL validation added", "integration_points": [],
                   "conflicts": [], "coherence": "ok"}),
        ),
        Some(SUBMIT_EVALUATION) => tool(
            SUBMIT_EVALUATION,
            json!({"accepted": true, "feedback": "ok"}),
        ),
        Some(DECIDE_RECOVERY) => tool(
            DECIDE_RECOVERY,
            json!({"action": "escalate", "rationale": "unexpected failure", "impact": "test"}),
        ),
        _ => worker_turn(req),
    }
}

/// The scripted worker: list, read, edit, run the tests, report.
fn worker_turn(req: &RecordedRequest) -> ScriptedResponse {
    let report = |results: &str| {
        tool(
            SUBMIT_REPORT,
            json!({"status": "complete", "results": results, "discoveries": [],
                   "recommendations": [], "new_subtasks": []}),
        )
    };
    if !req.first_text().contains("Validate URLs") || req.first_text().contains("Review the change")
    {
        return report("reviewed");
    }
    let step = (req.messages().len().saturating_sub(1)) / 2;
    match step {
        0 => tool("list_dir", json!({"path": ".", "depth": 2})),
        1 => tool("read_file", json!({"path": CORE})),
        2 => tool(
            "edit_file",
            json!({"path": CORE, "old_string": TODO_LINE, "new_string": FIX}),
        ),
        3 => tool("run_command", json!({"command": TEST_COMMAND})),
        _ => report("shorten() now rejects non-http(s) URLs; tests pass"),
    }
}

/// The tool results the model received in `req` (Anthropic `tool_result` blocks).
fn tool_results(req: &RecordedRequest) -> Vec<String> {
    req.messages()
        .iter()
        .filter_map(|m| m["content"].as_array().cloned())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| match &b["content"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_lists_reads_edits_and_runs_an_approved_command() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = tmp.path().join("project");
    let run_dir = tmp.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample-project"),
        &ws_dir,
    );
    let original = std::fs::read(ws_dir.join(CORE)).unwrap();

    let server = FakeLlm::with_responder(respond).await;
    let provider = build_provider(&server.settings(ProviderKind::Anthropic)).unwrap();
    let ws = Arc::new(Workspace::open(&ws_dir, WorkspaceOptions::new(&run_dir)).unwrap());
    let mut s = settings(ApprovalPolicy::All, 2);
    s.workspace = Some(ws_dir.display().to_string());
    let mut cfg = config(&run_dir, s);
    cfg.tools = Some(ws.clone() as Arc<dyn WorkerTools>);

    let ws_for_check = ws_dir.clone();
    let mut seen_edit = false;
    let finished = drive(
        cfg,
        provider,
        Start::New {
            run_id: "tools-e2e".into(),
            task: "Make shorten() reject URLs that are not http(s)".into(),
        },
        move |env, _state| match &env.event {
            Event::SubtaskAdded { spec, .. } if spec.id == SubtaskId(1) => {
                vec![Command::Approve { id: spec.id }]
            }
            Event::CommandApprovalRequested {
                request,
                id,
                command,
                cwd,
            } => {
                assert_eq!(*id, SubtaskId(1));
                assert_eq!(command, TEST_COMMAND);
                assert_eq!(cwd, ".");
                vec![Command::DecideCommand {
                    request: *request,
                    decision: CommandDecision::AllowOnce,
                }]
            }
            Event::FileChanged { .. } => {
                seen_edit = true;
                vec![]
            }
            Event::SubtaskReported { id, .. } if *id == SubtaskId(1) => {
                // The edit is on disk when the worker reports; the person rolls it back
                // before letting the review start (commands are handled in order).
                assert!(seen_edit);
                let now = std::fs::read_to_string(ws_for_check.join(CORE)).unwrap();
                assert!(
                    now.contains("raise ValueError(f\"not an http(s) URL"),
                    "{now}"
                );
                assert!(!now.contains("TODO: reject URLs"), "{now}");
                vec![
                    Command::Rollback { id: SubtaskId(1) },
                    Command::Approve { id: SubtaskId(2) },
                ]
            }
            _ => vec![],
        },
    )
    .await;

    assert_eq!(
        finished.outcome,
        RunOutcome::Completed,
        "{:?}",
        finished.state.notices
    );
    check_consistent(&finished);

    // The transcript: four workspace tools, all fine, the command approved and passing.
    let used: Vec<(String, String, bool)> = finished
        .of(|e| matches!(e, Event::WorkerToolUsed { .. }))
        .filter_map(|e| match e {
            Event::WorkerToolUsed {
                id,
                tool,
                summary,
                is_error,
                ..
            } if *id == SubtaskId(1) => Some((tool.clone(), summary.clone(), *is_error)),
            _ => None,
        })
        .collect();
    let tools: Vec<&str> = used.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        tools,
        vec!["list_dir", "read_file", "edit_file", "run_command"],
        "{used:?}"
    );
    assert!(used.iter().all(|(_, _, err)| !err), "{used:?}");
    let lines = String::from_utf8_lossy(&original).lines().count();
    assert_eq!(
        used[1].1,
        format!("read_file shortener/core.py ({lines} lines)")
    );
    assert_eq!(used[2].1, "edit_file shortener/core.py (1 replacement)");
    // The full transcript is journaled: the arguments and what the model received.
    let read = finished
        .of(|e| matches!(e, Event::WorkerToolUsed { tool, .. } if tool == "read_file"))
        .next()
        .unwrap();
    let Event::WorkerToolUsed { input, output, .. } = read else {
        unreachable!()
    };
    assert_eq!(input["path"], "shortener/core.py");
    let first_line = String::from_utf8_lossy(&original)
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(output.contains(&first_line), "{output}");
    assert_eq!(
        used[3].1,
        format!("run_command \"{TEST_COMMAND}\" → exit 0")
    );
    assert_eq!(
        finished
            .of(|e| matches!(
                e,
                Event::CommandApprovalDecided {
                    decision: CommandDecision::AllowOnce,
                    by: Actor::Person,
                    ..
                }
            ))
            .count(),
        1
    );

    // The change record: one FileChanged with a backup of the exact original.
    let changes: Vec<&Event> = finished
        .of(|e| matches!(e, Event::FileChanged { .. }))
        .collect();
    assert_eq!(changes.len(), 1);
    let Event::FileChanged {
        id,
        path,
        before,
        after,
        backup,
    } = changes[0]
    else {
        panic!("not a FileChanged: {:?}", changes[0])
    };
    assert_eq!((*id, path.as_str()), (SubtaskId(1), CORE));
    assert!(before.is_some() && after.is_some() && before != after);
    assert_eq!(
        std::fs::read(run_dir.join(backup.as_ref().unwrap())).unwrap(),
        original
    );
    assert_eq!(
        finished.state.subtasks[0].files_changed,
        vec![CORE.to_string()]
    );

    // The rollback: journaled, and the file has its original bytes again.
    let rolled: Vec<&Event> = finished
        .of(|e| matches!(e, Event::SubtaskRolledBack { .. }))
        .collect();
    assert_eq!(
        rolled,
        vec![&Event::SubtaskRolledBack {
            id: SubtaskId(1),
            files: vec![CORE.to_string()],
            by: Actor::Person
        }]
    );
    assert_eq!(std::fs::read(ws_dir.join(CORE)).unwrap(), original);
    assert!(finished.state.files.iter().all(|f| f.rolled_back));

    // What the model got back: the listing, the file, the capped command output.
    let requests = server.requests();
    let last_worker = requests
        .iter()
        .filter(|r| {
            r.first_text().contains("Validate URLs")
                && !r.first_text().contains("Review the change")
        })
        .filter(|r| r.forced_tool().is_none() || r.forced_tool() == Some(SUBMIT_REPORT))
        .max_by_key(|r| r.messages().len())
        .unwrap();
    let results = tool_results(last_worker);
    assert_eq!(results.len(), 4, "{results:?}");
    assert!(results[0].contains("shortener/core.py"), "{}", results[0]);
    assert!(results[1].contains(TODO_LINE.trim()), "{}", results[1]);
    assert!(results[3].contains("exit code: 0"), "{}", results[3]);
    assert!(results[3].contains("OK"), "{}", results[3]);
    // The worker's request offered the developer's workspace tools.
    let offered = last_worker.tool_names();
    for name in [
        "list_dir",
        "read_file",
        "search",
        "write_file",
        "edit_file",
        "run_command",
    ] {
        assert!(offered.contains(&name), "{offered:?}");
    }
}
