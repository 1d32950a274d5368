//! Plan diffs under `--approve plan`, without an engine: the reducer's folding of
//! `plan_diff_proposed` / `plan_change_decided` (and what marks a diff applied), the rule
//! book for `DecidePlanDiff`, and the TUI's diff dialog (keys, the command it sends,
//! snapshots at 80x24 and 160x48, hostile model text).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baton::protocol::model::ReplanUpdate;
use baton::protocol::*;
use baton::state::{NeedsPerson, Refusal, SubtaskStatus};
use crossterm::event::KeyCode;

use crate::state_reducer::{added, fold, started, started_on, status};
use crate::tui_support::{self as ts, both, ch, feed, key, later, new_ui, render, sent};

fn proposed_subtask(title: &str) -> ProposedSubtask {
    ProposedSubtask {
        title: title.into(),
        description: format!("do {title}"),
        role: "code_developer".into(),
        depends_on: Vec::new(),
        priority: Priority::Normal,
        expected_output: String::new(),
    }
}

/// `+ Cache`, `~ #2 priority normal -> high`, `- #3 not needed`.
fn changes() -> Vec<PlanChange> {
    vec![
        PlanChange::Add {
            subtask: proposed_subtask("Cache"),
        },
        PlanChange::Edit {
            id: SubtaskId(2),
            title: "t2".into(),
            fields: vec![FieldChange {
                field: "priority".into(),
                before: "normal".into(),
                after: "high".into(),
            }],
            update: ReplanUpdate {
                id: "#2".into(),
                priority: Some(Priority::High),
                ..ReplanUpdate::default()
            },
        },
        PlanChange::Drop {
            id: SubtaskId(3),
            title: "t3".into(),
            reason: "not needed".into(),
        },
    ]
}

fn replan_source(cycle: u32, covered: Vec<SubtaskId>) -> DiffSource {
    DiffSource::Replan {
        cycle,
        covered,
        last: false,
        summary: "keep going".into(),
        scope_note: String::new(),
        estimated_total: None,
        complete: None,
        missing: Vec::new(),
    }
}

fn decided(change: u32, accepted: bool) -> Event {
    Event::PlanChangeDecided {
        proposal: 1,
        change,
        accepted,
        by: Actor::Person,
    }
}

fn proposal() -> Event {
    Event::PlanDiffProposed {
        proposal: 1,
        source: replan_source(1, vec![SubtaskId(1)]),
        changes: changes(),
    }
}

fn reported(id: u32) -> Event {
    Event::SubtaskReported {
        id: SubtaskId(id),
        attempt: 1,
        output: "out".into(),
        report: Report {
            status: ReportStatus::Complete,
            results: "done".into(),
            discoveries: Vec::new(),
            recommendations: Vec::new(),
            new_subtasks: Vec::new(),
        },
    }
}

fn before_the_diff() -> Vec<Event> {
    vec![
        started(),
        added(1, false),
        added(2, false),
        added(3, false),
        added(4, false),
        started_on(1, 1),
        reported(1),
    ]
}

#[test]
fn a_proposed_diff_waits_for_a_person_and_holds_the_subtasks_it_touches() {
    let mut events = before_the_diff();
    events.push(proposal());
    let s = fold(events);
    let d = s.pending_plan_diff().expect("a pending diff");
    assert_eq!(d.proposal, 1);
    assert_eq!(d.changes.len(), 3);
    assert!(!d.applied);
    // The report is answered by the diff: no second replan for it.
    assert!(s.covered.contains(&SubtaskId(1)));
    assert_eq!(s.needs_person(), vec![NeedsPerson::PlanDiff(1)]);
    // #2 and #3 would change: they wait; #4 is untouched and runs.
    assert_eq!(s.touched_by_plan_diff(), vec![SubtaskId(2), SubtaskId(3)]);
    assert_eq!(s.runnable(), vec![SubtaskId(4)]);
    assert!(s.rejected_changes().is_empty());
}

#[test]
fn decisions_are_folded_per_row_with_who_and_when_then_the_replan_marks_it_applied() {
    let mut events = before_the_diff();
    events.extend([proposal(), decided(0, true), decided(1, true)]);
    let s = fold(events.clone());
    // Two of three decided: still waiting.
    assert!(s.pending_plan_diff().is_some());
    events.push(decided(2, false));
    let s = fold(events.clone());
    assert!(s.pending_plan_diff().is_none());
    let d = s.plan_diff_to_apply().expect("decided, not applied");
    let who: Vec<(bool, Actor)> = d
        .decisions
        .iter()
        .map(|x| {
            let x = x.as_ref().unwrap();
            (x.accepted, x.by)
        })
        .collect();
    assert_eq!(
        who,
        [
            (true, Actor::Person),
            (true, Actor::Person),
            (false, Actor::Person)
        ]
    );
    assert!(d.decisions[2].as_ref().unwrap().at > d.proposed_at);
    assert!(s.needs_person().is_empty());
    // Rejected rows, as the next replan is told them.
    assert_eq!(
        s.rejected_changes(),
        vec!["- #3 t3: not needed".to_string()]
    );
    // Until it is applied the touched subtasks still wait.
    assert_eq!(s.runnable(), vec![SubtaskId(4)]);
    events.push(Event::ReplanLogged {
        cycle: 1,
        covered: vec![SubtaskId(1)],
        summary: "keep going".into(),
        added: Vec::new(),
        updated: vec![SubtaskId(2)],
        cancelled: Vec::new(),
        scope_note: String::new(),
        estimate_before: 4,
        estimate_now: 5,
    });
    let s = fold(events);
    assert!(s.plan_diff_to_apply().is_none());
    assert!(s.plan_diffs[0].applied);
    assert_eq!(s.runnable(), vec![SubtaskId(2), SubtaskId(3), SubtaskId(4)]);
    assert_eq!(status(&s, 3), SubtaskStatus::Ready);
}

