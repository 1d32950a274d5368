//! The reducer (`state::apply`), one event family at a time, and the rule book
//! (`State::check`): pure functions over events, no engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baton::protocol::*;
use baton::state::{Refusal, State, SubtaskStatus};
use chrono::{TimeZone, Utc};

/// Folds events stamped one second apart, numbered from 1.
pub(crate) fn fold(events: Vec<Event>) -> State {
    let envelopes: Vec<Envelope> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            seq: i as u64 + 1,
            ts: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap(),
            v: JOURNAL_VERSION,
            event,
        })
        .collect();
    State::fold(&envelopes)
}

fn settings() -> RunSettings {
    RunSettings {
        provider: "demo".into(),
        base_url: String::new(),
        orchestrator_model: "o".into(),
        worker_model: "w".into(),
        max_workers: 2,
        approve: ApprovalPolicy::Scope,
        limits: Limits {
            max_subtasks: Some(3),
            ..Limits::default()
        },
        complexity_threshold: 0.7,
        evaluate: false,
        evaluate_rounds: 1,
        workspace: None,
        read_only: false,
        allow_commands: false,
        role_dispatch: Default::default(),
    }
}

pub(crate) fn started() -> Event {
    Event::RunStarted {
        run_id: "r1".into(),
        task: "the task".into(),
        settings: settings(),
    }
}

pub(crate) fn added(id: u32, needs_approval: bool) -> Event {
    Event::SubtaskAdded {
        spec: SubtaskSpec {
            id: SubtaskId(id),
            title: format!("t{id}"),
            description: "d".into(),
            role: "code_developer".into(),
            priority: Priority::Normal,
            depends_on: Vec::new(),
            expected_output: String::new(),
        },
        origin: Origin::Analysis,
        needs_approval,
    }
}

pub(crate) fn started_on(id: u32, worker: u32) -> Event {
    Event::SubtaskStarted {
        id: SubtaskId(id),
        attempt: 1,
        worker: WorkerId(worker),
        role: "code_developer".into(),
        model: "w".into(),
        brief: "b".into(),
        task_omitted: false,
    }
}

pub(crate) fn status(state: &State, id: u32) -> SubtaskStatus {
    state.subtask(SubtaskId(id)).unwrap().status
}

#[test]
fn lifecycle_events_set_task_phase_mode_and_outcome() {
    let state = fold(vec![
        started(),
        Event::PhaseChanged {
            phase: Phase::Analysing,
        },
        Event::ModeChoiceRequested {
            complexity: 0.3,
            threshold: 0.7,
        },
    ]);
    assert_eq!(state.run_id, "r1");
    assert_eq!(&*state.task, "the task");
    assert_eq!(state.max_workers, 2);
    assert_eq!(state.limits.max_subtasks, Some(3));
    assert_eq!(state.phase, Phase::Analysing);
    assert_eq!(state.mode_choice, Some((0.3, 0.7)));

    let mut events = vec![
        started(),
        Event::ModeChoiceRequested {
            complexity: 0.3,
            threshold: 0.7,
        },
        Event::ModeChosen {
            mode: RunMode::Orchestrate,
            by: Actor::Person,
        },
        Event::RunFinished {
            outcome: RunOutcome::Completed,
        },
    ];
    let state = fold(events.clone());
    assert_eq!(state.mode, Some(RunMode::Orchestrate));
    assert_eq!(state.mode_choice, None);
    assert_eq!(state.phase, Phase::Done);
    assert!(state.is_finished());
    assert_eq!(state.elapsed_secs(), 3.0);

    events.push(Event::RunResumed {
        interrupted: Vec::new(),
        torn_line_dropped: false,
    });
    let state = fold(events);
    assert_eq!(state.resumes, 1);
    assert!(!state.is_finished(), "a resumed run is live again");
}

#[test]
fn plan_events_add_approve_defer_edit_and_cancel() {
    let state = fold(vec![
        started(),
        added(1, true),
        added(2, false),
        added(5, false), // out of order: a damaged journal, ignored
        Event::SubtaskApproved {
            id: SubtaskId(1),
            by: Actor::Person,
        },
        Event::SubtaskDeferred {
            id: SubtaskId(2),
            by: Actor::Person,
        },
        Event::SubtaskEdited {
            id: SubtaskId(1),
            patch: SubtaskPatch {
                title: Some("renamed".into()),
                ..SubtaskPatch::default()
            },
            by: Actor::Person,
        },
        Event::SubtaskRejected {
            title: "bad".into(),
            reason: "unknown role".into(),
        },
    ]);
    assert_eq!(state.subtasks.len(), 2);
    assert_eq!(status(&state, 1), SubtaskStatus::Ready);
    assert!(state.subtask(SubtaskId(1)).unwrap().approved);
    assert_eq!(state.subtask(SubtaskId(1)).unwrap().title, "renamed");
    assert_eq!(status(&state, 2), SubtaskStatus::Deferred);
    assert!(
        state.held_back().is_empty(),
        "a person's deferral is not a limit hold"
    );
    assert_eq!(state.rejected.len(), 1);

    let state = fold(vec![
        started(),
        added(1, false),
        Event::SubtaskCancelled {
            id: SubtaskId(1),
            reason: "obsolete".into(),
            by: Actor::Orchestrator,
        },
    ]);
    assert_eq!(status(&state, 1), SubtaskStatus::Cancelled);
    assert_eq!(
        state.subtask(SubtaskId(1)).unwrap().last_error.as_deref(),
        Some("cancelled: obsolete")
    );
}

