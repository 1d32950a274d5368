//! The default key bindings, as a table: one row per binding (keys, footer label, action,
//! what `?` says, the footer's word, when it applies), grouped the way contexts share them.
//!
//! Owns the defaults only. `keymap` turns these rows into the bindings that handle keys and
//! feed the footer and `?` help, and applies `[keys]` from the config on top.

use super::keymap::Action::*;
use super::keymap::When::*;
use super::keymap::{Action, Context, When};

/// `(keys, label, action, description, footer, when)`. Keys are written as in `[keys]`
/// (`a`, `C-u`, `PgUp`, `S-Tab`, space-separated); an empty label is derived from the keys;
/// an empty footer means "only in the `?` help".
pub type Row = (
    &'static str,
    &'static str,
    Action,
    &'static str,
    &'static str,
    When,
);

/// Subtask decisions: the same on the task list and in the detail view.
#[rustfmt::skip]
const DECISIONS: &[Row] = &[
    ("a", "", Approve, "approve the selected subtask", "approve", SelAwaitingApproval),
    ("d", "", Defer, "defer the selected subtask", "defer", SelDeferrable),
    ("u", "", Undefer, "un-defer the selected subtask", "un-defer", SelDeferred),
    ("E", "", Edit, "edit the selected subtask (then approve)", "edit", SelOpen),
    ("e", "", Escalate, "escalate the selected subtask to you", "", SelOpen),
    ("r", "", Retry, "resolve: open the escalation (retry, reassign, mark done)", "resolve", SelEscalated),
    ("c", "", Cancel, "cancel the selected subtask", "", SelOpen),
    ("H", "", CycleDispatch, "dispatch policy of the selected subtask: auto, ask, hold", "", SelDispatchable),
    ("w", "", Steer, "steer the selected worker: pause, note, brief, role, model, restart", "steer", SelSteerable),
    ("A", "", ApproveAll, "approve every subtask waiting for approval", "approve all", AnyAwaiting),
];

/// A subtask's file changes: the same on the task list, in the detail and the diff view.
#[rustfmt::skip]
const CHANGES: &[Row] = &[
    ("D", "", Diff, "diff of the files the selected subtask changed", "diff", SelHasFiles),
    ("R", "", Rollback, "roll back the selected subtask's file changes (asks first)", "roll back", SelRollbackable),
];

#[rustfmt::skip]
const RUN_CONTROL: &[Row] = &[
    ("n", "", NextNeed, "open the most urgent thing that needs you", "next need", AnyNeed),
    ("+ =", "+ -", MoreWorkers, "more parallel workers", "workers", RunLive),
    ("-", "", FewerWorkers, "fewer parallel workers", "", RunLive),
    ("p", "", TogglePause, "pause dispatch of new subtasks (running ones finish)", "pause", CanPause),
    ("p", "", TogglePause, "resume dispatch of new subtasks", "resume", CanResume),
    ("N", "", Add, "add a subtask by hand", "", RunLive),
    ("s", "", Synthesis, "show the deliverable", "deliverable", HasSynthesis),
];

/// Finding a subtask from anywhere on the main screen.
#[rustfmt::skip]
const FIND: &[Row] = &[
    ("/", "", Search, "search subtasks (title and description)", "search", Always),
    (": #", ":", Jump, "jump to a subtask by number", "", Always),
    ("P", "", Graph, "the plan as a graph: layers, critical path, time to finish", "graph", Always),
];

/// Text on screen to the clipboard or another program.
#[rustfmt::skip]
const TEXT: &[Row] = &[
    ("y", "", Copy, "copy this text (report, output, deliverable) to the clipboard (OSC 52)", "", Always),
    ("v", "", Pager, "open this text in $PAGER (less)", "", Always),
    ("V", "", OpenEditor, "open this text in $EDITOR (a copy; nothing is read back)", "", Always),
];

