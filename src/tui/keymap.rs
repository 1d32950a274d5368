//! Key bindings as data: context → key → action, each with the description that the footer
//! and the `?` help are built from, so help never drifts from behaviour. The defaults are the
//! table in `bindings`; `[keys]` in the config rebinds actions by name (checked here, with a
//! clear error for an unknown action, an unreadable key or a key taken twice in one place).
//!
//! Owns which key does what where. Must not perform actions (that is `input`) nor draw (that
//! is `footer`/`help`). Modals list their own choices as data in their files.

use std::collections::BTreeMap;
use std::sync::LazyLock;

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
    /// `/`: search subtasks by title and description.
    Search,
    /// `:` or `#`: jump to a subtask by number.
    Jump,
    /// Copy the text in view to the clipboard (OSC 52).
    Copy,
    /// Open the text in view in `$PAGER`.
    Pager,
    /// Open the text in view in `$EDITOR`.
    OpenEditor,
    /// The message log (every notice so far).
    Messages,
    /// Clear and redraw the whole screen.
    Repaint,
    /// The plan as a graph with its critical path.
    Graph,
    /// The selected subtask's dispatch policy: auto → ask → hold → auto.
    CycleDispatch,
    /// Steer the selected running worker (pause, note, brief, role, model, restart).
    Steer,
    /// Fork the run at a decision (the detail view).
    Fork,
}

/// Every action with its name in `[keys]`.
pub const ACTION_NAMES: &[(Action, &str)] = &[
    (Action::Approve, "approve"),
    (Action::Defer, "defer"),
    (Action::Escalate, "escalate"),
    (Action::ApproveAll, "approve_all"),
    (Action::Undefer, "undefer"),
    (Action::Edit, "edit"),
    (Action::Add, "add"),
    (Action::Cancel, "cancel"),
    (Action::Retry, "resolve"),
    (Action::TogglePause, "pause"),
    (Action::MoreWorkers, "more_workers"),
    (Action::FewerWorkers, "fewer_workers"),
    (Action::Details, "details"),
    (Action::Zoom, "zoom"),
    (Action::NextNeed, "next_need"),
    (Action::Filter, "filter"),
    (Action::ToggleFinished, "toggle_finished"),
    (Action::FocusNext, "next_area"),
    (Action::FocusPrev, "previous_area"),
    (Action::Up, "up"),
    (Action::Down, "down"),
    (Action::PageUp, "page_up"),
    (Action::PageDown, "page_down"),
    (Action::Top, "top"),
    (Action::Bottom, "bottom"),
    (Action::Left, "left"),
    (Action::Right, "right"),
    (Action::Follow, "follow"),
    (Action::Synthesis, "deliverable"),
    (Action::Export, "export"),
    (Action::Help, "help"),
    (Action::Back, "back"),
    (Action::Quit, "quit"),
    (Action::ForceQuit, "force_quit"),
    (Action::Diff, "diff"),
    (Action::Rollback, "rollback"),
    (Action::NextFile, "next_file"),
    (Action::PrevFile, "previous_file"),
    (Action::Search, "search"),
    (Action::Jump, "jump"),
    (Action::Copy, "copy"),
    (Action::Pager, "pager"),
    (Action::OpenEditor, "editor"),
    (Action::Messages, "messages"),
    (Action::Repaint, "repaint"),
    (Action::Graph, "graph"),
    (Action::CycleDispatch, "dispatch_policy"),
    (Action::Steer, "steer"),
    (Action::Fork, "fork"),
];

impl Action {
    pub fn name(self) -> &'static str {
        ACTION_NAMES
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("?", |(_, n)| n)
    }
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
    /// The message log.
    Log,
    /// The plan graph.
    Graph,
}

/// Every context with a title, for the help screen (the one you are in comes first).
pub const CONTEXTS: &[(Context, &str)] = &[
    (Context::Tasks, "Subtask list"),
    (Context::Panes, "Worker panes (Tab to focus)"),
    (Context::Replan, "Replan log (Tab to focus)"),
    (Context::Zoom, "Zoomed pane"),
    (Context::Detail, "Subtask details"),
    (Context::Diff, "Diff of a subtask's changes (D)"),
    (Context::Synthesis, "Deliverable"),
    (Context::Log, "Message log (m)"),
    (Context::Graph, "Plan graph (P)"),
    (Context::Help, "This help"),
];

/// A key as bound: code plus modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

