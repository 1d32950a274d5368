//! The `baton` binary: command line → configuration → logging → one command.
//!
//! Thin on purpose: parsing lives in `cli`, settings in `config`, the work in `headless`,
//! `tui`, `export`, `doctor` and `journal`. Exit codes: 0 complete, 1 failed, 2 usage or
//! config error, 3 stopped needing a person.

use std::process::ExitCode;

use clap::Parser;

use baton::cli::{Action, Cli};
use baton::config::Config;
use baton::session::Launch;

/// Exit code for a usage or configuration error.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("baton: cannot install the error reporter: {e}");
    }
    let cli = Cli::parse();
    let action = match cli.action() {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let config = match Config::load(&cli.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("baton: configuration error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let _log_guard = match baton::logging::init(&config.log_dir(), &config.log_filter) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("baton: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // The task text may be long or private: only the command's name at info level.
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        command = action.name(),
        "baton starting"
    );
    tracing::debug!(?action, "command line");
    tracing::debug!(?config, "effective configuration");

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("baton: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(dispatch(action, config)) {
        Ok(code) => code,
        Err(report) => {
            tracing::error!("{report:#}");
            // The message and its causes, without color-eyre's debug section: errors here
            // are the user's to read (details are in the log file).
            eprintln!("baton: {report:#}");
            1
        }
    };
    tracing::info!(code, "baton exiting");
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn dispatch(action: Action, config: Config) -> color_eyre::Result<i32> {
    match action {
        Action::Config => {
            print!("{}", config.report());
            Ok(0)
        }
        Action::Runs => {
            let runs = baton::journal::list_runs(config.data_dir())?;
            let dir = baton::journal::runs_dir(config.data_dir());
            print!("{}", baton::export::runs_table(&runs, &dir));
            Ok(0)
        }
        Action::Export {
            run,
            format,
            output,
        } => Ok(baton::export::export_command(
            config.data_dir(),
            &run,
            format,
            output.as_deref(),
        )),
        Action::Doctor => {
            if let Some(note) = &config.provider_note {
                println!("note: {note}");
            }
            let report = baton::doctor::run(&config.provider_settings(), &config.model).await;
            println!("{report}");
            let mut ok = report.ok();
            if !config.mcp_servers.is_empty() {
                let mcp = baton::doctor::mcp_servers(&config).await;
                println!("{mcp}");
                ok &= mcp.ok();
            }
            Ok(if ok { 0 } else { 1 })
        }
        Action::Run {
            task,
            headless,
            json,
        } => {
            if headless {
                baton::headless::run(&config, Launch::New { task }, json).await
            } else if let Some(code) = no_terminal() {
                Ok(code)
            } else {
                baton::tui::run(config, Launch::New { task }).await
            }
        }
        Action::Resume {
            run,
            headless,
            json,
        } => {
            if headless {
                baton::headless::run(&config, Launch::Resume { run }, json).await
            } else if let Some(code) = no_terminal() {
                Ok(code)
            } else {
                baton::tui::run(config, Launch::Resume { run }).await
            }
        }
    }
}

/// The TUI needs a terminal on stdin and stdout. Checked before a run is created, so a
/// script that forgot `--headless` leaves no empty run behind: a usage error (2).
fn no_terminal() -> Option<i32> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        return None;
    }
    eprintln!(
        "baton: the TUI needs an interactive terminal; add --headless to run without it \
         (scripts, CI, pipes)"
    );
    Some(EXIT_USAGE.into())
}
