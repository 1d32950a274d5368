//! The task list: what needs the person first, then running, waiting, failed, deferred,
//! with finished subtasks collapsed into one count line (expandable); filter by status.
//!
//! Owns the order and the look of the rows. Must not change anything: `rows` and `render`
//! only read the `Ui`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::app::{Filter, Focus, Sel, Ui};
use super::theme::{Mark, Theme, mark_of, short_role};
use crate::protocol::{DispatchPolicy, Origin, Priority, SubtaskId};
use crate::state::{State, Subtask, SubtaskStatus};
use crate::text::fit;

/// One row of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Subtask(SubtaskId),
    /// Finished subtasks, collapsed into counts (or the header of the expanded group).
    Finished,
}

impl Row {
    pub fn sel(&self) -> Sel {
        match self {
            Row::Subtask(id) => Sel::Subtask(*id),
            Row::Finished => Sel::Finished,
        }
    }
}

/// Group order: what needs a person first.
fn group(state: &State, s: &Subtask) -> u8 {
    if state.waits_for_person(s) {
        return 0;
    }
    match s.status {
        SubtaskStatus::Escalated | SubtaskStatus::AwaitingApproval => 0,
        SubtaskStatus::Running => 1,
        SubtaskStatus::Ready => 2,
        SubtaskStatus::Failed | SubtaskStatus::Blocked => 3,
        SubtaskStatus::Deferred => 4,
        SubtaskStatus::Complete | SubtaskStatus::Partial | SubtaskStatus::Cancelled => 5,
    }
}

fn passes(filter: Filter, g: u8) -> bool {
    match filter {
        Filter::All => true,
        Filter::NeedsYou => g == 0,
        Filter::Running => g == 1,
        Filter::Waiting => g == 2,
        Filter::Problems => g == 3,
        Filter::Deferred => g == 4,
        Filter::Finished => g == 5,
    }
}

/// The rows in display order.
pub fn rows(ui: &Ui) -> Vec<Row> {
    let state = &ui.state;
    let mut open: Vec<&Subtask> = state
        .subtasks
        .iter()
        .filter(|s| group(state, s) < 5 && passes(ui.filter, group(state, s)))
        .collect();
    open.sort_by_key(|s| (group(state, s), s.priority.rank(), s.id));
    let mut out: Vec<Row> = open.into_iter().map(|s| Row::Subtask(s.id)).collect();
    let finished: Vec<&Subtask> = state
        .subtasks
        .iter()
        .filter(|s| group(state, s) == 5)
        .collect();
    let expanded = ui.show_finished || ui.filter == Filter::Finished;
    if !finished.is_empty() && passes(ui.filter, 5) {
        out.push(Row::Finished);
        if expanded {
            out.extend(finished.iter().map(|s| Row::Subtask(s.id)));
        }
    }
    out
}

/// The collapsed line: `✓ 5 done  ⊘ 1 cancelled  ✗ 0 failed  ⏸ 1 deferred`.
fn finished_line(ui: &Ui, width: usize) -> Line<'static> {
    let state = &ui.state;
    let t = &ui.theme;
    let done = state.count(SubtaskStatus::Complete) + state.count(SubtaskStatus::Partial);
    let cancelled = state.count(SubtaskStatus::Cancelled);
    let expanded = ui.show_finished || ui.filter == Filter::Finished;
    let arrow = if expanded { "▾" } else { "▸" };
    let arrow = if t.ascii {
        if expanded { "v" } else { ">" }
    } else {
        arrow
    };
    let mut spans = vec![
        Span::styled(format!("{arrow} "), t.dim()),
        Span::styled(t.symbol(Mark::Done).to_string(), t.mark_style(Mark::Done)),
        Span::raw(format!(" {done} done")),
    ];
    if cancelled > 0 {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            t.symbol(Mark::Cancelled).to_string(),
            t.mark_style(Mark::Cancelled),
        ));
        spans.push(Span::raw(format!(" {cancelled} cancelled")));
    }
    if width > 30 {
        spans.push(Span::styled(
            if expanded { "  (o hide)" } else { "  (o show)" },
            t.dim(),
        ));
    }
    Line::from(spans)
}

/// Dependencies not done yet, as `← #8 #9`.
pub fn waiting_on(state: &State, s: &Subtask) -> Vec<SubtaskId> {
    s.depends_on
        .iter()
        .copied()
        .filter(|d| {
            state
                .subtask(*d)
                .is_none_or(|dep| !dep.status.satisfies_dependency())
        })
        .collect()
}

/// `new from #8`, `by you`, … (nothing for the analysis' own subtasks).
pub fn origin_label(o: &Origin) -> Option<String> {
    match o {
        Origin::Analysis | Origin::SingleWorker => None,
        Origin::Discovered { from, .. } => Some(format!("new from {from}")),
        Origin::Replan { cycle } => Some(format!("replan {cycle}")),
        Origin::Person => Some("added by you".to_string()),
        Origin::Decomposed { from } => Some(format!("split from {from}")),
        Origin::Evaluation { round } => Some(format!("review {round}")),
    }
}

