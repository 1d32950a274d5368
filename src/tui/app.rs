//! The UI model and its one update function: `update(&mut Ui, Msg) -> Vec<Effect>`.
//!
//! Owns the replica of the run (`State`, folded with the engine's own `plan::apply`), the
//! live output buffers, and what the person is looking at (screen, focus, selection,
//! scroll, modal). Must not contain orchestration rules (ask `State`'s queries) and must
//! not touch the terminal: effects are returned for the runtime to carry out.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyEvent, MouseEvent};
use tui_textarea::TextArea;

use super::modals::Modal;
use super::output::Outputs;
use super::theme::Theme;
use crate::engine::Delta;
use crate::instructions::InstructionSummary;
use crate::notify::{Notifier, NotifyMode, TerminalKind};
use crate::protocol::{Command, Envelope, Event, Phase, RunOutcome, SubtaskId};
use crate::state::{NeedsPerson, State};

/// Something that happened: a key, an engine fact, live output, time passing.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Paste(String),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Event(Box<Envelope>),
    Delta(Delta),
    /// Time passed (spinner frame, elapsed clock).
    Tick(DateTime<Utc>),
    /// The engine's event channel closed (the engine task ended).
    EngineClosed,
    /// The engine's task ended without journaling the run's end (it panicked, or the
    /// journal could not be written): why. Shown as a failed run.
    EngineFailed(String),
    /// The export finished: where it went, or why it failed.
    Exported(Result<PathBuf, String>),
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a command to the engine.
    Send(Command),
    /// Something new needs the person: ring the bell / notify (`notify::Notifier` decides).
    Bell,
    /// The run ended while Baton watched it live: notify if the person is away.
    Finished,
    /// Write the export file.
    Export,
    /// Start the run with this task (from the task editor).
    StartRun(String),
    /// Leave: stop the engine if it still runs (the run stays resumable), restore the terminal.
    Quit,
    /// Clear the terminal and draw everything again (Ctrl-L).
    Repaint,
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    /// Hand the terminal to `$PAGER` or `$EDITOR` with this text, then take it back.
    Open(super::clip::Opener, String),
    /// Fork the run at this decision (`d{n}`): `fork_view::run_fork`.
    Fork(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The task editor before a run starts.
    Editor,
    Main,
    Detail(SubtaskId),
    /// The diffs of one subtask's file changes (`D`).
    Diff(SubtaskId),
    Synthesis,
    /// The plan as a graph (`P`).
    Graph,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Tasks,
    Panes,
    Replan,
}

pub use super::filter::Filter;

/// A selected task-list row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sel {
    Subtask(SubtaskId),
    /// The "✓ 5 done ⊘ 1 cancelled" line.
    Finished,
}

/// A need for a person, as a stable key (for the bell and for "dismissed, do not reopen").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NeedKey {
    Mode,
    Scope(u32),
    /// An escalation, per attempt (a later escalation of the same subtask is new).
    Escalation(SubtaskId, u32),
    Command(u32),
    Approval(SubtaskId),
    PlanDiff(u32),
}

impl NeedKey {
    pub fn of(n: &NeedsPerson, state: &State) -> Self {
        match n {
            NeedsPerson::ModeChoice { .. } => NeedKey::Mode,
            NeedsPerson::ScopeAlert(a) => NeedKey::Scope(*a),
            NeedsPerson::Escalation(id) => {
                NeedKey::Escalation(*id, state.subtask(*id).map_or(0, |s| s.attempts))
            }
            NeedsPerson::CommandApproval(r) => NeedKey::Command(*r),
            NeedsPerson::Approval(id) => NeedKey::Approval(*id),
            NeedsPerson::PlanDiff(p) => NeedKey::PlanDiff(*p),
        }
    }
    /// Needs that open a modal by themselves (approvals are answered in the list).
    pub fn wants_modal(&self) -> bool {
        !matches!(self, NeedKey::Approval(_))
    }
}

