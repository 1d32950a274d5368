//! Worktree isolation (`isolation = "worktree"`) on a real git repository, with the
//! workers' tool calls scripted at the fake LLM server: two writing workers on different
//! files merge cleanly into `baton/<run id>`; on the same file the second merge conflicts
//! and goes to a recovery decision that is shown the hunks (or, with `merge_conflicts =
//! "person"`, to the person); a stopped run resumes in its worktrees; `accept` merges the
//! run's branch (the binary's side: git_worktree_cli.rs). Throughout, the person's working
//! tree, HEAD and branch stay as they were.
//!
//! Real time (git is a real process); no network beyond 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use baton::engine::merge::Worktrees;
use baton::engine::{EngineConfig, Start};
use baton::isolation::{self, ConflictPolicy, RunWorktrees};
use baton::llm::ProviderKind;
use baton::protocol::model::*;
use baton::protocol::*;
use baton::session::build_provider;
use baton::tools::{WorkerTools, Workspace, WorkspaceOptions};
use engine_common::{Finished, check_consistent, config, drive, settings};
use support::{FakeLlm, RecordedRequest, Reply, ScriptedResponse};

const MERGED: &str = "from A\nfrom B\n";

/// `git ARGS` in `dir` for the test's own checks (its own identity, no global config).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Process::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@localhost"])
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A repository on branch `main` with one commit, plus an uncommitted edit of the person's.
pub fn repo(tmp: &Path) -> PathBuf {
    let dir = tmp.join("project");
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("README.md"), "# project\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "committed\n").unwrap();
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "init"]);
    std::fs::write(
        dir.join("notes.txt"),
        "the person's own edit, not committed\n",
    )
    .unwrap();
    dir
}

/// What the person sees of their repository: HEAD, branch, status, and every file's bytes.
pub fn person_view(dir: &Path) -> (String, String, String, Vec<(String, Vec<u8>)>) {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    (
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["symbolic-ref", "--short", "HEAD"]),
        git(dir, &["status", "--porcelain"]),
        files,
    )
}

/// The engine config of a worktree run: the run's worktree from `RunWorktrees`, workers'
/// tools opened in their own worktrees.
pub fn isolated(repo: &Path, run_dir: &Path, run_id: &str, policy: ConflictPolicy) -> EngineConfig {
    let trees = RunWorktrees::prepare(repo, run_dir, run_id).unwrap();
    let options = WorkspaceOptions::new(run_dir);
    let run_ws = Workspace::open(&trees.run_tree().root, options.clone()).unwrap();
    let mut s = settings(ApprovalPolicy::Auto, 2);
    s.workspace = Some(repo.display().to_string());
    let mut cfg = config(run_dir, s);
    cfg.tools = Some(Arc::new(run_ws) as Arc<dyn WorkerTools>);
    cfg.isolation = Some(Arc::new(Worktrees::new(
        trees,
        policy,
        Worktrees::workspace_tools(options, None),
    )));
    cfg
}

fn tool(name: &str, args: Value) -> ScriptedResponse {
    Reply::new()
        .tool(&format!("toolu_{name}"), name, args)
        .usage(100, 20)
        .anthropic()
}

/// All the text of a request (system prompt aside).
fn text_of(req: &RecordedRequest) -> String {
    serde_json::to_string(&req.messages()).unwrap()
}

/// The fake model: two developers, "Write A" and "Write B", each writing one file (its own,
/// or the same `shared.txt` when `same_file`, where a retried attempt reads the file and
/// writes both lines). Recovery decides `retry`.
pub fn responder(same_file: bool) -> impl Fn(&RecordedRequest) -> ScriptedResponse {
    responder_held(same_file, Arc::new(AtomicBool::new(false)))
}

/// As [`responder`]; while `hold` is set, workers get no answer (for a minute), so a run
/// stopped meanwhile has every worker interrupted.
fn responder_held(
    same_file: bool,
    hold: Arc<AtomicBool>,
) -> impl Fn(&RecordedRequest) -> ScriptedResponse {
    move |req| match req.forced_tool() {
        Some(SUBMIT_ANALYSIS) => tool(
            SUBMIT_ANALYSIS,
            json!({"complexity": 0.9, "task_type": "code change",
            "known_requirements": [], "unknowns": [], "estimated_subtasks": 2,
            "strategy": "two developers in parallel",
            "subtasks": [
                {"title": "Write A", "description": "write the A part", "role": "code_developer",
                 "depends_on": [], "priority": "normal", "expected_output": "a file"},
                {"title": "Write B", "description": "write the B part", "role": "code_developer",
                 "depends_on": [], "priority": "normal", "expected_output": "a file"}
            ]}),
        ),
        Some(SUBMIT_REPLAN) => tool(
            SUBMIT_REPLAN,
            json!({"summary": "on track", "add": [], "update": [], "cancel": [],
                   "scope_note": "as estimated"}),
        ),
        Some(ASSESS_COMPLETION) => {
            tool(ASSESS_COMPLETION, json!({"complete": true, "missing": []}))
        }
        Some(SUBMIT_SYNTHESIS) => tool(
            SUBMIT_SYNTHESIS,
            json!({"deliverable": "done", "integration_points": [], "conflicts": [],
                   "coherence": "ok"}),
        ),
        Some(DECIDE_RECOVERY) => tool(
            DECIDE_RECOVERY,
            json!({"action": "retry", "rationale": "redo it on the merged work",
                   "impact": "one more attempt"}),
        ),
        _ if hold.load(Ordering::SeqCst) => {
            worker(req, same_file).first_byte_delay(Duration::from_secs(60))
        }
        _ => worker(req, same_file),
    }
}

