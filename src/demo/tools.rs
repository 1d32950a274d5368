//! The demo workers' workspace tools as the conversation shows them: the tool names, the
//! calls made so far with what came back (`history`), the tools a request offers and the
//! arguments each expects (`Offered`), and the next call a worker makes (`Action`).
//!
//! Must cope with any tool schema and any tool output without panicking.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::llm::{ChatRole, Content, Message};
use crate::protocol::ToolDef;

pub const LIST_DIR: &str = "list_dir";
pub const READ_FILE: &str = "read_file";
pub const SEARCH: &str = "search";
pub const WRITE_FILE: &str = "write_file";
pub const EDIT_FILE: &str = "edit_file";
pub const RUN_COMMAND: &str = "run_command";

/// A worker stops using tools after this many calls and reports.
pub const MAX_TOOL_CALLS: usize = 6;

/// One tool call the worker made and what came back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolStep {
    pub name: String,
    pub input: Value,
    pub result: Option<String>,
    pub is_error: bool,
}

impl ToolStep {
    pub(super) fn ok(&self) -> Option<&str> {
        if self.is_error {
            None
        } else {
            self.result.as_deref()
        }
    }
    pub(super) fn str_arg(&self, keys: &[&str]) -> String {
        for k in keys {
            if let Some(v) = self.input.get(*k) {
                if let Some(s) = v.as_str() {
                    return s.to_string();
                }
                if let Some(a) = v.as_array() {
                    return a
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                }
            }
        }
        // Any string argument will do for a summary.
        self.input
            .as_object()
            .and_then(|o| o.values().find_map(|v| v.as_str().map(str::to_string)))
            .unwrap_or_default()
    }
}

/// The workspace tool calls in a conversation, in order, paired with their results.
pub fn history(messages: &[Message]) -> Vec<ToolStep> {
    let mut steps: Vec<ToolStep> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for m in messages {
        for c in &m.content {
            match (m.role, c) {
                (ChatRole::Assistant, Content::ToolUse { id, name, input }) => {
                    by_id.insert(id.clone(), steps.len());
                    steps.push(ToolStep {
                        name: name.clone(),
                        input: input.clone(),
                        result: None,
                        is_error: false,
                    });
                }
                (
                    _,
                    Content::ToolResult {
                        tool_use_id,
                        content,
                        is_error,
                    },
                ) => {
                    if let Some(step) = by_id.get(tool_use_id).and_then(|i| steps.get_mut(*i)) {
                        step.result = Some(content.clone());
                        step.is_error = *is_error;
                    }
                }
                _ => {}
            }
        }
    }
    steps
}

/// The tools the request offers, with their schemas (to name arguments as they expect).
pub struct Offered<'a> {
    defs: HashMap<&'a str, &'a Value>,
}

