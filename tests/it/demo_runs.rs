//! Whole demo runs: scripted runs driven by a small simulator of the engine's loop (showcase,
//! software, research), and the real engine on the showcase (with and without the evaluator).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::demo_support;
use crate::engine_common;

use baton::demo::DemoProvider;
use baton::protocol::model::*;
use baton::protocol::{Event, Priority, ProposedSubtask, Report, ReportStatus, RunOutcome};
use baton::state::SubtaskStatus;
use demo_support::*;
use engine_common::check_consistent;

// ---- a whole run, driven by a small simulator of the engine's loop ------------------------------

struct SimSubtask {
    id: u32,
    title: String,
    role: String,
    priority: Priority,
    deps: Vec<u32>,
    status: String,
    results: Option<String>,
    attempts: u32,
    guidance: Option<String>,
}

struct Sim {
    p: DemoProvider,
    task: String,
    subtasks: Vec<SimSubtask>,
    initial: u32,
    cycle: u32,
    escalations: Vec<String>,
    calls: u32,
}

impl Sim {
    fn resolve(&self, reference: &str, batch_ids: &[(String, u32)]) -> u32 {
        if let Some(n) = reference.strip_prefix('#') {
            let n: u32 = n.parse().unwrap();
            assert!(self.subtasks.iter().any(|s| s.id == n), "unknown #{n}");
            return n;
        }
        self.subtasks
            .iter()
            .find(|s| s.title == reference)
            .map(|s| s.id)
            .or_else(|| {
                batch_ids
                    .iter()
                    .find(|(t, _)| t == reference)
                    .map(|(_, i)| *i)
            })
            .unwrap_or_else(|| panic!("unknown dependency {reference:?}"))
    }

    fn add(&mut self, list: &[ProposedSubtask]) {
        let mut batch = Vec::new();
        for s in list {
            let deps = s
                .depends_on
                .iter()
                .map(|d| self.resolve(d, &batch))
                .collect();
            let id = self.subtasks.len() as u32 + 1;
            batch.push((s.title.clone(), id));
            assert!(ROLES.contains(&s.role.as_str()), "role {}", s.role);
            self.subtasks.push(SimSubtask {
                id,
                title: s.title.clone(),
                role: s.role.clone(),
                priority: s.priority,
                deps,
                status: "ready".into(),
                results: None,
                attempts: 0,
                guidance: None,
            });
        }
    }

    fn context(&self, step: Step) -> OrchestratorContext {
        OrchestratorContext {
            step,
            task: self.task.as_str().into(),
            initial_estimate: self.initial,
            current_estimate: self
                .subtasks
                .iter()
                .filter(|s| s.status != "cancelled")
                .count() as u32,
            subtasks: self
                .subtasks
                .iter()
                .map(|s| SubtaskView {
                    id: s.id,
                    title: s.title.clone(),
                    role: s.role.clone(),
                    status: s.status.clone(),
                    priority: s.priority,
                    depends_on: s.deps.clone(),
                    results: s.results.clone(),
                    guidance: s.guidance.clone(),
                })
                .collect(),
            reports: Vec::new(),
            failure: None,
            roles: ROLES.iter().map(|r| r.to_string()).collect(),
            cycle: self.cycle,
            person_available: true,
            last_replan: false,
            plan_index: None,
            balance: None,
            rejected_by_person: Vec::new(),
        }
    }

    async fn orchestrate<T: for<'de> serde::Deserialize<'de>>(
        &mut self,
        name: &str,
        ctx: &OrchestratorContext,
    ) -> T {
        self.calls += 1;
        let (resp, _) = call(&self.p, orchestrator_request(name, ctx)).await;
        args(&resp, name)
    }

    fn runnable(&self) -> Option<usize> {
        self.subtasks.iter().position(|s| {
            s.status == "ready"
                && s.deps.iter().all(|d| {
                    let st = &self.subtasks[*d as usize - 1].status;
                    st == "complete" || st == "partial"
                })
        })
    }

