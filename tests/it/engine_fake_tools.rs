//! Whole runs of the engine with worker tools (a fake at the tools edge): command approval,
//! rollback, worker timeouts, escalating a running subtask, a panicking provider.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::Arc;

use baton::engine::*;
use baton::protocol::*;
use baton::state::*;
use engine_common::*;
use serde_json::json;

use super::engine_limits::chain;
use super::engine_loop::*;

/// Workspace tools that ask the engine for command approval and record file changes.
struct FakeTools;

#[async_trait::async_trait]
impl baton::tools::WorkerTools for FakeTools {
    fn definitions(&self, allowed: &[String]) -> Vec<baton::protocol::ToolDef> {
        ["run_command", "write_file"]
            .iter()
            .filter(|t| allowed.iter().any(|a| a == *t))
            .map(|t| baton::protocol::ToolDef {
                name: t.to_string(),
                description: String::new(),
                input_schema: json!({"type": "object"}),
            })
            .collect()
    }
    async fn call(
        &self,
        host: &dyn baton::tools::ToolHost,
        subtask: SubtaskId,
        _attempt: u32,
        call: &baton::protocol::ToolCall,
    ) -> baton::tools::ToolOutput {
        if call.name == "run_command" {
            let decision = host.approve_command(subtask, "cargo test", ".").await;
            let ok = !matches!(decision, CommandDecision::Deny { .. });
            return baton::tools::ToolOutput {
                content: format!("{decision:?}"),
                is_error: !ok,
                summary: "run_command cargo test".into(),
            };
        }
        let journaled = host
            .record(Event::FileChanged {
                id: subtask,
                path: "src/lib.rs".into(),
                before: None,
                after: Some("abc".into()),
                backup: None,
            })
            .await;
        // A live engine journals the record before the tool acts on it.
        assert_eq!(journaled, Ok(()));
        baton::tools::ToolOutput {
            content: "written".into(),
            is_error: false,
            summary: "write_file src/lib.rs".into(),
        }
    }
    async fn check_rollback(
        &self,
        changes: &[baton::state::FileChange],
    ) -> Result<Vec<String>, String> {
        Ok(changes.iter().map(|c| c.path.clone()).collect())
    }
    async fn rollback(&self, changes: &[baton::state::FileChange]) -> Result<Vec<String>, String> {
        Ok(changes.iter().map(|c| c.path.clone()).collect())
    }
}

fn tool_using_fake() -> Fake {
    Fake::new(vec![st("A", "code_developer", &[])]).rule(|c| {
        worker(c, "A")?;
        match c.turn {
            1 => Some(Reply::Tool("run_command", json!({"command": "cargo test"}))),
            2 => Some(Reply::Tool("write_file", json!({"path": "src/lib.rs"}))),
            _ => None,
        }
    })
}

#[tokio::test(start_paused = true)]
async fn worker_tools_ask_for_command_approval_and_changes_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.tools = Some(Arc::new(FakeTools));
    let f = drive(
        cfg,
        Arc::new(tool_using_fake().latency(10)),
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::CommandApprovalRequested { request, .. } => vec![Command::DecideCommand {
                request: *request,
                decision: CommandDecision::AllowAlways,
            }],
            Event::SubtaskReported { id, .. } => vec![Command::Rollback { id: *id }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let s = &f.state;
    assert_eq!(s.allowed_commands, vec!["cargo test".to_string()]);
    let tools: Vec<&str> = s.subtasks[0]
        .tool_uses
        .iter()
        .map(|(t, _, _)| t.as_str())
        .collect();
    assert_eq!(tools, ["run_command", "write_file"]);
    assert_eq!(s.subtasks[0].files_changed, vec!["src/lib.rs".to_string()]);
    assert!(s.files.iter().all(|f| f.rolled_back));
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskRolledBack { .. }))
            .count(),
        1
    );

    // Headless: nobody can approve; the command is denied by the policy, the run goes on.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.tools = Some(Arc::new(FakeTools));
    cfg.stop_when_person_needed = true;
    let f = run_new(cfg, Arc::new(tool_using_fake()), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert!(matches!(
        f.state.command_requests[0].decision,
        Some(CommandDecision::Deny { .. })
    ));
    assert!(
        f.state.subtasks[0].tool_uses[0].2,
        "the denied command is a tool error"
    );
}

#[tokio::test(start_paused = true)]
async fn worker_timeout_is_a_failure_with_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.worker_timeout_secs = 5;
    let fake = Fake::new(vec![st("A", "code_developer", &[])]).delay(|c| {
        worker(c, "A")
            .filter(|b| b.attempt == 1)
            .map(|_| ms(60_000))
    });
    let f = run_new(cfg, Arc::new(fake), "t").await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let failed: Vec<&Event> = f.of(|e| matches!(e, Event::SubtaskFailed { .. })).collect();
    assert!(matches!(failed[0], Event::SubtaskFailed { error, .. } if error.contains("timed out")));
    assert_eq!(f.state.subtasks[0].attempts, 2);
    assert_eq!(f.state.subtasks[0].status, SubtaskStatus::Complete);
}

#[tokio::test(start_paused = true)]
async fn escalating_a_running_subtask_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(vec![st("A", "code_developer", &[])]).latency(100);
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(fake),
        Start::New {
            run_id: "r".into(),
            task: "t".into(),
        },
        |e, _| match &e.event {
            Event::SubtaskStarted { id, attempt: 1, .. } => {
                vec![Command::Escalate {
                    id: *id,
                    reason: "let me look".into(),
                }]
            }
            Event::SubtaskEscalated {
                id,
                by: Actor::Person,
                ..
            } => vec![Command::Resolve {
                id: *id,
                resolution: Resolution::Retry {
                    guidance: "go on".into(),
                },
            }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let a = &f.state.subtasks[0];
    assert_eq!(a.attempts, 2);
    assert_eq!(a.guidance.as_deref(), Some("go on"));
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskReported { attempt: 1, .. }))
            .count(),
        0
    );
}

/// A provider that panics (a bug at the edge) fails that step or worker like any other
/// failure: the run goes on and ends, it never hangs.
#[tokio::test(start_paused = true)]
async fn a_panicking_provider_fails_the_call_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(chain()).rule(|c| match &c.brief {
        Some(b) if b.attempt == 1 => Some(Reply::Panic("provider bug")),
        _ => None,
    });
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(fake),
        "t",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let failed: Vec<String> = f
        .of(|e| matches!(e, Event::SubtaskFailed { .. }))
        .filter_map(|e| match e {
            Event::SubtaskFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert!(!failed.is_empty());
    assert!(
        failed.iter().all(|e| e.contains("panicked: provider bug")),
        "{failed:?}"
    );

    // The analysis step panics: the run fails (journaled), it does not hang.
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(chain()).rule(|c| c.brief.is_none().then_some(Reply::Panic("boom")));
    let f = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 1)),
        Arc::new(fake),
        "t",
    )
    .await;
    match &f.outcome {
        RunOutcome::Failed { reason } => assert!(reason.contains("panicked: boom"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
