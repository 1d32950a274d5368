//! Engine benchmarks (see BENCHMARKS.md, "Issue 12"):
//! - `per_subtask` (criterion): the engine's wall time per subtask with a zero-latency model;
//! - `resume`: replaying and folding a 10,000-event journal;
//! - `ratios`: the issue-12 table: N subtasks in W chains (`max_workers` = W), every report
//!   adds nothing, fixed model latency (`BATON_BENCH_LATENCY_MS`, default 50 ms; the issue
//!   used 200), wall time against the critical-path bound; plus a jitter case (latency
//!   L + 0..2L per call, deterministic) against the dispatch-as-ready bound;
//! - `cpu`: CPU time per subtask (`CLOCK_PROCESS_CPUTIME_ID` around a zero-latency run,
//!   N=200, W=8 and W=1, median of 5) and the request bytes a run sends (N=200, W=1).
//!
//! - `trace N W`: one such run with the fake's request log, and where the time beyond the
//!   bound went (the gaps along the longest chain, the calls after the last worker).
//!
//! `cargo bench --bench engine` runs everything; `-- ratios` or `-- cpu` one table.
//!
//! Uses a scripted model that answers by the forced tool only (no parsing of the context),
//! so what is measured is the engine: prompts, validation, journal writes, the reducer.
//! The HTTP and SSE layers are not in it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// `n` subtasks in `w` chains: #i depends on #(i-w).
    Chains { n: usize, w: usize },
}

impl Shape {
    fn len(self) -> usize {
        match self {
            Shape::Wide(n) | Shape::Chains { n, .. } => n,
        }
    }
    fn deps(self, i: usize) -> Vec<String> {
        match self {
            Shape::Chains { w, .. } if i > w => vec![format!("#{}", i - w)],
            _ => vec![],
        }
    }
}

#[derive(Clone, Copy)]
enum Latency {
    Fixed(Duration),
    /// `base + 0..=2*base`, a deterministic function of the call (see [`jitter`]).
    Jitter(Duration),
}

const ANALYSIS_KEY: u64 = 1_000_000;
const SYNTHESIS_KEY: u64 = 1_000_001;

/// A deterministic pseudo-random latency in `base ..= 3*base` for `key`.
fn jitter(base: Duration, key: u64) -> Duration {
    let mut x = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    let extra = (base.as_micros() as u64) * 2;
    base + Duration::from_micros(x % (extra + 1))
}

struct Model {
    latency: Latency,
    shape: Shape,
    /// Bytes of every request (serialized), and calls (for the replans' jitter keys).
    bytes: AtomicU64,
    calls: AtomicU64,
    /// Serialize every request to count its bytes (costs CPU: not in CPU runs).
    count_bytes: bool,
    /// The request log of a `trace` run: (kind, subtask id for a worker, start, end).
    log: Option<std::sync::Mutex<Vec<Call>>>,
}

/// One model call as the fake saw it (the `trace` run).
#[derive(Clone)]
struct Call {
    kind: &'static str,
    id: u64,
    start: Instant,
    end: Instant,
}

impl Model {
    fn new(latency: Latency, shape: Shape) -> Self {
        Self {
            latency,
            shape,
            bytes: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            count_bytes: false,
            log: None,
        }
    }

    fn delay(&self, req: &ChatRequest, forced: &str) -> Duration {
        match self.latency {
            Latency::Fixed(d) => d,
            Latency::Jitter(base) => {
                let key = match forced {
                    SUBMIT_ANALYSIS => ANALYSIS_KEY,
                    SUBMIT_SYNTHESIS => SYNTHESIS_KEY,
                    SUBMIT_REPORT => worker_id(req),
                    _ => 2_000_000 + self.calls.load(Ordering::Relaxed),
                };
                jitter(base, key)
            }
        }
    }
}

