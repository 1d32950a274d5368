//! The supervision TUI: a front end over the engine. It receives `Envelope`s and `Delta`s
//! from an `EngineHandle`, keeps a replica `State` with the engine's own reducer, and sends
//! `Command`s. No orchestration logic lives here.
//!
//! Layout of this module: `app` (model + update), `input` (keys → actions), `keymap`
//! (bindings as data), `needs` (bell, auto-opened modals), `view` (draw) and one file per
//! part of the screen, `modals/` (one file per dialog), `runtime` (the loop), `terminal`
//! (the mode pair), `startup` (the resume-trust dialog before the engine starts).

pub mod app;
pub mod bindings;
pub mod changes;
pub mod clip;
pub mod detail;
pub mod editor;
pub mod filter;
pub mod finder;
pub mod footer;
pub mod fork_view;
pub mod graph;
pub mod header;
pub mod header_outlook;
pub mod help;
pub mod input;
pub mod keymap;
pub mod layout;
pub mod markdown;
pub mod message_log;
pub mod modals;
pub mod mouse;
pub mod needs;
pub mod output;
pub mod replan_log;
pub mod runtime;
pub mod safe;
pub mod scroll_hint;
pub mod startup;
pub mod steer_view;
pub mod synthesis;
pub mod task_list;
pub mod terminal;
pub mod textbox;
pub mod theme;
pub mod view;
pub mod view_state;
pub mod worker_panes;

pub use app::{Effect, Msg, Ui, update};
pub use view::draw;

use color_eyre::eyre::Result;

use crate::config::Config;
use crate::llm::ProviderKind;
use crate::session::{self, FrontEnd, Launch, Session};
pub use runtime::{Ending, Started, Starter};

/// The TUI's entry point: starts (or resumes) the run, or opens the task editor when the
/// task is empty, and supervises it until the person leaves. Returns the exit code: 0
/// complete, 1 failed, 3 stopped or still needing a person (resumable).
pub async fn run(mut config: Config, launch: Launch) -> Result<i32> {
    // A bad `[keys]` table is refused before a run is created.
    if let Err(e) = keymap::Keymap::with_overrides(&config.ui.keys) {
        eprintln!("baton: config: {e}");
        return Ok(2);
    }
    let first = match &launch {
        Launch::New { task } if task.trim().is_empty() => None,
        _ => match session::start(&config, launch.clone(), FrontEnd::Tui) {
            Ok(s) => Some(s),
            // The run's journal names another provider, base URL or workspace: ask in a
            // dialog before any engine starts (nothing is sent until the person answers).
            Err(session::SessionError::ResumeTrust(refusal)) => {
                let dialog = modals::trust::TrustDialog::new(refusal);
                let theme = theme::Theme::from_env(
                    config.ui.ascii,
                    config.ui.theme == crate::config::UiTheme::Light,
                );
                match startup::ask_trust(&dialog, &theme, config.ui.mouse).await? {
                    modals::trust::TrustAnswer::Today => {
                        config.resume_confirmed = true;
                        match session::start(&config, launch, FrontEnd::Tui) {
                            Ok(s) => Some(s),
                            Err(e) => {
                                eprintln!("baton: {e}");
                                return Ok(e.exit_code());
                            }
                        }
                    }
                    // As headless: refused, naming the flags that choose (exit 2).
                    modals::trust::TrustAnswer::Quit => {
                        eprintln!("baton: {}", dialog.refusal());
                        return Ok(2);
                    }
                }
            }
            Err(e) => {
                eprintln!("baton: {e}");
                return Ok(e.exit_code());
            }
        },
    };
    let shown_config = first.as_ref().map_or(config.clone(), |s| s.config.clone());
    let starter_config = config.clone();
    let starter: Starter<'_> = Box::new(move |task: String| {
        let s = session::start(&starter_config, Launch::New { task }, FrontEnd::Tui)?;
        Ok(started(s))
    });
    run_front_end(&shown_config, first.map(started), starter).await
}

fn started(s: Session) -> Started {
    Started {
        handle: s.handle,
        run_dir: Some(s.run_dir),
        warnings: s.warnings,
        replayed_up_to: s.replayed_up_to,
        instructions: s.instructions,
    }
}