/// What the screen says about the run before it starts (the editor) and in the header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunInfo {
    pub provider: String,
    pub model: String,
    pub worker_model: String,
    pub workspace: Option<String>,
    pub approve: String,
    pub max_workers: u32,
    /// Running on the built-in demo model.
    pub demo: bool,
    /// Said on screen before the run starts (e.g. why the demo model is used).
    pub banner: Option<String>,
    pub run_dir: Option<PathBuf>,
    /// The run's roles (the engine's, from the configuration): what the form offers.
    pub roles: Vec<String>,
}

/// Preferences from `[ui]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiOptions {
    pub bell: bool,
    pub mouse: bool,
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            bell: true,
            mouse: true,
        }
    }
}

/// Lines of a report a worker pane shows again when a run is resumed.
pub const REPLAY_TAIL: usize = 20;

/// A message in the footer gives the keys back after this long.
pub const FLASH_SECS: i64 = 8;

/// A key pressed less than this ago means the person is typing: no modal pops up.
pub const TYPING_GRACE_MS: i64 = 1_200;

/// A dialog that opened by itself takes no key for this long, and says so. A key pressed
/// just before it appeared was meant for what was on screen then (the list); 400 ms is
/// about the time a person needs to see that something new is in front of them, and well
/// under the time it takes to read a dialog and answer it.
pub const DIALOG_GRACE_MS: i64 = 400;

/// `+`/`-` presses closer together than this are one burst, sent as one relative change
/// (`AdjustWorkers`) once the presses stop: one journaled change per burst, never one per
/// press, and never a count computed from a copy that lags the engine.
pub const WORKERS_SETTLE_MS: i64 = 400;

/// The whole UI model.
pub struct Ui {
    pub state: State,
    pub outputs: Outputs,
    pub theme: Theme,
    pub options: UiOptions,
    pub info: RunInfo,
    pub now: DateTime<Utc>,
    /// Spinner frame.
    pub frame: u64,
    pub size: (u16, u16),
    pub screen: Screen,
    pub help: bool,
    pub help_scroll: u16,
    pub focus: Focus,
    pub filter: Filter,
    pub show_finished: bool,
    pub selected: Option<Sel>,
    /// Row offset of the task list (kept so the selection stays visible).
    pub list_offset: usize,
    pub replan_selected: usize,
    pub replan_expanded: HashSet<u32>,
    /// The pane selected in the panes area (`None` inside: the orchestrator).
    pub pane_selected: Option<Option<SubtaskId>>,
    /// The zoomed pane.
    pub zoom: Option<Option<SubtaskId>>,
    pub detail_scroll: u16,
    pub synthesis_scroll: u16,
    /// The diffs of the subtask in the detail or diff view (computed when it opens).
    pub changes: Option<super::changes::Changes>,
    pub modal: Option<Box<dyn Modal>>,
    pub dismissed: HashSet<NeedKey>,
    pub rung: HashSet<NeedKey>,
    pub last_key_at: Option<DateTime<Utc>>,
    /// A one-line message (notice, export path) until the next key or `FLASH_SECS`.
    pub flash: Option<String>,
    /// When the flash appeared.
    pub flash_at: Option<DateTime<Utc>>,
    /// The task editor (before a run starts).
    pub editor: TextArea<'static>,
    pub engine_closed: bool,
    /// Key bindings (the defaults with `[keys]` applied).
    pub keymap: super::keymap::Keymap,
    /// Where `?` was pressed: help opens at those keys.
    pub help_from: super::keymap::Context,
    /// The message log is open.
    pub log: bool,
    pub log_scroll: u16,
    /// Every notice and message shown so far, oldest first.
    pub messages: Vec<(DateTime<Utc>, String)>,
    /// The `/` search or `:` jump prompt, while open.
    pub prompt: Option<super::finder::Prompt>,
    /// Events up to this sequence number replay the journal (a resumed run).
    pub replayed_up_to: u64,
    /// The view to put back once the replay has arrived (a resumed run).
    pub restore: Option<super::view_state::ViewState>,
    /// Bell, desktop notifications and the notify command, with the terminal's focus.
    pub notifier: Notifier,
    /// Events up to this sequence number are a resumed run's replay (no notifications).
    pub live_from: u64,
    /// The project instruction files the models get (names and sizes, for the detail view).
    pub instructions: Vec<InstructionSummary>,
    /// The details were opened from the plan graph, so Esc goes back there.
    pub back_to_graph: bool,
    /// `+`/`-` pressed but not sent yet (see [`WORKERS_SETTLE_MS`]): the sum and the last press.
    pub workers_pending: Option<(i32, DateTime<Utc>)>,
    /// The dialog that opened by itself and when (see [`DIALOG_GRACE_MS`]).
    pub auto_opened: Option<(NeedKey, DateTime<Utc>)>,
    /// The run's decisions so far, numbered as `baton fork --at dN` numbers them.
    pub decisions: Vec<crate::export::provenance::Decision>,
}

