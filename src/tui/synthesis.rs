//! The finish: the deliverable rendered as Markdown, then the execution summary (numbers
//! from the journal), integration points, conflicts and the coherence check; `x` exports.
//!
//! Owns that page. Must not compute the summary (the engine does, from the journal).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::Ui;
use super::header::{duration, tokens};
use super::theme::role_label;
use crate::protocol::RunOutcome;

pub fn lines(ui: &Ui, width: usize) -> Vec<Line<'static>> {
    let t = &ui.theme;
    let st = &ui.state;
    let mut out = Vec::new();
    let Some(syn) = &st.synthesis else {
        out.push(Line::from(Span::styled("No deliverable yet.", t.dim())));
        return out;
    };
    out.extend(super::markdown::render(&syn.deliverable, t, width));
    let heading = |out: &mut Vec<Line<'static>>, s: &str| {
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(
            t.glyph("─").repeat(3) + " " + s + " " + &t.glyph("─").repeat(3),
            t.title(),
        )));
    };
    if let Some(sum) = &st.summary {
        heading(&mut out, "Execution summary");
        let est = if sum.initial_estimate > 0 {
            format!(" (first estimate {})", sum.initial_estimate)
        } else {
            String::new()
        };
        out.push(Line::from(format!(
            "Subtasks: {} total{est} · {} done · {} failed · {} cancelled · {} deferred",
            sum.subtasks_total, sum.completed, sum.failed, sum.cancelled, sum.deferred
        )));
        if !sum.per_role.is_empty() {
            let roles: Vec<String> = sum
                .per_role
                .iter()
                .map(|(r, n)| format!("{} {n}", role_label(r)))
                .collect();
            out.push(Line::from(format!("Per role: {}", roles.join(", "))));
        }
        let cost = sum
            .cost_usd
            .map_or("cost unknown (unpriced model)".to_string(), |c| {
                format!("${c:.2}")
            });
        out.push(Line::from(format!(
            "Replan cycles: {} · retries: {} · time {} · {} tokens · {cost}",
            sum.replan_cycles,
            sum.retries,
            duration(sum.elapsed_secs),
            tokens(sum.tokens.total())
        )));
        let roles = st.usage_by_role();
        if !roles.is_empty() {
            let parts: Vec<String> = roles
                .iter()
                .map(|r| {
                    let u = &r.usage;
                    let prompt = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens;
                    let cached = match (u.cache_read_tokens * 100).checked_div(prompt) {
                        Some(pct) if u.cache_read_tokens > 0 => format!(" ({pct} % cached)"),
                        _ => String::new(),
                    };
                    format!("{} {}{cached}", role_label(&r.role), tokens(u.total()))
                })
                .collect();
            out.push(Line::from(format!("Tokens per role: {}", parts.join(", "))));
        }
        if sum.evaluation_rounds > 0 {
            out.push(Line::from(format!(
                "Evaluation rounds: {}",
                sum.evaluation_rounds
            )));
        }
        if !sum.findings_left.is_empty() {
            out.push(Line::from(format!(
                "Findings left at the evaluation round limit: {}",
                sum.findings_left.join("; ")
            )));
        }
        if !sum.pivots.is_empty() {
            out.push(Line::from("Pivots:"));
            for p in &sum.pivots {
                out.push(Line::from(format!("  {} {p}", t.glyph("•"))));
            }
        }
        if !sum.files_changed.is_empty() {
            out.extend(super::changes::synthesis_lines(ui, &sum.files_changed));
        }
    }
    if !syn.integration_points.is_empty() {
        heading(&mut out, "Integration points");
        for p in &syn.integration_points {
            out.push(Line::from(format!("{} {p}", t.glyph("•"))));
        }
    }
    heading(&mut out, "Conflicts");
    if syn.conflicts.is_empty() {
        out.push(Line::from(Span::styled("none", t.dim())));
    }
    for c in &syn.conflicts {
        out.push(Line::from(format!("{} {c}", t.glyph("•"))));
    }
    if !syn.coherence.is_empty() {
        heading(&mut out, "Coherence check");
        out.push(Line::from(syn.coherence.clone()));
    }
    out
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let t = &ui.theme;
    let outcome = match &ui.state.outcome {
        Some(RunOutcome::Completed) => "complete",
        Some(RunOutcome::Failed { .. }) => "failed",
        Some(RunOutcome::Stopped { .. }) => "stopped",
        None => "finishing",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(
            format!(" Deliverable · run {outcome} · x export · Esc subtasks "),
            t.title(),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let all = super::safe::lines(lines(ui, inner.width as usize));
    let max =
        super::layout::wrapped_rows(&all, inner.width).saturating_sub(inner.height as usize) as u16;
    frame.render_widget(
        Paragraph::new(all)
            .wrap(Wrap { trim: false })
            .scroll((ui.synthesis_scroll.min(max), 0)),
        inner,
    );
}
