//! `baton completions SHELL` and `baton man`, generated from the clap definitions: the
//! scripts for three shells name the subcommands and flags, and the man page renders.
//! Runs the real binary; no configuration is read (a broken config file does not matter).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn baton(args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    // A config file that does not parse: generating completions must not read it.
    std::fs::write(home.path().join("config.toml"), "max_workers = \"many\"\n").unwrap();
    let out = Command::new(crate::support_cli::bin())
        .args(args)
        .env("BATON_HOME", home.path())
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn completions_for_three_shells_name_subcommands_and_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = baton(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for word in [
            "resume",
            "export",
            "doctor",
            "login",
            "completions",
            "max-workers",
            "no-project-instructions",
            "notify-command",
            "api-key-file",
        ] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
        // Value hints come from the clap definitions too.
        assert!(
            out.contains("anthropic") && out.contains("openai"),
            "{shell}"
        );
    }
    let (code, out, _) = baton(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("complete -F _baton"), "{out}");
    let (code, out, _) = baton(&["completions", "zsh"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("#compdef baton"), "{out}");
    let (code, out, _) = baton(&["completions", "fish"]);
    assert_eq!(code, 0);
    assert!(out.contains("complete -c baton"), "{out}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let (code, _, err) = baton(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(err.contains("bash") && err.contains("zsh"), "{err}");
}

#[test]
fn the_man_page_renders_from_the_cli() {
    let (code, out, err) = baton(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(".ie") || out.contains(".TH baton"), "{out}");
    assert!(out.contains(".TH baton 1"), "{out}");
    assert!(out.contains(".SH NAME"), "{out}");
    assert!(out.contains("baton \\- Run and supervise"), "{out}");
    for word in [
        "resume",
        "doctor",
        "login",
        "completions",
        "\\-\\-max\\-workers",
    ] {
        assert!(out.contains(word), "man page lacks {word}");
    }
}
