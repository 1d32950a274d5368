//! The detail view of one subtask: what it is, where it came from, the brief it was given,
//! its report and result, timing, tokens, cost, attempts, recovery decisions, tool uses
//! and files changed.
//!
//! Owns that page. Must not change anything.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::Ui;
use super::header::{duration, tokens};
use super::modals::scope::priority_word;
use super::task_list::{origin_label, waiting_on};
use super::theme::{mark_of, role_label};
use crate::protocol::{Actor, RecoveryAction, ReportStatus, SubtaskId};
use crate::state::Subtask;

fn section(out: &mut Vec<Line<'static>>, ui: &Ui, title: &str) {
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(
        title.to_string(),
        ui.theme.title(),
    )));
}

fn text(out: &mut Vec<Line<'static>>, body: &str) {
    for l in body.lines() {
        out.push(Line::from(format!("  {l}")));
    }
}

fn field(out: &mut Vec<Line<'static>>, ui: &Ui, name: &str, value: String) {
    out.push(Line::from(vec![
        Span::styled(format!("{name:<13}"), ui.theme.dim()),
        Span::raw(value),
    ]));
}

fn ids(v: &[SubtaskId]) -> String {
    if v.is_empty() {
        return "none".to_string();
    }
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Who decided, as a person reads it.
pub fn actor_word(a: Actor) -> &'static str {
    match a {
        Actor::Person => "you",
        Actor::Policy => "the policy",
        Actor::Orchestrator => "the orchestrator",
        Actor::Engine => "the engine",
    }
}