impl Ui {
    pub fn new(info: RunInfo, theme: Theme, options: UiOptions, now: DateTime<Utc>) -> Self {
        Self {
            state: State::default(),
            outputs: Outputs::default(),
            theme,
            options,
            info,
            now,
            frame: 0,
            size: (80, 24),
            screen: Screen::Main,
            help: false,
            help_scroll: 0,
            focus: Focus::Tasks,
            filter: Filter::All,
            show_finished: false,
            selected: None,
            list_offset: 0,
            replan_selected: 0,
            replan_expanded: HashSet::new(),
            pane_selected: None,
            zoom: None,
            detail_scroll: 0,
            synthesis_scroll: 0,
            changes: None,
            modal: None,
            dismissed: HashSet::new(),
            rung: HashSet::new(),
            last_key_at: None,
            flash: None,
            flash_at: None,
            editor: super::editor::new_editor(),
            engine_closed: false,
            keymap: super::keymap::Keymap::default(),
            help_from: super::keymap::Context::Tasks,
            log: false,
            log_scroll: 0,
            messages: Vec::new(),
            prompt: None,
            replayed_up_to: 0,
            restore: None,
            notifier: Notifier::new(
                if options.bell {
                    NotifyMode::Bell
                } else {
                    NotifyMode::Off
                },
                None,
                TerminalKind::default(),
            ),
            live_from: 0,
            instructions: Vec::new(),
            back_to_graph: false,
            workers_pending: None,
            auto_opened: None,
            decisions: Vec::new(),
        }
    }

    /// Opens on the task editor (no task given).
    pub fn with_editor(mut self) -> Self {
        self.screen = Screen::Editor;
        self
    }

    /// Does something move on screen (a spinner)? Ticks run fast only then.
    pub fn animating(&self) -> bool {
        if self.workers_pending.is_some() {
            return true;
        }
        if self.state.is_finished() || self.engine_closed || self.screen == Screen::Editor {
            return false;
        }
        self.state.running().next().is_some()
            || self.state.orchestrator_working()
            || self.dialog_held()
    }

    /// Does the clock on screen need ticking at all (a live run shows elapsed time)?
    pub fn clock_visible(&self) -> bool {
        !self.state.is_finished()
            && !self.engine_closed
            && self.screen != Screen::Editor
            && !self.state.run_id.is_empty()
    }

    /// The run's id, once known.
    pub fn run_id(&self) -> &str {
        &self.state.run_id
    }

    /// Is a text box taking keys (editor, or a modal's text box)?
    pub fn typing(&self) -> bool {
        self.screen == Screen::Editor || self.modal.as_ref().is_some_and(|m| m.typing())
    }

    /// The open dialog opened by itself a moment ago: it takes no key yet.
    pub fn dialog_held(&self) -> bool {
        let open = self.modal.as_ref().and_then(|m| m.need());
        match self.auto_opened {
            Some((need, at)) => {
                open == Some(need) && (self.now - at).num_milliseconds() < DIALOG_GRACE_MS
            }
            None => false,
        }
    }

