//! JSON Schemas of the seven protocol tools, the [`ToolDef`]s sent to the model, and a small
//! JSON Schema checker (the subset the schemas use: `type`, `required`, `properties`,
//! `items`, `enum`, `minimum`, `maximum`, `minLength`, `minItems`).
//!
//! Must not decide anything about the plan: semantic checks (roles, dependencies) live in
//! `engine::validate`, the rules in the loop.

use serde_json::{Value, json};

use super::calls::ToolDef;
use super::model::*;

/// A subtask as the model writes it. `roles` restricts the `role` enum.
fn subtask_schema(roles: &[String]) -> Value {
    json!({
        "type": "object",
        "required": ["title", "description", "role"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "description": "Short, unique title."},
            "description": {"type": "string", "minLength": 1, "description": "What to do, self-contained."},
            "role": {"type": "string", "enum": roles, "description": "The worker role that does it."},
            "depends_on": {"type": "array", "items": {"type": "string"},
                "description": "Titles or ids (\"#3\") of subtasks whose results it needs."},
            "priority": {"type": "string", "enum": ["high", "normal", "low"]},
            "expected_output": {"type": "string", "description": "What the worker must return."}
        }
    })
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// The input schema of a protocol tool.
pub fn schema(tool: &str, roles: &[String]) -> Option<Value> {
    let subtask = subtask_schema(roles);
    let subtasks = json!({"type": "array", "items": subtask});
    let v = match tool {
        SUBMIT_ANALYSIS => json!({
            "type": "object",
            "required": ["complexity", "task_type", "known_requirements", "unknowns",
                         "estimated_subtasks", "strategy", "subtasks"],
            "properties": {
                "complexity": {"type": "number", "minimum": 0.0, "maximum": 1.0,
                    "description": "0 = trivial, 1 = very complex and open-ended."},
                "task_type": {"type": "string", "minLength": 1,
                    "description": "open-ended / partially defined / evolving / well defined."},
                "known_requirements": strings(),
                "unknowns": strings(),
                "estimated_subtasks": {"type": "integer", "minimum": 1, "maximum": 10000,
                    "description": "Initial guess of the total number of subtasks."},
                "strategy": {"type": "string", "minLength": 1},
                "subtasks": {"type": "array", "items": subtask_schema(roles), "minItems": 1,
                    "description": "The FIRST subtasks only; more are discovered later."}
            }
        }),
        SUBMIT_REPORT => json!({
            "type": "object",
            "required": ["status", "results", "discoveries", "recommendations", "new_subtasks"],
            "properties": {
                "status": {"type": "string", "enum": ["complete", "partial", "blocked"]},
                "results": {"type": "string", "minLength": 1, "description": "What was accomplished (the result other subtasks build on)."},
                "discoveries": strings(),
                "recommendations": strings(),
                "new_subtasks": subtasks.clone()
            }
        }),
        SUBMIT_REPLAN => json!({
            "type": "object",
            "required": ["summary", "add", "update", "cancel", "scope_note"],
            "properties": {
                "summary": {"type": "string", "minLength": 1, "description": "Rationale of this replan."},
                "add": subtasks.clone(),
                "update": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1, "description": "\"#3\", \"3\" or the exact title."},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "role": {"type": "string", "enum": roles},
                        "priority": {"type": "string", "enum": ["high", "normal", "low"]},
                        "depends_on": strings()
                    }
                }},
                "cancel": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "reason": {"type": "string"}
                    }
                }},
                "scope_note": {"type": "string", "description": "Original estimate vs now, and why."},
                "estimated_total": {"type": "integer", "minimum": 0, "maximum": 100000},
                "complete": {"type": "boolean", "description": "Only when the context says `last_replan`: is the task complete?"},
                "missing": strings()
            }
        }),
        DECIDE_RECOVERY => json!({
            "type": "object",
            "required": ["action", "rationale"],
            "properties": {
                "action": {"type": "string", "enum": ["retry", "reassign", "decompose", "escalate"]},
                "rationale": {"type": "string", "minLength": 1},
                "role": {"type": "string", "enum": roles, "description": "Required for reassign."},
                "subtasks": {"type": "array", "items": subtask_schema(roles),
                    "description": "Required (non-empty) for decompose."},
                "impact": {"type": "string", "description": "Effect on the plan."}
            }
        }),
        ASSESS_COMPLETION => json!({
            "type": "object",
            "required": ["complete", "missing"],
            "properties": {
                "complete": {"type": "boolean"},
                "missing": strings(),
                "new_subtasks": subtasks.clone()
            }
        }),
        SUBMIT_SYNTHESIS => json!({
            "type": "object",
            "required": ["deliverable", "integration_points", "conflicts", "coherence"],
            "properties": {
                "deliverable": {"type": "string", "minLength": 1, "description": "The final deliverable (Markdown)."},
                "integration_points": strings(),
                "conflicts": strings(),
                "coherence": {"type": "string", "description": "Are all results consistent? What is missing?"}
            }
        }),
        SUBMIT_EVALUATION => json!({
            "type": "object",
            "required": ["accepted", "feedback"],
            "properties": {
                "accepted": {"type": "boolean"},
                "feedback": {"type": "string"},
                "new_subtasks": subtasks,
                "findings": strings()
            }
        }),
        _ => return None,
    };
    Some(v)
}

