//! JSON-in-text tool mode ([`ToolMode::JsonText`](super::ToolMode)) for models without
//! native tool calls, usable by both HTTP providers.
//!
//! Owns: rewriting a [`ChatRequest`] so that no `tools` are sent (the schemas and the reply
//! format go into the system prompt, earlier tool calls and results become text), and
//! reading the first balanced JSON object of the reply back as a [`ToolCall`].
//! Must not: validate arguments against the schema (the engine does, with a repair round).

use serde_json::{Map, Value, json};

use super::{
    ChatRequest, ChatResponse, Content, Message, StopReason, ToolCall, ToolChoice, ToolDef,
};

/// The id given to a tool call read from text.
pub const JSON_TEXT_CALL_ID: &str = "json_text_0";

/// The request to send in JSON-in-text mode: no tools, the tool instructions appended to the
/// system prompt, tool calls and results of earlier turns rewritten as text.
pub fn prepare(req: &ChatRequest) -> ChatRequest {
    let mut wire = req.clone();
    wire.tools = Vec::new();
    wire.tool_choice = ToolChoice::Auto;
    wire.messages = flatten_messages(&req.messages);
    if !req.tools.is_empty() && req.tool_choice != ToolChoice::None {
        let instructions = instructions(&req.tools, &req.tool_choice);
        wire.system = if req.system.trim().is_empty() {
            instructions
        } else {
            format!("{}\n\n{instructions}", req.system)
        };
    }
    wire
}

/// Reads the tool call out of the reply text of a JSON-in-text request (`req` is the original
/// request, with its tools). Leaves the response alone when no tool was offered.
pub fn finish(mut resp: ChatResponse, req: &ChatRequest) -> ChatResponse {
    if req.tools.is_empty() || req.tool_choice == ToolChoice::None || !resp.tool_calls.is_empty() {
        return resp;
    }
    if let Some(call) = tool_call_from_text(&resp.text, &req.tools, &req.tool_choice) {
        resp.tool_calls.push(call);
        if matches!(
            resp.stop_reason,
            StopReason::EndTurn | StopReason::StopSequence
        ) {
            resp.stop_reason = StopReason::ToolUse;
        }
    }
    resp
}

/// The system-prompt section that describes the tools and the reply format.
pub fn instructions(tools: &[ToolDef], choice: &ToolChoice) -> String {
    let mut out = String::from(
        "## Tools\n\
         To call a tool, reply with exactly one JSON object and nothing else, in this form:\n\
         {\"tool\": \"<tool name>\", \"arguments\": { ... }}\n\
         The arguments must match the tool's JSON Schema. Call at most one tool per reply.\n",
    );
    match choice {
        ToolChoice::Tool(name) => {
            out.push_str(&format!("In this reply you must call the tool `{name}`.\n"));
        }
        ToolChoice::Any => out.push_str("In this reply you must call one of the tools.\n"),
        ToolChoice::Auto | ToolChoice::None => {
            out.push_str("If you need no tool, reply in plain text without any JSON object.\n");
        }
    }
    out.push_str("\nAvailable tools:\n");
    for tool in tools {
        out.push_str(&format!(
            "\n### {}\n{}\nJSON Schema of the arguments: {}\n",
            tool.name, tool.description, tool.input_schema
        ));
    }
    out
}

/// Earlier tool calls and results as plain text, for a server that knows no tool blocks.
pub fn flatten_messages(messages: &[Message]) -> Vec<Message> {
    messages
        .iter()
        .map(|m| Message {
            role: m.role,
            content: m.content.iter().map(flatten_block).collect(),
        })
        .collect()
}

fn flatten_block(content: &Content) -> Content {
    match content {
        Content::Text { text } => Content::Text { text: text.clone() },
        Content::ToolUse { name, input, .. } => Content::Text {
            text: json!({ "tool": name, "arguments": input }).to_string(),
        },
        Content::ToolResult {
            content, is_error, ..
        } => {
            let label = if *is_error {
                "Tool error"
            } else {
                "Tool result"
            };
            Content::Text {
                text: format!("{label}:\n{content}"),
            }
        }
    }
}

/// The tool call in `text`: the first balanced JSON object, either of the form
/// `{"tool": name, "arguments": {...}}` or, when one tool is forced, its bare arguments.
pub fn tool_call_from_text(text: &str, tools: &[ToolDef], choice: &ToolChoice) -> Option<ToolCall> {
    let object = first_json_object(text)?;
    let Value::Object(map) = object else {
        return None;
    };
    if let Some((name, arguments)) = wrapped_call(&map) {
        return Some(ToolCall {
            id: JSON_TEXT_CALL_ID.to_string(),
            name,
            arguments,
        });
    }
    let forced = match choice {
        ToolChoice::Tool(name) => Some(name.clone()),
        ToolChoice::Any if tools.len() == 1 => tools.first().map(|t| t.name.clone()),
        _ => None,
    }?;
    Some(ToolCall {
        id: JSON_TEXT_CALL_ID.to_string(),
        name: forced,
        arguments: Value::Object(map),
    })
}

/// `{"tool": name, "arguments": {...}}` and the common variants models write
/// (`name` for `tool`; `parameters` or `input` for `arguments`).
fn wrapped_call(map: &Map<String, Value>) -> Option<(String, Value)> {
    let name = ["tool", "name", "tool_name"]
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))?;
    let arguments = ["arguments", "parameters", "input", "args"]
        .iter()
        .find_map(|k| map.get(*k))?;
    let arguments = match arguments {
        // Some models put the arguments in a string.
        Value::String(s) => serde_json::from_str(s).ok()?,
        other => other.clone(),
    };
    arguments.is_object().then(|| (name.to_string(), arguments))
}

