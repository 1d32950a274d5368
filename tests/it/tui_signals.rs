//! `kill -INT` on the TUI (in raw mode Ctrl-C is a key, so SIGINT only comes from outside):
//! the run is stopped and journaled naming the signal, and the terminal is restored
//! (alternate screen and mouse capture off) before the process exits 3.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton::journal;
use baton::protocol::{Event, RunOutcome};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

#[test]
fn sigint_on_the_tui_stops_the_run_and_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[demo]\npace_ms = 0\n[ui]\nmouse = true\n",
    )
    .unwrap();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(crate::support_cli::bin());
    cmd.args(["--approve", "all", "Build a URL shortener"]);
    cmd.cwd(home.path());
    cmd.env("BATON_HOME", home.path());
    cmd.env("TERM", "xterm-256color");
    for k in baton::config::ENV_VARS
        .iter()
        .filter(|v| **v != "BATON_HOME")
    {
        cmd.env_remove(k);
    }
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut parser = vt100::Parser::new(24, 80, 0);
    let mut raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait (on the screen) until the run waits for an approval.
    loop {
        let bytes = rx.recv_timeout(deadline - Instant::now()).unwrap();
        parser.process(&bytes);
        raw.extend_from_slice(&bytes);
        if parser.screen().contents().contains("approve?") {
            break;
        }
    }
    assert!(parser.screen().alternate_screen());
    let pid = child.process_id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    // Everything it wrote before exiting, until the reader sees the end.
    while let Ok(bytes) = rx.recv_timeout(Duration::from_secs(5)) {
        parser.process(&bytes);
        raw.extend_from_slice(&bytes);
    }
    assert_eq!(status.exit_code(), 3);
    let raw = String::from_utf8_lossy(&raw);
    assert!(!parser.screen().alternate_screen(), "alternate screen left");
    assert!(raw.contains("\x1b[?1049l"), "leave-alternate-screen sent");
    assert!(raw.contains("\x1b[?1000l"), "mouse capture turned off");
    let runs = journal::list_runs(&home.path().join("data")).unwrap();
    let replay = journal::replay(&runs[0].dir.join(journal::JOURNAL_FILE)).unwrap();
    match &replay.events.last().unwrap().event {
        Event::RunFinished {
            outcome: RunOutcome::Stopped { reason },
        } => assert!(reason.contains("SIGINT"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
