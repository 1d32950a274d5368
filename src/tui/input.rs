//! Keys and paste → changes to the `Ui` and effects (commands for the engine); the mouse is
//! `mouse.rs`.
//!
//! Owns what each keymap action does. Must not decide which key means what (that is
//! `keymap`, as data) and must not touch the run's state: decisions become `Command`s.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use super::app::{Effect, Filter, Focus, Screen, Sel, Ui};
use super::clip::Opener;
use super::finder::{Kind, Prompt};
use super::keymap::{Action, Context, When};
use super::layout::{self, pane_ids, selected_pane};
use super::modals::{self, confirm::Confirm, quit::QuitModal, subtask_form::SubtaskForm};
use super::needs;
use super::task_list::{self, Row};

use super::mouse::add;
pub use super::mouse::on_mouse;
use crate::protocol::{Command, DispatchPolicy, Resolution, SubtaskId};
use crate::state::SubtaskStatus;

/// Which bindings apply now.
pub fn context(ui: &Ui) -> Context {
    if ui.help {
        return Context::Help;
    }
    if ui.log {
        return Context::Log;
    }
    match ui.screen {
        Screen::Detail(_) => Context::Detail,
        Screen::Diff(_) => Context::Diff,
        Screen::Synthesis => Context::Synthesis,
        Screen::Graph => Context::Graph,
        Screen::Editor | Screen::Main => {
            if ui.zoom.is_some() {
                Context::Zoom
            } else {
                match ui.focus {
                    Focus::Tasks => Context::Tasks,
                    Focus::Panes => Context::Panes,
                    Focus::Replan => Context::Replan,
                }
            }
        }
    }
}

/// Does a binding's condition hold now? Whether a command applies is the rule book's
/// answer (`State::check`, the one the engine enforces); the rest is about the screen.
pub fn holds(ui: &Ui, when: When) -> bool {
    let sel = ui.selected_subtask().and_then(|id| ui.state.subtask(id));
    let status = sel.map(|s| s.status);
    let applies = |cmd: Option<Command>| cmd.is_some_and(|c| ui.state.check(&c).is_ok());
    let on_sel = |f: fn(SubtaskId) -> Command| applies(sel.map(|s| f(s.id)));
    match when {
        When::Always => true,
        // A deferred subtask is offered "un-defer" rather than "approve".
        When::SelAwaitingApproval => {
            on_sel(|id| Command::Approve { id }) && status != Some(SubtaskStatus::Deferred)
        }
        When::SelDeferred => on_sel(|id| Command::Undefer { id }),
        When::SelDeferrable => on_sel(|id| Command::Defer { id }),
        When::SelOpen => on_sel(|id| Command::Cancel { id }) && !ui.state.is_finished(),
        When::SelEscalated => on_sel(|id| Command::Resolve {
            id,
            resolution: Resolution::Cancel,
        }),
        When::AnyAwaiting => applies(Some(Command::ApproveAll)),
        When::AnyNeed => !ui.state.needs_person().is_empty(),
        When::HasSynthesis => ui.state.synthesis.is_some(),
        When::RunLive => !ui.state.is_finished() && !ui.engine_closed,
        When::CanPause => holds(ui, When::RunLive) && applies(Some(Command::Pause)),
        When::CanResume => holds(ui, When::RunLive) && applies(Some(Command::Resume)),
        When::SelRunning => status == Some(SubtaskStatus::Running),
        When::SelHasFiles => sel.is_some_and(|s| !s.files_changed.is_empty()),
        When::SelRollbackable => on_sel(|id| Command::Rollback { id }),
        When::SelSteerable => modals::steer::offered(ui),
        When::CanFork => super::fork_view::can_fork(ui),
        When::SelDispatchable => {
            !ui.state.is_finished()
                && on_sel(|id| Command::SetDispatch {
                    id,
                    policy: DispatchPolicy::Auto,
                })
        }
    }
}

