//! The plan graph (`P`): subtasks as nodes in dependency layers (one column per layer, left
//! to right), status by symbol and colour, the critical path marked `*` and in bold, the
//! estimated time to finish on the title line; the selected node's dependencies and
//! dependents are highlighted and named on the bottom line. Enter opens the details.
//!
//! Owns that screen and moving the selection in it. Layout and critical path come from
//! `state::graph` (the same as `baton graph`). Decisions: columns that hold only finished
//! subtasks collapse to a count (`✓ 5`) unless the selection is in them, so 80 columns show
//! the live part of the plan; the columns scroll sideways to keep the selection in view (the
//! title line then says which layers show), and a column longer than the screen scrolls to it. `g` stays "first subtask" (as in vim,
//! lazygit and k9s), so the graph is `P` for "plan".

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{Effect, Screen, Sel, Ui};
use super::keymap::Action;
use super::theme::{Mark, mark_of};
use crate::export::graph::{links, summary_line};
use crate::protocol::SubtaskId;
use crate::state::graph::{Graph, graph};
use crate::text::{fit, one_line};

/// Width of a collapsed column (`✓ 12`).
const COLLAPSED: u16 = 7;
/// Narrowest and widest column of a live layer.
const MIN_COL: u16 = 18;
const MAX_COL: u16 = 36;

fn selected(ui: &Ui) -> Option<SubtaskId> {
    match ui.selected {
        Some(Sel::Subtask(id)) => Some(id),
        _ => None,
    }
}

/// Opens the graph, selecting the first node of the critical path when nothing is selected.
pub fn open(ui: &mut Ui) {
    let g = graph(&ui.state, ui.now);
    if selected(ui).and_then(|id| g.layer_of(id)).is_none() {
        let first = g
            .critical
            .first()
            .or_else(|| g.layers.iter().flatten().next())
            .copied();
        ui.selected = first.map(Sel::Subtask);
    }
    ui.screen = Screen::Graph;
}

/// The keys that move in the graph; `None` for the rest (decisions, copy, help…).
pub fn act(ui: &mut Ui, action: Action) -> Option<Vec<Effect>> {
    let g = graph(&ui.state, ui.now);
    let cur = selected(ui);
    let pos = cur.and_then(|id| {
        let l = g.layer_of(id)?;
        Some((l, g.layers[l].iter().position(|x| *x == id)?))
    });
    let pick = |l: usize, i: usize| -> Option<SubtaskId> {
        let layer = g.layers.get(l)?;
        layer.get(i.min(layer.len().saturating_sub(1))).copied()
    };
    let next = match (action, pos) {
        (Action::Details, _) => {
            if let Some(id) = cur {
                ui.screen = Screen::Detail(id);
                ui.detail_scroll = 0;
                ui.back_to_graph = true;
            }
            return Some(Vec::new());
        }
        (Action::Back, _) => {
            ui.screen = Screen::Main;
            return Some(Vec::new());
        }
        (Action::Up | Action::Down | Action::Left | Action::Right, None) => pick(0, 0),
        (Action::Up, Some((l, i))) => pick(l, i.saturating_sub(1)),
        (Action::Down, Some((l, i))) => pick(l, i + 1),
        (Action::Top, Some((l, _))) => pick(l, 0),
        (Action::Bottom, Some((l, _))) => pick(l, usize::MAX),
        (Action::Left, Some((l, i))) => pick(l.saturating_sub(1), i),
        (Action::Right, Some((l, i))) => pick((l + 1).min(g.layers.len().saturating_sub(1)), i),
        _ => return None,
    };
    if let Some(id) = next {
        ui.selected = Some(Sel::Subtask(id));
    }
    Some(Vec::new())
}

/// Is every subtask of the layer finished?
fn done_layer(ui: &Ui, layer: &[SubtaskId]) -> bool {
    layer
        .iter()
        .all(|id| ui.state.subtask(*id).is_none_or(|s| s.status.is_terminal()))
}

/// Column widths for the layers, given the width inside the border.
fn widths(ui: &Ui, g: &Graph, sel_layer: Option<usize>, inner: u16) -> Vec<u16> {
    let collapsed: Vec<bool> = g
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| done_layer(ui, l) && Some(i) != sel_layer)
        .collect();
    // Counted in usize: a journal can hold more layers than a u16 counts.
    let open = collapsed.iter().filter(|c| !**c).count().max(1);
    let fixed = collapsed
        .iter()
        .filter(|c| **c)
        .count()
        .saturating_mul(usize::from(COLLAPSED));
    let col = (usize::from(inner).saturating_sub(fixed) / open)
        .clamp(usize::from(MIN_COL), usize::from(MAX_COL));
    let col = u16::try_from(col).unwrap_or(MAX_COL);
    collapsed
        .iter()
        .map(|c| if *c { COLLAPSED } else { col })
        .collect()
}

/// The first visible layer: 0 if the selection fits, else as far left as keeps it in view.
fn first_visible(w: &[u16], sel_layer: usize, inner: u16) -> usize {
    // A sliding sum: a long chain has thousands of layers, and this runs every frame.
    let mut total: usize = w.iter().take(sel_layer + 1).map(|x| usize::from(*x)).sum();
    let mut start = 0;
    while start < sel_layer && total > usize::from(inner) {
        total -= usize::from(w[start]);
        start += 1;
    }
    start
}

