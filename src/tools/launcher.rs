//! The sandbox launcher: what `baton __baton_sandbox …` does (Linux). It becomes a child
//! subreaper, confines itself (Landlock, no capabilities, no new privileges, seccomp network
//! filter), starts the command in a nested Landlock domain (so the command cannot signal or
//! ptrace the launcher), then waits for whichever comes first: the command ending, or its
//! standard input (a pipe from Baton) closing because Baton stopped it or ended. Either way it
//! kills every process left below it, including those that left the process group or the
//! session (`setsid -f`: orphans are re-parented to the subreaper), and exits with the
//! command's status (re-raising the signal that ended it).
//!
//! Runs in a fresh single-threaded process, so ordinary allocation is fine everywhere here,
//! including the child-side hook before `exec`. Messages go to stderr, which Baton gives the
//! model as the command's output; launcher failures exit with 125.
//!
//! Must not read Baton's configuration or talk to anything but its pipes.

use std::ffi::OsString;
use std::path::PathBuf;

use super::sandbox::LAUNCHER_ARG;

/// The launcher's exit code when it could not set up the sandbox or start the command.
pub const LAUNCHER_FAILED: i32 = 125;

/// When this process was started as the launcher, runs it and returns the exit code;
/// otherwise `None` (call first thing in `main`).
pub fn main_if_requested() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != LAUNCHER_ARG {
        return None;
    }
    let args: Vec<OsString> = args.collect();
    Some(match Plan::parse(&args) {
        Ok(plan) => imp::run(plan),
        Err(e) => {
            eprintln!("baton sandbox: {e}");
            LAUNCHER_FAILED
        }
    })
}

/// What the launcher was asked to do.
#[derive(Debug)]
struct Plan {
    confine: bool,
    network: bool,
    writable: Vec<PathBuf>,
    argv: Vec<OsString>,
}