fn description(tool: &str) -> &'static str {
    match tool {
        SUBMIT_ANALYSIS => {
            "Submit your analysis of the task and the first subtasks (not all of them)."
        }
        SUBMIT_REPORT => {
            "Finish your subtask: report status, results, discoveries and new subtasks."
        }
        SUBMIT_REPLAN => "Apply one replan cycle: add, update and cancel subtasks, with rationale.",
        DECIDE_RECOVERY => {
            "Decide how to recover a failed subtask: retry, reassign, decompose or escalate."
        }
        ASSESS_COMPLETION => "Say whether the task is complete, and what is missing if not.",
        SUBMIT_SYNTHESIS => "Submit the final deliverable synthesised from the workers' results.",
        SUBMIT_EVALUATION => "Evaluate the deliverable: accept it, or send work back.",
        _ => "",
    }
}

/// The [`ToolDef`] of a protocol tool.
pub fn tool_def(tool: &str, roles: &[String]) -> ToolDef {
    ToolDef {
        name: tool.to_string(),
        description: description(tool).to_string(),
        input_schema: schema(tool, roles).unwrap_or_else(|| json!({"type": "object"})),
    }
}

/// Checks `value` against `schema`; returns every problem found, each with its JSON path.
pub fn check(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check_at(schema, value, "$", &mut errors);
    errors
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "null" => v.is_null(),
        _ => true,
    }
}

fn check_at(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(ty) = schema.get("type").and_then(Value::as_str)
        && !type_ok(ty, v)
    {
        errors.push(format!("{path}: expected {ty}, got {}", kind(v)));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.is_empty()
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        errors.push(format!("{path}: {v} is not one of {}", list.join(", ")));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{path}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{path}: {n} is above the maximum {max}"));
        }
    }
    if let (Some(s), Some(min)) = (v.as_str(), schema.get("minLength").and_then(Value::as_u64))
        && (s.trim().chars().count() as u64) < min
    {
        errors.push(format!("{path}: must not be empty"));
    }
    if let Some(obj) = v.as_object() {
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{path}: missing required field `{r}`"));
                }
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, sub) in props {
                if let Some(child) = obj.get(k) {
                    // Optional fields may be null.
                    let required = schema
                        .get("required")
                        .and_then(Value::as_array)
                        .is_some_and(|r| r.iter().any(|x| x == k));
                    if child.is_null() && !required {
                        continue;
                    }
                    check_at(sub, child, &format!("{path}.{k}"), errors);
                }
            }
        }
    }
    if let Some(items) = v.as_array() {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            errors.push(format!("{path}: needs at least {min} item(s)"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check_at(item_schema, item, &format!("{path}[{i}]"), errors);
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
