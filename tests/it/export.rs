//! `baton export` and `baton runs` over journals written here event by event (so the
//! report's content is known exactly), plus a torn journal and unknown runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use baton::export::{render_json, render_markdown};
use baton::journal::{self, Journal};
use baton::protocol::Usage;
use baton::protocol::*;
use baton::state::State;

use crate::support_cli as bin;

fn baton(home: &Path) -> Command {
    bin::baton_bare(home)
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn settings() -> RunSettings {
    RunSettings {
        provider: "demo".into(),
        base_url: String::new(),
        orchestrator_model: "demo-orchestrator".into(),
        worker_model: "demo-worker".into(),
        max_workers: 2,
        approve: ApprovalPolicy::Auto,
        limits: Limits::default(),
        complexity_threshold: 0.7,
        evaluate: false,
        evaluate_rounds: 1,
        workspace: None,
        read_only: false,
        allow_commands: false,
        role_dispatch: Default::default(),
    }
}

fn spec(id: u32, title: &str, role: &str, deps: &[u32]) -> SubtaskSpec {
    SubtaskSpec {
        id: SubtaskId(id),
        title: title.into(),
        description: format!("do {title}"),
        role: role.into(),
        priority: Priority::Normal,
        depends_on: deps.iter().map(|d| SubtaskId(*d)).collect(),
        expected_output: String::new(),
    }
}

fn report(text: &str) -> Report {
    Report {
        status: ReportStatus::Complete,
        results: text.into(),
        discoveries: vec![],
        recommendations: vec![],
        new_subtasks: vec![],
    }
}

/// A finished two-subtask run, one replan, one file change, a deliverable.
fn finished_run_events(run_id: &str) -> Vec<Event> {
    let usage = Usage {
        input_tokens: 1000,
        output_tokens: 200,
        ..Usage::default()
    };
    vec![
        Event::RunStarted {
            run_id: run_id.into(),
            task: "Add rate limiting | to the API".into(),
            settings: settings(),
        },
        Event::AnalysisCompleted {
            analysis: Analysis {
                complexity: 0.8,
                task_type: "feature".into(),
                known_requirements: vec![],
                unknowns: vec![],
                estimated_subtasks: 2,
                strategy: "map then build".into(),
            },
            first_subtasks: None,
        },
        Event::ModeChosen {
            mode: RunMode::Orchestrate,
            by: Actor::Policy,
        },
        Event::SubtaskAdded {
            spec: spec(1, "Map the API", "code_analyzer", &[]),
            origin: Origin::Analysis,
            needs_approval: false,
        },
        Event::SubtaskStarted {
            id: SubtaskId(1),
            attempt: 1,
            worker: WorkerId(1),
            role: "code_analyzer".into(),
            model: "demo-worker".into(),
            brief: "brief".into(),
            task_omitted: false,
        },
        Event::LlmUsage {
            purpose: CallPurpose::Worker {
                id: SubtaskId(1),
                attempt: 1,
            },
            model: "demo-worker".into(),
            usage,
            cost_usd: Some(0.01),
        },
        Event::SubtaskReported {
            id: SubtaskId(1),
            attempt: 1,
            output: "mapped".into(),
            report: report("Three endpoints"),
        },
        Event::SubtaskAdded {
            spec: spec(2, "Write the limiter", "code_developer", &[1]),
            origin: Origin::Discovered {
                from: SubtaskId(1),
                cycle: 1,
            },
            needs_approval: false,
        },
        Event::ReplanLogged {
            cycle: 1,
            covered: vec![SubtaskId(1)],
            summary: "Add the limiter after the map".into(),
            added: vec![SubtaskId(2)],
            updated: vec![],
            cancelled: vec![],
            scope_note: "as estimated".into(),
            estimate_before: 2,
            estimate_now: 2,
        },
        Event::SubtaskStarted {
            id: SubtaskId(2),
            attempt: 1,
            worker: WorkerId(1),
            role: "code_developer".into(),
            model: "demo-worker".into(),
            brief: "brief".into(),
            task_omitted: false,
        },
        Event::FileChanged {
            id: SubtaskId(2),
            path: "src/limit.rs".into(),
            before: None,
            after: Some("abc".into()),
            backup: None,
        },
        Event::SubtaskReported {
            id: SubtaskId(2),
            attempt: 1,
            output: "written".into(),
            report: report("Token bucket in src/limit.rs"),
        },
        Event::SynthesisCompleted {
            synthesis: Synthesis {
                deliverable: "Rate limiting is in place: a token bucket per client.".into(),
                integration_points: vec!["middleware wraps every route".into()],
                conflicts: vec!["naming of the config key reconciled".into()],
                coherence: "consistent".into(),
            },
            summary: ExecutionSummary {
                subtasks_total: 2,
                initial_estimate: 2,
                completed: 2,
                per_role: vec![("code_analyzer".into(), 1), ("code_developer".into(), 1)],
                replan_cycles: 1,
                elapsed_secs: 12.0,
                tokens: usage,
                cost_usd: Some(0.01),
                files_changed: vec!["src/limit.rs".into()],
                ..ExecutionSummary::default()
            },
        },
        Event::RunFinished {
            outcome: RunOutcome::Completed,
        },
    ]
}

fn write_run(home: &Path, run_id: &str, events: Vec<Event>) -> std::path::PathBuf {
    let dir = journal::runs_dir(&home.join("data")).join(run_id);
    let mut j = Journal::create(&dir).unwrap();
    for e in events {
        j.append(e).unwrap();
    }
    dir
}

fn state_of(events: Vec<Event>) -> State {
    let envs: Vec<Envelope> = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            seq: i as u64 + 1,
            ts: chrono::Utc::now(),
            v: JOURNAL_VERSION,
            event,
        })
        .collect();
    State::fold(&envs)
}

