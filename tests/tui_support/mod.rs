//! Shared fixtures for the TUI tests: a fixed clock, an event script builder, a realistic
//! run (the URL shortener of UX.md) and rendering to a `TestBackend` as text.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use baton::engine::*;
use baton::llm::StreamEvent;
use baton::protocol::*;
use baton::protocol::{RetryNotice, Usage};
use baton::tui::app::{Msg, RunInfo, Ui, UiOptions};
use baton::tui::theme::Theme;
use baton::tui::{draw, update};
use chrono::{DateTime, Duration, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap()
}

pub fn info() -> RunInfo {
    RunInfo {
        provider: "demo".into(),
        model: "demo-orchestrator".into(),
        worker_model: "demo-worker".into(),
        workspace: None,
        approve: "scope".into(),
        max_workers: 4,
        demo: true,
        banner: Some("no API key found: running on the built-in demo model".into()),
        run_dir: None,
        roles: Vec::new(),
    }
}

/// A UI with a fixed clock, glyphs, no bell.
pub fn new_ui() -> Ui {
    let mut ui = Ui::new(
        info(),
        Theme {
            ascii: false,
            color: true,
            light: false,
        },
        UiOptions {
            bell: false,
            mouse: true,
        },
        t0(),
    );
    // The person "typed" long ago: modals may open.
    ui.last_key_at = None;
    ui
}

/// Builds envelopes with increasing seq and timestamps.
pub struct Script {
    pub seq: u64,
    pub at: DateTime<Utc>,
}

impl Default for Script {
    fn default() -> Self {
        Self { seq: 0, at: t0() }
    }
}

impl Script {
    pub fn env(&mut self, event: Event) -> Envelope {
        self.seq += 1;
        self.at += Duration::seconds(3);
        Envelope {
            seq: self.seq,
            ts: self.at,
            v: JOURNAL_VERSION,
            event,
        }
    }
}

pub fn feed(ui: &mut Ui, s: &mut Script, events: Vec<Event>) -> Vec<baton::tui::Effect> {
    let mut fx = Vec::new();
    for e in events {
        let env = s.env(e);
        fx.extend(update(ui, Msg::Event(Box::new(env))));
    }
    fx
}

pub fn delta(ui: &mut Ui, id: Option<u32>, text: &str) {
    update(
        ui,
        Msg::Delta(Delta {
            subtask: id.map(SubtaskId),
            attempt: 1,
            event: StreamEvent::TextDelta { text: text.into() },
        }),
    );
}

pub fn tool_delta(ui: &mut Ui, id: u32, name: &str, args: &str) {
    for event in [
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_1".into(),
            name: name.into(),
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            json: args.into(),
        },
    ] {
        update(
            ui,
            Msg::Delta(Delta {
                subtask: Some(SubtaskId(id)),
                attempt: 1,
                event,
            }),
        );
    }
}

