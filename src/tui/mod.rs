//! The supervision TUI: a front end over the engine. It receives `Envelope`s and `Delta`s
//! from an `EngineHandle`, keeps a replica `State` with the engine's own reducer, and sends
//! `Command`s. No orchestration logic lives here.
//!
//! Layout of this module: `app` (model + update), `input` (keys → actions), `keymap`
//! (bindings as data), `needs` (bell, auto-opened modals), `view` (draw) and one file per
//! part of the screen, `modals/` (one file per dialog), `runtime` (the loop), `terminal`
//! (the mode pair).

pub mod app;
pub mod detail;
pub mod editor;
pub mod export_doc;
pub mod footer;
pub mod header;
pub mod help;
pub mod input;
pub mod keymap;
pub mod layout;
pub mod markdown;
pub mod modals;
pub mod needs;
pub mod output;
pub mod replan_log;
pub mod runtime;
pub mod synthesis;
pub mod task_list;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod worker_panes;

pub use app::{Effect, Msg, Ui, update};
pub use view::draw;
