//! Validation of protocol tool arguments: the JSON Schema check, then parsing into the
//! typed argument structs of `protocol`, then the semantic checks a schema cannot express
//! (reassign needs a role, decompose needs subtasks, titles unique within one batch).
//!
//! The error text goes back to the model in the one repair round trip, so it says exactly
//! what to fix. Must not touch the plan.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::protocol::model::*;
use crate::protocol::schemas;
use crate::protocol::{ProposedSubtask, Report};

/// Checks `args` against the schema of `tool` and parses them.
pub fn parse<T: DeserializeOwned>(tool: &str, args: &Value, roles: &[String]) -> Result<T, String> {
    let schema = schemas::schema(tool, roles).ok_or_else(|| format!("unknown tool `{tool}`"))?;
    let errors = schemas::check(&schema, args);
    if !errors.is_empty() {
        return Err(format!(
            "invalid arguments for `{tool}`: {}",
            errors.join("; ")
        ));
    }
    serde_json::from_value(args.clone()).map_err(|e| format!("invalid arguments for `{tool}`: {e}"))
}

fn unique_titles(tool: &str, subtasks: &[ProposedSubtask]) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    for s in subtasks {
        let t = s.title.trim().to_lowercase();
        if seen.contains(&t) {
            return Err(format!(
                "invalid arguments for `{tool}`: two new subtasks are titled \"{}\"; titles must be unique",
                s.title
            ));
        }
        seen.push(t);
    }
    Ok(())
}

pub fn analysis(args: &Value, roles: &[String]) -> Result<AnalysisArgs, String> {
    let a: AnalysisArgs = parse(SUBMIT_ANALYSIS, args, roles)?;
    if !(0.0..=1.0).contains(&a.complexity) || a.complexity.is_nan() {
        return Err(
            "invalid arguments for `submit_analysis`: complexity must be between 0 and 1".into(),
        );
    }
    unique_titles(SUBMIT_ANALYSIS, &a.subtasks)?;
    Ok(a)
}

pub fn report(args: &Value, roles: &[String]) -> Result<Report, String> {
    let r: Report = parse(SUBMIT_REPORT, args, roles)?;
    unique_titles(SUBMIT_REPORT, &r.new_subtasks)?;
    Ok(r)
}

pub fn replan(args: &Value, roles: &[String]) -> Result<ReplanArgs, String> {
    let r: ReplanArgs = parse(SUBMIT_REPLAN, args, roles)?;
    unique_titles(SUBMIT_REPLAN, &r.add)?;
    Ok(r)
}

pub fn recovery(args: &Value, roles: &[String]) -> Result<RecoveryArgs, String> {
    let r: RecoveryArgs = parse(DECIDE_RECOVERY, args, roles)?;
    match r.action {
        RecoveryChoice::Reassign if r.role.as_deref().is_none_or(|x| x.trim().is_empty()) => Err(
            "invalid arguments for `decide_recovery`: action `reassign` needs `role`".into(),
        ),
        RecoveryChoice::Decompose if r.subtasks.as_ref().is_none_or(|s| s.is_empty()) => Err(
            "invalid arguments for `decide_recovery`: action `decompose` needs a non-empty `subtasks` list"
                .into(),
        ),
        _ => {
            if let Some(s) = &r.subtasks {
                unique_titles(DECIDE_RECOVERY, s)?;
            }
            Ok(r)
        }
    }
}

pub fn completion(args: &Value, roles: &[String]) -> Result<CompletionArgs, String> {
    let c: CompletionArgs = parse(ASSESS_COMPLETION, args, roles)?;
    unique_titles(ASSESS_COMPLETION, &c.new_subtasks)?;
    Ok(c)
}

pub fn synthesis(args: &Value, roles: &[String]) -> Result<SynthesisArgs, String> {
    parse(SUBMIT_SYNTHESIS, args, roles)
}

pub fn evaluation(args: &Value, roles: &[String]) -> Result<EvaluationArgs, String> {
    let e: EvaluationArgs = parse(SUBMIT_EVALUATION, args, roles)?;
    unique_titles(SUBMIT_EVALUATION, &e.new_subtasks)?;
    Ok(e)
}