pub fn on_key(ui: &mut Ui, key: KeyEvent) -> Vec<Effect> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    ui.flash = None;
    if ui.screen == Screen::Editor {
        return super::editor::on_key(ui, key);
    }
    if let Some(modal) = ui.modal.take() {
        if is_ctrl_c(&key) && !modal.takes_ctrl_c() {
            needs::closed(ui, modal.as_ref(), false);
            return quit(ui);
        }
        // A dialog that just opened by itself: the key was meant for what was there before.
        ui.modal = Some(modal);
        if ui.dialog_held() {
            return Vec::new();
        }
        let Some(mut modal) = ui.modal.take() else {
            return Vec::new();
        };
        let fx = modal.handle_key(key, &ui.state);
        if modal.is_complete() {
            needs::closed(ui, modal.as_ref(), !fx.is_empty());
        } else {
            ui.modal = Some(modal);
        }
        return fx;
    }
    if ui.prompt.is_some() {
        super::finder::on_key(ui, key);
        return Vec::new();
    }
    let ctx = context(ui);
    match ui
        .keymap
        .lookup(ctx, &key, |w| holds(ui, w))
        .map(|b| b.action)
    {
        Some(action) => act(ui, action),
        None => Vec::new(),
    }
}

/// Pasted text goes to the text box that has the keyboard, with its line ends made exact
/// (terminals send pasted newlines as `\r`). Outside a text box a paste does nothing: it is
/// never read as keys.
pub fn on_paste(ui: &mut Ui, text: &str) {
    let text = super::textbox::normalise_paste(text);
    if ui.prompt.is_some() {
        super::finder::on_paste(ui, &text);
    } else if ui.screen == Screen::Editor {
        super::textbox::paste(&mut ui.editor, &text);
    } else if let Some(m) = ui.modal.as_mut() {
        m.handle_paste(&text);
    }
}

