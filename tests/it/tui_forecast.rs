//! Snapshots (80x24, 160x48) of the budget outlook in the TUI: the forecast in the header
//! (`$0.42 so far · ~$1.10 to go · ~4m00s left`), an unknown price, the balance warning in
//! the header and the replan log, and a budget stage's scope alert with `continue`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::protocol::*;
use crossterm::event::KeyCode;
use tui_support::both;
use tui_support::*;

/// The mid-run screen (escalation dismissed) with a forecast journaled after replan 3.
fn with_forecast(cost_usd: Option<f64>) -> (baton::tui::Ui, Script) {
    let mut ui = new_ui();
    let mut s = mid_run(&mut ui);
    key(&mut ui, KeyCode::Esc);
    feed(
        &mut ui,
        &mut s,
        vec![Event::ForecastUpdated {
            forecast: Forecast {
                remaining: 7,
                tokens: 96_000,
                cost_usd,
                secs: 240,
                basis: ForecastBasis::Mixed,
                finished: 3,
                replans: 3,
            },
        }],
    );
    (ui, s)
}

#[test]
fn forecast_in_the_header() {
    let (mut ui, _) = with_forecast(Some(1.1));
    both!("forecast_header", &mut ui);
}

#[test]
fn forecast_with_an_unknown_price_says_so() {
    let (mut ui, _) = with_forecast(None);
    let top = render(&mut ui, 160, 48);
    assert!(top.contains("price unknown"), "{top}");
    assert!(!top.contains("~$0.00"), "{top}");
    both!("forecast_unknown_price", &mut ui);
}

#[test]
fn balance_warning_in_the_header_and_the_replan_log() {
    let (mut ui, mut s) = with_forecast(Some(1.1));
    feed(
        &mut ui,
        &mut s,
        vec![Event::BalanceChanged {
            imbalance: Some(Imbalance {
                kind: BalanceKind::Role,
                name: "code_developer".into(),
                held: 5,
                finished: 6,
            }),
        }],
    );
    both!("balance_warning", &mut ui);
}

#[test]
fn budget_stage_alert_offers_continue() {
    let (mut ui, mut s) = with_forecast(Some(1.1));
    later(&mut ui, 5);
    s.at = ui.now;
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::BudgetStageReached {
                stage: BudgetStage {
                    alert: 1,
                    limit: LimitKind::Cost,
                    percent: 80,
                    max: 2.0,
                    current: 1.52,
                    projected: 1.71,
                    subtask: SubtaskId(8),
                },
            },
            Event::ScopeAlertRaised {
                alert: 1,
                limit: LimitKind::Cost,
                current: 1.52,
                max: 2.0,
                pending: vec![SubtaskId(8), SubtaskId(9)],
            },
        ],
    );
    assert!(ui.modal.is_some());
    both!("budget_stage", &mut ui);
    later(&mut ui, 1);
    let cmds = sent(ch(&mut ui, 'c'));
    assert_eq!(
        cmds,
        vec![Command::ResolveScopeAlert {
            alert: 1,
            decision: ScopeDecision::Continue
        }]
    );
}
