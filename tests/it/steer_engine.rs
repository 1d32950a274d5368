//! Steering one worker while the others run (issue 11, capability 4), against the fake
//! server in both wire formats: worker A is paused while worker B and the orchestrator keep
//! making requests; A then gets a note that is in its next request body, and is restarted
//! from an edited brief (journaled as the person's restart, not as a failure).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use engine_common::{config, drive, settings};
use serde_json::json;
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse, plan, protocol_reply};

const KINDS: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::Openai];
const NOTE: &str = "marker-note-42: store links in sqlite";
const EDITED: &str = "Build Part 1 on sqlite with WAL.";
const A: SubtaskId = SubtaskId(1);

/// Who a request is from, and whether A was paused (as the front end saw it) when it came.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    who: &'static str,
    while_paused: bool,
    has_note: bool,
    edited: bool,
}

fn who(r: &RecordedRequest) -> &'static str {
    match r.forced_tool() {
        Some(SUBMIT_REPLAN) => "replan",
        Some(t) if t != SUBMIT_REPORT => "orchestrator",
        _ if r.raw_body.contains("Part 1") => "A",
        _ => "B",
    }
}

/// Workers answer with a call to a tool they do not have (the loop feeds back an error and
/// goes on), so each makes several requests: B five, then it reports; A's first attempt
/// never reports (it is restarted); A's second attempt, from the edited brief, reports.
fn answer(
    r: &RecordedRequest,
    kind: ProviderKind,
    paused: &AtomicBool,
    seen: &Mutex<Vec<Seen>>,
) -> ScriptedResponse {
    let subtasks = plan(2, &["code_developer"]);
    let w = who(r);
    let edited = r.raw_body.contains(EDITED);
    let mut log = seen.lock().unwrap();
    log.push(Seen {
        who: w,
        while_paused: paused.load(Ordering::SeqCst),
        has_note: r.raw_body.contains(NOTE) && r.raw_body.contains(PERSON_NOTE_TAG),
        edited,
    });
    let b_calls = log.iter().filter(|s| s.who == "B").count();
    drop(log);
    let noop = || {
        Reply::new()
            .text("working")
            .tool(&format!("t{}", r.index), "look_around", json!({}))
            .usage(10, 5)
    };
    let reply = match w {
        "A" if !edited => noop(),
        "B" if b_calls < 5 => noop(),
        _ => protocol_reply(r, &subtasks).usage(10, 5),
    };
    reply
        .for_kind(kind)
        .first_byte_delay(Duration::from_millis(100))
}

