//! Steering one worker, as the reducer folds it (`worker_steered`, a person's edit of a
//! running subtask) and as the rule book (`State::check`) answers `Command::Steer`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baton::protocol::*;
use baton::state::{Refusal, State, SubtaskStatus};
use chrono::{TimeZone, Utc};

/// Envelopes stamped one second apart, numbered from 1.
fn envelopes(events: Vec<Event>) -> Vec<Envelope> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            seq: i as u64 + 1,
            ts: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap(),
            v: JOURNAL_VERSION,
            event,
        })
        .collect()
}

fn fold(events: Vec<Event>) -> State {
    State::fold(&envelopes(events))
}

fn base() -> Vec<Event> {
    vec![
        Event::RunStarted {
            run_id: "r1".into(),
            task: "the task".into(),
            settings: crate::engine_common::settings(ApprovalPolicy::Auto, 2),
        },
        crate::tui_support::added(
            1,
            "t1",
            "code_developer",
            Priority::Normal,
            &[],
            Origin::Analysis,
            false,
        ),
        started(1),
    ]
}

fn started(attempt: u32) -> Event {
    Event::SubtaskStarted {
        id: SubtaskId(1),
        attempt,
        worker: WorkerId(1),
        role: "code_developer".into(),
        model: "w".into(),
        brief: "b".into(),
        task_omitted: false,
    }
}

fn steered(attempt: u32, steer: Steer) -> Event {
    Event::WorkerSteered {
        id: SubtaskId(1),
        attempt,
        steer,
        by: Actor::Person,
    }
}

fn with(extra: Vec<Event>) -> State {
    let mut events = base();
    events.extend(extra);
    fold(events)
}

const ID: SubtaskId = SubtaskId(1);

#[test]
fn pause_holds_the_running_attempt_and_resume_lifts_it() {
    let state = with(vec![steered(1, Steer::Pause)]);
    assert!(state.worker_paused(ID));
    assert_eq!(state.subtask(ID).unwrap().status, SubtaskStatus::Running);
    let log = &state.steering(ID).unwrap().log;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].by, Actor::Person);
    assert_eq!(log[0].at, Utc.timestamp_opt(1_700_000_003, 0).unwrap());

    let state = with(vec![steered(1, Steer::Pause), steered(1, Steer::Resume)]);
    assert!(!state.worker_paused(ID));
    assert_eq!(state.steering(ID).unwrap().log.len(), 2);
}

#[test]
fn a_pause_does_not_carry_over_to_a_new_attempt() {
    // The attempt fails while paused (its call was in flight); the retry starts unpaused.
    let state = with(vec![
        steered(1, Steer::Pause),
        Event::SubtaskFailed {
            id: ID,
            attempt: 1,
            error: "boom".into(),
        },
    ]);
    assert!(!state.worker_paused(ID));
    let state = with(vec![steered(1, Steer::Pause), started(2)]);
    assert!(!state.worker_paused(ID));
}

#[test]
fn notes_are_kept_in_order_with_their_attempt() {
    let state = with(vec![
        steered(
            1,
            Steer::Note {
                text: "use sqlite".into(),
            },
        ),
        steered(
            1,
            Steer::Note {
                text: "and WAL".into(),
            },
        ),
    ]);
    let notes = state.person_notes(ID);
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].text, "use sqlite");
    assert_eq!(notes[1].text, "and WAL");
    assert_eq!(notes[0].attempt, 1);
}

#[test]
fn a_model_applies_to_next_attempts_and_can_be_cleared() {
    let state = with(vec![steered(
        1,
        Steer::Model {
            model: Some("big-model".into()),
        },
    )]);
    assert_eq!(state.steered_model(ID), Some("big-model"));
    // The running attempt keeps the model it started with.
    assert_eq!(state.subtask(ID).unwrap().model.as_deref(), Some("w"));
    let state = with(vec![
        steered(
            1,
            Steer::Model {
                model: Some("big-model".into()),
            },
        ),
        steered(1, Steer::Model { model: None }),
    ]);
    assert_eq!(state.steered_model(ID), None);
}

#[test]
fn a_restart_requeues_the_subtask_without_a_failure() {
    let state = with(vec![steered(1, Steer::Pause), steered(1, Steer::Restart)]);
    let s = state.subtask(ID).unwrap();
    assert_eq!(s.status, SubtaskStatus::Ready);
    assert_eq!(s.attempts, 1, "the next attempt is 2");
    assert_eq!(s.last_error, None);
    assert!(s.recoveries.is_empty());
    assert!(!state.worker_paused(ID));
    assert_eq!(state.steering(ID).unwrap().log[1].steer, Steer::Restart);
}