#[test]
fn markdown_has_every_section() {
    let md = render_markdown(&state_of(finished_run_events("r1")));
    for needle in [
        "# Baton run r1",
        "**Status:** complete",
        "## Task\n\nAdd rate limiting | to the API",
        "## Deliverable\n\nRate limiting is in place",
        "## Execution summary",
        "- Subtasks: 2 (initial estimate 2): 2 completed",
        "- Per role: code analyzer 1, code developer 1",
        "- Replan cycles: 1",
        "- Cost: $0.0100",
        "| id | title | role | status | attempts | tokens | cost |",
        "| #1 | Map the API | code analyzer | complete | 1 | 1200 | $0.0100 |",
        "| #2 | Write the limiter | code developer | complete | 1 | 0 | $0.0000 |",
        "### Cycle 1 (covered #1; estimate 2 → 2)",
        "- Added: #2 · updated: none · cancelled: none",
        "## Integration points\n\n- middleware wraps every route",
        "## Conflicts\n\n- naming of the config key reconciled",
        "| src/limit.rs | #2 | created |",
    ] {
        assert!(md.contains(needle), "missing `{needle}` in:\n{md}");
    }
}

#[test]
fn json_has_the_same_content_structured() {
    let v = render_json(&state_of(finished_run_events("r1")));
    assert_eq!(v["run_id"], "r1");
    assert_eq!(v["status"], "complete");
    assert_eq!(v["outcome"]["status"], "completed");
    assert_eq!(
        v["deliverable"],
        "Rate limiting is in place: a token bucket per client."
    );
    assert_eq!(v["summary"]["subtasks_total"], 2);
    assert_eq!(v["subtasks"].as_array().unwrap().len(), 2);
    assert_eq!(v["subtasks"][1]["depends_on"][0], 1);
    assert_eq!(v["subtasks"][1]["origin"], "discovered by #1 (replan 1)");
    assert_eq!(v["subtasks"][0]["result"], "Three endpoints");
    assert_eq!(v["replan_log"][0]["cycle"], 1);
    assert_eq!(v["integration_points"][0], "middleware wraps every route");
    assert_eq!(v["files_changed"][0]["path"], "src/limit.rs");
    assert_eq!(v["settings"]["provider"], "demo");
}

#[test]
fn export_command_writes_md_and_json() {
    let home = tempfile::tempdir().unwrap();
    write_run(
        home.path(),
        "20261126-100000-aaaa",
        finished_run_events("20261126-100000-aaaa"),
    );

    let o = baton(home.path())
        .args(["export", "latest"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let (md, _) = out(&o);
    assert!(md.starts_with("# Baton run 20261126-100000-aaaa"));
    assert!(md.contains("## Replan log"));

    let file = home.path().join("report.json");
    let o = baton(home.path())
        .args(["export", "20261126", "--format", "json", "-o"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(o.stdout.is_empty(), "-o writes nothing on stdout");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["summary"]["replan_cycles"], 1);
}

#[test]
fn unknown_or_ambiguous_runs_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args(["export", "latest"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).1.contains("no runs yet"));
    write_run(
        home.path(),
        "20261126-100000-aaaa",
        finished_run_events("a"),
    );
    write_run(
        home.path(),
        "20261126-110000-bbbb",
        finished_run_events("b"),
    );
    let o = baton(home.path())
        .args(["export", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).1.contains("no run matches"));
    let o = baton(home.path())
        .args(["export", "2026"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).1.contains("several runs"));
}

#[test]
fn a_torn_journal_still_exports_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let mut events = finished_run_events("t");
    events.truncate(7);
    let dir = write_run(home.path(), "20261126-100000-torn", events);
    let path = dir.join(journal::JOURNAL_FILE);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"seq\":8,\"ts\":\"2026-11-26T10:00:00Z\",\"v\":1,\"type\":\"subt");
    std::fs::write(&path, text).unwrap();
    let o = baton(home.path())
        .args(["export", "latest"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (md, err) = out(&o);
    assert!(err.contains("incomplete"), "{err}");
    assert!(md.contains("not finished"), "{md}");
    assert!(md.contains("No synthesis yet"));
}

#[test]
fn runs_lists_newest_first_with_aligned_columns() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path()).arg("runs").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).0.starts_with("no runs yet"));

    write_run(
        home.path(),
        "20261126-100000-aaaa",
        finished_run_events("a"),
    );
    let mut unfinished = finished_run_events("b");
    unfinished.truncate(4);
    write_run(home.path(), "20261126-110000-bbbb", unfinished);
    let o = baton(home.path()).arg("runs").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (table, _) = out(&o);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("ID"));
    assert!(lines[1].starts_with("20261126-110000-bbbb") && lines[1].contains("unfinished"));
    assert!(lines[2].starts_with("20261126-100000-aaaa") && lines[2].contains("completed"));
    assert!(lines[2].contains("$0.01") && lines[2].contains("Add rate limiting"));
    let col = lines[0].find("STATUS").unwrap();
    assert!(lines[1][col..].starts_with("unfinished") && lines[2][col..].starts_with("completed"));
}
