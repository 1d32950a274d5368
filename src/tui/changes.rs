//! What a subtask changed in the workspace, for the person to review: the list of files with
//! +/- line counts in the detail view, the diff view (`D`), the files list of the synthesis,
//! and rolling back after the run has ended.
//!
//! Owns loading the diffs (from `tools::diff`, when a view opens or a change arrives, never
//! while drawing) and drawing them. Drawing only reads the `Ui`; only visible diff lines are
//! laid out. Must not change files or write the journal: rolling back a finished run goes
//! through `engine::finished::FinishedRun` (the run's one writer once its engine ended).

use std::path::PathBuf;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{Screen, Ui};
use super::theme::Theme;
use crate::protocol::{Command, Event, SubtaskId};
use crate::state::{FileChange, State};
use crate::tools::diff::{FileDiff, subtask_diffs};

/// How a line of the diff view is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The file's title line (path, counts, notes).
    File,
    /// `---`/`+++` lines.
    Header,
    /// `@@ … @@`.
    Hunk,
    Added,
    Removed,
    Context,
    /// A dim remark (no differences, a note).
    Note,
    Blank,
}

/// One prepared line of the diff view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: Kind,
    pub text: String,
}

/// The diffs of one subtask's changes, computed when a view of it opens or its files change.
#[derive(Debug, Clone)]
pub struct Changes {
    pub id: SubtaskId,
    pub diffs: Vec<FileDiff>,
    /// The diff view's lines, prepared once (tabs expanded, no trailing newlines).
    pub lines: Vec<DiffLine>,
    /// Index in `lines` of each file's title line.
    pub file_starts: Vec<usize>,
    /// First visible line of the diff view.
    pub scroll: usize,
    /// Where `Esc` goes from the diff view.
    pub back: Screen,
    /// Why diffs could not be computed (no run directory or workspace known).
    pub problem: Option<String>,
}

/// The workspace the run works in, as journaled (absolute) or as configured.
pub fn workspace(ui: &Ui) -> Option<PathBuf> {
    ui.state
        .settings
        .as_ref()
        .and_then(|s| s.workspace.clone())
        .or_else(|| ui.info.workspace.clone())
        .map(PathBuf::from)
}

/// The journaled changes of one subtask, in journal order.
pub fn changes_of(state: &State, id: SubtaskId) -> Vec<FileChange> {
    state.files.iter().filter(|f| f.id == id).cloned().collect()
}

/// Computes the diffs of `id`'s changes (reads backups and workspace files).
pub fn load(ui: &Ui, id: SubtaskId, back: Screen) -> Changes {
    // A worktree run: the subtask's files are in its own worktree.
    let root = ui.state.git.worktree_of(id).map(PathBuf::from);
    // After `baton accept` removed it: what its merges brought into the run branch (git).
    let merged = match (&root, workspace(ui)) {
        (Some(tree), Some(ws)) if !tree.exists() => {
            let merged = crate::isolation::merged::subtask_diffs(&ws, &ui.state.git, id);
            merged.map(|files| {
                let diff = |f: crate::isolation::merged::FileDiff| FileDiff {
                    path: f.path,
                    diff: f.diff,
                    added: f.added,
                    removed: f.removed,
                    notes: f.notes,
                };
                files.into_iter().map(diff).collect::<Vec<_>>()
            })
        }
        _ => None,
    };
    let (diffs, problem) = match (&ui.info.run_dir, root.or_else(|| workspace(ui))) {
        _ if merged.is_some() => (merged.unwrap_or_default(), None),
        (Some(run_dir), Some(ws)) => (subtask_diffs(run_dir, &ws, &ui.state.files, id), None),
        (None, _) => (
            Vec::new(),
            Some("the run directory is not known, so the diffs cannot be shown".to_string()),
        ),
        (_, None) => (
            Vec::new(),
            Some("the run has no workspace (--workspace), so there is nothing to diff".to_string()),
        ),
    };
    let problem = interrupted_note(&ui.state, id).or(problem);
    let (lines, file_starts) = prepare(&diffs);
    Changes {
        id,
        diffs,
        lines,
        file_starts,
        scroll: 0,
        back,
        problem,
    }
}

