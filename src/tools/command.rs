//! `run_command`'s process side: the allow-list rule, running a program (argv) or a shell
//! line (`sh -c`) in a directory with a timeout (through the sandbox launcher, see
//! [`super::sandbox`]), killing it and every process it started when it ends or runs too
//! long, and collecting bounded output.
//!
//! Must not ask for approval (the workspace does, through the `ToolHost`) and must not pass
//! secrets to commands: a command's environment is an allow list
//! ([`super::sandbox::command_environment`]), never Baton's own.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::error::ToolError;
use super::sandbox::{
    CommandTemp, SandboxMode, SandboxOptions, command_environment, launcher_args, program_exists,
};
use super::text::{HeadTail, one_line};

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSpec {
    /// A program and its arguments, no shell.
    Argv(Vec<String>),
    /// A shell line run with `sh -c`.
    Shell(String),
}

impl CommandSpec {
    /// The command as a person reads it (and as allow-list patterns match it): the shell
    /// line as given, or the argv joined with shell quoting where needed.
    pub fn display(&self) -> String {
        match self {
            CommandSpec::Shell(line) => line.trim().to_string(),
            CommandSpec::Argv(argv) => argv
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Characters that let a shell line do more than run one command with arguments.
const SHELL_CONTROL: &[char] = &[
    ';', '&', '|', '`', '$', '<', '>', '(', ')', '{', '}', '\n', '\r', '\\', '!',
];

/// Whether an allow-list `pattern` allows `spec`.
///
/// A pattern is either an exact command (`cargo test`) or a prefix followed by `*`
/// (`cargo test*`, `ls *`, or `*` for everything). For a shell line, a prefix pattern
/// only matches when the rest of the line has no shell control characters
/// (`; & | $ \` < > ( ) { } \ !` or a line break), so `cargo test*` never allows
/// `cargo test; rm -rf ~`.
pub fn pattern_allows(pattern: &str, spec: &CommandSpec) -> bool {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return false;
    }
    let command = spec.display();
    match pattern.strip_suffix('*') {
        Some(prefix) => {
            let Some(rest) = command.strip_prefix(prefix) else {
                return false;
            };
            match spec {
                CommandSpec::Shell(_) => !rest.contains(SHELL_CONTROL),
                CommandSpec::Argv(_) => true,
            }
        }
        None => pattern == command,
    }
}

/// How a command ended.
#[derive(Debug)]
pub struct CommandOutcome {
    /// Exit code, when it exited normally.
    pub exit_code: Option<i32>,
    /// Signal that ended it (Unix), when it did not exit normally.
    pub signal: Option<i32>,
    pub timed_out: bool,
    /// Output was still open after the process ended and was abandoned.
    pub output_abandoned: bool,
    pub stdout: HeadTail,
    pub stderr: HeadTail,
    /// For the model, when a confined command failed: what the sandbox denies (so a
    /// "Permission denied" is not mistaken for file permissions).
    pub sandbox_note: Option<String>,
}

/// How long to keep reading output after the process has ended (a background process it
/// started may hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_secs(5);

/// One command to run.
#[derive(Debug, Clone, Copy)]
pub struct CommandRun<'a> {
    pub spec: &'a CommandSpec,
    /// An existing directory inside the workspace.
    pub cwd: &'a Path,
    /// The workspace root: the only place (with the command's temp dir) a confined command
    /// may write.
    pub workspace: &'a Path,
    /// The command and everything it started are killed after this.
    pub timeout: Duration,
    /// Each stream keeps at most this many bytes from its head and from its tail.
    pub keep: usize,
}

/// Runs a command under `sandbox` (see [`super::sandbox`]): with an allow-listed
/// environment and a private `TMPDIR`; through the launcher when there is one (confined,
/// and every descendant killed when it ends, times out, or this call is dropped), else
/// directly in its own process group, killed as a group.
pub async fn run(
    r: &CommandRun<'_>,
    sandbox: &SandboxOptions,
) -> Result<CommandOutcome, ToolError> {
    let argv: Vec<OsString> = match r.spec {
        CommandSpec::Argv(argv) => argv.iter().map(OsString::from).collect(),
        CommandSpec::Shell(line) => vec!["sh".into(), "-c".into(), line.into()],
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(ToolError::Invalid(
            "argv is empty; give the program to run".into(),
        ));
    };
    let shown = one_line(&r.spec.display(), 80);
    let tmp = CommandTemp::create().map_err(|e| {
        ToolError::Io(format!(
            "could not create a temporary directory for `{shown}`: {e}"
        ))
    })?;
    let env = command_environment(std::env::vars_os(), &sandbox.command_env, Some(tmp.path()));
    let mut command = match &sandbox.launcher {
        Some(launcher) => {
            let path = env
                .iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.as_os_str());
            if !program_exists(&program.to_string_lossy(), path, r.cwd) {
                return Err(ToolError::Io(format!(
                    "could not start `{shown}`: `{}` was not found (PATH: {})",
                    program.to_string_lossy(),
                    path.map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "unset".into())
                )));
            }
            let confine = sandbox.confined();
            let network = sandbox.network || sandbox.mode == SandboxMode::Off;
            let mut c = Command::new(launcher);
            c.args(launcher_args(
                confine,
                network,
                &[r.workspace, tmp.path()],
                &argv,
            ))
            .stdin(Stdio::piped())
            // Dropping this call closes the launcher's stdin, which kills the tree; a
            // SIGKILL would let `setsid` descendants escape.
            .kill_on_drop(false);
            c
        }
        None => {
            let mut c = Command::new(program);
            c.args(args).stdin(Stdio::null()).kill_on_drop(true);
            c
        }
    };
    command
        .current_dir(r.cwd)
        .env_clear()
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| ToolError::Io(format!("could not start `{shown}`: {e}")))?;
    let pid = child.id();
    // Held open for as long as the command may run: the launcher ends everything when it
    // closes.
    let mut launcher_pipe = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_task = tokio::spawn(collect(stdout, r.keep));
    let err_task = tokio::spawn(collect(stderr, r.keep));

    let (status, timed_out): (Option<ExitStatus>, bool) =
        match tokio::time::timeout(r.timeout, child.wait()).await {
            Ok(Ok(status)) => (Some(status), false),
            Ok(Err(e)) => {
                drop(launcher_pipe.take());
                kill_group(pid);
                return Err(ToolError::Io(format!("waiting for `{shown}` failed: {e}")));
            }
            Err(_) if launcher_pipe.is_some() => {
                // The launcher kills the command and its descendants, then exits.
                drop(launcher_pipe.take());
                (child.wait().await.ok(), true)
            }
            Err(_) => {
                kill_group(pid);
                let _ = child.start_kill();
                (child.wait().await.ok(), true)
            }
        };
    drop(launcher_pipe);
    // Whatever it left running in its group goes too: commands do not outlive their call.
    kill_group(pid);

    let mut output_abandoned = false;
    let stdout = finish(out_task, r.keep, &mut output_abandoned).await;
    let stderr = finish(err_task, r.keep, &mut output_abandoned).await;
    let (exit_code, signal) = match status {
        Some(s) => (s.code(), exit_signal(&s)),
        None => (None, None),
    };
    let failed = timed_out || exit_code != Some(0);
    let sandbox_note = (failed && sandbox.confined()).then(|| {
        let network = if sandbox.network {
            "with network access"
        } else {
            "without network access"
        };
        format!(
            "note: the command ran in Baton's sandbox, {network}; it may write only inside the \
             workspace and its $TMPDIR, so \"Permission denied\" or \"Operation not permitted\" \
             elsewhere comes from the sandbox, not from file permissions"
        )
    });
    drop(tmp);
    Ok(CommandOutcome {
        exit_code,
        signal,
        timed_out,
        output_abandoned,
        stdout,
        stderr,
        sandbox_note,
    })
}

