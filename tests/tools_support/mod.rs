//! Shared fixtures for the workspace-tool tests: a fake `ToolHost` (scripted command
//! decisions, recorded events and approval requests) and a temporary workspace + run dir.
//!
//! Must not touch the network or anything outside its temporary directories.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use baton::protocol::ToolCall;
use baton::protocol::{CommandDecision, Event, SubtaskId};
use baton::tools::{ToolHost, ToolOutput, WorkerTools, Workspace, WorkspaceOptions};

/// A `ToolHost` that answers approvals from a script and records everything.
#[derive(Default)]
pub struct FakeHost {
    pub decisions: Mutex<VecDeque<CommandDecision>>,
    pub asked: Mutex<Vec<(SubtaskId, String, String)>>,
    pub events: Mutex<Vec<Event>>,
    /// When set, every `record` fails with this text (a journal that cannot be written).
    pub journal_error: Option<String>,
}

impl FakeHost {
    pub fn answering(decisions: Vec<CommandDecision>) -> FakeHost {
        FakeHost {
            decisions: Mutex::new(decisions.into()),
            ..FakeHost::default()
        }
    }
    pub fn asked(&self) -> Vec<(SubtaskId, String, String)> {
        self.asked.lock().unwrap().clone()
    }
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl ToolHost for FakeHost {
    async fn approve_command(
        &self,
        subtask: SubtaskId,
        command: &str,
        cwd: &str,
    ) -> CommandDecision {
        self.asked
            .lock()
            .unwrap()
            .push((subtask, command.to_string(), cwd.to_string()));
        self.decisions
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(CommandDecision::Deny {
                reason: "no decision scripted".into(),
            })
    }
    async fn record(&self, event: Event) -> Result<(), String> {
        if let Some(e) = &self.journal_error {
            return Err(e.clone());
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

/// A temporary workspace (`<tmp>/ws`), run dir (`<tmp>/run`) and outside dir (`<tmp>/outside`
/// with `secret.txt`).
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub ws: PathBuf,
    pub run: PathBuf,
    pub outside: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let run = tmp.path().join("run");
        let outside = tmp.path().join("outside");
        for d in [&ws, &run, &outside] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(outside.join("secret.txt"), "top secret\n").unwrap();
        Fixture {
            tmp,
            ws,
            run,
            outside,
        }
    }

    pub fn options(&self) -> WorkspaceOptions {
        WorkspaceOptions::new(&self.run)
    }

    pub fn open(&self) -> Workspace {
        Workspace::open(&self.ws, self.options()).unwrap()
    }

    pub fn open_with(&self, f: impl FnOnce(&mut WorkspaceOptions)) -> Workspace {
        let mut o = self.options();
        f(&mut o);
        Workspace::open(&self.ws, o).unwrap()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.ws.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.ws.join(rel)).unwrap()
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.ws.join(rel).exists()
    }
}

pub fn tool_call(name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        id: format!("call_{name}"),
        name: name.to_string(),
        arguments,
    }
}

/// Calls a tool as subtask `#id`, attempt 1.
pub async fn run(
    ws: &Workspace,
    host: &FakeHost,
    id: u32,
    name: &str,
    arguments: Value,
) -> ToolOutput {
    ws.call(host, SubtaskId(id), 1, &tool_call(name, arguments))
        .await
}

/// A program that does not exist is a tool error saying it could not start.
pub async fn a_missing_program_cannot_start(ws: &Workspace) {
    let out = run(
        ws,
        &FakeHost::default(),
        1,
        "run_command",
        serde_json::json!({"argv": ["definitely-not-a-program-xyz"]}),
    )
    .await;
    assert!(
        out.is_error && out.content.contains("could not start"),
        "{}",
        out.content
    );
}

pub fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}
