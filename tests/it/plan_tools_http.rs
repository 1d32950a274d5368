//! Issue 11's read-side capabilities end to end against the fake LLM server, in both wire
//! formats, with the real binary: a priced run, then `baton export json` answers "who
//! decided what, and what did each part cost", `baton graph --format json` gives the layers
//! (and, the run being over, no critical path left), `baton fork --at dN` reruns from a decision and `baton compare
//! --json` shows both runs side by side with their shared prefix.
//!
//! No network beyond 127.0.0.1; the key goes only to the child process's environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use baton::llm::ProviderKind;
use baton::protocol::model::*;

use crate::support::{FakeLlm, RecordedRequest, ScriptedResponse, protocol_reply};

const KEY: &str = "fake-test-key-plan-tools-0123";

fn baton(home: &Path, kind: ProviderKind) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(crate::support_cli::bin());
    c.env("BATON_HOME", home);
    for var in baton::config::ENV_VARS
        .iter()
        .filter(|v| **v != "BATON_HOME")
    {
        c.env_remove(var);
    }
    match kind {
        ProviderKind::Anthropic => c.env("ANTHROPIC_API_KEY", KEY),
        _ => c.env("OPENAI_API_KEY", KEY),
    };
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Survey, then Build after it: two layers, a critical path of both. Every call is priced
/// (1,000 tokens in, 200 out, answered by `model`, a model of the pricing table: the cost
/// is priced by the model the server says answered).
fn answer(r: &RecordedRequest, kind: ProviderKind, model: &str) -> ScriptedResponse {
    if r.forced_tool() == Some(SUBMIT_ANALYSIS) {
        let st = |title: &str, role: &str, deps: &[&str]| {
            json!({"title": title, "description": format!("Do {title}."), "role": role,
                   "depends_on": deps, "priority": "normal", "expected_output": "text"})
        };
        return crate::support::Reply::new()
            .tool(
                &format!("t{}", r.index),
                SUBMIT_ANALYSIS,
                json!({"complexity": 0.9, "task_type": "software", "known_requirements": [],
                       "unknowns": [], "estimated_subtasks": 2, "strategy": "survey first",
                       "subtasks": [st("Survey", "code_analyzer", &[]),
                                    st("Build", "code_developer", &["Survey"])]}),
            )
            .usage(1000, 200)
            .model(model)
            .for_kind(kind);
    }
    protocol_reply(r, &[])
        .usage(1000, 200)
        .model(model)
        .for_kind(kind)
}

async fn run_ok(home: &Path, kind: ProviderKind, args: &[&str]) -> String {
    let o = baton(home, kind).args(args).output().await.unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{kind:?} {args:?}: {stderr}");
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priced_run_exports_provenance_graphs_forks_and_compares_in_both_wire_formats() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let (provider, model) = match kind {
            ProviderKind::Anthropic => ("anthropic", "claude-sonnet-4-5"),
            _ => ("openai", "gpt-4.1"),
        };
        let server = FakeLlm::with_responder(move |r| answer(r, kind, model)).await;
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("config.toml"),
            format!(
                "provider = \"{provider}\"\nbase_url = \"{}\"\nmodel = \"{model}\"\n\
                 worker_model = \"{model}\"\n",
                server.base_url(kind)
            ),
        )
        .unwrap();
        let h = home.path();
        run_ok(h, kind, &["--headless", "--approve", "auto", "Add a cache"]).await;

        // Who decided what, and what did each part cost.
        let v: Value =
            serde_json::from_str(&run_ok(h, kind, &["export", "latest", "--format", "json"]).await)
                .unwrap();
        let parent = v["run_id"].as_str().unwrap().to_string();
        let prov = &v["provenance"];
        let subtasks = prov["subtasks"].as_array().unwrap();
        assert_eq!(subtasks.len(), 2, "{kind:?}: {prov:#}");
        for s in subtasks {
            assert_eq!(s["status"], "complete", "{s}");
            assert_eq!(s["attempts"][0]["model"], model, "{s}");
            assert!(s["cost_usd"].as_f64().unwrap() > 0.0, "priced: {s}");
            assert_eq!(s["added_by"], "orchestrator");
        }
        assert!(prov["orchestration_cost_usd"].as_f64().unwrap() > 0.0);
        let decisions = prov["decisions"].as_array().unwrap();
        assert!(
            decisions
                .iter()
                .any(|d| d["kind"] == "add" && d["by"] == "orchestrator"),
            "{decisions:#?}"
        );
        assert!(
            decisions
                .iter()
                .all(|d| d["at"].is_string() && d["n"].is_u64())
        );

        // The plan as a graph: Survey, then Build; nothing remains, so no critical path.
        let g: Value =
            serde_json::from_str(&run_ok(h, kind, &["graph", "latest", "--format", "json"]).await)
                .unwrap();
        assert_eq!(g["layers"], json!([[1], [2]]), "{g:#}");
        assert_eq!(g["nodes"][1]["depends_on"], json!([1]), "{g:#}");
        assert_eq!(g["critical_path"], json!([]), "{g:#}");
        assert_eq!(g["eta_secs"], json!(0.0), "{g:#}");

        // Fork just before the second decision (Build's addition), then compare.
        run_ok(
            h,
            kind,
            &[
                "fork",
                &parent,
                "--at",
                "d2",
                "--headless",
                "--approve",
                "auto",
            ],
        )
        .await;
        let runs = baton::journal::list_runs(&h.join("data")).unwrap();
        let fork = runs.iter().find(|r| r.id != parent).unwrap().id.clone();
        let c: Value =
            serde_json::from_str(&run_ok(h, kind, &["compare", &parent, &fork, "--json"]).await)
                .unwrap();
        assert!(c["shared_prefix"].as_u64().unwrap() > 0, "{c:#}");
        for side in ["a", "b"] {
            assert_eq!(c[side]["status"], "complete", "{side}: {c:#}");
            assert!(c[side]["cost_usd"].as_f64().unwrap() > 0.0);
        }
        assert_eq!(c["b"]["forked_from"][0], parent.as_str());
        // Every request of both runs reached this fake with the key.
        let requests = server.requests();
        assert!(requests.len() >= 8, "{kind:?}: {}", requests.len());
        assert!(
            requests
                .iter()
                .all(|r| r.headers.iter().any(|(_, v)| v.contains(KEY)))
        );
    }
}
