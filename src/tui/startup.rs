//! What the TUI does before a run's engine starts: the resume-trust question. When a resumed
//! run's journal names another provider, base URL or workspace than today's configuration,
//! the person answers a dialog (`modals::trust`) on the TUI's own screen, before any engine
//! exists, so nothing is sent to any provider until they answer.
//!
//! Keys typed before the dialog appeared (a `y` typed ahead while Baton was starting) are
//! discarded, so only a key pressed while the question is on screen answers it. SIGTERM,
//! SIGHUP, SIGINT or the end of input answer "quit". Owns this pre-engine loop only.

use std::time::Duration;

use color_eyre::eyre::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};

use super::modals::trust::{TrustAnswer, TrustDialog};
use super::terminal::{self, Tty};
use super::theme::Theme;

/// Shows `dialog` until the person answers; the terminal is restored before returning.
pub async fn ask_trust(dialog: &TrustDialog, theme: &Theme, mouse: bool) -> Result<TrustAnswer> {
    let (mut tty, guard) = terminal::enter(mouse)?;
    discard_typed_ahead();
    let answer = answer_loop(&mut tty, dialog, theme).await;
    drop(guard);
    answer
}

async fn answer_loop(tty: &mut Tty, dialog: &TrustDialog, theme: &Theme) -> Result<TrustAnswer> {
    let mut input = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    loop {
        tty.draw(|f| draw(f, dialog, theme))?;
        tokio::select! {
            _ = sigterm.recv() => return Ok(TrustAnswer::Quit),
            _ = sighup.recv() => return Ok(TrustAnswer::Quit),
            _ = sigint.recv() => return Ok(TrustAnswer::Quit),
            ev = input.next() => match ev {
                Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => {
                    if let Some(answer) = dialog.handle_key(&key) {
                        return Ok(answer);
                    }
                }
                // A resize (or anything else) redraws.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(TrustAnswer::Quit),
            },
        }
    }
}

/// Draws the dialog on an otherwise empty screen (tests draw it the same way).
pub fn draw(frame: &mut ratatui::Frame, dialog: &TrustDialog, theme: &Theme) {
    dialog.render(frame, frame.area(), theme);
    super::safe::scrub(frame.buffer_mut());
}

/// Reads and drops every input event already waiting (typed before the dialog was shown).
fn discard_typed_ahead() {
    while crossterm::event::poll(Duration::ZERO).unwrap_or(false) {
        if crossterm::event::read().is_err() {
            break;
        }
    }
}