async fn collect<R: AsyncRead + Unpin>(stream: Option<R>, keep: usize) -> HeadTail {
    let mut buf = HeadTail::new(keep);
    let Some(mut stream) = stream else {
        return buf;
    };
    let mut chunk = vec![0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.push(&chunk[..n]),
        }
    }
    buf
}

async fn finish(
    task: tokio::task::JoinHandle<HeadTail>,
    keep: usize,
    abandoned: &mut bool,
) -> HeadTail {
    let abort = task.abort_handle();
    match tokio::time::timeout(OUTPUT_GRACE, task).await {
        Ok(Ok(buf)) => buf,
        Ok(Err(_)) => HeadTail::new(keep),
        Err(_) => {
            abort.abort();
            *abandoned = true;
            HeadTail::new(keep)
        }
    }
}

/// Environment variable names that look like credentials: never passed to commands, even
/// when listed in `command_env` (which refuses them).
pub fn is_secret_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("BATON_")
        || upper.ends_with("_PAT")
        || [
            "KEY",
            "TOKEN",
            "SECRET",
            "PASSWORD",
            "PASSWD",
            "CREDENTIAL",
            "AUTH",
        ]
        .iter()
        .any(|word| upper.contains(word))
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: killpg only sends a signal; the group id is the one our child leads
    // (spawned with `process_group(0)`); ESRCH (group gone) is ignored.
    unsafe {
        libc::killpg(pid, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

#[cfg(unix)]
fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn exit_signal(_status: &ExitStatus) -> Option<i32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(s: &str) -> CommandSpec {
        CommandSpec::Shell(s.to_string())
    }

    #[test]
    fn patterns_exact_and_prefix() {
        assert!(pattern_allows("cargo test", &shell("cargo test")));
        assert!(!pattern_allows("cargo test", &shell("cargo test --lib")));
        assert!(pattern_allows("cargo test*", &shell("cargo test --lib")));
        assert!(pattern_allows("ls *", &shell("ls -la src")));
        assert!(!pattern_allows("ls *", &shell("ls")));
        assert!(!pattern_allows(
            "cargo test*",
            &shell("cargo test; rm -rf ~")
        ));
        assert!(!pattern_allows(
            "cargo test*",
            &shell("cargo test $(whoami)")
        ));
        assert!(pattern_allows(
            "cargo test*",
            &CommandSpec::Argv(vec!["cargo".into(), "test".into(), "a;b".into()])
        ));
        assert!(pattern_allows("*", &shell("make")));
        assert!(!pattern_allows("", &shell("make")));
    }

    #[test]
    fn argv_display_quotes_when_needed() {
        let spec = CommandSpec::Argv(vec!["echo".into(), "a b".into(), "it's".into()]);
        assert_eq!(spec.display(), "echo 'a b' 'it'\\''s'");
    }

    #[test]
    fn secret_variables_are_recognised() {
        assert!(is_secret_var("ANTHROPIC_API_KEY"));
        assert!(is_secret_var("github_token"));
        assert!(is_secret_var("BATON_CONFIG"));
        assert!(is_secret_var("GITHUB_PAT"));
        assert!(is_secret_var("NPM_CONFIG__AUTH"));
        assert!(!is_secret_var("PATH"));
        assert!(!is_secret_var("HOME"));
    }
}