fn worker(req: &RecordedRequest, same_file: bool) -> ScriptedResponse {
    let brief = req.first_text();
    let letter = if brief.contains("Write A") { "A" } else { "B" };
    let path = if same_file {
        "shared.txt".to_string()
    } else {
        format!("new_{}.txt", letter.to_lowercase())
    };
    let step = req.messages().len().saturating_sub(1) / 2;
    let report = || {
        tool(
            SUBMIT_REPORT,
            json!({"status": "complete", "results": format!("wrote {path}"),
                   "discoveries": [], "recommendations": [], "new_subtasks": []}),
        )
    };
    if same_file && brief.contains("This is attempt 2") {
        return match step {
            0 => tool("read_file", json!({"path": path})),
            1 => tool("write_file", json!({"path": path, "content": MERGED})),
            _ => report(),
        };
    }
    match step {
        0 => tool(
            "write_file",
            json!({"path": path, "content": format!("from {letter}\n")}),
        ),
        _ => report(),
    }
}

pub async fn run(cfg: EngineConfig, server: &FakeLlm, run_id: &str) -> Finished {
    let provider = build_provider(&server.settings(ProviderKind::Anthropic)).unwrap();
    drive(
        cfg,
        provider,
        Start::New {
            run_id: run_id.into(),
            task: "Write the A and B parts".into(),
        },
        |_, _| vec![],
    )
    .await
}

pub fn merges(f: &Finished) -> Vec<(SubtaskId, bool, Vec<String>)> {
    f.of(|e| matches!(e, Event::BranchMerged { .. }))
        .map(|e| match e {
            Event::BranchMerged {
                id,
                fast_forward,
                files,
                ..
            } => (*id, *fast_forward, files.clone()),
            _ => unreachable!(),
        })
        .collect()
}

