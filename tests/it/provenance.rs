//! Provenance, fork and compare (issue 11, capabilities 5 and 6): `baton export --format
//! json` answers "who decided what, and what did each part cost" for a journal with person,
//! policy and orchestrator decisions (written here event by event) and for a real demo run
//! a person finished; `baton fork --at dN` of that run, then `baton compare` (text, --json).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use baton::export::provenance;
use baton::journal::{self, Journal};
use baton::protocol::*;
use baton::state::State;

fn baton(home: &Path) -> Command {
    let config = home.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "[demo]\npace_ms = 0\n").unwrap();
    }
    let mut c = Command::new(crate::support_cli::bin());
    c.env("BATON_HOME", home);
    for var in baton::config::ENV_VARS
        .iter()
        .filter(|v| **v != "BATON_HOME")
    {
        c.env_remove(var);
    }
    c
}

fn out(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn spec(id: u32, title: &str, role: &str) -> SubtaskSpec {
    SubtaskSpec {
        id: SubtaskId(id),
        title: title.into(),
        description: format!("do {title}"),
        role: role.into(),
        priority: Priority::Normal,
        depends_on: vec![],
        expected_output: String::new(),
    }
}

fn started(id: u32, attempt: u32, role: &str, model: &str) -> Event {
    Event::SubtaskStarted {
        id: SubtaskId(id),
        attempt,
        worker: WorkerId(attempt),
        role: role.into(),
        model: model.into(),
        brief: "brief".into(),
        task_omitted: false,
    }
}

fn usage(id: u32, attempt: u32, cost: f64) -> Event {
    Event::LlmUsage {
        purpose: CallPurpose::Worker {
            id: SubtaskId(id),
            attempt,
        },
        model: "w".into(),
        usage: Usage {
            input_tokens: 100,
            output_tokens: 50,
            ..Usage::default()
        },
        cost_usd: Some(cost),
    }
}

fn reported(id: u32, results: &str) -> Event {
    Event::SubtaskReported {
        id: SubtaskId(id),
        attempt: 1,
        output: results.into(),
        report: Report {
            status: ReportStatus::Complete,
            results: results.into(),
            discoveries: vec![],
            recommendations: vec![],
            new_subtasks: vec![],
        },
    }
}

/// A run with decisions by a person, the policy, the orchestrator and the engine.
fn decided_run(run_id: &str) -> Vec<Event> {
    vec![
        Event::RunStarted {
            run_id: run_id.into(),
            task: "Add rate limiting".into(),
            settings: RunSettings {
                provider: "demo".into(),
                base_url: String::new(),
                orchestrator_model: "o".into(),
                worker_model: "w".into(),
                max_workers: 2,
                approve: ApprovalPolicy::All,
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
        Event::ModeChosen {
            mode: RunMode::Orchestrate,
            by: Actor::Policy,
        },
        Event::SubtaskAdded {
            spec: spec(1, "Map the endpoints", "code_analyzer"),
            origin: Origin::Analysis,
            needs_approval: true,
        },
        Event::SubtaskApproved {
            id: SubtaskId(1),
            by: Actor::Person,
        },
        started(1, 1, "code_analyzer", "small-model"),
        usage(1, 1, 0.02),
        Event::SubtaskFailed {
            id: SubtaskId(1),
            attempt: 1,
            error: "timeout".into(),
        },
        Event::SubtaskEscalated {
            id: SubtaskId(1),
            reason: "keeps timing out".into(),
            by: Actor::Orchestrator,
        },
        Event::EscalationResolved {
            id: SubtaskId(1),
            resolution: Resolution::Reassign {
                role: "researcher".into(),
                guidance: "Only the public endpoints".into(),
            },
            by: Actor::Person,
        },
        started(1, 2, "researcher", "big-model"),
        usage(1, 2, 0.05),
        reported(1, "The public endpoints: orders, invoices, customers"),
        Event::SubtaskAdded {
            spec: spec(2, "Write the limiter", "code_developer"),
            origin: Origin::Person,
            needs_approval: false,
        },
        Event::SubtaskRejected {
            title: "Rewrite everything".into(),
            reason: "over the subtask limit".into(),
        },
        Event::ScopeAlertRaised {
            alert: 1,
            limit: LimitKind::Cost,
            current: 0.07,
            max: 0.05,
            pending: vec![SubtaskId(2)],
        },
        Event::ScopeAlertResolved {
            alert: 1,
            decision: ScopeDecision::RaiseLimit { to: 1.0 },
            by: Actor::Policy,
        },
        started(2, 1, "code_developer", "small-model"),
        usage(2, 1, 0.03),
        Event::FileChanged {
            id: SubtaskId(2),
            path: "src/limit.rs".into(),
            before: None,
            after: Some("ab".into()),
            backup: None,
        },
        reported(2, "A token bucket limiter in src/limit.rs"),
        Event::LlmUsage {
            purpose: CallPurpose::Synthesis,
            model: "o".into(),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 5,
                ..Usage::default()
            },
            cost_usd: Some(0.01),
        },
        Event::SynthesisCompleted {
            synthesis: Synthesis {
                deliverable: "# Limits\n\nThe limiter (#2) guards every route.\n\n\
                    ## Endpoints\n\nThe public endpoints are orders, invoices and customers."
                    .into(),
                integration_points: vec![],
                conflicts: vec![],
                coherence: String::new(),
            },
            summary: ExecutionSummary::default(),
        },
        Event::RunFinished {
            outcome: RunOutcome::Completed,
        },
    ]
}

fn write_run(home: &Path, run_id: &str, events: Vec<Event>) -> Vec<Envelope> {
    let dir = journal::runs_dir(&home.join("data")).join(run_id);
    let mut j = Journal::create(&dir).unwrap();
    events.into_iter().map(|e| j.append(e).unwrap()).collect()
}

#[test]
fn export_json_says_who_decided_what_and_what_each_part_cost() {
    let home = tempfile::tempdir().unwrap();
    let envelopes = write_run(home.path(), "20261130-010000-aaaa", decided_run("r"));
    let o = baton(home.path())
        .args(["export", "latest", "--format", "json"])
        .output()
        .unwrap();
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let p = &v["provenance"];
    let decisions = p["decisions"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = decisions
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("mode", "policy"),
            ("add", "orchestrator"),
            ("approve", "person"),
            ("escalate", "orchestrator"),
            ("resolve", "person"),
            ("add", "person"),
            ("reject", "engine"),
            ("scope", "policy"),
        ]
    );
    // When: the journal's time of the event, and its sequence number.
    let resolve = &decisions[4];
    assert_eq!(resolve["n"], 5);
    assert_eq!(resolve["seq"], 9);
    assert_eq!(
        resolve["at"],
        serde_json::to_value(envelopes[8].ts).unwrap()
    );
    assert_eq!(resolve["subtask"], 1);
    let detail = resolve["detail"].as_str().unwrap();
    assert!(
        detail.contains("researcher") && detail.contains("Only the public endpoints"),
        "{detail}"
    );

    // What each part cost: per subtask role, models of each attempt, tokens, cost, files.
    let s1 = &p["subtasks"][0];
    assert_eq!(s1["role"], "researcher");
    assert_eq!(s1["added_by"], "orchestrator");
    let attempts: Vec<(&str, &str)> = s1["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["role"].as_str().unwrap(), a["model"].as_str().unwrap()))
        .collect();
    assert_eq!(
        attempts,
        [
            ("code_analyzer", "small-model"),
            ("researcher", "big-model")
        ]
    );
    assert!((s1["cost_usd"].as_f64().unwrap() - 0.07).abs() < 1e-9);
    assert_eq!(s1["tokens"]["input_tokens"], 200);
    assert_eq!(s1["decisions"], serde_json::json!([2, 3, 4, 5]));
    let s2 = &p["subtasks"][1];
    assert_eq!(s2["added_by"], "person");
    assert_eq!(s2["files_changed"], serde_json::json!(["src/limit.rs"]));
    assert!((s2["cost_usd"].as_f64().unwrap() - 0.03).abs() < 1e-9);
    assert!((p["orchestration_cost_usd"].as_f64().unwrap() - 0.01).abs() < 1e-9);
    assert_eq!(p["orchestration_tokens"]["input_tokens"], 10);
}

#[test]
fn export_md_has_a_provenance_table_and_footnotes_from_sections_to_subtasks() {
    let home = tempfile::tempdir().unwrap();
    write_run(home.path(), "20261130-010000-aaaa", decided_run("r"));
    let o = baton(home.path())
        .args(["export", "latest"])
        .output()
        .unwrap();
    let (md, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(md.contains("## Provenance"), "{md}");
    assert!(
        md.contains("| 1 | Map the endpoints | orchestrator | researcher | small-model, big-model | 2 | 300 | $0.0700 | 0 | d2 d3 d4 d5 |"),
        "{md}"
    );
    assert!(md.contains("| d5 | 9 |"), "{md}");
    assert!(md.contains("| person | resolve | 1 |"), "{md}");
    // `# Limits` names #2; `## Endpoints` shares words with #1's report.
    let limits = md.find("# Limits").unwrap();
    let endpoints = md.find("## Endpoints").unwrap();
    assert!(md[limits..endpoints].contains("_Sources:_ [^t2]"), "{md}");
    assert!(md[endpoints..].contains("_Sources:_ [^t1]"), "{md}");
    assert!(
        md.contains(
            "[^t1]: #1 Map the endpoints (researcher, small-model, big-model, 2 attempts, $0.0700)"
        ),
        "{md}"
    );
}

#[test]
fn a_decision_fork_point_is_just_before_the_decision() {
    let envelopes: Vec<Envelope> = decided_run("r")
        .into_iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            seq: i as u64 + 1,
            ts: chrono::Utc::now(),
            v: JOURNAL_VERSION,
            event,
        })
        .collect();
    use baton::export::fork::{ForkPoint, cut_seq};
    assert_eq!(cut_seq(&envelopes, ForkPoint::Decision(5)), Ok(8));
    assert_eq!(cut_seq(&envelopes, ForkPoint::Seq(3)), Ok(3));
    assert!(cut_seq(&envelopes, ForkPoint::Decision(9)).is_err());
    assert!(cut_seq(&envelopes, ForkPoint::Seq(99)).is_err());
    let ds = provenance::decisions(&envelopes);
    assert_eq!(ds.len(), 8);
    assert_eq!(ds[2].by, Actor::Person);
}

/// Plays the person: resumes the stopped run in-process, approves what waits and answers
/// escalations with guidance until the run ends.
async fn finish_as_a_person(home: &Path) {
    use baton::cli::CommonArgs;
    use baton::config::{Config, Env};
    use baton::protocol::Command as EngineCommand;
    use baton::session::{self, FrontEnd, Launch};
    use baton::state::NeedsPerson;

    let env = Env::from_pairs([("BATON_HOME", home.display().to_string())]);
    let config = Config::load_with(&CommonArgs::default(), &env).unwrap();
    let launch = Launch::Resume {
        run: "latest".into(),
    };
    let mut s = session::start(&config, launch, FrontEnd::Tui).unwrap();
    let mut state = State::default();
    let mut answered = Vec::new();
    let run = async {
        while let Some(e) = s.handle.events.recv().await {
            baton::state::apply(&mut state, &e);
            if e.seq <= s.replayed_up_to {
                continue;
            }
            for need in state.needs_person() {
                let command = match need {
                    NeedsPerson::Approval(id) => EngineCommand::Approve { id },
                    NeedsPerson::Escalation(id) => {
                        let key = (id, state.subtask(id).map(|t| t.attempts));
                        if answered.contains(&key) {
                            continue;
                        }
                        answered.push(key);
                        let guidance = "Records expire after 30 days.".into();
                        EngineCommand::Resolve {
                            id,
                            resolution: Resolution::Retry { guidance },
                        }
                    }
                    _ => continue,
                };
                s.handle.commands.send(command).await.unwrap();
            }
            if let Event::RunFinished { outcome } = &e.event {
                assert_eq!(outcome, &RunOutcome::Completed, "{:?}", state.notices);
                break;
            }
        }
    };
    // A safety net against a hung engine, not a wait for something.
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the run finishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_a_person_finished_forks_at_a_decision_and_compares_with_the_fork() {
    let home = tempfile::tempdir().unwrap();
    let o = baton(home.path())
        .args([
            "--headless",
            "--approve",
            "scope",
            "Add rate limiting to the API",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", out(&o).1);
    finish_as_a_person(home.path()).await;
    let parent = journal::list_runs(&home.path().join("data")).unwrap()[0]
        .id
        .clone();

    let o = baton(home.path())
        .args(["export", &parent, "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let decisions = v["provenance"]["decisions"].as_array().unwrap().clone();
    let person: Vec<&serde_json::Value> =
        decisions.iter().filter(|d| d["by"] == "person").collect();
    assert!(
        person.iter().any(|d| d["kind"] == "approve"),
        "{decisions:#?}"
    );
    let resolve = person
        .iter()
        .find(|d| d["kind"] == "resolve")
        .expect("the person resolved the escalation");
    assert!(resolve["detail"].as_str().unwrap().contains("30 days"));
    let n = resolve["n"].as_u64().unwrap();
    let seq = resolve["seq"].as_u64().unwrap();
    for s in v["provenance"]["subtasks"].as_array().unwrap() {
        if s["status"] == "complete" {
            assert!(!s["attempts"].as_array().unwrap().is_empty(), "{s}");
            assert_eq!(s["attempts"][0]["model"], "demo-worker");
        }
    }

    // Fork just before the person's resolution; headless with another policy.
    let o = baton(home.path())
        .args(["fork", &parent, "--at", &format!("d{n}"), "--headless"])
        .args(["--approve", "auto", "--max-workers", "1"])
        .output()
        .unwrap();
    let (_, stderr) = out(&o);
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "the fork runs on: {stderr}"
    );
    let runs = journal::list_runs(&home.path().join("data")).unwrap();
    assert_eq!(runs.len(), 2);
    // Two runs started in the same second sort by their random suffix: pick by id.
    let fork_run = runs.iter().find(|r| r.id != parent).unwrap();
    let fork = fork_run.id.clone();
    assert!(
        stderr.contains(&format!(
            "forked run {parent} at event {} as run {fork}",
            seq - 1
        )),
        "{stderr}"
    );
    let replay = journal::replay(&fork_run.dir.join(journal::JOURNAL_FILE)).unwrap();
    let Event::RunStarted {
        run_id, settings, ..
    } = &replay.events[0].event
    else {
        panic!("a fork starts with run_started");
    };
    assert_eq!(run_id, &fork);
    assert_eq!(
        settings.approve,
        ApprovalPolicy::Scope,
        "the prefix is the parent's"
    );
    assert_eq!(replay.events[seq as usize - 1].seq, seq);
    assert_eq!(
        replay.events[seq as usize - 1].event,
        Event::RunForked {
            parent_run: parent.clone(),
            parent_seq: seq - 1
        }
    );
    let state = State::fold(&replay.events);
    assert_eq!(state.forked_from, Some((parent.clone(), seq - 1)));
    assert_eq!(state.max_workers, 1, "the fork's flags apply");
    // The person's resolution is not in the fork: it was decided again.
    assert!(
        !provenance::decisions(&replay.events)
            .iter()
            .any(|d| d.seq == seq && d.by == Actor::Person && d.kind == "resolve")
    );

    let o = baton(home.path())
        .args(["compare", &parent, &fork])
        .output()
        .unwrap();
    let (text, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        text.contains(&format!("The runs share their first {} events", seq - 1)),
        "{text}"
    );
    for row in [
        "run ",
        "outcome ",
        "subtasks ",
        "cost ",
        "time ",
        "decisions ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(row)),
            "no `{row}` row: {text}"
        );
    }
    assert!(text.contains(&parent) && text.contains(&fork), "{text}");
    assert!(text.contains(&format!("A d{n:<3} person")), "{text}");

    let o = baton(home.path())
        .args(["compare", &parent, &fork, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["a"]["run_id"], parent.as_str());
    assert_eq!(c["b"]["run_id"], fork.as_str());
    assert_eq!(c["shared_prefix"], seq - 1);
    assert_eq!(c["a"]["status"], "complete");
    assert_eq!(c["b"]["forked_from"], serde_json::json!([parent, seq - 1]));
    assert!(c["subtasks"].as_array().unwrap().len() >= 6);
    assert!(c["a"]["decisions_by"][0][1].as_u64().unwrap() >= 2);
}

#[test]
fn fork_and_compare_name_their_mistakes() {
    let home = tempfile::tempdir().unwrap();
    write_run(home.path(), "20261130-010000-aaaa", decided_run("r"));
    let o = baton(home.path())
        .args(["fork", "latest", "--at", "d99", "--headless"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).1.contains("the run has 8 decisions"),
        "{}",
        out(&o).1
    );
    let o = baton(home.path())
        .args(["fork", "latest", "--at", "soon", "--headless"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = baton(home.path())
        .args(["compare", "latest", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        journal::list_runs(&home.path().join("data")).unwrap().len(),
        1
    );
}