/// Names of keys that are not one character, as written in `[keys]` and shown in help.
const NAMED: &[(&str, KeyCode)] = &[
    ("Enter", KeyCode::Enter),
    ("Esc", KeyCode::Esc),
    ("Tab", KeyCode::Tab),
    ("S-Tab", KeyCode::BackTab),
    ("Backspace", KeyCode::Backspace),
    ("Space", KeyCode::Char(' ')),
    ("Up", KeyCode::Up),
    ("Down", KeyCode::Down),
    ("Left", KeyCode::Left),
    ("Right", KeyCode::Right),
    ("PgUp", KeyCode::PageUp),
    ("PgDn", KeyCode::PageDown),
    ("Home", KeyCode::Home),
    ("End", KeyCode::End),
    ("Delete", KeyCode::Delete),
    ("Insert", KeyCode::Insert),
];

impl Key {
    /// Reads `a`, `A`, `?`, `C-u`, `M-x`, `Enter`, `PgUp`, `S-Tab`, `F5`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not a key; write one character (`a`, `?`), a name (Enter, Esc, Tab, \
                 S-Tab, Space, Up, Down, Left, Right, PgUp, PgDn, Home, End, Backspace, F1-F12) \
                 or C-/M- before one (C-u, M-x)"
            )
        };
        let (mods, rest) = if let Some(r) = text.strip_prefix("C-") {
            (KeyModifiers::CONTROL, r)
        } else if let Some(r) = text.strip_prefix("M-") {
            (KeyModifiers::ALT, r)
        } else {
            (KeyModifiers::NONE, text)
        };
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => KeyCode::Char(c),
            _ => match NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(rest)) {
                Some((_, code)) => *code,
                None => match rest.strip_prefix(['F', 'f']).map(str::parse::<u8>) {
                    Some(Ok(n)) if (1..=12).contains(&n) => KeyCode::F(n),
                    _ => return Err(bad()),
                },
            },
        };
        if code == KeyCode::BackTab && mods != KeyModifiers::NONE {
            return Err(bad());
        }
        Ok(Self { code, mods })
    }

    /// How the key is written in help (`C-u`, `PgUp`, `a`).
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            code => NAMED
                .iter()
                .find(|(_, c)| *c == code)
                .map_or_else(|| format!("{code:?}"), |(n, _)| n.to_string()),
        };
        if self.mods.contains(KeyModifiers::CONTROL) {
            format!("C-{base}")
        } else if self.mods.contains(KeyModifiers::ALT) {
            format!("M-{base}")
        } else {
            base
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
    /// The run is live and dispatch is not paused.
    CanPause,
    /// The run is live and dispatch is paused.
    CanResume,
    /// The selection has a live pane.
    SelRunning,
    /// The selected subtask changed files.
    SelHasFiles,
    /// The selected subtask has changes that can be rolled back (and is not running).
    SelRollbackable,
    /// The selected subtask's dispatch policy can be set (not running, not finished).
    SelDispatchable,
    /// The selected (or focused pane's) worker runs and can be steered.
    SelSteerable,
    /// The run has decisions and a directory to fork from.
    CanFork,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub keys: Vec<Key>,
    /// How the key is written in the footer and help.
    pub label: String,
    pub action: Action,
    pub description: &'static str,
    /// Short label for the footer; empty: only in the `?` help.
    pub footer: &'static str,
    pub when: When,
}

fn parse_keys(text: &str) -> Vec<Key> {
    text.split_whitespace()
        .filter_map(|k| Key::parse(k).ok())
        .collect()
}

fn label_of(keys: &[Key]) -> String {
    keys.first().map(Key::name).unwrap_or_default()
}

/// Every binding of every context.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    contexts: Vec<(Context, Vec<Binding>)>,
}

static DEFAULT: LazyLock<Keymap> = LazyLock::new(Keymap::build);

impl Default for Keymap {
    fn default() -> Self {
        DEFAULT.clone()
    }
}

impl Keymap {
    fn build() -> Self {
        let contexts = CONTEXTS
            .iter()
            .map(|(ctx, _)| {
                let rows = super::bindings::groups(*ctx).iter().flat_map(|g| g.iter());
                let list = rows
                    .map(|(keys, label, action, description, footer, when)| {
                        let keys = parse_keys(keys);
                        let label = if label.is_empty() {
                            label_of(&keys)
                        } else {
                            label.to_string()
                        };
                        Binding {
                            keys,
                            label,
                            action: *action,
                            description,
                            footer,
                            when: *when,
                        }
                    })
                    .collect();
                (*ctx, list)
            })
            .collect();
        Self { contexts }
    }

