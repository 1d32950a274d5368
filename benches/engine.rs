//! Engine benchmarks: the engine's own time per subtask (zero-latency model), wall time vs
//! the critical-path bound with a fixed 50 ms model latency, and resuming a 10,000-event
//! journal. Run with `cargo bench --bench engine`; figures go into docs/engine.md.
//!
//! Uses a scripted model that answers by the forced tool only (no parsing of the context),
//! so what is measured is the engine: prompts, validation, journal writes, the reducer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use baton::engine::roles::default_roles;
use baton::engine::*;
use baton::journal::{self, JOURNAL_FILE, Journal};
use baton::llm::pricing::PriceTable;
use baton::llm::*;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::state::*;
use criterion::{BenchmarkId, Criterion, criterion_group};
use serde_json::{Value, json};

#[derive(Clone, Copy)]
enum Shape {
    /// Independent subtasks.
    Wide(usize),
    /// Each subtask depends on the previous one.
    Chain(usize),
}

impl Shape {
    fn len(self) -> usize {
        match self {
            Shape::Wide(n) | Shape::Chain(n) => n,
        }
    }
}

struct Model {
    latency: Duration,
    shape: Shape,
}

fn tool(name: &str, args: Value) -> ChatResponse {
    ChatResponse {
        text: String::new(),
        tool_calls: vec![ToolCall {
            id: "c".into(),
            name: name.into(),
            arguments: args,
        }],
        stop_reason: StopReason::ToolUse,
        usage: Usage {
            input_tokens: 10,
            output_tokens: 10,
            ..Usage::default()
        },
        model: "bench".into(),
        retries: vec![],
    }
}

#[async_trait]
impl Provider for Model {
    fn name(&self) -> &str {
        "bench"
    }
    fn base_url(&self) -> &str {
        ""
    }
    async fn chat(&self, req: ChatRequest, _sink: DeltaSink<'_>) -> Result<ChatResponse, LlmError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let forced = match &req.tool_choice {
            ToolChoice::Tool(t) => t.as_str(),
            _ => SUBMIT_REPORT,
        };
        Ok(match forced {
            SUBMIT_ANALYSIS => {
                let n = self.shape.len();
                let subtasks: Vec<Value> = (1..=n)
                    .map(|i| {
                        let deps: Vec<String> = match self.shape {
                            Shape::Chain(_) if i > 1 => vec![format!("#{}", i - 1)],
                            _ => vec![],
                        };
                        json!({"title": format!("T{i}"), "description": "d", "role": "code_developer",
                               "depends_on": deps, "priority": "normal", "expected_output": "x"})
                    })
                    .collect();
                tool(
                    SUBMIT_ANALYSIS,
                    json!({"complexity": 0.9, "task_type": "t", "known_requirements": [],
                           "unknowns": [], "estimated_subtasks": n, "strategy": "s",
                           "subtasks": subtasks}),
                )
            }
            SUBMIT_REPLAN => tool(
                SUBMIT_REPLAN,
                json!({"summary": "ok", "add": [], "update": [], "cancel": [], "scope_note": "n"}),
            ),
            ASSESS_COMPLETION => tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []})),
            SUBMIT_SYNTHESIS => tool(
                SUBMIT_SYNTHESIS,
                json!({"deliverable": "done", "integration_points": [], "conflicts": [],
                       "coherence": "ok"}),
            ),
            _ => tool(
                SUBMIT_REPORT,
                json!({"status": "complete", "results": "ok", "discoveries": [],
                       "recommendations": [], "new_subtasks": []}),
            ),
        })
    }
}

