//! Text on screen to somewhere else: the text in view (a report, a worker's output, the
//! deliverable, the message log), the clipboard through OSC 52, and `$PAGER`/`$EDITOR`.
//!
//! Owns picking the text and encoding/handing it over. Must not touch the terminal modes
//! (the runtime suspends and restores them around a program) nor change the run.
//! Decisions: the clipboard goes through the terminal (OSC 52), which works over SSH and
//! needs no clipboard program; terminals that do not support it ignore it, so the footer
//! says "sent to the clipboard (OSC 52)". A program gets a copy in a temporary file that
//! is removed afterwards; nothing it writes is read back.

use std::path::PathBuf;

use super::app::{Focus, Screen, Ui};
use super::layout::{pane_ids, selected_pane};

/// Which program opens the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// `$PAGER`, else `less`.
    Pager,
    /// `$VISUAL`, else `$EDITOR`, else `vi`.
    Editor,
}

impl Opener {
    /// The command line to run (program and its arguments, from the environment).
    pub fn command(self) -> Vec<String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let line = match self {
            Opener::Pager => var("PAGER").unwrap_or_else(|| "less".to_string()),
            Opener::Editor => var("VISUAL")
                .or_else(|| var("EDITOR"))
                .unwrap_or_else(|| "vi".to_string()),
        };
        line.split_whitespace().map(str::to_string).collect()
    }
}

/// The text in view and what it is, for `y`, `v` and `V`.
pub fn text_in_view(ui: &Ui) -> Option<(String, String)> {
    if ui.log {
        let text: Vec<String> = ui
            .messages
            .iter()
            .map(|(at, m)| format!("{} {m}", at.format("%H:%M:%S")))
            .collect();
        return (!text.is_empty()).then(|| ("the message log".to_string(), text.join("\n")));
    }
    match ui.screen {
        Screen::Synthesis => ui
            .state
            .synthesis
            .as_ref()
            .map(|s| ("the deliverable".to_string(), s.deliverable.clone())),
        Screen::Detail(id) | Screen::Diff(id) => subtask_text(ui, id),
        Screen::Editor => None,
        Screen::Graph => {
            let g = crate::state::graph::graph(&ui.state, ui.now);
            Some((
                "the plan graph".to_string(),
                crate::export::graph::render_text(&ui.state, &g),
            ))
        }
        Screen::Main => {
            let pane = match (ui.zoom, ui.focus) {
                (Some(z), _) => Some(z),
                (None, Focus::Panes) => selected_pane(ui, &pane_ids(ui)),
                _ => None,
            };
            match pane {
                Some(p) => {
                    let buf = ui.outputs.pane(p)?;
                    let text: Vec<&str> = buf.lines().map(|l| l.text.as_str()).collect();
                    let what = p.map_or("the orchestrator's output".to_string(), |id| {
                        format!("{id}'s output")
                    });
                    (!text.is_empty()).then(|| (what, text.join("\n")))
                }
                None => ui.selected_subtask().and_then(|id| subtask_text(ui, id)),
            }
        }
    }
}

/// A subtask's report (its full output), else its description.
fn subtask_text(ui: &Ui, id: crate::protocol::SubtaskId) -> Option<(String, String)> {
    let s = ui.state.subtask(id)?;
    match &s.output {
        Some(out) if !out.trim().is_empty() => Some((format!("{id}'s report"), out.clone())),
        _ => Some((
            format!("{id}'s description"),
            format!("{}\n\n{}", s.title, s.description),
        )),
    }
}

/// The OSC 52 sequence that puts `text` on the clipboard.
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", base64(text.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes the text to a private temporary file for a program to open.
pub fn temp_file(text: &str) -> std::io::Result<PathBuf> {
    use std::io::Write;
    let name = format!(
        "baton-view-{}-{}.txt",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let path = std::env::temp_dir().join(name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path)?;
    f.write_all(text.as_bytes())?;
    Ok(path)
}

/// Runs the program on the file and waits for it (the engine keeps running meanwhile).
pub async fn run(opener: Opener, path: &std::path::Path) -> Result<(), String> {
    let cmd = opener.command();
    let Some((program, args)) = cmd.split_first() else {
        return Err("no program to open the text with".to_string());
    };
    let status = tokio::process::Command::new(program)
        .args(args)
        .arg(path)
        .status()
        .await
        .map_err(|e| format!("could not run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} exited with {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
