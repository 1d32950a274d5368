//! The one loop that owns the terminal: it `select!`s over terminal input, engine events,
//! live deltas, a tick (only while something moves or a clock shows) and SIGTERM; feeds
//! everything through `app::update`; carries out the effects; and redraws at most ~30
//! times a second, only when something changed. Idle, it sleeps.
//!
//! Owns scheduling and effects. Must not contain UI rules (`app`) or drawing (`view`); never
//! awaits anything slow inside a branch.

use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use color_eyre::eyre::Result;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use super::app::{Effect, Msg, Screen, Ui, update};
use super::terminal::{self, Tty};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::{Delta, EngineHandle};
use crate::instructions::InstructionSummary;
use crate::notify::Occasion;
use crate::protocol::{Command, Envelope, RunOutcome};

/// Frame budget: about 30 frames a second at most.
const FRAME: Duration = Duration::from_millis(33);
/// Spinner speed while something runs.
const SPIN: Duration = Duration::from_millis(120);
/// Clock tick while a run is live but nothing moves.
const CLOCK: Duration = Duration::from_secs(1);
/// Events and deltas handled per batch before drawing.
const BATCH: usize = 512;
/// How long quitting waits for the engine to stop and journal it.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// A run started from the task editor.
pub struct Started {
    pub handle: EngineHandle,
    pub run_dir: Option<PathBuf>,
    /// Said once on screen (torn journal lines, settings kept on resume, ...).
    pub warnings: Vec<String>,
    /// Events up to this sequence number replay the journal (resume); 0 for a new run.
    pub replayed_up_to: u64,
    /// The project instruction files the models get.
    pub instructions: Vec<InstructionSummary>,
}

/// Starts a run for a task typed in the editor.
pub type Starter<'a> = Box<dyn FnMut(String) -> Result<Started> + 'a>;

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The person quit (or the run ended and they left).
    Quit,
    /// SIGTERM/SIGHUP.
    Signal,
    /// Quit from the editor before any run.
    NoRun,
}

/// The engine's channels, held apart so the loop can wait on several at once.
#[derive(Default)]
struct Link {
    events: Option<mpsc::Receiver<Envelope>>,
    deltas: Option<mpsc::Receiver<Delta>>,
    commands: Option<mpsc::Sender<Command>>,
    join: Option<JoinHandle<RunOutcome>>,
}

impl Link {
    fn new(h: Option<EngineHandle>) -> Self {
        match h {
            Some(h) => Self {
                events: Some(h.events),
                deltas: Some(h.deltas),
                commands: Some(h.commands),
                join: Some(h.join),
            },
            None => Self::default(),
        }
    }
}

