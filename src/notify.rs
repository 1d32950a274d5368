//! Notifications: telling the person that a run needs them or has finished, when they may
//! not be looking. The terminal bell, OSC 9 / OSC 777 desktop notifications, and
//! `--notify-command CMD`.
//!
//! Owns: what is written to the terminal for a notice (bytes), when (the mode and whether
//! the terminal has focus), which OSC flavour a terminal gets, and how the notify command is
//! run. A leaf: the TUI's runtime feeds it focus changes and notices and writes the bytes.
//! Must not draw or decide what needs a person (`state::needs_person` does).
//!
//! Decisions (see docs/notifications.md):
//! - `bell` rings when something new needs the person (as before, focused or not) and when
//!   the run finishes while the terminal is not focused.
//! - `osc` adds a desktop notification (OSC 9, or OSC 777 on terminals known to speak it;
//!   wrapped for tmux) for either occasion, only while the terminal is not focused.
//! - Until the terminal reports focus (crossterm focus events), it counts as not focused:
//!   a terminal that never reports focus still gets its notifications.
//! - The command runs only while not focused, directly (no shell): CMD is split on
//!   whitespace (no quoting), the message is its last argument, sanitised of control
//!   characters and at most [`MAX_MESSAGE_CHARS`] characters; API key variables are removed
//!   from its environment; its output is discarded and Baton never waits for it.

use std::ffi::OsString;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

/// The longest message a notification carries.
pub const MAX_MESSAGE_CHARS: usize = 200;
/// The title of desktop notifications.
pub const TITLE: &str = "Baton";
/// Environment variables never passed to the notify command.
const SECRET_VARS: &[&str] = &["ANTHROPIC_API_KEY", "OPENAI_API_KEY"];

/// `notify` in the config file (`[ui] notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyMode {
    /// The terminal bell only.
    #[default]
    Bell,
    /// The bell, plus a desktop notification through the terminal (OSC 9 / OSC 777).
    Osc,
    /// Nothing (a `--notify-command` still runs).
    Off,
}

impl std::fmt::Display for NotifyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotifyMode::Bell => "bell",
            NotifyMode::Osc => "osc",
            NotifyMode::Off => "off",
        })
    }
}

/// Which escape sequence carries a desktop notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OscFlavor {
    /// `ESC ] 9 ; message BEL`: iTerm2, WezTerm, kitty, Windows Terminal, ConEmu.
    Osc9,
    /// `ESC ] 777 ; notify ; title ; message BEL`: urxvt, foot, Ghostty.
    Osc777,
}

/// The terminal Baton runs in, as far as notifications care (from the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalKind {
    /// `TERM`.
    pub term: String,
    /// `TERM_PROGRAM`.
    pub term_program: String,
    /// Inside tmux (`TMUX` is set): escape sequences go through its passthrough.
    pub tmux: bool,
}

impl TerminalKind {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        Self {
            term: var("TERM"),
            term_program: var("TERM_PROGRAM"),
            tmux: std::env::var_os("TMUX").is_some_and(|v| !v.is_empty()),
        }
    }

    /// OSC 777 for the terminals known to want it, OSC 9 for everything else.
    pub fn flavor(&self) -> OscFlavor {
        let program = self.term_program.to_ascii_lowercase();
        let term = self.term.to_ascii_lowercase();
        if program.contains("ghostty")
            || term.starts_with("rxvt-unicode")
            || term.starts_with("foot")
            || term.contains("ghostty")
        {
            OscFlavor::Osc777
        } else {
            OscFlavor::Osc9
        }
    }
}

/// Why the person is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// Something new needs a person (approval, escalation, scope alert).
    NeedsPerson,
    /// The run ended (complete, failed or stopped).
    Finished,
}

/// Text fit for a terminal escape sequence or an argument: control characters (C0, DEL,
/// C1) become spaces, runs of spaces one, at most [`MAX_MESSAGE_CHARS`] characters.
pub fn sanitize(text: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        if count == MAX_MESSAGE_CHARS {
            out.pop();
            out.push('…');
            break;
        }
        last_space = c == ' ';
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

/// Decides and produces notifications. The runtime owns one.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub mode: NotifyMode,
    /// `--notify-command`, split into program and arguments.
    pub command: Option<Vec<String>>,
    pub terminal: TerminalKind,
    /// `None` until the terminal reports focus.
    focused: Option<bool>,
}

impl Notifier {
    pub fn new(mode: NotifyMode, command: Option<Vec<String>>, terminal: TerminalKind) -> Self {
        Self {
            mode,
            command: command.filter(|c| !c.is_empty()),
            terminal,
            focused: None,
        }
    }

    /// The terminal gained (`true`) or lost focus.
    pub fn set_focused(&mut self, focused: bool) {
        self.focused = Some(focused);
    }

    /// The person is looking at this terminal, as far as we know.
    pub fn focused(&self) -> bool {
        self.focused == Some(true)
    }

    /// What to write to the terminal for this notice (empty: nothing).
    pub fn terminal_bytes(&self, occasion: Occasion, message: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if self.mode == NotifyMode::Off {
            return out;
        }
        let away = !self.focused();
        if occasion == Occasion::NeedsPerson || away {
            out.push(0x07);
        }
        if self.mode == NotifyMode::Osc && away {
            out.extend(self.osc(&sanitize(message)));
        }
        out
    }

