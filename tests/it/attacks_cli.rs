//! Issue 8's attacks, end to end through the binary (`BATON_TEST_BIN` runs them against
//! another build, e.g. the release binary; see docs/security.md): a worker driven by the
//! fake LLM server tries to write `.git/config` and a hook, to read secrets from its
//! environment or Baton's, to leave a process behind with `setsid -f`, to write outside the
//! workspace and to open a socket; the server redirects the key to another host, streams
//! forever, or sends only pings. Each attempt must fail.
//!
//! No network beyond 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use baton::protocol::model::*;

use crate::support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse};
use crate::support_cli::{bin, text};

const KEY: &str = "fake-attack-key-0123456789";

fn tool(name: &str, args: Value) -> ScriptedResponse {
    Reply::new()
        .tool(&format!("toolu_{name}"), name, args)
        .usage(10, 5)
        .anthropic()
}

/// An orchestrator that plans one subtask and accepts its report; a worker that makes the
/// tool calls of `steps` in order, one a turn, then reports.
pub(crate) fn responder(
    steps: Vec<(&'static str, Value)>,
) -> impl Fn(&RecordedRequest) -> ScriptedResponse + Send + Sync + 'static {
    move |req| match req.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.9, "task_type": "code change", "known_requirements": [],
                   "unknowns": [], "estimated_subtasks": 1, "strategy": "one worker",
                   "subtasks": [{"title": "Tidy", "description": "Follow the README",
                   "role": "code_developer", "depends_on": [], "priority": "high",
                   "expected_output": "done"}]}),
        ),
        Some(SUBMIT_REPLAN) => tool(
            SUBMIT_REPLAN,
            json!({"summary": "ok", "add": [], "update": [], "cancel": [], "scope_note": "ok"}),
        ),
        Some(ASSESS_COMPLETION) => {
            tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => tool(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "done", "integration_points": [], "conflicts": [],
                   "coherence": "ok"}),
        ),
        Some(DECIDE_RECOVERY) => tool(
            DECIDE_RECOVERY,
            json!({"action": "escalate", "rationale": "unexpected", "impact": "test"}),
        ),
        _ => {
            let step = req.messages().len().saturating_sub(1) / 2;
            match steps.get(step) {
                Some((name, args)) => tool(name, args.clone()),
                None => tool(
                    SUBMIT_REPORT,
                    json!({"status": "complete", "results": "tried", "discoveries": [],
                           "recommendations": [], "new_subtasks": []}),
                ),
            }
        }
    }
}

/// The binary with a private home, the fake server as the provider and the key set.
fn baton(home: &Path, server_url: &str) -> Command {
    let mut c = Command::new(bin());
    for var in baton::config::ENV_VARS {
        c.env_remove(var);
    }
    c.env("BATON_HOME", home)
        .env("ANTHROPIC_API_KEY", KEY)
        .env("ANTHROPIC_BASE_URL", server_url);
    c
}

fn write_config(home: &Path, text: &str) {
    std::fs::write(home.join("config.toml"), text).unwrap();
}

