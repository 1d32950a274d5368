//! The command sandbox (Linux): a sandboxed `run_command` writes only inside the workspace
//! and its temp dir, opens no TCP socket unless the network is allowed, has no
//! capabilities, cannot signal or read Baton, and every process it starts (also after
//! `setsid -f`) is gone when it ends, times out, or Baton closes the launcher's pipe.
//! Without Landlock each command needs approval; `[sandbox]` and `--allow-network` reach
//! the options; `baton` itself is not dumpable.
//!
//! Runs the real `baton` binary as the launcher. Must not touch anything outside its
//! temporary directories; the loopback listeners are the test's own.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tools_support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use baton::cli::CommonArgs;
use baton::config::{Config, Env};
use baton::protocol::CommandDecision;
use baton::tools::sandbox::{LAUNCHER_ARG, SandboxMode, SandboxOptions, Support};
use baton::tools::{ToolOutput, Workspace};
use tools_support::{FakeHost, Fixture, run};

fn sandbox(network: bool) -> SandboxOptions {
    let support = Support::probe();
    assert!(
        support.landlock_abi.is_some(),
        "these tests need a kernel with Landlock enabled"
    );
    SandboxOptions {
        mode: SandboxMode::On,
        network,
        command_env: Vec::new(),
        launcher: Some(crate::support_cli::bin()),
        support,
    }
}

fn open(fx: &Fixture, sandbox: SandboxOptions) -> Workspace {
    fx.open_with(|o| {
        o.allow_commands = true;
        o.sandbox = sandbox;
    })
}

async fn shell(ws: &Workspace, line: &str) -> ToolOutput {
    run(
        ws,
        &FakeHost::default(),
        1,
        "run_command",
        json!({"command": line}),
    )
    .await
}

/// Whether process `pid` still exists (a zombie counts as gone).
fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            state != Some("Z")
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn writes_succeed_inside_the_workspace_and_fail_outside_with_the_reason_shown() {
    let fx = Fixture::new();
    let ws = open(&fx, sandbox(false));
    let out = shell(
        &ws,
        "echo in > inside.txt && echo t > \"$TMPDIR/t\" && cat \"$TMPDIR/t\"",
    )
    .await;
    assert!(out.content.contains("exit code: 0"), "{}", out.content);
    assert_eq!(fx.read("inside.txt"), "in\n");
    let outside = fx.outside.join("planted.txt");
    let out = shell(&ws, &format!("echo x > {}", outside.display())).await;
    assert!(!outside.exists());
    assert!(out.content.contains("Permission denied"), "{}", out.content);
    assert!(
        out.content.contains("ran in Baton's sandbox"),
        "the model is told why: {}",
        out.content
    );
    let out = shell(&ws, "echo x > /etc/baton-sandbox-test").await;
    assert!(!Path::new("/etc/baton-sandbox-test").exists());
    assert!(out.content.contains("Permission denied"), "{}", out.content);
}

#[tokio::test]
async fn exit_codes_signals_and_missing_programs_come_through_the_launcher() {
    let fx = Fixture::new();
    let ws = open(&fx, sandbox(false));
    let out = shell(&ws, "echo out; exit 3").await;
    assert!(out.content.contains("exit code: 3"), "{}", out.content);
    assert!(out.content.contains("out\n"), "{}", out.content);
    let out = shell(&ws, "kill -TERM $$").await;
    assert!(
        out.content.contains("killed by signal 15"),
        "{}",
        out.content
    );
    tools_support::a_missing_program_cannot_start(&ws).await;
}

fn connect_line(port: u16) -> String {
    format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected'")
}

#[tokio::test]
async fn no_network_unless_allowed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let fx = Fixture::new();
    let out = shell(&open(&fx, sandbox(false)), &connect_line(port)).await;
    assert!(!out.content.contains("connected\n"), "{}", out.content);
    assert!(
        out.content.contains("Operation not permitted"),
        "{}",
        out.content
    );
    assert!(
        listener.accept().is_err(),
        "no connection reached the listener"
    );
    // UDP too (seccomp: no AF_INET sockets at all).
    let out = shell(
        &open(&fx, sandbox(false)),
        "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print(\"udp ok\")'",
    )
    .await;
    assert!(!out.content.contains("\nudp ok\n"), "{}", out.content);

    let out = shell(&open(&fx, sandbox(true)), &connect_line(port)).await;
    assert!(out.content.contains("connected\n"), "{}", out.content);
    listener.set_nonblocking(false).unwrap();
    listener.accept().unwrap();
}