#[test]
fn an_evaluation_diff_is_applied_by_its_round_and_findings_left_are_kept() {
    let mut events = before_the_diff();
    events.push(Event::PlanDiffProposed {
        proposal: 1,
        source: DiffSource::Evaluation {
            round: 1,
            feedback: "missing a cache".into(),
        },
        changes: vec![PlanChange::Add {
            subtask: proposed_subtask("Cache"),
        }],
    });
    events.push(decided(0, false));
    let s = fold(events.clone());
    assert!(s.plan_diff_to_apply().is_some());
    events.push(Event::EvaluationCompleted {
        round: 1,
        accepted: false,
        feedback: "missing a cache".into(),
        added: Vec::new(),
        left: Vec::new(),
    });
    events.push(Event::EvaluationCompleted {
        round: 2,
        accepted: false,
        feedback: "still no cache".into(),
        added: Vec::new(),
        left: vec!["no cache".into()],
    });
    let s = fold(events);
    assert!(s.plan_diffs[0].applied);
    assert_eq!(s.findings_left(), vec!["no cache".to_string()]);
    assert_eq!(s.evaluations[1].left, vec!["no cache".to_string()]);
}

#[test]
fn a_damaged_journal_folds_without_panicking() {
    let mut events = before_the_diff();
    // Out-of-order proposal numbers and unknown rows are ignored, never a panic.
    events.push(Event::PlanDiffProposed {
        proposal: 7,
        source: replan_source(1, vec![]),
        changes: changes(),
    });
    events.push(Event::PlanChangeDecided {
        proposal: 1,
        change: 99,
        accepted: true,
        by: Actor::Person,
    });
    let s = fold(events);
    assert!(s.plan_diffs.is_empty());
    assert!(s.needs_person().is_empty());
}

#[test]
fn the_rule_book_takes_decisions_only_for_the_waiting_diff_with_one_per_row() {
    let mut events = before_the_diff();
    events.push(proposal());
    let s = fold(events);
    let decide = |proposal: u32, n: usize| Command::DecidePlanDiff {
        proposal,
        accepted: vec![true; n],
    };
    assert_eq!(s.check(&decide(1, 3)), Ok(()));
    assert_eq!(
        s.check(&decide(2, 3)),
        Err(Refusal::DiffNotPending(2)),
        "no such diff"
    );
    let wrong = s.check(&decide(1, 2)).unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "plan diff 1 has 3 changes, 2 decisions were given"
    );
}

#[test]
fn plan_is_an_approval_policy_on_the_command_line_and_in_the_journal() {
    assert_eq!("plan".parse::<ApprovalPolicy>(), Ok(ApprovalPolicy::Plan));
    assert_eq!(ApprovalPolicy::Plan.to_string(), "plan");
    assert_eq!(
        serde_json::to_string(&ApprovalPolicy::Plan).unwrap(),
        "\"plan\""
    );
    // A journal written before `evaluate_rounds` existed reads with the default.
    let mut v = serde_json::to_value(crate::tui_support::settings()).unwrap();
    v.as_object_mut().unwrap().remove("evaluate_rounds");
    let s: RunSettings = serde_json::from_value(v).unwrap();
    assert_eq!(s.evaluate_rounds, DEFAULT_EVALUATE_ROUNDS);
}

// ---- the TUI dialog ---------------------------------------------------------------------

