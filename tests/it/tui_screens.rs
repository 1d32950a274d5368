//! Snapshots of every screen and modal at 80x24 and 160x48, driven by event sequences and
//! keys (no sleeping, fixed clock).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::engine::*;
use baton::llm::StreamEvent;
use baton::protocol::*;
use baton::tui::app::{Msg, Screen};
use baton::tui::update;
use crossterm::event::KeyCode;
use tui_support::both;
use tui_support::*;

/// The main screen with the escalation modal dismissed ("later").
fn main_screen() -> baton::tui::Ui {
    let mut ui = new_ui();
    mid_run(&mut ui);
    assert!(ui.modal.is_some(), "the escalation opens by itself");
    key(&mut ui, KeyCode::Esc);
    assert!(ui.modal.is_none());
    ui
}

#[test]
fn main_screen_mid_run() {
    let mut ui = main_screen();
    both!("main", &mut ui);
}

#[test]
fn escalation_modal() {
    let mut ui = new_ui();
    mid_run(&mut ui);
    both!("escalation", &mut ui);
    ch(&mut ui, 'g');
    typed(&mut ui, "Use base62 and retry on collision.");
    both!("escalation_guidance", &mut ui);
}

#[test]
fn scope_alert_modal() {
    let mut ui = main_screen();
    let mut s = Script {
        seq: 500,
        at: ui.now,
    };
    later(&mut ui, 5);
    feed(
        &mut ui,
        &mut s,
        vec![Event::ScopeAlertRaised {
            alert: 1,
            limit: LimitKind::Subtasks,
            current: 12.0,
            max: 12.0,
            pending: vec![SubtaskId(8), SubtaskId(9), SubtaskId(10)],
        }],
    );
    assert!(ui.modal.is_some());
    both!("scope_alert", &mut ui);
    ch(&mut ui, 'r');
    both!("scope_alert_raise", &mut ui);
}

#[test]
fn command_approval_modal() {
    let mut ui = main_screen();
    request_command(&mut ui, "cargo test --all");
    both!("command_approval", &mut ui);
}

#[test]
fn mode_choice_modal() {
    let mut ui = new_ui();
    let mut s = Script::default();
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "r1".into(),
                task: "Rename a variable".into(),
                settings: settings(),
            },
            Event::PhaseChanged {
                phase: Phase::Analysing,
            },
            Event::AnalysisCompleted {
                analysis: Analysis {
                    complexity: 0.3,
                    task_type: "edit".into(),
                    known_requirements: vec![],
                    unknowns: vec![],
                    estimated_subtasks: 1,
                    strategy: "one small change".into(),
                },
                first_subtasks: None,
            },
            Event::ModeChoiceRequested {
                complexity: 0.3,
                threshold: 0.7,
            },
        ],
    );
    both!("mode_choice", &mut ui);
}

#[test]
fn quit_modal_during_run() {
    let mut ui = main_screen();
    ch(&mut ui, 'q');
    both!("quit", &mut ui);
}

#[test]
fn edit_and_add_forms() {
    let mut ui = main_screen();
    // Select #8 (waiting for approval) and edit it.
    while ui.selected_subtask() != Some(SubtaskId(8)) {
        key(&mut ui, KeyCode::Down);
    }
    ch(&mut ui, 'E');
    both!("edit_form", &mut ui);
    key(&mut ui, KeyCode::Esc);
    ch(&mut ui, 'N');
    both!("add_form", &mut ui);
}

#[test]
fn cancel_confirmation() {
    let mut ui = main_screen();
    while ui.selected_subtask() != Some(SubtaskId(10)) {
        key(&mut ui, KeyCode::Down);
    }
    ch(&mut ui, 'c');
    both!("cancel_confirm", &mut ui);
}

#[test]
fn detail_view() {
    let mut ui = main_screen();
    ch(&mut ui, 'o');
    while ui.selected_subtask() != Some(SubtaskId(2)) {
        key(&mut ui, KeyCode::Down);
    }
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.screen, Screen::Detail(SubtaskId(2)));
    both!("detail", &mut ui);
}

#[test]
fn help_screen() {
    let mut ui = main_screen();
    ch(&mut ui, '?');
    both!("help", &mut ui);
}