pub async fn run_loop(
    terminal: &mut Tty,
    ui: &mut Ui,
    engine: Option<EngineHandle>,
    mut starter: Starter<'_>,
) -> Result<Ending> {
    let mut engine = Link::new(engine);
    let mut input = EventStream::new();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    // `kill -INT` (the keyboard's Ctrl-C is a key in raw mode, not a signal): without this
    // handler the process would die with the alternate screen and mouse capture still on.
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let size = terminal.size()?;
    update(ui, Msg::Resize(size.width, size.height));
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut tick_period: Option<Duration> = None;
    let mut next_tick = Instant::now();

    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| super::view::draw(f, ui))?;
            dirty = false;
            last_draw = Instant::now();
        }
        let period = if ui.animating() {
            Some(SPIN)
        } else if ui.clock_visible() {
            Some(CLOCK)
        } else {
            None
        };
        if period != tick_period {
            tick_period = period;
            if let Some(p) = period {
                next_tick = Instant::now() + p;
            }
        }
        let mut msgs: Vec<Msg> = Vec::new();
        tokio::select! {
            _ = sigterm.recv() => {
                stop_engine(ui, &mut engine, stop_for("SIGTERM")).await;
                return Ok(Ending::Signal);
            }
            _ = sighup.recv() => {
                stop_engine(ui, &mut engine, stop_for("SIGHUP")).await;
                return Ok(Ending::Signal);
            }
            _ = sigint.recv() => {
                stop_engine(ui, &mut engine, stop_for("SIGINT")).await;
                return Ok(Ending::Signal);
            }
            ev = input.next() => match ev {
                Some(Ok(TermEvent::FocusGained)) => ui.notifier.set_focused(true),
                Some(Ok(TermEvent::FocusLost)) => ui.notifier.set_focused(false),
                Some(Ok(ev)) => msgs.extend(translate(ev)),
                Some(Err(e)) => return Err(e.into()),
                None => {
                    // The terminal went away (no person pressed anything): say so.
                    stop_engine(ui, &mut engine, stop_for("the terminal closing")).await;
                    return Ok(Ending::Quit);
                }
            },
            env = recv(&mut engine.events) => match env {
                Some(env) => {
                    msgs.push(Msg::Event(Box::new(env)));
                    if let Some(rx) = engine.events.as_mut() {
                        while msgs.len() < BATCH {
                            match rx.try_recv() {
                                Ok(e) => msgs.push(Msg::Event(Box::new(e))),
                                Err(_) => break,
                            }
                        }
                    }
                }
                None => {
                    engine.events = None;
                    msgs.push(Msg::EngineClosed);
                    if !ui.state.is_finished() {
                        let reason = engine_failure(engine.join.take()).await;
                        msgs.push(Msg::EngineFailed(reason));
                    }
                }
            },
            d = recv(&mut engine.deltas) => match d {
                Some(d) => {
                    msgs.push(Msg::Delta(d));
                    if let Some(rx) = engine.deltas.as_mut() {
                        while msgs.len() < BATCH {
                            match rx.try_recv() {
                                Ok(d) => msgs.push(Msg::Delta(d)),
                                Err(_) => break,
                            }
                        }
                    }
                }
                None => engine.deltas = None,
            },
            _ = tokio::time::sleep_until(last_draw + FRAME), if dirty => {}
            _ = tokio::time::sleep_until(next_tick), if tick_period.is_some() => {
                if let Some(p) = tick_period {
                    next_tick = Instant::now() + p;
                }
                msgs.push(Msg::Tick(Utc::now()));
            }
        }
        if msgs.is_empty() {
            continue;
        }
        dirty = true;
        ui.now = ui.now.max(Utc::now());
        for msg in msgs {
            for effect in update(ui, msg) {
                match effect {
                    // The engine stops with the run: a finished run is rolled back here.
                    Effect::Send(Command::Rollback { id }) if ui.state.is_finished() => {
                        super::changes::roll_back_finished(ui, id);
                    }
                    Effect::Send(cmd) => send(&engine, cmd),
                    Effect::Bell => notify(terminal, ui, Occasion::NeedsPerson),
                    Effect::Finished => notify(terminal, ui, Occasion::Finished),
                    Effect::Export => {
                        let result = export(ui);
                        update(ui, Msg::Exported(result));
                    }
                    Effect::StartRun(task) => match starter(task) {
                        Ok(started) => {
                            ui.info.run_dir = started.run_dir;
                            ui.live_from = started.replayed_up_to;
                            ui.instructions = started.instructions;
                            ui.flash = started.warnings.first().cloned();
                            engine = Link::new(Some(started.handle));
                        }
                        Err(e) => {
                            ui.screen = Screen::Editor;
                            ui.flash = Some(format!("could not start: {e}"));
                        }
                    },
                    Effect::Fork(n) => super::fork_view::run_fork(ui, n),
                    Effect::Repaint => terminal.clear()?,
                    Effect::Copy(text) => terminal::copy(terminal, &text),
                    Effect::Open(opener, text) => {
                        if let Err(e) = open(terminal, ui.options.mouse, opener, &text).await {
                            ui.flash = Some(e);
                        }
                    }
                    Effect::Quit => {
                        if engine.commands.is_none() {
                            return Ok(Ending::NoRun);
                        }
                        stop_engine(ui, &mut engine, Command::Stop).await;
                        return Ok(Ending::Quit);
                    }
                }
            }
        }
    }
}

/// Tells the person (bell, desktop notification, notify command), as the notifier decides
/// from the mode and the terminal's focus. Never waits for the command.
fn notify(terminal: &mut Tty, ui: &Ui, occasion: Occasion) {
    use std::io::Write;
    let message = super::app::notice_text(ui, occasion);
    let bytes = ui.notifier.terminal_bytes(occasion, &message);
    if !bytes.is_empty() {
        let _ = terminal.backend_mut().write_all(&bytes);
        let _ = terminal.backend_mut().flush();
    }
    if let Some(cmd) = ui.notifier.command_for(&message) {
        crate::notify::spawn(cmd);
    }
}