pub fn lines(ui: &Ui, s: &Subtask, width: usize) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let st = &ui.state;
    let mark = mark_of(st, s);
    let mut out = vec![Line::from(vec![
        Span::styled(format!("{} ", t.symbol(mark)), t.mark_style(mark)),
        Span::styled(format!("{} {}", s.id, s.title), t.bold()),
    ])];
    let status = if mark == super::theme::Mark::Interrupted {
        "interrupted (running when the run ended; a resume runs it again)".to_string()
    } else {
        s.status.label().to_string()
    };
    field(&mut out, ui, "Status", status);
    field(&mut out, ui, "Role", role_label(&s.role));
    field(
        &mut out,
        ui,
        "Priority",
        priority_word(s.priority).to_string(),
    );
    let waits = waiting_on(st, s);
    let deps = if waits.is_empty() {
        ids(&s.depends_on)
    } else {
        format!("{} (waiting on {})", ids(&s.depends_on), ids(&waits))
    };
    field(&mut out, ui, "Depends on", deps);
    field(
        &mut out,
        ui,
        "Origin",
        origin_label(&s.origin).unwrap_or_else(|| "first analysis".to_string()),
    );
    let mut attempts = format!("{}", s.attempts);
    if let Some(m) = &s.model {
        attempts.push_str(&format!(" · model {m}"));
    }
    if let Some(w) = s.worker {
        attempts.push_str(&format!(" · worker {}", w.0));
    }
    field(&mut out, ui, "Attempts", attempts);
    if let Some(start) = s.started_at {
        let end = s.finished_at.unwrap_or(ui.now);
        let secs = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
        let how = if s.finished_at.is_some() {
            "took"
        } else {
            "running for"
        };
        field(
            &mut out,
            ui,
            "Timing",
            format!(
                "started {} · {how} {}",
                start.format("%H:%M:%S"),
                duration(secs)
            ),
        );
    }
    field(
        &mut out,
        ui,
        "Usage",
        format!(
            "{} tokens ({} in, {} out) · ${:.4}",
            tokens(s.usage.total()),
            tokens(s.usage.input_tokens),
            tokens(s.usage.output_tokens),
            s.cost_usd
        ),
    );
    if let Some(e) = &s.escalation {
        section(&mut out, ui, "Escalated: waits for you (r to resolve)");
        text(&mut out, e);
    }
    if let Some(e) = &s.last_error {
        section(&mut out, ui, "Last error");
        text(&mut out, e);
    }
    section(&mut out, ui, "Description");
    text(&mut out, &s.description);
    if !s.expected_output.is_empty() {
        section(&mut out, ui, "Expected output");
        text(&mut out, &s.expected_output);
    }
    if let Some(g) = &s.guidance {
        section(&mut out, ui, "Your guidance");
        text(&mut out, g);
    }
    if let Some(r) = &s.report {
        let status = match r.status {
            ReportStatus::Complete => "complete",
            ReportStatus::Partial => "partial",
            ReportStatus::Blocked => "blocked",
        };
        section(&mut out, ui, &format!("Report ({status})"));
        text(&mut out, &r.results);
        let list = |out: &mut Vec<Line<'static>>, name: &str, v: &[String]| {
            if !v.is_empty() {
                out.push(Line::from(Span::styled(format!("  {name}"), t.bold())));
                for i in v {
                    out.push(Line::from(format!("    {} {i}", t.glyph("•"))));
                }
            }
        };
        list(&mut out, "Discoveries", &r.discoveries);
        list(&mut out, "Recommendations", &r.recommendations);
        let new: Vec<String> = r
            .new_subtasks
            .iter()
            .map(|n| format!("{} ({})", n.title, role_label(&n.role)))
            .collect();
        list(&mut out, "Proposed subtasks", &new);
    }
    if !s.recoveries.is_empty() {
        section(&mut out, ui, "Recovery decisions");
        for r in &s.recoveries {
            let what = match &r.action {
                RecoveryAction::Retry => "retry".to_string(),
                RecoveryAction::Reassign { role } => format!("reassign to {}", role_label(role)),
                RecoveryAction::Decompose { into } => format!("split into {}", ids(into)),
                RecoveryAction::Escalate => "escalate to you".to_string(),
            };
            out.push(Line::from(format!(
                "  {} {what} (by {}): {}",
                t.glyph("•"),
                actor_word(r.by),
                r.rationale
            )));
        }
    }
    if !s.tool_uses.is_empty() {
        section(&mut out, ui, &format!("Tool uses ({})", s.tool_uses.len()));
        for (tool, summary, err) in s.tool_uses.iter().rev().take(50).rev() {
            let l = format!("  {} {tool}: {summary}", t.glyph("▸"));
            out.push(Line::from(Span::styled(
                l,
                if *err { t.error() } else { Default::default() },
            )));
        }
    }
    out.extend(super::fork_view::detail_lines(ui, s.id));
    if !s.files_changed.is_empty() {
        section(&mut out, ui, "Files changed");
        out.extend(super::changes::detail_lines(ui, s.id, &s.files_changed));
    }
    if let Some(b) = ui.state.brief_as_sent(s) {
        section(&mut out, ui, "Brief it was given");
        text(&mut out, &b);
    }
    if !ui.instructions.is_empty() {
        section(
            &mut out,
            ui,
            "Project instructions (given with every brief)",
        );
        out.extend(instruction_lines(ui));
    }
    if let Some(o) = &s.output {
        section(&mut out, ui, "Result (final output)");
        out.extend(
            super::markdown::render(o, t, width.saturating_sub(2))
                .into_iter()
                .map(|l| {
                    let mut spans = vec![Span::raw("  ")];
                    spans.extend(l.spans);
                    Line::from(spans)
                }),
        );
    }
    out
}

/// One line per project instruction file: its path (control characters shown as `?`) and
/// size; never its text.
fn instruction_lines(ui: &Ui) -> Vec<Line<'static>> {
    ui.instructions
        .iter()
        .map(|f| {
            let path: String = f
                .path
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            let size = if f.size < 1024 {
                format!("{} B", f.size)
            } else {
                format!("{:.1} KiB", f.size as f64 / 1024.0)
            };
            let cut = if f.truncated {
                ", only its beginning given"
            } else {
                ""
            };
            Line::from(vec![
                Span::raw(format!("  {path}  ")),
                Span::styled(format!("{size}{cut}"), ui.theme.dim()),
            ])
        })
        .collect()
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui, id: SubtaskId) {
    let t = &ui.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(
            format!(" Subtask {id} · Esc back "),
            t.title(),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(s) = ui.state.subtask(id) else {
        frame.render_widget(Paragraph::new(format!("{id} does not exist")), inner);
        return;
    };
    let all = super::safe::lines(lines(ui, s, inner.width as usize));
    let max =
        super::layout::wrapped_rows(&all, inner.width).saturating_sub(inner.height as usize) as u16;
    frame.render_widget(
        Paragraph::new(all)
            .wrap(Wrap { trim: false })
            .scroll((ui.detail_scroll.min(max), 0)),
        inner,
    );
}
