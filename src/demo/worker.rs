//! The demo workers: from a `<brief>` and the conversation so far, either the next workspace
//! tool call or the final `submit_report`.
//!
//! Owns the worker's decisions: which script plays (by title, else by role), the blocked
//! first attempt, the report built from the script and what the tools returned. Must not
//! stream or sleep, and must answer any brief without panicking.

use serde_json::Value;

use super::edits::EditContext;
use super::scenario::{Scenario, WorkerScript};
use super::stream::Reply;
use super::tools::{EDIT_FILE, Offered, RUN_COMMAND, WRITE_FILE, history};
use super::vars::{RoleKind, Vars};
use super::workspace::Findings;
use crate::llm::{ChatRequest, ToolChoice};
use crate::protocol::model::{SUBMIT_REPORT, WorkerBrief};
use crate::protocol::{Report, ReportStatus};

/// How a report made in a real workspace begins: what follows is what the tools did
/// (the synthesis builds a workspace run's deliverable from it).
pub const IN_WORKSPACE: &str = "In the workspace:";

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The placeholders of a worker's texts; `{decided_by}` says who settled `{guidance}`: the
/// person only when the brief carries their guidance.
fn vars_for(sc: &Scenario, brief: &WorkerBrief, guidance: &str) -> Vars {
    let theme = sc.theme_for(&brief.task);
    let mut vars = Vars::for_task(theme, &brief.task);
    vars.set("title", &brief.title);
    vars.set("description", brief.description.trim_end_matches('.'));
    vars.set(
        "expected_output",
        if brief.expected_output.is_empty() {
            "a short report"
        } else {
            brief.expected_output.trim_end_matches('.')
        },
    );
    vars.set("role", &brief.role);
    vars.set("guidance", guidance.trim().trim_end_matches('.'));
    let by_person = brief
        .guidance
        .as_deref()
        .is_some_and(|g| !g.trim().is_empty());
    vars.set(
        "decided_by",
        if by_person {
            "decided by the person"
        } else {
            "no person answered, so the default applies"
        },
    );
    vars
}

fn slug(text: &str) -> String {
    let s: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let parts: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).take(6).collect();
    if parts.is_empty() {
        "notes".into()
    } else {
        parts.join("-")
    }
}

/// The opening of the streamed text: what the worker builds on.
fn preface(brief: &WorkerBrief, guidance: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(g) = guidance {
        out.push_str(&format!(
            "Picking this up again with the person's guidance: “{}”.\n\n",
            g.trim().trim_end_matches('.')
        ));
    }
    if !brief.dependency_results.is_empty() {
        let deps: Vec<String> = brief
            .dependency_results
            .iter()
            .map(|d| format!("#{} {}", d.id, d.title))
            .collect();
        out.push_str(&format!("Building on {}.\n\n", deps.join(" and ")));
    }
    out
}

/// The demo worker's answer. A person's note that arrived with this turn (steering, see
/// `engine/steer.rs`) is acknowledged first, in the streamed text, as a real model would.
pub fn worker(sc: &Scenario, req: &ChatRequest, brief: &WorkerBrief) -> Reply {
    let mut reply = answer(sc, req, brief);
    if let Some(note) = new_person_note(req) {
        reply.text = format!(
            "Noted, from the person supervising this run: “{}”\n\n{}",
            crate::text::one_line(&note, 200),
            reply.text
        );
    }
    reply
}

/// The last `<person_note>` in this turn's (the last) user message.
fn new_person_note(req: &ChatRequest) -> Option<String> {
    let last = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == crate::llm::ChatRole::User)?;
    let open = format!("<{}>", crate::protocol::PERSON_NOTE_TAG);
    let close = format!("</{}>", crate::protocol::PERSON_NOTE_TAG);
    last.content.iter().rev().find_map(|c| match c {
        crate::llm::Content::Text { text } => {
            let start = text.rfind(&open)? + open.len();
            let end = text[start..].find(&close)? + start;
            Some(text[start..end].trim().to_string())
        }
        _ => None,
    })
}

