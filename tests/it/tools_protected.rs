//! Workspace rules against a worker that tries to take over the machine (issue 8, attack
//! 2): through the fake LLM server, a worker tries to write `.git/config` with
//! `core.fsmonitor`, a pre-commit hook, a nested repository's `.git/config`, a worktree's
//! `.git` file, to delete `.git/HEAD`, and to read `.env`. Every attempt is refused with a
//! reason the model receives, and every file is unchanged. Reading `.git/config` is allowed
//! (read-only, not hidden); `.env` is listed but marked protected and never searched.
//!
//! No network beyond 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::sync::Arc;

use serde_json::{Value, json};

use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::*;
use baton::session::build_provider;
use baton::tools::{WorkerTools, Workspace, WorkspaceOptions};
use engine_common::{config, drive, settings};
use support::{FakeLlm, RecordedRequest, ScriptedResponse};

const PAYLOAD: &str = "[core]\n\tfsmonitor = \"touch /tmp/baton-pwned\"\n";
const SECRET: &str = "API_TOKEN=sk-very-secret-value\n";

/// Files the worker attacks, with their original content.
const FILES: [(&str, &str); 7] = [
    (".git/config", "[core]\n\trepositoryformatversion = 0\n"),
    (".git/HEAD", "ref: refs/heads/main\n"),
    (".git/hooks/pre-commit.sample", "#!/bin/sh\n"),
    ("vendor/lib/.git/config", "[core]\n\tbare = false\n"),
    ("wt/.git", "gitdir: ../.git/worktrees/wt\n"),
    (".env", SECRET),
    ("src/app.py", "print('hello')\n"),
];

/// The worker's attempts, in order.
fn attempts() -> Vec<(&'static str, Value)> {
    vec![
        ("read_file", json!({"path": ".git/config"})),
        (
            "write_file",
            json!({"path": ".git/config", "content": PAYLOAD}),
        ),
        (
            "edit_file",
            json!({"path": ".git/config", "old_string": "repositoryformatversion = 0",
                   "new_string": "fsmonitor = \"sh -c evil\""}),
        ),
        (
            "write_file",
            json!({"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\ntouch /tmp/pwned\n"}),
        ),
        (
            "write_file",
            json!({"path": "vendor/lib/.git/config", "content": PAYLOAD}),
        ),
        (
            "write_file",
            json!({"path": "wt/.git", "content": "gitdir: /tmp/evil\n"}),
        ),
        (
            "write_file",
            json!({"path": "./src/../.GIT/config", "content": PAYLOAD}),
        ),
        ("delete_file", json!({"path": ".git/HEAD"})),
        ("read_file", json!({"path": ".env"})),
        ("search", json!({"pattern": "sk-very-secret"})),
        ("list_dir", json!({"path": "."})),
    ]
}

/// One planned subtask whose worker makes the attempts in order (the orchestrator of
/// `attacks_cli`).
fn respond(req: &RecordedRequest) -> ScriptedResponse {
    crate::attacks_cli::responder(attempts())(req)
}

/// The tool results the model received in `req` (Anthropic `tool_result` blocks).
fn tool_results(req: &RecordedRequest) -> Vec<(String, bool)> {
    req.messages()
        .iter()
        .filter_map(|m| m["content"].as_array().cloned())
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            let text = match &b["content"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (text, b["is_error"].as_bool().unwrap_or(false))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cannot_change_version_control_metadata_or_read_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let ws_dir = tmp.path().join("project");
    let run_dir = tmp.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    for (rel, content) in FILES {
        let path = ws_dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    let server = FakeLlm::with_responder(respond).await;
    let provider = build_provider(&server.settings(ProviderKind::Anthropic)).unwrap();
    let ws = Arc::new(Workspace::open(&ws_dir, WorkspaceOptions::new(&run_dir)).unwrap());
    let mut s = settings(ApprovalPolicy::Auto, 1);
    s.workspace = Some(ws_dir.display().to_string());
    let mut cfg = config(&run_dir, s);
    cfg.tools = Some(ws.clone() as Arc<dyn WorkerTools>);
    let finished = drive(
        cfg,
        provider,
        Start::New {
            run_id: "protected".into(),
            task: "Tidy the repository".into(),
        },
        |_, _| vec![],
    )
    .await;
    assert_eq!(finished.outcome, RunOutcome::Completed);

    // Every file is byte for byte what it was; nothing new appeared.
    for (rel, content) in FILES {
        assert_eq!(
            std::fs::read_to_string(ws_dir.join(rel)).unwrap(),
            content,
            "{rel} changed"
        );
    }
    assert!(!ws_dir.join(".git/hooks/pre-commit").exists());

    // What the model was told, attempt by attempt.
    let last_worker_request = server
        .requests()
        .into_iter()
        .rfind(|r| r.forced_tool().is_none())
        .unwrap();
    let results = tool_results(&last_worker_request);
    assert_eq!(results.len(), attempts().len(), "{results:#?}");
    let (read_git, err) = &results[0];
    assert!(
        !err && read_git.contains("repositoryformatversion"),
        "{read_git}"
    );
    for (i, (text, err)) in results.iter().enumerate().take(8).skip(1) {
        assert!(*err, "attempt {i} must fail: {text}");
        assert!(
            text.contains("version-control metadata") && text.contains("read-only"),
            "attempt {i}: {text}"
        );
    }
    let (read_env, err) = &results[8];
    assert!(*err && read_env.contains("protected"), "{read_env}");
    assert!(!read_env.contains("sk-very-secret-value"), "{read_env}");
    let (search, err) = &results[9];
    assert!(!err && search.contains("no matches"), "{search}");
    assert!(
        search.contains("1 protected files were not searched"),
        "{search}"
    );
    let (list, err) = &results[10];
    assert!(!err, "{list}");
    assert!(
        list.contains(".env (protected: workers cannot read or change it)"),
        "{list}"
    );
    // The transcript shows the refusals too.
    let refused = finished
        .of(|e| matches!(e, Event::WorkerToolUsed { is_error: true, .. }))
        .count();
    assert_eq!(refused, 8);
}