/// Says so when `id`'s rollback was journaled as started and has not ended (the process
/// doing it was killed): some files may be restored already, the others not yet.
pub fn interrupted_note(state: &State, id: SubtaskId) -> Option<String> {
    state
        .rollback_in_progress
        .as_ref()
        .filter(|r| r.id == id)
        .map(|r| {
            format!(
                "the rollback of {id} ({} file(s)) started and did not finish; some files may \
                 be restored already. It is finished when the run is next opened (resume, \
                 `baton rollback`, or R here once the run has ended).",
                r.files.len()
            )
        })
}

fn expand_tabs(s: &str) -> String {
    s.replace('\t', "    ")
}

/// `+3 -1` for a file.
pub fn counts(d: &FileDiff) -> String {
    format!("+{} -{}", d.added, d.removed)
}

/// The diff view's lines from the diffs.
pub fn prepare(diffs: &[FileDiff]) -> (Vec<DiffLine>, Vec<usize>) {
    let mut lines = Vec::new();
    let mut starts = Vec::new();
    for d in diffs {
        if !lines.is_empty() {
            lines.push(DiffLine {
                kind: Kind::Blank,
                text: String::new(),
            });
        }
        starts.push(lines.len());
        let mut title = format!("{}  {}", d.path, counts(d));
        if !d.notes.is_empty() {
            title.push_str(&format!("  ({})", d.notes.join(", ")));
        }
        lines.push(DiffLine {
            kind: Kind::File,
            text: title,
        });
        if d.diff.is_empty() {
            let rolled = d.notes.iter().any(|n| n == "rolled back");
            let created = d.notes.iter().any(|n| n == "created");
            let why = if rolled && created {
                "removed again: the subtask had created it"
            } else if rolled {
                "no differences now: the original is back"
            } else {
                "no differences to show"
            };
            lines.push(DiffLine {
                kind: Kind::Note,
                text: why.to_string(),
            });
            continue;
        }
        for l in d.diff.lines() {
            let kind = if l.starts_with("+++") || l.starts_with("---") {
                Kind::Header
            } else if l.starts_with("@@") {
                Kind::Hunk
            } else if l.starts_with('+') {
                Kind::Added
            } else if l.starts_with('-') {
                Kind::Removed
            } else if l.starts_with('\\') {
                Kind::Note
            } else {
                Kind::Context
            };
            lines.push(DiffLine {
                kind,
                text: expand_tabs(l),
            });
        }
    }
    (lines, starts)
}

/// Opens the diff view of `id` (computes its diffs now).
pub fn open_diff(ui: &mut Ui, id: SubtaskId) {
    let back = match ui.screen {
        Screen::Diff(_) => ui.changes.as_ref().map_or(Screen::Main, |c| c.back),
        s => s,
    };
    ui.changes = Some(load(ui, id, back));
    ui.screen = Screen::Diff(id);
    ui.zoom = None;
}

/// Computes the diffs for the detail view of `id` (for the +/- counts).
pub fn open_detail(ui: &mut Ui, id: SubtaskId) {
    ui.changes = Some(load(ui, id, Screen::Main));
}

/// The subtask whose changes are on screen, if any.
fn viewed(ui: &Ui) -> Option<SubtaskId> {
    match ui.screen {
        Screen::Detail(id) | Screen::Diff(id) => Some(id),
        _ => None,
    }
}

/// Keeps the loaded diffs in step with the journal: a new change or a rollback while a
/// subtask's changes are on screen recomputes them (the scroll position stays).
pub fn on_event(ui: &mut Ui, event: &Event) {
    if !matches!(
        event,
        Event::FileChanged { .. } | Event::RollbackStarted { .. } | Event::SubtaskRolledBack { .. }
    ) {
        return;
    }
    // Another subtask's change can alter what this one's diff shows (a later edit).
    let Some(id) = viewed(ui) else {
        return;
    };
    let (scroll, back) = ui
        .changes
        .as_ref()
        .filter(|c| c.id == id)
        .map_or((0, Screen::Main), |c| (c.scroll, c.back));
    let mut fresh = load(ui, id, back);
    fresh.scroll = scroll;
    ui.changes = Some(fresh);
}

/// Rows of diff text visible in the diff view at the current size.
pub fn page(ui: &Ui) -> usize {
    ui.size.1.saturating_sub(5).max(1) as usize
}

