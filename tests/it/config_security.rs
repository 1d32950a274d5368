//! The configuration's security checks (issue 8): unknown tool names in a role, a config
//! file holding a key that others can read, bad `protected` patterns and task limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use baton::cli::CommonArgs;
use baton::config::{Config, Env};

fn load(home: &Path, body: &str) -> Result<Config, String> {
    let file = home.join("config.toml");
    std::fs::write(&file, body).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let env = Env::from_pairs([("BATON_HOME", home.display().to_string())]);
    Config::load_with(&CommonArgs::default(), &env).map_err(|e| e.to_string())
}

#[test]
fn a_role_naming_an_unknown_tool_is_an_error_naming_the_known_ones() {
    let home = tempfile::tempdir().unwrap();
    let err = load(
        home.path(),
        "[[roles]]\nname = \"auditor\"\npurpose = \"p\"\nprompt = \"q\"\ntools = [\"read_file\", \"shell\"]\n",
    )
    .unwrap_err();
    assert!(err.contains("config.toml:1:"), "{err}");
    assert!(
        err.contains("the tool `shell`, which does not exist"),
        "{err}"
    );
    assert!(
        err.contains(
            "list_dir, read_file, search, write_file, edit_file, delete_file, run_command"
        ),
        "{err}"
    );
    assert!(
        load(
            home.path(),
            "[[roles]]\nname = \"auditor\"\npurpose = \"p\"\nprompt = \"q\"\ntools = [\"read_file\"]\n",
        )
        .is_ok()
    );
}

#[test]
fn a_key_in_a_file_others_can_read_gets_a_warning() {
    let home = tempfile::tempdir().unwrap();
    let c = load(home.path(), "api_key = \"sk-test-abc\"\n").unwrap();
    assert!(c.warnings.is_empty(), "0600 is fine: {:?}", c.warnings);

    let file = home.path().join("config.toml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let env = Env::from_pairs([("BATON_HOME", home.path().display().to_string())]);
    let c = Config::load_with(&CommonArgs::default(), &env).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("can be read by other users (mode 644)"),
        "{:?}",
        c.warnings
    );
    assert!(c.warnings[0].contains("chmod 600"), "{:?}", c.warnings);
    assert!(!c.warnings[0].contains("sk-test-abc"));
    assert!(
        c.report().starts_with("warning: the config file"),
        "{}",
        c.report()
    );

    // No key in the file: nothing to protect.
    std::fs::write(&file, "max_workers = 2\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let c = Config::load_with(&CommonArgs::default(), &env).unwrap();
    assert!(c.warnings.is_empty());
}

#[test]
fn protected_patterns_and_task_limits_are_checked() {
    let home = tempfile::tempdir().unwrap();
    let err = load(home.path(), "protected = [\"{a\"]\n").unwrap_err();
    assert!(err.contains("protected"), "{err}");
    let c = load(home.path(), "protected = [\"secrets/\", \"!*.key\"]\n").unwrap();
    assert_eq!(c.protected, ["secrets/", "!*.key"]);
    assert_eq!(c.max_task_bytes, 256 * 1024);
    let err = load(home.path(), "[limits]\nmax_task_bytes = 0\n").unwrap_err();
    assert!(err.contains("limits.max_task_bytes"), "{err}");
    let c = load(home.path(), "[limits]\nmax_task_bytes = 4096\n").unwrap();
    assert_eq!(c.max_task_bytes, 4096);
}