/// A headless run of the binary on a task (blocking; the server runs on the runtime).
async fn headless(mut c: Command, args: &[&str]) -> Output {
    c.args(["--headless"]).args(args).arg("Tidy the repository");
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cannot_write_git_config_or_a_hook() {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let config = "[core]\n\trepositoryformatversion = 0\n";
    std::fs::create_dir_all(ws.path().join(".git/hooks")).unwrap();
    std::fs::write(ws.path().join(".git/config"), config).unwrap();
    let server = FakeLlm::with_responder(responder(vec![
        (
            "write_file",
            json!({"path": ".git/config", "content": "[core]\n\tfsmonitor = \"touch pwned\"\n"}),
        ),
        (
            "write_file",
            json!({"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\ntouch pwned\n"}),
        ),
    ]))
    .await;
    let ws_arg = ws.path().display().to_string();
    let o = headless(
        baton(home.path(), &server.url()),
        &["--approve", "auto", "--workspace", &ws_arg],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert_eq!(
        std::fs::read_to_string(ws.path().join(".git/config")).unwrap(),
        config
    );
    assert!(!ws.path().join(".git/hooks/pre-commit").exists());
    assert!(!ws.path().join("pwned").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_takes_neither_the_key_nor_the_prompt_to_another_host() {
    let home = tempfile::tempdir().unwrap();
    let elsewhere = FakeLlm::with_responder(responder(vec![])).await;
    let target = format!("{}/v1/messages", elsewhere.url());
    let redirect = target.clone();
    let server = FakeLlm::with_responder(move |_| ScriptedResponse::redirect(307, &redirect)).await;
    write_config(home.path(), "[retry]\nmax_retries = 0\n");

    let o = headless(baton(home.path(), &server.url()), &[]).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&target),
        "the error names where it pointed: {err}"
    );

    let doctor = baton(home.path(), &server.url())
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor).0);
    assert!(server.request_count() >= 2);
    assert_eq!(elsewhere.request_count(), 0, "the other host saw nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_stream_is_capped_and_a_ping_only_stream_ends() {
    let home = tempfile::tempdir().unwrap();
    let filler = format!(": {}\n\n", "x".repeat(1000));
    let server = FakeLlm::with_responder(move |_| {
        ScriptedResponse::sse(Vec::<String>::new())
            .then_forever(filler.clone(), Duration::from_millis(1))
    })
    .await;
    write_config(
        home.path(),
        "[retry]\nmax_retries = 0\nstream_retries = 0\nmax_response_bytes = 65536\n",
    );
    let o = headless(baton(home.path(), &server.url()), &[]).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("65536"), "the cap is named: {err}");

    let home = tempfile::tempdir().unwrap();
    let pings = FakeLlm::with_responder(|_| ScriptedResponse::anthropic_ping_only()).await;
    write_config(
        home.path(),
        "[retry]\nmax_retries = 0\nstream_retries = 0\nfirst_byte_timeout_ms = 1500\n\
         idle_timeout_ms = 1500\ncall_timeout_ms = 4000\n",
    );
    let o = headless(baton(home.path(), &pings.url()), &[]).await;
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("timeout_ms"), "the timeout is named: {err}");
}

fn alive(pid: &str) -> bool {
    Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_gets_no_secrets_leaves_nothing_running_and_stays_in_its_sandbox() {
    let home = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let outside_file = outside.path().join("planted");
    let command = format!(
        "env > env.txt; tr '\\0' '\\n' < /proc/$PPID/environ > parent.txt 2>&1; \
         setsid -f sh -c 'echo $$ > s.pid; exec sleep 300'; \
         while [ ! -s s.pid ]; do :; done; \
         touch {} 2> outside.txt; \
         bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected' > net.txt 2>&1; \
         echo done",
        outside_file.display()
    );
    let server = FakeLlm::with_responder(responder(vec![(
        "run_command",
        json!({ "command": command }),
    )]))
    .await;
    let ws_arg = ws.path().display().to_string();
    let mut c = baton(home.path(), &server.url());
    c.env("GITHUB_PAT", "ghp_attack_secret")
        .env("DATABASE_URL", "postgres://app:db-password@db/app")
        .env("HTTP_PROXY", "http://user:proxy-password@proxy:3128")
        .env("NPM_CONFIG__AUTH", "npm-secret-token");
    let o = headless(
        c,
        &[
            "--approve",
            "auto",
            "--allow-commands",
            "--workspace",
            &ws_arg,
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let read = |name: &str| std::fs::read_to_string(ws.path().join(name)).unwrap_or_default();
    let env = read("env.txt");
    assert!(env.contains("PATH="), "the command ran: {env}");
    let parent = read("parent.txt");
    for secret in [
        KEY,
        "ghp_attack_secret",
        "db-password",
        "proxy-password",
        "npm-secret-token",
    ] {
        assert!(!env.contains(secret), "{secret} reached the command: {env}");
        assert!(
            !parent.contains(secret),
            "{secret} read from the parent: {parent}"
        );
    }
    let pid = read("s.pid");
    assert!(!pid.trim().is_empty());
    assert!(!alive(&pid), "process {pid} outlived its command");
    assert!(!outside_file.exists(), "wrote outside the workspace");
    assert!(!read("outside.txt").is_empty(), "the write was refused");
    assert!(
        !read("net.txt").contains("connected"),
        "{}",
        read("net.txt")
    );
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
}
