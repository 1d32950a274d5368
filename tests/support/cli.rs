//! The real `baton` binary for end-to-end tests (`BATON_TEST_BIN` chooses another build of
//! it, see [`bin`]): a private BATON_HOME with an instant (or paced) demo, no provider
//! variables from the environment, and helpers to wait on its progress output instead of a
//! timer.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Output};

pub const TASK: &str = "Add rate limiting to the public API";

/// The binary under test: `$BATON_TEST_BIN` when set (e.g. the release build, to run the
/// attack tests against what ships), else the debug build cargo made for these tests.
pub fn bin() -> PathBuf {
    std::env::var_os("BATON_TEST_BIN")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_baton")), PathBuf::from)
}

/// The binary with `BATON_HOME=home`; the config paces the demo by `pace_ms` per chunk.
pub fn baton_paced(home: &Path, pace_ms: u64) -> Command {
    let config = home.join("config.toml");
    if !config.exists() {
        std::fs::write(&config, format!("[demo]\npace_ms = {pace_ms}\n")).unwrap();
    }
    baton_bare(home)
}

/// The binary with `BATON_HOME=home` and no config file written.
pub fn baton_bare(home: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("BATON_HOME", home);
    for var in baton::config::ENV_VARS
        .iter()
        .filter(|v| **v != "BATON_HOME")
    {
        c.env_remove(var);
    }
    c
}

/// The binary with an instant demo.
pub fn baton(home: &Path) -> Command {
    baton_paced(home, 0)
}

pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub fn data_dir(home: &Path) -> PathBuf {
    home.join("data")
}

/// The one run's directory.
pub fn only_run_dir(home: &Path) -> PathBuf {
    let runs = baton::journal::runs_dir(&data_dir(home));
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

/// Reads `child`'s stderr until a line contains `needle`; returns everything read.
pub fn wait_for(stderr: &mut BufReader<ChildStderr>, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "ended before `{needle}`:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
}

/// Sends `signal` (e.g. "-TERM") to the child.
pub fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A completed run on the instant demo.
pub fn completed_demo_run(home: &Path) {
    let o = baton(home).args(["--headless", TASK]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
}

/// Reopens the latest run of `home` in-process with the TUI front end, as `baton resume`
/// does (the run's journal replayed, then the engine going on).
pub fn resume_latest(home: &Path) -> baton::session::Session {
    use baton::cli::CommonArgs;
    use baton::config::{Config, Env};
    use baton::session::{self, FrontEnd, Launch};

    let env = Env::from_pairs([("BATON_HOME", home.display().to_string())]);
    let config = Config::load_with(&CommonArgs::default(), &env).unwrap();
    session::start(
        &config,
        Launch::Resume {
            run: "latest".into(),
        },
        FrontEnd::Tui,
    )
    .unwrap()
}
