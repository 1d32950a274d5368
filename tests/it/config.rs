//! Configuration: precedence (flag > env > file > default) and the source `baton config`
//! reports for each, file errors naming file, line and key, the example config, BATON_HOME
//! isolation, and keys never shown (Debug, `baton config`, the log file).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use baton::cli::CommonArgs;
use baton::config::{Config, ConfigError, Env, Source, validate_file_text};
use baton::llm::ProviderKind;
use baton::protocol::ApprovalPolicy;

const KEY: &str = "fake-anthropic-test-key-0123456789";

/// The binary with a private BATON_HOME and none of the user's Baton/provider variables.
fn baton(home: &Path) -> Command {
    let mut c = Command::new(crate::support_cli::bin());
    c.env("BATON_HOME", home);
    for var in baton::config::ENV_VARS
        .iter()
        .filter(|v| **v != "BATON_HOME")
    {
        c.env_remove(var);
    }
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn home_with_config(body: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), body).unwrap();
    home
}

fn env(home: &Path, pairs: &[(&str, &str)]) -> Env {
    let mut all = vec![("BATON_HOME".to_string(), home.display().to_string())];
    all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Env::from_pairs(all)
}

/// The `source` column of `key` in `baton config` output.
fn reported_source(report: &str, key: &str) -> String {
    let line = report
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no row for {key} in:\n{report}"));
    let cols: Vec<&str> = line.split("  ").filter(|c| !c.trim().is_empty()).collect();
    cols.last().unwrap().trim().to_string()
}

#[test]
fn precedence_is_flag_then_env_then_file_then_default() {
    let home = home_with_config(
        "provider = \"openai\"\nmodel = \"file-model\"\nmax_workers = 3\napprove = \"all\"\nworker_model = \"file-worker\"\n",
    );
    let config_path = home.path().join("config.toml");
    let e = env(
        home.path(),
        &[
            ("BATON_MODEL", "env-model"),
            ("BATON_PROVIDER", "anthropic"),
        ],
    );
    let args = CommonArgs {
        provider: Some(ProviderKind::Demo),
        max_workers: Some(9),
        ..CommonArgs::default()
    };
    let c = Config::load_with(&args, &e).unwrap();
    assert_eq!(c.provider, ProviderKind::Demo);
    assert_eq!(c.source("provider"), Some(&Source::Flag("--provider")));
    assert_eq!(c.max_workers, 9);
    assert_eq!(
        c.source("max_workers"),
        Some(&Source::Flag("--max-workers"))
    );
    assert_eq!(c.model, "env-model");
    assert_eq!(c.source("model"), Some(&Source::Env("BATON_MODEL")));
    assert_eq!(c.approve, ApprovalPolicy::All);
    assert_eq!(
        c.source("approve"),
        Some(&Source::File {
            path: config_path.clone(),
            line: 4
        })
    );
    assert_eq!(c.worker_model, "file-worker");
    assert_eq!(c.complexity_threshold, 0.7);
    assert_eq!(c.source("complexity_threshold"), Some(&Source::Default));

    // Without the flag, the env var beats the file.
    let c = Config::load_with(&CommonArgs::default(), &e).unwrap();
    assert_eq!(c.provider, ProviderKind::Anthropic);
    assert_eq!(c.source("provider"), Some(&Source::Env("BATON_PROVIDER")));
    assert_eq!(c.max_workers, 3);
    // Without env, the file decides.
    let c = Config::load_with(&CommonArgs::default(), &env(home.path(), &[])).unwrap();
    assert_eq!(c.provider, ProviderKind::Openai);
    assert_eq!(c.model, "file-model");
}

