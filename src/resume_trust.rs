//! Resume never widens trust from a file. A run's journal lives on disk where a worker (or
//! anything else) may have written it, so a resumed run takes what it may do and where it
//! sends the key from today's configuration and flags, never from the journal:
//!
//! - provider, base URL (and so the key, which follows the provider) and workspace are
//!   today's. Where the journal names others, the person decides: headless refuses (exit 2)
//!   naming the flags that choose; the TUI shows the differences and asks before starting.
//!   A flag given now is a decision already made.
//! - `allow_commands` and `read_only` take the stricter of the journal and today (unless
//!   given as a flag now), with a note: narrowing is always safe, widening needs the flag.
//!
//! Must not read the journal itself (`session` does) nor print: it returns text.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::protocol::RunSettings;

/// A setting whose value in the run's journal differs from today's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// `provider`, `base_url` or `workspace`.
    pub key: &'static str,
    /// The flag that sets it (`--base-url`).
    pub flag: &'static str,
    pub journal: Option<String>,
    pub today: Option<String>,
}

/// The settings of `original` (the journal's `run_started`) that differ from today's
/// configuration and were not given as flags now.
pub fn mismatches(today: &Config, original: &RunSettings) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let provider = today.provider.to_string();
    if !today.flagged("provider") && provider != original.provider {
        out.push(Mismatch {
            key: "provider",
            flag: "--provider",
            journal: Some(original.provider.clone()),
            today: Some(provider.clone()),
        });
    }
    if !today.flagged("base_url") && today.base_url != original.base_url {
        out.push(Mismatch {
            key: "base_url",
            flag: "--base-url",
            journal: Some(original.base_url.clone()).filter(|u| !u.is_empty()),
            today: Some(today.base_url.clone()).filter(|u| !u.is_empty()),
        });
    }
    let ws_today = today.workspace.as_deref().map(real);
    let ws_journal = original.workspace.as_deref().map(|w| real(Path::new(w)));
    if !today.flagged("workspace") && ws_today != ws_journal {
        out.push(Mismatch {
            key: "workspace",
            flag: "--workspace",
            journal: ws_journal.map(|p| p.display().to_string()),
            today: ws_today.map(|p| p.display().to_string()),
        });
    }
    out
}

/// Applies the rules to the configuration of a resumed run: refuses (the text says what
/// differs and which flags decide) when the journal names another provider, base URL or
/// workspace and the person has not confirmed today's; narrows `allow_commands` and
/// `read_only`. Returns the notes to show.
pub fn apply(
    config: &mut Config,
    original: &RunSettings,
    run_id: &str,
) -> Result<Vec<String>, String> {
    let found = mismatches(config, original);
    let mut notes = Vec::new();
    if !found.is_empty() {
        if !config.resume_confirmed {
            return Err(refusal(run_id, &found));
        }
        notes.push(format!(
            "continuing with today's {} (the run's journal named others)",
            found.iter().map(|m| m.key).collect::<Vec<_>>().join(", ")
        ));
    }
    if !config.flagged("allow_commands") && config.allow_commands != original.allow_commands {
        let (journal, today) = (original.allow_commands, config.allow_commands);
        config.allow_commands = false;
        notes.push(format!(
            "commands need approval: the run's journal says allow_commands = {journal}, today's \
             configuration says {today}; give --allow-commands to run them without asking"
        ));
    }
    if !config.flagged("read_only") && config.read_only != original.read_only {
        config.read_only = true;
        notes.push(
            "the workspace is read-only: the run's journal and today's configuration differ on \
             read_only, and the stricter one applies"
                .to_string(),
        );
    }
    Ok(notes)
}

/// The refusal text: each difference, and the flags that choose either value.
pub fn refusal(run_id: &str, found: &[Mismatch]) -> String {
    let shown = |v: &Option<String>| match v {
        Some(v) => format!("`{}`", visible(v)),
        None => "none".to_string(),
    };
    let mut text = format!(
        "run {run_id} was started with settings that differ from today's configuration, and \
         Baton does not take them from the run's journal (a file that a worker could have \
         written):\n"
    );
    for m in found {
        text.push_str(&format!(
            "  {}: the journal says {}, today's configuration says {}\n",
            m.key,
            shown(&m.journal),
            shown(&m.today)
        ));
    }
    text.push_str("Choose with flags and resume again:\n");
    for m in found {
        if let Some(today) = &m.today {
            text.push_str(&format!(
                "  {} {}   (keep today's)\n",
                m.flag,
                visible(today)
            ));
        }
        if let Some(journal) = &m.journal {
            text.push_str(&format!(
                "  {} {}   (the run's own; only if you trust it)\n",
                m.flag,
                visible(journal)
            ));
        }
    }
    text
}

/// The TUI's question before its screen opens: shows `refusal` and asks whether to
/// continue with today's settings. Anything but `y`/`yes` (or end of input) is no.
pub fn ask(refusal: &str, mut input: impl BufRead, mut output: impl Write) -> bool {
    let _ = write!(
        output,
        "{refusal}Continue with today's settings instead? [y/N] "
    );
    let _ = output.flush();
    let mut answer = String::new();
    if input.read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Journal text made safe for a terminal: control characters (ESC, CR, ...) shown as
/// escapes, cut to 200 characters.
fn visible(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(200)
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// A path with symbolic links resolved when it exists (so two spellings compare equal).
fn real(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ask_accepts_only_yes() {
        for (answer, expected) in [
            ("y\n", true),
            ("YES\n", true),
            ("\n", false),
            ("n\n", false),
            ("", false),
        ] {
            let mut out = Vec::new();
            assert_eq!(
                ask("differs\n", answer.as_bytes(), &mut out),
                expected,
                "{answer:?}"
            );
            assert!(String::from_utf8_lossy(&out).contains("[y/N]"));
        }
    }

    #[test]
    fn journal_text_is_made_visible() {
        let text = refusal(
            "r1",
            &[Mismatch {
                key: "base_url",
                flag: "--base-url",
                journal: Some("http://evil\u{1b}]0;x\u{7}".into()),
                today: None,
            }],
        );
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("http://evil\\u{1b}]0;x\\u{7}"), "{text}");
        assert!(text.contains("--base-url http://evil"), "{text}");
    }
}
