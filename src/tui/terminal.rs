//! The terminal's lifecycle as an exact pair: `enter` checks for a TTY and sets raw mode,
//! the alternate screen, bracketed paste, focus reports and (optionally) mouse capture; `restore` undoes
//! all of it and is safe to call any number of times, from any path: normal exit, error,
//! panic on the UI thread (the hook restores first, then chains the previous hook), Ctrl-C
//! and SIGTERM. A panic on another thread (an engine task, a blocking tool job) leaves the
//! terminal alone: the engine supervises its tasks and the UI shows what failed.
//!
//! Owns terminal modes only. Teardown never panics and never fails loudly.

use std::io::{self, IsTerminal, Stdout, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, OnceLock};
use std::thread::ThreadId;

use crossterm::cursor::Show;
use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, DisableMouseCapture, EnableBracketedPaste,
    EnableFocusChange, EnableMouseCapture,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tty = Terminal<CrosstermBackend<Stdout>>;

/// Set while the terminal is in Baton's modes (so restore is idempotent).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();
/// The thread that entered the terminal modes and draws (the UI thread).
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();

/// Whether the current thread is the UI thread (the one that called [`enter`]).
pub fn on_ui_thread() -> bool {
    UI_THREAD.get() == Some(&std::thread::current().id())
}

/// Restores the terminal when dropped (the guard of the pair).
pub struct TerminalGuard {
    _private: (),
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Checks for a terminal and enters Baton's modes.
pub fn enter(mouse: bool) -> io::Result<(Tty, TerminalGuard)> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        return Err(io::Error::other(
            "the TUI needs an interactive terminal; use `baton --headless TASK` in scripts and CI",
        ));
    }
    UI_THREAD.get_or_init(|| std::thread::current().id());
    install_panic_hook();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = TerminalGuard { _private: () };
    let mut out = io::stdout();
    // Focus reports tell notifications whether the person is looking (`notify`).
    execute!(
        out,
        EnterAlternateScreen,
        EnableBracketedPaste,
        EnableFocusChange
    )?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.hide_cursor()?;
    terminal.clear()?;
    Ok((terminal, guard))
}

/// Leaves every mode Baton set. Idempotent; errors are ignored (nothing better to do).
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableFocusChange,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Restores the terminal before the message of a panic on the UI thread prints, then runs
/// the previous hook. A panic elsewhere only runs the previous hook: the UI is still
/// drawing and will show the failure.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if on_ui_thread() {
                restore();
            }
            previous(info);
        }));
    });
}

/// Hands the terminal to another program for a while (same modes off as `restore`).
pub fn suspend() {
    restore();
}

/// Takes the terminal back after `suspend`: Baton's modes again, and a full redraw.
pub fn resume(terminal: &mut Tty, mouse: bool) -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    terminal.hide_cursor()?;
    terminal.clear()
}

/// Puts text on the clipboard through the terminal (OSC 52).
pub fn copy(terminal: &mut Tty, text: &str) {
    let _ = terminal
        .backend_mut()
        .write_all(super::clip::osc52(text).as_bytes());
    let _ = terminal.backend_mut().flush();
}

/// Rings the terminal bell.
pub fn bell(terminal: &mut Tty) {
    let _ = terminal.backend_mut().write_all(b"\x07");
    let _ = terminal.backend_mut().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine task panicking on a runtime thread must not take the terminal out of
    /// Baton's modes under a UI that keeps drawing; a panic on the UI thread must.
    #[test]
    fn only_a_panic_on_the_ui_thread_restores_the_terminal() {
        UI_THREAD.get_or_init(|| std::thread::current().id());
        install_panic_hook();
        ACTIVE.store(true, Ordering::SeqCst);
        let engine = std::thread::spawn(|| panic!("an engine bug")).join();
        assert!(engine.is_err());
        assert!(
            ACTIVE.load(Ordering::SeqCst),
            "a panic on another thread restored the terminal"
        );
        let ui = std::panic::catch_unwind(|| panic!("a UI bug"));
        assert!(ui.is_err());
        assert!(!ACTIVE.load(Ordering::SeqCst));
    }
}
