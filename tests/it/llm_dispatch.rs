//! Dispatch policies per role and per subtask (`auto | ask | hold`) and the per-role
//! concurrency cap, against the fake server (both wire formats), and their reducer and rule
//! book: the engine never runs more workers of a capped role at once, asks a person before a
//! subtask whose policy is `ask` starts, keeps `hold` subtasks back until their policy
//! changes, and a headless run stops saying why instead of finishing without them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::collections::BTreeMap;

use baton::engine::*;
use baton::llm::ProviderKind;
use baton::protocol::*;
use baton::session::build_provider;
use baton::state::{Refusal, State, SubtaskStatus};
use chrono::{TimeZone, Utc};
use engine_common::{check_consistent, config, drive, settings};
use std::time::Duration;
use support::{FakeLlm, plan, protocol_reply};

const KINDS: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::Openai];

fn rules(role: &str, policy: DispatchPolicy, cap: Option<u32>) -> BTreeMap<String, RoleDispatch> {
    BTreeMap::from([(
        role.to_string(),
        RoleDispatch {
            policy,
            max_concurrent: cap,
        },
    )])
}

/// A run of `subtasks` with these role rules; `person` answers events with commands.
async fn run(
    kind: ProviderKind,
    subtasks: Vec<(String, String)>,
    role_dispatch: BTreeMap<String, RoleDispatch>,
    headless: bool,
    person: impl FnMut(&Envelope, &State) -> Vec<Command>,
) -> engine_common::Finished {
    let server = FakeLlm::with_responder(move |r| {
        protocol_reply(r, &subtasks)
            .usage(100, 10)
            .for_kind(kind)
            .first_byte_delay(Duration::from_millis(100))
    })
    .await;
    let provider = build_provider(&server.settings(kind)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 4);
    s.role_dispatch = role_dispatch;
    let mut cfg = config(dir.path(), s);
    cfg.stop_when_person_needed = headless;
    let f = drive(
        cfg,
        provider,
        Start::New {
            run_id: "dispatch".into(),
            task: "t".into(),
        },
        person,
    )
    .await;
    check_consistent(&f);
    f
}

fn running_of(state: &State, role: &str) -> usize {
    state.running().filter(|s| s.role == role).count()
}

