//! Property: whatever the scenario and whenever commands arrive, folding the journal the
//! engine wrote gives exactly the state the engine ended with (one reducer, one path).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;

use std::sync::Arc;
use std::time::Duration;

use baton::engine::*;
use baton::protocol::model::*;
use baton::protocol::*;
use engine_common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Scenario {
    /// (dependencies on earlier subtasks as a bitmask, latency ms, fails first, discovers)
    subtasks: Vec<(u8, u64, bool, bool)>,
    max_workers: u32,
    approve: ApprovalPolicy,
    /// (event index, command kind, subtask id)
    commands: Vec<(usize, u8, u32)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(
            (
                any::<u8>(),
                0u64..40,
                any::<bool>(),
                prop::bool::weighted(0.3),
            ),
            1..6,
        ),
        1u32..4,
        prop_oneof![
            Just(ApprovalPolicy::Auto),
            Just(ApprovalPolicy::Scope),
            Just(ApprovalPolicy::All)
        ],
        prop::collection::vec((0usize..60, 0u8..9, 1u32..8), 0..6),
    )
        .prop_map(|(subtasks, max_workers, approve, commands)| Scenario {
            subtasks,
            max_workers,
            approve,
            commands,
        })
}

fn command(kind: u8, id: u32) -> Command {
    let id = SubtaskId(id);
    match kind {
        0 => Command::Pause,
        1 => Command::Resume,
        2 => Command::Cancel { id },
        3 => Command::SetMaxWorkers {
            max_workers: 1 + id.0 % 3,
        },
        4 => Command::Defer { id },
        5 => Command::Undefer { id },
        6 => Command::Escalate {
            id,
            reason: "look".into(),
        },
        7 => Command::Resolve {
            id,
            resolution: Resolution::Retry {
                guidance: "again".into(),
            },
        },
        _ => Command::ApproveAll,
    }
}

async fn run(s: Scenario) {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<serde_json::Value> = s
        .subtasks
        .iter()
        .enumerate()
        .map(|(i, (mask, ..))| {
            let deps: Vec<String> = (0..i)
                .filter(|j| mask & (1 << j) != 0)
                .map(|j| format!("#{}", j + 1))
                .collect();
            let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
            st(&format!("T{}", i + 1), "code_developer", &deps)
        })
        .collect();
    let spec = s.subtasks.clone();
    let fake = Fake::new(first)
        .delay({
            let spec = spec.clone();
            move |c| {
                let b = c.brief.as_ref()?;
                let k = b.title.trim_start_matches('T').parse::<usize>().ok()?;
                spec.get(k - 1).map(|t| Duration::from_millis(t.1))
            }
        })
        .rule(move |c| {
            let b = c.brief.as_ref()?;
            let k = b.title.trim_start_matches('T').parse::<usize>().ok()?;
            let (_, _, fails, discovers) = *spec.get(k - 1)?;
            if fails && b.attempt == 1 {
                return Some(Reply::Error(baton::llm::LlmError::Timeout("slow".into())));
            }
            let new = if discovers {
                vec![st(&format!("Found by T{k}"), "test_engineer", &[&b.title])]
            } else {
                vec![]
            };
            Some(Reply::Tool(
                SUBMIT_REPORT,
                report("complete", &b.title, new),
            ))
        });
    let mut cfg = config(dir.path(), settings(s.approve, s.max_workers));
    cfg.stop_when_person_needed = true;
    let mut commands = s.commands.clone();
    let mut index = 0usize;
    let f = drive(
        cfg,
        Arc::new(fake),
        Start::New {
            run_id: "p".into(),
            task: "t".into(),
        },
        move |e, _| {
            index += 1;
            let mut out = Vec::new();
            if let Event::SubtaskAdded {
                spec,
                needs_approval: true,
                ..
            } = &e.event
            {
                out.push(Command::Approve { id: spec.id });
            }
            commands.retain(|(at, kind, id)| {
                if *at == index {
                    out.push(command(*kind, *id));
                    false
                } else {
                    true
                }
            });
            out
        },
    )
    .await;
    check_consistent(&f);
    assert!(f.state.is_finished());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]
    #[test]
    fn fold_of_the_journal_is_the_engine_state(s in scenario()) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(run(s));
    }
}
