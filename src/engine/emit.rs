//! The one path of every state change: [`Engine::emit`] appends the event to the journal,
//! folds it into the state with `state::apply` and sends it to the front end, in that order;
//! the group commit of a batch's reports ([`Engine::emit_grouped`], [`Engine::commit`]: one
//! `fsync` for the workers that finished together, before anything acts on them); and what
//! happens when the journal cannot be written (the run fails).

use super::run::Engine;
use crate::protocol::*;
use crate::state::apply;

impl Engine {
    /// Journals the event, folds it into the state, sends it to the front end.
    pub(super) async fn emit(&mut self, event: Event) {
        self.emit_with(event, false).await;
    }

    /// [`Engine::emit`] for a milestone of a batch (a worker's report or failure): it is
    /// forced to disk with the rest of the batch by [`Engine::commit`], which the loop runs
    /// before it acts on anything (see `journal`, "Group commit").
    pub(super) async fn emit_grouped(&mut self, event: Event) {
        self.emit_with(event, true).await;
    }

    /// Forces the batch's milestones to disk (one `fsync`).
    pub(super) fn commit(&mut self) {
        if self.fatal.is_some() {
            return;
        }
        if let Err(e) = self.journal.commit() {
            self.journal_failed(&e);
        }
    }

    /// The journal cannot be written: the run fails (nothing may happen unjournaled).
    pub(super) fn journal_failed(&mut self, e: &std::io::Error) {
        tracing::error!("journal write failed: {e}");
        self.fatal = Some(format!(
            "cannot write the journal {}: {e}",
            self.journal.path.display()
        ));
    }

    async fn emit_with(&mut self, event: Event, grouped: bool) {
        if self.fatal.is_some() {
            return;
        }
        let appended = if grouped {
            self.journal.append_grouped(event)
        } else {
            self.journal.append(event)
        };
        let envelope = match appended {
            Ok(e) => e,
            Err(e) => {
                self.journal_failed(&e);
                return;
            }
        };
        apply(&mut self.state, &envelope);
        self.send(envelope).await;
    }

    pub(super) async fn send(&mut self, envelope: Envelope) {
        if let Some(tx) = &self.events
            && tx.send(envelope).await.is_err()
        {
            tracing::warn!("the front end stopped receiving events; the run continues");
            self.events = None;
        }
    }

    pub(super) async fn notice(&mut self, message: impl Into<String>) {
        self.emit(Event::Notice {
            message: message.into(),
        })
        .await;
    }
}