    async fn run_worker(&mut self, i: usize) {
        self.subtasks[i].attempts += 1;
        self.subtasks[i].status = "running".into();
        let s = &self.subtasks[i];
        let b = WorkerBrief {
            task: self.task.as_str().into(),
            id: s.id,
            title: s.title.clone(),
            description: String::new(),
            role: s.role.clone(),
            expected_output: String::new(),
            attempt: s.attempts,
            shared_decisions: Vec::new(),
            dependency_results: s
                .deps
                .iter()
                .map(|d| DependencyResult {
                    id: *d,
                    title: self.subtasks[*d as usize - 1].title.clone(),
                    results: self.subtasks[*d as usize - 1]
                        .results
                        .clone()
                        .unwrap_or_default(),
                })
                .collect(),
            guidance: s.guidance.clone(),
        };
        self.calls += 1;
        let (resp, _) = call(&self.p, worker_request(&b, vec![], vec![])).await;
        let report: Report = args(&resp, SUBMIT_REPORT);
        let s = &mut self.subtasks[i];
        s.status = match report.status {
            ReportStatus::Complete => "complete",
            ReportStatus::Partial => "partial",
            ReportStatus::Blocked => "blocked",
        }
        .into();
        s.results = Some(report.results.clone());
        let (id, title, role, attempts) = (s.id, s.title.clone(), s.role.clone(), s.attempts);
        if report.status == ReportStatus::Blocked {
            let mut ctx = self.context(Step::Recovery);
            ctx.failure = Some(FailureView {
                id,
                title,
                role,
                attempts,
                error: format!("blocked: {}", report.results),
                last_output: resp.text.clone(),
            });
            let r: RecoveryArgs = self.orchestrate(DECIDE_RECOVERY, &ctx).await;
            assert_eq!(r.action, RecoveryChoice::Escalate);
            self.escalations.push(r.rationale);
            self.subtasks[i].status = "escalated".into();
            return;
        }
        self.cycle += 1;
        let mut ctx = self.context(Step::Replan);
        ctx.reports = vec![ReportView {
            id,
            title,
            role,
            report,
        }];
        let r: ReplanArgs = self.orchestrate(SUBMIT_REPLAN, &ctx).await;
        self.add(&r.add);
        for u in &r.update {
            let target = self.resolve(&u.id, &[]);
            if let Some(deps) = &u.depends_on {
                let deps = deps.iter().map(|d| self.resolve(d, &[])).collect();
                self.subtasks[target as usize - 1].deps = deps;
            }
        }
        for c in &r.cancel {
            let target = self.resolve(&c.id, &[]);
            self.subtasks[target as usize - 1].status = "cancelled".into();
        }
        let live = self
            .subtasks
            .iter()
            .filter(|s| s.status != "cancelled")
            .count() as u32;
        assert_eq!(
            r.estimated_total,
            Some(live),
            "the estimate matches the plan"
        );
    }

    async fn run_until_idle(&mut self) {
        loop {
            while let Some(i) = self.runnable() {
                self.run_worker(i).await;
            }
            // A person answers each escalation with guidance.
            let Some(s) = self.subtasks.iter_mut().find(|s| s.status == "escalated") else {
                return;
            };
            s.guidance =
                Some("Links expire after 90 days; creators may choose a shorter expiry".into());
            s.status = "ready".into();
        }
    }
}

#[tokio::test]
async fn a_whole_run_grows_the_plan_escalates_once_and_synthesises() {
    let cpu = std::time::Instant::now();
    let mut sim = Sim {
        p: provider(7),
        task: SHOWCASE.into(),
        subtasks: Vec::new(),
        initial: 0,
        cycle: 0,
        escalations: Vec::new(),
        calls: 0,
    };
    let a: AnalysisArgs = sim
        .orchestrate(SUBMIT_ANALYSIS, &context(Step::Analysis, SHOWCASE))
        .await;
    sim.initial = a.estimated_subtasks;
    sim.add(&a.subtasks);
    sim.run_until_idle().await;

    assert_eq!(sim.escalations.len(), 1, "one escalation");
    assert!(sim.escalations[0].contains("link expiry"));
    let storage = sim
        .subtasks
        .iter()
        .find(|s| s.title == "Implement the storage layer")
        .unwrap();
    assert_eq!(storage.attempts, 2);
    assert!(storage.results.as_deref().unwrap().contains("90 days"));
    // The tests waited for the storage layer (re-linked by a replan).
    let tests = sim
        .subtasks
        .iter()
        .find(|s| s.title == "Write the test suite")
        .unwrap();
    assert!(tests.deps.contains(&storage.id));
    assert_eq!(sim.subtasks.len(), 10, "scope grew from 6 to 10");
    assert!(sim.subtasks.len() as u32 > sim.initial);
    assert!(sim.subtasks.iter().any(|s| s.status == "partial"));
    assert!(
        sim.subtasks
            .iter()
            .all(|s| s.status == "complete" || s.status == "partial")
    );

    let c: CompletionArgs = sim
        .orchestrate(ASSESS_COMPLETION, &sim.context(Step::Completion))
        .await;
    assert!(c.complete);

    // Evaluation: one more subtask, then accepted.
    sim.cycle = 1;
    let e: EvaluationArgs = sim
        .orchestrate(SUBMIT_EVALUATION, &sim.context(Step::Evaluation))
        .await;
    assert!(!e.accepted);
    sim.add(&e.new_subtasks);
    sim.run_until_idle().await;
    sim.cycle = 2;
    let e: EvaluationArgs = sim
        .orchestrate(SUBMIT_EVALUATION, &sim.context(Step::Evaluation))
        .await;
    assert!(e.accepted);
    assert_eq!(sim.subtasks.len(), 11);

    let s: SynthesisArgs = sim
        .orchestrate(SUBMIT_SYNTHESIS, &sim.context(Step::Synthesis))
        .await;
    assert!(
        s.deliverable
            .contains("| 7 | Implement the storage layer |")
    );
    assert!(
        s.deliverable.contains("90 days"),
        "the person's decision reaches the deliverable"
    );
    let elapsed = cpu.elapsed();
    assert!(
        elapsed.as_secs_f64() < 3.0,
        "{} calls took {elapsed:?}",
        sim.calls
    );
}

