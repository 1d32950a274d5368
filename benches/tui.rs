//! Frame time of the supervision screen under load: 1,000 subtasks, 8 worker panes and
//! 10 MB of streamed output, drawn at 200x50 (target: under 5 ms a frame). Also the cost of
//! folding one delta into a pane.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use baton::engine::*;
use baton::llm::StreamEvent;
use baton::protocol::*;
use baton::tui::app::{Msg, RunInfo, Ui, UiOptions};
use baton::tui::theme::Theme;
use baton::tui::{draw, update};
use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn loaded_ui() -> Ui {
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
    let mut ui = Ui::new(
        RunInfo::default(),
        Theme::default(),
        UiOptions {
            bell: false,
            mouse: false,
        },
        t0,
    );
    let mut seq = 0;
    let mut ev = |ui: &mut Ui, event: Event| {
        seq += 1;
        let env = Envelope {
            seq,
            ts: t0 + Duration::milliseconds(seq as i64),
            v: JOURNAL_VERSION,
            event,
        };
        update(ui, Msg::Event(Box::new(env)));
    };
    ev(
        &mut ui,
        Event::RunStarted {
            run_id: "bench".into(),
            task: "A very large run".into(),
            settings: RunSettings {
                provider: "demo".into(),
                base_url: String::new(),
                orchestrator_model: "o".into(),
                worker_model: "w".into(),
                max_workers: 8,
                approve: ApprovalPolicy::Auto,
                limits: Limits::default(),
                complexity_threshold: 0.7,
                evaluate: false,
                evaluate_rounds: 1,
                workspace: None,
                read_only: false,
                allow_commands: false,
                role_dispatch: Default::default(),
            },
        },
    );
    for i in 1..=1000u32 {
        let deps = if i > 10 {
            vec![SubtaskId(i - 7), SubtaskId(i - 3)]
        } else {
            vec![]
        };
        ev(
            &mut ui,
            Event::SubtaskAdded {
                spec: SubtaskSpec {
                    id: SubtaskId(i),
                    title: format!("Subtask number {i} with a reasonably long title"),
                    description: "d".into(),
                    role: ["code_developer", "test_engineer", "system_architect"][i as usize % 3]
                        .into(),
                    priority: [Priority::High, Priority::Normal, Priority::Low][i as usize % 3],
                    depends_on: deps,
                    expected_output: String::new(),
                },
                origin: if i % 5 == 0 {
                    Origin::Discovered {
                        from: SubtaskId(i / 2),
                        cycle: 1,
                    }
                } else {
                    Origin::Analysis
                },
                needs_approval: i % 17 == 0,
            },
        );
    }
    for i in 1..=300u32 {
        ev(
            &mut ui,
            Event::SubtaskStarted {
                id: SubtaskId(i),
                attempt: 1,
                worker: WorkerId(1),
                role: "r".into(),
                model: "m".into(),
                brief: String::new(),
                task_omitted: false,
            },
        );
        ev(
            &mut ui,
            Event::SubtaskFailed {
                id: SubtaskId(i),
                attempt: 1,
                error: "x".into(),
            },
        );
        ev(
            &mut ui,
            Event::EscalationResolved {
                id: SubtaskId(i),
                resolution: Resolution::MarkDone {
                    result: "ok".into(),
                },
                by: Actor::Person,
            },
        );
    }
    for w in 1..=8u32 {
        let id = 400 + w;
        ev(
            &mut ui,
            Event::SubtaskStarted {
                id: SubtaskId(id),
                attempt: 1,
                worker: WorkerId(w),
                role: "code_developer".into(),
                model: "m".into(),
                brief: String::new(),
                task_omitted: false,
            },
        );
    }
    // 10 MB of output, spread over the 8 panes, in 100-byte deltas with newlines.
    let chunk = "The worker writes code and explains it as it goes, line after line of output...\n";
    let total = 10 * 1024 * 1024;
    let mut sent = 0;
    let mut w = 0u32;
    while sent < total {
        let id = 401 + (w % 8);
        update(
            &mut ui,
            Msg::Delta(Delta {
                subtask: Some(SubtaskId(id)),
                attempt: 1,
                event: StreamEvent::TextDelta { text: chunk.into() },
            }),
        );
        sent += chunk.len();
        w += 1;
    }
    ui.modal = None;
    update(&mut ui, Msg::Resize(200, 50));
    ui
}

fn frame(c: &mut Criterion) {
    let ui = loaded_ui();
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    c.bench_function("frame 200x50, 1000 subtasks, 8 panes, 10 MB output", |b| {
        b.iter(|| {
            term.draw(|f| draw(f, &ui)).unwrap();
        })
    });
    let mut ui = ui;
    c.bench_function("fold one text delta into a pane", |b| {
        b.iter(|| {
            update(
                &mut ui,
                Msg::Delta(Delta {
                    subtask: Some(SubtaskId(401)),
                    attempt: 1,
                    event: StreamEvent::TextDelta {
                        text: "more words\n".into(),
                    },
                }),
            );
        })
    });
}

criterion_group!(benches, frame);
criterion_main!(benches);