/// The first balanced `{...}` in `text` that parses as a JSON object: prose and code fences
/// around it are skipped, braces inside JSON strings are not counted.
pub fn first_json_object(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(offset) = text[start..].find('{') {
        let open = start + offset;
        if let Some(close) = balanced_end(&bytes[open..])
            && let Ok(value) = serde_json::from_str::<Value>(&text[open..open + close])
            && value.is_object()
        {
            return Some(value);
        }
        start = open + 1;
    }
    None
}

/// The length of the balanced object starting at `bytes[0] == b'{'`, if it closes.
fn balanced_end(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ChatRole;

    fn tools() -> Vec<ToolDef> {
        vec![ToolDef {
            name: "submit_report".into(),
            description: "Finish.".into(),
            input_schema: json!({"type": "object"}),
        }]
    }

    #[test]
    fn plain_object() {
        assert_eq!(first_json_object(r#"{"a": 1}"#), Some(json!({"a": 1})));
    }

    #[test]
    fn code_fence_and_prose() {
        let text = "Sure, here it is:\n```json\n{\"tool\": \"submit_report\", \"arguments\": {\"status\": \"complete\"}}\n```\nDone.";
        let call = tool_call_from_text(text, &tools(), &ToolChoice::Auto).unwrap();
        assert_eq!(call.name, "submit_report");
        assert_eq!(call.arguments, json!({"status": "complete"}));
        assert_eq!(call.id, JSON_TEXT_CALL_ID);
    }

    #[test]
    fn nested_braces() {
        let text = r#"x {"tool":"t","arguments":{"a":{"b":{"c":[1,{"d":2}]}}}} y {"other":1}"#;
        assert_eq!(
            first_json_object(text),
            Some(json!({"tool":"t","arguments":{"a":{"b":{"c":[1,{"d":2}]}}}}))
        );
    }

    #[test]
    fn strings_containing_braces_and_escapes() {
        let text = r#"{"tool":"t","arguments":{"code":"fn main() { println!(\"}\"); }","q":"\\"}}"#;
        let v = first_json_object(text).unwrap();
        assert_eq!(
            v["arguments"]["code"],
            json!("fn main() { println!(\"}\"); }")
        );
        assert_eq!(v["arguments"]["q"], json!("\\"));
    }

    #[test]
    fn skips_prose_braces_that_are_not_json() {
        let text = "In Rust a block {like this} is fine. {\"tool\":\"t\",\"arguments\":{}}";
        assert_eq!(
            first_json_object(text),
            Some(json!({"tool":"t","arguments":{}}))
        );
    }

    #[test]
    fn unbalanced_outer_object_yields_the_first_balanced_inner_one() {
        assert_eq!(
            first_json_object(r#"{"tool":"t","arguments":{"a":1}"#),
            Some(json!({"a": 1}))
        );
        assert_eq!(first_json_object(r#"{"tool":"t","arguments":{"a":1"#), None);
        assert_eq!(first_json_object("no json here"), None);
    }

    #[test]
    fn bare_arguments_for_forced_tool() {
        let call = tool_call_from_text(
            r#"{"status":"complete"}"#,
            &tools(),
            &ToolChoice::Tool("submit_report".into()),
        )
        .unwrap();
        assert_eq!(call.name, "submit_report");
        assert_eq!(call.arguments, json!({"status":"complete"}));
        assert!(
            tool_call_from_text(r#"{"status":"complete"}"#, &tools(), &ToolChoice::Auto).is_none()
        );
    }

    #[test]
    fn arguments_as_string_are_parsed() {
        let call = tool_call_from_text(
            r#"{"name":"t","arguments":"{\"a\":1}"}"#,
            &tools(),
            &ToolChoice::Auto,
        )
        .unwrap();
        assert_eq!(call.arguments, json!({"a":1}));
    }

    #[test]
    fn prepare_moves_tools_into_system_and_flattens_history() {
        let req = ChatRequest {
            model: "m".into(),
            system: "You are a worker.".into(),
            messages: vec![
                Message::user("go"),
                Message {
                    role: ChatRole::Assistant,
                    content: vec![Content::ToolUse {
                        id: "1".into(),
                        name: "read_file".into(),
                        input: json!({"path": "a"}),
                    }],
                },
                Message {
                    role: ChatRole::User,
                    content: vec![Content::ToolResult {
                        tool_use_id: "1".into(),
                        content: "hello".into(),
                        is_error: false,
                    }],
                },
            ],
            tools: tools(),
            tool_choice: ToolChoice::Tool("submit_report".into()),
            max_tokens: 100,
            temperature: None,
        };
        let wire = prepare(&req);
        assert!(wire.tools.is_empty());
        assert!(wire.system.starts_with("You are a worker."));
        assert!(wire.system.contains("\"tool\": \"<tool name>\""));
        assert!(wire.system.contains("must call the tool `submit_report`"));
        assert!(wire.system.contains("### submit_report"));
        assert_eq!(
            wire.messages[1].content,
            vec![Content::Text {
                text: r#"{"arguments":{"path":"a"},"tool":"read_file"}"#.into()
            }]
        );
        assert_eq!(
            wire.messages[2].content,
            vec![Content::Text {
                text: "Tool result:\nhello".into()
            }]
        );
    }
}