#[tokio::test(start_paused = true)]
async fn a_role_s_cap_bounds_its_workers_while_other_roles_run_freely() {
    for kind in KINDS {
        let mut most = (0, 0);
        let f = run(
            kind,
            plan(8, &["code_developer", "code_analyzer"]),
            rules("code_developer", DispatchPolicy::Auto, Some(1)),
            false,
            |_, st| {
                most.0 = most.0.max(running_of(st, "code_developer"));
                most.1 = most.1.max(running_of(st, "code_analyzer"));
                vec![]
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        assert_eq!(most.0, 1, "{kind}: developers at once");
        assert_eq!(most.1, 3, "{kind}: analyzers fill the other workers");
    }
}

#[tokio::test(start_paused = true)]
async fn ask_waits_for_a_person_s_approval_before_it_starts() {
    for kind in KINDS {
        let mut approved_at = BTreeMap::new();
        let f = run(
            kind,
            plan(4, &["code_developer", "code_analyzer"]),
            rules("code_developer", DispatchPolicy::Ask, None),
            false,
            |e, _| match &e.event {
                Event::DispatchAsked { id } => {
                    approved_at.insert(*id, e.seq);
                    vec![Command::Approve { id: *id }]
                }
                _ => vec![],
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        let asked: Vec<u32> = f
            .of(|e| matches!(e, Event::DispatchAsked { .. }))
            .map(|e| match e {
                Event::DispatchAsked { id } => id.0,
                _ => 0,
            })
            .collect();
        assert_eq!(asked, [1, 3], "{kind}: only the developers ask, once each");
        for e in &f.events {
            if let Event::SubtaskStarted { id, .. } = &e.event {
                let approval = f.events.iter().find(|a| {
                    matches!(&a.event, Event::SubtaskApproved { id: i, by: Actor::Person } if i == id)
                });
                if id.0 % 2 == 1 {
                    assert!(
                        approval.unwrap().seq < e.seq,
                        "{kind}: {id} started before its go"
                    );
                }
            }
        }
        assert!(f.state.subtasks.iter().all(|s| s.attempts == 1));
    }
}

#[tokio::test(start_paused = true)]
async fn headless_ask_and_hold_stop_the_run_saying_why() {
    let kind = ProviderKind::Openai;
    let f = run(
        kind,
        plan(2, &["code_analyzer", "code_developer"]),
        rules("code_developer", DispatchPolicy::Ask, None),
        true,
        |_, _| vec![],
    )
    .await;
    match &f.outcome {
        RunOutcome::Stopped { reason } => assert!(reason.contains("#2"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(f.state.subtasks[1].status, SubtaskStatus::AwaitingApproval);
    assert_eq!(f.state.subtasks[1].attempts, 0);

    let f = run(
        kind,
        plan(2, &["code_analyzer", "code_developer"]),
        rules("code_developer", DispatchPolicy::Hold, None),
        true,
        |_, _| vec![],
    )
    .await;
    match &f.outcome {
        RunOutcome::Stopped { reason } => {
            assert!(reason.contains("#2 on hold"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.state.subtasks[0].status, SubtaskStatus::Complete);
    assert_eq!(f.state.subtasks[1].attempts, 0);
}

#[tokio::test(start_paused = true)]
async fn hold_keeps_a_subtask_back_until_a_person_changes_its_policy() {
    for kind in KINDS {
        let mut released = false;
        let f = run(
            kind,
            plan(2, &["code_analyzer", "code_developer"]),
            rules("code_developer", DispatchPolicy::Hold, None),
            false,
            |e, st| {
                // Once the analyzer reported, only the held subtask is left: release it.
                if !released
                    && matches!(
                        e.event,
                        Event::ReplanLogged { .. } | Event::ReportsCovered { .. }
                    )
                    && st.subtasks[0].status == SubtaskStatus::Complete
                {
                    released = true;
                    return vec![Command::SetDispatch {
                        id: SubtaskId(2),
                        policy: DispatchPolicy::Auto,
                    }];
                }
                vec![]
            },
        )
        .await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        let set = f
            .events
            .iter()
            .find(|e| matches!(e.event, Event::DispatchPolicySet { .. }))
            .unwrap()
            .seq;
        let started = f
            .events
            .iter()
            .find(|e| {
                matches!(
                    e.event,
                    Event::SubtaskStarted {
                        id: SubtaskId(2),
                        ..
                    }
                )
            })
            .unwrap()
            .seq;
        assert!(set < started, "{kind}");
        assert!(
            f.of(|e| matches!(e, Event::CompletionAssessed { .. }))
                .count()
                <= 1,
            "{kind}: the run did not finish around the held subtask"
        );
    }
}

// ---- the reducer and the rule book -------------------------------------------------------

fn fold(events: Vec<Event>) -> State {
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

fn base(role_policy: DispatchPolicy) -> Vec<Event> {
    let mut s = settings(ApprovalPolicy::Auto, 2);
    s.role_dispatch = rules("code_developer", role_policy, Some(2));
    let mut events = vec![Event::RunStarted {
        run_id: "r".into(),
        task: "t".into(),
        settings: s,
    }];
    for (id, role) in [(1, "code_developer"), (2, "code_analyzer")] {
        events.push(Event::SubtaskAdded {
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
        });
    }
    events
}

#[test]
fn the_role_policy_decides_what_is_runnable_and_a_subtask_s_own_wins() {
    let st = fold(base(DispatchPolicy::Hold));
    assert_eq!(st.runnable(), [SubtaskId(2)]);
    assert_eq!(st.on_hold(), [SubtaskId(1)]);
    assert_eq!(st.role_dispatch("code_developer").max_concurrent, Some(2));
    let mut events = base(DispatchPolicy::Hold);
    events.push(Event::DispatchPolicySet {
        id: SubtaskId(1),
        policy: DispatchPolicy::Auto,
        by: Actor::Person,
    });
    events.push(Event::DispatchPolicySet {
        id: SubtaskId(2),
        policy: DispatchPolicy::Hold,
        by: Actor::Person,
    });
    let st = fold(events);
    assert_eq!(st.runnable(), [SubtaskId(1)]);
    assert_eq!(st.on_hold(), [SubtaskId(2)]);
}

#[test]
fn ask_becomes_an_approval_and_the_approval_is_the_go_ahead() {
    let mut events = base(DispatchPolicy::Ask);
    let st = fold(events.clone());
    assert_eq!(st.runnable(), [SubtaskId(2)]);
    assert_eq!(st.to_ask(), [SubtaskId(1)]);
    events.push(Event::DispatchAsked { id: SubtaskId(1) });
    let st = fold(events.clone());
    assert_eq!(st.subtasks[0].status, SubtaskStatus::AwaitingApproval);
    assert!(st.to_ask().is_empty());
    assert!(st.check(&Command::Approve { id: SubtaskId(1) }).is_ok());
    let mut approved = events.clone();
    approved.push(Event::SubtaskApproved {
        id: SubtaskId(1),
        by: Actor::Person,
    });
    let st = fold(approved);
    assert_eq!(st.runnable(), [SubtaskId(1), SubtaskId(2)]);
    assert!(st.to_ask().is_empty(), "it does not ask twice");
    // Switching an asking subtask to auto puts it back in the queue without a go.
    events.push(Event::DispatchPolicySet {
        id: SubtaskId(1),
        policy: DispatchPolicy::Auto,
        by: Actor::Person,
    });
    let st = fold(events);
    assert_eq!(st.subtasks[0].status, SubtaskStatus::Ready);
    assert_eq!(st.runnable(), [SubtaskId(1), SubtaskId(2)]);
}

#[test]
fn the_policy_of_a_running_or_finished_subtask_cannot_be_set() {
    let mut events = base(DispatchPolicy::Auto);
    let cmd = |id| Command::SetDispatch {
        id: SubtaskId(id),
        policy: DispatchPolicy::Hold,
    };
    assert!(fold(events.clone()).check(&cmd(1)).is_ok());
    events.push(Event::SubtaskStarted {
        id: SubtaskId(1),
        attempt: 1,
        worker: WorkerId(1),
        role: "code_developer".into(),
        model: "w".into(),
        brief: "b".into(),
        task_omitted: false,
    });
    let st = fold(events.clone());
    assert!(matches!(
        st.check(&cmd(1)),
        Err(Refusal::NotApplicable { .. })
    ));
    assert_eq!(
        st.check(&cmd(9)).unwrap_err().to_string(),
        "cannot set the dispatch policy of #9: there is no such subtask"
    );
    events.push(Event::SubtaskCancelled {
        id: SubtaskId(2),
        reason: "r".into(),
        by: Actor::Person,
    });
    assert!(matches!(
        fold(events).check(&cmd(2)),
        Err(Refusal::Finished { .. })
    ));
}

#[test]
fn throttle_notices_come_and_go_by_endpoint() {
    let notice = |endpoint: &str, active| ThrottleNotice {
        endpoint: endpoint.into(),
        active,
        limit: 2,
        reason: "429 rate limited".into(),
    };
    let mut events = base(DispatchPolicy::Auto);
    for n in [notice("a", true), notice("b", true), notice("a", false)] {
        events.push(Event::ProviderThrottled { notice: n });
    }
    let st = fold(events);
    assert_eq!(st.throttled.keys().collect::<Vec<_>>(), ["b"]);
}
