//! Terminal escape injection through the real binary (issue 8, attack 3): a model on the fake
//! LLM server puts escape sequences (ESC [, OSC 0 window title, OSC 52 clipboard, reverse
//! video, cursor moves, bare `\r`, a bidi override) into the analysis, subtask titles, a worker
//! report, the replan log and the deliverable. Headless stderr and stdout, `baton runs` and
//! `baton export md` carry no ESC byte (the controls are made visible); `--json` and
//! `export --format json` keep the exact text.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use baton::protocol::model::*;
use baton::protocol::{Envelope, Event};
use serde_json::{Value, json};
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse, TEST_KEY};

const EVIL: &str = "ok\x1b[2K\r\x1b[1A\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[7mrev\x1b[0m\x1b[5;5H\u{202e}gpj.exe\u{9b}2J";

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
            json!({"complexity": 0.9, "task_type": format!("code {EVIL}"),
            "known_requirements": [EVIL], "unknowns": [],
            "estimated_subtasks": 1, "strategy": format!("strategy {EVIL}"),
            "subtasks": [
                {"title": format!("Title {EVIL}"), "description": format!("Do {EVIL}"),
                 "role": "code_developer", "depends_on": [], "priority": "high",
                 "expected_output": "text"}
            ]}),
        ),
        Some(SUBMIT_REPLAN) => tool(
            SUBMIT_REPLAN,
            json!({"summary": format!("replan {EVIL}"), "add": [], "update": [], "cancel": [],
                   "scope_note": format!("scope {EVIL}")}),
        ),
        Some(ASSESS_COMPLETION) => {
            tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => tool(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": format!("# Deliverable {EVIL}\n\n{EVIL}\n"),
                   "integration_points": [format!("point {EVIL}")],
                   "conflicts": [format!("conflict {EVIL}")], "coherence": format!("ok {EVIL}")}),
        ),
        Some(SUBMIT_EVALUATION) => tool(
            SUBMIT_EVALUATION,
            json!({"accepted": true, "feedback": EVIL}),
        ),
        Some(DECIDE_RECOVERY) => tool(
            DECIDE_RECOVERY,
            json!({"action": "escalate", "rationale": EVIL, "impact": EVIL}),
        ),
        _ => tool(
            SUBMIT_REPORT,
            json!({"status": "complete", "results": format!("results {EVIL}"),
                   "discoveries": [format!("found {EVIL}")],
                   "recommendations": [format!("recommend {EVIL}")], "new_subtasks": []}),
        ),
    }
}

fn baton(home: &Path, server: &FakeLlm) -> Command {
    let mut c = Command::new(crate::support_cli::bin());
    for var in baton::config::ENV_VARS {
        c.env_remove(var);
    }
    c.env("BATON_HOME", home)
        .env("ANTHROPIC_API_KEY", TEST_KEY)
        .env("ANTHROPIC_BASE_URL", server.url());
    c
}

/// No byte or character that a terminal acts on: only `\n` and `\t` among the controls.
fn assert_inert(what: &str, bytes: &[u8]) {
    assert!(!bytes.contains(&0x1b), "{what} holds an ESC byte");
    let text = String::from_utf8_lossy(bytes);
    for c in text.chars() {
        assert!(
            !baton::text::is_unsafe_char(c),
            "{what} holds {c:?}:\n{text}"
        );
    }
}

fn run(mut c: Command) -> Output {
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escapes_from_a_model_reach_no_terminal_and_json_keeps_them() {
    let server = FakeLlm::with_responder(respond).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();

    let mut c = baton(&h, &server);
    c.args(["--headless", "--approve", "auto", "Write a note"]);
    let o = tokio::task::spawn_blocking(move || run(c)).await.unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "stderr:\n{stderr}");
    assert_inert("headless stderr", &o.stderr);
    assert_inert("headless stdout (the deliverable)", &o.stdout);
    assert!(
        stderr.contains("Title ok\\x1b[2K\\r\\x1b[1A"),
        "titles are shown with their controls made visible:\n{stderr}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(stdout.contains("\\x1b]52;c;ZXZpbA==\\x07"), "{stdout}");
    assert!(stdout.contains("\\u{202e}gpj.exe"), "{stdout}");

    let mut c = baton(&h, &server);
    c.arg("runs");
    let o = tokio::task::spawn_blocking(move || run(c)).await.unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_inert("baton runs", &o.stdout);

    let mut c = baton(&h, &server);
    c.args(["export", "latest"]);
    let o = tokio::task::spawn_blocking(move || run(c)).await.unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_inert("export md", &o.stdout);
    let md = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(md.contains("# Deliverable ok\\x1b[2K\\r"), "{md}");
    assert!(md.contains("replan ok\\x1b[2K"), "{md}");

    // Lossless where asked for: the JSON report holds the exact bytes.
    let mut c = baton(&h, &server);
    c.args(["export", "latest", "--format", "json"]);
    let o = tokio::task::spawn_blocking(move || run(c)).await.unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(!o.stdout.contains(&0x1b), "JSON escapes ESC as \\u001b");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["deliverable"].as_str().unwrap(),
        format!("# Deliverable {EVIL}\n\n{EVIL}\n")
    );
    assert_eq!(
        v["subtasks"][0]["title"].as_str().unwrap(),
        format!("Title {EVIL}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_json_lines_keep_the_exact_text() {
    let server = FakeLlm::with_responder(respond).await;
    let home = tempfile::tempdir().unwrap();
    let h = home.path().to_path_buf();
    let mut c = baton(&h, &server);
    c.args(["--headless", "--json", "--approve", "auto", "Write a note"]);
    let o = tokio::task::spawn_blocking(move || run(c)).await.unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_inert("headless --json stderr", &o.stderr);
    assert!(!o.stdout.contains(&0x1b), "JSON escapes ESC as \\u001b");
    let envelopes: Vec<Envelope> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let titles: Vec<&str> = envelopes
        .iter()
        .filter_map(|e| match &e.event {
            Event::SubtaskAdded { spec, .. } => Some(spec.title.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(titles, vec![format!("Title {EVIL}").as_str()]);
    let deliverable = envelopes.iter().find_map(|e| match &e.event {
        Event::SynthesisCompleted { synthesis, .. } => Some(synthesis.deliverable.clone()),
        _ => None,
    });
    assert_eq!(
        deliverable.unwrap(),
        format!("# Deliverable {EVIL}\n\n{EVIL}\n")
    );
}