    /// The defaults with `[keys]` applied: `action = "key"` or `action = ["key", ...]`
    /// replaces that action's keys everywhere it is bound.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut map = Self::default();
        let mut changed: Vec<Action> = Vec::new();
        for (name, keys) in overrides {
            let action = ACTION_NAMES
                .iter()
                .find(|(_, n)| n == name)
                .map(|(a, _)| *a)
                .ok_or_else(|| {
                    let names: Vec<&str> = ACTION_NAMES.iter().map(|(_, n)| *n).collect();
                    format!(
                        "[keys] {name}: no such action; the actions are: {}",
                        names.join(", ")
                    )
                })?;
            if keys.is_empty() {
                return Err(format!("[keys] {name}: give at least one key"));
            }
            let keys = keys
                .iter()
                .map(|k| Key::parse(k.trim()).map_err(|e| format!("[keys] {name}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            for (_, list) in &mut map.contexts {
                for b in list.iter_mut().filter(|b| b.action == action) {
                    b.keys = keys.clone();
                    b.label = keys.iter().map(Key::name).collect::<Vec<_>>().join(" ");
                }
            }
            changed.push(action);
        }
        map.check(&changed)?;
        Ok(map)
    }

    /// A rebound key must not also be another action's key in the same place.
    fn check(&self, changed: &[Action]) -> Result<(), String> {
        for (ctx, list) in &self.contexts {
            for b in list.iter().filter(|b| changed.contains(&b.action)) {
                for k in &b.keys {
                    let other = list
                        .iter()
                        .find(|o| o.action != b.action && o.keys.iter().any(|ok| ok == k));
                    if let Some(o) = other {
                        let place = CONTEXTS
                            .iter()
                            .find(|(c, _)| c == ctx)
                            .map_or("", |(_, t)| t);
                        return Err(format!(
                            "[keys] {}: `{}` already means {} in \"{place}\"; rebind {} too or \
                             pick another key",
                            b.action.name(),
                            k.name(),
                            o.action.name(),
                            o.action.name()
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The bindings of a context, in the order they are tried and shown.
    pub fn bindings(&self, ctx: Context) -> impl Iterator<Item = &Binding> {
        self.contexts
            .iter()
            .filter(move |(c, _)| *c == ctx)
            .flat_map(|(_, list)| list.iter())
    }

    /// The first binding of `ctx` that matches `key` and whose condition holds.
    pub fn lookup(
        &self,
        ctx: Context,
        key: &KeyEvent,
        holds: impl Fn(When) -> bool,
    ) -> Option<&Binding> {
        self.bindings(ctx)
            .find(|b| b.keys.iter().any(|k| k.matches(key)) && holds(b.when))
    }
}

/// The default bindings of a context.
pub fn bindings(ctx: Context) -> impl Iterator<Item = &'static Binding> {
    DEFAULT.bindings(ctx)
}

/// The first default binding of `ctx` that matches `key` and whose condition holds.
pub fn lookup(
    ctx: Context,
    key: &KeyEvent,
    holds: impl Fn(When) -> bool,
) -> Option<&'static Binding> {
    DEFAULT.lookup(ctx, key, holds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_context_has_help_and_quit_and_every_key_parses() {
        for (ctx, _) in CONTEXTS.iter().filter(|(c, _)| *c != Context::Help) {
            assert!(bindings(*ctx).any(|b| b.action == Action::Help), "{ctx:?}");
            assert!(bindings(*ctx).any(|b| b.action == Action::Quit), "{ctx:?}");
            for (keys, ..) in crate::tui::bindings::groups(*ctx)
                .iter()
                .flat_map(|g| g.iter())
            {
                for k in keys.split_whitespace() {
                    assert!(Key::parse(k).is_ok(), "{k}");
                }
            }
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

    #[test]
    fn keys_parse_and_print_back() {
        for k in [
            "a", "A", "?", "C-u", "M-x", "Enter", "PgUp", "S-Tab", "Space", "F5",
        ] {
            assert_eq!(Key::parse(k).map(|k| k.name()), Ok(k.to_string()));
        }
        assert!(Key::parse("Hyper-q").is_err());
        assert!(Key::parse("").is_err());
    }

    #[test]
    fn overrides_rebind_and_are_checked() {
        let o = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
            pairs
                .iter()
                .map(|(a, k)| (a.to_string(), k.iter().map(|s| s.to_string()).collect()))
                .collect()
        };
        let map = Keymap::with_overrides(&o(&[("approve", &["y"]), ("copy", &["C-y"])])).unwrap();
        let y = KeyEvent::new(KeyCode::Char('y'), KeyModifiers::NONE);
        let found = map.lookup(Context::Tasks, &y, |_| true).map(|b| b.action);
        assert_eq!(found, Some(Action::Approve));
        assert!(
            map.bindings(Context::Tasks)
                .any(|b| b.label == "y" && b.footer == "approve")
        );
        let e = Keymap::with_overrides(&o(&[("aprove", &["y"])])).unwrap_err();
        assert!(e.contains("no such action") && e.contains("approve"), "{e}");
        let e = Keymap::with_overrides(&o(&[("approve", &["Ctrl+y"])])).unwrap_err();
        assert!(e.contains("is not a key"), "{e}");
        let e = Keymap::with_overrides(&o(&[("approve", &["d"])])).unwrap_err();
        assert!(e.contains("already means defer"), "{e}");
    }
}