#[test]
fn subtasks_held_back_by_the_limit_are_state_and_released_by_undefer() {
    let mut events = vec![
        started(),
        added(1, false),
        added(2, false),
        added(3, false),
        added(4, false),
        Event::SubtaskDeferred {
            id: SubtaskId(4),
            by: Actor::Engine,
        },
    ];
    let state = fold(events.clone());
    assert_eq!(state.held_back(), vec![SubtaskId(4)]);
    events.push(Event::SubtaskUndeferred {
        id: SubtaskId(4),
        by: Actor::Person,
    });
    let state = fold(events);
    assert!(state.held_back().is_empty());
    assert_eq!(status(&state, 4), SubtaskStatus::Ready);
}

#[test]
fn work_events_start_report_fail_recover_and_escalate() {
    let report = Report {
        status: ReportStatus::Blocked,
        results: "no access".into(),
        discoveries: Vec::new(),
        recommendations: Vec::new(),
        new_subtasks: Vec::new(),
    };
    let state = fold(vec![
        started(),
        added(1, false),
        added(2, false),
        started_on(1, 1),
        started_on(2, 2),
        Event::SubtaskReported {
            id: SubtaskId(1),
            attempt: 1,
            output: "out".into(),
            report,
        },
        Event::SubtaskFailed {
            id: SubtaskId(2),
            attempt: 1,
            error: "timeout".into(),
        },
    ]);
    assert_eq!(status(&state, 1), SubtaskStatus::Blocked);
    assert_eq!(
        state.subtask(SubtaskId(1)).unwrap().last_error.as_deref(),
        Some("blocked: no access")
    );
    assert_eq!(status(&state, 2), SubtaskStatus::Failed);
    assert_eq!(state.running().count(), 0);

    let mut events = vec![
        started(),
        added(1, false),
        Event::SubtaskFailed {
            id: SubtaskId(1),
            attempt: 1,
            error: "x".into(),
        },
        Event::RecoveryDecided {
            id: SubtaskId(1),
            action: RecoveryAction::Reassign {
                role: "test_engineer".into(),
            },
            rationale: "r".into(),
            impact: "i".into(),
            by: Actor::Orchestrator,
        },
    ];
    let state = fold(events.clone());
    assert_eq!(status(&state, 1), SubtaskStatus::Ready);
    assert_eq!(state.subtask(SubtaskId(1)).unwrap().role, "test_engineer");
    events.push(Event::SubtaskEscalated {
        id: SubtaskId(1),
        reason: "stuck".into(),
        by: Actor::Person,
    });
    events.push(Event::EscalationResolved {
        id: SubtaskId(1),
        resolution: Resolution::MarkDone {
            result: "done by hand".into(),
        },
        by: Actor::Person,
    });
    let state = fold(events);
    assert_eq!(status(&state, 1), SubtaskStatus::Complete);
    assert_eq!(
        state.subtask(SubtaskId(1)).unwrap().output.as_deref(),
        Some("done by hand")
    );
}

#[test]
fn budget_events_count_usage_retries_alerts_and_dispatch() {
    let usage = Usage {
        input_tokens: 10,
        output_tokens: 5,
        ..Usage::default()
    };
    let state = fold(vec![
        started(),
        added(1, false),
        Event::LlmUsage {
            purpose: CallPurpose::Worker {
                id: SubtaskId(1),
                attempt: 1,
            },
            model: "w".into(),
            usage,
            cost_usd: Some(0.5),
        },
        Event::LlmUsage {
            purpose: CallPurpose::Analysis,
            model: "unknown".into(),
            usage,
            cost_usd: None,
        },
        Event::LlmRetried {
            purpose: CallPurpose::Analysis,
            notice: RetryNotice {
                attempt: 1,
                delay_ms: 1000,
                reason: "429".into(),
            },
        },
        Event::ScopeAlertRaised {
            alert: 1,
            limit: LimitKind::Subtasks,
            current: 4.0,
            max: 3.0,
            pending: Vec::new(),
        },
        Event::ScopeAlertResolved {
            alert: 1,
            decision: ScopeDecision::RaiseLimit { to: 10.0 },
            by: Actor::Person,
        },
        Event::DispatchPaused { by: Actor::Person },
        Event::MaxWorkersChanged {
            max_workers: 5,
            by: Actor::Person,
        },
    ]);
    assert_eq!(state.llm_calls, 2);
    assert_eq!(state.usage.total(), 30);
    assert_eq!(state.cost_usd, 0.5);
    assert_eq!(state.unpriced_calls, 1);
    assert_eq!(state.subtask(SubtaskId(1)).unwrap().usage.total(), 15);
    assert_eq!(state.retries, 1);
    assert_eq!(state.limits.max_subtasks, Some(10));
    assert_eq!(state.open_alerts().count(), 0);
    assert!(state.paused);
    assert_eq!(state.max_workers, 5);
}