/// Carries out one keymap action.
pub fn act(ui: &mut Ui, action: Action) -> Vec<Effect> {
    let sel = ui.selected_subtask();
    let send = |c: Command| vec![Effect::Send(c)];
    let page = ui.size.1.saturating_sub(6).max(1) as isize;
    if ui.screen == Screen::Graph
        && !ui.help
        && !ui.log
        && let Some(fx) = super::graph::act(ui, action)
    {
        return fx;
    }
    match action {
        Action::Approve => sel.map_or_else(Vec::new, |id| send(Command::Approve { id })),
        Action::Defer => sel.map_or_else(Vec::new, |id| send(Command::Defer { id })),
        Action::Undefer => sel.map_or_else(Vec::new, |id| send(Command::Undefer { id })),
        Action::CycleDispatch => {
            sel.and_then(|id| ui.state.subtask(id))
                .map_or_else(Vec::new, |s| {
                    send(Command::SetDispatch {
                        id: s.id,
                        policy: ui.state.dispatch_policy(s).next(),
                    })
                })
        }
        Action::ApproveAll => {
            ui.modal = Some(Box::new(Confirm::approve_all(&ui.state)));
            Vec::new()
        }
        Action::Escalate => sel.map_or_else(Vec::new, |id| {
            send(Command::Escalate {
                id,
                reason: "a person asked to take it over".to_string(),
            })
        }),
        Action::Retry => {
            if let Some(id) = sel {
                let attempts = ui.state.subtask(id).map_or(0, |s| s.attempts);
                needs::open_need(ui, super::app::NeedKey::Escalation(id, attempts));
            }
            Vec::new()
        }
        Action::Cancel => {
            if let Some(s) = sel.and_then(|id| ui.state.subtask(id)) {
                ui.modal = Some(Box::new(Confirm::cancel(&ui.state, s)));
            }
            Vec::new()
        }
        Action::Edit => {
            if let Some(s) = sel.and_then(|id| ui.state.subtask(id)) {
                ui.modal = Some(Box::new(SubtaskForm::edit(s, &ui.state, &ui.info.roles)));
            }
            Vec::new()
        }
        Action::Add => {
            ui.modal = Some(Box::new(SubtaskForm::add(&ui.state, &ui.info.roles)));
            Vec::new()
        }
        Action::TogglePause => send(if ui.state.paused {
            Command::Resume
        } else {
            Command::Pause
        }),
        Action::MoreWorkers => adjust_workers(ui, 1),
        Action::FewerWorkers => adjust_workers(ui, -1),
        Action::Details => {
            details(ui);
            Vec::new()
        }
        Action::Zoom => {
            let ids = pane_ids(ui);
            let target = match (ui.focus, sel) {
                (Focus::Tasks, Some(id)) if ids.contains(&Some(id)) => Some(Some(id)),
                _ => selected_pane(ui, &ids),
            };
            ui.zoom = target;
            Vec::new()
        }
        Action::NextNeed => {
            if let Some(need) = needs::most_urgent(ui) {
                needs::open_need(ui, need);
            }
            Vec::new()
        }
        Action::Filter => {
            ui.filter = ui.filter.next();
            ui.list_offset = 0;
            ui.flash = Some(format!("showing: {} (f: next filter)", ui.filter.label()));
            Vec::new()
        }
        Action::ToggleFinished => {
            ui.show_finished = !ui.show_finished;
            if ui.filter == Filter::Finished && !ui.show_finished {
                ui.filter = Filter::All;
            }
            Vec::new()
        }
        Action::FocusNext | Action::FocusPrev => {
            let fwd = action == Action::FocusNext;
            ui.focus = match (ui.focus, fwd) {
                (Focus::Tasks, true) | (Focus::Replan, false) => Focus::Panes,
                (Focus::Panes, true) | (Focus::Tasks, false) => Focus::Replan,
                (Focus::Replan, true) | (Focus::Panes, false) => Focus::Tasks,
            };
            if ui.screen != Screen::Main && !ui.help {
                ui.screen = Screen::Main;
            }
            Vec::new()
        }
        Action::Up => scroll(ui, -1),
        Action::Down => scroll(ui, 1),
        Action::PageUp => scroll(ui, -page),
        Action::PageDown => scroll(ui, page),
        Action::Top => scroll(ui, -100_000),
        Action::Bottom => scroll(ui, 100_000),
        Action::Left | Action::Right => {
            let ids = pane_ids(ui);
            let cur = match ui.zoom {
                Some(z) => Some(z),
                None => selected_pane(ui, &ids),
            };
            let i = cur
                .and_then(|c| ids.iter().position(|x| *x == c))
                .unwrap_or(0);
            let n = ids.len().max(1);
            let j = if action == Action::Right {
                (i + 1) % n
            } else {
                (i + n - 1) % n
            };
            if let Some(next) = ids.get(j).copied() {
                ui.pane_selected = Some(next);
                if ui.zoom.is_some() {
                    ui.zoom = Some(next);
                }
            }
            Vec::new()
        }
        Action::Follow => {
            if let Some(p) = current_pane(ui) {
                ui.outputs.pane_mut(p).follow();
            }
            Vec::new()
        }
        Action::Synthesis => {
            ui.screen = Screen::Synthesis;
            Vec::new()
        }
        Action::Export => vec![Effect::Export],
        Action::Help => {
            ui.help_from = context(ui);
            ui.help = true;
            ui.help_scroll = 0;
            Vec::new()
        }
        Action::Back => {
            if ui.help {
                ui.help = false;
            } else if ui.log {
                ui.log = false;
            } else if ui.zoom.is_some() {
                ui.zoom = None;
            } else if let Screen::Diff(_) = ui.screen {
                ui.screen = ui.changes.as_ref().map_or(Screen::Main, |c| c.back);
            } else if matches!(ui.screen, Screen::Detail(_)) && ui.back_to_graph {
                ui.back_to_graph = false;
                ui.screen = Screen::Graph;
            } else if ui.screen != Screen::Main {
                ui.screen = Screen::Main;
            } else {
                ui.focus = Focus::Tasks;
            }
            Vec::new()
        }
        Action::Quit | Action::ForceQuit => quit(ui),
        Action::Diff => {
            if let Some(id) = sel {
                super::changes::open_diff(ui, id);
            }
            Vec::new()
        }
        Action::Steer => modals::steer::open(ui),
        Action::Fork => super::fork_view::open(ui, sel),
        Action::Rollback => {
            if let Some(id) = sel {
                ui.modal = modals::rollback::RollbackConfirm::new(&ui.state, id)
                    .map(|m| Box::new(m) as Box<dyn modals::Modal>);
            }
            Vec::new()
        }
        Action::NextFile | Action::PrevFile => {
            super::changes::jump_file(ui, action == Action::NextFile);
            Vec::new()
        }
        Action::Search | Action::Jump => {
            let kind = if action == Action::Search {
                Kind::Search
            } else {
                Kind::Jump
            };
            ui.prompt = Some(Prompt::new(kind));
            Vec::new()
        }
        Action::Messages => {
            ui.log = true;
            ui.log_scroll = super::message_log::max_scroll(ui, overlay_height(ui));
            Vec::new()
        }
        Action::Repaint => vec![Effect::Repaint],
        Action::Graph => {
            super::graph::open(ui);
            Vec::new()
        }
        Action::Copy | Action::Pager | Action::OpenEditor => text_out(ui, action),
    }
}

