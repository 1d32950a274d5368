//! The command sandbox, Baton's side: the policy ([`SandboxOptions`]), what this kernel can
//! enforce ([`Support`], probed once), the environment a command gets (an allow list), its
//! private temporary directory, and the launcher command line that runs it confined.
//!
//! How a command is confined (Linux): Baton does not fork-and-restrict itself; it re-executes
//! its own binary as a small launcher ([`super::launcher`]), which confines itself with
//! Landlock (writes only to the workspace, the command's temporary directory and a few
//! `/dev` files; TCP bind/connect denied; no signals or abstract sockets outside), drops
//! every capability, installs a seccomp filter denying sockets other than `AF_UNIX` (and
//! connect/bind/listen/accept, io_uring) unless the network is allowed, becomes a child
//! subreaper and then starts the command. Why a re-exec and not `pre_exec`: between fork and
//! exec in Baton's multi-threaded runtime only async-signal-safe calls are allowed, while
//! building a Landlock ruleset opens paths and allocates; and the subreaper that must outlive
//! the command (so `setsid -f` cannot escape) has to be a process of its own, not Baton
//! (whose runtime reaps only the children it spawned). The launcher also watches a pipe from
//! Baton: when Baton ends for any reason (exit, panic, SIGKILL), the pipe closes and the
//! launcher kills the command and every descendant.
//!
//! Must not run anything itself (`command` does) nor decide approvals (`workspace` does,
//! asking for each command while the sandbox is on but cannot be enforced).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[sandbox] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// Commands run confined; where the kernel cannot confine them, each needs approval.
    #[default]
    On,
    /// Commands run unconfined (still with the environment allow list and the process-tree
    /// kill).
    Off,
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SandboxMode::On => "on",
            SandboxMode::Off => "off",
        })
    }
}

/// What the running kernel can enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    /// The kernel's Landlock ABI version, `None` when Landlock is missing or disabled.
    pub landlock_abi: Option<i32>,
}

impl Support {
    /// Asks the kernel (Linux: `landlock_create_ruleset(NULL, 0, VERSION)`, which changes
    /// nothing); elsewhere there is no Landlock.
    pub fn probe() -> Support {
        Support {
            landlock_abi: landlock_abi(),
        }
    }

    /// Nothing can be confined (tests of the approval path; non-Linux platforms).
    pub fn none() -> Support {
        Support { landlock_abi: None }
    }

    /// One line for `baton doctor` and the notice.
    pub fn describe(&self) -> String {
        match self.landlock_abi {
            Some(abi) => format!("Landlock ABI {abi}, seccomp network filter"),
            None if cfg!(target_os = "linux") => {
                "unavailable: this kernel lacks Landlock (or it is disabled at boot)".to_string()
            }
            None => "unavailable: Landlock is Linux-only".to_string(),
        }
    }
}

#[cfg(target_os = "linux")]
fn landlock_abi() -> Option<i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag the call only
    // returns the ABI version (or fails with ENOSYS/EOPNOTSUPP); it creates nothing.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    i32::try_from(v).ok().filter(|v| *v >= 1)
}

#[cfg(not(target_os = "linux"))]
fn landlock_abi() -> Option<i32> {
    None
}

/// How commands run.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxOptions {
    pub mode: SandboxMode,
    /// Allow network access (`--allow-network`, `[sandbox] network = true`).
    pub network: bool,
    /// Variables passed to commands beyond [`BASE_ENV`] (`command_env`).
    pub command_env: Vec<String>,
    /// The executable run as the launcher (Baton's own binary). `None`: commands run
    /// directly, unconfined, killed by process group only (the library default and
    /// non-Linux platforms; Baton's session always sets it on Linux).
    pub launcher: Option<PathBuf>,
    pub support: Support,
}

impl Default for SandboxOptions {
    /// No launcher: commands run directly (see [`SandboxOptions::launcher`]).
    fn default() -> Self {
        SandboxOptions {
            mode: SandboxMode::Off,
            network: false,
            command_env: Vec::new(),
            launcher: None,
            support: Support::none(),
        }
    }
}

impl SandboxOptions {
    /// The options Baton runs commands with: this executable as the launcher (Linux) and
    /// the kernel's support probed now.
    pub fn for_this_process(mode: SandboxMode, network: bool, command_env: Vec<String>) -> Self {
        let launcher = if cfg!(target_os = "linux") {
            std::env::current_exe().ok()
        } else {
            None
        };
        SandboxOptions {
            mode,
            network,
            command_env,
            launcher,
            support: Support::probe(),
        }
    }

    /// Commands run confined by Landlock (and seccomp unless the network is allowed).
    pub fn confined(&self) -> bool {
        self.mode == SandboxMode::On
            && self.launcher.is_some()
            && self.support.landlock_abi.is_some()
    }

    /// The sandbox is on but cannot be enforced here: each command needs a person's
    /// approval (allow lists and `--allow-commands` do not cover it).
    pub fn needs_approval(&self) -> bool {
        self.mode == SandboxMode::On && !self.confined()
    }

    /// The notice shown once when a run starts and the sandbox cannot be enforced.
    pub fn notice(&self) -> Option<String> {
        self.needs_approval().then(|| {
            format!(
                "command sandbox {}: every command a worker wants to run needs your approval \
                 and runs unconfined (set [sandbox] mode = \"off\" in the config to run \
                 allowed commands without asking)",
                self.support.describe()
            )
        })
    }