#[test]
fn a_persons_edit_of_a_running_subtask_is_marked_until_the_restart() {
    let edit = Event::SubtaskEdited {
        id: ID,
        patch: SubtaskPatch {
            description: Some("new brief".into()),
            ..SubtaskPatch::default()
        },
        by: Actor::Person,
    };
    let state = with(vec![edit.clone()]);
    assert!(state.brief_edited_since_start(ID));
    assert_eq!(state.subtask(ID).unwrap().description, "new brief");
    let state = with(vec![edit.clone(), steered(1, Steer::Restart), started(2)]);
    assert!(!state.brief_edited_since_start(ID));
    // The orchestrator's edit is not a person's steering.
    let state = with(vec![Event::SubtaskEdited {
        id: ID,
        patch: SubtaskPatch {
            description: Some("x".into()),
            ..SubtaskPatch::default()
        },
        by: Actor::Orchestrator,
    }]);
    assert!(!state.brief_edited_since_start(ID));
}

#[test]
fn a_steer_of_an_unknown_subtask_folds_to_nothing() {
    let mut events = base();
    events.push(Event::WorkerSteered {
        id: SubtaskId(9),
        attempt: 1,
        steer: Steer::Pause,
        by: Actor::Person,
    });
    let state = fold(events);
    assert!(state.steering.is_empty());
}

#[test]
fn the_rule_book_answers_each_steer() {
    let check = |state: &State, steer: Steer| state.check(&Command::Steer { id: ID, steer });
    let running = with(vec![]);
    assert_eq!(check(&running, Steer::Pause), Ok(()));
    assert_eq!(check(&running, Steer::Restart), Ok(()));
    assert!(matches!(
        check(&running, Steer::Resume),
        Err(Refusal::Steer(_))
    ));
    let paused = with(vec![steered(1, Steer::Pause)]);
    assert!(matches!(
        check(&paused, Steer::Pause),
        Err(Refusal::Steer(_))
    ));
    assert_eq!(check(&paused, Steer::Resume), Ok(()));
    assert!(matches!(
        check(&running, Steer::Note { text: "  ".into() }),
        Err(Refusal::Steer(_))
    ));
    assert!(matches!(
        check(
            &running,
            Steer::Note {
                text: "x".repeat(NOTE_MAX_CHARS + 1)
            }
        ),
        Err(Refusal::Steer(_))
    ));
    assert!(matches!(
        check(
            &running,
            Steer::Model {
                model: Some("two words".into())
            }
        ),
        Err(Refusal::Steer(_))
    ));
    // Not running: no pause or restart, but a note or a model for its next attempt.
    let done = with(vec![Event::SubtaskReported {
        id: ID,
        attempt: 1,
        output: "o".into(),
        report: Report {
            status: ReportStatus::Complete,
            results: "r".into(),
            discoveries: vec![],
            recommendations: vec![],
            new_subtasks: vec![],
        },
    }]);
    assert_eq!(
        check(&done, Steer::Pause).unwrap_err().to_string(),
        "cannot pause #1: it is complete"
    );
    assert!(check(&done, Steer::Note { text: "x".into() }).is_err());
    let failed = with(vec![Event::SubtaskFailed {
        id: ID,
        attempt: 1,
        error: "e".into(),
    }]);
    assert_eq!(check(&failed, Steer::Note { text: "x".into() }), Ok(()));
    assert!(check(&failed, Steer::Restart).is_err());
    assert!(matches!(
        with(vec![]).check(&Command::Steer {
            id: SubtaskId(7),
            steer: Steer::Pause
        }),
        Err(Refusal::NoSuchSubtask { .. })
    ));
}

#[test]
fn steering_is_a_person_decision_in_the_journal_sense() {
    assert!(baton::journal::is_milestone(&steered(1, Steer::Pause)));
}

#[test]
fn steering_is_in_the_exports_provenance_with_who_and_when() {
    let mut events = base();
    events.push(steered(1, Steer::Pause));
    events.push(steered(
        1,
        Steer::Note {
            text: "use\nsqlite".into(),
        },
    ));
    let envelopes = envelopes(events);
    let prov = baton::export::provenance::build(&envelopes);
    let steers: Vec<_> = prov
        .decisions
        .iter()
        .filter(|d| d.kind == "steer")
        .collect();
    assert_eq!(steers.len(), 2);
    assert_eq!(steers[0].by, Actor::Person);
    assert_eq!(steers[0].subtask, Some(1));
    assert_eq!(steers[0].seq, 4);
    assert_eq!(steers[0].at, Utc.timestamp_opt(1_700_000_003, 0).unwrap());
    assert_eq!(steers[0].detail, "attempt 1: paused the worker");
    assert_eq!(steers[1].detail, "attempt 1: note: use sqlite");
    let sub = prov.subtasks.iter().find(|s| s.id == 1).unwrap();
    assert!(sub.decisions.contains(&steers[1].n));
}
