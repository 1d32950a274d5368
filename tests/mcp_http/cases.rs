//! The streamable HTTP cases of tests/mcp.rs: a worker calls an HTTP server's tools through
//! the fake model in both wire formats while the server dies mid-run; start failures are
//! clear and quick (unreachable, a redirect to another host, plain http with a token, a
//! missing variable) and the token never leaves its origin; an oversized answer is refused;
//! `baton doctor` lists HTTP servers.

use std::sync::Arc;

use baton::llm::ProviderKind;
use baton::protocol::*;
use baton::session::build_provider;
use baton::tools::mcp::{McpServerSpec, McpTools, RESULT_CAP};
use serde_json::json;

use super::McpHttp;
use crate::support::{FakeLlm, RecordedRequest, ScriptedResponse};
use crate::{
    API_KEY, API_KEY_VAR, TOKEN, TOKEN_VAR, brief, report, respond_with, run_with_servers, tool,
    tool_results, tool_uses, turns,
};

fn http_spec(name: &str, url: &str) -> McpServerSpec {
    McpServerSpec {
        name: name.into(),
        url: Some(url.into()),
        bearer_token_env_var: Some(TOKEN_VAR.into()),
        env_http_headers: [("X-Api-Key".to_string(), API_KEY_VAR.to_string())].into(),
        roles: Some(vec!["code_analyzer".into()]),
        allow: vec!["lookup".into()],
        timeout_secs: Some(30),
        ..McpServerSpec::default()
    }
}

/// The analyst: looks BAT-7 up, asks for the big answer, then (the server killed) looks it
/// up again, then reports.
fn analyst(req: &RecordedRequest, server: &McpHttp) -> ScriptedResponse {
    if !brief(req).contains("Find BAT-7") {
        return report(req, "note written");
    }
    match turns(req) {
        0 => tool(req, "mcp__tracker__lookup", json!({"ticket": "BAT-7"})),
        1 => tool(req, "mcp__tracker__big", json!({})),
        2 => {
            server.kill();
            tool(req, "mcp__tracker__lookup", json!({"ticket": "BAT-8"}))
        }
        _ => report(req, "BAT-7: the login page times out"),
    }
}

pub async fn a_worker_calls_http_mcp_tools_in_both_wire_formats() {
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let tmp = tempfile::tempdir().unwrap();
        let mcp_server = Arc::new(McpHttp::start().await);
        let killer = mcp_server.clone();
        let llm =
            FakeLlm::with_responder(move |req| respond_with(req, |r| analyst(r, &killer))).await;
        let provider = build_provider(&llm.settings(kind)).unwrap();

        let specs = vec![http_spec("tracker", &mcp_server.url("/mcp"))];
        let (finished, approvals) = run_with_servers(specs, tmp.path(), provider, "mcp-http").await;
        assert_eq!(finished.outcome, RunOutcome::Completed, "{kind:?}");

        // `big` is outside `allow`: it waited for a person, like a stdio server's tool.
        assert_eq!(
            approvals,
            vec![(
                "mcp__tracker__big {}".to_string(),
                "MCP server tracker".to_string()
            )],
            "{kind:?}"
        );
        let used = tool_uses(&finished);
        let calls: Vec<(&str, bool)> = used.iter().map(|(t, e, _)| (t.as_str(), *e)).collect();
        assert_eq!(
            calls,
            [
                ("mcp__tracker__lookup", false),
                ("mcp__tracker__big", false),
                ("mcp__tracker__lookup", true)
            ],
            "{kind:?}: {used:?}"
        );
        assert_eq!(used[0].2, "BAT-7: the login page times out after 30 s");
        assert!(used[1].2.len() <= RESULT_CAP + 200, "{}", used[1].2.len());
        // The server died mid-run: the call is a tool error naming it, and the run went on.
        assert!(
            used[2]
                .2
                .starts_with("the MCP server `tracker` failed: could not connect"),
            "{kind:?}: {}",
            used[2].2
        );

        // Each result reached the worker's next request, in this wire format.
        let requests = llm.requests();
        let analyst: Vec<&RecordedRequest> = requests
            .iter()
            .filter(|r| r.forced_tool().is_none() && brief(r).contains("Find BAT-7"))
            .collect();
        assert_eq!(analyst.len(), 4, "{kind:?}");
        assert!(analyst[0].tool_names().contains(&"mcp__tracker__lookup"));
        assert_eq!(tool_results(analyst[1]), [used[0].2.clone()], "{kind:?}");
        // (OpenAI's wire format marks an error result with `Error: `.)
        assert!(
            tool_results(analyst[3])[2].ends_with(&used[2].2),
            "{kind:?}: {:?}",
            tool_results(analyst[3])
        );

        // Every request to the server carried the token and the key from the environment;
        // neither reached the journal.
        let seen = mcp_server.seen();
        assert!(!seen.is_empty());
        for s in &seen {
            assert_eq!(
                s.authorization.as_deref(),
                Some(format!("Bearer {TOKEN}").as_str())
            );
            assert_eq!(s.api_key.as_deref(), Some(API_KEY));
        }
        let journal = serde_json::to_string(&finished.events).unwrap();
        assert!(!journal.contains(TOKEN) && !journal.contains(API_KEY));
    }
}

