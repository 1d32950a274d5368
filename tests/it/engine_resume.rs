//! Resume: a journal cut at many points (and with a torn last line) is folded and continued;
//! the run completes and no completed subtask runs again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::Arc;

use baton::engine::*;
use baton::journal::{self, JOURNAL_FILE};
use baton::protocol::model::*;
use baton::protocol::*;
use baton::state::*;
use engine_common::*;

fn scenario() -> Fake {
    Fake::new(vec![
        st("A", "code_analyzer", &[]),
        st("B", "code_analyzer", &[]),
        st("C", "code_developer", &["A", "B"]),
    ])
    .latency(5)
    .rule(|c| {
        let b = c.brief.as_ref()?;
        match (b.title.as_str(), b.attempt) {
            ("A", _) => Some(Reply::Tool(
                SUBMIT_REPORT,
                report("complete", "A done", vec![st("D", "test_engineer", &["A"])]),
            )),
            ("B", 1) => Some(Reply::Error(baton::llm::LlmError::Server {
                status: 503,
                message: "overloaded".into(),
            })),
            _ => None,
        }
    })
}

async fn resume_from(lines: &[&str], torn: Option<&str>) -> (Finished, State) {
    let dir = tempfile::tempdir().unwrap();
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if let Some(t) = torn {
        text.push_str(t);
    }
    std::fs::write(dir.path().join(JOURNAL_FILE), text).unwrap();
    let replay = journal::replay(&dir.path().join(JOURNAL_FILE)).unwrap();
    assert_eq!(replay.torn_line_dropped, torn.is_some());
    let before = State::fold(&replay.events);
    let f = drive(
        config(dir.path(), settings(ApprovalPolicy::Auto, 2)),
        Arc::new(scenario()),
        Start::Resume {
            events: replay.events,
            torn_line_dropped: replay.torn_line_dropped,
        },
        |_, _| vec![],
    )
    .await;
    // Keep the directory alive until the journal was read back by `drive`.
    drop(dir);
    (f, before)
}

#[tokio::test(start_paused = true)]
async fn resume_from_many_cut_points_completes_without_rerunning() {
    let dir = tempfile::tempdir().unwrap();
    let full = run_new(
        config(dir.path(), settings(ApprovalPolicy::Auto, 2)),
        Arc::new(scenario()),
        "t",
    )
    .await;
    assert_eq!(full.outcome, RunOutcome::Completed);
    check_consistent(&full);
    let text = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    let mut cuts: Vec<usize> = vec![
        1,
        2,
        4,
        n / 4,
        n / 3,
        n / 2,
        2 * n / 3,
        3 * n / 4,
        n - 3,
        n - 1,
        n,
    ];
    cuts.sort();
    cuts.dedup();
    for (i, cut) in cuts.into_iter().enumerate() {
        let torn = (i % 2 == 1 && cut < n).then(|| &lines[cut][..lines[cut].len() / 2]);
        let (f, before) = resume_from(&lines[..cut], torn).await;
        assert_eq!(f.outcome, RunOutcome::Completed, "cut {cut}");
        check_consistent(&f);
        let resumed: Vec<&Envelope> = f
            .events
            .iter()
            .filter(|e| e.seq > before.last_seq)
            .collect();
        assert!(matches!(
            &resumed[0].event,
            Event::RunResumed { torn_line_dropped, .. } if *torn_line_dropped == torn.is_some()
        ));
        for s in before
            .subtasks
            .iter()
            .filter(|s| s.status.satisfies_dependency())
        {
            let again = resumed
                .iter()
                .filter(|e| matches!(&e.event, Event::SubtaskStarted { id, .. } if *id == s.id))
                .count();
            assert_eq!(again, 0, "cut {cut}: {} ran again", s.id);
        }
        // Subtasks that were running at the cut are dispatched again.
        for s in before.running() {
            assert!(
                resumed
                    .iter()
                    .any(|e| matches!(&e.event, Event::SubtaskStarted { id, .. } if *id == s.id)),
                "cut {cut}: interrupted {} did not run again",
                s.id
            );
        }
        let st = &f.state;
        assert_eq!(st.subtasks.len(), 4, "cut {cut}");
        assert!(
            st.subtasks
                .iter()
                .all(|s| s.status == SubtaskStatus::Complete),
            "cut {cut}"
        );
        assert!(st.synthesis.is_some());
        if cut == n {
            // A finished run is replayed and finished again, nothing else.
            assert_eq!(resumed.len(), 2);
        }
    }
}