pub fn key(ui: &mut Ui, code: KeyCode) -> Vec<baton::tui::Effect> {
    update(ui, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ch(ui: &mut Ui, c: char) -> Vec<baton::tui::Effect> {
    key(ui, KeyCode::Char(c))
}

pub fn ctrl(ui: &mut Ui, c: char) -> Vec<baton::tui::Effect> {
    update(
        ui,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

pub fn typed(ui: &mut Ui, text: &str) {
    for c in text.chars() {
        ch(ui, c);
    }
}

/// Shows finished subtasks too and selects subtask `id` on the task list.
pub fn select_shown(ui: &mut Ui, id: u32) {
    if !ui.show_finished {
        ch(ui, 'o');
    }
    key(ui, KeyCode::Home);
    for _ in 0..40 {
        if ui.selected_subtask() == Some(SubtaskId(id)) {
            return;
        }
        key(ui, KeyCode::Down);
    }
    panic!("#{id} not in the list");
}

/// Lets the "person is typing" grace pass (modals may open again).
pub fn later(ui: &mut Ui, secs: i64) {
    let now = ui.now + Duration::seconds(secs);
    update(ui, Msg::Tick(now));
}

pub fn render(ui: &mut Ui, w: u16, h: u16) -> String {
    update(ui, Msg::Resize(w, h));
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| draw(f, ui)).unwrap();
    term.backend().to_string()
}

pub fn settings() -> RunSettings {
    RunSettings {
        provider: "demo".into(),
        base_url: String::new(),
        orchestrator_model: "demo-orchestrator".into(),
        worker_model: "demo-worker".into(),
        max_workers: 4,
        approve: ApprovalPolicy::Scope,
        limits: Limits {
            max_subtasks: Some(12),
            max_cycles: None,
            max_tokens: None,
            budget_usd: Some(2.0),
            max_wall_secs: None,
            ..Limits::default()
        },
        complexity_threshold: 0.7,
        evaluate: false,
        evaluate_rounds: 1,
        workspace: None,
        read_only: false,
        allow_commands: false,
        role_dispatch: Default::default(),
    }
}

pub fn spec(id: u32, title: &str, role: &str, priority: Priority, deps: &[u32]) -> SubtaskSpec {
    SubtaskSpec {
        id: SubtaskId(id),
        title: title.into(),
        description: format!("{title}: do it well, with tests where they make sense."),
        role: role.into(),
        priority,
        depends_on: deps.iter().map(|d| SubtaskId(*d)).collect(),
        expected_output: "Code and a short note".into(),
    }
}

pub fn added(
    id: u32,
    title: &str,
    role: &str,
    priority: Priority,
    deps: &[u32],
    origin: Origin,
    needs_approval: bool,
) -> Event {
    Event::SubtaskAdded {
        spec: spec(id, title, role, priority, deps),
        origin,
        needs_approval,
    }
}

pub fn started(id: u32, worker: u32, role: &str) -> Event {
    Event::SubtaskStarted {
        id: SubtaskId(id),
        attempt: 1,
        worker: WorkerId(worker),
        role: role.into(),
        model: "demo-worker".into(),
        brief: format!(
            "Task: Build a URL shortener\nYour subtask: #{id}\nShared decisions: REST API, SQLite."
        ),
        task_omitted: false,
    }
}

pub fn report(id: u32, results: &str, new: Vec<ProposedSubtask>) -> Event {
    Event::SubtaskReported {
        id: SubtaskId(id),
        attempt: 1,
        output: format!("## Result of #{id}\n\n{results}\n\n- one point\n- another point"),
        report: Report {
            status: ReportStatus::Complete,
            results: results.into(),
            discoveries: vec!["Links need an expiry".into()],
            recommendations: vec!["Add rate limiting".into()],
            new_subtasks: new,
        },
    }
}

pub fn usage(id: Option<u32>, input: u64, output: u64, cost: f64) -> Event {
    Event::LlmUsage {
        purpose: match id {
            Some(i) => CallPurpose::Worker {
                id: SubtaskId(i),
                attempt: 1,
            },
            None => CallPurpose::Analysis,
        },
        model: "demo".into(),
        usage: Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
        },
        cost_usd: Some(cost),
    }
}

/// The run of UX.md, mid-flight: 3 workers busy, two discovered subtasks waiting for
/// approval, one escalated, one deferred, five done, three replans.
pub fn mid_run(ui: &mut Ui) -> Script {
    let mut s = Script::default();
    use Priority::*;
    let a = Origin::Analysis;
    feed(
        ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "20260101-100000-url".into(),
                task: "Build a URL shortener with an API, storage and tests".into(),
                settings: settings(),
            },
            Event::PhaseChanged {
                phase: Phase::Analysing,
            },
            usage(None, 1800, 600, 0.02),
            Event::AnalysisCompleted {
                analysis: Analysis {
                    complexity: 0.82,
                    task_type: "software".into(),
                    known_requirements: vec!["API".into()],
                    unknowns: vec!["expiry".into()],
                    estimated_subtasks: 5,
                    strategy: "API first, then storage and tests".into(),
                },
                first_subtasks: None,
            },
            added(
                1,
                "Survey existing shorteners",
                "code_analyzer",
                Normal,
                &[],
                a.clone(),
                false,
            ),
            added(
                2,
                "Design the API",
                "system_architect",
                High,
                &[],
                a.clone(),
                false,
            ),
            added(
                3,
                "Pick the storage engine",
                "system_architect",
                Normal,
                &[],
                a.clone(),
                false,
            ),
            added(
                4,
                "Write a CLI client",
                "code_developer",
                Low,
                &[2],
                a.clone(),
                false,
            ),
            added(
                5,
                "Hash function for short codes",
                "code_developer",
                Normal,
                &[],
                a.clone(),
                false,
            ),
            Event::PhaseChanged {
                phase: Phase::Running,
            },
        ],
    );
    for (id, w, role) in [
        (1, 1, "code_analyzer"),
        (2, 2, "system_architect"),
        (3, 3, "system_architect"),
        (5, 4, "code_developer"),
    ] {
        feed(ui, &mut s, vec![started(id, w, role)]);
    }
    feed(
        ui,
        &mut s,
        vec![
            usage(Some(1), 3000, 900, 0.03),
            report(
                1,
                "Most shorteners use base62 codes and a key-value store.",
                vec![],
            ),
            Event::PhaseChanged {
                phase: Phase::Replanning,
            },
            Event::ReplanLogged {
                cycle: 1,
                covered: vec![SubtaskId(1)],
                summary: "Strategy holds: API first.".into(),
                added: vec![],
                updated: vec![],
                cancelled: vec![],
                scope_note: "as planned".into(),
                estimate_before: 5,
                estimate_now: 5,
            },
            Event::PhaseChanged {
                phase: Phase::Running,
            },
            usage(Some(2), 4000, 1500, 0.05),
            report(
                2,
                "REST API: POST /links, GET /{code}, DELETE /links/{code}.",
                vec![],
            ),
            added(
                6,
                "Implement redirect API",
                "code_developer",
                High,
                &[2, 3],
                Origin::Replan { cycle: 2 },
                false,
            ),
            Event::SubtaskCancelled {
                id: SubtaskId(4),
                reason: "the API covers it".into(),
                by: Actor::Orchestrator,
            },
            Event::ReplanLogged {
                cycle: 2,
                covered: vec![SubtaskId(2)],
                summary: "Add the redirect API now that the design exists; drop the CLI client."
                    .into(),
                added: vec![SubtaskId(6)],
                updated: vec![],
                cancelled: vec![SubtaskId(4)],
                scope_note: "the CLI client is not needed".into(),
                estimate_before: 5,
                estimate_now: 6,
            },
            usage(Some(3), 2500, 800, 0.02),
            report(
                3,
                "SQLite with one table: links(code, target, created_at).",
                vec![],
            ),
            started(6, 2, "code_developer"),
            Event::SubtaskFailed {
                id: SubtaskId(5),
                attempt: 1,
                error: "the worker produced no report".into(),
            },
            Event::RecoveryDecided {
                id: SubtaskId(5),
                action: RecoveryAction::Escalate,
                rationale: "Reassigning won't help; the schema needs a decision on collisions."
                    .into(),
                impact: "hash codes wait".into(),
                by: Actor::Orchestrator,
            },
            usage(Some(6), 2000, 700, 0.02),
            added(
                7,
                "Write API tests",
                "test_engineer",
                Normal,
                &[6],
                Origin::Replan { cycle: 3 },
                false,
            ),
            added(
                8,
                "Add rate limiting",
                "code_developer",
                Normal,
                &[6],
                Origin::Discovered {
                    from: SubtaskId(6),
                    cycle: 3,
                },
                true,
            ),
            added(
                9,
                "Email alerts for abuse",
                "code_developer",
                Low,
                &[],
                Origin::Discovered {
                    from: SubtaskId(6),
                    cycle: 3,
                },
                true,
            ),
            added(
                10,
                "Docs for the API",
                "documentation_writer",
                Normal,
                &[6, 7],
                Origin::Replan { cycle: 3 },
                false,
            ),
            added(
                11,
                "Load test",
                "performance_optimizer",
                Low,
                &[],
                Origin::Replan { cycle: 3 },
                false,
            ),
            Event::SubtaskDeferred {
                id: SubtaskId(11),
                by: Actor::Person,
            },
            Event::ReplanLogged {
                cycle: 3,
                covered: vec![SubtaskId(3)],
                summary: "Storage decided; tests and docs follow the API. Abuse handling found."
                    .into(),
                added: vec![
                    SubtaskId(7),
                    SubtaskId(8),
                    SubtaskId(9),
                    SubtaskId(10),
                    SubtaskId(11),
                ],
                updated: vec![SubtaskId(6)],
                cancelled: vec![],
                scope_note: "auth + abuse found".into(),
                estimate_before: 6,
                estimate_now: 11,
            },
            started(7, 3, "test_engineer"),
        ],
    );
    delta(ui, Some(6), "Reading src/api.rs …\n");
    tool_delta(ui, 6, "read_file", "{\"path\":\"src/api.rs\"}");
    feed(
        ui,
        &mut s,
        vec![Event::WorkerToolUsed {
            id: SubtaskId(6),
            attempt: 1,
            tool: "read_file".into(),
            summary: "read_file src/api.rs (212 lines)".into(),
            is_error: false,
            input: serde_json::json!({"path": "src/api.rs"}),
            output: "pub fn route() {}\n// 211 more lines".into(),
        }],
    );
    delta(
        ui,
        Some(6),
        "The handler needs the store trait from #3, so I'll add `get_target` and map misses to 404 …",
    );
    delta(
        ui,
        Some(7),
        "Drafting cases for expired links …\nCase 1: unknown code → 404\nCase 2: expired → 410",
    );
    // The person has seen the escalation that opened by itself: its grace is over.
    let now = ui.now + Duration::milliseconds(baton::tui::app::DIALOG_GRACE_MS);
    update(ui, Msg::Tick(now));
    s
}

