//! `run_command`'s process side: the allow-list rule, running a program (argv) or a shell
//! line (`sh -c`) in a directory with a timeout, killing its whole process group when it
//! runs too long, and collecting bounded output.
//!
//! Must not ask for approval (the workspace does, through the `ToolHost`) and must not pass
//! secrets to commands: variables that look like credentials are removed from their
//! environment.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::error::ToolError;
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
}

/// How long to keep reading output after the process has ended (a background process it
/// started may hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_secs(5);

/// Runs `spec` in `cwd` (an existing directory inside the workspace), killing it (and every
/// process it started in its process group) after `timeout`. Each stream keeps at most
/// `keep` bytes from its head and from its tail.
pub async fn run(
    spec: &CommandSpec,
    cwd: &Path,
    timeout: Duration,
    keep: usize,
) -> Result<CommandOutcome, ToolError> {
    let mut command = match spec {
        CommandSpec::Argv(argv) => {
            let Some((program, args)) = argv.split_first() else {
                return Err(ToolError::Invalid(
                    "argv is empty; give the program to run".into(),
                ));
            };
            let mut c = Command::new(program);
            c.args(args);
            c
        }
        CommandSpec::Shell(line) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(line);
            c
        }
    };
    command
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    for (name, _) in std::env::vars_os() {
        if is_secret_var(&name.to_string_lossy()) {
            command.env_remove(&name);
        }
    }
    let shown = one_line(&spec.display(), 80);
    let mut child = command
        .spawn()
        .map_err(|e| ToolError::Io(format!("could not start `{shown}`: {e}")))?;
    let pid = child.id();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_task = tokio::spawn(collect(stdout, keep));
    let err_task = tokio::spawn(collect(stderr, keep));

    let (status, timed_out): (Option<ExitStatus>, bool) =
        match tokio::time::timeout(timeout, child.wait()).await {
            Ok(Ok(status)) => (Some(status), false),
            Ok(Err(e)) => {
                kill_group(pid);
                return Err(ToolError::Io(format!("waiting for `{shown}` failed: {e}")));
            }
            Err(_) => {
                kill_group(pid);
                let _ = child.start_kill();
                (child.wait().await.ok(), true)
            }
        };
    // Whatever it left running in its group goes too: commands do not outlive their call.
    kill_group(pid);

    let mut output_abandoned = false;
    let stdout = finish(out_task, keep, &mut output_abandoned).await;
    let stderr = finish(err_task, keep, &mut output_abandoned).await;
    let (exit_code, signal) = match status {
        Some(s) => (s.code(), exit_signal(&s)),
        None => (None, None),
    };
    Ok(CommandOutcome {
        exit_code,
        signal,
        timed_out,
        output_abandoned,
        stdout,
        stderr,
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

/// Environment variables that look like credentials (never passed to commands).
pub fn is_secret_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("BATON_")
        || ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"]
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
        assert!(!is_secret_var("PATH"));
        assert!(!is_secret_var("HOME"));
    }
}
