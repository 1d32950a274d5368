//! Orchestrator steps: the run-mode choice after the analysis, starting a step (analysis,
//! replan, recovery, completion, synthesis, evaluation) as a task, and acting on its result.

use super::call::ToEngine;
use super::plan_view::FULL_PLAN_UP_TO;
use super::policy::{self};
use super::run::*;
use super::supervise::supervised;
use super::{prompts, validate};
use crate::llm::{ChatRequest, Message, ToolChoice};
use crate::protocol::model::*;
use crate::protocol::schemas;
use crate::protocol::*;

impl Engine {
    pub(super) async fn decide_mode(&mut self) {
        let Some(a) = self.state.analysis.clone() else {
            return;
        };
        let threshold = self.cfg.settings.complexity_threshold;
        let first = self.state.first_subtasks.as_ref().map_or(0, |v| v.len());
        if a.complexity >= threshold {
            self.choose_mode(RunMode::Orchestrate, Actor::Engine).await;
        } else if self.cfg.settings.approve == ApprovalPolicy::Auto {
            self.choose_mode(policy::auto_mode(&a, first), Actor::Policy)
                .await;
        } else {
            self.emit(Event::ModeChoiceRequested {
                complexity: a.complexity,
                threshold,
            })
            .await;
        }
    }

    pub(super) async fn choose_mode(&mut self, mode: RunMode, by: Actor) {
        self.emit(Event::ModeChosen { mode, by }).await;
        let proposed = self.state.first_subtasks.clone().unwrap_or_default();
        match mode {
            RunMode::Orchestrate => {
                let items = proposed
                    .into_iter()
                    .map(|p| (p, Origin::Analysis))
                    .collect();
                self.add_batch(items).await;
            }
            RunMode::SingleWorker => {
                let role = proposed
                    .iter()
                    .map(|p| p.role.clone())
                    .find(|r| self.role_names.contains(r))
                    .or_else(|| self.role_names.first().cloned())
                    .unwrap_or_default();
                let task = self.state.task.clone();
                let title: String = task.lines().next().unwrap_or("").chars().take(80).collect();
                let p = ProposedSubtask {
                    title: if title.trim().is_empty() {
                        "The whole task".into()
                    } else {
                        title
                    },
                    description: task.to_string(),
                    role,
                    depends_on: Vec::new(),
                    priority: Priority::Normal,
                    expected_output: "The complete deliverable for the task.".into(),
                };
                self.add_batch(vec![(p, Origin::SingleWorker)]).await;
            }
        }
    }

    pub(super) async fn start_step(&mut self, kind: StepKind) {
        let roles = self.role_names.clone();
        let (step, purpose, reports, failure, cycle, tool, extra) = match &kind {
            StepKind::Analysis => (
                Step::Analysis,
                CallPurpose::Analysis,
                Vec::new(),
                None,
                0,
                SUBMIT_ANALYSIS,
                String::new(),
            ),
            StepKind::Replan { covered, cycle, .. } => (
                Step::Replan,
                CallPurpose::Replan { cycle: *cycle },
                covered.clone(),
                None,
                *cycle,
                SUBMIT_REPLAN,
                String::new(),
            ),
            StepKind::Recovery { id } => {
                let failure = self.state.subtask(*id).map(|s| FailureView {
                    id: s.id.0,
                    title: s.title.clone(),
                    role: s.role.clone(),
                    attempts: s.attempts,
                    error: s.last_error.clone().unwrap_or_default(),
                    last_output: s.output.clone().unwrap_or_default(),
                });
                (
                    Step::Recovery,
                    CallPurpose::Recovery { id: *id },
                    Vec::new(),
                    failure,
                    0,
                    DECIDE_RECOVERY,
                    String::new(),
                )
            }
            StepKind::Completion => (
                Step::Completion,
                CallPurpose::Completion,
                Vec::new(),
                None,
                self.completion_rounds + 1,
                ASSESS_COMPLETION,
                String::new(),
            ),
            StepKind::Synthesis => (
                Step::Synthesis,
                CallPurpose::Synthesis,
                Vec::new(),
                None,
                0,
                SUBMIT_SYNTHESIS,
                String::new(),
            ),
            StepKind::Evaluation { round } => (
                Step::Evaluation,
                CallPurpose::Evaluation { round: *round },
                Vec::new(),
                None,
                *round,
                SUBMIT_EVALUATION,
                format!(
                    "# Deliverable to evaluate\n{}",
                    self.synthesis
                        .as_ref()
                        .map(|s| s.deliverable.as_str())
                        .unwrap_or("")
                ),
            ),
        };
        // Replans (but the last) see what changed since the orchestrator last saw the
        // plan, once the plan is big enough for that to matter (`plan_view`).
        let compact = matches!(kind, StepKind::Replan { last: false, .. })
            && self.state.subtasks.len() > FULL_PLAN_UP_TO;
        let mut ctx = prompts::context(
            &self.state,
            step,
            &self.cfg.roles,
            &reports,
            failure,
            cycle,
            !compact,
        );
        ctx.person_available = !self.cfg.stop_when_person_needed;
        // The last replan decides "add work or complete" (`replans.rs`).
        ctx.last_replan = matches!(kind, StepKind::Replan { last: true, .. });
        if compact {
            self.seen.compact(&self.state, &mut ctx);
        }
        self.seen.saw(&self.state);
        let message = prompts::orchestrator_message(&ctx, &self.cfg.roles, &extra);
        let req = ChatRequest {
            model: self.cfg.settings.orchestrator_model.clone(),
            system: prompts::ORCHESTRATOR_SYSTEM.to_string(),
            messages: {
                let instructions = prompts::project_instructions(&self.cfg.project_instructions);
                let stable = instructions.len()
                    + prompts::orchestrator_stable(&ctx.task, &self.cfg.roles).len();
                vec![Message::user_split(&(instructions + &message), stable)]
            },
            tools: vec![schemas::tool_def(tool, &roles)],
            tool_choice: ToolChoice::Tool(tool.to_string()),
            max_tokens: self
                .cfg
                .pricing
                .max_output(&self.cfg.settings.orchestrator_model),
            temperature: None,
        };
        let call = self.call_ctx(purpose, None, 0);
        let job = self.next_job;
        self.next_job += 1;
        let tx = self.tx.clone();
        let parse_kind = kind.clone();
        let handle = tokio::spawn(async move {
            let step = async move {
                match parse_kind {
                    StepKind::Analysis => call
                        .call_forced(req, tool, |v| validate::analysis(v, &roles))
                        .await
                        .map(StepOutput::Analysis),
                    StepKind::Replan { .. } => call
                        .call_forced(req, tool, |v| validate::replan(v, &roles))
                        .await
                        .map(StepOutput::Replan),
                    StepKind::Recovery { .. } => call
                        .call_forced(req, tool, |v| validate::recovery(v, &roles))
                        .await
                        .map(StepOutput::Recovery),
                    StepKind::Completion => call
                        .call_forced(req, tool, |v| validate::completion(v, &roles))
                        .await
                        .map(StepOutput::Completion),
                    StepKind::Synthesis => call
                        .call_forced(req, tool, |v| validate::synthesis(v, &roles))
                        .await
                        .map(StepOutput::Synthesis),
                    StepKind::Evaluation { .. } => call
                        .call_forced(req, tool, |v| validate::evaluation(v, &roles))
                        .await
                        .map(StepOutput::Evaluation),
                }
            };
            // A panic in the step is that step's failure (recovered like any failure).
            let result = supervised(step)
                .await
                .unwrap_or_else(|p| Err(format!("the orchestrator step {p}")));
            let _ = tx.send(ToEngine::StepDone { job, result }).await;
        });
        self.step = Some(ActiveStep {
            job,
            kind,
            abort: handle.abort_handle(),
        });
        self.sync_phase().await;
    }