#[test]
fn a_huge_raised_limit_saturates_instead_of_panicking() {
    for to in [f64::INFINITY, 1e19, -1.0, f64::NAN] {
        let state = fold(vec![
            started(),
            Event::ScopeAlertRaised {
                alert: 1,
                limit: LimitKind::WallClock,
                current: 10.0,
                max: 10.0,
                pending: Vec::new(),
            },
            Event::ScopeAlertResolved {
                alert: 1,
                decision: ScopeDecision::RaiseLimit { to },
                by: Actor::Person,
            },
        ]);
        assert!(state.limits.max_wall_secs.is_some(), "{to}");
    }
}

#[test]
fn workspace_events_record_commands_files_and_rollbacks() {
    let state = fold(vec![
        started(),
        added(1, false),
        Event::CommandApprovalRequested {
            request: 1,
            id: SubtaskId(1),
            command: "cargo test".into(),
            cwd: ".".into(),
        },
        Event::CommandApprovalDecided {
            request: 1,
            decision: CommandDecision::AllowAlways,
            by: Actor::Person,
        },
        Event::FileChanged {
            id: SubtaskId(1),
            path: "src/a.rs".into(),
            before: None,
            after: Some("h".into()),
            backup: None,
        },
        Event::FileConflict {
            id: SubtaskId(1),
            path: "src/b.rs".into(),
            detail: "changed outside".into(),
        },
    ]);
    assert_eq!(state.allowed_commands, vec!["cargo test".to_string()]);
    assert_eq!(state.open_command_requests().count(), 0);
    assert_eq!(state.files.len(), 1);
    assert_eq!(
        state.subtask(SubtaskId(1)).unwrap().files_changed,
        vec!["src/a.rs".to_string()]
    );
    assert_eq!(state.conflicts.len(), 1);
    assert!(state.check(&Command::Rollback { id: SubtaskId(1) }).is_ok());

    let state = fold(vec![
        started(),
        added(1, false),
        Event::FileChanged {
            id: SubtaskId(1),
            path: "src/a.rs".into(),
            before: None,
            after: Some("h".into()),
            backup: None,
        },
        Event::SubtaskRolledBack {
            id: SubtaskId(1),
            files: vec!["src/a.rs".into()],
            by: Actor::Person,
        },
    ]);
    assert!(state.files.iter().all(|f| f.rolled_back));
    assert_eq!(
        state.check(&Command::Rollback { id: SubtaskId(1) }),
        Err(Refusal::NoChanges(SubtaskId(1)))
    );
}

#[test]
fn the_rule_book_answers_by_status() {
    let state = fold(vec![
        started(),
        added(1, true),
        added(2, false),
        started_on(2, 1),
    ]);
    let one = SubtaskId(1);
    let two = SubtaskId(2);
    assert!(state.check(&Command::Approve { id: one }).is_ok());
    assert!(state.check(&Command::ApproveAll).is_ok());
    assert_eq!(
        state.check(&Command::Approve { id: two }),
        Err(Refusal::NotApplicable {
            what: "approve",
            id: two,
            status: SubtaskStatus::Running
        })
    );
    assert_eq!(
        state
            .check(&Command::Approve { id: two })
            .unwrap_err()
            .to_string(),
        "cannot approve #2: it is running"
    );
    assert!(matches!(
        state.check(&Command::Undefer { id: SubtaskId(9) }),
        Err(Refusal::NoSuchSubtask { .. })
    ));
    assert!(state.check(&Command::Cancel { id: two }).is_ok());
    assert_eq!(
        state.check(&Command::Resume),
        Err(Refusal::NotPaused),
        "dispatch is not paused"
    );
    assert_eq!(
        state.check(&Command::SetMaxWorkers { max_workers: 0 }),
        Err(Refusal::ZeroWorkers)
    );
    assert_eq!(
        state.check(&Command::ChooseMode {
            mode: RunMode::SingleWorker
        }),
        Err(Refusal::NoModeChoice)
    );
    assert_eq!(
        state.check(&Command::Rollback { id: two }),
        Err(Refusal::RollbackRunning(two))
    );
}

#[test]
fn the_rule_book_refuses_unusable_raised_limits() {
    let state = fold(vec![
        started(),
        Event::ScopeAlertRaised {
            alert: 1,
            limit: LimitKind::WallClock,
            current: 10.0,
            max: 10.0,
            pending: Vec::new(),
        },
    ]);
    for to in [f64::INFINITY, f64::NAN, -1.0, 1e19] {
        let cmd = Command::ResolveScopeAlert {
            alert: 1,
            decision: ScopeDecision::RaiseLimit { to },
        };
        assert!(
            matches!(state.check(&cmd), Err(Refusal::BadLimit(_))),
            "{to}"
        );
    }
    let ok = Command::ResolveScopeAlert {
        alert: 1,
        decision: ScopeDecision::RaiseLimit { to: 3600.0 },
    };
    assert!(state.check(&ok).is_ok());
}