/// What the screen says about the run's settings, from the effective configuration.
pub fn run_info(config: &Config) -> app::RunInfo {
    let demo = config.provider == ProviderKind::Demo;
    let banner = if demo {
        Some(match &config.provider_note {
            Some(_) => "no API key found: running on the built-in demo model \
                        (set ANTHROPIC_API_KEY or OPENAI_API_KEY to use a real one)"
                .to_string(),
            None => "running on the built-in demo model (--provider demo)".to_string(),
        })
    } else {
        None
    };
    app::RunInfo {
        provider: config.provider.to_string(),
        model: config.model.clone(),
        worker_model: config.worker_model.clone(),
        workspace: config.workspace.as_ref().map(|p| p.display().to_string()),
        approve: format!("{:?}", config.approve).to_lowercase(),
        max_workers: config.max_workers,
        demo,
        banner,
        run_dir: None,
        // The same list the engine is built with; a config error here is reported when the
        // engine is built, so the form falls back to the default roles.
        roles: crate::session::engine_roles(config)
            .map(|roles| roles.into_iter().map(|r| r.name).collect())
            .unwrap_or_default(),
    }
}

/// Runs the TUI over a started engine (or the task editor when `first` is `None`, using
/// `starter` to start the run), restores the terminal on every path, prints the run id and
/// how to reopen it, and returns the exit code (0 complete, 1 failed, 3 stopped/open).
pub async fn run_front_end(
    config: &Config,
    first: Option<Started>,
    starter: Starter<'_>,
) -> Result<i32> {
    let light = config.ui.theme == crate::config::UiTheme::Light;
    let theme = theme::Theme::from_env(config.ui.ascii, light);
    let options = app::UiOptions {
        // `Effect::Bell` means "something new needs the person"; the notifier decides.
        bell: config.ui.notify != crate::notify::NotifyMode::Off
            || config.ui.notify_command.is_some(),
        mouse: config.ui.mouse,
    };
    let keymap = match keymap::Keymap::with_overrides(&config.ui.keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("baton: config: {e}");
            return Ok(2);
        }
    };
    let mut ui = Ui::new(run_info(config), theme, options, chrono::Utc::now());
    ui.keymap = keymap;
    ui.notifier = crate::notify::Notifier::new(
        config.ui.notify,
        config.ui.notify_command.clone(),
        crate::notify::TerminalKind::from_env(),
    );
    let engine = match first {
        Some(s) => {
            if s.replayed_up_to > 0 {
                ui.replayed_up_to = s.replayed_up_to;
                ui.restore = s.run_dir.as_deref().and_then(view_state::load);
            }
            ui.info.run_dir = s.run_dir;
            ui.flash = s.warnings.first().cloned();
            ui.live_from = s.replayed_up_to;
            ui.instructions = s.instructions;
            Some(s.handle)
        }
        None => {
            ui = ui.with_editor();
            None
        }
    };
    let (mut terminal, guard) = terminal::enter(options.mouse)?;
    let ending = runtime::run_loop(&mut terminal, &mut ui, engine, starter).await;
    drop(guard);
    let ending = ending?;
    if ending == Ending::NoRun {
        return Ok(0);
    }
    if let Some(dir) = &ui.info.run_dir {
        view_state::save(dir, &view_state::capture(&ui));
    }
    println!("{}", farewell(&ui));
    Ok(ui.exit_code())
}

/// The lines printed after the terminal is restored.
pub fn farewell(ui: &Ui) -> String {
    let id = ui.run_id();
    let status = match &ui.state.outcome {
        Some(crate::protocol::RunOutcome::Completed) => "complete".to_string(),
        Some(crate::protocol::RunOutcome::Failed { reason }) => format!("failed: {reason}"),
        Some(crate::protocol::RunOutcome::Stopped { reason }) => format!("stopped: {reason}"),
        None => "stopped".to_string(),
    };
    let mut out = format!("Run {id}: {status}.\n");
    if let Some(dir) = &ui.info.run_dir {
        out.push_str(&format!("Journal and files: {}\n", dir.display()));
    }
    out.push_str(&format!("Reopen it with: baton resume {id}"));
    out
}
