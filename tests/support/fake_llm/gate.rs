//! A gate a scripted response can wait behind before it sends anything: the test holds a
//! response (a worker's answer) until something else has happened (a replan was applied)
//! and then opens the gate. Opening is idempotent; a response whose client went away while
//! it waited is simply not delivered.

use std::sync::Arc;

use tokio::sync::watch;

/// Closed until [`Gate::open`]; every clone is the same gate.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Gate {
    pub fn new() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }

    /// Lets every response waiting behind this gate go (and every later one).
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    pub fn is_open(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until the gate is open.
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as this gate, so this ends only when it opens.
        let _ = rx.wait_for(|open| *open).await;
    }
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Gate({})",
            if self.is_open() { "open" } else { "closed" }
        )
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
