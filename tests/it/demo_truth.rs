//! The demo tells the truth about its own run: whole runs of the real engine on the demo
//! provider, driven through the engine's commands, checked against what the run did: a
//! cancelled feature is absent from the deliverable, a headless run never claims a person
//! decided, a small writing task gets a small writing plan and a complexity that raises the
//! gate, and every kind of task gets its own theme. Pace 0, paused time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::demo_support;
use crate::engine_common;

use std::path::Path;

use baton::engine::Start;
use baton::llm::{ProviderKind, ProviderSettings};
use baton::protocol::model::{AnalysisArgs, SUBMIT_ANALYSIS};
use baton::protocol::{ApprovalPolicy, Command, Event, RunMode, RunOutcome};
use baton::state::SubtaskStatus;
use demo_support::SHOWCASE;
use engine_common::{Finished, check_consistent, config, drive, settings};

const HAIKU: &str = "Write a haiku";
const RATE_LIMITING: &str = "Add rate limiting to link creation";

/// A person at the TUI (`demo_support::person`: guidance for escalations, commands
/// allowed) who also chooses to orchestrate when asked, approves every subtask that waits,
/// and cancels every subtask whose title is in `cancel` as soon as it is added.
fn person(env: &baton::protocol::Envelope, cancel: &[&str]) -> Vec<Command> {
    let mut out = demo_support::person(env);
    match &env.event {
        Event::ModeChoiceRequested { .. } => out.push(Command::ChooseMode {
            mode: RunMode::Orchestrate,
        }),
        Event::SubtaskAdded { spec, .. } if cancel.contains(&spec.title.as_str()) => {
            out.push(Command::Cancel { id: spec.id })
        }
        Event::SubtaskAdded {
            spec,
            needs_approval: true,
            ..
        } => out.push(Command::Approve { id: spec.id }),
        _ => {}
    }
    out
}

async fn run(
    dir: &Path,
    task: &str,
    approve: ApprovalPolicy,
    headless: bool,
    cancel: &[&str],
) -> Finished {
    let mut s = settings(approve, 3);
    s.provider = "demo".into();
    let mut cfg = config(dir, s);
    cfg.stop_when_person_needed = headless;
    let f = drive(
        cfg,
        demo_support::demo_arc(),
        Start::New {
            run_id: "demo-truth".into(),
            task: task.into(),
        },
        |env, _| person(env, cancel),
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);
    f
}

fn deliverable(f: &Finished) -> String {
    f.state.synthesis.as_ref().unwrap().deliverable.clone()
}

/// Everything the synthesis says, lower case.
fn synthesis_text(f: &Finished) -> String {
    let s = f.state.synthesis.as_ref().unwrap();
    format!(
        "{}\n{}\n{}\n{}",
        s.deliverable,
        s.integration_points.join("\n"),
        s.conflicts.join("\n"),
        s.coherence
    )
    .to_lowercase()
}

