//! Key bindings as data: context → key → action, each with the description that the footer
//! and the `?` help are built from, so help never drifts from behaviour.
//!
//! Owns which key does what where. Must not perform actions (that is `app::update`) nor
//! draw (that is `footer`/`help`). Modals list their own choices as data in their files.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Approve,
    Defer,
    Escalate,
    ApproveAll,
    Undefer,
    Edit,
    Add,
    Cancel,
    Retry,
    TogglePause,
    MoreWorkers,
    FewerWorkers,
    Details,
    Zoom,
    NextNeed,
    Filter,
    ToggleFinished,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Left,
    Right,
    Follow,
    Synthesis,
    Export,
    Help,
    Back,
    Quit,
    ForceQuit,
    /// The diffs of the selected subtask's file changes.
    Diff,
    /// Roll back the selected subtask's file changes (asks first).
    Rollback,
    NextFile,
    PrevFile,
}

/// Where the person is: the bindings that apply differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Main screen, task list focused.
    Tasks,
    /// Main screen, worker panes focused.
    Panes,
    /// Main screen, replan log focused.
    Replan,
    /// One pane full screen.
    Zoom,
    Detail,
    Synthesis,
    Help,
    /// The diff view of one subtask's changes.
    Diff,
}

/// A key as bound: code plus modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub const fn ch(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: KeyModifiers::NONE,
        }
    }
    pub const fn code(code: KeyCode) -> Self {
        Self {
            code,
            mods: KeyModifiers::NONE,
        }
    }
    pub const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: KeyModifiers::CONTROL,
        }
    }

    /// Does a pressed key match? Shift is folded into the character for letters.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let mods = ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        let want = self.mods & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if mods != want {
            return false;
        }
        match (self.code, ev.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) => {
                if want.contains(KeyModifiers::CONTROL) {
                    a.eq_ignore_ascii_case(&b)
                } else {
                    a == b
                }
            }
            (KeyCode::BackTab, KeyCode::BackTab) => true,
            (a, b) => a == b,
        }
    }
}

/// When a binding is offered: always, or only when the selection allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The selected subtask waits for approval.
    SelAwaitingApproval,
    /// The selected subtask is deferred.
    SelDeferred,
    /// The selected subtask can be deferred (not running, not finished).
    SelDeferrable,
    /// The selected subtask is not finished (can be escalated or cancelled).
    SelOpen,
    /// The selected subtask is escalated (its modal can be opened).
    SelEscalated,
    /// Any subtask waits for approval.
    AnyAwaiting,
    /// Something waits for a person.
    AnyNeed,
    /// The run has a synthesis.
    HasSynthesis,
    /// The run has not finished.
    RunLive,
    /// The selection has a live pane.
    SelRunning,
    /// The selected subtask changed files.
    SelHasFiles,
    /// The selected subtask has changes that can be rolled back (and is not running).
    SelRollbackable,
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    /// How the key is written in the footer and help.
    pub label: &'static str,
    pub action: Action,
    pub description: &'static str,
    /// Short label for the footer; empty: only in the `?` help.
    pub footer: &'static str,
    pub when: When,
}

const fn b(
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    description: &'static str,
    footer: &'static str,
    when: When,
) -> Binding {
    Binding {
        keys,
        label,
        action,
        description,
        footer,
        when,
    }
}

const UP: &[Key] = &[Key::code(KeyCode::Up), Key::ch('k')];
const DOWN: &[Key] = &[Key::code(KeyCode::Down), Key::ch('j')];
const PGUP: &[Key] = &[Key::code(KeyCode::PageUp), Key::ctrl('u')];
const PGDN: &[Key] = &[Key::code(KeyCode::PageDown), Key::ctrl('d')];
const HOME: &[Key] = &[Key::code(KeyCode::Home), Key::ch('g')];
const END: &[Key] = &[Key::code(KeyCode::End), Key::ch('G')];
const TAB: &[Key] = &[Key::code(KeyCode::Tab)];
const BACKTAB: &[Key] = &[Key::code(KeyCode::BackTab)];
const HELP: &[Key] = &[Key::ch('?')];
const QUIT: &[Key] = &[Key::ch('q')];
const CTRL_C: &[Key] = &[Key::ctrl('c')];
const ESC: &[Key] = &[Key::code(KeyCode::Esc)];