#[test]
fn allow_network_flag_and_sandbox_table_reach_the_options() {
    let home = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([("BATON_HOME", home.path().to_str().unwrap())]);
    let config = Config::load_with(&CommonArgs::default(), &env).unwrap();
    assert_eq!(config.sandbox.mode, SandboxMode::On);
    assert!(!config.sandbox_options().network);
    let args = CommonArgs {
        allow_network: true,
        ..CommonArgs::default()
    };
    let config = Config::load_with(&args, &env).unwrap();
    assert!(config.sandbox_options().network);
    assert_eq!(
        config.sandbox_options().launcher,
        std::env::current_exe().ok()
    );

    std::fs::write(
        home.path().join("config.toml"),
        "command_env = [\"CARGO_HOME\"]\n[sandbox]\nmode = \"off\"\nnetwork = true\n",
    )
    .unwrap();
    let config = Config::load_with(&CommonArgs::default(), &env).unwrap();
    assert_eq!(config.sandbox.mode, SandboxMode::Off);
    assert!(config.sandbox.network);
    assert_eq!(config.command_env, vec!["CARGO_HOME".to_string()]);
    assert!(config.report().contains("sandbox.mode"));

    std::fs::write(
        home.path().join("config.toml"),
        "command_env = [\"GITHUB_PAT\"]\n",
    )
    .unwrap();
    let err = Config::load_with(&CommonArgs::default(), &env).unwrap_err();
    assert!(err.to_string().contains("looks like a credential"), "{err}");
}

/// A shell line that starts a `setsid -f` sleeper and a backgrounded sleeper, writes their
/// pids, and returns once both pid files are written.
const ESCAPERS: &str = "setsid -f sh -c 'echo $$ > s.pid; exec sleep 30'; \
     sleep 30 & echo $! > bg.pid; \
     while [ ! -s s.pid ]; do :; done";

#[tokio::test]
async fn setsid_and_background_processes_die_when_the_command_ends() {
    let fx = Fixture::new();
    let ws = open(&fx, sandbox(false));
    let out = shell(&ws, ESCAPERS).await;
    assert!(out.content.contains("exit code: 0"), "{}", out.content);
    for file in ["s.pid", "bg.pid"] {
        let pid = fx.read(file);
        assert!(!alive(&pid), "{file}: process {pid} outlived its command");
    }
}

#[tokio::test]
async fn setsid_and_background_processes_die_on_timeout() {
    let fx = Fixture::new();
    let ws = fx.open_with(|o| {
        o.allow_commands = true;
        o.sandbox = sandbox(false);
        o.command_timeout = Duration::from_secs(2);
    });
    let out = shell(&ws, &format!("{ESCAPERS}; sleep 30")).await;
    assert!(
        out.content.contains("timed out after 2 s"),
        "{}",
        out.content
    );
    for file in ["s.pid", "bg.pid"] {
        let pid = fx.read(file);
        assert!(!alive(&pid), "{file}: process {pid} outlived the timeout");
    }
}

#[test]
fn everything_dies_when_baton_goes_away() {
    // Baton holds the launcher's stdin; when Baton ends (any way), that pipe closes.
    let dir = tempfile::tempdir().unwrap();
    let line = format!("{ESCAPERS}; echo ready; sleep 30");
    let mut launcher = Command::new(crate::support_cli::bin())
        .args([LAUNCHER_ARG, "confine", "deny-net", "1"])
        .arg(dir.path())
        .args(["--", "sh", "-c", &line])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(launcher.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "ready\n");
    let pids: Vec<String> = ["s.pid", "bg.pid"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.path().join(f)).unwrap())
        .collect();
    assert!(pids.iter().all(|p| alive(p)));
    drop(launcher.stdin.take());
    launcher.wait().unwrap();
    for pid in &pids {
        assert!(!alive(pid), "process {pid} outlived Baton");
    }
}