    /// One line for `baton doctor`.
    pub fn summary(&self) -> String {
        let network = if self.network { "allowed" } else { "denied" };
        match (self.mode, self.confined()) {
            (SandboxMode::Off, _) => format!(
                "off (config [sandbox] mode = \"off\"): commands run unconfined; kernel: {}",
                self.support.describe()
            ),
            (SandboxMode::On, true) => format!(
                "on: {}; writes only in the workspace and a temp dir; network {network}",
                self.support.describe()
            ),
            (SandboxMode::On, false) => format!(
                "{}; each command needs approval and runs unconfined (or set [sandbox] \
                 mode = \"off\")",
                self.support.describe()
            ),
        }
    }
}

/// Variables every command gets from Baton's environment (plus `LC_*` and `command_env`).
pub const BASE_ENV: &[&str] = &[
    "PATH", "HOME", "LANG", "TERM", "TZ", "USER", "SHELL", "TMPDIR",
];

/// Whether a variable named `name` may reach commands: [`BASE_ENV`], `LC_*`, or listed in
/// `extra` (`command_env`) and not named like a credential.
pub fn env_allowed(name: &str, extra: &[String]) -> bool {
    if BASE_ENV.contains(&name) || name.starts_with("LC_") {
        return true;
    }
    extra.iter().any(|e| e == name) && !super::command::is_secret_var(name)
}

/// A URL value carrying credentials (`http://user:pass@proxy:3128`).
pub fn has_url_credentials(value: &str) -> bool {
    value.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        authority.contains('@')
    })
}

/// The environment of a command: the allowed variables of `from`, without values holding
/// URL credentials; `TMPDIR` replaced by `tmp` when given.
pub fn command_environment(
    from: impl IntoIterator<Item = (OsString, OsString)>,
    extra: &[String],
    tmp: Option<&Path>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = from
        .into_iter()
        .filter(|(name, value)| {
            let Some(name) = name.to_str() else {
                return false;
            };
            env_allowed(name, extra) && !has_url_credentials(&value.to_string_lossy())
        })
        .filter(|(name, _)| !(tmp.is_some() && name == OsStr::new("TMPDIR")))
        .collect();
    if let Some(tmp) = tmp {
        env.push(("TMPDIR".into(), tmp.as_os_str().to_owned()));
    }
    env
}

/// A command's private temporary directory (mode 0700 under the system temp directory),
/// removed when dropped.
#[derive(Debug)]
pub struct CommandTemp {
    path: PathBuf,
}

impl CommandTemp {
    pub fn create() -> std::io::Result<CommandTemp> {
        let base = std::env::temp_dir();
        let mut last = None;
        for _ in 0..8 {
            let path = base.join(format!(
                "baton-cmd-{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&path) {
                Ok(()) => return Ok(CommandTemp { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary directory name")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CommandTemp {
    fn drop(&mut self) {
        // remove_dir_all does not follow symlinks a command left inside.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The first argument that makes `baton` act as the launcher.
pub const LAUNCHER_ARG: &str = "__baton_sandbox";

/// The launcher's arguments after [`LAUNCHER_ARG`]: `confine|open`, `deny-net|allow-net`,
/// the number of writable paths, the paths, `--`, the command's argv.
pub fn launcher_args(
    confine: bool,
    network: bool,
    writable: &[&Path],
    argv: &[OsString],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        LAUNCHER_ARG.into(),
        if confine { "confine" } else { "open" }.into(),
        if network { "allow-net" } else { "deny-net" }.into(),
        writable.len().to_string().into(),
    ];
    args.extend(writable.iter().map(|p| p.as_os_str().to_owned()));
    args.push("--".into());
    args.extend(argv.iter().cloned());
    args
}

/// Whether `program` can be started from `cwd` with this `PATH` (the launcher would
/// otherwise report a missing program only as exit 127).
pub fn program_exists(program: &str, path_var: Option<&OsStr>, cwd: &Path) -> bool {
    if program.contains('/') {
        return cwd.join(program).is_file();
    }
    let Some(path_var) = path_var else {
        return false;
    };
    std::env::split_paths(path_var).any(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(dir)
        };
        is_executable(&dir.join(program))
    })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_passes_only_named_variables() {
        assert!(env_allowed("PATH", &[]));
        assert!(env_allowed("LC_ALL", &[]));
        assert!(!env_allowed("DATABASE_URL", &[]));
        assert!(env_allowed("CARGO_HOME", &["CARGO_HOME".into()]));
        assert!(!env_allowed("OPENAI_API_KEY", &["OPENAI_API_KEY".into()]));
    }

    #[test]
    fn url_credentials_are_recognised() {
        assert!(has_url_credentials("http://u:p@proxy:3128"));
        assert!(has_url_credentials("https://tok@host/x"));
        assert!(!has_url_credentials("http://proxy:3128/a@b"));
        assert!(!has_url_credentials("/usr/bin:/bin"));
    }

    #[test]
    fn tmpdir_is_replaced() {
        let env = command_environment(
            [
                ("TMPDIR".into(), "/tmp".into()),
                ("PATH".into(), "/bin".into()),
                ("GITHUB_PAT".into(), "x".into()),
            ],
            &[],
            Some(Path::new("/tmp/baton-cmd-1")),
        );
        assert_eq!(
            env,
            vec![
                ("PATH".into(), "/bin".into()),
                ("TMPDIR".into(), "/tmp/baton-cmd-1".into())
            ]
        );
    }
}
