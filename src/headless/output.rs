//! Headless output that never panics and never stops the run: stdout and stderr may be
//! closed pipes (`baton --headless TASK 2>&1 | head`). A write that fails (EPIPE, a full
//! disk) is dropped, and that stream stays silent from then on; the run goes on and its
//! journal is the record. (`println!`/`eprintln!` would panic on EPIPE.)
//!
//! Everything printed from the run (progress lines, reasons, the deliverable) passes the
//! sanitizer (`crate::text`); only `--json` carries exact text (JSON-escaped).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// One line on stderr (progress, notes, the end of the run), through the sanitizer: it
/// carries model and journal text, which never reaches a terminal with control characters.
pub fn say(line: &str) {
    write_line(
        &mut std::io::stderr().lock(),
        &STDERR_GONE,
        &crate::text::sanitize(line),
    );
}

/// One line on stdout (the deliverable, `--json` envelopes). Returns false once stdout is
/// gone.
pub fn out(line: &str) -> bool {
    write_line(&mut std::io::stdout().lock(), &STDOUT_GONE, line)
}

fn write_line(w: &mut impl Write, gone: &AtomicBool, line: &str) -> bool {
    if gone.load(Ordering::Relaxed) {
        return false;
    }
    let ok = writeln!(w, "{line}").and_then(|()| w.flush()).is_ok();
    if !ok {
        gone.store(true, Ordering::Relaxed);
        tracing::warn!("an output stream closed; further output to it is dropped");
    }
    ok
}