fn answer(sc: &Scenario, req: &ChatRequest, brief: &WorkerBrief) -> Reply {
    let theme = sc.theme_for(&brief.task);
    let guidance = brief
        .guidance
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty());
    let probe = vars_for(sc, brief, "");
    let script: WorkerScript = theme
        .worker(&brief.title, &probe)
        .cloned()
        .unwrap_or_else(|| sc.role_script(&brief.role).as_worker());
    let default_decision = script
        .blocked
        .as_ref()
        .map(|b| b.default_decision.clone())
        .unwrap_or_default();
    let vars = vars_for(sc, brief, guidance.unwrap_or(&default_decision));

    // The scripted blocked attempt: no guidance yet, first attempt.
    if let Some(b) = &script.blocked
        && guidance.is_none()
        && brief.attempt <= 1
    {
        let report = Report {
            status: ReportStatus::Blocked,
            results: vars.render(&b.results),
            discoveries: vars.render_all(&b.discoveries),
            recommendations: vars.render_all(&b.recommendations),
            new_subtasks: Vec::new(),
        };
        let text = format!("{}{}", preface(brief, None), vars.render(&b.work));
        return Reply::tool(text, SUBMIT_REPORT, to_value(&report));
    }

    let steps = history(&req.messages);
    let findings = Findings {
        steps: &steps,
        hints: &sc.common.workspace,
    };
    let offered = Offered::new(&req.tools);
    let forced_report = matches!(&req.tool_choice, ToolChoice::Tool(n) if n == SUBMIT_REPORT);
    let mut report = script.report.render(&vars);
    if !forced_report && offered.any_workspace_tool() {
        let kind = RoleKind::of(&brief.role);
        let ctx = EditContext {
            title: brief.title.clone(),
            slug: slug(probe.render("{subject}").as_str()),
            subtask_slug: slug(&brief.title),
            notes: notes(brief, &report),
        };
        if let Some(action) = findings.next(kind, &offered, &ctx) {
            let first = steps.is_empty();
            let mut text = String::new();
            if first {
                text.push_str(&preface(brief, guidance));
            }
            text.push_str(&action.narration(first));
            return Reply::tool(text, action.tool(), offered.arguments(&action));
        }
    }

    // The final report. With a workspace it says what the tools did there, and nothing
    // of the script's prose about a service that was only planned.
    let observations = findings.observations();
    let mut text = String::new();
    if steps.is_empty() {
        text.push_str(&preface(brief, guidance));
    }
    if observations.is_empty() {
        text.push_str(&vars.render(&script.work));
    } else {
        report.results = format!("{IN_WORKSPACE} {}", observations.join(" "));
        report.discoveries.clear();
        report.recommendations.clear();
        text.push_str("Done with the workspace. What the tools did: ");
        text.push_str(&observations.join(" "));
    }
    adjust_for_tools(&mut report, &findings);
    Reply::tool(text, SUBMIT_REPORT, to_value(&report))
}

/// A page for a writer (or a developer's notes): the report as Markdown.
fn notes(brief: &WorkerBrief, report: &Report) -> String {
    let mut out = format!("# {}\n\n{}\n", brief.title, report.results.trim());
    for d in &brief.dependency_results {
        out.push_str(&format!("\n## {}\n\n{}\n", d.title, d.results.trim()));
    }
    if !report.discoveries.is_empty() {
        out.push_str("\n## Findings\n\n");
        for d in &report.discoveries {
            out.push_str(&format!("- {d}\n"));
        }
    }
    if !report.recommendations.is_empty() {
        out.push_str("\n## Next steps\n\n");
        for r in &report.recommendations {
            out.push_str(&format!("- {r}\n"));
        }
    }
    out
}

/// A denied command, a failing suite or a failed edit makes the report partial and says so.
fn adjust_for_tools(report: &mut Report, findings: &Findings) {
    if report.status == ReportStatus::Blocked {
        return;
    }
    if let Some(err) = findings.failed(RUN_COMMAND) {
        let cmd = findings
            .last_command()
            .unwrap_or_else(|| "the test command".into());
        report.status = ReportStatus::Partial;
        report.discoveries.push(format!(
            "`{cmd}` could not run in the workspace ({}), so the results above are not verified there.",
            err.trim_end_matches('.')
        ));
        report.recommendations.push(format!(
            "Run `{cmd}` by hand (or allow it) and compare with the results above."
        ));
    } else if let Some(code) = findings.exit_code().filter(|c| *c != 0) {
        let cmd = findings
            .last_command()
            .unwrap_or_else(|| "the test command".into());
        report.status = ReportStatus::Partial;
        report.discoveries.push(format!(
            "`{cmd}` exits with code {code} in the workspace: some of the existing tests fail."
        ));
        report
            .recommendations
            .push("Fix the failing tests before relying on the suite.".into());
    }
    let changed = findings.ran(EDIT_FILE) || findings.ran(WRITE_FILE);
    for tool in [EDIT_FILE, WRITE_FILE] {
        if let Some(err) = findings.failed(tool) {
            if changed {
                report.discoveries.push(format!(
                    "A first attempt at the change failed ({}); I re-read the file and applied it on top of the current text.",
                    err.trim_end_matches('.')
                ));
            } else {
                report.status = ReportStatus::Partial;
                report.discoveries.push(format!(
                    "The change could not be made in the workspace: {err}"
                ));
                report.recommendations.push(
                    "Re-run this subtask once the parallel changes to the same file have landed."
                        .into(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ChatRole, Content, Message};
    use crate::protocol::PERSON_NOTE_TAG;

    fn req(messages: Vec<Message>) -> ChatRequest {
        ChatRequest {
            model: "m".into(),
            system: String::new(),
            messages,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            max_tokens: 100,
            temperature: None,
        }
    }

    #[test]
    fn a_note_in_this_turn_is_found_and_an_older_one_is_not() {
        let note = format!("A note:\n<{PERSON_NOTE_TAG}>\nuse sqlite\n</{PERSON_NOTE_TAG}>");
        let mut last = Message::user("tool results");
        last.content.push(Content::Text { text: note.clone() });
        let r = req(vec![Message::user("brief"), Message::assistant("ok"), last]);
        assert_eq!(new_person_note(&r).as_deref(), Some("use sqlite"));
        // Read on an earlier turn: the last user message has none.
        let r = req(vec![
            Message::user(note),
            Message::assistant("ok"),
            Message::user("results"),
        ]);
        assert_eq!(new_person_note(&r), None);
        // An unclosed tag is no note.
        let r = req(vec![Message {
            role: ChatRole::User,
            content: vec![Content::Text {
                text: format!("<{PERSON_NOTE_TAG}> dangling"),
            }],
        }]);
        assert_eq!(new_person_note(&r), None);
    }
}
