//! The terminal's lifecycle as an exact pair: `enter` checks for a TTY and sets raw mode,
//! the alternate screen, bracketed paste, focus reports and (optionally) mouse capture; `restore` undoes
//! all of it and is safe to call any number of times, from any path: normal exit, error,
//! panic (the hook restores first, then chains the previous hook), Ctrl-C and SIGTERM.
//!
//! Owns terminal modes only. Teardown never panics and never fails loudly.

use std::io::{self, IsTerminal, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Restores the terminal before the panic message prints, then runs the previous hook.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
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