/// The subtask id of a worker request (its brief's `# Your subtask #N:` line).
fn worker_id(req: &ChatRequest) -> u64 {
    let text = serde_json::to_string(&req.messages).unwrap_or_default();
    text.split("# Your subtask #")
        .nth(1)
        .and_then(|t| t.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
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
        self.calls.fetch_add(1, Ordering::Relaxed);
        let began = Instant::now();
        if !matches!(self.latency, Latency::Fixed(d) if d.is_zero()) {
            let forced = match &req.tool_choice {
                ToolChoice::Tool(t) => t.as_str(),
                _ => SUBMIT_REPORT,
            };
            tokio::time::sleep(self.delay(&req, forced)).await;
        }
        if self.count_bytes {
            let n = serde_json::to_vec(&req).map(|v| v.len()).unwrap_or(0);
            self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        let forced = match &req.tool_choice {
            ToolChoice::Tool(t) => t.as_str(),
            _ => SUBMIT_REPORT,
        };
        if let Some(log) = &self.log {
            let end = Instant::now();
            let (kind, id) = match forced {
                SUBMIT_ANALYSIS => ("analysis", 0),
                SUBMIT_REPLAN => ("replan", 0),
                ASSESS_COMPLETION => ("completion", 0),
                SUBMIT_SYNTHESIS => ("synthesis", 0),
                DECIDE_RECOVERY => ("recovery", 0),
                _ => ("worker", worker_id(&req)),
            };
            log.lock().unwrap().push(Call {
                kind,
                id,
                start: began,
                end,
            });
        }
        Ok(match forced {
            SUBMIT_ANALYSIS => {
                let n = self.shape.len();
                let subtasks: Vec<Value> = (1..=n)
                    .map(|i| {
                        let deps = self.shape.deps(i);
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
            evaluate_rounds: 1,
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
        on_replan_conflict: Default::default(),
    }
}

/// One whole run; returns its wall time.
async fn run(
    shape: Shape,
    latency: Duration,
    max_workers: u32,
) -> (Duration, std::path::PathBuf, tempfile::TempDir) {
    let (took, path, dir, _) =
        run_model(Model::new(Latency::Fixed(latency), shape), max_workers).await;
    (took, path, dir)
}

/// One whole run with this model; returns its wall time and the model (for its counters).
async fn run_model(
    model: Model,
    max_workers: u32,
) -> (Duration, std::path::PathBuf, tempfile::TempDir, Arc<Model>) {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::create(dir.path()).unwrap();
    let model = Arc::new(model);
    let start = Instant::now();
    let mut h = spawn(
        config(dir.path(), max_workers),
        model.clone(),
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
    (took, path, dir, model)
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

/// The model latency of the `ratios` table (`BATON_BENCH_LATENCY_MS`, default 50).
fn bench_latency() -> Duration {
    let ms = std::env::var("BATON_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(50);
    Duration::from_millis(ms)
}

/// Wall time against the critical-path bound, the issue-12 table: N subtasks in W chains,
/// `max_workers` = W, fixed latency L. Bound = analysis + the longest chain of workers +
/// the calls that must follow the last report (the merged last replan and the synthesis):
/// (1 + ceil(N/W) + 2) x L. Then the jitter case against the dispatch-as-ready bound
/// (analysis + the longest chain of worker latencies + synthesis).
fn critical_path_ratios() {
    let rt = runtime();
    let latency = bench_latency();
    let l_ms = latency.as_millis();
    println!("\nwall time / critical-path bound ({l_ms} ms model latency), median of 3");
    println!(
        "{:<26} {:>10} {:>10} {:>7} {:>7}",
        "config", "wall", "bound", "ratio", "range"
    );
    let table = [(200usize, 1usize), (200, 8), (50, 8), (10, 4), (10, 8)];
    for (n, w) in table {
        let shape = Shape::Chains { n, w };
        let levels = n.div_ceil(w) as u32;
        let bound = latency * (levels + 3);
        let mut ratios: Vec<f64> = (0..3)
            .map(|_| {
                let (took, _, _dir) = rt.block_on(run(shape, latency, w as u32));
                took.as_secs_f64() / bound.as_secs_f64()
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let med = ratios[1];
        println!(
            "{:<26} {:>8.0}ms {:>8.0}ms {:>7.3} {:.3}-{:.3}",
            format!("{l_ms} ms, N={n}, W={w}"),
            med * bound.as_secs_f64() * 1000.0,
            bound.as_secs_f64() * 1000.0,
            med,
            ratios[0],
            ratios[2]
        );
    }
    // Jitter: L + 0..2L per call, N=48 in 8 chains.
    let (n, w) = (48usize, 8usize);
    let shape = Shape::Chains { n, w };
    let chain = |c: usize| -> Duration {
        (1..=n)
            .filter(|i| (i - 1) % w == c)
            .map(|i| jitter(latency, i as u64))
            .sum()
    };
    let longest = (0..w).map(chain).max().unwrap();
    let bound = jitter(latency, ANALYSIS_KEY) + longest + jitter(latency, SYNTHESIS_KEY);
    let mut ratios: Vec<f64> = (0..3)
        .map(|_| {
            let (took, _, _dir, _) = rt.block_on(run_model(
                Model::new(Latency::Jitter(latency), shape),
                w as u32,
            ));
            took.as_secs_f64() / bound.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "{:<26} {:>8.0}ms {:>8.0}ms {:>7.3} {:.3}-{:.3}  (dispatch-as-ready bound)",
        format!("{l_ms}+0-{} ms, N={n}, W={w}", 2 * l_ms),
        ratios[1] * bound.as_secs_f64() * 1000.0,
        bound.as_secs_f64() * 1000.0,
        ratios[1],
        ratios[0],
        ratios[2]
    );
}

/// CPU time of this process (all threads).
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU per subtask with a zero-latency model (N=200, W=8 and W=1), and the bytes of the
/// requests a run sends (N=200, W=1).
fn cpu_per_subtask() {
    let rt = runtime();
    let n = 200usize;
    println!("\nCPU time per subtask, zero-latency model, N={n} (median of 5)");
    for w in [8usize, 1] {
        let shape = Shape::Chains { n, w };
        // One run to warm up (allocator, page cache).
        rt.block_on(run(shape, Duration::ZERO, w as u32));
        let mut per: Vec<f64> = (0..5)
            .map(|_| {
                let before = process_cpu();
                let (_, _, _dir) = rt.block_on(run(shape, Duration::ZERO, w as u32));
                (process_cpu() - before).as_secs_f64() * 1000.0 / n as f64
            })
            .collect();
        per.sort_by(f64::total_cmp);
        println!(
            "N={n}, W={w}: {:.3} ms CPU per subtask (range {:.3}-{:.3})",
            per[2], per[0], per[4]
        );
    }
    let mut model = Model::new(Latency::Fixed(Duration::ZERO), Shape::Chains { n, w: 1 });
    model.count_bytes = true;
    let (_, _, _dir, model) = rt.block_on(run_model(model, 1));
    println!(
        "request bytes per run, N={n}, W=1: {:.2} MB in {} calls",
        model.bytes.load(Ordering::Relaxed) as f64 / 1e6,
        model.calls.load(Ordering::Relaxed)
    );
}

#[path = "engine/trace.rs"]
mod trace;

criterion_group!(benches, per_subtask, resume_10k);

fn main() {
    // `cargo bench --bench engine -- ratios` (or `-- cpu`) runs only that table.
    let ratios = std::env::args().any(|a| a == "ratios");
    let cpu = std::env::args().any(|a| a == "cpu");
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "trace") {
        let num = |k: usize, d: usize| args.get(i + k).and_then(|v| v.parse().ok()).unwrap_or(d);
        trace::trace(num(1, 200), num(2, 8));
        return;
    }
    if !ratios && !cpu {
        benches();
    }
    if cpu || !ratios {
        cpu_per_subtask();
    }
    if ratios || !cpu {
        critical_path_ratios();
    }
    Criterion::default().configure_from_args().final_summary();
}
