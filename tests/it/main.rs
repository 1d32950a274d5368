//! The integration tests, one binary: each module is one area (its first comment says which).
//! One binary instead of ~50 keeps the debug build small (every test binary links all of
//! Baton and its dependencies) and links once. Two areas stay separate binaries because they
//! change the process environment: `tests/tools_commands.rs` and `tests/mcp.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../demo_support/mod.rs"]
mod demo_support;
#[path = "../engine_common/mod.rs"]
mod engine_common;
#[path = "../rollback_support/mod.rs"]
mod rollback_support;
#[path = "../support/mod.rs"]
mod support;
#[path = "../support/cli.rs"]
mod support_cli;
#[path = "../tools_support/mod.rs"]
mod tools_support;
#[path = "../tui_support/mod.rs"]
mod tui_support;

mod attacks_cli;
mod cli;
mod completions;
mod config;
mod config_pools;
mod config_security;
mod context_warning;
mod demo;
mod demo_runs;
mod demo_small;
mod demo_truth;
mod demo_workspace;
mod doctor;
mod engine_conflicts;
mod engine_fake_tools;
mod engine_forecast;
mod engine_http;
mod engine_intent;
mod engine_limits;
mod engine_loop;
mod engine_person;
mod engine_props;
mod engine_resume;
mod engine_tail;
mod escapes_cli;
mod evaluate_http;
mod export;
mod git_worktree;
mod git_worktree_cli;
mod git_worktree_diff;
mod headless;
mod instructions;
mod journal;
mod journal_damage;
mod journal_group;
mod journal_props;
mod keychain;
mod layering;
mod llm_adaptive;
mod llm_anthropic;
mod llm_caching;
mod llm_dispatch;
mod llm_engine;
mod llm_logs;
mod llm_openai;
mod llm_resilience;
mod llm_retry;
mod notify;
mod plan_diff;
mod plan_diff_resume;
mod plan_diff_runs;
mod plan_graph;
mod plan_tools_http;
mod provenance;
mod pty_e2e;
mod replan_conflict_http;
mod resume_kill;
mod resume_settings;
mod resume_trust;
mod rollback;
mod rollback_kill;
mod run_branch;
mod signals;
mod state_forecast;
mod state_reducer;
mod steer_engine;
mod steer_state;
mod task_once;
mod tools_changes;
mod tools_e2e;
mod tools_files;
mod tools_protected;
mod tools_sandbox;
mod tools_session;
mod tui_changes;
mod tui_dispatch;
mod tui_escapes;
mod tui_forecast;
mod tui_fork;
mod tui_input;
mod tui_intent;
mod tui_interrupted;
mod tui_keys;
mod tui_notify;
mod tui_screens;
mod tui_signals;
mod tui_steer;
mod tui_trust;
mod tui_truth;