#[test]
fn baton_config_reports_each_source() {
    let home = home_with_config("model = \"file-model\"\nmax_cycles = 7\n[ui]\nbell = false\n");
    let out = baton(home.path())
        .args(["config", "--provider", "openai", "--max-workers", "5"])
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (stdout, _) = text(&out);
    let file = home.path().join("config.toml").display().to_string();
    assert_eq!(reported_source(&stdout, "provider"), "flag --provider");
    assert_eq!(
        reported_source(&stdout, "max_workers"),
        "flag --max-workers"
    );
    assert_eq!(reported_source(&stdout, "base_url"), "env OPENAI_BASE_URL");
    assert!(stdout.contains("http://127.0.0.1:9/v1"));
    assert_eq!(reported_source(&stdout, "model"), format!("file {file}:1"));
    assert_eq!(
        reported_source(&stdout, "max_cycles"),
        format!("file {file}:2")
    );
    assert_eq!(
        reported_source(&stdout, "ui.bell"),
        format!("file {file}:4")
    );
    assert_eq!(reported_source(&stdout, "max_subtasks"), "default");
    // The worker model follows an explicitly chosen model.
    assert_eq!(reported_source(&stdout, "worker_model"), "same as model");
}

#[test]
fn provider_is_detected_from_the_environment() {
    let home = tempfile::tempdir().unwrap();
    let c = Config::load_with(&CommonArgs::default(), &env(home.path(), &[])).unwrap();
    assert_eq!(c.provider, ProviderKind::Demo);
    assert!(c.provider_note.as_deref().unwrap().contains("demo"));
    assert_eq!(c.model, "demo-orchestrator");
    assert_eq!(c.worker_model, "demo-worker");

    let c = Config::load_with(
        &CommonArgs::default(),
        &env(
            home.path(),
            &[("ANTHROPIC_API_KEY", KEY), ("OPENAI_API_KEY", "sk-o")],
        ),
    )
    .unwrap();
    assert_eq!(c.provider, ProviderKind::Anthropic);
    assert_eq!(c.api_key.expose(), KEY);
    assert_eq!(c.base_url, "https://api.anthropic.com");
    assert_eq!(c.source("api_key"), Some(&Source::Env("ANTHROPIC_API_KEY")));

    let c = Config::load_with(
        &CommonArgs::default(),
        &env(
            home.path(),
            &[("OPENAI_BASE_URL", "http://localhost:11434/v1/")],
        ),
    )
    .unwrap();
    assert_eq!(c.provider, ProviderKind::Openai);
    assert_eq!(c.base_url, "http://localhost:11434/v1");
    assert!(c.api_key.is_empty());
    assert_eq!(
        (c.model.as_str(), c.worker_model.as_str()),
        ("gpt-4.1", "gpt-4.1-mini")
    );
}

#[test]
fn settings_for_the_engine_and_the_provider() {
    let home = home_with_config(
        "provider = \"demo\"\nbudget_usd = 2\nmax_subtasks = 0\n[demo]\npace_ms = 0\nseed = 42\n[retry]\nmax_retries = 1\n[roles_models]\ncode_developer = \"big-model\"\n[[roles]]\nname = \"security_reviewer\"\npurpose = \"p\"\nprompt = \"q\"\nmodel = \"sec-model\"\n",
    );
    let args = CommonArgs {
        read_only: true,
        workspace: Some(PathBuf::from("/tmp/ws")),
        ..CommonArgs::default()
    };
    let c = Config::load_with(&args, &env(home.path(), &[])).unwrap();
    let run = c.run_settings();
    assert_eq!(run.provider, "demo");
    assert_eq!(run.limits.budget_usd, Some(2.0));
    assert_eq!(run.limits.max_subtasks, None, "0 means unlimited");
    assert_eq!(run.limits.max_cycles, Some(40));
    assert!(run.read_only);
    assert_eq!(run.workspace.as_deref(), Some("/tmp/ws"));
    let p = c.provider_settings();
    assert_eq!(
        (p.demo_pace_ms, p.demo_seed, p.retry.max_retries),
        (0, 42, 1)
    );
    assert_eq!(c.model_for_role("code_developer"), "big-model");
    assert_eq!(c.model_for_role("security_reviewer"), "sec-model");
    assert_eq!(c.model_for_role("test_engineer"), "demo-worker");
}

