//! Issue 8 (unbounded input): the task text is journaled once, in `run_started`; each
//! `subtask_started` brief references it, and what the worker saw is rebuilt from the state.
//! A journal whose briefs still carry the text (written before) stays readable.

use std::sync::{Arc, Mutex};

use baton::journal;
use baton::protocol::*;
use baton::state::{State, apply};

use crate::engine_common::*;

const SUBTASKS: usize = 20;

/// The first text of the first message of a request (the worker's user message).
fn first_user_text(c: &Call) -> String {
    c.req
        .messages
        .first()
        .map(|m| {
            m.content
                .iter()
                .filter_map(|b| match b {
                    baton::llm::Content::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect::<String>()
        })
        .unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn a_one_megabyte_task_with_twenty_subtasks_is_journaled_once() {
    let dir = tempfile::tempdir().unwrap();
    let task: String = "Port the billing module to the new ledger API. "
        .repeat((1 << 20) / 47 + 1)
        .chars()
        .take(1 << 20)
        .collect();
    let first: Vec<_> = (0..SUBTASKS)
        .map(|i| st(&format!("part {i}"), "code_developer", &[]))
        .collect();
    let seen: Arc<Mutex<Vec<(u32, String)>>> = Arc::default();
    let record = seen.clone();
    let fake = Fake::new(first).rule(move |c| {
        if let Some(b) = &c.brief {
            record.lock().unwrap().push((b.id, first_user_text(c)));
        }
        None
    });
    assert_eq!(task.len(), 1 << 20);
    let mut s = settings(ApprovalPolicy::Auto, 4);
    s.limits.max_subtasks = Some(100);
    let f = run_new(config(dir.path(), s), Arc::new(fake), &task).await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    check_consistent(&f);

    // The journal holds the task once: about 1 MiB, not 20 (40 with the brief block) MiB.
    let size = std::fs::metadata(dir.path().join(journal::JOURNAL_FILE))
        .unwrap()
        .len();
    assert!(
        size < (1 << 20) + (256 << 10),
        "journal is {size} bytes for a 1 MiB task"
    );
    let mut briefs = 0;
    for e in &f.journal.events {
        if let Event::SubtaskStarted { brief, .. } = &e.event {
            briefs += 1;
            assert!(brief.len() < 16 << 10, "a brief of {} bytes", brief.len());
        }
    }
    assert_eq!(briefs, SUBTASKS);

    // What each worker saw is rebuilt, byte for byte, from a state folded from the journal.
    let state = State::fold(&f.journal.events);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), SUBTASKS);
    for (id, text) in seen.iter() {
        let s = state.subtask(SubtaskId(*id)).unwrap();
        assert_eq!(state.brief_as_sent(s).as_deref(), Some(text.as_str()));
        // The state keeps the reference, not another copy of the task.
        assert!(s.brief.as_ref().unwrap().len() < 16 << 10);
    }
}

#[test]
fn a_brief_that_still_carries_the_task_is_read_as_it_was() {
    let events = [
        Event::RunStarted {
            run_id: "old".into(),
            task: "the task".into(),
            settings: settings(ApprovalPolicy::Auto, 1),
        },
        Event::SubtaskAdded {
            spec: SubtaskSpec {
                id: SubtaskId(1),
                title: "one".into(),
                description: "do one".into(),
                role: "code_developer".into(),
                priority: Priority::Normal,
                depends_on: vec![],
                expected_output: String::new(),
            },
            origin: Origin::Analysis,
            needs_approval: false,
        },
    ];
    // A line as journals before this change wrote it: no `task_omitted`.
    let line = r##"{"seq":3,"ts":"2026-01-01T00:00:00Z","v":1,"type":"subtask_started","id":1,"attempt":1,"worker":1,"role":"code_developer","model":"m","brief":"# Overall task\nthe task\n\n# Your subtask #1: one\ndo one\n"}"##;
    let started: Envelope = serde_json::from_str(line).unwrap();
    let mut state = State::default();
    for (i, e) in events.into_iter().enumerate() {
        apply(
            &mut state,
            &Envelope {
                seq: i as u64 + 1,
                ts: started.ts,
                v: 1,
                event: e,
            },
        );
    }
    apply(&mut state, &started);
    let s = state.subtask(SubtaskId(1)).unwrap();
    assert_eq!(
        state.brief_as_sent(s).as_deref(),
        Some("# Overall task\nthe task\n\n# Your subtask #1: one\ndo one\n")
    );
}

#[test]
fn the_rebuilt_brief_is_exactly_the_workers_message_whatever_the_text_holds() {
    use baton::engine::prompts::{journaled_brief, worker_message};
    use baton::protocol::model::{DependencyResult, WorkerBrief, brief_with_task};
    let nasty = "# Overall task\n<brief>{\"task\":\"\",\"id\":9}</brief> \"quoted\" \\ \u{1b}[2K ünï 🚀\n\n";
    for task in ["Build it", nasty, "x"] {
        let b = WorkerBrief {
            task: task.into(),
            id: 3,
            title: format!("title {nasty}"),
            description: format!("desc {nasty}"),
            role: "code_developer".into(),
            expected_output: "out".into(),
            attempt: 2,
            shared_decisions: vec![nasty.into()],
            dependency_results: vec![DependencyResult {
                id: 1,
                title: "dep".into(),
                results: format!("<brief>{{\"task\":\"\"</brief>{nasty}"),
            }],
            guidance: Some(nasty.into()),
        };
        let journaled = journaled_brief(&b);
        assert!(!journaled.contains("Build it"));
        assert_eq!(
            brief_with_task(&journaled, task),
            worker_message(&b),
            "{task:?}"
        );
    }
}
