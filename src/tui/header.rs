//! The two header lines: task and status/phase/elapsed on the first; provider, workers,
//! progress against the first estimate, a worktree run's branch, tokens, cost against the
//! budget, pause/retry indicators, the forecast (`$0.42 so far · ~$1.10 to go, ~4m left`), a
//! balance warning and "⚑ N need you" on the second.
//!
//! Owns how the run's vital signs read at a glance. Must not compute anything the state
//! already knows (counts and estimates come from `State`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::app::Ui;
use super::theme::Mark;
use crate::protocol::RunOutcome;
use crate::state::SubtaskStatus;
use crate::text::fit;

/// `41k`, `1.2M`.
pub fn tokens(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1_000_000.0)
    } else if n >= 10_000 {
        format!("{}k", n / 1000)
    } else if n >= 1000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else {
        n.to_string()
    }
}

pub use crate::text::duration;

/// The run's status word and its style.
pub fn status(ui: &Ui) -> (String, Style) {
    let t = &ui.theme;
    let st = &ui.state;
    match &st.outcome {
        Some(RunOutcome::Completed) => return ("DONE".into(), t.good()),
        Some(RunOutcome::Failed { .. }) => return ("FAILED".into(), t.error()),
        Some(RunOutcome::Stopped { .. }) => return ("STOPPED".into(), t.warn()),
        None => {}
    }
    if st.run_id.is_empty() {
        return ("STARTING".into(), t.dim());
    }
    if ui.engine_closed {
        return ("ENGINE STOPPED".into(), t.error());
    }
    // What blocks progress decides the word: the person, when nothing else can move.
    if st.waiting_for_person() {
        return ("WAITING FOR YOU".into(), t.mark_style(Mark::NeedsYou));
    }
    if st.paused {
        return ("PAUSED".into(), t.warn());
    }
    ("RUNNING".into(), t.accent())
}

fn cost(ui: &Ui) -> Option<String> {
    let st = &ui.state;
    if st.llm_calls > 0 && st.unpriced_calls == st.llm_calls {
        return Some("cost n/a".to_string());
    }
    let lower = if st.unpriced_calls > 0 { "≥" } else { "" };
    let spent = format!("{lower}${:.2}", st.cost_usd);
    Some(match st.limits.budget_usd {
        Some(b) => format!("{spent} / ${b:.2}"),
        None => spent,
    })
}

/// The second line's items in display order; when narrow the provider goes first, then
/// items from the end (progress and workers stay). The outlook's items (`header_outlook`)
/// shorten, then go, after the others.
fn vitals(ui: &Ui) -> Vec<(String, Style)> {
    let t = &ui.theme;
    let st = &ui.state;
    let mut v: Vec<(String, Style)> = Vec::new();
    let busy = st.running().count();
    v.push((
        format!("{busy}/{} workers", st.max_workers),
        Style::default(),
    ));
    let done = st.count(SubtaskStatus::Complete) + st.count(SubtaskStatus::Partial);
    let total = st.live_subtask_count();
    let est = st.initial_estimate();
    let progress = if est > 0 {
        format!("{done}/{total} done (est. {est})")
    } else {
        format!("{done}/{total} done")
    };
    v.push((progress, Style::default()));
    if st.paused {
        v.push((
            format!("{} dispatch paused", t.symbol(Mark::Deferred)),
            t.warn(),
        ));
    }
    if let Some((at, notice)) = &st.last_retry {
        let age = (ui.now - *at).num_milliseconds();
        if age >= 0 && age < notice.delay_ms as i64 + 5_000 && !st.is_finished() {
            v.push((
                format!(
                    "{} retry {} in {}s: {}",
                    t.glyph("↻"),
                    notice.attempt,
                    notice.delay_ms.div_ceil(1000),
                    notice.reason
                ),
                t.warn(),
            ));
        }
    }
    if !st.is_finished() {
        for n in st.throttled.values() {
            // Adaptive concurrency: Baton holds requests back on this endpoint, and why.
            v.push((
                format!(
                    "{} throttling {}: {} at once ({})",
                    t.glyph("↓"),
                    crate::text::sanitize::one_line(&n.endpoint, 40),
                    n.limit,
                    crate::text::sanitize::one_line(&n.reason, 60)
                ),
                t.warn(),
            ));
        }
    }
    let prompt = st.usage.input_tokens + st.usage.cache_read_tokens + st.usage.cache_write_tokens;
    let cached = match (st.usage.cache_read_tokens * 100).checked_div(prompt) {
        Some(pct) if st.usage.cache_read_tokens > 0 => format!(", {pct} % cached"),
        _ => String::new(),
    };
    v.push((
        format!("{} tok{cached}", tokens(st.usage.total())),
        Style::default(),
    ));
    if let Some(c) = cost(ui).filter(|_| !super::header_outlook::shows_forecast(ui)) {
        let over = st.limits.budget_usd.is_some_and(|b| st.cost_usd > b * 0.8);
        v.push((c, if over { t.warn() } else { Style::default() }));
    }
    let mut provider = match &st.settings {
        Some(s) => format!("{} · {}", s.provider, s.orchestrator_model),
        None => format!("{} · {}", ui.info.provider, ui.info.model),
    };
    if ui.info.demo {
        provider = format!("{provider} (demo, no API key)");
    }
    if let Some((branch, _)) = &st.git.run_branch {
        v.push((crate::isolation::shown_branch(branch), t.dim()));
    }
    v.insert(0, (provider, t.dim()));
    v
}

