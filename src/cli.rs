//! The command line: clap definitions exactly as DESIGN.md "Command line" gives them, and
//! the checks that turn a parsed command line into one [`Action`].
//!
//! Owns: flags, subcommands, help text, usage validation (every usage error is a clap error,
//! printed with the usage line, exit code 2). Must not read the config file or the
//! environment (that is `config`), nor start anything (that is `main`).

use std::io::Read;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};

pub use crate::export::ExportFormat;
pub use crate::export::fork::ForkPoint;
pub use crate::export::graph::GraphFormat;
use crate::llm::ProviderKind;
use crate::protocol::ApprovalPolicy;

mod action;
pub use action::Action;

const AFTER_HELP: &str = "\
Examples:
  baton                                   open the TUI and type a task there
  baton \"Add rate limiting to the API\"    start a run in the TUI
  baton --headless \"Write a haiku\"        no TUI: progress on stderr, result on stdout
  baton --headless --json --task-file t.md > events.jsonl
  baton --provider openai --base-url http://localhost:11434/v1 --model llama3.1 \"...\"
  baton resume latest                     reopen the newest run in the TUI
  baton runs                              list runs
  baton export latest --format md -o report.md
  baton doctor                            check provider, key, model and tool support
  baton config                            show every setting and where it came from
  baton login anthropic                   store a key in the OS keychain
  baton completions zsh                   print a shell completion script

With no provider configured and no API key in the environment, Baton runs on the built-in
`demo` provider (a simulated model) and says so.
Exit codes: 0 complete, 1 failed, 2 usage or config error, 3 stopped needing a person.";

const AFTER_LONG_HELP: &str = "\
Examples:
  baton                                   open the TUI and type a task there
  baton \"Add rate limiting to the API\"    start a run in the TUI
  baton --headless \"Write a haiku\"        no TUI: progress on stderr, result on stdout
  baton --headless --json --task-file t.md > events.jsonl
  baton --provider openai --base-url http://localhost:11434/v1 --model llama3.1 \"...\"
  baton resume latest                     reopen the newest run in the TUI
  baton resume 20261126 --headless        continue a run without the TUI
  baton runs                              list runs
  baton export latest --format md -o report.md
  baton fork latest --at d3 --approve auto   redo a run from before its 3rd decision
  baton compare RUN RUN                   two runs side by side (add --json)
  baton doctor                            check provider, key, model and tool support
  baton config                            show every setting and where it came from
  baton login anthropic                   store a key in the OS keychain (input hidden)
  baton completions bash                  print a completion script (bash, zsh, fish, ...)
  baton man > baton.1                     print the man page

RUN is a run id, a unique prefix of one, or `latest`.

Settings come from, highest first: flags, environment, the config file, defaults. A key
comes from --api-key-file, then the environment, then the OS keychain (`baton login`),
then the config file.
Environment:
  ANTHROPIC_API_KEY    key for --provider anthropic (also selects it when no provider is set)
  OPENAI_API_KEY       key for --provider openai (also selects it when no provider is set)
  OPENAI_BASE_URL      base URL for the OpenAI-compatible provider
  ANTHROPIC_BASE_URL   base URL for the Anthropic provider
  BATON_PROVIDER       provider (anthropic, openai, demo)
  BATON_MODEL          orchestrator model
  BATON_LOG            log filter (like --log-level)
  BATON_HOME           one directory for both config (config.toml) and data (data/)

Files: the config file is config.toml in the platform config directory (see `baton
config`); runs and logs live in the data directory (runs/<id>/journal.jsonl, logs/baton.log).

Exit codes: 0 complete, 1 failed, 2 usage or config error, 3 stopped needing a person
(continue with `baton resume RUN`).";

/// Run and supervise LLM orchestrator-workers runs from the terminal.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "baton",
    version,
    about = "Run and supervise LLM orchestrator-workers runs from the terminal",
    long_about = "Run and supervise LLM orchestrator-workers runs from the terminal.\n\n\
        An orchestrator model breaks the task into subtasks as the work proceeds, hands each \
        to a specialised worker model, replans after every report and synthesises the \
        result. You watch it live in the TUI and steer it: approve or defer subtasks, answer \
        scope alerts, resolve escalations. --headless runs it without a screen.",
    after_help = AFTER_HELP,
    after_long_help = AFTER_LONG_HELP,
    override_usage = "baton [OPTIONS] [TASK]...\n       baton [OPTIONS] <COMMAND>",
    max_term_width = 100
)]
pub struct Cli {
    /// The task to run. Several words are joined with spaces. Without it the TUI asks for one.
    #[arg(value_name = "TASK")]
    pub task: Vec<String>,