    pub(super) async fn step_done(&mut self, job: u64, result: Result<StepOutput, String>) {
        // A superseded replan answered: its usage is journaled, its result is not used.
        if self.superseded.remove(&job).is_some() {
            return;
        }
        let Some(active) = self.step.take_if(|s| s.job == job) else {
            return;
        };
        match (active.kind, result) {
            (StepKind::Analysis, Ok(StepOutput::Analysis(a))) => {
                let analysis = Analysis {
                    complexity: a.complexity,
                    task_type: a.task_type,
                    known_requirements: a.known_requirements,
                    unknowns: a.unknowns,
                    estimated_subtasks: a.estimated_subtasks,
                    strategy: a.strategy,
                };
                self.emit(Event::AnalysisCompleted {
                    analysis,
                    first_subtasks: Some(a.subtasks),
                })
                .await;
            }
            (StepKind::Analysis, Err(e)) => {
                self.finish(RunOutcome::Failed {
                    reason: format!("the analysis failed: {e}"),
                })
                .await;
            }
            (
                StepKind::Replan {
                    covered,
                    cycle,
                    last,
                },
                Ok(StepOutput::Replan(r)),
            ) => {
                self.apply_replan(covered, cycle, last, r).await;
            }
            (StepKind::Replan { covered, cycle, .. }, Err(e)) => {
                self.notice(format!(
                    "replan cycle {cycle} failed: {e}; the plan stays as it is"
                ))
                .await;
                // Those reports are not offered to a replan again (after a resume either).
                self.emit(Event::ReportsCovered { ids: covered }).await;
            }
            (StepKind::Recovery { id }, Ok(StepOutput::Recovery(r))) => {
                self.apply_recovery(id, r).await;
            }
            (StepKind::Recovery { id }, Err(e)) => {
                if self.is_failed(id) {
                    self.emit(Event::SubtaskEscalated {
                        id,
                        reason: format!("no recovery decision: {e}"),
                        by: Actor::Engine,
                    })
                    .await;
                }
            }
            (StepKind::Completion, Ok(StepOutput::Completion(c))) => {
                self.completion_rounds += 1;
                self.emit(Event::CompletionAssessed {
                    complete: c.complete,
                    missing: c.missing,
                })
                .await;
                let mut added = Vec::new();
                if !c.complete {
                    let origin = Origin::Replan {
                        cycle: self.state.replan_log.len() as u32,
                    };
                    let items = c
                        .new_subtasks
                        .into_iter()
                        .map(|p| (p, origin.clone()))
                        .collect();
                    added = self.add_batch(items).await;
                }
                self.assessed = added.is_empty();
            }
            (StepKind::Completion, Err(e)) => {
                self.notice(format!(
                    "the completion assessment failed: {e}; synthesising what is done"
                ))
                .await;
                self.assessed = true;
            }
            (StepKind::Synthesis, Ok(StepOutput::Synthesis(s))) => {
                self.synthesis = Some(s);
                self.evaluated = false;
            }
            (StepKind::Synthesis, Err(e)) => {
                self.finish(RunOutcome::Failed {
                    reason: format!("the synthesis failed: {e}"),
                })
                .await;
            }
            (StepKind::Evaluation { round }, Ok(StepOutput::Evaluation(e))) => {
                self.evaluation_done(round, e).await;
            }
            (StepKind::Evaluation { round }, Err(e)) => {
                self.notice(format!(
                    "evaluation round {round} failed: {e}; keeping the deliverable"
                ))
                .await;
                self.evaluated = true;
            }
            (kind, Ok(out)) => {
                tracing::error!("step {kind:?} returned a mismatched output {out:?}");
            }
        }
    }
}