/// The mid-run screen of the TUI tests with a diff of five rows over its subtasks, one of
/// them carrying hostile model text.
fn ui_with_a_diff(extra: usize) -> baton::tui::app::Ui {
    let mut ui = new_ui();
    let mut s = ts::Script::default();
    feed(
        &mut ui,
        &mut s,
        vec![Event::RunStarted {
            run_id: "20260101-100000-url".into(),
            task: "Build a URL shortener with an API, storage and tests".into(),
            settings: ts::settings(),
        }],
    );
    let analysis = Origin::Analysis;
    let plan = [
        (1, "Survey existing shorteners", "code_analyzer", &[][..]),
        (2, "Design the API", "system_architect", &[][..]),
        (3, "Pick the storage engine", "system_architect", &[][..]),
        (4, "Write a CLI client", "code_developer", &[2][..]),
        (
            5,
            "Hash function for short codes",
            "code_developer",
            &[][..],
        ),
    ];
    for (id, title, role, deps) in plan {
        feed(
            &mut ui,
            &mut s,
            vec![ts::added(
                id,
                title,
                role,
                Priority::Normal,
                deps,
                analysis.clone(),
                false,
            )],
        );
    }
    feed(
        &mut ui,
        &mut s,
        vec![
            ts::started(1, 1, "code_analyzer"),
            ts::started(2, 2, "system_architect"),
        ],
    );
    let mut add = proposed_subtask("Add rate limiting");
    add.description = "Limit link creation per client\x1b[31m to stop abuse.".into();
    let edit = |id: u32, title: &str, fields: Vec<(&str, &str, &str)>| PlanChange::Edit {
        id: SubtaskId(id),
        title: title.into(),
        fields: fields
            .into_iter()
            .map(|(f, b, a)| FieldChange {
                field: f.into(),
                before: b.into(),
                after: a.into(),
            })
            .collect(),
        update: ReplanUpdate {
            id: format!("#{id}"),
            ..ReplanUpdate::default()
        },
    };
    let mut changes = vec![
        PlanChange::Add { subtask: add },
        edit(
            3,
            "Pick the storage engine",
            vec![
                ("priority", "normal", "high"),
                ("role", "system_architect", "code_analyzer"),
            ],
        ),
        edit(
            5,
            "Hash function for short codes",
            vec![(
                "description",
                "Write the hash function for short codes.",
                "Use base62 of a random 7-char code; retry once on collision.",
            )],
        ),
        PlanChange::Drop {
            id: SubtaskId(4),
            title: "Write a CLI client".into(),
            reason: "the API covers it".into(),
        },
        edit(
            5,
            "Hash function for short codes",
            vec![("depends_on", "none", "#2 #3")],
        ),
    ];
    changes.extend((1..=extra).map(|i| PlanChange::Add {
        subtask: proposed_subtask(&format!("Extra check {i}")),
    }));
    feed(
        &mut ui,
        &mut s,
        vec![Event::PlanDiffProposed {
            proposal: 1,
            source: DiffSource::Replan {
                cycle: 3,
                covered: vec![SubtaskId(2)],
                last: false,
                summary: "The design settles storage; the CLI client is not needed.".into(),
                scope_note: String::new(),
                estimated_total: None,
                complete: None,
                missing: Vec::new(),
            },
            changes,
        }],
    );
    later(&mut ui, 10);
    ui
}

#[test]
fn the_diff_dialog_opens_for_the_person_and_reads_as_a_diff() {
    let mut ui = ui_with_a_diff(0);
    let screen = render(&mut ui, 160, 48);
    assert!(screen.contains("Plan diff"), "{screen}");
    assert!(screen.contains("+ Add rate limiting"), "{screen}");
    assert!(screen.contains("~ #3 Pick the storage engine"), "{screen}");
    assert!(screen.contains("priority: normal -> high"), "{screen}");
    assert!(screen.contains("- #4 Write a CLI client"), "{screen}");
    // Model text is sanitised: the escape shows, it does not act.
    assert!(!screen.contains('\x1b'), "{screen}");
    assert!(screen.contains("\\x1b"), "{screen}");
    both!("plan_diff_dialog", &mut ui);
}

#[test]
fn rows_are_toggled_one_by_one_or_all_at_once_and_confirm_sends_every_decision() {
    let mut ui = ui_with_a_diff(0);
    // Every row starts accepted; reject the second and the fourth.
    key(&mut ui, KeyCode::Down);
    ch(&mut ui, ' ');
    key(&mut ui, KeyCode::Down);
    key(&mut ui, KeyCode::Down);
    key(&mut ui, KeyCode::Enter);
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("3 of 5 changes accepted"), "{screen}");
    let fx = ch(&mut ui, 'c');
    assert_eq!(
        sent(fx),
        vec![Command::DecidePlanDiff {
            proposal: 1,
            accepted: vec![true, false, true, false, true],
        }]
    );

    let mut ui = ui_with_a_diff(0);
    ch(&mut ui, 'r');
    assert!(render(&mut ui, 80, 24).contains("0 of 5 changes accepted"));
    ch(&mut ui, 'a');
    ch(&mut ui, 'r');
    key(&mut ui, KeyCode::End);
    ch(&mut ui, ' ');
    assert_eq!(
        sent(ch(&mut ui, 'c')),
        vec![Command::DecidePlanDiff {
            proposal: 1,
            accepted: vec![false, false, false, false, true],
        }]
    );
}

#[test]
fn the_dialog_scrolls_to_the_selected_row_at_80x24() {
    let mut ui = ui_with_a_diff(6);
    let screen = render(&mut ui, 80, 24);
    assert!(!screen.contains("Extra check 6"), "{screen}");
    key(&mut ui, KeyCode::End);
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("Extra check 6"), "{screen}");
    assert!(screen.contains("lines above"), "{screen}");
    assert!(screen.contains("[a] accept all"), "{screen}");
    insta::assert_snapshot!("plan_diff_dialog_scrolled_80x24", screen);
}
