//! The run journal: one append-only JSONL file per run (`<data>/runs/<id>/journal.jsonl`),
//! one [`Envelope`] a line, flushed before the event is acted on; replay; the run index.

use std::path::PathBuf;

/// An open journal, appending.
pub struct Journal {
    pub path: PathBuf,
}