/// Waits on a channel that may be gone (then never ready).
async fn recv<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn translate(ev: TermEvent) -> Option<Msg> {
    match ev {
        TermEvent::Key(k) if k.kind != KeyEventKind::Release => Some(Msg::Key(k)),
        TermEvent::Paste(text) => Some(Msg::Paste(text)),
        TermEvent::Mouse(m) => Some(Msg::Mouse(m)),
        TermEvent::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

/// Sends a command without blocking the loop; a full channel hands it to a task.
fn send(engine: &Link, cmd: Command) {
    let Some(commands) = engine.commands.as_ref() else {
        tracing::warn!(?cmd, "no engine to send the command to");
        return;
    };
    match commands.try_send(cmd) {
        Ok(()) => {}
        Err(TrySendError::Full(cmd)) => {
            let tx = commands.clone();
            tokio::spawn(async move {
                if tx.send(cmd).await.is_err() {
                    tracing::warn!("the engine stopped before a command reached it");
                }
            });
        }
        Err(TrySendError::Closed(cmd)) => {
            tracing::warn!(?cmd, "the engine has stopped; command dropped");
        }
    }
}

fn stop_for(signal: &str) -> Command {
    Command::StopForSignal {
        signal: signal.to_string(),
    }
}

/// Asks a live engine to stop with `stop` (the run stays resumable) and folds its last
/// events, so the journal records the stop; gives up after `STOP_WAIT`.
async fn stop_engine(ui: &mut Ui, engine: &mut Link, stop: Command) {
    let Some(commands) = engine.commands.take() else {
        return;
    };
    if !ui.state.is_finished() {
        let _ = commands.try_send(stop);
    }
    let deadline = Instant::now() + STOP_WAIT;
    while engine.events.is_some() {
        tokio::select! {
            ev = recv(&mut engine.events) => match ev {
                Some(env) => { update(ui, Msg::Event(Box::new(env))); }
                None => engine.events = None,
            },
            d = recv(&mut engine.deltas) => if d.is_none() { engine.deltas = None },
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!("the engine did not stop in time");
                if let Some(j) = engine.join.take() {
                    j.abort();
                }
                return;
            }
        }
    }
    if let Some(j) = engine.join.take() {
        let _ = tokio::time::timeout_at(deadline, j).await;
    }
}

/// Hands the terminal to a pager or editor showing `text`, then takes it back and redraws.
/// The engine keeps running meanwhile; its events wait in their channel.
async fn open(
    terminal: &mut Tty,
    mouse: bool,
    opener: super::clip::Opener,
    text: &str,
) -> std::result::Result<(), String> {
    let path =
        super::clip::temp_file(text).map_err(|e| format!("could not write the text: {e}"))?;
    terminal::suspend();
    let result = super::clip::run(opener, &path).await;
    let back = terminal::resume(terminal, mouse);
    let _ = std::fs::remove_file(&path);
    back.map_err(|e| format!("could not take the terminal back: {e}"))?;
    result
}

/// Why the engine's task ended without the run's end reaching the screen: its own failure
/// (a journal it could not write), a panic, or nothing known. The events channel has just
/// closed, so the task is ending: the wait is short and bounded by `STOP_WAIT`.
pub async fn engine_failure(join: Option<JoinHandle<RunOutcome>>) -> String {
    let unknown = "the engine stopped without ending the run".to_string();
    let Some(join) = join else {
        return unknown;
    };
    match tokio::time::timeout(STOP_WAIT, join).await {
        Ok(Ok(RunOutcome::Failed { reason })) => reason,
        Ok(Ok(_)) => unknown,
        Ok(Err(e)) if e.is_panic() => {
            let payload = e.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            format!("the engine panicked: {message}")
        }
        Ok(Err(_)) => "the engine was cancelled".into(),
        Err(_) => "the engine stopped responding".into(),
    }
}

/// Writes `<run_dir>/export.md`.
fn export(ui: &Ui) -> std::result::Result<PathBuf, String> {
    let dir = ui
        .info
        .run_dir
        .clone()
        .ok_or_else(|| "this run has no directory to export to".to_string())?;
    let path = dir.join("export.md");
    let text = crate::export::render_markdown(&ui.state);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
