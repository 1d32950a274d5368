//! The budget outlook in the state: the reducer of `forecast_updated`,
//! `budget_stage_reached` and `balance_changed` (and the tally of finished work), the
//! forecast's arithmetic (prior, per-role averages, unknown prices, overflow) and the
//! balance rule. Pure functions, no engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baton::protocol::*;
use baton::state::forecast::{self, Rate, Rates};
use baton::state::{State, balance};
use chrono::{TimeZone, Utc};

/// Folds events stamped ten seconds apart, numbered from 1.
fn fold(events: Vec<Event>) -> State {
    let envelopes: Vec<Envelope> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            seq: i as u64 + 1,
            ts: Utc.timestamp_opt(1_700_000_000 + 10 * i as i64, 0).unwrap(),
            v: JOURNAL_VERSION,
            event,
        })
        .collect();
    State::fold(&envelopes)
}

fn run_started(max_workers: u32) -> Event {
    Event::RunStarted {
        run_id: "r".into(),
        task: "t".into(),
        settings: crate::engine_common::settings(ApprovalPolicy::Scope, max_workers),
    }
}

fn added(id: u32, role: &str) -> Event {
    Event::SubtaskAdded {
        spec: SubtaskSpec {
            id: SubtaskId(id),
            title: format!("t{id}"),
            description: "d".into(),
            role: role.into(),
            priority: Priority::Normal,
            depends_on: Vec::new(),
            expected_output: String::new(),
        },
        origin: Origin::Analysis,
        needs_approval: false,
    }
}

fn started(id: u32, worker: u32, role: &str) -> Event {
    Event::SubtaskStarted {
        id: SubtaskId(id),
        attempt: 1,
        worker: WorkerId(worker),
        role: role.into(),
        model: "w".into(),
        brief: "b".into(),
        task_omitted: true,
    }
}

fn usage(id: u32, input: u64, output: u64, cost: Option<f64>) -> Event {
    Event::LlmUsage {
        purpose: CallPurpose::Worker {
            id: SubtaskId(id),
            attempt: 1,
        },
        model: "w".into(),
        usage: Usage {
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        },
        cost_usd: cost,
    }
}

fn reported(id: u32, status: ReportStatus) -> Event {
    Event::SubtaskReported {
        id: SubtaskId(id),
        attempt: 1,
        output: String::new(),
        report: Report {
            status,
            results: "r".into(),
            discoveries: vec![],
            recommendations: vec![],
            new_subtasks: vec![],
        },
    }
}

fn mode() -> Event {
    Event::ModeChosen {
        mode: RunMode::Orchestrate,
        by: Actor::Engine,
    }
}

fn rates(worker: Option<Rate>) -> Rates {
    Rates {
        roles: Default::default(),
        worker,
        orchestrator: Some(Rate {
            input: 1.0,
            output: 2.0,
        }),
    }
}

const PRICED: Option<Rate> = Some(Rate {
    input: 3.0,
    output: 15.0,
});

#[test]
fn forecast_updated_is_folded_and_makes_the_forecast_fresh() {
    let forecast = Forecast {
        remaining: 3,
        tokens: 120_000,
        cost_usd: Some(1.1),
        secs: 240,
        basis: ForecastBasis::Prior,
        finished: 0,
        replans: 0,
    };
    let mut events = vec![run_started(2), mode(), added(1, "code_developer")];
    assert!(forecast::stale(&fold(events.clone())), "no forecast yet");
    events.push(Event::ForecastUpdated {
        forecast: forecast.clone(),
    });
    let state = fold(events);
    assert_eq!(state.outlook.forecast, Some(forecast));
    assert!(!forecast::stale(&state));
}

#[test]
fn budget_stage_reached_is_recorded_once_per_stage_and_budget() {
    let stage = BudgetStage {
        alert: 1,
        limit: LimitKind::Cost,
        percent: 80,
        max: 2.0,
        current: 1.5,
        projected: 1.7,
        subtask: SubtaskId(4),
    };
    let state = fold(vec![
        run_started(2),
        Event::BudgetStageReached {
            stage: stage.clone(),
        },
    ]);
    assert_eq!(state.outlook.stage_of(1), Some(&stage));
    assert_eq!(state.outlook.stage_of(2), None);
    // 80 % reached counts 50 % as reached too; 100 % is still to come.
    assert!(state.outlook.stage_fired(LimitKind::Cost, 50, 2.0));
    assert!(state.outlook.stage_fired(LimitKind::Cost, 80, 2.0));
    assert!(!state.outlook.stage_fired(LimitKind::Cost, 100, 2.0));
    // A raised budget has stages of its own; another budget too.
    assert!(!state.outlook.stage_fired(LimitKind::Cost, 80, 3.0));
    assert!(!state.outlook.stage_fired(LimitKind::Tokens, 80, 2.0));
}