/// Scrolls the diff view by `delta` lines (clamped so the last page stays full).
pub fn scroll_by(ui: &mut Ui, delta: isize) {
    let page = page(ui);
    if let Some(c) = ui.changes.as_mut() {
        let max = c.lines.len().saturating_sub(page);
        c.scroll = (c.scroll as isize + delta).clamp(0, max as isize) as usize;
    }
}

/// Jumps to the next (`forward`) or previous file of the diff view.
pub fn jump_file(ui: &mut Ui, forward: bool) {
    let page = page(ui);
    if let Some(c) = ui.changes.as_mut() {
        let target = if forward {
            c.file_starts.iter().find(|s| **s > c.scroll).copied()
        } else {
            c.file_starts.iter().rev().find(|s| **s < c.scroll).copied()
        };
        if let Some(t) = target {
            let max = c.lines.len().saturating_sub(page);
            c.scroll = t.min(max);
        }
    }
}

/// Has the subtask journaled changes that are not rolled back yet?
pub fn has_live_changes(state: &State, id: SubtaskId) -> bool {
    state.files.iter().any(|f| f.id == id && !f.rolled_back)
}

/// Can the subtask be rolled back now (it changed files and is not running)? The rule
/// book's answer (`State::check`).
pub fn can_roll_back(state: &State, id: SubtaskId) -> bool {
    state.check(&Command::Rollback { id }).is_ok()
}

/// Are all of the subtask's changes of `path` rolled back?
fn rolled_back(state: &State, id: SubtaskId, path: &str) -> bool {
    let mut of_path = state
        .files
        .iter()
        .filter(|f| f.id == id && f.path == path)
        .peekable();
    of_path.peek().is_some() && of_path.all(|f| f.rolled_back)
}

/// The "Files changed" lines of the detail view: path, +/- counts, notes, rolled back.
pub fn detail_lines(ui: &Ui, id: SubtaskId, paths: &[String]) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let loaded = ui.changes.as_ref().filter(|c| c.id == id);
    let mut out = Vec::new();
    for path in paths {
        let mut spans = vec![Span::raw(format!("  {path}"))];
        let back = rolled_back(&ui.state, id, path);
        let diff = loaded
            .and_then(|c| c.diffs.iter().find(|d| &d.path == path))
            .filter(|_| !back);
        if let Some(d) = diff {
            spans.push(Span::raw("  "));
            spans.push(Span::styled(format!("+{}", d.added), t.good()));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(format!("-{}", d.removed), t.error()));
            let notes: Vec<&str> = d
                .notes
                .iter()
                .map(String::as_str)
                .filter(|n| *n != "rolled back")
                .collect();
            if !notes.is_empty() {
                spans.push(Span::styled(format!("  {}", notes.join(", ")), t.dim()));
            }
        }
        if back {
            spans.push(Span::styled(
                format!("  {} rolled back", t.glyph("↻")),
                t.warn(),
            ));
        }
        out.push(Line::from(spans));
    }
    match interrupted_note(&ui.state, id) {
        Some(note) => out.push(Line::from(Span::styled(format!("  {note}"), t.warn()))),
        None => {
            if let Some(p) = loaded.and_then(|c| c.problem.as_ref()) {
                out.push(Line::from(Span::styled(format!("  {p}"), t.dim())));
            }
        }
    }
    let mut keys = vec![
        Span::raw("  "),
        Span::styled("D", t.key()),
        Span::raw(" diff"),
    ];
    if can_roll_back(&ui.state, id) {
        keys.push(Span::raw("  "));
        keys.push(Span::styled("R", t.key()));
        keys.push(Span::raw(" roll back"));
    }
    out.push(Line::from(keys));
    out
}

