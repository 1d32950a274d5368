//! Queries every reader of the state needs (what is runnable, what needs a person, counts,
//! estimates), so no front end re-derives the rules.

use super::*;

impl State {
    /// Folds a whole event sequence (resume, tests).
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Envelope>) -> State {
        let mut state = State::default();
        for e in events {
            apply(&mut state, e);
        }
        state
    }

    pub fn subtask(&self, id: SubtaskId) -> Option<&Subtask> {
        self.subtasks.get((id.0 as usize).wrapping_sub(1))
    }

    /// The settings in force: the journaled ones (`run_started`, then `settings_changed`)
    /// with the workers and limits changed during the run (`+`/`-`, a raised limit).
    /// `None` before `run_started`.
    pub fn settings_in_force(&self) -> Option<RunSettings> {
        let mut s = self.settings.clone()?;
        s.max_workers = self.max_workers;
        s.limits = self.limits.clone();
        Some(s)
    }

    /// The brief of `s`'s latest attempt exactly as the worker was given it: the journaled
    /// brief with the run's task put back (a brief journaled whole is returned as it is).
    pub fn brief_as_sent(&self, s: &Subtask) -> Option<String> {
        let brief = s.brief.as_deref()?;
        Some(if s.brief_task_omitted {
            crate::protocol::model::brief_with_task(brief, &self.task)
        } else {
            brief.to_string()
        })
    }

    pub(in crate::state) fn subtask_mut(&mut self, id: SubtaskId) -> Option<&mut Subtask> {
        self.subtasks.get_mut((id.0 as usize).wrapping_sub(1))
    }

    /// The id the next added subtask gets.
    pub fn next_id(&self) -> SubtaskId {
        SubtaskId(self.subtasks.len() as u32 + 1)
    }

    /// The estimate the analysis made (0 before it).
    pub fn initial_estimate(&self) -> u32 {
        self.analysis.as_ref().map_or(0, |a| a.estimated_subtasks)
    }

    /// The scope estimate now: the latest replan's, else the analysis'.
    pub fn current_estimate(&self) -> u32 {
        self.replan_log
            .last()
            .map_or(self.initial_estimate(), |r| r.estimate_now)
    }

    pub fn count(&self, status: SubtaskStatus) -> usize {
        self.subtasks.iter().filter(|s| s.status == status).count()
    }

    pub fn running(&self) -> impl Iterator<Item = &Subtask> {
        self.subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Running)
    }

    /// Subtasks that count toward the subtask limit (everything not cancelled or rejected).
    pub fn live_subtask_count(&self) -> u32 {
        self.subtasks
            .iter()
            .filter(|s| s.status != SubtaskStatus::Cancelled)
            .count() as u32
    }

    /// Are all of this subtask's dependencies satisfied?
    pub fn dependencies_done(&self, s: &Subtask) -> bool {
        s.depends_on.iter().all(|d| {
            self.subtask(*d)
                .is_some_and(|dep| dep.status.satisfies_dependency())
        })
    }

    /// Dependencies that can never be satisfied (cancelled or failed for good).
    pub fn dead_dependencies(&self, s: &Subtask) -> Vec<SubtaskId> {
        s.depends_on
            .iter()
            .copied()
            .filter(|d| {
                self.subtask(*d)
                    .is_none_or(|dep| dep.status == SubtaskStatus::Cancelled)
            })
            .collect()
    }

    /// The dispatch rules of a role (`auto`, no cap, when the run's settings name none).
    pub fn role_dispatch(&self, role: &str) -> RoleDispatch {
        self.settings
            .as_ref()
            .and_then(|s| s.role_dispatch.get(role))
            .copied()
            .unwrap_or_default()
    }

    /// A subtask's effective dispatch policy: its own, else its role's.
    pub fn dispatch_policy(&self, s: &Subtask) -> DispatchPolicy {
        s.dispatch
            .unwrap_or_else(|| self.role_dispatch(&s.role).policy)
    }

    /// Unfinished subtasks that wait on `id`, directly or through others (what cannot run
    /// if `id` is cancelled), in id order.
    pub fn open_dependents(&self, id: SubtaskId) -> Vec<SubtaskId> {
        let mut out: Vec<SubtaskId> = Vec::new();
        let mut frontier = vec![id];
        while let Some(cur) = frontier.pop() {
            for s in &self.subtasks {
                if !s.status.is_terminal() && s.depends_on.contains(&cur) && !out.contains(&s.id) {
                    out.push(s.id);
                    frontier.push(s.id);
                }
            }
        }
        out.sort();
        out
    }

    /// Ready subtasks whose dependencies are done and whose policy lets them start (`auto`,
    /// or `ask` with a person's go-ahead), highest priority first, then oldest.
    pub fn runnable(&self) -> Vec<SubtaskId> {
        let touched = self.touched_by_plan_diff();
        let mut v: Vec<&Subtask> = self
            .subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Ready && self.dependencies_done(s))
            // A diff waiting for a person would change it: it waits too (`plan_diff.rs`).
            .filter(|s| !touched.contains(&s.id))
            .filter(|s| match self.dispatch_policy(s) {
                DispatchPolicy::Auto => true,
                DispatchPolicy::Ask => s.go,
                DispatchPolicy::Hold => false,
            })
            .collect();
        v.sort_by_key(|s| (s.priority.rank(), s.id));
        v.into_iter().map(|s| s.id).collect()
    }

    /// Ready subtasks with done dependencies whose policy is `ask` and that have not asked
    /// yet: the engine asks a person for each before it may start.
    pub fn to_ask(&self) -> Vec<SubtaskId> {
        self.subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Ready && !s.go && self.dependencies_done(s))
            .filter(|s| self.dispatch_policy(s) == DispatchPolicy::Ask)
            .map(|s| s.id)
            .collect()
    }

    /// Ready subtasks held by the `hold` policy (they wait for a person to change it).
    pub fn on_hold(&self) -> Vec<SubtaskId> {
        self.subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Ready)
            .filter(|s| self.dispatch_policy(s) == DispatchPolicy::Hold)
            .map(|s| s.id)
            .collect()
    }

    /// Tokens and cost per role: the orchestrator first (what no worker used), then each
    /// worker role with usage, by name. The parts add up to the run's totals.
    pub fn usage_by_role(&self) -> Vec<RoleUsage> {
        let mut roles: std::collections::BTreeMap<&str, (Usage, f64)> = Default::default();
        let (mut workers, mut worker_cost) = (Usage::default(), 0.0);
        for s in self.subtasks.iter().filter(|s| s.usage.total() > 0) {
            let entry = roles.entry(s.role.as_str()).or_default();
            entry.0.add(&s.usage);
            entry.1 += s.cost_usd;
            workers.add(&s.usage);
            worker_cost += s.cost_usd;
        }
        let u = &self.usage;
        let orchestrator = Usage {
            input_tokens: u.input_tokens.saturating_sub(workers.input_tokens),
            output_tokens: u.output_tokens.saturating_sub(workers.output_tokens),
            cache_read_tokens: u
                .cache_read_tokens
                .saturating_sub(workers.cache_read_tokens),
            cache_write_tokens: u
                .cache_write_tokens
                .saturating_sub(workers.cache_write_tokens),
        };
        let mut out = Vec::with_capacity(roles.len() + 1);
        if orchestrator.total() > 0 {
            out.push(RoleUsage {
                role: "orchestrator".into(),
                usage: orchestrator,
                cost_usd: (self.cost_usd - worker_cost).max(0.0),
            });
        }
        out.extend(
            roles
                .into_iter()
                .map(|(role, (usage, cost_usd))| RoleUsage {
                    role: role.to_string(),
                    usage,
                    cost_usd,
                }),
        );
        out
    }

    /// Unresolved scope alerts.
    pub fn open_alerts(&self) -> impl Iterator<Item = &ScopeAlert> {
        self.alerts.iter().filter(|a| a.resolution.is_none())
    }

    /// Command approvals still waiting.
    pub fn open_command_requests(&self) -> impl Iterator<Item = &CommandRequest> {
        self.command_requests
            .iter()
            .filter(|c| c.decision.is_none())
    }

    /// Everything waiting for a person, most urgent first.
    pub fn needs_person(&self) -> Vec<NeedsPerson> {
        let mut out = Vec::new();
        if let Some((complexity, threshold)) = self.mode_choice {
            out.push(NeedsPerson::ModeChoice {
                complexity,
                threshold,
            });
        }
        out.extend(self.open_alerts().map(|a| NeedsPerson::ScopeAlert(a.alert)));
        out.extend(
            self.open_command_requests()
                .map(|c| NeedsPerson::CommandApproval(c.request)),
        );
        out.extend(
            self.subtasks
                .iter()
                .filter(|s| s.status == SubtaskStatus::Escalated)
                .map(|s| NeedsPerson::Escalation(s.id)),
        );
        out.extend(
            self.subtasks
                .iter()
                .filter(|s| s.status == SubtaskStatus::AwaitingApproval)
                .map(|s| NeedsPerson::Approval(s.id)),
        );
        out.extend(
            self.pending_plan_diff()
                .map(|d| NeedsPerson::PlanDiff(d.proposal)),
        );
        out
    }

    /// The orchestrator model is working on a step now. The phase stays `analysing` while
    /// the complexity gate waits for the person's choice: nothing works then.
    pub fn orchestrator_working(&self) -> bool {
        use crate::protocol::Phase as P;
        self.mode_choice.is_none()
            && !self.is_finished()
            && matches!(
                self.phase,
                P::Analysing
                    | P::Replanning
                    | P::Recovering
                    | P::Assessing
                    | P::Synthesising
                    | P::Evaluating
            )
    }

    /// Something waits for a person and nothing else can move the run on: no worker or
    /// orchestrator is working and no subtask can start (none is runnable, or dispatch is
    /// paused). The header's `WAITING FOR YOU`.
    pub fn waiting_for_person(&self) -> bool {
        !self.is_finished()
            && !self.needs_person().is_empty()
            && self.running().next().is_none()
            && !self.orchestrator_working()
            && (self.paused || self.runnable().is_empty())
    }

    /// Does this subtask wait for a person: approval, an escalation, or a command it asked
    /// to run? (Its row shows `⚑`.)
    pub fn waits_for_person(&self, s: &Subtask) -> bool {
        matches!(
            s.status,
            SubtaskStatus::AwaitingApproval | SubtaskStatus::Escalated
        ) || self.open_command_requests().any(|c| c.id == s.id)
    }

    /// A subtask's status as it reads in a record of the run (export): in a run that is not
    /// going on (stopped, failed, or its process gone), a running subtask was interrupted
    /// and a ready one never started; `running`/`ready` would claim work that is not
    /// happening. `live` says the run is going on now.
    pub fn status_word(&self, s: &Subtask, live: bool) -> &'static str {
        match s.status {
            SubtaskStatus::Running if !live => "interrupted",
            SubtaskStatus::Ready if !live => "not started",
            other => other.label(),
        }
    }

    /// Seconds the run was actually running, by the journal: from its start to the latest
    /// event, less the time between a stop (or a process that died) and the resume after
    /// it. The header, the headless totals, the summary and the export all show this.
    pub fn elapsed_secs(&self) -> f64 {
        match self.last_event_at {
            Some(at) => self.elapsed_secs_at(at),
            None => 0.0,
        }
    }

    /// [`State::elapsed_secs`] as of `now` (a live run's clock between events).
    pub fn elapsed_secs_at(&self, now: DateTime<Utc>) -> f64 {
        let since = self.running_since.or(self.started_at);
        let current = since.map_or(0.0, |s| (now - s).num_milliseconds().max(0) as f64 / 1000.0);
        self.run_secs_before + current
    }

    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    /// Subtasks held back by the subtask limit (deferred by the engine, not since released),
    /// oldest first. Raising the limit releases them.
    pub fn held_back(&self) -> Vec<SubtaskId> {
        self.subtasks
            .iter()
            .filter(|s| s.status == SubtaskStatus::Deferred && s.held_by_limit)
            .map(|s| s.id)
            .collect()
    }

    /// Replan cycles that changed the plan (added, edited or cancelled a subtask): what the
    /// cycle limit counts. A replan that only acknowledged reports is not a cycle.
    pub fn plan_cycles(&self) -> u32 {
        self.replan_log
            .iter()
            .filter(|r| !(r.added.is_empty() && r.updated.is_empty() && r.cancelled.is_empty()))
            .count() as u32
    }
}