#[test]
fn balance_changed_is_folded_with_the_replan_it_precedes() {
    let imbalance = Imbalance {
        kind: BalanceKind::Role,
        name: "code_developer".into(),
        held: 5,
        finished: 5,
    };
    let state = fold(vec![
        run_started(2),
        Event::BalanceChanged {
            imbalance: Some(imbalance.clone()),
        },
    ]);
    assert_eq!(state.outlook.imbalance, Some(imbalance.clone()));
    assert_eq!(state.outlook.balance_log, vec![(0, Some(imbalance))]);
    let state = fold(vec![
        run_started(2),
        Event::BalanceChanged { imbalance: None },
    ]);
    assert_eq!(state.outlook.imbalance, None);
}

#[test]
fn finished_reports_are_tallied_by_role_and_worker_blocked_ones_not() {
    let state = fold(vec![
        run_started(2),
        mode(),
        added(1, "code_developer"),
        added(2, "test_engineer"),
        added(3, "code_developer"),
        started(1, 1, "code_developer"),
        started(2, 2, "test_engineer"),
        reported(1, ReportStatus::Complete),
        reported(2, ReportStatus::Blocked),
        started(3, 2, "code_developer"),
        reported(3, ReportStatus::Partial),
        // A stray report of a subtask not running counts nothing.
        reported(3, ReportStatus::Complete),
    ]);
    let o = &state.outlook;
    assert_eq!(o.finished_by_role.get("code_developer"), Some(&2));
    assert_eq!(o.finished_by_role.get("test_engineer"), None);
    assert_eq!(o.finished_by_worker.get(&1), Some(&1));
    assert_eq!(o.finished_by_worker.get(&2), Some(&1));
}

#[test]
fn before_anything_finishes_the_forecast_is_prices_times_the_prior() {
    let state = fold(vec![
        run_started(2),
        mode(),
        added(1, "code_developer"),
        added(2, "code_analyzer"),
    ]);
    let f = forecast::forecast(&state, &rates(PRICED));
    assert_eq!(f.basis, ForecastBasis::Prior);
    assert_eq!(f.remaining, 2);
    // Workers: developer 40k in + 6k out, analyser 24k + 2k; the orchestrator 13.5k for
    // each of the 2 replans and the synthesis.
    assert_eq!(f.tokens, 46_000 + 26_000 + 3 * 13_500);
    let workers = (3.0 * 64_000.0 + 15.0 * 8_000.0) / 1e6;
    let orch = 3.0 * (1.0 * 12_000.0 + 2.0 * 1_500.0) / 1e6;
    assert!((f.cost_usd.unwrap() - (workers + orch)).abs() < 1e-9);
    // 150 s + 60 s over two workers, never less than the longest subtask.
    assert_eq!(f.secs, 150);
}

#[test]
fn finished_subtasks_replace_the_prior_with_their_role_average() {
    let state = fold(vec![
        run_started(1),
        mode(),
        added(1, "code_developer"),
        added(2, "code_developer"),
        added(3, "code_developer"),
        added(4, "test_engineer"),
        started(1, 1, "code_developer"),
        usage(1, 1000, 200, Some(0.02)),
        reported(1, ReportStatus::Complete),
        started(2, 1, "code_developer"),
        usage(2, 3000, 600, Some(0.04)),
        reported(2, ReportStatus::Complete),
    ]);
    let r = rates(PRICED);
    let avg = forecast::Averages::of(&state);
    let dev = avg.estimate(&r, "code_developer");
    assert!(dev.observed);
    assert_eq!(dev.tokens, 2400);
    assert!((dev.cost_usd.unwrap() - 0.03).abs() < 1e-12);
    assert_eq!(dev.secs, 20, "each took two event gaps");
    let f = forecast::forecast(&state, &r);
    assert_eq!(
        f.basis,
        ForecastBasis::Mixed,
        "the tester still runs on its prior"
    );
    assert_eq!(f.finished, 2);
    assert_eq!(f.remaining, 2);
    // One worker: the developer's 20 s and the tester's 120 s in a row.
    assert_eq!(f.secs, 140);
}

#[test]
fn an_unknown_price_makes_the_cost_unknown_never_zero() {
    let state = fold(vec![
        run_started(2),
        mode(),
        added(1, "code_developer"),
        started(1, 1, "code_developer"),
        usage(1, 1000, 200, None),
        reported(1, ReportStatus::Complete),
        added(2, "code_developer"),
    ]);
    let f = forecast::forecast(&state, &rates(None));
    assert_eq!(f.cost_usd, None);
    assert!(f.tokens > 0);
    assert!(forecast::to_go(&f).contains("cost to go unknown"));
    // A role with its own priced model is priced even when the worker model is not.
    let mut r = rates(None);
    r.roles.insert("code_developer".into(), PRICED);
    assert!(forecast::forecast(&state, &r).cost_usd.is_some());
}