    /// Run without the TUI: progress lines on stderr, the deliverable on stdout. Never waits
    /// for input: anything that needs a person stops the run with exit code 3.
    #[arg(long, global = true)]
    pub headless: bool,

    /// With --headless: write every event as one JSON line on stdout (the journal's format)
    /// instead of the deliverable.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(flatten)]
    pub common: CommonArgs,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Flags shared by every command. Any of them may be given before or after a subcommand.
/// A flag left out means "not set here" (the environment, the file or the default decide).
#[derive(Debug, Clone, Default, Args)]
pub struct CommonArgs {
    /// Who answers: a real API or the built-in simulated model.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "NAME",
        help_heading = "Provider"
    )]
    pub provider: Option<ProviderKind>,

    /// The orchestrator model (also the worker model unless --worker-model is given).
    #[arg(long, global = true, value_name = "M", help_heading = "Provider")]
    pub model: Option<String>,

    /// The model workers use (a role in the config may override it).
    #[arg(long, global = true, value_name = "M", help_heading = "Provider")]
    pub worker_model: Option<String>,

    /// API base URL, e.g. http://localhost:11434/v1 for Ollama.
    #[arg(long, global = true, value_name = "URL", value_parser = parse_url, help_heading = "Provider")]
    pub base_url: Option<String>,

    /// At most this many workers at once (1-64).
    #[arg(long, global = true, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Run")]
    pub max_workers: Option<u32>,

    /// Which new work waits for a person: auto = only escalations; scope = discovered
    /// subtasks, scope alerts, escalations; all = every new subtask too.
    #[arg(
        long,
        global = true,
        value_parser = approval_parser(),
        value_name = "POLICY",
        help_heading = "Run"
    )]
    pub approve: Option<ApprovalPolicy>,

    /// Cost budget in US dollars; reaching it raises a scope alert.
    #[arg(long, global = true, value_name = "X", value_parser = parse_budget, help_heading = "Run")]
    pub budget_usd: Option<f64>,

    /// At most this many subtasks before a scope alert (0 = unlimited).
    #[arg(long, global = true, value_name = "N", help_heading = "Run")]
    pub max_subtasks: Option<u32>,

    /// At most this many replan cycles before a scope alert (0 = unlimited).
    #[arg(long, global = true, value_name = "N", help_heading = "Run")]
    pub max_cycles: Option<u32>,

    /// Run an evaluator pass on the synthesis; it may send work back into the loop.
    #[arg(long, global = true, help_heading = "Run")]
    pub evaluate: bool,

    /// Evaluator rounds whose findings may reopen work (default 1).
    #[arg(long, global = true, value_name = "N", help_heading = "Run",
          value_parser = clap::value_parser!(u32).range(0..=crate::protocol::MAX_EVALUATE_ROUNDS as i64))]
    pub evaluate_rounds: Option<u32>,

    /// Read the task from this file (`-` reads standard input).
    #[arg(long, global = true, value_name = "F", help_heading = "Run")]
    pub task_file: Option<PathBuf>,

    /// Directory the workers may read (and write, unless --read-only).
    #[arg(long, global = true, value_name = "DIR", help_heading = "Workspace")]
    pub workspace: Option<PathBuf>,

    /// Workers may read the workspace but not change it.
    #[arg(long, global = true, help_heading = "Workspace")]
    pub read_only: bool,

    /// Workers may run any command in the workspace without asking. Without it, a command
    /// not in the config's `allow` list needs a person's approval (TUI) or is denied
    /// (headless).
    #[arg(long, global = true, help_heading = "Workspace")]
    pub allow_commands: bool,

    /// Let workers' commands use the network (the command sandbox denies it otherwise).
    #[arg(long, global = true, help_heading = "Workspace")]
    pub allow_network: bool,

    /// Where writing workers work: `worktree` gives each its own git worktree and branch,
    /// merged into the run's branch `baton/<run id>` on report (your working tree is not
    /// touched until you accept it); `none` (default) writes in the workspace.
    #[arg(
        long,
        global = true,
        value_name = "MODE",
        value_parser = ["worktree", "none"],
        help_heading = "Workspace"
    )]
    pub isolation: Option<String>,

    /// With `--isolation worktree`: a worker's branch that does not merge goes to a
    /// recovery decision by the orchestrator (`recover`, default) or to you (`person`),
    /// with the conflicting hunks.
    #[arg(
        long,
        global = true,
        value_name = "WHO",
        value_parser = ["recover", "person"],
        help_heading = "Workspace"
    )]
    pub merge_conflicts: Option<String>,

    /// Do not give the workspace's AGENTS.md / CLAUDE.md files to the models.
    #[arg(long, global = true, help_heading = "Workspace")]
    pub no_project_instructions: bool,

    /// Read the API key from this file (instead of ANTHROPIC_API_KEY / OPENAI_API_KEY, the
    /// keychain or the config file). A key on the command line would show in `ps` and shell
    /// history, so there is no flag for the key itself.
    #[arg(long, global = true, value_name = "F", help_heading = "Provider")]
    pub api_key_file: Option<PathBuf>,

    /// Run this program when the run needs you or finishes while the terminal is not
    /// focused; the message is its last argument (no shell: words split on spaces).
    #[arg(
        long,
        global = true,
        value_name = "CMD",
        help_heading = "Configuration"
    )]
    pub notify_command: Option<String>,

    /// Use this config file instead of the default one.
    #[arg(long, global = true, value_name = "F", help_heading = "Configuration")]
    pub config: Option<PathBuf>,

    /// Log filter for the log file: a level (trace, debug, info, warn, error, off) or
    /// tracing directives such as `baton=debug,reqwest=info`.
    #[arg(long, global = true, value_name = "L", help_heading = "Configuration")]
    pub log_level: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// Reopen a run from its journal and continue it (TUI, or --headless).
    Resume {
        /// A run id, a unique prefix of one, or `latest`.
        #[arg(value_name = "RUN", default_value = "latest")]
        run: String,
    },
    /// List runs, newest first.
    Runs,
    /// Write a run's report: deliverable, execution summary, subtasks, replan log.
    Export {
        /// A run id, a unique prefix of one, or `latest`.
        #[arg(value_name = "RUN")]
        run: String,
        /// md: a Markdown report; json: the same as a structured object.
        #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
        format: ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Start a new run from a prefix of another run's journal and continue it (TUI, or
    /// --headless). Flags such as --model, --max-workers and --approve apply to the fork.
    Fork {
        /// A run id, a unique prefix of one, or `latest`.
        #[arg(value_name = "RUN")]
        run: String,
        /// Where to fork: an event number (keeps events 1..=SEQ) or a decision `dN` (keeps
        /// the events before it, so it is made again), as `baton export --format json` lists.
        #[arg(long, value_name = "SEQ|dN")]
        at: ForkPoint,
    },
    /// Show two runs side by side: outcome, subtasks, cost, time and decisions (--json for
    /// one JSON object).
    Compare {
        /// The first run.
        #[arg(value_name = "RUN")]
        a: String,
        /// The second run.
        #[arg(value_name = "RUN")]
        b: String,
    },
    /// Show a run's plan as a graph: subtasks in dependency layers, the critical path and
    /// the estimated time to finish (text, Graphviz dot, or JSON).
    Graph {
        /// A run id, a unique prefix of one, or `latest`.
        #[arg(value_name = "RUN")]
        run: String,
        /// text: for a person; dot: Graphviz (`| dot -Tsvg > plan.svg`); json: for scripts.
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Roll back one subtask's file changes in a run no process holds (a finished or
    /// stopped run): restores each file's content before the subtask, journaled.
    Rollback {
        /// A run id, a unique prefix of one, or `latest`.
        #[arg(value_name = "RUN")]
        run: String,
        /// The subtask: `3` or `#3`.
        #[arg(value_name = "SUBTASK", value_parser = parse_subtask)]
        subtask: u32,
    },
    /// Check the provider, key, model and tool support with one small real request.
    Doctor,
    /// Print the effective configuration and where each value came from.
    Config,
    /// Store an API key in the OS keychain (read without echo, or from standard input).
    Login {
        #[arg(value_enum, value_name = "PROVIDER")]
        provider: KeyProvider,
    },
    /// Remove the key `baton login` stored for a provider from the OS keychain.
    Logout {
        #[arg(value_enum, value_name = "PROVIDER")]
        provider: KeyProvider,
    },
    /// Merge a worktree run's branch (`baton/<run id>`) into the branch checked out in its
    /// workspace, then remove the run's worktrees (`--isolation worktree`).
    Accept {
        /// A run id, a unique prefix of one, or `latest`.
        #[arg(value_name = "RUN")]
        run: String,
    },
    /// Print a shell completion script (e.g. `baton completions bash > ~/.local/share/bash-completion/completions/baton`).
    Completions {
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on standard output (e.g. `baton man > baton.1`).
    Man,
}

/// A provider whose key `baton login` stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyProvider {
    Anthropic,
    Openai,
}

impl From<KeyProvider> for ProviderKind {
    fn from(p: KeyProvider) -> Self {
        match p {
            KeyProvider::Anthropic => ProviderKind::Anthropic,
            KeyProvider::Openai => ProviderKind::Openai,
        }
    }
}

fn parse_url(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.starts_with("http://") || t.starts_with("https://") {
        Ok(t.trim_end_matches('/').to_string())
    } else {
        Err(format!(
            "`{s}` is not an http(s) URL; write it like https://api.openai.com/v1"
        ))
    }
}

fn parse_budget(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_start_matches('$')
        .parse()
        .map_err(|_| format!("`{s}` is not a number of US dollars (e.g. 2.50)"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("the budget must be more than 0 (got {s})"))
    }
}

/// `3` or `#3` → 3 (subtask numbers start at 1).
fn parse_subtask(s: &str) -> Result<u32, String> {
    let t = s.trim();
    match t.strip_prefix('#').unwrap_or(t).parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a subtask number; write it like 3 or #3"
        )),
    }
}

