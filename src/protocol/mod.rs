//! The run's vocabulary, a leaf everyone may import: ids, [`Event`]s and their
//! [`Envelope`] (the journal's record), [`Command`]s, the run's settings and limits, the
//! data of a model call the journal records (usage, retries, tool calls), and the LLM
//! protocol (`model`: tool names, argument types, context blocks; `schemas`: their JSON
//! Schemas and the checker).
//!
//! Pure data with serde: imports nothing of this crate and no clap, no tokio. Every item is
//! reached as `crate::protocol::Name`, except the LLM protocol's (`protocol::model::*`,
//! `protocol::schemas::*`).

mod calls;
mod command;
mod event;
mod forecast;
mod ids;
pub mod model;
mod payload;
mod plan_diff;
pub mod schemas;
mod settings;
mod steer;

pub use calls::*;
pub use command::*;
pub use event::*;
pub use forecast::*;
pub use ids::*;
pub use payload::*;
pub use plan_diff::*;
pub use settings::*;
pub use steer::*;