#[test]
fn huge_numbers_saturate_instead_of_overflowing() {
    let mut events = vec![run_started(u32::MAX), mode()];
    for id in 1..=3 {
        events.push(added(id, "code_developer"));
        events.push(started(id, 1, "code_developer"));
        events.push(usage(id, u64::MAX / 4, u64::MAX / 4, Some(f64::MAX)));
        events.push(reported(id, ReportStatus::Complete));
    }
    for id in 4..=7 {
        events.push(added(id, "code_developer"));
    }
    let state = fold(events);
    let f = forecast::forecast(&state, &rates(PRICED));
    assert_eq!(f.remaining, 4);
    assert_eq!(f.tokens, u64::MAX, "saturated");
    assert!(f.cost_usd.is_none_or(|c| c.is_finite()));
    let huge = Rate {
        input: f64::MAX,
        output: f64::MAX,
    };
    let f = forecast::forecast(&state, &rates(Some(huge)));
    assert!(f.cost_usd.is_none_or(|c| c.is_finite()));
}

#[test]
fn the_balance_warns_at_80_percent_after_5_finished() {
    let mut events = vec![run_started(3), mode()];
    for id in 1..=4 {
        events.push(added(id, "code_developer"));
        events.push(started(id, 1, "code_developer"));
        events.push(reported(id, ReportStatus::Complete));
    }
    assert_eq!(
        balance::imbalance(&fold(events.clone())),
        None,
        "only 4 finished"
    );
    events.push(added(5, "test_engineer"));
    events.push(started(5, 2, "test_engineer"));
    events.push(reported(5, ReportStatus::Complete));
    let state = fold(events.clone());
    let i = balance::imbalance(&state).unwrap();
    assert_eq!(
        (i.kind, i.name.as_str(), i.held, i.finished),
        (BalanceKind::Role, "code_developer", 4, 5)
    );
    assert_eq!(i.percent(), 80);
    assert_eq!(balance::changed(&state), Some(Some(i.clone())));
    assert_eq!(
        balance::describe(&i),
        "role code developer did 4 of 5 finished subtasks (80 %)"
    );
    // Journaled: no change until it crosses back.
    events.push(Event::BalanceChanged { imbalance: Some(i) });
    let state = fold(events.clone());
    assert_eq!(balance::changed(&state), None);
    assert!(balance::context_line(&state).unwrap().contains("80 %"));
    for id in 6..=7 {
        events.push(added(id, "documentation_writer"));
        events.push(started(id, 3, "documentation_writer"));
        events.push(reported(id, ReportStatus::Complete));
    }
    let state = fold(events);
    assert_eq!(
        balance::changed(&state),
        Some(None),
        "4 of 7 is balanced again"
    );
}

#[test]
fn one_worker_slot_holding_the_work_warns_only_with_several_slots() {
    let mut events = vec![run_started(1), mode()];
    let roles = ["code_developer", "test_engineer", "code_analyzer"];
    for id in 1..=6 {
        let role = roles[id as usize % 3];
        events.push(added(id, role));
        events.push(started(id, 1, role));
        events.push(reported(id, ReportStatus::Complete));
    }
    assert_eq!(balance::imbalance(&fold(events.clone())), None, "one slot");
    events[0] = run_started(4);
    let i = balance::imbalance(&fold(events)).unwrap();
    assert_eq!(
        (i.kind, i.name.as_str(), i.held),
        (BalanceKind::Worker, "w1", 6)
    );
}

#[test]
fn budget_stages_are_checked() {
    assert_eq!(BudgetStages::default().0, vec![50, 80, 100]);
    assert_eq!(BudgetStages::checked(vec![]).unwrap().0, Vec::<u32>::new());
    assert_eq!(
        BudgetStages::checked(vec![25, 100]).unwrap().0,
        vec![25, 100]
    );
    for bad in [
        vec![0],
        vec![101],
        vec![80, 50],
        vec![50, 50],
        (1..=11).collect(),
    ] {
        assert!(BudgetStages::checked(bad.clone()).is_err(), "{bad:?}");
    }
    // A journal written before stages existed reads the default.
    let limits: Limits = serde_json::from_str(
        r#"{"max_subtasks":3,"max_cycles":null,
        "max_tokens":null,"budget_usd":null,"max_wall_secs":null}"#,
    )
    .unwrap();
    assert_eq!(limits.budget_stages, BudgetStages::default());
}