fn usage_error(kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    Cli::command().error(kind, message)
}

impl Cli {
    /// Checks what clap cannot and decides what to do. Reads `--task-file` (or stdin for
    /// `-`). Every error is a usage error: `err.exit()` prints it and exits with code 2.
    pub fn action(&self) -> Result<Action, clap::Error> {
        let compare = matches!(self.command, Some(Cmd::Compare { .. }));
        if self.json && !self.headless && !compare {
            return Err(usage_error(
                ErrorKind::ArgumentConflict,
                "--json only applies to headless runs; add --headless",
            ));
        }
        let running = matches!(
            self.command,
            None | Some(Cmd::Resume { .. } | Cmd::Fork { .. })
        );
        if self.headless && !running {
            return Err(usage_error(
                ErrorKind::ArgumentConflict,
                "--headless applies to starting a run, `resume` or `fork`, not to this command",
            ));
        }
        if self.common.task_file.is_some() && self.command.is_some() {
            return Err(usage_error(
                ErrorKind::ArgumentConflict,
                "--task-file only applies when starting a new run (no subcommand)",
            ));
        }
        match &self.command {
            None => {
                let task = self.task_text()?;
                if self.headless && task.trim().is_empty() {
                    return Err(usage_error(
                        ErrorKind::MissingRequiredArgument,
                        "--headless needs a task: give TASK or --task-file F \
                         (e.g. baton --headless \"Write a haiku\")",
                    ));
                }
                Ok(Action::Run {
                    task,
                    headless: self.headless,
                    json: self.json,
                })
            }
            Some(Cmd::Resume { run }) => Ok(Action::Resume {
                run: non_empty_run(run)?,
                headless: self.headless,
                json: self.json,
            }),
            Some(Cmd::Runs) => Ok(Action::Runs),
            Some(Cmd::Export {
                run,
                format,
                output,
            }) => Ok(Action::Export {
                run: non_empty_run(run)?,
                format: *format,
                output: output.clone(),
            }),
            Some(Cmd::Fork { run, at }) => Ok(Action::Fork {
                run: non_empty_run(run)?,
                at: *at,
                headless: self.headless,
                json: self.json,
            }),
            Some(Cmd::Compare { a, b }) => Ok(Action::Compare {
                a: non_empty_run(a)?,
                b: non_empty_run(b)?,
                json: self.json,
            }),
            Some(Cmd::Graph { run, format }) => Ok(Action::Graph {
                run: non_empty_run(run)?,
                format: *format,
            }),
            Some(Cmd::Rollback { run, subtask }) => Ok(Action::Rollback {
                run: non_empty_run(run)?,
                subtask: *subtask,
            }),
            Some(Cmd::Doctor) => Ok(Action::Doctor),
            Some(Cmd::Config) => Ok(Action::Config),
            Some(Cmd::Login { provider }) => Ok(Action::Login((*provider).into())),
            Some(Cmd::Logout { provider }) => Ok(Action::Logout((*provider).into())),
            Some(Cmd::Accept { run }) => Ok(Action::Accept { run: run.clone() }),
            Some(Cmd::Completions { shell }) => Ok(Action::Completions(*shell)),
            Some(Cmd::Man) => Ok(Action::Man),
        }
    }

