//! Resume never widens trust from a file. A run's journal lives on disk where a worker (or
//! anything else) may have written it, so a resumed run takes what it may do and where it
//! sends the key from today's configuration and flags, never from the journal:
//!
//! - provider, base URL (and so the key, which follows the provider) and workspace are
//!   today's. Where the journal names others, the person decides: headless refuses (exit 2)
//!   naming the flags that choose; the TUI shows the differences in a dialog before the
//!   engine starts (`tui::startup`).
//!   A flag given now is a decision already made.
//! - `allow_commands` and `read_only` take the stricter of the journal and today (unless
//!   given as a flag now), with a note: narrowing is always safe, widening needs the flag.
//!
//! Must not read the journal itself (`session` does) nor print: it returns text.

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

/// Why a resume was refused: the run and each difference. Its text ([`refusal`]) names the
/// flags that choose; the TUI shows the same as a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRefusal {
    pub run_id: String,
    pub found: Vec<Mismatch>,
}

impl std::fmt::Display for TrustRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(refusal(&self.run_id, &self.found).trim_end())
    }
}

/// Applies the rules to the configuration of a resumed run: refuses (the text says what
/// differs and which flags decide) when the journal names another provider, base URL or
/// workspace and the person has not confirmed today's; narrows `allow_commands` and
/// `read_only`. Returns the notes to show.
pub fn apply(
    config: &mut Config,
    original: &RunSettings,
    run_id: &str,
) -> Result<Vec<String>, TrustRefusal> {
    let found = mismatches(config, original);
    let mut notes = Vec::new();
    if !found.is_empty() {
        if !config.resume_confirmed {
            return Err(TrustRefusal {
                run_id: run_id.to_string(),
                found,
            });
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

/// Journal text made safe for a terminal, on one line: control characters shown as the
/// sanitizer shows them (`\x1b`, `\r`, `\u{202e}`), newlines and tabs as `\n`, `\t`; cut
/// to 200 characters.
pub fn visible(s: &str) -> String {
    let mut flat = String::new();
    for c in s.chars().take(200) {
        match c {
            '\n' => flat.push_str("\\n"),
            '\t' => flat.push_str("\\t"),
            c => flat.push(c),
        }
    }
    let mut out = crate::text::sanitize(&flat).into_owned();
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
        assert!(text.contains("http://evil\\x1b]0;x\\x07"), "{text}");
        assert!(text.contains("--base-url http://evil"), "{text}");
    }
}