fn config(dir: &std::path::Path, max_workers: u32) -> EngineConfig {
    EngineConfig {
        settings: RunSettings {
            provider: "bench".into(),
            base_url: String::new(),
            orchestrator_model: "bench".into(),
            worker_model: "bench".into(),
            max_workers,
            approve: ApprovalPolicy::Auto,
            limits: Limits::default(),
            complexity_threshold: 0.7,
            evaluate: false,
            workspace: None,
            read_only: false,
            allow_commands: false,
            role_dispatch: Default::default(),
        },
        roles: default_roles(),
        pricing: PriceTable::empty(),
        worker_timeout_secs: 600,
        run_dir: dir.to_path_buf(),
        tools: None,
        stop_when_person_needed: true,
        project_instructions: Default::default(),
        isolation: None,
        role_providers: Default::default(),
    }
}

/// One whole run; returns its wall time.
async fn run(
    shape: Shape,
    latency: Duration,
    max_workers: u32,
) -> (Duration, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::create(dir.path()).unwrap();
    let start = Instant::now();
    let mut h = spawn(
        config(dir.path(), max_workers),
        Arc::new(Model { latency, shape }),
        journal,
        Start::New {
            run_id: "bench".into(),
            task: "bench".into(),
        },
    );
    let mut deltas = h.deltas;
    tokio::spawn(async move { while deltas.recv().await.is_some() {} });
    while h.events.recv().await.is_some() {}
    let outcome = h.join.await.unwrap();
    let took = start.elapsed();
    assert_eq!(outcome, RunOutcome::Completed);
    let path = dir.path().join(JOURNAL_FILE);
    (took, path, dir)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn per_subtask(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("engine_time_per_subtask");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    for n in [100usize, 1000] {
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (took, _, _dir) = rt.block_on(run(Shape::Wide(n), Duration::ZERO, 8));
                    total += took / n as u32;
                }
                total
            })
        });
    }
    g.finish();
}

fn resume_10k(c: &mut Criterion) {
    let rt = runtime();
    // A real journal of more than 10,000 events, cut to exactly 10,000 lines.
    let (_, path, dir) = rt.block_on(run(Shape::Wide(2500), Duration::ZERO, 8));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().take(10_000).collect();
    assert_eq!(lines.len(), 10_000, "the bench run wrote too few events");
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, lines.join("\n") + "\n").unwrap();
    let mut g = c.benchmark_group("resume");
    g.sample_size(10);
    g.bench_function("replay_and_fold_10k_events", |b| {
        b.iter(|| {
            let r = journal::replay(&cut).unwrap();
            let s = State::fold(&r.events);
            assert_eq!(s.last_seq, 10_000);
            s
        })
    });
    g.finish();
}

/// Wall time with a fixed 50 ms latency divided by the critical-path bound: the sequential
/// orchestrator steps (analysis, the replan after the last report, completion assessment,
/// synthesis) plus one latency per level of the DAG under `max_workers`.
fn critical_path_ratios() {
    let rt = runtime();
    let latency = Duration::from_millis(50);
    println!("\nwall time / critical-path bound (50 ms model latency)");
    println!(
        "{:<10} {:>11} {:>10} {:>10} {:>7}",
        "dag", "max_workers", "wall", "bound", "ratio"
    );
    for (name, shape) in [("wide-16", Shape::Wide(16)), ("chain-8", Shape::Chain(8))] {
        for k in [1u32, 4, 8] {
            let levels = match shape {
                Shape::Wide(n) => n.div_ceil(k as usize),
                Shape::Chain(n) => n,
            };
            let bound = latency * (levels as u32 + 4);
            let (took, _, _dir) = rt.block_on(run(shape, latency, k));
            println!(
                "{name:<10} {k:>11} {:>8.0}ms {:>8.0}ms {:>7.3}",
                took.as_secs_f64() * 1000.0,
                bound.as_secs_f64() * 1000.0,
                took.as_secs_f64() / bound.as_secs_f64()
            );
        }
    }
}

criterion_group!(benches, per_subtask, resume_10k);

fn main() {
    // `cargo bench --bench engine -- ratios` runs only the critical-path table.
    if !std::env::args().any(|a| a == "ratios") {
        benches();
    }
    critical_path_ratios();
    Criterion::default().configure_from_args().final_summary();
}