pub async fn http_start_failures_are_clear_and_the_token_stays_home() {
    let tmp = tempfile::tempdir().unwrap();
    let server = McpHttp::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let specs = vec![
        http_spec("gone", &format!("http://127.0.0.1:{closed}/mcp")),
        http_spec("moved", &server.url("/moved")),
        http_spec("plain", "http://mcp.example.invalid/mcp"),
        McpServerSpec {
            bearer_token_env_var: Some("BATON_TEST_UNSET_TOKEN".into()),
            ..http_spec("unset", &server.url("/mcp"))
        },
        http_spec("huge", &server.url("/huge")),
    ];
    let mcp = McpTools::new(specs, tmp.path(), false);
    let statuses = mcp.statuses().await;
    let error = |i: usize| statuses[i].result.clone().unwrap_err();

    assert!(error(0).contains("could not connect"), "{}", error(0));
    // A redirect to another origin is not followed, so the token never reaches it.
    assert!(error(1).contains("307"), "{}", error(1));
    let seen = server.seen();
    assert!(seen.iter().any(|s| s.path == "/moved"), "{seen:?}");
    assert!(
        seen.iter().all(|s| s.host.starts_with("127.0.0.1")),
        "{seen:?}"
    );
    assert!(error(2).contains("only over https://"), "{}", error(2));
    assert!(
        error(3).contains("`BATON_TEST_UNSET_TOKEN` is not set"),
        "{}",
        error(3)
    );
    for i in 0..4 {
        assert!(!error(i).contains(TOKEN) && !error(i).contains(API_KEY));
    }

    // An answer over the size limit is refused: a tool error, not 5 MB parsed.
    let mut offered = statuses[4].result.clone().unwrap();
    offered.sort();
    assert_eq!(
        offered,
        [
            "mcp__huge__big",
            "mcp__huge__env_names",
            "mcp__huge__lookup"
        ]
    );
    let started = mcp.start().await;
    let huge = started[4].as_ref().unwrap();
    let result = huge.call("big", &json!({}), RESULT_CAP).await;
    assert!(result.is_error);
    assert!(result.text.contains("maximum size"), "{}", result.text);
}

pub async fn doctor_lists_http_servers() {
    let home = tempfile::tempdir().unwrap();
    let server = McpHttp::start().await;
    let toml = format!(
        "provider = \"demo\"\n\n[[mcp_servers]]\nname = \"tracker\"\nurl = \"{}\"\n\
         tools = [\"lookup\"]\nbearer_token_env_var = \"{TOKEN_VAR}\"\n",
        server.url("/mcp")
    );
    let config = crate::load_config(home.path(), &toml).unwrap();
    let report = baton::doctor::mcp_servers(&config).await;
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1], "  tracker        started, 1 tool: mcp__tracker__lookup",
        "{text}"
    );
    assert_eq!(
        lines[2],
        format!("                 at {}", server.url("/mcp")),
        "{text}"
    );
    assert!(!text.contains(TOKEN));
}
