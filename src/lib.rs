//! Baton: run and supervise LLM orchestrator-workers runs from the terminal.
//!
//! Imports point one way: `main -> tui | headless -> session -> engine -> {state, journal,
//! llm, tools} -> protocol`; docs/architecture.md has the layers, tests/it/layering.rs checks them.

pub mod cli;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod engine;
pub mod export;
pub mod headless;
pub mod instructions;
pub mod isolation;
pub mod journal;
pub mod keychain;
pub mod llm;
pub mod logging;
pub mod notify;
pub mod protocol;
pub mod resume_trust;
pub mod session;
pub mod state;
pub mod text;
pub mod tools;
pub mod tui;