#[rustfmt::skip]
const COMMON: &[Row] = &[
    ("Tab", "", FocusNext, "next area (tasks, workers, replan log)", "area", Always),
    ("S-Tab", "", FocusPrev, "previous area", "", Always),
    ("m", "", Messages, "message log: every notice so far", "", Always),
    ("C-l", "", Repaint, "repaint the screen", "", Always),
    ("?", "", Help, "keys for where you are (all keys below)", "help", Always),
    ("q", "", Quit, "quit (the run stays resumable)", "quit", Always),
    ("C-c", "", ForceQuit, "quit (asks first while the run is live)", "", Always),
];

#[rustfmt::skip]
const TASK_NAV: &[Row] = &[
    ("Up k", "↑↓", Up, "select the previous subtask", "", Always),
    ("Down j", "↓", Down, "select the next subtask", "", Always),
    ("PgUp C-u", "", PageUp, "page up", "", Always),
    ("PgDn C-d", "", PageDown, "page down", "", Always),
    ("Home g", "g", Top, "first subtask", "", Always),
    ("End G", "G", Bottom, "last subtask", "", Always),
    ("Enter", "⏎", Details, "details of the selected subtask", "details", Always),
    ("z", "", Zoom, "zoom the selected worker's output", "zoom", SelRunning),
    ("f", "", Filter, "filter by status", "", Always),
    ("o", "", ToggleFinished, "show / hide finished subtasks", "", Always),
];

#[rustfmt::skip]
const PANE_NAV: &[Row] = &[
    ("Left h", "←→", Left, "previous worker pane", "pane", Always),
    ("Right l", "→", Right, "next worker pane", "", Always),
    ("Up k", "↑↓", Up, "scroll the pane up (freezes it)", "scroll", Always),
    ("Down j", "↓", Down, "scroll the pane down", "", Always),
    ("PgUp C-u", "", PageUp, "page up", "", Always),
    ("PgDn C-d", "", PageDown, "page down", "", Always),
    ("End G", "G", Follow, "follow the tail again", "follow", Always),
    ("z", "", Zoom, "zoom this pane", "zoom", Always),
    ("w", "", Steer, "steer this worker: pause, note, brief, role, model, restart", "steer", SelSteerable),
    ("Enter", "⏎", Details, "details of this worker's subtask", "", Always),
];

#[rustfmt::skip]
const REPLAN_NAV: &[Row] = &[
    ("Up k", "↑↓", Up, "select the previous replan entry", "select", Always),
    ("Down j", "↓", Down, "select the next entry", "", Always),
    ("Enter Space", "⏎", Details, "expand / collapse the entry", "expand", Always),
];

#[rustfmt::skip]
const ZOOM_NAV: &[Row] = &[
    ("z Esc", "z", Back, "back to all panes", "unzoom", Always),
    ("Up k", "↑↓", Up, "scroll up (freezes the pane)", "scroll", Always),
    ("Down j", "↓", Down, "scroll down", "", Always),
    ("PgUp C-u", "", PageUp, "page up", "", Always),
    ("PgDn C-d", "", PageDown, "page down", "", Always),
    ("End G", "G", Follow, "follow the tail again", "follow", Always),
    ("Left h", "←→", Left, "previous worker", "worker", Always),
    ("Right l", "→", Right, "next worker", "", Always),
    ("w", "", Steer, "steer this worker: pause, note, brief, role, model, restart", "steer", SelSteerable),
];

/// Scrolling a full-screen text (details, diff, deliverable, help, message log).
#[rustfmt::skip]
const SCROLL_VIEW: &[Row] = &[
    ("Up k", "↑↓", Up, "scroll up", "scroll", Always),
    ("Down j", "↓", Down, "scroll down", "", Always),
    ("PgUp C-u", "", PageUp, "page up", "page", Always),
    ("PgDn C-d", "", PageDown, "page down", "", Always),
    ("Home g", "g", Top, "top", "", Always),
    ("End G", "G", Bottom, "bottom", "", Always),
];