    /// The task from TASK words or from `--task-file` (never both), trimmed.
    fn task_text(&self) -> Result<String, clap::Error> {
        let words = self.task.join(" ");
        match &self.common.task_file {
            Some(_) if !words.trim().is_empty() => Err(usage_error(
                ErrorKind::ArgumentConflict,
                "give the task either as TASK or with --task-file, not both",
            )),
            Some(path) if path.as_os_str() == "-" => {
                let mut text = String::new();
                let ceiling = crate::protocol::MAX_TASK_BYTES_CEILING;
                std::io::stdin()
                    .take(ceiling + 1)
                    .read_to_string(&mut text)
                    .map_err(|e| {
                        usage_error(
                            ErrorKind::Io,
                            format!("cannot read the task from standard input: {e}"),
                        )
                    })?;
                too_large(text.len() as u64, "standard input")?;
                Ok(text.trim().to_string())
            }
            Some(path) => match std::fs::metadata(path)
                .map(|m| too_large(m.len(), &path.display().to_string()))
            {
                Ok(Err(e)) => Err(e),
                _ => match std::fs::read_to_string(path) {
                    Ok(text) => Ok(text.trim().to_string()),
                    Err(e) => Err(usage_error(
                        ErrorKind::Io,
                        format!(
                            "cannot read the task file {}: {e}; check the path given to --task-file",
                            path.display()
                        ),
                    )),
                },
            },
            None => Ok(words.trim().to_string()),
        }
    }
}