/// `+`/`-`: adds to the burst the engine gets as one relative change once the presses stop
/// (`app::WORKERS_SETTLE_MS`); the footer says where the count is going. A press that would
/// change nothing is refused with the rule book's reason.
fn adjust_workers(ui: &mut Ui, step: i32) -> Vec<Effect> {
    let before = ui.workers_pending.map_or(0, |(d, _)| d);
    let now_target = ui.state.workers_after(before);
    let delta = before.saturating_add(step);
    let target = ui.state.workers_after(delta);
    if target == now_target {
        let refusal = crate::state::Refusal::WorkersUnchanged(target);
        ui.flash = Some(refusal.to_string());
        return Vec::new();
    }
    // Keep the sum within what can apply, so `-` after many `+` at the top counts at once.
    let delta = i32::try_from(i64::from(target) - i64::from(ui.state.max_workers)).unwrap_or(delta);
    ui.workers_pending = Some((delta, ui.now));
    ui.flash = Some(format!("workers: {} → {target}", ui.state.max_workers));
    Vec::new()
}

/// `y`, `v`, `V`: the text in view to the clipboard or a program.
fn text_out(ui: &mut Ui, action: Action) -> Vec<Effect> {
    let Some((what, text)) = super::clip::text_in_view(ui) else {
        ui.flash = Some("no text here to copy or open".to_string());
        return Vec::new();
    };
    match action {
        Action::Copy => {
            ui.flash = Some(format!(
                "{what} sent to the clipboard (OSC 52; {} characters)",
                text.chars().count()
            ));
            vec![Effect::Copy(text)]
        }
        Action::Pager => vec![Effect::Open(Opener::Pager, text)],
        _ => vec![Effect::Open(Opener::Editor, text)],
    }
}

/// Rows of text inside the help and message log overlays (the body, less its border).
fn overlay_height(ui: &Ui) -> u16 {
    ui.size.1.saturating_sub(5)
}

/// Leaves at once when the run is over; otherwise asks (the run stays resumable).
pub fn quit(ui: &mut Ui) -> Vec<Effect> {
    // A `+`/`-` burst still settling goes now: the run stays resumable with it.
    let mut fx: Vec<Effect> = super::app::flush_workers(ui, true).into_iter().collect();
    if ui.state.is_finished() || ui.engine_closed || ui.state.run_id.is_empty() {
        fx.push(Effect::Quit);
    } else {
        ui.modal = Some(Box::new(QuitModal::new(&ui.state.run_id)));
    }
    fx
}

