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
    // `baton __baton_sandbox …`: the command sandbox's launcher (see tools::sandbox).
    if let Some(code) = baton::tools::launcher::main_if_requested() {
        std::process::exit(code);
    }
    // Not dumpable: another process of the same user cannot read this one's memory or
    // /proc/<pid>/environ (where an API key may be).
    // SAFETY: PR_SET_DUMPABLE with 0 only changes this process's dumpable flag.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    if let Err(e) = color_eyre::install() {
        eprintln!("baton: cannot install the error reporter: {e}");
    }
    let cli = Cli::parse();
    let action = match cli.action() {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    // Generated from the command line alone: no configuration, keychain or log needed.
    match action {
        Action::Completions(shell) => {
            baton::cli::write_completions(shell, &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Action::Man => {
            return match baton::cli::write_man_page(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("baton: cannot write the man page: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Action::Login(provider) => return login(provider),
        Action::Logout(provider) => return logout(provider),
        _ => {}
    }
    let config = match Config::load(&cli.common) {
        Ok(c) => c,
        Err(e) => {
            say(&format!("baton: configuration error: {e}"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let _log_guard = match baton::logging::init(&config.log_dir(), &config.log_filter) {
        Ok(g) => g,
        Err(e) if e.is_fatal() => {
            say(&format!("baton: {e}"));
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            say(&format!("baton: warning: running without a log file: {e}"));
            None
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
            say(&format!("baton: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(dispatch(action, config)) {
        Ok(code) => code,
        Err(report) => {
            tracing::error!("{report:#}");
            // The message and its causes, without color-eyre's debug section: errors here
            // are the user's to read (details are in the log file).
            say(&format!("baton: {report:#}"));
            1
        }
    };
    tracing::info!(code, "baton exiting");
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn dispatch(action: Action, config: Config) -> color_eyre::Result<i32> {
    match action {
        Action::Config => {
            print_out(&config.report());
            Ok(0)
        }
        Action::Runs => {
            let runs = baton::journal::list_runs(config.data_dir())?;
            let dir = baton::journal::runs_dir(config.data_dir());
            print_out(&baton::export::runs_table(&runs, &dir));
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
        Action::Compare { a, b, json } => Ok(baton::export::compare::compare_command(
            config.data_dir(),
            &a,
            &b,
            json,
        )),
        Action::Graph { run, format } => Ok(
            match baton::export::graph::graph_command(config.data_dir(), &run, format) {
                Ok(text) => {
                    print_out(&text);
                    0
                }
                Err(code) => code,
            },
        ),
        Action::Fork {
            run,
            at,
            headless,
            json,
        } => {
            if !headless && let Some(code) = no_terminal() {
                return Ok(code);
            }
            let flagged = matches!(
                config.source("max_workers"),
                Some(baton::config::Source::Flag(_))
            );
            let max_workers = flagged.then_some(config.max_workers);
            let forked =
                match baton::export::fork::fork_run(config.data_dir(), &run, at, max_workers) {
                    Ok(f) => f,
                    Err(e) => {
                        eprintln!("baton: {e}");
                        return Ok(e.exit_code());
                    }
                };
            eprintln!(
                "baton: forked run {} at event {} as run {}",
                forked.parent, forked.at_seq, forked.run_id
            );
            for w in &forked.warnings {
                eprintln!("baton: note: {w}");
            }
            let launch = Launch::Resume { run: forked.run_id };
            if headless {
                baton::headless::run(&config, launch, json).await
            } else {
                baton::tui::run(config, launch).await
            }
        }
        Action::Rollback { run, subtask } => Ok(baton::engine::finished::rollback_command(
            config.data_dir(),
            &run,
            baton::protocol::SubtaskId(subtask),
        )),
        Action::Doctor => {
            if let Some(note) = &config.provider_note {
                print_out(&format!("note: {note}\n"));
            }
            for origin in config.key_origins() {
                print_out(&format!("key          {origin}\n"));
            }
            if let Some(note) = &config.keychain_note {
                print_out(&format!("note: {note}\n"));
            }
            let mut report = baton::doctor::run(&config.provider_settings(), &config.model).await;
            report.key_source = config.source("api_key").map(ToString::to_string);
            print_out(&format!("{report}\n"));
            print_out(&format!(
                "{}\n",
                baton::doctor::sandbox_line(&config.sandbox_options())
            ));
            let mut ok = report.ok();
            if !config.mcp_servers.is_empty() {
                let mcp = baton::doctor::mcp_servers(&config).await;
                print_out(&format!("{mcp}\n"));
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
        Action::Accept { run } => match baton::session::accept(&config, &run) {
            Ok(done) => {
                print_out(&format!("{done}\n"));
                Ok(0)
            }
            Err(e) => {
                say(&format!("baton accept: {e}"));
                Ok(e.exit_code())
            }
        },
        Action::Login(_) | Action::Logout(_) | Action::Completions(_) | Action::Man => Ok(0),
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

/// `baton login PROVIDER`: the key goes from the person straight into the OS keychain.
fn login(provider: baton::llm::ProviderKind) -> ExitCode {
    let store = baton::keychain::OsKeychain;
    match baton::keychain::login(&store, provider, || {
        baton::keychain::read_key_from_person(provider)
    }) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("baton login: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `baton logout PROVIDER`: removes the key `baton login` stored.
fn logout(provider: baton::llm::ProviderKind) -> ExitCode {
    match baton::keychain::logout(&baton::keychain::OsKeychain, provider) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("baton logout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The TUI needs a terminal on stdin and stdout. Checked before a run is created, so a
/// script that forgot `--headless` leaves no empty run behind: a usage error (2).
fn no_terminal() -> Option<i32> {
    use std::io::IsTerminal;
    if std::env::var("TERM").is_ok_and(|t| t.trim() == "dumb") {
        eprintln!(
            "baton: this terminal (TERM=dumb) cannot draw the TUI; add --headless to run \
             without it, or set TERM to your terminal's type"
        );
        return Some(EXIT_USAGE.into());
    }
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        return None;
    }
    say(
        "baton: the TUI needs an interactive terminal; add --headless to run without it \
         (scripts, CI, pipes)",
    );
    Some(EXIT_USAGE.into())
}

/// Writes to stdout; a closed pipe (`baton runs | head -1`) is not an error worth a panic.
fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// One line on stderr; never panics on a closed pipe.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