#[rustfmt::skip]
const BACK: &[Row] = &[("Esc Backspace", "Esc", Back, "back", "back", Always)];

#[rustfmt::skip]
const DIFF_NAV: &[Row] = &[
    ("]", "] [", NextFile, "next file", "file", Always),
    ("[", "", PrevFile, "previous file", "", Always),
    ("R", "", Rollback, "roll back this subtask's file changes (asks first)", "roll back", SelRollbackable),
];

#[rustfmt::skip]
const SYNTHESIS_NAV: &[Row] = &[
    ("x", "", Export, "export the run to Markdown", "export", Always),
    ("Esc s", "Esc", Back, "back to the subtasks", "subtasks", Always),
];

#[rustfmt::skip]
const HELP_NAV: &[Row] = &[
    ("Esc ?", "Esc", Back, "close help", "close", Always),
    ("q", "", Quit, "quit (the run stays resumable)", "quit", Always),
    ("C-c", "", ForceQuit, "quit", "", Always),
];

#[rustfmt::skip]
const LOG_NAV: &[Row] = &[
    ("Esc m", "Esc", Back, "close the message log", "close", Always),
    ("y", "", Copy, "copy the log to the clipboard (OSC 52)", "", Always),
    ("v", "", Pager, "open the log in $PAGER", "", Always),
    ("?", "", Help, "keys", "help", Always),
    ("q", "", Quit, "quit (the run stays resumable)", "quit", Always),
    ("C-c", "", ForceQuit, "quit", "", Always),
];

#[rustfmt::skip]
const GRAPH_NAV: &[Row] = &[
    ("Up k", "↑↓", Up, "previous subtask in the layer", "select", Always),
    ("Down j", "↓", Down, "next subtask in the layer", "", Always),
    ("Left h", "←→", Left, "the layer before (its dependencies)", "layer", Always),
    ("Right l", "→", Right, "the layer after (its dependents)", "", Always),
    ("Home g", "g", Top, "first subtask of the layer", "", Always),
    ("End G", "G", Bottom, "last subtask of the layer", "", Always),
    ("Enter", "⏎", Details, "details of the selected subtask", "details", Always),
    ("Esc P", "Esc", Back, "back to the subtask list", "back", Always),
];

/// Forking the run at a decision (the detail view lists the subtask's decisions).
#[rustfmt::skip]
const FORK: &[Row] = &[
    ("F", "", Fork, "fork the run at one of this subtask's decisions (Tab: any of the run's)", "fork", CanFork),
];

const ESC_TO_TASKS: &[Row] = &[("Esc", "", Back, "back to the subtask list", "", Always)];

/// The groups of rows of a context, in the order they are tried and shown.
pub fn groups(ctx: Context) -> &'static [&'static [Row]] {
    match ctx {
        Context::Tasks => &[
            TASK_NAV,
            DECISIONS,
            CHANGES,
            RUN_CONTROL,
            FIND,
            TEXT,
            COMMON,
        ],
        Context::Panes => &[PANE_NAV, RUN_CONTROL, FIND, TEXT, COMMON, ESC_TO_TASKS],
        Context::Replan => &[REPLAN_NAV, RUN_CONTROL, FIND, COMMON, ESC_TO_TASKS],
        Context::Zoom => &[ZOOM_NAV, TEXT, COMMON],
        Context::Detail => &[BACK, SCROLL_VIEW, DECISIONS, CHANGES, FORK, TEXT, COMMON],
        Context::Diff => &[BACK, SCROLL_VIEW, DIFF_NAV, TEXT, COMMON],
        Context::Synthesis => &[SYNTHESIS_NAV, SCROLL_VIEW, TEXT, COMMON],
        Context::Help => &[HELP_NAV, SCROLL_VIEW],
        Context::Log => &[LOG_NAV, SCROLL_VIEW],
        Context::Graph => &[GRAPH_NAV, DECISIONS, CHANGES, TEXT, COMMON],
    }
}