/// Subtask decisions: the same on the task list and in the detail view.
const DECISIONS: &[Binding] = &[
    b(
        &[Key::ch('a')],
        "a",
        Action::Approve,
        "approve the selected subtask",
        "approve",
        When::SelAwaitingApproval,
    ),
    b(
        &[Key::ch('d')],
        "d",
        Action::Defer,
        "defer the selected subtask",
        "defer",
        When::SelDeferrable,
    ),
    b(
        &[Key::ch('u')],
        "u",
        Action::Undefer,
        "un-defer the selected subtask",
        "un-defer",
        When::SelDeferred,
    ),
    b(
        &[Key::ch('E')],
        "E",
        Action::Edit,
        "edit the selected subtask (then approve)",
        "edit",
        When::SelOpen,
    ),
    b(
        &[Key::ch('e')],
        "e",
        Action::Escalate,
        "escalate the selected subtask to you",
        "",
        When::SelOpen,
    ),
    b(
        &[Key::ch('r')],
        "r",
        Action::Retry,
        "resolve: open the escalation (retry, reassign, mark done)",
        "resolve",
        When::SelEscalated,
    ),
    b(
        &[Key::ch('c')],
        "c",
        Action::Cancel,
        "cancel the selected subtask",
        "",
        When::SelOpen,
    ),
    b(
        &[Key::ch('A')],
        "A",
        Action::ApproveAll,
        "approve every subtask waiting for approval",
        "approve all",
        When::AnyAwaiting,
    ),
];

/// A subtask's file changes: the same on the task list, in the detail and the diff view.
const CHANGES: &[Binding] = &[
    b(
        &[Key::ch('D')],
        "D",
        Action::Diff,
        "diff of the files the selected subtask changed",
        "diff",
        When::SelHasFiles,
    ),
    b(
        &[Key::ch('R')],
        "R",
        Action::Rollback,
        "roll back the selected subtask's file changes (asks first)",
        "roll back",
        When::SelRollbackable,
    ),
];

const RUN_CONTROL: &[Binding] = &[
    b(
        &[Key::ch('n')],
        "n",
        Action::NextNeed,
        "open the most urgent thing that needs you",
        "next need",
        When::AnyNeed,
    ),
    b(
        &[Key::ch('+'), Key::ch('=')],
        "+ -",
        Action::MoreWorkers,
        "more / fewer parallel workers",
        "workers",
        When::RunLive,
    ),
    b(
        &[Key::ch('-')],
        "-",
        Action::FewerWorkers,
        "fewer parallel workers",
        "",
        When::RunLive,
    ),
    b(
        &[Key::ch('p')],
        "p",
        Action::TogglePause,
        "pause / resume dispatch of new subtasks",
        "pause",
        When::RunLive,
    ),
    b(
        &[Key::ch('N')],
        "N",
        Action::Add,
        "add a subtask by hand",
        "",
        When::RunLive,
    ),
    b(
        &[Key::ch('s')],
        "s",
        Action::Synthesis,
        "show the deliverable",
        "deliverable",
        When::HasSynthesis,
    ),
];

const COMMON: &[Binding] = &[
    b(
        TAB,
        "Tab",
        Action::FocusNext,
        "next area (tasks, workers, replan log)",
        "area",
        When::Always,
    ),
    b(
        BACKTAB,
        "S-Tab",
        Action::FocusPrev,
        "previous area",
        "",
        When::Always,
    ),
    b(HELP, "?", Action::Help, "all keys", "help", When::Always),
    b(
        QUIT,
        "q",
        Action::Quit,
        "quit (the run stays resumable)",
        "quit",
        When::Always,
    ),
    b(
        CTRL_C,
        "C-c",
        Action::ForceQuit,
        "quit (asks first while the run is live)",
        "",
        When::Always,
    ),
];

const TASKS: &[&[Binding]] = &[
    &[
        b(UP, "↑↓", Action::Up, "select subtask", "", When::Always),
        b(
            DOWN,
            "↓",
            Action::Down,
            "select next subtask",
            "",
            When::Always,
        ),
        b(PGUP, "PgUp", Action::PageUp, "page up", "", When::Always),
        b(
            PGDN,
            "PgDn",
            Action::PageDown,
            "page down",
            "",
            When::Always,
        ),
        b(HOME, "g", Action::Top, "first subtask", "", When::Always),
        b(END, "G", Action::Bottom, "last subtask", "", When::Always),
        b(
            &[Key::code(KeyCode::Enter)],
            "⏎",
            Action::Details,
            "details of the selected subtask",
            "details",
            When::Always,
        ),
        b(
            &[Key::ch('z')],
            "z",
            Action::Zoom,
            "zoom the selected worker's output",
            "zoom",
            When::SelRunning,
        ),
        b(
            &[Key::ch('f')],
            "f",
            Action::Filter,
            "filter by status",
            "",
            When::Always,
        ),
        b(
            &[Key::ch('o')],
            "o",
            Action::ToggleFinished,
            "show / hide finished subtasks",
            "",
            When::Always,
        ),
    ],
    DECISIONS,
    CHANGES,
    RUN_CONTROL,
    COMMON,
];