#[test]
fn zoomed_pane_with_retry_marker() {
    let mut ui = main_screen();
    update(
        &mut ui,
        Msg::Delta(Delta {
            subtask: Some(SubtaskId(7)),
            attempt: 1,
            event: StreamEvent::Retry(retry_notice()),
        }),
    );
    delta(&mut ui, Some(7), "Drafting cases again after the retry …");
    while ui.selected_subtask() != Some(SubtaskId(7)) {
        key(&mut ui, KeyCode::Down);
    }
    ch(&mut ui, 'z');
    both!("zoom", &mut ui);
}

#[test]
fn focus_on_panes_and_replan_log_expanded() {
    let mut ui = main_screen();
    key(&mut ui, KeyCode::Tab);
    key(&mut ui, KeyCode::Tab);
    key(&mut ui, KeyCode::Enter);
    both!("replan_expanded", &mut ui);
}

#[test]
fn task_editor_before_a_run() {
    let mut ui = new_ui().with_editor();
    typed(&mut ui, "Build a URL shortener");
    update(
        &mut ui,
        Msg::Paste("\nwith an API, storage and tests".into()),
    );
    both!("editor", &mut ui);
}

#[test]
fn synthesis_view() {
    let mut ui = main_screen();
    let mut s = Script {
        seq: 900,
        at: ui.now,
    };
    feed(&mut ui, &mut s, vec![
        Event::PhaseChanged { phase: Phase::Synthesising },
        Event::SynthesisCompleted {
            synthesis: Synthesis {
                deliverable: "# URL shortener\n\nA small **REST** service.\n\n## API\n\n| method | path | does |\n|---|---|---|\n| POST | /links | create |\n| GET | /{code} | redirect |\n\n```rust\nfn shorten(url: &str) -> String { base62(hash(url)) }\n```\n\n1. storage: SQLite\n2. tests: 14 cases\n   - expired links\n".into(),
                integration_points: vec!["the API uses the store trait of #3".into()],
                conflicts: vec!["#2 wanted UUIDs, #5 base62: base62 kept".into()],
                coherence: "consistent".into(),
            },
            summary: ExecutionSummary {
                subtasks_total: 11, initial_estimate: 5, completed: 8, failed: 0, cancelled: 1, deferred: 1,
                per_role: vec![("code_developer".into(), 4), ("test_engineer".into(), 1)],
                replan_cycles: 3, pivots: vec!["cycle 2: dropped the CLI client".into()], elapsed_secs: 312.0,
                tokens: Default::default(), cost_usd: Some(0.41), retries: 1, evaluation_rounds: 0, files_changed: vec![],
                findings_left: Vec::new(),
            },
        },
        Event::PhaseChanged { phase: Phase::Done },
        Event::RunFinished { outcome: RunOutcome::Completed },
    ]);
    assert_eq!(ui.screen, Screen::Synthesis);
    both!("synthesis", &mut ui);
}

#[test]
fn ascii_and_no_color_fallback() {
    let mut ui = main_screen();
    ui.theme = baton::tui::theme::Theme {
        ascii: true,
        color: false,
        light: false,
    };
    insta::assert_snapshot!("main_ascii_80x24", render(&mut ui, 80, 24));
}

#[test]
fn header_shows_retry_backoff_and_pause() {
    let mut ui = main_screen();
    let mut s = Script {
        seq: 700,
        at: ui.now,
    };
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::LlmRetried {
                purpose: CallPurpose::Worker {
                    id: SubtaskId(6),
                    attempt: 1,
                },
                notice: retry_notice(),
            },
            Event::DispatchPaused { by: Actor::Person },
        ],
    );
    ui.now = s.at;
    let screen = render(&mut ui, 160, 48);
    let header: String = screen.lines().take(3).collect::<Vec<_>>().join("\n");
    assert!(
        header.contains("retry 1 in 2s: 429 rate limited"),
        "{header}"
    );
    assert!(header.contains("PAUSED"), "{header}");
    assert!(header.contains("dispatch paused"), "{header}");
}

/// The engine's task ended without a journaled end (it panicked, or the journal could not
/// be written): the screen shows a FAILED run with the reason, not a live run.
#[test]
fn engine_failure_shows_a_failed_run_with_the_reason() {
    let mut ui = main_screen();
    update(&mut ui, Msg::EngineClosed);
    update(
        &mut ui,
        Msg::EngineFailed("the engine panicked: index out of bounds".into()),
    );
    assert!(ui.state.is_finished());
    let screen = render(&mut ui, 160, 48);
    assert!(screen.contains("FAILED"), "{screen}");
    assert!(!screen.contains("RUNNING"), "{screen}");
    assert!(screen.contains("the engine panicked"), "{screen}");
    both!("engine_failed", &mut ui);
}