#[tokio::test(start_paused = true)]
async fn one_worker_is_steered_while_the_other_and_the_orchestrator_go_on() {
    for kind in KINDS {
        let paused = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (p2, s2) = (paused.clone(), seen.clone());
        let server = FakeLlm::with_responder(move |r| answer(r, kind, &p2, &s2)).await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 2));
        let mut sent_pause = false;
        let mut sent_note = false;
        let mut sent_resume = false;
        let mut sent_restart = false;
        let f = drive(
            cfg,
            provider,
            Start::New {
                run_id: "steer".into(),
                task: "build".into(),
            },
            |e, state| {
                let steer = |steer| Command::Steer { id: A, steer };
                match &e.event {
                    Event::SubtaskStarted { id, attempt: 1, .. } if *id == A && !sent_pause => {
                        sent_pause = true;
                        vec![steer(Steer::Pause)]
                    }
                    Event::WorkerSteered {
                        steer: Steer::Pause,
                        ..
                    } => {
                        paused.store(true, Ordering::SeqCst);
                        vec![]
                    }
                    Event::SubtaskReported { id, .. } if *id == SubtaskId(2) && !sent_note => {
                        sent_note = true;
                        vec![
                            steer(Steer::Note { text: NOTE.into() }),
                            Command::Edit {
                                id: A,
                                patch: SubtaskPatch {
                                    description: Some(EDITED.into()),
                                    ..SubtaskPatch::default()
                                },
                            },
                        ]
                    }
                    // The orchestrator's replan of B's report ran while A was paused.
                    Event::ReplanLogged { covered, .. }
                        if covered.contains(&SubtaskId(2)) && !sent_resume =>
                    {
                        sent_resume = true;
                        paused.store(false, Ordering::SeqCst);
                        vec![steer(Steer::Resume)]
                    }
                    Event::WorkerToolUsed { id, attempt: 1, .. }
                        if *id == A
                            && sent_resume
                            && !sent_restart
                            && state.subtask(A).unwrap().tool_uses.len() >= 2 =>
                    {
                        sent_restart = true;
                        vec![steer(Steer::Restart)]
                    }
                    _ => vec![],
                }
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        let seen = seen.lock().unwrap().clone();

        // While A was paused: B and the orchestrator kept going, A made no request beyond
        // the one that may have been in flight when the pause came.
        let during: Vec<&Seen> = seen.iter().filter(|s| s.while_paused).collect();
        assert!(
            during.iter().filter(|s| s.who == "B").count() >= 3,
            "{kind:?}: {seen:#?}"
        );
        assert!(
            during.iter().any(|s| s.who == "replan"),
            "{kind:?}: {seen:#?}"
        );
        assert!(
            during.iter().filter(|s| s.who == "A").count() <= 1,
            "{kind:?}: {seen:#?}"
        );

        // A's first request after the resume carries the note, marked as the person's.
        let a: Vec<&Seen> = seen.iter().filter(|s| s.who == "A").collect();
        let first_after = seen
            .iter()
            .skip_while(|s| !s.while_paused)
            .skip_while(|s| s.while_paused)
            .find(|s| s.who == "A")
            .unwrap();
        assert!(first_after.has_note, "{kind:?}: {seen:#?}");
        assert!(a.iter().take_while(|s| !s.has_note).all(|s| !s.edited));

        // The restart: attempt 2 works from the edited brief (and has the note too); no
        // failure, no recovery for A.
        let last_a = a.last().unwrap();
        assert!(last_a.edited && last_a.has_note, "{kind:?}: {a:#?}");
        assert_eq!(f.started(1), 2);
        assert_eq!(
            f.of(|e| matches!(e, Event::SubtaskFailed { id, .. } if *id == A))
                .count(),
            0
        );
        assert!(f.state.subtask(A).unwrap().recoveries.is_empty());
        let steers: Vec<(u32, &Steer, Actor)> = f
            .journal
            .events
            .iter()
            .filter_map(|e| match &e.event {
                Event::WorkerSteered {
                    attempt, steer, by, ..
                } => Some((*attempt, steer, *by)),
                _ => None,
            })
            .collect();
        assert_eq!(
            steers,
            vec![
                (1, &Steer::Pause, Actor::Person),
                (1, &Steer::Note { text: NOTE.into() }, Actor::Person),
                (1, &Steer::Resume, Actor::Person),
                (1, &Steer::Restart, Actor::Person),
            ],
            "{kind:?}"
        );
        let brief2 = f
            .journal
            .events
            .iter()
            .find_map(|e| match &e.event {
                Event::SubtaskStarted {
                    id,
                    attempt: 2,
                    brief,
                    ..
                } if *id == A => Some(brief.clone()),
                _ => None,
            })
            .unwrap();
        assert!(brief2.contains(EDITED));
        assert_eq!(
            f.state.subtask(A).unwrap().status,
            baton::state::SubtaskStatus::Complete
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_persons_model_is_used_from_the_next_attempt() {
    for kind in KINDS {
        let models = Arc::new(Mutex::new(Vec::new()));
        let m2 = models.clone();
        let server = FakeLlm::with_responder(move |r| {
            let subtasks = plan(1, &["code_developer"]);
            if who(r) == "A" {
                m2.lock()
                    .unwrap()
                    .push(r.model().unwrap_or_default().to_string());
            }
            let reply = if who(r) == "A" && r.model() != Some("steered-model") {
                Reply::new().tool(&format!("t{}", r.index), "look_around", json!({}))
            } else {
                protocol_reply(r, &subtasks)
            };
            reply
                .usage(10, 5)
                .for_kind(kind)
                .first_byte_delay(Duration::from_millis(50))
        })
        .await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
        let mut sent = 0;
        let f = drive(
            cfg,
            provider,
            Start::New {
                run_id: "model".into(),
                task: "build".into(),
            },
            |e, _| match &e.event {
                Event::SubtaskStarted { id, attempt: 1, .. } if *id == A && sent == 0 => {
                    sent = 1;
                    vec![
                        Command::Steer {
                            id: A,
                            steer: Steer::Model {
                                model: Some("steered-model".into()),
                            },
                        },
                        Command::Steer {
                            id: A,
                            steer: Steer::Restart,
                        },
                    ]
                }
                _ => vec![],
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        let models = models.lock().unwrap().clone();
        assert_eq!(models.last().map(String::as_str), Some("steered-model"));
        let started: Vec<(u32, String)> = f
            .of(|e| matches!(e, Event::SubtaskStarted { .. }))
            .filter_map(|e| match e {
                Event::SubtaskStarted { attempt, model, .. } => Some((*attempt, model.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(started.last().unwrap(), &(2, "steered-model".to_string()));
    }
}

/// A worker paused longer than `worker_timeout_secs` does not time out: the time paused is
/// not counted (it would otherwise fail while paused, or the moment it is resumed). A is
/// paused from its start until B and then C (4 s calls, 16 s each, under the 20 s limit)
/// have reported: over 30 s.
#[tokio::test(start_paused = true)]
async fn time_paused_does_not_count_toward_the_worker_timeout() {
    for kind in KINDS {
        let calls = Arc::new(Mutex::new(std::collections::HashMap::<String, usize>::new()));
        let c2 = calls.clone();
        let server = FakeLlm::with_responder(move |r| {
            let subtasks = plan(3, &["code_developer"]);
            let noop = || Reply::new().tool(&format!("t{}", r.index), "look_around", json!({}));
            let (reply, delay) = match who(r) {
                "B" => {
                    let part = if r.raw_body.contains("Part 2") {
                        "2"
                    } else {
                        "3"
                    };
                    let mut c = c2.lock().unwrap();
                    let n = c.entry(part.to_string()).or_default();
                    *n += 1;
                    let reply = if *n <= 3 {
                        noop()
                    } else {
                        protocol_reply(r, &subtasks)
                    };
                    (reply, 4_000)
                }
                // A: one call, then (after its pause) the report.
                "A" if !r.raw_body.contains("look_around") => (noop(), 100),
                _ => (protocol_reply(r, &subtasks), 100),
            };
            reply
                .usage(10, 5)
                .for_kind(kind)
                .first_byte_delay(Duration::from_millis(delay))
        })
        .await;
        let provider = build_provider(&server.settings(kind)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 2));
        cfg.worker_timeout_secs = 20;
        let mut paused_at = None;
        let mut resumed_at = None;
        let f = drive(
            cfg,
            provider,
            Start::New {
                run_id: "timeout".into(),
                task: "build".into(),
            },
            |e, _| match &e.event {
                Event::SubtaskStarted { id, .. } if *id == A && paused_at.is_none() => {
                    paused_at = Some(tokio::time::Instant::now());
                    vec![Command::Steer {
                        id: A,
                        steer: Steer::Pause,
                    }]
                }
                Event::SubtaskReported { id, .. } if *id == SubtaskId(3) => {
                    resumed_at = Some(tokio::time::Instant::now());
                    vec![Command::Steer {
                        id: A,
                        steer: Steer::Resume,
                    }]
                }
                _ => vec![],
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind:?}");
        let paused_for = resumed_at.unwrap() - paused_at.unwrap();
        assert!(paused_for > Duration::from_secs(30), "{paused_for:?}");
        let failed: Vec<&Event> = f.of(|e| matches!(e, Event::SubtaskFailed { .. })).collect();
        assert!(failed.is_empty(), "{kind:?}: {failed:?}");
        assert_eq!(f.started(1), 1);
    }
}