fn current_pane(ui: &Ui) -> Option<Option<SubtaskId>> {
    match ui.zoom {
        Some(z) => Some(z),
        None => selected_pane(ui, &pane_ids(ui)),
    }
}

fn details(ui: &mut Ui) {
    match (ui.focus, ui.zoom) {
        (_, Some(Some(id))) => open_detail(ui, id),
        (Focus::Panes, _) => {
            if let Some(Some(id)) = current_pane(ui) {
                open_detail(ui, id);
            }
        }
        (Focus::Replan, _) => {
            let cycle = ui
                .state
                .replan_log
                .iter()
                .rev()
                .nth(ui.replan_selected)
                .map(|r| r.cycle);
            if let Some(c) = cycle
                && !ui.replan_expanded.remove(&c)
            {
                ui.replan_expanded.insert(c);
            }
        }
        (Focus::Tasks, _) => match ui.selected {
            Some(Sel::Finished) => ui.show_finished = !ui.show_finished,
            Some(Sel::Subtask(id)) => open_detail(ui, id),
            None => {}
        },
    }
}

fn open_detail(ui: &mut Ui, id: SubtaskId) {
    ui.screen = Screen::Detail(id);
    ui.detail_scroll = 0;
    ui.zoom = None;
    super::changes::open_detail(ui, id);
}

pub(super) fn scroll(ui: &mut Ui, delta: isize) -> Vec<Effect> {
    if ui.help {
        let max = super::help::max_scroll(ui, overlay_height(ui));
        ui.help_scroll = add(ui.help_scroll.min(max), delta as i64).min(max);
        return Vec::new();
    }
    if ui.log {
        let max = super::message_log::max_scroll(ui, overlay_height(ui));
        ui.log_scroll = add(ui.log_scroll.min(max), delta as i64).min(max);
        return Vec::new();
    }
    match ui.screen {
        Screen::Detail(_) => ui.detail_scroll = add(ui.detail_scroll, delta as i64),
        Screen::Diff(_) => super::changes::scroll_by(ui, delta),
        Screen::Synthesis => ui.synthesis_scroll = add(ui.synthesis_scroll, delta as i64),
        Screen::Graph => {}
        Screen::Main | Screen::Editor => {
            if ui.zoom.is_some() || ui.focus == Focus::Panes {
                if let Some(p) = current_pane(ui) {
                    ui.outputs.pane_mut(p).scroll_by(delta as i64);
                }
            } else if ui.focus == Focus::Replan {
                move_replan(ui, delta);
            } else {
                move_selection(ui, delta);
            }
        }
    }
    Vec::new()
}

pub(super) fn move_selection(ui: &mut Ui, delta: isize) {
    let rows = task_list::rows(ui);
    if rows.is_empty() {
        return;
    }
    let cur = ui
        .selected
        .and_then(|s| rows.iter().position(|r| r.sel() == s))
        .unwrap_or(0) as isize;
    let next = (cur + delta).clamp(0, rows.len() as isize - 1) as usize;
    ui.selected = rows.get(next).map(Row::sel);
    ui.pane_selected = None;
    let area = Rect::new(0, 0, ui.size.0, ui.size.1);
    let height = layout::main_layout(area, ui).tasks.height.saturating_sub(2) as usize;
    ui.list_offset = task_list::scroll_offset(ui.list_offset, next, height, rows.len());
}

pub(super) fn move_replan(ui: &mut Ui, delta: isize) {
    let n = ui.state.replan_log.len();
    if n == 0 {
        return;
    }
    ui.replan_selected = (ui.replan_selected as isize + delta).clamp(0, n as isize - 1) as usize;
}

/// Keys that go to a text box are never taken by the global keymap, except Ctrl-C.
pub fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c' | 'C'))
}

/// Opens the modal for a need by key (used by tests and the `n` key).
pub fn open_modal(ui: &mut Ui, need: super::app::NeedKey) {
    ui.modal = modals::open_for(need, &ui.state, &ui.info);
}
