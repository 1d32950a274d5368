//! End to end in a pseudo-terminal: the real binary on the demo provider at instant pace,
//! a person approves subtasks, resolves the escalation with guidance, reads the
//! deliverable, quits; the terminal must be restored (alternate screen left).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 48;
const COLS: u16 = 160;

struct Tty {
    parser: vt100::Parser,
    raw: Vec<u8>,
    rx: mpsc::Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
}

impl Tty {
    /// Takes in whatever the program wrote so far.
    fn pump(&mut self) {
        while let Ok(bytes) = self.rx.try_recv() {
            self.parser.process(&bytes);
            self.raw.extend_from_slice(&bytes);
        }
    }
    fn screen(&mut self) -> String {
        self.pump();
        self.parser.screen().contents()
    }
    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }
}

/// Polls the screen until `done` says so, acting on it meanwhile, or fails at the deadline.
fn drive(tty: &mut Tty, deadline: Instant, mut step: impl FnMut(&str, &mut Tty) -> bool) {
    loop {
        let screen = tty.screen();
        if step(&screen, tty) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; the screen was:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn approve_resolve_escalation_read_deliverable_and_restore_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), "[demo]\npace_ms = 0\n").unwrap();

    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args([
        "--approve",
        "all",
        "Build a URL shortener with an API, storage and tests",
    ]);
    cmd.cwd(home.path());
    cmd.env("BATON_HOME", home.path());
    cmd.env("TERM", "xterm-256color");
    for k in [
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "NO_COLOR",
    ] {
        cmd.env_remove(k);
    }
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let writer = pair.master.take_writer().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut tty = Tty {
        parser: vt100::Parser::new(ROWS, COLS, 0),
        raw: Vec::new(),
        rx,
        writer,
    };
    let deadline = Instant::now() + Duration::from_secs(120);

    // 1. The first subtasks wait for approval (policy `all`); approve the selected one.
    drive(&mut tty, deadline, |s, _| {
        s.contains("approve?") && !s.contains("behind this dialog")
    });
    assert!(
        tty.parser.screen().alternate_screen(),
        "the TUI runs on the alternate screen"
    );
    tty.send(b"a");
    // It runs (at instant pace it may already be done).
    drive(&mut tty, deadline, |s, _| {
        s.contains("▶ #") || s.contains("✓ 1 done")
    });

    // 2. Approve what else comes, resolve the escalation, until the deliverable shows.
    let mut resolved = false;
    let mut last_key = Instant::now();
    drive(&mut tty, deadline, |s, tty| {
        if s.contains("Deliverable ·") {
            return true;
        }
        if last_key.elapsed() < Duration::from_millis(300) {
            return false;
        }
        if s.contains("Escalation ·") {
            tty.send(b"g");
            tty.send(b"Links never expire unless the creator sets expires_at.");
            tty.send(b"\x13"); // Ctrl-S: retry with this guidance
            resolved = true;
            last_key = Instant::now();
        } else if s.contains("approve?") && !s.contains("behind this dialog") {
            tty.send(b"A");
            last_key = Instant::now();
        }
        false
    });
    assert!(
        resolved,
        "the demo escalates one subtask and the person resolved it"
    );
    let screen = tty.screen();
    assert!(screen.contains("DONE"), "{screen}");
    assert!(
        screen.contains("Execution summary") || screen.contains("URL shortener"),
        "{screen}"
    );

    // 3. Quit; the run is over, so it leaves at once and says how to reopen it.
    tty.send(b"q");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "baton did not exit:\n{}",
            tty.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Let the reader drain what was written before the exit.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < drain_until
        && !String::from_utf8_lossy(&tty.raw).contains("Reopen it with")
    {
        tty.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    tty.pump();
    assert_eq!(status.exit_code(), 0, "a completed run exits 0");
    assert!(
        !tty.parser.screen().alternate_screen(),
        "the alternate screen was left"
    );
    let raw = String::from_utf8_lossy(&tty.raw);
    assert!(
        raw.contains("\x1b[?1049l"),
        "leave-alternate-screen was sent"
    );
    assert!(
        raw.contains("Reopen it with: baton resume "),
        "the exit says how to reopen the run"
    );
}