const PANES: &[&[Binding]] = &[
    &[
        b(
            &[Key::code(KeyCode::Left), Key::ch('h')],
            "←→",
            Action::Left,
            "previous / next worker pane",
            "pane",
            When::Always,
        ),
        b(
            &[Key::code(KeyCode::Right), Key::ch('l')],
            "→",
            Action::Right,
            "next worker pane",
            "",
            When::Always,
        ),
        b(
            UP,
            "↑↓",
            Action::Up,
            "scroll the pane (freezes it)",
            "scroll",
            When::Always,
        ),
        b(DOWN, "↓", Action::Down, "scroll down", "", When::Always),
        b(PGUP, "PgUp", Action::PageUp, "page up", "", When::Always),
        b(
            PGDN,
            "PgDn",
            Action::PageDown,
            "page down",
            "",
            When::Always,
        ),
        b(
            END,
            "G",
            Action::Follow,
            "follow the tail again",
            "follow",
            When::Always,
        ),
        b(
            &[Key::ch('z')],
            "z",
            Action::Zoom,
            "zoom this pane",
            "zoom",
            When::Always,
        ),
        b(
            &[Key::code(KeyCode::Enter)],
            "⏎",
            Action::Details,
            "details of this worker's subtask",
            "",
            When::Always,
        ),
    ],
    RUN_CONTROL,
    COMMON,
];

const REPLAN: &[&[Binding]] = &[
    &[
        b(
            UP,
            "↑↓",
            Action::Up,
            "select replan entry",
            "select",
            When::Always,
        ),
        b(DOWN, "↓", Action::Down, "next entry", "", When::Always),
        b(
            &[Key::code(KeyCode::Enter), Key::ch(' ')],
            "⏎",
            Action::Details,
            "expand / collapse the entry",
            "expand",
            When::Always,
        ),
    ],
    RUN_CONTROL,
    COMMON,
];

const ZOOM: &[&[Binding]] = &[
    &[
        b(
            &[Key::ch('z'), Key::code(KeyCode::Esc)],
            "z",
            Action::Back,
            "back to all panes",
            "unzoom",
            When::Always,
        ),
        b(
            UP,
            "↑↓",
            Action::Up,
            "scroll (freezes the pane)",
            "scroll",
            When::Always,
        ),
        b(DOWN, "↓", Action::Down, "scroll down", "", When::Always),
        b(PGUP, "PgUp", Action::PageUp, "page up", "", When::Always),
        b(
            PGDN,
            "PgDn",
            Action::PageDown,
            "page down",
            "",
            When::Always,
        ),
        b(
            END,
            "G",
            Action::Follow,
            "follow the tail again",
            "follow",
            When::Always,
        ),
        b(
            &[Key::code(KeyCode::Left), Key::ch('h')],
            "←→",
            Action::Left,
            "previous / next worker",
            "worker",
            When::Always,
        ),
        b(
            &[Key::code(KeyCode::Right), Key::ch('l')],
            "→",
            Action::Right,
            "next worker",
            "",
            When::Always,
        ),
    ],
    COMMON,
];

const DETAIL: &[&[Binding]] = &[
    &[
        b(
            &[Key::code(KeyCode::Esc), Key::code(KeyCode::Backspace)],
            "Esc",
            Action::Back,
            "back",
            "back",
            When::Always,
        ),
        b(UP, "↑↓", Action::Up, "scroll", "scroll", When::Always),
        b(DOWN, "↓", Action::Down, "scroll down", "", When::Always),
        b(PGUP, "PgUp", Action::PageUp, "page up", "", When::Always),
        b(
            PGDN,
            "PgDn",
            Action::PageDown,
            "page down",
            "",
            When::Always,
        ),
        b(HOME, "g", Action::Top, "top", "", When::Always),
    ],
    DECISIONS,
    CHANGES,
    COMMON,
];

/// Scrolling a full-screen view (diff, deliverable).
const SCROLL_VIEW: &[Binding] = &[
    b(UP, "↑↓", Action::Up, "scroll", "scroll", When::Always),
    b(DOWN, "↓", Action::Down, "scroll down", "", When::Always),
    b(
        PGUP,
        "PgUp",
        Action::PageUp,
        "page up",
        "page",
        When::Always,
    ),
    b(
        PGDN,
        "PgDn",
        Action::PageDown,
        "page down",
        "",
        When::Always,
    ),
    b(HOME, "g", Action::Top, "top", "", When::Always),
    b(END, "G", Action::Bottom, "bottom", "", When::Always),
];

