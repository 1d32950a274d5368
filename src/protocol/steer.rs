//! Steering one worker while the others run (issue 11, capability 4): what a person may do
//! to a single subtask's worker ([`Steer`]), carried by `Command::Steer` and journaled as
//! `Event::WorkerSteered`, plus the limits of what a person types and the mark a note
//! carries in the worker's conversation ([`PERSON_NOTE_TAG`]).
//!
//! Pure data: the rules (which steer applies now) are `State::check`, the acting is the
//! engine's (`engine/steer.rs`).

use serde::{Deserialize, Serialize};

/// The XML-like tag around a person's note in a worker's conversation:
/// `<person_note>…</person_note>`, after a sentence saying who wrote it.
pub const PERSON_NOTE_TAG: &str = "person_note";
/// The longest note a person may give a worker, in characters.
pub const NOTE_MAX_CHARS: usize = 4000;
/// The longest model name a person may give a worker, in characters.
pub const MODEL_MAX_CHARS: usize = 200;

/// One way a person steers one subtask's worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Steer {
    /// Its next model call waits (a call in flight finishes); for the running attempt only.
    Pause,
    /// A paused worker goes on.
    Resume,
    /// A note the worker reads before its next model call (and every later attempt gets).
    Note { text: String },
    /// The model of its next attempts (`None`: back to its role's model).
    Model { model: Option<String> },
    /// Stop the running attempt (its call in flight is cancelled) and start again from the
    /// subtask as it is now (an edited brief, role or model): not a failure.
    Restart,
}

impl Steer {
    /// One word for logs, the pane and provenance.
    pub fn word(&self) -> &'static str {
        match self {
            Steer::Pause => "pause",
            Steer::Resume => "resume",
            Steer::Note { .. } => "note",
            Steer::Model { .. } => "model",
            Steer::Restart => "restart",
        }
    }

    /// What was decided, in words (the note's or the model's text included, unsanitised:
    /// whoever prints it sanitises).
    pub fn describe(&self) -> String {
        match self {
            Steer::Pause => "paused the worker".into(),
            Steer::Resume => "resumed the worker".into(),
            Steer::Note { text } => format!("note: {text}"),
            Steer::Model { model: Some(m) } => format!("model for next attempts: {m}"),
            Steer::Model { model: None } => "model back to the role's".into(),
            Steer::Restart => "restarted the worker".into(),
        }
    }
}

/// Is `model` a usable model name (what a person typed)? The reason when it is not.
pub fn check_model_name(model: &str) -> Result<(), String> {
    if model.is_empty() {
        return Err("the model name is empty".into());
    }
    if model.chars().count() > MODEL_MAX_CHARS {
        return Err(format!(
            "a model name is at most {MODEL_MAX_CHARS} characters"
        ));
    }
    if model.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a model name has no spaces or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steer_serialises_tagged() {
        let s = Steer::Note { text: "hi".into() };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, serde_json::json!({"action": "note", "text": "hi"}));
        let back: Steer = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        let m: Steer = serde_json::from_str(r#"{"action":"model","model":null}"#).unwrap();
        assert_eq!(m, Steer::Model { model: None });
    }

    #[test]
    fn model_names_are_checked() {
        assert!(check_model_name("gpt-4o").is_ok());
        assert!(check_model_name("").is_err());
        assert!(check_model_name("a b").is_err());
        assert!(check_model_name("a\u{1b}[31m").is_err());
        assert!(check_model_name(&"x".repeat(MODEL_MAX_CHARS + 1)).is_err());
    }
}