#[tokio::test]
async fn a_command_has_no_capabilities_and_cannot_signal_or_read_baton() {
    let fx = Fixture::new();
    let ws = open(&fx, sandbox(false));
    let out = shell(&ws, "grep CapEff /proc/self/status").await;
    assert!(
        out.content.contains("CapEff:\t0000000000000000"),
        "{}",
        out.content
    );
    let me = std::process::id();
    let out = shell(&ws, &format!("cat /proc/{me}/environ")).await;
    assert!(out.content.contains("Permission denied"), "{}", out.content);
    assert!(!out.content.contains("PATH="), "{}", out.content);
    let out = shell(&ws, &format!("kill -0 {me} && echo signalled")).await;
    assert!(!out.content.contains("\nsignalled\n"), "{}", out.content);
    assert!(
        out.content.contains("Operation not permitted"),
        "{}",
        out.content
    );
    // Nor the launcher, its parent.
    let out = shell(&ws, "kill -0 $PPID && echo signalled").await;
    assert!(!out.content.contains("\nsignalled\n"), "{}", out.content);
}

#[tokio::test]
async fn without_landlock_each_command_needs_approval() {
    let fx = Fixture::new();
    let mut options = sandbox(false);
    options.support = Support::none();
    assert!(options.notice().unwrap().contains("needs your approval"));
    assert!(
        baton::doctor::sandbox_line(&options).contains("each command needs approval"),
        "{}",
        baton::doctor::sandbox_line(&options)
    );
    // `--allow-commands` and the allow list do not cover an unconfined command.
    let ws = fx.open_with(|o| {
        o.allow_commands = true;
        o.allow = vec!["touch *".into()];
        o.sandbox = options.clone();
    });
    let host = FakeHost::answering(vec![
        CommandDecision::Deny {
            reason: "not unsandboxed".into(),
        },
        CommandDecision::AllowOnce,
    ]);
    let out = run(&ws, &host, 1, "run_command", json!({"command": "touch a"})).await;
    assert!(out.is_error, "{}", out.content);
    assert!(!fx.exists("a"));
    let out = run(&ws, &host, 1, "run_command", json!({"command": "touch a"})).await;
    assert!(out.content.contains("exit code: 0"), "{}", out.content);
    assert!(fx.exists("a"));
    assert_eq!(host.asked().len(), 2);
    // `mode = "off"` is the person's standing answer: no asking.
    options.mode = SandboxMode::Off;
    assert!(options.notice().is_none());
    let ws = fx.open_with(|o| {
        o.allow_commands = true;
        o.sandbox = options;
    });
    let out = shell(&ws, "touch b").await;
    assert!(out.content.contains("exit code: 0"), "{}", out.content);
}

#[test]
fn doctor_names_the_landlock_abi() {
    let line = baton::doctor::sandbox_line(&sandbox(false));
    assert!(line.starts_with("sandbox"), "{line}");
    assert!(line.contains("Landlock ABI"), "{line}");
    assert!(line.contains("network denied"), "{line}");
}

/// Runs `program` as an unprivileged user: as uid 1000 when the tests run as root (which
/// may read any process's environment), else as the current user.
fn as_user(program: impl AsRef<std::ffi::OsStr>) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "1000", "--regid", "1000", "--clear-groups"]);
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

#[test]
fn baton_is_not_dumpable_so_its_environment_stays_private() {
    // A `baton doctor` that waits on a listener that never answers, holding a key.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = tempfile::tempdir().unwrap();
    let mut perms = std::fs::metadata(home.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(home.path(), perms).unwrap();
    let mut baton = as_user(crate::support_cli::bin())
        .args(["doctor", "--provider", "openai", "--base-url"])
        .arg(format!("http://127.0.0.1:{port}/v1"))
        .env("BATON_HOME", home.path())
        .env("OPENAI_API_KEY", "sk-sandbox-test-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Accepting its connection proves it is past the start of main.
    let (_conn, _) = listener.accept().unwrap();
    // The same user reads it, as another of that user's processes (a command) would.
    let read = |pid: u32| {
        as_user("cat")
            .arg(format!("/proc/{pid}/environ"))
            .output()
            .unwrap()
    };
    let out = read(baton.id());
    let _ = baton.kill();
    let _ = baton.wait();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-sandbox-test-secret"));
    // The same read works on a dumpable process of that user, so the check is real.
    let mut sleeper = as_user("sh")
        .args(["-c", "echo up; exec sleep 30"])
        .env("MARK", "dumpable")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = String::new();
    BufReader::new(sleeper.stdout.take().unwrap())
        .read_line(&mut up)
        .unwrap();
    let out = read(sleeper.id());
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(String::from_utf8_lossy(&out.stdout).contains("MARK=dumpable"));
}