/// `(subtask, attempt, base, created)` of each worker worktree made ready.
fn trees(f: &Finished) -> Vec<(SubtaskId, u32, String, bool)> {
    f.of(|e| matches!(e, Event::WorktreeCreated { id: Some(_), .. }))
        .map(|e| match e {
            Event::WorktreeCreated {
                id: Some(id),
                attempt,
                base,
                created,
                ..
            } => (*id, *attempt, base.clone(), *created),
            _ => unreachable!(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_different_files_merge_cleanly_and_the_person_s_tree_is_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let run_dir = tmp.path().join("run");
    let before = person_view(&repo);
    let head = before.0.trim().to_string();
    let server = FakeLlm::with_responder(responder(false)).await;

    let cfg = isolated(&repo, &run_dir, "r1", ConflictPolicy::Recover);
    let f = run(cfg, &server, "r1").await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);

    // The run's worktree, then one per writer, both from the person's HEAD, outside the
    // workspace.
    let run_tree = f.state.git.run_branch.clone().unwrap();
    assert_eq!(run_tree.0, "baton/r1");
    assert!(Path::new(&run_tree.1).starts_with(&run_dir), "{run_tree:?}");
    let made = trees(&f);
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(
        made.iter()
            .all(|(_, a, base, created)| *a == 1 && *base == head && *created)
    );
    // Both merged: the first fast-forwards, the second is a real merge.
    let mut m = merges(&f);
    m.sort_by_key(|(id, _, _)| *id);
    let files: Vec<&Vec<String>> = m.iter().map(|(_, _, f)| f).collect();
    assert_eq!(
        files,
        [
            &vec!["new_a.txt".to_string()],
            &vec!["new_b.txt".to_string()]
        ]
    );
    let ff: Vec<bool> = merges(&f).iter().map(|(_, ff, _)| *ff).collect();
    assert_eq!(ff, [true, false]);
    assert_eq!(git(&repo, &["show", "baton/r1:new_a.txt"]), "from A\n");
    assert_eq!(git(&repo, &["show", "baton/r1:new_b.txt"]), "from B\n");
    assert_eq!(git(&repo, &["show", "baton/r1:notes.txt"]), "committed\n");

    // The person's tree, HEAD and branch are as they were; the summary says how to accept.
    assert_eq!(person_view(&repo), before);
    let notice = f
        .state
        .notices
        .iter()
        .find(|n| n.contains("git merge baton/r1"))
        .unwrap_or_else(|| panic!("{:?}", f.state.notices));
    assert!(notice.contains("baton accept r1"), "{notice}");

    // Rolling back #1 of the finished run reverts its merge on the run branch (journaled);
    // the person's tree is still untouched.
    let a = m.iter().find(|(_, _, f)| f[0] == "new_a.txt").unwrap().0;
    let (mut finished, interrupted) = baton::engine::finished::FinishedRun::open(&run_dir).unwrap();
    assert!(interrupted.is_none());
    finished.rollback(a).unwrap();
    let env = finished.journaled().last().unwrap().clone();
    assert_eq!(
        env.event,
        Event::SubtaskRolledBack {
            id: a,
            files: vec!["new_a.txt".into()],
            by: Actor::Person
        }
    );
    let listed = git(&repo, &["ls-tree", "--name-only", "baton/r1"]);
    assert!(
        !listed.contains("new_a.txt") && listed.contains("new_b.txt"),
        "{listed}"
    );
    assert_eq!(person_view(&repo), before);

    // Accepting merges the run's branch into `main` and removes the worktrees.
    let done = isolation::accept(&repo, &run_dir, "r1").unwrap();
    assert_eq!((done.into.as_str(), done.removed), ("main", 3));
    assert!(!repo.join("new_a.txt").exists());
    assert_eq!(
        std::fs::read_to_string(repo.join("new_b.txt")).unwrap(),
        "from B\n"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("notes.txt")).unwrap(),
        "the person's own edit, not committed\n"
    );
    assert!(!Path::new(&run_tree.1).exists());
    assert_eq!(git(&repo, &["branch", "--list", "baton-work/*"]), "");
    assert_eq!(git(&repo, &["symbolic-ref", "--short", "HEAD"]), "main\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_conflicts_and_recovery_is_shown_the_hunks_then_retries_on_the_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let run_dir = tmp.path().join("run");
    let before = person_view(&repo);
    let server = FakeLlm::with_responder(responder(true)).await;

    let cfg = isolated(&repo, &run_dir, "r2", ConflictPolicy::Recover);
    let f = run(cfg, &server, "r2").await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);

    // One merge went in; the other conflicted, was aborted and failed with the hunks.
    let conflicts: Vec<&Event> = f
        .of(|e| matches!(e, Event::MergeConflicted { .. }))
        .collect();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let Event::MergeConflicted {
        id: loser,
        attempt: 1,
        files,
        hunks,
        ..
    } = conflicts[0]
    else {
        panic!("{:?}", conflicts[0])
    };
    assert_eq!(files, &vec!["shared.txt".to_string()]);
    assert!(
        hunks.contains("<<<<<<<") && hunks.contains(">>>>>>>"),
        "{hunks}"
    );
    assert!(
        hunks.contains("from A") && hunks.contains("from B"),
        "{hunks}"
    );
    let failed = f
        .of(|e| matches!(e, Event::SubtaskFailed { id, .. } if id == loser))
        .next()
        .unwrap();
    let Event::SubtaskFailed { error, .. } = failed else {
        unreachable!()
    };
    assert!(
        error.contains("shared.txt") && error.contains("<<<<<<<"),
        "{error}"
    );

    // The orchestrator's recovery call carried the conflicting file and hunks.
    let recovery = server
        .requests()
        .into_iter()
        .find(|r| r.forced_tool() == Some(DECIDE_RECOVERY))
        .expect("a recovery decision was asked for");
    let asked = text_of(&recovery);
    assert!(
        asked.contains("shared.txt") && asked.contains("<<<<<<<"),
        "{asked}"
    );

    // The retry reused the loser's worktree, reset to the run branch with the winner's
    // merge, and its merge went in.
    let first_merge = f
        .of(|e| matches!(e, Event::BranchMerged { .. }))
        .find_map(|e| match e {
            Event::BranchMerged { after, .. } => Some(after.clone()),
            _ => None,
        })
        .unwrap();
    let retry = trees(&f)
        .into_iter()
        .find(|(id, attempt, _, _)| id == loser && *attempt == 2)
        .unwrap();
    assert_eq!((retry.2.as_str(), retry.3), (first_merge.as_str(), false));
    assert_eq!(merges(&f).len(), 2);
    assert_eq!(git(&repo, &["show", "baton/r2:shared.txt"]), MERGED);
    assert_eq!(person_view(&repo), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_merge_conflicts_person_the_conflict_goes_to_the_person_with_the_hunks() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let run_dir = tmp.path().join("run");
    let before = person_view(&repo);
    let server = FakeLlm::with_responder(responder(true)).await;

    let mut cfg = isolated(&repo, &run_dir, "r3", ConflictPolicy::Person);
    cfg.stop_when_person_needed = true;
    let f = run(cfg, &server, "r3").await;
    check_consistent(&f);
    let RunOutcome::Stopped { reason } = &f.outcome else {
        panic!("{:?}", f.outcome)
    };
    let loser = f
        .of(|e| matches!(e, Event::MergeConflicted { .. }))
        .find_map(|e| match e {
            Event::MergeConflicted { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap();
    assert!(
        reason.contains(&format!("escalated subtask {loser}")),
        "{reason}"
    );
    let s = f.state.subtask(loser).unwrap();
    let shown = s.escalation.clone().unwrap();
    assert!(shown.starts_with("merge conflict:"), "{shown}");
    assert!(
        shown.contains("shared.txt") && shown.contains("<<<<<<<"),
        "{shown}"
    );
    // No recovery decision was asked of the model; the run branch holds the winner only.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.forced_tool() != Some(DECIDE_RECOVERY))
    );
    assert_eq!(merges(&f).len(), 1);
    assert_eq!(person_view(&repo), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worktree_run_resumes_in_its_worktrees_and_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repo(tmp.path());
    let run_dir = tmp.path().join("run");
    let before = person_view(&repo);
    let hold = Arc::new(AtomicBool::new(true));
    let server = FakeLlm::with_responder(responder_held(false, hold.clone())).await;
    let provider = build_provider(&server.settings(ProviderKind::Anthropic)).unwrap();

    // Stop once both writers have their worktrees (their model calls are held back).
    let cfg = isolated(&repo, &run_dir, "r4", ConflictPolicy::Recover);
    let mut prepared = 0;
    let stopped = drive(
        cfg,
        provider.clone(),
        Start::New {
            run_id: "r4".into(),
            task: "Write the A and B parts".into(),
        },
        move |e, _| match &e.event {
            Event::WorktreeCreated { id: Some(_), .. } => {
                prepared += 1;
                if prepared == 2 {
                    vec![Command::StopForSignal {
                        signal: "SIGTERM".into(),
                    }]
                } else {
                    vec![]
                }
            }
            _ => vec![],
        },
    )
    .await;
    assert!(
        matches!(stopped.outcome, RunOutcome::Stopped { .. }),
        "{:?}",
        stopped.outcome
    );
    let trees_before = trees(&stopped);
    assert_eq!(trees_before.len(), 2);
    assert!(merges(&stopped).is_empty());
    hold.store(false, Ordering::SeqCst);

    // Resume: the same worktrees are found again (nothing is created for the run).
    let cfg = isolated(&repo, &run_dir, "r4", ConflictPolicy::Recover);
    assert!(!cfg.isolation.as_ref().unwrap().trees.run_tree().created);
    let replay = baton::journal::replay(&run_dir.join(baton::journal::JOURNAL_FILE)).unwrap();
    let resumed = drive(
        cfg,
        provider,
        Start::Resume {
            events: replay.events,
            torn_line_dropped: false,
        },
        |_, _| vec![],
    )
    .await;
    assert_eq!(
        resumed.outcome,
        RunOutcome::Completed,
        "{:?}",
        resumed.state.notices
    );
    check_consistent(&resumed);
    assert_eq!(
        resumed
            .of(|e| matches!(e, Event::WorktreeCreated { id: None, .. }))
            .count(),
        1,
        "the run's worktree is journaled once"
    );
    // Both writers were interrupted and ran again in the worktrees they had.
    let interrupted = resumed
        .of(|e| matches!(e, Event::RunResumed { .. }))
        .find_map(|e| match e {
            Event::RunResumed { interrupted, .. } => Some(interrupted.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(interrupted, vec![SubtaskId(1), SubtaskId(2)]);
    let mut after: Vec<_> = trees(&resumed)
        .into_iter()
        .skip(trees_before.len())
        .map(|(id, attempt, _, created)| (id, attempt, created))
        .collect();
    after.sort();
    assert_eq!(
        after,
        vec![(SubtaskId(1), 2, false), (SubtaskId(2), 2, false)]
    );
    assert_eq!(merges(&resumed).len(), 2);
    assert_eq!(git(&repo, &["show", "baton/r4:new_a.txt"]), "from A\n");
    assert_eq!(git(&repo, &["show", "baton/r4:new_b.txt"]), "from B\n");
    assert_eq!(person_view(&repo), before);
}
