//! Scroll indicators: "↑ 2 more above · 3 more below" in the bottom border of a list or
//! pane whose content does not fit, so nothing is hidden without saying so.
//!
//! Owns the wording and look of that hint only.

use ratatui::text::{Line, Span};

use super::theme::Theme;

/// The hint for `above` hidden rows above and `below` below; `None` when everything shows.
pub fn hint(above: usize, below: usize, theme: &Theme) -> Option<Line<'static>> {
    let mut parts = Vec::new();
    if above > 0 {
        parts.push(format!("{} {above} more above", theme.glyph("↑")));
    }
    if below > 0 {
        parts.push(format!("{} {below} more below", theme.glyph("↓")));
    }
    if parts.is_empty() {
        return None;
    }
    let sep = format!(" {} ", theme.glyph("·"));
    Some(Line::from(Span::styled(format!(" {} ", parts.join(&sep)), theme.dim())).right_aligned())
}

/// Draws the hint over the bottom border of `area` (a bordered list or pane), if any.
pub fn render_on_border(
    frame: &mut ratatui::Frame,
    area: ratatui::layout::Rect,
    above: usize,
    below: usize,
    theme: &Theme,
) {
    let Some(line) = hint(above, below, theme) else {
        return;
    };
    if area.height < 2 || area.width < 4 {
        return;
    }
    let row = ratatui::layout::Rect::new(area.x + 1, area.y + area.height - 1, area.width - 2, 1);
    frame.render_widget(ratatui::widgets::Paragraph::new(line), row);
}