pub fn render(frame: &mut Frame, area: Rect, ui: &Ui) {
    let t = &ui.theme;
    let g = graph(&ui.state, ui.now);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(" Plan graph ", t.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let sel = selected(ui);
    let sel_layer = sel.and_then(|id| g.layer_of(id));
    let w = widths(ui, &g, sel_layer, inner.width);
    let start = first_visible(&w, sel_layer.unwrap_or(0), inner.width);
    // Title line: critical path and time to finish, and how many layers are off screen.
    let mut shown = 0;
    let mut used = 0u16;
    for width in &w[start.min(w.len())..] {
        if used.saturating_add(*width) > inner.width && shown > 0 {
            break;
        }
        used = used.saturating_add(*width);
        shown += 1;
    }
    // Which layers are in view, when not all are (first, so a narrow screen keeps it).
    let mut title = String::new();
    if start > 0 || start + shown < g.layers.len() {
        title.push_str(&format!(
            "layers {}-{} of {} (←→) · ",
            start + 1,
            start + shown,
            g.layers.len()
        ));
    }
    title.push_str(&summary_line(&g));
    let line = |y: u16| Rect::new(inner.x, inner.y + y, inner.width, 1);
    frame.render_widget(
        Paragraph::new(Span::styled(fit(&title, inner.width as usize), t.accent())),
        line(0),
    );
    let rows = inner.height.saturating_sub(3) as usize;
    let mut x = inner.x;
    for (li, layer) in g.layers.iter().enumerate().skip(start).take(shown) {
        let width = w[li].min(inner.x + inner.width - x);
        let col = Rect::new(x, inner.y + 1, width, inner.height.saturating_sub(2));
        draw_column(frame, col, ui, &g, li, layer, w[li] == COLLAPSED, rows);
        x += width;
    }
    // Bottom line: the selected node, its links and whether it is critical.
    let info = match sel.and_then(|id| ui.state.subtask(id)) {
        Some(s) => {
            let mut parts = vec![
                format!("{} {}", s.id, one_line(&s.title, 60)),
                one_line(&s.role, 24),
                s.status.label().to_string(),
            ];
            let l = links(&ui.state, s.id);
            if !l.is_empty() {
                parts.push(l);
            }
            if g.is_critical(s.id) {
                parts.push("on the critical path".to_string());
            }
            parts.join(" · ")
        }
        None => "no subtasks yet".to_string(),
    };
    frame.render_widget(
        Paragraph::new(Span::styled(fit(&info, inner.width as usize), t.dim())),
        line(inner.height - 1),
    );
}

#[allow(clippy::too_many_arguments)]
fn draw_column(
    frame: &mut Frame,
    col: Rect,
    ui: &Ui,
    g: &Graph,
    li: usize,
    layer: &[SubtaskId],
    collapsed: bool,
    rows: usize,
) {
    let t = &ui.theme;
    let cw = col.width.saturating_sub(1) as usize;
    let mut lines: Vec<Line<'static>> = Vec::new();
    if collapsed {
        lines.push(Line::from(Span::styled(
            fit(&format!("L{}", li + 1), cw),
            t.dim(),
        )));
        lines.push(Line::from(Span::styled(
            fit(&format!("{} {}", t.symbol(Mark::Done), layer.len()), cw),
            t.mark_style(Mark::Done),
        )));
        frame.render_widget(Paragraph::new(lines), col);
        return;
    }
    let head = format!("layer {} ({})", li + 1, layer.len());
    lines.push(Line::from(Span::styled(
        fit(&head, cw),
        t.dim().add_modifier(Modifier::UNDERLINED),
    )));
    let sel = selected(ui);
    let related = |id: SubtaskId| {
        sel.and_then(|s| ui.state.subtask(s)).is_some_and(|s| {
            s.depends_on.contains(&id)
                || ui
                    .state
                    .subtask(id)
                    .is_some_and(|n| n.depends_on.contains(&s.id))
        })
    };
    // Scroll the column to keep the selection in view.
    let at = sel
        .and_then(|s| layer.iter().position(|x| *x == s))
        .unwrap_or(0);
    let skip = if layer.len() > rows && at >= rows {
        at + 1 - rows
    } else {
        0
    };
    let room = if layer.len() > skip + rows {
        rows.saturating_sub(1)
    } else {
        rows
    };
    for id in layer.iter().skip(skip).take(room) {
        let Some(s) = ui.state.subtask(*id) else {
            continue;
        };
        let mark = mark_of(&ui.state, s);
        let crit = g.is_critical(*id);
        let gutter = if crit { "*" } else { " " };
        let text = fit(
            &format!(
                "{gutter}{} {} {}",
                t.symbol(mark),
                id,
                one_line(&s.title, 80)
            ),
            cw,
        );
        let mut style = t.mark_style(mark);
        if crit {
            style = style.add_modifier(Modifier::BOLD);
        }
        if related(*id) {
            style = t.accent().add_modifier(Modifier::UNDERLINED);
        }
        if sel == Some(*id) {
            style = Style::default().patch(style).patch(t.selected());
        }
        lines.push(Line::from(Span::styled(text, style)));
    }
    let hidden = layer.len().saturating_sub(skip + room);
    if hidden > 0 {
        lines.push(Line::from(Span::styled(
            fit(&format!(" +{hidden} more"), cw),
            t.dim(),
        )));
    }
    frame.render_widget(Paragraph::new(lines), col);
}
