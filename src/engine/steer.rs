//! Steering one worker while the others run (issue 11, capability 4): the engine's side of
//! `Command::Steer`. Each running worker gets a `watch` channel of [`WorkerSteer`] (paused
//! or not, the person's notes); the worker looks at it before every model call
//! ([`before_call`]): while paused it waits (a call in flight finishes first), then it
//! appends the notes it has not read yet to its conversation, clearly marked as the
//! person's. Nothing else waits: the other workers and the orchestrator have their own tasks.
//!
//! A restart stops the running attempt (its call in flight is cancelled) and journals
//! `worker_steered { restart }` (not a failure); the reducer puts the subtask back in the
//! queue and dispatch starts a new attempt from the subtask as it is now (an edited brief,
//! role, the person's model).
//!
//! Must not touch the state from the worker's task: the channel carries a copy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
use tokio::time::Instant;

use super::run::Engine;
use crate::llm::{ChatRole, Content, Message};
use crate::protocol::*;

/// What a worker task sees of its steering.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WorkerSteer {
    pub paused: bool,
    /// Every note a person gave the subtask, oldest first (the worker reads the new ones).
    pub notes: Vec<String>,
}

/// The senders of the running workers' channels, by subtask.
pub(crate) type Steers = HashMap<SubtaskId, watch::Sender<WorkerSteer>>;

/// The text a note is given to the model in.
pub(crate) fn note_text(note: &str) -> String {
    format!(
        "A note from the person supervising this run (not from the task or a tool; read it \
         before you continue):\n<{PERSON_NOTE_TAG}>\n{}\n</{PERSON_NOTE_TAG}>",
        note.trim()
    )
}

/// Before a worker's model call: waits while the person has paused it (the time paused is
/// added to `paused_ms`, which the attempt's timeout does not count), then appends the notes
/// not read yet (`read` counts them) to the last user message.
pub(crate) async fn before_call(
    rx: &mut watch::Receiver<WorkerSteer>,
    read: &mut usize,
    messages: &mut Vec<Message>,
    paused_ms: &AtomicU64,
) {
    if rx.borrow().paused {
        let since = Instant::now();
        // A closed channel (the engine stopping) lets the worker go on; it is aborted anyway.
        let _ = rx.wait_for(|s| !s.paused).await;
        let ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        paused_ms.fetch_add(ms, Ordering::Relaxed);
    }
    let new: Vec<String> = rx.borrow().notes.iter().skip(*read).cloned().collect();
    if new.is_empty() {
        return;
    }
    *read += new.len();
    let blocks = new.iter().map(|n| Content::Text { text: note_text(n) });
    match messages.last_mut() {
        Some(last) if last.role == ChatRole::User => last.content.extend(blocks),
        _ => messages.push(Message {
            role: ChatRole::User,
            content: blocks.collect(),
        }),
    }
}

impl Engine {
    /// The steering channel of `id`'s new attempt: unpaused, with every note so far.
    pub(super) fn steer_channel(&mut self, id: SubtaskId) -> watch::Receiver<WorkerSteer> {
        let (tx, rx) = watch::channel(self.worker_steer(id));
        self.steers.insert(id, tx);
        rx
    }

    fn worker_steer(&self, id: SubtaskId) -> WorkerSteer {
        WorkerSteer {
            paused: self.state.worker_paused(id),
            notes: self
                .state
                .person_notes(id)
                .iter()
                .map(|n| n.text.clone())
                .collect(),
        }
    }

    /// Acts on a person's steer (already passed `State::check`).
    pub(super) async fn steer(&mut self, id: SubtaskId, steer: Steer) {
        let Some(attempt) = self.state.subtask(id).map(|s| s.attempts) else {
            return;
        };
        let steer = match steer {
            Steer::Note { text } => Steer::Note {
                text: text.trim().to_string(),
            },
            Steer::Model { model } => Steer::Model {
                model: model.map(|m| m.trim().to_string()),
            },
            other => other,
        };
        if steer == Steer::Restart {
            // The attempt ends here, by the person's hand: its result (if a call was in
            // flight) is dropped, and no failure or recovery follows.
            self.stop_worker(id).await;
            self.steers.remove(&id);
        }
        self.emit(Event::WorkerSteered {
            id,
            attempt,
            steer,
            by: Actor::Person,
        })
        .await;
        let now = self.worker_steer(id);
        if let Some(tx) = self.steers.get(&id) {
            tx.send_replace(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_paused_worker_waits_then_reads_its_notes() {
        let (tx, mut rx) = watch::channel(WorkerSteer {
            paused: true,
            notes: vec![],
        });
        let mut messages = vec![Message::user("brief")];
        let paused = AtomicU64::new(0);
        let mut read = 0;
        let task = async {
            before_call(&mut rx, &mut read, &mut messages, &paused).await;
        };
        let release = async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            tx.send_replace(WorkerSteer {
                paused: false,
                notes: vec!["use sqlite".into()],
            });
        };
        tokio::join!(task, release);
        assert_eq!(read, 1);
        assert_eq!(messages.len(), 1);
        let Content::Text { text } = &messages[0].content[1] else {
            panic!("a text block");
        };
        assert!(text.contains("<person_note>\nuse sqlite\n</person_note>"));
        assert!(paused.load(Ordering::Relaxed) >= 5000);
        // Read once: the next call adds nothing.
        before_call(&mut rx, &mut read, &mut messages, &paused).await;
        assert_eq!(messages[0].content.len(), 2);
    }

    #[tokio::test]
    async fn after_an_assistant_turn_a_note_is_a_user_message() {
        let (_tx, mut rx) = watch::channel(WorkerSteer {
            paused: false,
            notes: vec!["hi".into()],
        });
        let mut messages = vec![Message::user("brief"), Message::assistant("ok")];
        let mut read = 0;
        before_call(&mut rx, &mut read, &mut messages, &AtomicU64::new(0)).await;
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[2].role, ChatRole::User);
    }
}