/// The synthesis' list of files changed by the run: path, the subtasks that changed it,
/// and whether those changes were rolled back.
pub fn synthesis_lines(ui: &Ui, paths: &[String]) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let mut out = vec![Line::from(format!("Files changed ({}):", paths.len()))];
    for path in paths {
        let of_path: Vec<&FileChange> = ui.state.files.iter().filter(|f| &f.path == path).collect();
        let mut by: Vec<String> = Vec::new();
        for f in &of_path {
            let id = f.id.to_string();
            if !by.contains(&id) {
                by.push(id);
            }
        }
        let mut spans = vec![Span::raw(format!("  {} {path}", t.glyph("•")))];
        if !by.is_empty() {
            spans.push(Span::styled(format!("  by {}", by.join(" ")), t.dim()));
        }
        let mut undone: Vec<String> = Vec::new();
        for f in of_path.iter().filter(|f| f.rolled_back) {
            let id = f.id.to_string();
            if !undone.contains(&id) {
                undone.push(id);
            }
        }
        if !of_path.is_empty() && of_path.iter().all(|f| f.rolled_back) {
            spans.push(Span::styled(
                format!("  {} rolled back", t.glyph("↻")),
                t.warn(),
            ));
        } else if !undone.is_empty() {
            spans.push(Span::styled(
                format!("  {} {} rolled back", t.glyph("↻"), undone.join(" ")),
                t.warn(),
            ));
        }
        out.push(Line::from(spans));
    }
    out
}

fn style(kind: Kind, t: &Theme) -> Style {
    match kind {
        Kind::File => t.bold(),
        Kind::Header => t.dim(),
        Kind::Hunk => t.accent(),
        Kind::Added => t.good(),
        Kind::Removed => t.error(),
        Kind::Note => t.dim(),
        Kind::Context | Kind::Blank => Style::default(),
    }
}

/// Draws the diff view of `id`: only the visible lines are laid out.
pub fn render(frame: &mut Frame, area: Rect, ui: &Ui, id: SubtaskId) {
    let t = &ui.theme;
    let title = ui.state.subtask(id).map_or(String::new(), |s| {
        format!(" · {}", crate::text::fit(&s.title, 60))
    });
    let loaded = ui.changes.as_ref().filter(|c| c.id == id);
    let files = loaded.map_or(0, |c| c.diffs.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(
            format!(" Changes of {id}{title} · {files} file(s) "),
            t.title(),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(c) = loaded else {
        frame.render_widget(Paragraph::new("Loading the changes…"), inner);
        return;
    };
    let mut out: Vec<Line<'static>> = Vec::new();
    if let Some(p) = &c.problem {
        out.push(Line::from(Span::styled(p.clone(), t.warn())));
    } else if c.lines.is_empty() {
        out.push(Line::from(Span::styled(
            format!("{id} changed no files."),
            t.dim(),
        )));
    }
    let height = inner.height as usize;
    let start = c.scroll.min(c.lines.len().saturating_sub(height));
    for l in c
        .lines
        .iter()
        .skip(start)
        .take(height.saturating_sub(out.len()))
    {
        let text = if l.kind == Kind::File {
            format!("{} {}", t.glyph("▸"), l.text)
        } else {
            l.text.clone()
        };
        out.push(Line::from(Span::styled(text, style(l.kind, t))));
    }
    // File names and contents come from the workspace: sanitized like model text.
    frame.render_widget(Paragraph::new(super::safe::lines(out)), inner);
}

/// Rolls back `id`'s changes of a finished run (its engine task has ended) through the
/// short-lived writer `engine::finished::FinishedRun`, which takes the run's lock and
/// journals before it acts, and folds what it journaled (also the end of a rollback that
/// was interrupted), or says on the footer why it could not.
pub fn roll_back_finished(ui: &mut Ui, id: SubtaskId) {
    let Some(run_dir) = ui.info.run_dir.clone() else {
        ui.flash = Some(format!(
            "cannot roll back {id}: the run directory is not known"
        ));
        return;
    };
    let (mut run, interrupted) = match crate::engine::finished::FinishedRun::open(&run_dir) {
        Ok(opened) => opened,
        Err(e) => {
            ui.flash = Some(format!("rollback of {id} refused: {e}"));
            return;
        }
    };
    let result = match interrupted {
        Some(done) if done.id == id => Ok(done),
        _ => run.rollback(id),
    };
    for env in run.journaled().to_vec() {
        super::app::update(ui, super::app::Msg::Event(Box::new(env)));
    }
    ui.flash = Some(match result {
        Ok(done) => format!("rolled back {id}: {} file(s) restored", done.files.len()),
        Err(e) => format!("rollback of {id} failed: {e}"),
    });
}
