//! Supervised tasks: every orchestrator step and worker runs under [`supervised`], so a
//! panic inside it (a provider bug, a tool bug) becomes an ordinary failure of that step or
//! worker, which the loop journals and recovers like any other, never a task that silently
//! vanished while the loop waits for it forever.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// Runs `fut`; a panic becomes `Err("panicked: <message>")`.
pub(super) async fn supervised<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|payload| format!("panicked: {}", panic_message(payload.as_ref())))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}
