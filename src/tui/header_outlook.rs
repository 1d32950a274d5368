//! The header's budget outlook: what the run spent and the forecast of what is left
//! (`$0.42 so far · ~$1.10 to go · ~4m00s left · budget $2.00`), and the balance warning
//! (`! role code developer did 9 of 10 finished subtasks (90 %)`).
//!
//! Each item has shorter forms the header falls back to when the line is narrow (the
//! outlook's items shorten before anything else but the provider goes, and go last).
//! Must not compute the forecast (the journaled one is shown, `state::forecast`).

use ratatui::style::Style;

use super::app::Ui;
use crate::protocol::BalanceKind;
use crate::state::balance;
use crate::state::forecast::{money, short_tokens, spent};
use crate::text::duration;

/// One item: its text now, the shorter forms still left, its style.
pub struct Item {
    pub text: String,
    pub shorter: Vec<String>,
    pub style: Style,
}

/// Is there a forecast to show (the run is not finished and has work left)?
pub fn shows_forecast(ui: &Ui) -> bool {
    let st = &ui.state;
    !st.is_finished()
        && st
            .outlook
            .forecast
            .as_ref()
            .is_some_and(|f| f.remaining > 0)
}

/// The outlook's items, longest forms first.
pub fn items(ui: &Ui) -> Vec<Item> {
    let t = &ui.theme;
    let st = &ui.state;
    let sep = format!(" {} ", t.glyph("·"));
    let mut out = Vec::new();
    if let Some(f) = st.outlook.forecast.as_ref().filter(|_| shows_forecast(ui)) {
        let so_far = format!("{} so far", spent(st));
        let left = format!("~{} left", duration(f.secs as f64));
        let (to_go, short, shortest) = match f.cost_usd {
            Some(c) => {
                let to_go = format!("~{} to go", money(c));
                let short = format!("{}{sep}{to_go}", spent(st));
                (to_go.clone(), short, to_go)
            }
            None => (
                format!("~{} tok to go, price unknown", short_tokens(f.tokens)),
                format!("~{} tok to go", short_tokens(f.tokens)),
                "price unknown".to_string(),
            ),
        };
        let mut long = format!("{so_far}{sep}{to_go}{sep}{left}");
        let over = match (st.limits.budget_usd, f.cost_usd) {
            (Some(b), Some(c)) => st.cost_usd + c > b,
            _ => false,
        };
        let medium = long.clone();
        if let Some(b) = st.limits.budget_usd {
            long.push_str(&format!("{sep}budget {}", money(b)));
        }
        out.push(Item {
            text: long,
            shorter: vec![medium, short, shortest],
            style: if over { t.warn() } else { Style::default() },
        });
    }
    if let Some(i) = &st.outlook.imbalance
        && !st.is_finished()
    {
        // The role or worker name comes from the journal (a file): sanitised, one line.
        let safe = |s: String| crate::text::one_line(&s, 120);
        out.push(Item {
            text: safe(format!("! {}", balance::describe(i))),
            shorter: [
                format!(
                    "! {} did {} % of the finished work",
                    match i.kind {
                        BalanceKind::Role => crate::state::role_label(&i.name),
                        BalanceKind::Worker => format!("worker {}", i.name),
                    },
                    i.percent()
                ),
                format!(
                    "! {} {} %",
                    match i.kind {
                        BalanceKind::Role => super::theme::short_role(&i.name),
                        BalanceKind::Worker => i.name.clone(),
                    },
                    i.percent()
                ),
            ]
            .map(safe)
            .to_vec(),
            style: t.warn(),
        });
    }
    out
}

/// When one must go: the forecast before the balance warning (a warning is rarer and
/// says more), else the last.
pub fn drop_one(items: &mut Vec<Item>) {
    if items.len() > 1 {
        items.remove(0);
    } else {
        items.pop();
    }
}

/// Shortens the last item that still has a shorter form; `false` when none has.
pub fn shorten(items: &mut [Item]) -> bool {
    for item in items.iter_mut().rev() {
        if !item.shorter.is_empty() {
            item.text = item.shorter.remove(0);
            return true;
        }
    }
    false
}