const DIFF: &[&[Binding]] = &[
    &[b(
        &[Key::code(KeyCode::Esc), Key::code(KeyCode::Backspace)],
        "Esc",
        Action::Back,
        "back",
        "back",
        When::Always,
    )],
    SCROLL_VIEW,
    &[
        b(
            &[Key::ch(']')],
            "] [",
            Action::NextFile,
            "next / previous file",
            "file",
            When::Always,
        ),
        b(
            &[Key::ch('[')],
            "[",
            Action::PrevFile,
            "previous file",
            "",
            When::Always,
        ),
        b(
            &[Key::ch('R')],
            "R",
            Action::Rollback,
            "roll back this subtask's file changes (asks first)",
            "roll back",
            When::SelRollbackable,
        ),
    ],
    COMMON,
];

const SYNTHESIS: &[&[Binding]] = &[
    &[b(
        &[Key::ch('x')],
        "x",
        Action::Export,
        "export the run to Markdown",
        "export",
        When::Always,
    )],
    SCROLL_VIEW,
    &[b(
        &[Key::code(KeyCode::Esc), Key::ch('s')],
        "Esc",
        Action::Back,
        "back to the subtasks",
        "subtasks",
        When::Always,
    )],
    COMMON,
];

const HELP_VIEW: &[&[Binding]] = &[
    &[
        b(
            &[Key::code(KeyCode::Esc), Key::ch('?')],
            "Esc",
            Action::Back,
            "close help",
            "close",
            When::Always,
        ),
        b(UP, "↑↓", Action::Up, "scroll", "scroll", When::Always),
        b(DOWN, "↓", Action::Down, "scroll down", "", When::Always),
    ],
    &[b(
        QUIT,
        "q",
        Action::Quit,
        "quit (the run stays resumable)",
        "quit",
        When::Always,
    )],
    &[b(
        CTRL_C,
        "C-c",
        Action::ForceQuit,
        "quit",
        "",
        When::Always,
    )],
];

const ESC_BACK: &[Binding] = &[b(ESC, "Esc", Action::Back, "back", "", When::Always)];

/// The bindings of a context, in the order they are tried and shown.
pub fn bindings(ctx: Context) -> impl Iterator<Item = &'static Binding> {
    let groups: &'static [&'static [Binding]] = match ctx {
        Context::Tasks => TASKS,
        Context::Panes => PANES,
        Context::Replan => REPLAN,
        Context::Zoom => ZOOM,
        Context::Detail => DETAIL,
        Context::Diff => DIFF,
        Context::Synthesis => SYNTHESIS,
        Context::Help => HELP_VIEW,
    };
    let esc: &'static [Binding] = match ctx {
        Context::Panes | Context::Replan => ESC_BACK,
        _ => &[],
    };
    groups.iter().flat_map(|g| g.iter()).chain(esc.iter())
}

/// The first binding of `ctx` that matches `key` and whose condition holds.
pub fn lookup(
    ctx: Context,
    key: &KeyEvent,
    holds: impl Fn(When) -> bool,
) -> Option<&'static Binding> {
    bindings(ctx).find(|b| b.keys.iter().any(|k| k.matches(key)) && holds(b.when))
}

/// Every context with a title, for the help screen.
pub const CONTEXTS: &[(Context, &str)] = &[
    (Context::Tasks, "Subtask list"),
    (Context::Panes, "Worker panes (Tab to focus)"),
    (Context::Replan, "Replan log (Tab to focus)"),
    (Context::Zoom, "Zoomed pane"),
    (Context::Detail, "Subtask details"),
    (Context::Diff, "Diff of a subtask's changes (D)"),
    (Context::Synthesis, "Deliverable"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_context_has_help_and_quit() {
        for (ctx, _) in CONTEXTS {
            assert!(bindings(*ctx).any(|b| b.action == Action::Help), "{ctx:?}");
            assert!(bindings(*ctx).any(|b| b.action == Action::Quit), "{ctx:?}");
        }
    }

    #[test]
    fn conditions_pick_between_bindings_of_one_key() {
        let r = KeyEvent::new(KeyCode::Char('r'), KeyModifiers::NONE);
        let found = lookup(Context::Tasks, &r, |w| {
            w == When::SelEscalated || w == When::Always
        });
        assert_eq!(found.map(|b| b.action), Some(Action::Retry));
        assert!(lookup(Context::Tasks, &r, |w| w == When::Always).is_none());
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(
            lookup(Context::Tasks, &ctrl_c, |_| true).map(|b| b.action),
            Some(Action::ForceQuit)
        );
    }
}