/// The provider's name alone, for a narrow header.
fn short_provider(ui: &Ui) -> String {
    match &ui.state.settings {
        Some(s) => s.provider.clone(),
        None => ui.info.provider.clone(),
    }
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let t = &ui.theme;
    let st = &ui.state;
    let width = area.width as usize;

    // Line 1: task on the left, status on the right.
    let (word, style) = status(ui);
    let mut right = vec![Span::styled(
        word.clone(),
        style.add_modifier(ratatui::style::Modifier::BOLD),
    )];
    let waiting = word == "WAITING FOR YOU" || word == "PAUSED";
    let working = !ui.engine_closed && (st.running().next().is_some() || st.orchestrator_working());
    let show_phase = st.outcome.is_none() && !st.run_id.is_empty() && (!waiting || working);
    if show_phase {
        let spin = if working {
            format!(" {}", t.spinner(ui.frame))
        } else {
            String::new()
        };
        right.push(Span::styled(format!(" · {}{spin}", st.phase), t.accent()));
    }
    if let Some(r) = st.replan_log.last() {
        right.push(Span::raw(format!(" · replan {}", r.cycle)));
    }
    right.push(Span::styled(
        format!(" · {} ", duration(ui.elapsed_secs())),
        t.dim(),
    ));
    let right_w: usize = right.iter().map(|s| s.content.width()).sum();
    let task = if st.task.is_empty() {
        "starting…"
    } else {
        &st.task
    };
    let left_prefix = format!(" Baton {} ", t.glyph("▸"));
    let task_w = width.saturating_sub(right_w + left_prefix.width() + 1);
    let task = fit(task.lines().next().unwrap_or(""), task_w);
    let pad = width.saturating_sub(left_prefix.width() + task.width() + right_w);
    let mut l1 = vec![
        Span::styled(left_prefix, t.title()),
        Span::styled(task, t.bold()),
        Span::raw(" ".repeat(pad)),
    ];
    l1.extend(right);

    // Line 2: vitals, then the need count on the right.
    let needs = st.needs_person().len();
    let need_text = if needs > 0 {
        format!(
            "{} {needs} need{} you ",
            t.symbol(Mark::NeedsYou),
            if needs == 1 { "s" } else { "" }
        )
    } else {
        String::new()
    };
    let sep = format!(" {} ", t.glyph("·"));
    let mut items = vitals(ui);
    let mut provider_first = true;
    let room = width.saturating_sub(need_text.width() + 2);
    let mut outlook = super::header_outlook::items(ui);
    let width_of = |items: &[(String, Style)], extra: &[super::header_outlook::Item]| {
        let texts = items.iter().map(|(s, _)| s.width());
        let more = extra.iter().map(|i| i.text.width());
        let n = items.len() + extra.len();
        texts.chain(more).sum::<usize>() + sep.width() * n.saturating_sub(1)
    };
    loop {
        let w = width_of(&items, &outlook);
        if w <= room || items.len() + outlook.len() <= 1 {
            break;
        }
        if items.len() > 3 && provider_first {
            // First shorten the provider to its name (so `demo` stays visible), then drop it.
            let short = short_provider(ui);
            if items[0].0 != short {
                items[0].0 = short;
            } else {
                items.remove(0);
                provider_first = false;
            }
        } else if super::header_outlook::shorten(&mut outlook) {
        } else if items.len() > 2 && !outlook.is_empty() {
            items.pop();
        } else if !outlook.is_empty() {
            super::header_outlook::drop_one(&mut outlook);
        } else {
            items.pop();
        }
    }
    items.extend(outlook.into_iter().map(|i| (i.text, i.style)));
    let mut l2: Vec<Span> = vec![Span::raw(" ")];
    for (i, (text, style)) in items.iter().enumerate() {
        if i > 0 {
            l2.push(Span::styled(sep.clone(), t.dim()));
        }
        l2.push(Span::styled(fit(text, room), *style));
    }
    let used: usize = l2.iter().map(|s| s.content.width()).sum();
    l2.push(Span::raw(
        " ".repeat(width.saturating_sub(used + need_text.width())),
    ));
    l2.push(Span::styled(need_text, t.mark_style(Mark::NeedsYou)));
    frame.render_widget(Paragraph::new(vec![Line::from(l1), Line::from(l2)]), area);
}
