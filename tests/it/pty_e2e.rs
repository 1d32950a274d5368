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

pub(crate) struct Tty {
    parser: vt100::Parser,
    pub(crate) raw: Vec<u8>,
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
    pub(crate) fn screen(&mut self) -> String {
        self.pump();
        self.parser.screen().contents()
    }
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }
}

/// Polls the screen until `done` says so, acting on it meanwhile, or fails at the deadline.
pub(crate) fn drive(
    tty: &mut Tty,
    deadline: Instant,
    mut step: impl FnMut(&str, &mut Tty) -> bool,
) {
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

/// Starts the real binary in a pseudo-terminal with `BATON_HOME` at `home`, no API keys.
pub(crate) fn spawn(
    home: &std::path::Path,
    args: &[&str],
    term: &str,
) -> (Tty, Box<dyn portable_pty::Child + Send + Sync>) {
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(crate::support_cli::bin());
    cmd.args(args);
    cmd.cwd(home);
    cmd.env("BATON_HOME", home);
    cmd.env("TERM", term);
    for k in [
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "NO_COLOR",
    ] {
        cmd.env_remove(k);
    }
    let child = pair.slave.spawn_command(cmd).unwrap();
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
    let tty = Tty {
        parser: vt100::Parser::new(ROWS, COLS, 0),
        raw: Vec::new(),
        rx,
        writer,
    };
    (tty, child)
}

/// Waits for the child to exit (or fails at the deadline) and returns its exit code.
pub(crate) fn wait_exit(
    child: &mut Box<dyn portable_pty::Child + Send + Sync>,
    deadline: Instant,
) -> u32 {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.exit_code();
        }
        assert!(Instant::now() < deadline, "baton did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The task of the run journaled under `home` (anywhere below it), once there is one.
fn journaled_task(dir: &std::path::Path) -> Option<String> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(task) = journaled_task(&path) {
                return Some(task);
            }
        } else if path.file_name().is_some_and(|n| n == "journal.jsonl") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let first = text.lines().next()?;
            let v: serde_json::Value = serde_json::from_str(first).ok()?;
            if v["type"] == "run_started" {
                return v["task"].as_str().map(str::to_string);
            }
        }
    }
    None
}

#[test]
fn a_multi_line_paste_into_the_task_box_reaches_the_journal_exactly() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), "[demo]\npace_ms = 0\n").unwrap();
    let (mut tty, mut child) = spawn(home.path(), &["--approve", "all"], "xterm-256color");
    let deadline = Instant::now() + Duration::from_secs(60);
    drive(&mut tty, deadline, |s, _| s.contains("new run"));
    // A terminal sends a bracketed paste with its line breaks as CR (some as CRLF).
    tty.send(b"\x1b[200~Write a haiku\r\nabout\tautumn\rleaves, in three lines\x1b[201~");
    drive(&mut tty, deadline, |s, _| {
        s.contains("leaves, in three lines")
    });
    tty.send(b"\x13"); // Ctrl-S: start the run
    let mut task = None;
    drive(&mut tty, deadline, |_, _| {
        task = journaled_task(home.path());
        task.is_some()
    });
    assert_eq!(
        task.as_deref(),
        Some("Write a haiku\nabout\tautumn\nleaves, in three lines")
    );
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn a_dumb_terminal_is_refused_with_a_pointer_to_headless() {
    let home = tempfile::tempdir().unwrap();
    let (mut tty, mut child) = spawn(home.path(), &["Write a haiku"], "dumb");
    let code = wait_exit(&mut child, Instant::now() + Duration::from_secs(30));
    let drain_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < drain_until && !String::from_utf8_lossy(&tty.raw).contains("--headless")
    {
        tty.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(code, 2, "a usage error");
    let raw = String::from_utf8_lossy(&tty.raw);
    assert!(
        raw.contains("TERM=dumb") && raw.contains("--headless"),
        "{raw}"
    );
    assert!(
        !raw.contains("\x1b[?1049h"),
        "no alternate screen on a dumb terminal"
    );
    assert!(journaled_task(home.path()).is_none(), "no run was created");
}

#[test]
fn a_bad_keys_table_is_refused_before_anything_starts() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), "[keys]\naprove = \"y\"\n").unwrap();
    let (mut tty, mut child) = spawn(home.path(), &["Write a haiku"], "xterm-256color");
    let code = wait_exit(&mut child, Instant::now() + Duration::from_secs(30));
    let drain_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < drain_until && !String::from_utf8_lossy(&tty.raw).contains("aprove") {
        tty.pump();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(code, 2);
    let raw = String::from_utf8_lossy(&tty.raw);
    assert!(
        raw.contains("[keys] aprove: no such action") && raw.contains("approve"),
        "{raw}"
    );
    assert!(journaled_task(home.path()).is_none(), "no run was created");
}

#[test]
fn approve_resolve_escalation_read_deliverable_and_restore_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), "[demo]\npace_ms = 0\n").unwrap();

    let (mut tty, mut child) = spawn(
        home.path(),
        &[
            "--approve",
            "all",
            "Build a URL shortener with an API, storage and tests",
        ],
        "xterm-256color",
    );
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
        if s.contains("just opened") {
            // A dialog that just opened takes no key yet (issue 10).
            return false;
        }
        if s.contains("Approve all") {
            tty.send(b"y"); // approve all asks first, listing the subtasks
            last_key = Instant::now();
        } else if s.contains("Escalation ·") {
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