/// A subtask held back by the subtask limit is part of the journaled state: a run stopped at
/// the scope alert (headless) and resumed releases it when the person raises the limit,
/// instead of "completing" with the work still deferred.
#[tokio::test(start_paused = true)]
async fn held_back_subtasks_are_released_after_resume() {
    let first = || {
        Fake::new(vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &[]),
            st("C", "code_developer", &[]),
        ])
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(ApprovalPolicy::Scope, 1);
    s.limits.max_subtasks = Some(2);
    let stopped = run_until_person_needed(dir.path(), s.clone(), first()).await;
    assert_eq!(stopped.state.held_back(), vec![SubtaskId(3)]);

    let replay = journal::replay(&dir.path().join(JOURNAL_FILE)).unwrap();
    assert_eq!(State::fold(&replay.events).held_back(), vec![SubtaskId(3)]);
    let f = drive(
        config(dir.path(), s),
        Arc::new(first()),
        Start::Resume {
            events: replay.events,
            torn_line_dropped: false,
        },
        |e, _| match &e.event {
            Event::ScopeAlertRaised { alert, .. } => vec![Command::ResolveScopeAlert {
                alert: *alert,
                decision: ScopeDecision::RaiseLimit { to: 3.0 },
            }],
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert_eq!(f.state.subtasks[2].status, SubtaskStatus::Complete);
    assert!(f.state.held_back().is_empty());
}

/// The analysis's first subtasks are journaled with the analysis: a run stopped at the mode
/// choice (a person is needed) and resumed does not ask the model for the analysis again,
/// and the chosen mode gets the first subtasks the model proposed before the stop.
#[tokio::test(start_paused = true)]
async fn resume_at_the_mode_choice_does_not_ask_for_the_analysis_again() {
    let first = || {
        let mut f = Fake::new(vec![
            st("A", "code_developer", &[]),
            st("B", "code_developer", &[]),
        ]);
        f.complexity = 0.2;
        f
    };
    let dir = tempfile::tempdir().unwrap();
    let s = settings(ApprovalPolicy::Scope, 2);
    let stopped = run_until_person_needed(dir.path(), s.clone(), first()).await;
    assert!(stopped.state.mode_choice.is_some());

    let replay = journal::replay(&dir.path().join(JOURNAL_FILE)).unwrap();
    let fake = Arc::new(first());
    let f = drive(
        config(dir.path(), s),
        fake.clone(),
        Start::Resume {
            events: replay.events,
            torn_line_dropped: false,
        },
        |e, _| match &e.event {
            Event::ModeChoiceRequested { .. } | Event::RunResumed { .. } => {
                vec![Command::ChooseMode {
                    mode: RunMode::Orchestrate,
                }]
            }
            _ => vec![],
        },
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    let analyses = fake
        .records()
        .iter()
        .filter(|r| r.step == Some(Step::Analysis))
        .count();
    assert_eq!(analyses, 0, "the resumed run asked for the analysis again");
    let titles: Vec<&str> = f.state.subtasks.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["A", "B"]);
}

/// Reports covered without a replan (single-worker mode) are part of the journaled state:
/// folding the journal gives the same covered set as the engine had.
#[tokio::test(start_paused = true)]
async fn reports_covered_without_a_replan_are_rebuilt_from_the_journal() {
    let mut fake = Fake::new(vec![st("A", "code_developer", &[])]);
    fake.complexity = 0.2;
    let dir = tempfile::tempdir().unwrap();
    let f = run_choosing(
        config(dir.path(), settings(ApprovalPolicy::Scope, 1)),
        Arc::new(fake),
        RunMode::SingleWorker,
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);
    assert!(f.state.replan_log.is_empty());
    let folded = State::fold(&f.journal.events);
    assert!(
        folded.covered.contains(&SubtaskId(1)),
        "{:?}",
        folded.covered
    );
}