fn ids(v: &[SubtaskId]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One subtask row, fitted to `width` columns (the title gives way first).
pub fn subtask_line(ui: &Ui, s: &Subtask, width: usize) -> Line<'static> {
    let t: &Theme = &ui.theme;
    let state = &ui.state;
    let mark = mark_of(state, s);
    let id = format!("{:<4}", s.id.to_string());
    let mut tail: Vec<Span<'static>> = Vec::new();
    let mut push = |text: String, style| {
        tail.push(Span::raw(" "));
        tail.push(Span::styled(text, style));
    };
    push(short_role(&s.role), t.dim());
    match s.priority {
        Priority::High => push(format!("{}high", t.glyph("↑")), t.warn()),
        Priority::Low => push(format!("{}low", t.glyph("↓")), t.dim()),
        Priority::Normal => {}
    }
    // The dispatch policy, when it is not `auto` and the subtask has not started.
    let policy = state.dispatch_policy(s);
    if policy != DispatchPolicy::Auto && !s.status.is_terminal() && s.attempts == 0 {
        let marker = if s.asked {
            "asks to start".to_string()
        } else {
            policy.name().to_string()
        };
        let style = if policy == DispatchPolicy::Hold {
            t.warn()
        } else {
            t.accent()
        };
        push(marker, style);
    }
    if s.status == SubtaskStatus::Escalated {
        push("escalated".to_string(), t.mark_style(Mark::NeedsYou));
    } else if s.status == SubtaskStatus::AwaitingApproval {
        push("approve?".to_string(), t.mark_style(Mark::NeedsYou));
    } else if state.open_command_requests().any(|c| c.id == s.id) {
        push("command?".to_string(), t.mark_style(Mark::NeedsYou));
    } else if matches!(s.status, SubtaskStatus::Failed | SubtaskStatus::Blocked) {
        push(s.status.label().to_string(), t.error());
    } else if mark == Mark::Interrupted {
        push("interrupted".to_string(), t.mark_style(mark));
    } else if state.worker_paused(s.id) {
        // A person paused this worker (`w`): its next model call waits.
        push(format!("{} paused", t.glyph("⏸")), t.warn());
    }
    let waits = waiting_on(state, s);
    if !waits.is_empty() && !s.status.is_terminal() {
        push(format!("{} {}", t.glyph("←"), ids(&waits)), t.accent());
    }
    if let Some(o) = origin_label(&s.origin) {
        push(o, t.dim());
    }
    if s.attempts > 1 {
        push(format!("try {}", s.attempts), t.warn());
    }
    let head = format!("{} {id}", t.symbol(mark));
    let tail_w: usize = tail.iter().map(|sp| sp.content.width()).sum();
    let head_w = head.width() + 1;
    // The title gets what is left; tail items (origin, then dependencies, ...) give way
    // before the title shrinks below about 40% of the row.
    let min_title = s.title.width().min(width * 3 / 5).max(10);
    let mut avail = width.saturating_sub(head_w + tail_w);
    while avail < min_title && tail.len() > 2 {
        tail.truncate(tail.len() - 2);
        let tw: usize = tail.iter().map(|sp| sp.content.width()).sum();
        avail = width.saturating_sub(head_w + tw);
    }
    let title = fit(&s.title, avail);
    let pad = avail.saturating_sub(title.width());
    let mut spans = vec![
        Span::styled(head, t.mark_style(mark)),
        Span::raw(" "),
        Span::styled(title, title_style(t, s)),
        Span::raw(" ".repeat(pad)),
    ];
    spans.extend(tail);
    Line::from(spans)
}

fn title_style(t: &Theme, s: &Subtask) -> ratatui::style::Style {
    match s.status {
        SubtaskStatus::Cancelled => t.dim(),
        SubtaskStatus::Escalated | SubtaskStatus::AwaitingApproval => t.bold(),
        _ => ratatui::style::Style::default(),
    }
}

/// Draws the list in `area` (with its border).
pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let t = &ui.theme;
    let focused = ui.focus == Focus::Tasks && ui.zoom.is_none();
    let total = ui.state.subtasks.len();
    let mut title = format!(" Subtasks {total} ");
    if ui.filter != Filter::All {
        title = format!(" Subtasks · {} (f) ", ui.filter.label());
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(focused))
        .title(Span::styled(title, t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = rows(ui);
    if rows.is_empty() {
        let msg = if total == 0 && ui.state.mode_choice.is_some() {
            "no subtasks yet: the analysis waits for your choice (n: orchestrate or single worker)"
        } else if total == 0 && ui.state.orchestrator_working() {
            "no subtasks yet: the orchestrator is analysing the task"
        } else if total == 0 {
            "no subtasks yet"
        } else {
            "nothing matches this filter (f: next filter)"
        };
        frame.render_widget(
            Paragraph::new(Span::styled(msg, t.dim())).wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }
    let height = inner.height as usize;
    let sel_index = ui
        .selected
        .and_then(|sel| rows.iter().position(|r| r.sel() == sel))
        .unwrap_or(0);
    let offset = scroll_offset(ui.list_offset, sel_index, height, rows.len());
    let below = rows.len().saturating_sub(offset + height);
    if ui.modal.is_none() {
        super::scroll_hint::render_on_border(frame, area, offset, below, t);
    }
    let width = inner.width as usize;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, row)| {
            let line = match row {
                Row::Subtask(id) => match ui.state.subtask(*id) {
                    Some(s) => subtask_line(ui, s, width),
                    None => Line::from(""),
                },
                Row::Finished => finished_line(ui, width),
            };
            if i == sel_index && ui.selected.is_some() {
                line.style(t.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The first visible row so that the selection shows (pure; the list keeps no cursor state).
pub fn scroll_offset(prev: usize, sel: usize, height: usize, len: usize) -> usize {
    if height == 0 {
        return 0;
    }
    let mut off = prev.min(len.saturating_sub(height));
    if sel < off {
        off = sel;
    } else if sel >= off + height {
        off = sel + 1 - height;
    }
    off
}