impl Plan {
    fn parse(args: &[OsString]) -> Result<Plan, String> {
        let bad = || "malformed launcher arguments".to_string();
        let word = |i: usize| args.get(i).and_then(|a| a.to_str()).ok_or_else(bad);
        let confine = match word(0)? {
            "confine" => true,
            "open" => false,
            _ => return Err(bad()),
        };
        let network = match word(1)? {
            "allow-net" => true,
            "deny-net" => false,
            _ => return Err(bad()),
        };
        let n: usize = word(2)?.parse().map_err(|_| bad())?;
        let end = n.checked_add(3).ok_or_else(bad)?;
        let writable = args
            .get(3..end)
            .ok_or_else(bad)?
            .iter()
            .map(PathBuf::from)
            .collect();
        if args.get(end).and_then(|a| a.to_str()) != Some("--") {
            return Err(bad());
        }
        let argv = args.get(end + 1..).ok_or_else(bad)?.to_vec();
        if argv.is_empty() {
            return Err("no command to run".into());
        }
        Ok(Plan {
            confine,
            network,
            writable,
            argv,
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn run(_plan: super::Plan) -> i32 {
        eprintln!("baton sandbox: the launcher runs on Linux only");
        super::LAUNCHER_FAILED
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::BTreeMap;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::{Command, ExitStatus, Stdio};

    use landlock::{
        ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
        RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
    };
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use super::{LAUNCHER_FAILED, Plan};

    /// The Landlock ABI whose rights are asked for (best effort below it: the kernel
    /// enforces what it knows). V6 adds the signal and abstract-socket scopes.
    const ABI_TARGET: ABI = ABI::V6;

    /// Device files every command may write.
    const DEV_FILES: &[&str] = &[
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
    ];

    pub(super) fn run(plan: Plan) -> i32 {
        match setup(&plan) {
            Ok(()) => supervise(&plan),
            Err(e) => {
                eprintln!("baton sandbox: {e}");
                LAUNCHER_FAILED
            }
        }
    }

    fn setup(plan: &Plan) -> Result<(), String> {
        // SAFETY: prctl with these constant options changes only this process's flags.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(format!(
                "cannot become a subreaper: {}",
                std::io::Error::last_os_error()
            ));
        }
        if plan.confine || !plan.network {
            // SAFETY: as above; needed by seccomp and Landlock without CAP_SYS_ADMIN.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(format!(
                    "cannot set no_new_privs: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        if plan.confine {
            drop_capabilities();
            landlock(plan)?;
        }
        if !plan.network {
            network_filter()?;
        }
        Ok(())
    }

    /// Empties the bounding and ambient sets: a command started by root gets no
    /// capabilities (mount, modules, raw sockets, ptrace of others…). Without CAP_SETPCAP
    /// (not root) there is nothing to drop and the calls fail harmlessly.
    fn drop_capabilities() {
        for cap in 0..64 {
            // SAFETY: PR_CAPBSET_DROP only removes a capability from this process's
            // bounding set; EINVAL past the last capability ends the loop.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
            if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                break;
            }
        }
        // SAFETY: clears the ambient capability set of this process only.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            );
        }
    }

    fn landlock(plan: &Plan) -> Result<(), String> {
        let fail = |e: landlock::RulesetError| format!("cannot set up Landlock: {e}");
        let mut ruleset = Ruleset::default()
            .handle_access(AccessFs::from_all(ABI_TARGET))
            .map_err(fail)?;
        if !plan.network {
            ruleset = ruleset
                .handle_access(AccessNet::from_all(ABI_TARGET))
                .map_err(fail)?;
        }
        let status = ruleset
            .scope(Scope::from_all(ABI_TARGET))
            .map_err(fail)?
            .create()
            .map_err(fail)?
            .add_rules(path_beneath_rules(["/"], AccessFs::from_read(ABI_TARGET)))
            .map_err(fail)?
            .add_rules(path_beneath_rules(
                &plan.writable,
                AccessFs::from_all(ABI_TARGET),
            ))
            .map_err(fail)?
            .add_rules(path_beneath_rules(
                DEV_FILES,
                AccessFs::from_file(ABI_TARGET),
            ))
            .map_err(fail)?
            .restrict_self()
            .map_err(fail)?;
        if status.ruleset == RulesetStatus::NotEnforced {
            return Err("this kernel does not enforce Landlock; not running the command".into());
        }
        Ok(())
    }

    /// A nested domain for the command itself: it may not signal (or, Landlock's ptrace
    /// rule, trace) the launcher, which sits outside it.
    fn nest_command_domain() -> std::io::Result<()> {
        let result = Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .scope(Scope::from_all(ABI_TARGET))
            .and_then(|r| r.create())
            .and_then(|r| r.restrict_self());
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        }
    }

    /// seccomp: sockets other than `AF_UNIX` and the calls that connect, bind or accept
    /// fail with EPERM; io_uring (which can open sockets itself) is refused.
    fn network_filter() -> Result<(), String> {
        fn fail(e: impl std::fmt::Display) -> String {
            format!("cannot install the network filter: {e}")
        }
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
            format!(
                "the network filter does not support {}; allow the network or turn the \
                 sandbox off",
                std::env::consts::ARCH
            )
        })?;
        let not_unix = || -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
            let cond = SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                libc::AF_UNIX as u64,
            )?;
            Ok(vec![SeccompRule::new(vec![cond])?])
        };
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        rules.insert(libc::SYS_socket, not_unix().map_err(fail)?);
        rules.insert(libc::SYS_socketpair, not_unix().map_err(fail)?);
        for call in [
            libc::SYS_connect,
            libc::SYS_bind,
            libc::SYS_listen,
            libc::SYS_accept,
            libc::SYS_accept4,
            libc::SYS_io_uring_setup,
        ] {
            rules.insert(call, Vec::new());
        }
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(fail)?;
        let program = BpfProgram::try_from(filter).map_err(fail)?;
        seccompiler::apply_filter(&program).map_err(fail)
    }

    fn supervise(plan: &Plan) -> i32 {
        let Some((program, args)) = plan.argv.split_first() else {
            return LAUNCHER_FAILED;
        };
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        if plan.confine {
            // SAFETY: the launcher is single-threaded, so the child may allocate before exec.
            unsafe {
                command.pre_exec(nest_command_domain);
            }
        }
        let child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "baton sandbox: could not start `{}`: {e}",
                    program.to_string_lossy()
                );
                return if e.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
            }
        };
        let pid = child.id();
        let status = wait_child_or_eof(pid);
        kill_descendants();
        match status {
            Some(status) => exit_like(status),
            None => 128 + libc::SIGKILL,
        }
    }

    /// Waits until the child `pid` ends (its status) or stdin reaches end of file (`None`:
    /// Baton stopped the command or is gone).
    fn wait_child_or_eof(pid: u32) -> Option<ExitStatus> {
        let pid_t = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid_t, 0) };
        let pidfd = i32::try_from(pidfd).unwrap_or(-1);
        let mut stdin_open = true;
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: if stdin_open { 0 } else { -1 },
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: pidfd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // Without a pidfd (kernels before 5.3) poll stdin with a short timeout and ask
            // waitpid in between.
            let timeout = if pidfd >= 0 { -1 } else { 50 };
            // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return None;
            }
            if fds[0].revents != 0 {
                let mut buf = [0u8; 64];
                // SAFETY: reads at most buf.len() bytes into buf from fd 0.
                let r = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
                if r <= 0 {
                    stdin_open = false;
                    if r == 0 || fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                        return None;
                    }
                }
            }
            if pidfd < 0 || fds[1].revents != 0 {
                let mut status = 0;
                // SAFETY: waits for our own child; WNOHANG never blocks.
                let r = unsafe { libc::waitpid(pid_t, &mut status, libc::WNOHANG) };
                if r == pid_t {
                    return Some(ExitStatus::from_raw(status));
                }
                if r < 0 {
                    return None;
                }
            }
        }
    }

    /// Kills every process below the launcher until none is left: each round kills the
    /// current children (their own children are then re-parented here) and reaps one.
    fn kill_descendants() {
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        loop {
            for child in children_of(me) {
                // SAFETY: `child` is our own child (alive, or a zombie we have not reaped, so
                // its pid cannot have been reused).
                unsafe {
                    libc::kill(child, libc::SIGKILL);
                }
            }
            let mut status = 0;
            // SAFETY: reaps any child of ours; -1 with ECHILD means none are left.
            let r = unsafe { libc::waitpid(-1, &mut status, 0) };
            if r < 0 {
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    _ => break,
                }
            }
        }
    }

    /// The pids whose parent is `parent` (from `/proc/*/stat`).
    fn children_of(parent: libc::pid_t) -> Vec<libc::pid_t> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: libc::pid_t = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid: libc::pid_t = after.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
    }

    /// Exits the way the command did: its exit code, or the same signal.
    fn exit_like(status: ExitStatus) -> i32 {
        if let Some(code) = status.code() {
            return code;
        }
        let Some(sig) = status.signal() else {
            return LAUNCHER_FAILED;
        };
        // SAFETY: restores the default action of `sig`, disables core files for this
        // process and sends `sig` to itself; if it does not end the process, fall back to
        // the shell's 128 + signal.
        unsafe {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
        }
        128 + sig
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn plans_parse_and_reject_malformed_arguments() {
        let p = Plan::parse(&args(&[
            "confine", "deny-net", "1", "/ws", "--", "ls", "-l",
        ]))
        .expect("parses");
        assert!(p.confine && !p.network);
        assert_eq!(p.writable, vec![PathBuf::from("/ws")]);
        assert_eq!(p.argv, args(&["ls", "-l"]));
        assert!(Plan::parse(&args(&["confine", "deny-net", "2", "/ws", "--", "ls"])).is_err());
        assert!(Plan::parse(&args(&["open", "allow-net", "0", "--"])).is_err());
        assert!(Plan::parse(&args(&["x", "allow-net", "0", "--", "ls"])).is_err());
    }
}