fn file_error(body: &str) -> ConfigError {
    let home = home_with_config(body);
    Config::load_with(&CommonArgs::default(), &env(home.path(), &[])).unwrap_err()
}

#[test]
fn unknown_keys_and_wrong_types_name_file_line_and_key() {
    match file_error("model = \"m\"\nmax_wrokers = 4\n") {
        ConfigError::File {
            line,
            key,
            message,
            path,
            ..
        } => {
            assert_eq!(line, 2);
            assert_eq!(key, "max_wrokers");
            assert!(message.contains("unknown field"), "{message}");
            assert!(path.ends_with("config.toml"));
        }
        other => panic!("{other:?}"),
    }
    match file_error("provider = \"demo\"\n\n[retry]\nmax_retries = \"lots\"\n") {
        ConfigError::File {
            line, key, message, ..
        } => {
            assert_eq!((line, key.as_str()), (4, "retry.max_retries"));
            assert!(message.contains("invalid type"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match file_error("[ui]\ncolour = true\n") {
        ConfigError::File { line, key, .. } => assert_eq!((line, key.as_str()), (2, "ui.colour")),
        other => panic!("{other:?}"),
    }
    match file_error("provider = \"gemini\"\n") {
        ConfigError::File { key, message, .. } => {
            assert_eq!(key, "provider");
            assert!(message.contains("anthropic"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match file_error("max_workers = 100\n") {
        ConfigError::File {
            line, key, message, ..
        } => {
            assert_eq!((line, key.as_str()), (1, "max_workers"));
            assert!(message.contains("1 and 64"));
        }
        other => panic!("{other:?}"),
    }
    match file_error("model = \"m\"\n[roles_models]\nsecurity_guru = \"big\"\n") {
        ConfigError::File {
            line, key, message, ..
        } => {
            assert_eq!((line, key.as_str()), (3, "roles_models.security_guru"));
            assert!(message.contains("code_developer"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match file_error("[[roles]]\nname = \"x\"\npurpose = \"y\"\n") {
        ConfigError::File { key, message, .. } => {
            assert_eq!(key, "roles");
            assert!(message.contains("prompt"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_file_is_a_config_error_with_exit_code_2() {
    let home = home_with_config("approve = \"sometimes\"\n");
    let out = baton(home.path()).arg("config").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(stderr.contains("config.toml:1:"), "{stderr}");
    assert!(stderr.contains("approve"), "{stderr}");

    let out = baton(home.path())
        .args(["config", "--config", "/definitely/not/here.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("--config"));

    let out = baton(home.path())
        .args(["config", "--log-level", "baton=loud"])
        .env_remove("BATON_HOME")
        .env("BATON_HOME", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("--log-level"));
}

const EXAMPLE: &str = include_str!("../../assets/config.example.toml");

/// The example with every `#key = value` / `#[table]` line uncommented.
fn uncommented_example() -> String {
    EXAMPLE
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if !rest.is_empty() && !rest.starts_with([' ', '#', '-']) => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_config_parses_as_is_and_uncommented() {
    let path = Path::new("assets/config.example.toml");
    validate_file_text(path, EXAMPLE).unwrap();
    let full = uncommented_example();
    validate_file_text(path, &full).unwrap_or_else(|e| panic!("{e}\n{full}"));
    // Every setting `baton config` reports is documented in the example.
    let home = tempfile::tempdir().unwrap();
    let report = Config::load_with(&CommonArgs::default(), &env(home.path(), &[]))
        .unwrap()
        .report();
    let settings = report
        .split("Settings")
        .nth(1)
        .unwrap()
        .split("Roles")
        .next()
        .unwrap();
    for line in settings.lines().skip(2).filter(|l| !l.trim().is_empty()) {
        let key = line.split_whitespace().next().unwrap();
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            full.lines().any(|l| l.starts_with(&format!("{leaf} ="))),
            "{key} is not in the example config"
        );
    }
}

#[test]
fn the_uncommented_example_loads_as_a_config() {
    let home = home_with_config(&uncommented_example());
    let c = Config::load_with(&CommonArgs::default(), &env(home.path(), &[])).unwrap();
    assert_eq!(c.provider, ProviderKind::Anthropic);
    assert_eq!(c.allow, vec!["cargo test".to_string(), "ls *".to_string()]);
    assert_eq!(c.roles.len(), 1);
    assert!(c.pricing.contains_key("my-local-model"));
    let table = c.price_table();
    assert_eq!(table.price("my-local-model").unwrap().output, 0.0);
    assert!(
        table.price("claude-sonnet-4-5").is_some(),
        "built-in prices stay"
    );
    assert_eq!(c.model_for_role("documentation_writer"), "gpt-4.1-mini");
}

#[test]
fn baton_home_holds_config_and_data() {
    let home = home_with_config("max_workers = 2\n");
    let c = Config::load_with(&CommonArgs::default(), &env(home.path(), &[])).unwrap();
    assert_eq!(c.paths.config_file, home.path().join("config.toml"));
    assert!(c.paths.config_found);
    assert_eq!(c.data_dir(), home.path().join("data"));
    assert_eq!(c.log_dir(), home.path().join("data").join("logs"));
    assert_eq!(c.max_workers, 2);

    // --config replaces the file, not the data dir.
    let other = tempfile::tempdir().unwrap();
    let other_file = other.path().join("alt.toml");
    std::fs::write(&other_file, "max_workers = 6\n").unwrap();
    let args = CommonArgs {
        config: Some(other_file.clone()),
        ..CommonArgs::default()
    };
    let c = Config::load_with(&args, &env(home.path(), &[])).unwrap();
    assert_eq!(c.max_workers, 6);
    assert_eq!(c.paths.config_file, other_file);
    assert_eq!(c.data_dir(), home.path().join("data"));
}

#[test]
fn the_key_never_shows_in_debug_config_output_or_the_log() {
    let home = home_with_config(&format!("api_key = \"{KEY}-from-file\"\n"));
    let c = Config::load_with(
        &CommonArgs::default(),
        &env(home.path(), &[("ANTHROPIC_API_KEY", KEY)]),
    )
    .unwrap();
    assert_eq!(c.api_key.expose(), KEY, "env beats the file");
    let debug = format!("{c:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(!format!("{:?}", c.provider_settings()).contains(KEY));

    let out = baton(home.path())
        .args(["config", "--log-level", "trace"])
        .env("ANTHROPIC_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(out.status.success());
    let (stdout, stderr) = text(&out);
    assert!(!stdout.contains(KEY) && !stderr.contains(KEY));
    assert!(!stdout.contains("very-secret"));
    assert!(stdout.contains(&c.api_key.fingerprint()), "{stdout}");

    let log = std::fs::read_to_string(home.path().join("data/logs/baton.log")).unwrap();
    assert!(
        log.contains("effective configuration"),
        "the config is logged: {log}"
    );
    assert!(!log.contains(KEY) && !log.contains("very-secret"), "{log}");
}

#[test]
fn a_resumed_run_keeps_its_settings_unless_flags_say_otherwise() {
    let home = tempfile::tempdir().unwrap();
    let e = env(home.path(), &[("OPENAI_API_KEY", "sk-openai-test")]);
    let today = Config::load_with(&CommonArgs::default(), &e).unwrap();
    assert_eq!(today.provider, ProviderKind::Openai);
    // The run was started on demo with 2 workers and approve=all.
    let mut original = Config::load_with(
        &CommonArgs {
            provider: Some(ProviderKind::Demo),
            ..CommonArgs::default()
        },
        &e,
    )
    .unwrap()
    .run_settings();
    original.max_workers = 2;
    original.approve = ApprovalPolicy::All;

    let (c, kept) = today.for_resume(&original);
    // What the run may do and where the key goes stay today's; the journal's other
    // provider is a mismatch the person decides (baton::resume_trust).
    assert_eq!(c.provider, ProviderKind::Openai);
    assert_eq!(c.api_key.expose(), "sk-openai-test");
    assert_eq!(
        c.model, "gpt-4.1",
        "the run's models only on its own provider"
    );
    assert_eq!((c.max_workers, c.approve), (2, ApprovalPolicy::All));
    assert!(!kept.contains(&"provider") && kept.contains(&"max_workers"));
    let differ: Vec<&str> = baton::resume_trust::mismatches(&c, &original)
        .iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(differ, ["provider", "base_url"]);

    // A flag given now wins over the run's own setting.
    let flagged = Config::load_with(
        &CommonArgs {
            max_workers: Some(6),
            approve: Some(ApprovalPolicy::Auto),
            ..CommonArgs::default()
        },
        &e,
    )
    .unwrap();
    let (c, kept) = flagged.for_resume(&original);
    assert_eq!((c.max_workers, c.approve), (6, ApprovalPolicy::Auto));
    assert!(!kept.contains(&"max_workers"));

    // A journal naming another provider never brings a key along: today's has none.
    let mut on_openai = original.clone();
    on_openai.provider = "openai".into();
    let demo_today = Config::load_with(&CommonArgs::default(), &env(home.path(), &[])).unwrap();
    let (c, _) = demo_today.for_resume(&on_openai);
    assert_eq!(c.provider, ProviderKind::Demo);
    assert!(c.api_key.is_empty());
}

#[test]
fn resuming_on_another_provider_by_flag_uses_that_providers_defaults() {
    let home = tempfile::tempdir().unwrap();
    let e = env(home.path(), &[]);
    let original = Config::load_with(&CommonArgs::default(), &e)
        .unwrap()
        .run_settings();
    assert_eq!(original.provider, "demo");
    let now = Config::load_with(
        &CommonArgs {
            provider: Some(ProviderKind::Openai),
            ..CommonArgs::default()
        },
        &e,
    )
    .unwrap();
    let (c, _) = now.for_resume(&original);
    assert_eq!(c.provider, ProviderKind::Openai);
    assert_eq!(c.base_url, "https://api.openai.com/v1");
    assert_eq!(c.model, "gpt-4.1");
}

#[test]
fn bad_environment_values_name_the_variable() {
    let home = tempfile::tempdir().unwrap();
    let err = Config::load_with(
        &CommonArgs::default(),
        &env(home.path(), &[("BATON_PROVIDER", "gemini")]),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Env {
                var: "BATON_PROVIDER",
                ..
            }
        ),
        "{err}"
    );
    let o = baton(home.path())
        .arg("config")
        .env("BATON_LOG", "baton=shouty")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("BATON_LOG"));
    // Empty variables count as unset.
    let c = Config::load_with(
        &CommonArgs::default(),
        &env(
            home.path(),
            &[("BATON_PROVIDER", ""), ("ANTHROPIC_API_KEY", " ")],
        ),
    )
    .unwrap();
    assert_eq!(c.provider, ProviderKind::Demo);
}

#[test]
fn a_wall_clock_limit_too_large_for_a_deadline_is_a_clear_error() {
    match file_error("max_wall_secs = 9223372036854775807\n") {
        ConfigError::File {
            line, key, message, ..
        } => {
            assert_eq!((line, key.as_str()), (1, "max_wall_secs"));
            assert!(message.contains("at most"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let home = home_with_config("max_wall_secs = 3153600000\n");
    let c = Config::load_with(&CommonArgs::default(), &env(home.path(), &[])).unwrap();
    assert_eq!(c.max_wall_secs, Some(3_153_600_000));
}

/// `--merge-conflicts` sets who resolves a worktree run's merge conflicts, beside the
/// `merge_conflicts` key, and `baton config` says where the value came from.
#[test]
fn merge_conflicts_has_a_flag_as_well_as_a_key() {
    let home = home_with_config("merge_conflicts = \"recover\"\n");
    let out = baton(home.path())
        .args(["config", "--merge-conflicts", "person"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (stdout, _) = text(&out);
    assert_eq!(
        reported_source(&stdout, "merge_conflicts"),
        "flag --merge-conflicts"
    );
    let out = baton(home.path())
        .args(["config", "--merge-conflicts", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