/// Refuses a task file (or standard input) larger than any task Baton accepts, before
/// reading it whole (`limits.max_task_bytes` is checked once the config is loaded).
fn too_large(len: u64, what: &str) -> Result<(), clap::Error> {
    let ceiling = crate::protocol::MAX_TASK_BYTES_CEILING;
    if len > ceiling {
        return Err(usage_error(
            ErrorKind::Io,
            format!(
                "the task in {what} is larger than {ceiling} bytes (16 MiB), the most any task \
                 may be; put large material in the workspace for workers to read"
            ),
        ));
    }
    Ok(())
}

/// Writes the completion script for `shell`, generated from these clap definitions.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut Cli::command(), "baton", out);
}

/// Writes the man page (roff), generated from these clap definitions.
pub fn write_man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

fn non_empty_run(run: &str) -> Result<String, clap::Error> {
    let run = run.trim();
    if run.is_empty() {
        Err(usage_error(
            ErrorKind::InvalidValue,
            "RUN is empty; give a run id, a unique prefix of one, or `latest` (see `baton runs`)",
        ))
    } else {
        Ok(run.to_string())
    }
}

/// `--approve`: the policy's names with their help (the enum is pure data in `protocol`,
/// so clap's possible values are listed here).
fn approval_parser() -> impl clap::builder::TypedValueParser<Value = ApprovalPolicy> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("auto").help("Only escalations wait for a person"),
        PossibleValue::new("scope")
            .help("Discovered subtasks, scope alerts and escalations wait for a person"),
        PossibleValue::new("all")
            .help("Every new subtask waits for a person (plus scope alerts and escalations)"),
        PossibleValue::new("plan").help("Every replan's changes are a diff a person approves"),
    ])
    .try_map(|s| s.parse::<ApprovalPolicy>())
}

#[cfg(test)]
mod tests;