pub fn retry_notice() -> RetryNotice {
    RetryNotice {
        attempt: 1,
        delay_ms: 2000,
        reason: "429 rate limited".into(),
    }
}

/// The commands among the effects.
pub fn sent(fx: Vec<baton::tui::Effect>) -> Vec<Command> {
    fx.into_iter()
        .filter_map(|e| match e {
            baton::tui::Effect::Send(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// Snapshots of the screen at 80x24 and 160x48. A macro, so the snapshot names stay those
/// of the calling test file.
#[allow(unused_macros)]
macro_rules! both {
    ($name:expr, $ui:expr) => {{
        insta::assert_snapshot!(
            format!("{}_80x24", $name),
            $crate::tui_support::render($ui, 80, 24)
        );
        insta::assert_snapshot!(
            format!("{}_160x48", $name),
            $crate::tui_support::render($ui, 160, 48)
        );
    }};
}
#[allow(unused_imports)]
pub(crate) use both;

/// A worker (#7) asks to run `command` in /home/me/shortener, after the typing grace; the
/// dialog's own grace has passed when this returns.
pub fn request_command(ui: &mut Ui, command: &str) {
    let mut s = Script {
        seq: 500,
        at: ui.now,
    };
    later(ui, 5);
    feed(
        ui,
        &mut s,
        vec![Event::CommandApprovalRequested {
            request: 1,
            id: SubtaskId(7),
            command: command.into(),
            cwd: "/home/me/shortener".into(),
        }],
    );
    // The dialog opened by itself; the person has had time to see it.
    let now = ui.now + Duration::milliseconds(baton::tui::app::DIALOG_GRACE_MS);
    update(ui, Msg::Tick(now));
}