impl<'a> Offered<'a> {
    pub fn new(tools: &'a [ToolDef]) -> Self {
        Offered {
            defs: tools
                .iter()
                .map(|t| (t.name.as_str(), &t.input_schema))
                .collect(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    pub fn any_workspace_tool(&self) -> bool {
        [
            LIST_DIR,
            READ_FILE,
            SEARCH,
            WRITE_FILE,
            EDIT_FILE,
            RUN_COMMAND,
        ]
        .iter()
        .any(|t| self.has(t))
    }

    /// The schema's property for a meaning: an exact candidate, else one containing a
    /// candidate, else the first candidate.
    fn prop(&self, tool: &str, candidates: &[&str]) -> String {
        let props = self
            .defs
            .get(tool)
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.as_object());
        if let Some(props) = props {
            for c in candidates {
                if props.contains_key(*c) {
                    return (*c).to_string();
                }
            }
            for c in candidates {
                if let Some(k) = props.keys().find(|k| k.contains(c)) {
                    return k.clone();
                }
            }
        }
        candidates.first().copied().unwrap_or("value").to_string()
    }

    fn has_prop(&self, tool: &str, prop: &str) -> bool {
        self.defs
            .get(tool)
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(prop))
            .is_some()
    }

    fn prop_is_array(&self, tool: &str, prop: &str) -> bool {
        self.defs
            .get(tool)
            .and_then(|s| s.get("properties"))
            .and_then(|p| p.get(prop))
            .and_then(|p| p.get("type"))
            .and_then(|t| t.as_str())
            == Some("array")
    }

    /// The arguments of an action, named as this request's schemas name them.
    pub fn arguments(&self, action: &Action) -> Value {
        let mut obj = serde_json::Map::new();
        match action {
            Action::ListDir { path } => {
                obj.insert(
                    self.prop(LIST_DIR, &["path", "dir", "directory"]),
                    json!(path),
                );
                // Two levels show a small project whole in one call.
                if self.has_prop(LIST_DIR, "depth") {
                    obj.insert("depth".into(), json!(2));
                }
            }
            Action::ReadFile { path } => {
                obj.insert(self.prop(READ_FILE, &["path", "file"]), json!(path));
            }
            Action::Search { pattern } => {
                obj.insert(
                    self.prop(SEARCH, &["pattern", "regex", "query"]),
                    json!(pattern),
                );
            }
            Action::Write { path, content, .. } => {
                obj.insert(self.prop(WRITE_FILE, &["path", "file"]), json!(path));
                obj.insert(
                    self.prop(WRITE_FILE, &["content", "contents", "text", "data"]),
                    json!(content),
                );
            }
            Action::Edit { path, old, new, .. } => {
                obj.insert(self.prop(EDIT_FILE, &["path", "file"]), json!(path));
                obj.insert(
                    self.prop(EDIT_FILE, &["old_string", "old", "find", "search"]),
                    json!(old),
                );
                obj.insert(
                    self.prop(EDIT_FILE, &["new_string", "new", "replace", "replacement"]),
                    json!(new),
                );
            }
            Action::Run { command } => {
                let key = self.prop(RUN_COMMAND, &["command", "argv", "cmd"]);
                if self.prop_is_array(RUN_COMMAND, &key) {
                    let argv: Vec<&str> = command.split_whitespace().collect();
                    obj.insert(key, json!(argv));
                } else {
                    obj.insert(key, json!(command));
                }
            }
        }
        Value::Object(obj)
    }
}

/// A workspace tool call the demo worker wants to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    ListDir {
        path: String,
    },
    ReadFile {
        path: String,
    },
    Search {
        pattern: String,
    },
    Write {
        path: String,
        content: String,
        summary: String,
    },
    Edit {
        path: String,
        old: String,
        new: String,
        summary: String,
    },
    Run {
        command: String,
    },
}

impl Action {
    pub fn tool(&self) -> &'static str {
        match self {
            Action::ListDir { .. } => LIST_DIR,
            Action::ReadFile { .. } => READ_FILE,
            Action::Search { .. } => SEARCH,
            Action::Write { .. } => WRITE_FILE,
            Action::Edit { .. } => EDIT_FILE,
            Action::Run { .. } => RUN_COMMAND,
        }
    }

    /// What the worker says before the call.
    pub fn narration(&self, first: bool) -> String {
        match self {
            Action::ListDir { path } if path == "." => {
                "Before writing anything I want the lay of the land: listing the workspace.".into()
            }
            Action::ListDir { path } => {
                format!("The sources are not at the top level; looking inside `{path}/`.")
            }
            Action::ReadFile { path } if first => {
                format!("Reading `{path}` first, to follow its conventions.")
            }
            Action::ReadFile { path } => format!("Now reading `{path}`."),
            Action::Search { pattern } => {
                format!("Searching the code for `{pattern}` to find the spots worth a closer look.")
            }
            Action::Write { path, summary, .. } => format!("Writing `{path}`: {summary}."),
            Action::Edit { path, summary, .. } => {
                format!(
                    "Found something worth fixing in `{path}`: {summary}. Making a small, exact edit."
                )
            }
            Action::Run { command } => format!(
                "Running `{command}` in the workspace to see where the tests stand (this needs an approval)."
            ),
        }
    }
}
