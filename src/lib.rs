//! Baton: run and supervise LLM orchestrator-workers runs from the terminal.
//!
//! Imports point one way: `cli/main -> tui | headless -> engine -> {journal, llm, tools}`.

pub mod cli;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod engine;
pub mod export;
pub mod headless;
pub mod instructions;
pub mod journal;
pub mod keychain;
pub mod llm;
pub mod logging;
pub mod notify;
pub mod session;
pub mod tools;
pub mod tui;