    /// The desktop-notification sequence for an already sanitised message.
    fn osc(&self, message: &str) -> Vec<u8> {
        let seq = match self.terminal.flavor() {
            OscFlavor::Osc9 => format!("\x1b]9;{TITLE}: {message}\x07"),
            OscFlavor::Osc777 => format!("\x1b]777;notify;{TITLE};{message}\x07"),
        };
        if self.terminal.tmux {
            // tmux passes a sequence through when each ESC in it is doubled.
            format!("\x1bPtmux;{}\x1b\\", seq.replace('\x1b', "\x1b\x1b")).into_bytes()
        } else {
            seq.into_bytes()
        }
    }

    /// The notify command for this message, when one is configured and the terminal is not
    /// focused. Not started: [`spawn`] does that.
    pub fn command_for(&self, message: &str) -> Option<Command> {
        if self.focused() {
            return None;
        }
        let (program, args) = self.command.as_ref()?.split_first()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .arg(OsString::from(format!("{TITLE}: {}", sanitize(message))))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for var in SECRET_VARS {
            cmd.env_remove(var);
        }
        Some(cmd)
    }
}

/// Splits `--notify-command CMD` into program and arguments (whitespace; no quoting, no
/// shell). `None` when it is blank.
pub fn split_command(cmd: &str) -> Option<Vec<String>> {
    let words: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
    (!words.is_empty()).then_some(words)
}

/// Starts the command and reaps it in the background; a failure is logged, never fatal.
/// Returns the child's process id when it started. Must be called inside a tokio runtime.
pub fn spawn(cmd: Command) -> Option<u32> {
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(false);
    match cmd.spawn() {
        Ok(mut child) => {
            let pid = child.id();
            tokio::spawn(async move {
                if let Err(e) = child.wait().await {
                    tracing::warn!("the notify command did not finish cleanly: {e}");
                }
            });
            pid
        }
        Err(e) => {
            tracing::warn!("cannot run the notify command: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notifier(mode: NotifyMode, term: &str, tmux: bool) -> Notifier {
        Notifier::new(
            mode,
            None,
            TerminalKind {
                term: term.into(),
                term_program: String::new(),
                tmux,
            },
        )
    }

    #[test]
    fn bell_mode_rings_for_a_need_always_and_for_the_end_only_when_away() {
        let mut n = notifier(NotifyMode::Bell, "xterm-256color", false);
        n.set_focused(true);
        assert_eq!(n.terminal_bytes(Occasion::NeedsPerson, "x"), b"\x07");
        assert_eq!(n.terminal_bytes(Occasion::Finished, "x"), b"");
        n.set_focused(false);
        assert_eq!(n.terminal_bytes(Occasion::Finished, "done"), b"\x07");
    }

    #[test]
    fn osc_mode_sends_a_desktop_notification_only_when_not_focused() {
        let mut n = notifier(NotifyMode::Osc, "xterm-256color", false);
        // Focus unknown counts as away.
        assert_eq!(
            n.terminal_bytes(Occasion::NeedsPerson, "1 waits for you"),
            b"\x07\x1b]9;Baton: 1 waits for you\x07"
        );
        n.set_focused(true);
        assert_eq!(n.terminal_bytes(Occasion::NeedsPerson, "x"), b"\x07");
        assert_eq!(n.terminal_bytes(Occasion::Finished, "x"), b"");
        n.set_focused(false);
        assert_eq!(
            n.terminal_bytes(Occasion::Finished, "run complete"),
            b"\x07\x1b]9;Baton: run complete\x07"
        );
    }

    #[test]
    fn osc_777_for_terminals_that_speak_it_and_tmux_passthrough() {
        let n = notifier(NotifyMode::Osc, "foot", false);
        assert_eq!(
            n.terminal_bytes(Occasion::Finished, "done"),
            b"\x07\x1b]777;notify;Baton;done\x07"
        );
        let n = notifier(NotifyMode::Osc, "screen-256color", true);
        assert_eq!(
            n.terminal_bytes(Occasion::Finished, "done"),
            b"\x07\x1bPtmux;\x1b\x1b]9;Baton: done\x07\x1b\\"
        );
    }

    #[test]
    fn off_writes_nothing() {
        let n = notifier(NotifyMode::Off, "xterm", false);
        assert!(n.terminal_bytes(Occasion::NeedsPerson, "x").is_empty());
        assert!(n.terminal_bytes(Occasion::Finished, "x").is_empty());
    }

    #[test]
    fn model_text_cannot_end_or_inject_an_escape_sequence() {
        let n = notifier(NotifyMode::Osc, "xterm", false);
        let bytes = n.terminal_bytes(
            Occasion::Finished,
            "done\x07\x1b]52;c;cGF3bmVk\x07\u{9b}31m\nnext",
        );
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, "\x07\x1b]9;Baton: done ]52;c;cGF3bmVk 31m next\x07");
    }

    #[test]
    fn messages_are_cut_to_the_limit() {
        let s = sanitize(&"a".repeat(500));
        assert_eq!(s.chars().count(), MAX_MESSAGE_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(sanitize("  a \t\r\n b  "), "a b");
    }

    #[test]
    fn the_command_gets_the_message_as_one_argument_without_a_shell_or_keys() {
        let mut n = Notifier::new(
            NotifyMode::Off,
            split_command("notify-send  -a baton"),
            TerminalKind::default(),
        );
        let cmd = n.command_for("run $(rm -rf ~) done; \x1b[2J").unwrap();
        assert_eq!(cmd.get_program(), "notify-send");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["-a", "baton", "Baton: run $(rm -rf ~) done; [2J"]);
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_str().unwrap().to_string())
            .collect();
        assert!(removed.contains(&"ANTHROPIC_API_KEY".to_string()));
        assert!(removed.contains(&"OPENAI_API_KEY".to_string()));
        n.set_focused(true);
        assert!(n.command_for("x").is_none());
        assert!(split_command("   ").is_none());
    }
}