    /// The selected subtask, if a subtask row is selected.
    pub fn selected_subtask(&self) -> Option<SubtaskId> {
        match self.screen {
            Screen::Detail(id) | Screen::Diff(id) => Some(id),
            _ => match self.selected {
                Some(Sel::Subtask(id)) => Some(id),
                _ => None,
            },
        }
    }

    /// Seconds the run has been going, by the injected clock.
    pub fn elapsed_secs(&self) -> f64 {
        let recorded = self.state.elapsed_secs();
        if self.state.is_finished() || self.engine_closed {
            return recorded;
        }
        self.state.elapsed_secs_at(self.now).max(recorded)
    }

    /// The exit code the run's outcome calls for: 0 complete, 1 failed, 3 stopped/open.
    pub fn exit_code(&self) -> i32 {
        match &self.state.outcome {
            Some(crate::protocol::RunOutcome::Completed) => 0,
            Some(crate::protocol::RunOutcome::Failed { .. }) => 1,
            _ => 3,
        }
    }
}

/// Phases where the orchestrator model is working (its pane shows).
pub fn orchestrator_busy(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::Analysing
            | Phase::Replanning
            | Phase::Recovering
            | Phase::Assessing
            | Phase::Synthesising
            | Phase::Evaluating
    )
}

pub use super::needs::notice_text; // the words of a notification

/// The one update function.
pub fn update(ui: &mut Ui, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    let flash_before = ui.flash.clone();
    match msg {
        Msg::Event(env) => {
            on_event(ui, &env);
            if matches!(env.event, Event::RunFinished { .. }) && env.seq > ui.live_from {
                fx.push(Effect::Finished);
            }
        }
        Msg::Delta(d) => {
            // Live output changes no needs or selection: skip the reconcile (hot path).
            on_delta(ui, &d);
            return fx;
        }
        Msg::Key(key) => {
            ui.last_key_at = Some(ui.now);
            fx = super::input::on_key(ui, key);
        }
        Msg::Paste(text) => super::input::on_paste(ui, &text),
        Msg::Mouse(m) => super::input::on_mouse(ui, m),
        Msg::Resize(w, h) => ui.size = (w, h),
        Msg::Tick(now) => {
            ui.now = now;
            ui.frame = ui.frame.wrapping_add(1);
            let stale = ui
                .flash_at
                .is_some_and(|at| (now - at).num_seconds() >= FLASH_SECS);
            if stale {
                ui.flash = None;
            }
            fx.extend(flush_workers(ui, false));
        }
        Msg::EngineClosed => ui.engine_closed = true,
        Msg::EngineFailed(reason) => engine_failed(ui, reason),
        Msg::Exported(Ok(path)) => {
            ui.flash = Some(format!("exported to {}", path.display()));
        }
        Msg::Exported(Err(e)) => ui.flash = Some(format!("export failed: {e}")),
    }
    if ui.flash.is_none() {
        ui.flash_at = None;
    } else if ui.flash != flash_before || ui.flash_at.is_none() {
        ui.flash_at = Some(ui.now);
        if let Some(m) = &ui.flash {
            remember(ui, m.clone());
        }
    }
    fx.extend(super::needs::reconcile(ui));
    fx
}

/// Sends the `+`/`-` burst once the presses have stopped (or at once with `now`).
pub fn flush_workers(ui: &mut Ui, now: bool) -> Option<Effect> {
    let (delta, at) = ui.workers_pending?;
    if !now && (ui.now - at).num_milliseconds() < WORKERS_SETTLE_MS {
        return None;
    }
    ui.workers_pending = None;
    (delta != 0).then_some(Effect::Send(Command::AdjustWorkers { delta }))
}

