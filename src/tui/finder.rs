//! Finding a subtask: `/` searches titles and descriptions as you type (matches listed in
//! a small box, ↑↓ to pick, Enter to select it in the list), `:` or `#` jumps to a subtask
//! by number.
//!
//! Owns the prompt's state, its keys and its box. Must not change the run: selecting is a
//! change of what the person looks at only. A subtask the current filter hides is shown by
//! going back to the "all" filter (and expanding finished subtasks when it is finished).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::{Filter, Focus, Screen, Sel, Ui};
use super::theme::mark_of;
use crate::protocol::SubtaskId;
use crate::text::one_line;

/// What the prompt does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Search,
    Jump,
}

/// The open prompt: what is typed and which match is picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: Kind,
    pub text: String,
    pub picked: usize,
}

impl Prompt {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            text: String::new(),
            picked: 0,
        }
    }
}

/// Subtasks whose number, title or description contains the query (any case), in order.
pub fn matches(ui: &Ui, query: &str) -> Vec<SubtaskId> {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    ui.state
        .subtasks
        .iter()
        .filter(|s| {
            s.title.to_lowercase().contains(&q)
                || s.description.to_lowercase().contains(&q)
                || s.id.0.to_string() == q.trim_start_matches('#')
        })
        .map(|s| s.id)
        .collect()
}

/// A key while the prompt is open.
pub fn on_key(ui: &mut Ui, key: KeyEvent) {
    let Some(mut p) = ui.prompt.take() else {
        return;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => return,
        KeyCode::Enter => return confirm(ui, &p),
        KeyCode::Up => p.picked = p.picked.saturating_sub(1),
        KeyCode::Down | KeyCode::Tab => p.picked += 1,
        KeyCode::Char('p') if ctrl => p.picked = p.picked.saturating_sub(1),
        KeyCode::Char('n') if ctrl => p.picked += 1,
        KeyCode::Char('u') if ctrl => p.text.clear(),
        // Backspace on an empty prompt closes it, as in less and vim.
        KeyCode::Backspace if p.text.is_empty() => return,
        KeyCode::Backspace => {
            p.text.pop();
        }
        KeyCode::Char(c) if !ctrl && !c.is_control() => {
            if p.kind == Kind::Jump && !c.is_ascii_digit() {
                ui.flash = Some("a subtask number: digits, then Enter".to_string());
            } else if p.text.chars().count() < 200 {
                p.text.push(c);
                p.picked = 0;
            }
        }
        _ => {}
    }
    if p.kind == Kind::Search {
        let n = matches(ui, &p.text).len();
        p.picked = p.picked.min(n.saturating_sub(1));
    }
    ui.prompt = Some(p);
}

/// Pasted text goes into the prompt (one line).
pub fn on_paste(ui: &mut Ui, text: &str) {
    if let Some(p) = ui.prompt.as_mut() {
        let line = text.replace(['\n', '\t'], " ");
        let keep: String = match p.kind {
            Kind::Search => line.chars().filter(|c| !c.is_control()).collect(),
            Kind::Jump => line.chars().filter(char::is_ascii_digit).collect(),
        };
        p.text.push_str(&keep);
        p.picked = 0;
    }
}

fn confirm(ui: &mut Ui, p: &Prompt) {
    let target = match p.kind {
        Kind::Search => {
            let found = matches(ui, &p.text);
            match found.get(p.picked) {
                Some(id) => *id,
                None => {
                    ui.flash = Some(format!("no subtask matches \"{}\"", p.text.trim()));
                    return;
                }
            }
        }
        Kind::Jump => match p.text.parse::<u32>() {
            Ok(n) if ui.state.subtask(SubtaskId(n)).is_some() => SubtaskId(n),
            _ => {
                ui.flash = Some(format!("no subtask #{}", p.text));
                return;
            }
        },
    };
    select(ui, target);
}

/// Shows and selects a subtask in the list (leaving other views for the main screen).
pub fn select(ui: &mut Ui, id: SubtaskId) {
    ui.screen = Screen::Main;
    ui.zoom = None;
    ui.help = false;
    ui.log = false;
    ui.focus = Focus::Tasks;
    let visible = |ui: &Ui| {
        super::task_list::rows(ui)
            .iter()
            .any(|r| r.sel() == Sel::Subtask(id))
    };
    if !visible(ui) {
        ui.filter = Filter::All;
    }
    if !visible(ui) {
        ui.show_finished = true;
    }
    ui.selected = Some(Sel::Subtask(id));
    ui.pane_selected = None;
    let rows = super::task_list::rows(ui);
    let index = rows
        .iter()
        .position(|r| r.sel() == Sel::Subtask(id))
        .unwrap_or(0);
    let area = Rect::new(0, 0, ui.size.0, ui.size.1);
    let height = super::layout::main_layout(area, ui)
        .tasks
        .height
        .saturating_sub(2) as usize;
    ui.list_offset = super::task_list::scroll_offset(ui.list_offset, index, height, rows.len());
}

/// The prompt box, just above the footer: the query and (for search) the matches.
pub fn render(frame: &mut Frame, body: Rect, ui: &Ui) {
    let Some(p) = &ui.prompt else {
        return;
    };
    let t = &ui.theme;
    let found = match p.kind {
        Kind::Search => matches(ui, &p.text),
        Kind::Jump => Vec::new(),
    };
    let list_h = match p.kind {
        Kind::Search => found.len().clamp(1, 8) as u16,
        Kind::Jump => 1,
    };
    let h = (list_h + 3).min(body.height);
    let w = body.width;
    let rect = Rect::new(body.x, body.y + body.height - h, w, h);
    frame.render_widget(Clear, rect);
    let title = match p.kind {
        Kind::Search => " Search subtasks · ↑↓ pick · Enter select · Esc ",
        Kind::Jump => " Jump to subtask · number, Enter · Esc ",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(t.border(true))
        .title(Span::styled(title, t.title()));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let sign = match p.kind {
        Kind::Search => "/",
        Kind::Jump => "#",
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(sign, t.key()),
        Span::raw(p.text.clone()),
        Span::styled(" ", t.selected()),
    ])];
    let width = inner.width.saturating_sub(4) as usize;
    match p.kind {
        Kind::Search if found.is_empty() => lines.push(Line::from(Span::styled(
            if p.text.trim().is_empty() {
                "type part of a title or description"
            } else {
                "no match"
            },
            t.dim(),
        ))),
        Kind::Search => {
            let first = p.picked.saturating_sub(list_h as usize - 1);
            for (i, id) in found.iter().enumerate().skip(first).take(list_h as usize) {
                let Some(s) = ui.state.subtask(*id) else {
                    continue;
                };
                let m = mark_of(&ui.state, s);
                let line = Line::from(vec![
                    Span::styled(format!(" {} ", t.symbol(m)), t.mark_style(m)),
                    Span::raw(one_line(&format!("{} {}", s.id, s.title), width)),
                ]);
                lines.push(if i == p.picked {
                    line.style(t.selected())
                } else {
                    line
                });
            }
        }
        Kind::Jump => {
            let hint = match p
                .text
                .parse::<u32>()
                .ok()
                .and_then(|n| ui.state.subtask(SubtaskId(n)))
            {
                Some(s) => one_line(&format!("{} {}", s.id, s.title), width),
                None if p.text.is_empty() => "type a subtask number".to_string(),
                None => format!("no subtask #{}", p.text),
            };
            lines.push(Line::from(Span::styled(hint, t.dim())));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