#[tokio::test(start_paused = true)]
async fn a_feature_the_person_cancelled_is_not_in_the_deliverable() {
    let dir = tempfile::tempdir().unwrap();
    let f = run(
        dir.path(),
        SHOWCASE,
        ApprovalPolicy::Auto,
        false,
        &[RATE_LIMITING],
    )
    .await;
    let rl = f
        .state
        .subtasks
        .iter()
        .find(|t| t.title == RATE_LIMITING)
        .unwrap();
    assert_eq!(rl.status, SubtaskStatus::Cancelled);
    let text = synthesis_text(&f);
    for gone in ["rate limit", "429", "retry-after", "token bucket", "abuse"] {
        assert!(!text.contains(gone), "mentions {gone:?}:\n{text}");
    }
    // The rest of the story is still there, with the person's decision.
    let d = deliverable(&f);
    assert!(d.contains("## API"), "{d}");
    assert!(d.contains("90 days"), "{d}");
    assert!(d.to_lowercase().contains("decided by the person"), "{d}");
    // The table lists what the workers reported, without the cancelled subtask.
    for t in &f.state.subtasks {
        let row = format!("| {} | {} |", t.id.0, t.title);
        match t.status {
            SubtaskStatus::Cancelled => assert!(!d.contains(&row), "{row} in\n{d}"),
            _ => assert!(d.contains(&row), "{row} missing in\n{d}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_headless_run_never_says_a_person_decided() {
    let dir = tempfile::tempdir().unwrap();
    let f = run(dir.path(), SHOWCASE, ApprovalPolicy::Auto, true, &[]).await;
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskEscalated { .. }))
            .count(),
        0,
        "nobody to escalate to"
    );
    let text = synthesis_text(&f);
    assert!(!text.contains("decided by the person"), "{text}");
    assert!(!text.contains("the person's"), "{text}");
    // What was applied instead is said plainly.
    assert!(text.contains("30 days"), "{text}");
    assert!(text.contains("no person"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_headless_haiku_gets_a_small_writing_plan() {
    let dir = tempfile::tempdir().unwrap();
    let f = run(dir.path(), HAIKU, ApprovalPolicy::Auto, true, &[]).await;
    let st = &f.state;
    assert!(
        (1..=3).contains(&st.subtasks.len()),
        "{:?}",
        st.subtasks.iter().map(|t| &t.title).collect::<Vec<_>>()
    );
    for t in &st.subtasks {
        assert!(t.role.contains("writer"), "{}: {}", t.title, t.role);
        assert_eq!(t.status, SubtaskStatus::Complete, "{}", t.title);
    }
    let a = st.analysis.as_ref().unwrap();
    assert!(a.complexity < 0.7, "{}", a.complexity);
    let d = deliverable(&f).to_lowercase();
    for software in ["api", "schema", "test suite", "storage"] {
        assert!(!d.contains(software), "{software:?} in a haiku:\n{d}");
    }
}

#[tokio::test(start_paused = true)]
async fn under_the_tui_policy_a_haiku_raises_the_complexity_gate() {
    let dir = tempfile::tempdir().unwrap();
    let f = run(dir.path(), HAIKU, ApprovalPolicy::Scope, false, &[]).await;
    let gate: Vec<(f64, f64)> = f
        .of(|e| matches!(e, Event::ModeChoiceRequested { .. }))
        .filter_map(|e| match e {
            Event::ModeChoiceRequested {
                complexity,
                threshold,
            } => Some((*complexity, *threshold)),
            _ => None,
        })
        .collect();
    assert_eq!(gate.len(), 1, "the person is asked once");
    assert!(gate[0].0 < gate[0].1, "{gate:?}");
}

#[tokio::test(start_paused = true)]
async fn the_showcase_still_rates_above_the_threshold_and_stays_rich() {
    let dir = tempfile::tempdir().unwrap();
    let f = run(dir.path(), SHOWCASE, ApprovalPolicy::Scope, false, &[]).await;
    assert_eq!(
        f.of(|e| matches!(e, Event::ModeChoiceRequested { .. }))
            .count(),
        0
    );
    assert_eq!(f.state.analysis.as_ref().unwrap().complexity, 0.78);
    assert!(f.state.subtasks.len() >= 10);
}

// ---- themes by kind ---------------------------------------------------------------------------

async fn analysis_of(task: &str) -> AnalysisArgs {
    use baton::llm::{ChatRequest, ChatRole, Content, Message, ToolChoice};
    let p = baton::demo::DemoProvider::new(&ProviderSettings {
        kind: ProviderKind::Demo,
        demo_pace_ms: 0,
        ..ProviderSettings::default()
    });
    let req = ChatRequest {
        system: String::new(),
        messages: vec![Message {
            role: ChatRole::User,
            content: vec![Content::Text {
                text: task.to_string(),
            }],
        }],
        tools: Vec::new(),
        tool_choice: ToolChoice::Tool(SUBMIT_ANALYSIS.into()),
        max_tokens: 1000,
        model: "demo".into(),
        temperature: None,
    };
    let reply = p.reply(&req).unwrap();
    let (name, args) = reply.tool.unwrap();
    assert_eq!(name, SUBMIT_ANALYSIS);
    serde_json::from_value(args).unwrap()
}

#[tokio::test]
async fn themes_follow_the_kind_of_task() {
    let cases = [
        ("Write a haiku about autumn rain", "writing"),
        ("Write a short story about a lighthouse keeper", "writing"),
        (
            "Write a report on the adoption of heat pumps in Europe",
            "research",
        ),
        ("Research into battery recycling in Europe", "research"),
        (
            "Analyse the sales CSV and chart monthly revenue by region",
            "data",
        ),
        (
            "Clean the customer dataset and find duplicate records",
            "data",
        ),
        ("Refactor the billing module to use async IO", "software"),
        (SHOWCASE, "software"),
    ];
    for (task, kind) in cases {
        let a = analysis_of(task).await;
        assert_eq!(
            a.task_type.split(':').next().unwrap(),
            kind,
            "{task}: {a:?}"
        );
        let roles: Vec<&str> = a.subtasks.iter().map(|s| s.role.as_str()).collect();
        match kind {
            "writing" => {
                assert!(a.subtasks.len() <= 3, "{task}: {roles:?}");
                assert!(roles.iter().all(|r| r.contains("writer")), "{roles:?}");
            }
            "data" => assert!(
                a.subtasks
                    .iter()
                    .any(|s| s.title.to_lowercase().contains("data")),
                "{task}: {a:?}"
            ),
            _ => {}
        }
    }
}

#[tokio::test]
async fn complexity_varies_with_the_task() {
    let small = [
        "Write a haiku",
        "rename a variable",
        "Fix a typo in the README",
    ];
    for task in small {
        let c = analysis_of(task).await.complexity;
        assert!(c < 0.7, "{task}: {c}");
    }
    let large = [
        SHOWCASE,
        "Add rate limiting to the public API",
        "Build a CLI todo app with sync, tags, reminders and an export to CSV",
    ];
    for task in large {
        let c = analysis_of(task).await.complexity;
        assert!(c >= 0.7, "{task}: {c}");
    }
    let a = analysis_of("Build a CLI todo app").await.complexity;
    let b = analysis_of("Build a CLI todo app with sync, tags, reminders and sharing")
        .await
        .complexity;
    assert!(b > a, "{a} vs {b}");
}