/// Keeps a message for the log (`m`); the newest 500 stay.
fn remember(ui: &mut Ui, message: String) {
    if ui.messages.last().is_some_and(|(_, m)| *m == message) {
        return;
    }
    ui.messages.push((ui.now, message));
    if ui.messages.len() > 500 {
        ui.messages.remove(0);
    }
}

/// The engine ended without a journaled end. Decision: the replica folds the end the
/// journal could not carry (`run_finished`, failed, with the reason) so every view shows a
/// failed run exactly as it shows one the engine ended itself; this record exists on screen
/// only, the journal still ends where it ends and `baton resume` continues from there.
fn engine_failed(ui: &mut Ui, reason: String) {
    ui.engine_closed = true;
    if ui.state.is_finished() {
        return;
    }
    let end = Envelope {
        seq: ui.state.last_seq + 1,
        ts: ui.now,
        v: crate::protocol::JOURNAL_VERSION,
        event: Event::RunFinished {
            outcome: RunOutcome::Failed {
                reason: reason.clone(),
            },
        },
    };
    crate::state::apply(&mut ui.state, &end);
    ui.flash = Some(format!("the run failed: {reason}"));
}

/// Folds an engine fact into the replica and keeps the view in step with it.
fn on_event(ui: &mut Ui, env: &Envelope) {
    crate::state::apply(&mut ui.state, env);
    super::fork_view::on_event(ui, env);
    let marker = ui.theme.glyph("▸");
    let result_marker = ui.theme.glyph("↳");
    match &env.event {
        Event::SubtaskStarted { id, attempt, .. } => {
            ui.outputs.pane_mut(Some(*id)).start_attempt(*attempt);
        }
        Event::WorkerToolUsed {
            id,
            summary,
            is_error,
            output,
            ..
        } => {
            let _ = marker;
            ui.outputs.pane_mut(Some(*id)).push_tool_used(
                summary,
                output,
                *is_error,
                result_marker,
            );
        }
        Event::PhaseChanged { phase } if orchestrator_busy(*phase) => {
            ui.outputs.pane_mut(None).heading(format!("── {phase} ──"));
        }
        Event::SynthesisCompleted { .. } if ui.screen == Screen::Main && ui.modal.is_none() => {
            ui.screen = Screen::Synthesis;
            ui.synthesis_scroll = 0;
        }
        Event::Notice { message } => ui.flash = Some(message.clone()),
        // The person escalated it: they know, so its dialog does not pop up by itself (and
        // the next key is not taken by it); `r` or `n` opens it.
        Event::SubtaskEscalated {
            id,
            by: crate::protocol::Actor::Person,
            ..
        } => {
            let need = NeedKey::Escalation(*id, ui.state.subtask(*id).map_or(0, |s| s.attempts));
            ui.dismissed.insert(need);
            ui.rung.insert(need);
            if env.seq > ui.replayed_up_to {
                ui.flash = Some(format!("{id} is yours now: r opens its dialog"));
            }
        }
        // Replayed on resume: live output is not journaled, so a pane shows the last lines
        // of the report instead of staying empty.
        Event::SubtaskReported { id, output, .. } if env.seq <= ui.replayed_up_to => {
            let pane = ui.outputs.pane_mut(Some(*id));
            let lines: Vec<&str> = output.lines().collect();
            let tail = lines[lines.len().saturating_sub(REPLAY_TAIL)..].join("\n");
            pane.push_text(&format!("{tail}\n"));
        }
        _ => {}
    }
    if env.seq >= ui.replayed_up_to
        && let Some(v) = ui.restore.take()
    {
        super::view_state::apply(ui, &v);
    }
    super::changes::on_event(ui, &env.event);
}

fn on_delta(ui: &mut Ui, d: &Delta) {
    let marker = ui.theme.glyph("▸");
    let pane = ui.outputs.pane_mut(d.subtask);
    if d.subtask.is_some() && d.attempt != pane.attempt && d.attempt > 0 {
        pane.start_attempt(d.attempt);
    }
    pane.apply_stream(&d.event, marker);
}
