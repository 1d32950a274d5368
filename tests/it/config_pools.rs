//! The config's dispatch and pool tables: `[roles_dispatch]` reaches the run's settings,
//! `[pools]` endpoints get their keys from their own variables (never the run's key), `pool`
//! and `[roles_pools]` pick them, and mistakes name the file, line and what to fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use baton::cli::CommonArgs;
use baton::config::{Config, ConfigError, Env};
use baton::protocol::DispatchPolicy;

fn load(body: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), body).unwrap();
    let mut all = vec![("BATON_HOME".to_string(), home.path().display().to_string())];
    all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::load_with(&CommonArgs::default(), &Env::from_pairs(all))
}

const POOLS: &str = r#"provider = "anthropic"
api_key = "sk-main-key"
max_concurrent = 6
pool = "main"

[pools.main]
endpoints = [
  { base_url = "http://127.0.0.1:1", api_key_env = "KEY_ONE", weight = 3, max_concurrent = 2 },
  { base_url = "http://127.0.0.1:2", api_key_env = "KEY_TWO" },
]

[pools.local]
endpoints = [{ base_url = "http://127.0.0.1:3" }]

[roles_pools]
code_developer = "local"

[roles_dispatch]
code_developer = { policy = "ask", max_concurrent = 2 }
code_analyzer = { max_concurrent = 8 }
"#;

#[test]
fn pools_and_dispatch_rules_reach_the_provider_and_the_run() {
    let c = load(POOLS, &[("KEY_ONE", "sk-one"), ("KEY_TWO", "sk-two")]).unwrap();
    let p = c.provider_settings();
    assert_eq!(p.max_concurrent, Some(6));
    let keys: Vec<(&str, &str, u32, Option<u32>)> = p
        .pool
        .iter()
        .map(|e| {
            (
                e.base_url.as_str(),
                e.api_key.expose(),
                e.weight,
                e.max_concurrent,
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("http://127.0.0.1:1", "sk-one", 3, Some(2)),
            ("http://127.0.0.1:2", "sk-two", 1, None)
        ]
    );
    // A pool endpoint without `api_key_env` gets no key, never the run's own.
    let dev = c.role_provider_settings("code_developer").unwrap();
    assert_eq!(dev.pool.len(), 1);
    assert!(dev.pool[0].api_key.is_empty());
    assert!(c.role_provider_settings("code_analyzer").is_none());
    let rules = c.run_settings().role_dispatch;
    assert_eq!(rules["code_developer"].policy, DispatchPolicy::Ask);
    assert_eq!(rules["code_developer"].max_concurrent, Some(2));
    assert_eq!(rules["code_analyzer"].policy, DispatchPolicy::Auto);
    // `baton config` lists them, keys as fingerprints only.
    let report = c.report();
    assert!(
        report.contains("role code_developer: ask, at most 2 at once"),
        "{report}"
    );
    assert!(
        report.contains("pool main (used by: every call)"),
        "{report}"
    );
    assert!(
        report.contains("pool local (used by: code_developer)"),
        "{report}"
    );
    assert!(
        !report.contains("sk-one") && !report.contains("sk-two"),
        "{report}"
    );
    assert!(report.contains(&baton::llm::Secret::new("sk-one").fingerprint()));
}

#[test]
fn an_unset_key_variable_leaves_that_endpoint_keyless_with_a_warning_naming_it() {
    let c = load(POOLS, &[("KEY_ONE", "sk-one")]).unwrap();
    let p = c.provider_settings();
    assert_eq!(p.pool[0].api_key.expose(), "sk-one");
    assert!(
        p.pool[1].api_key.is_empty(),
        "never the run's key or another endpoint's"
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("KEY_TWO") && w.contains("not set")),
        "{:?}",
        c.warnings
    );
    // The anthropic provider refuses to start with a keyless endpoint.
    assert!(baton::session::build_provider(&p).is_err());
}

fn file_error(body: &str) -> String {
    match load(body, &[]).unwrap_err() {
        e @ ConfigError::File { .. } => e.to_string(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn mistakes_name_the_line_and_what_to_fix() {
    let e = file_error("pool = \"nope\"\n");
    assert!(e.contains(":1:") && e.contains("no pool `nope`"), "{e}");
    let e = file_error("[pools.p]\nendpoints = []\n");
    assert!(e.contains("no endpoints"), "{e}");
    let e = file_error("[pools.p]\nendpoints = [{ base_url = \"ftp://x\" }]\n");
    assert!(e.contains("not an http(s) URL"), "{e}");
    let e = file_error("[pools.p]\nendpoints = [{ base_url = \"http://x\", weight = 0 }]\n");
    assert!(e.contains("at least 1"), "{e}");
    let e = file_error("[roles_dispatch]\nwizard = { policy = \"ask\" }\n");
    assert!(e.contains("no role `wizard`"), "{e}");
    let e = file_error("[roles_dispatch]\ncode_developer = { policy = \"later\" }\n");
    assert!(e.contains("later"), "{e}");
    let e = file_error("[roles_dispatch]\ncode_developer = { max_concurrent = 0 }\n");
    assert!(e.contains("at least 1"), "{e}");
    let e = file_error("max_concurrent = 0\n");
    assert!(e.contains("at least 1"), "{e}");
    assert!(Path::new("assets/config.example.toml").exists());
}