#[tokio::test]
async fn a_whole_generic_run_also_completes() {
    let task = "Create a recipe manager that imports recipes from the web";
    let mut sim = Sim {
        p: provider(3),
        task: task.into(),
        subtasks: Vec::new(),
        initial: 0,
        cycle: 0,
        escalations: Vec::new(),
        calls: 0,
    };
    let a: AnalysisArgs = sim
        .orchestrate(SUBMIT_ANALYSIS, &context(Step::Analysis, task))
        .await;
    sim.initial = a.estimated_subtasks;
    sim.add(&a.subtasks);
    sim.run_until_idle().await;
    assert_eq!(sim.escalations.len(), 1);
    assert!(sim.escalations[0].contains("data retention"));
    // 7 from the analysis (the migration guide is dropped by the first replan), 4 discovered.
    assert_eq!(sim.subtasks.len(), 11);
    assert_eq!(
        sim.subtasks
            .iter()
            .filter(|s| s.status == "cancelled")
            .count(),
        1
    );
    let s: SynthesisArgs = sim
        .orchestrate(SUBMIT_SYNTHESIS, &sim.context(Step::Synthesis))
        .await;
    assert!(s.deliverable.contains("recipe manager"));
}

// ---- the real engine on the demo ------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn with_evaluate_the_evaluator_adds_one_subtask_then_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let f = run_showcase(dir.path(), true).await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);
    let rounds: Vec<(bool, usize)> = f
        .of(|e| matches!(e, Event::EvaluationCompleted { .. }))
        .filter_map(|e| match e {
            Event::EvaluationCompleted {
                accepted, added, ..
            } => Some((*accepted, added.len())),
            _ => None,
        })
        .collect();
    assert_eq!(rounds, vec![(false, 1), (true, 0)]);
    assert_eq!(f.state.subtasks.len(), 11);
    let smoke = f.state.subtasks.last().unwrap();
    assert_eq!(smoke.title, "Add an end-to-end smoke test");
    assert_eq!(smoke.status, SubtaskStatus::Complete);
}

#[tokio::test(start_paused = true)]
async fn the_engine_runs_the_showcase_on_the_demo_to_a_deliverable() {
    let dir = tempfile::tempdir().unwrap();
    let f = run_showcase(dir.path(), false).await;
    assert_eq!(f.outcome, RunOutcome::Completed, "{:?}", f.state.notices);
    check_consistent(&f);
    let st = &f.state;
    assert_eq!(st.initial_estimate(), 6);
    assert_eq!(st.subtasks.len(), 10, "the plan grew from 6 to 10");
    assert!(st.rejected.is_empty(), "{:?}", st.rejected);
    assert!(
        st.subtasks
            .iter()
            .all(|t| matches!(t.status, SubtaskStatus::Complete | SubtaskStatus::Partial)),
        "{:?}",
        st.subtasks
            .iter()
            .map(|t| (t.id, t.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        f.of(|e| matches!(e, Event::SubtaskEscalated { .. }))
            .count(),
        1,
        "one escalation"
    );
    let storage = st
        .subtasks
        .iter()
        .find(|t| t.title == "Implement the storage layer")
        .unwrap();
    assert_eq!(storage.attempts, 2);
    let tests = st
        .subtasks
        .iter()
        .find(|t| t.title == "Write the test suite")
        .unwrap();
    assert!(
        tests.depends_on.contains(&storage.id),
        "re-linked by a replan"
    );
    let synthesis = st.synthesis.as_ref().unwrap();
    assert!(synthesis.deliverable.contains("## API"));
    assert!(
        synthesis.deliverable.contains("90 days"),
        "the person's decision is in it"
    );
    assert!(st.replan_log.len() >= 3, "{}", st.replan_log.len());
    assert!(st.usage.input_tokens > 0 && st.usage.output_tokens > 0);
}

#[tokio::test]
async fn a_whole_research_run_escalates_the_audience_and_completes() {
    let task = "Write a report on the adoption of heat pumps in Europe";
    let mut sim = Sim {
        p: provider(5),
        task: task.into(),
        subtasks: Vec::new(),
        initial: 0,
        cycle: 0,
        escalations: Vec::new(),
        calls: 0,
    };
    let a: AnalysisArgs = sim
        .orchestrate(SUBMIT_ANALYSIS, &context(Step::Analysis, task))
        .await;
    assert_eq!(a.subtasks[0].title, "Gather the sources");
    sim.initial = a.estimated_subtasks;
    sim.add(&a.subtasks);
    sim.run_until_idle().await;
    assert_eq!(sim.escalations.len(), 1);
    assert!(sim.escalations[0].contains("audience"));
    assert_eq!(sim.subtasks.len(), 10);
    assert!(sim.subtasks.iter().any(|s| s.status == "partial"));
    let s: SynthesisArgs = sim
        .orchestrate(SUBMIT_SYNTHESIS, &sim.context(Step::Synthesis))
        .await;
    assert!(
        s.deliverable
            .starts_with("# Adoption of heat pumps in Europe\n"),
        "{}",
        s.deliverable
    );
    assert!(
        s.deliverable.contains("90 days"),
        "the person's decision is in it"
    );
}
