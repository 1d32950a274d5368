//! Keys from the keychain: `baton login` stores a key; a run finds it with the precedence
//! `--api-key-file` > environment > keychain > config file; `baton config` and `baton doctor`
//! say where each key came from without showing it. The keychain is a file-backed test
//! double (the real one is not on CI machines).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baton::cli::CommonArgs;
use baton::config::{Config, Env, Source};
use baton::keychain::{self, KeyStore, KeyStoreError};
use baton::llm::{ProviderKind, Secret};
use support::{FakeLlm, Reply};

/// A keychain kept in a JSON file (provider -> key), or one that always fails.
struct FileKeyStore {
    path: PathBuf,
    broken: bool,
}

impl FileKeyStore {
    fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("keychain.json"),
            broken: false,
        }
    }
    fn load(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(&self.path)
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or_default()
    }
    fn check(&self) -> Result<(), KeyStoreError> {
        if self.broken {
            Err(KeyStoreError("the keychain is locked".into()))
        } else {
            Ok(())
        }
    }
}

impl KeyStore for FileKeyStore {
    fn get(&self, provider: ProviderKind) -> Result<Option<Secret>, KeyStoreError> {
        self.check()?;
        Ok(self.load().get(&provider.to_string()).map(Secret::new))
    }
    fn set(&self, provider: ProviderKind, key: &Secret) -> Result<(), KeyStoreError> {
        self.check()?;
        let mut all = self.load();
        all.insert(provider.to_string(), key.expose().to_string());
        std::fs::write(&self.path, serde_json::to_string(&all).unwrap()).unwrap();
        Ok(())
    }
    fn delete(&self, provider: ProviderKind) -> Result<bool, KeyStoreError> {
        self.check()?;
        let mut all = self.load();
        let had = all.remove(&provider.to_string()).is_some();
        std::fs::write(&self.path, serde_json::to_string(&all).unwrap()).unwrap();
        Ok(had)
    }
    fn name(&self) -> &'static str {
        "the test keychain"
    }
}

const KEYCHAIN_KEY: &str = "fake-ant-from-keychain-1234";
const ENV_KEY: &str = "fake-ant-from-env-5678";
const FILE_KEY: &str = "sk-from-config-file-9012";
const FLAG_KEY: &str = "fake-ant-from-flag-file-3456";

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn env(&self, extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![("BATON_HOME".to_string(), self.path().display().to_string())];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Env::from_pairs(pairs)
    }
    fn config_file(&self, text: &str) {
        std::fs::write(self.path().join("config.toml"), text).unwrap();
    }
}

fn logged_in(home: &Home) -> FileKeyStore {
    let store = FileKeyStore::new(home.path());
    let done = keychain::login(&store, ProviderKind::Anthropic, || {
        Ok(format!("  {KEYCHAIN_KEY}\n"))
    })
    .unwrap();
    assert_eq!(done.fingerprint, Secret::new(KEYCHAIN_KEY).fingerprint());
    assert!(!done.to_string().contains(KEYCHAIN_KEY));
    store
}

#[test]
fn login_stores_the_key_and_a_run_without_env_finds_it_and_picks_its_provider() {
    let home = Home::new();
    let store = logged_in(&home);
    assert_eq!(
        store
            .get(ProviderKind::Anthropic)
            .unwrap()
            .unwrap()
            .expose(),
        KEYCHAIN_KEY
    );
    let c = Config::load_with_keychain(&CommonArgs::default(), &home.env(&[]), &store).unwrap();
    assert_eq!(c.provider, ProviderKind::Anthropic);
    assert_eq!(c.api_key.expose(), KEYCHAIN_KEY);
    assert_eq!(c.source("api_key"), Some(&Source::Keychain));
    let report = c.report();
    assert!(!report.contains(KEYCHAIN_KEY), "{report}");
    assert!(report.contains("keychain"), "{report}");
    assert!(
        report.contains(&Secret::new(KEYCHAIN_KEY).fingerprint()),
        "{report}"
    );
}

#[test]
fn precedence_is_flag_then_env_then_keychain_then_file() {
    let home = Home::new();
    let store = logged_in(&home);
    home.config_file(&format!(
        "provider = \"anthropic\"\napi_key = \"{FILE_KEY}\"\n"
    ));
    let args = CommonArgs::default();

    // keychain beats the file
    let c = Config::load_with_keychain(&args, &home.env(&[]), &store).unwrap();
    assert_eq!(c.api_key.expose(), KEYCHAIN_KEY);
    assert_eq!(c.source("api_key"), Some(&Source::Keychain));

    // env beats the keychain
    let env = home.env(&[("ANTHROPIC_API_KEY", ENV_KEY)]);
    let c = Config::load_with_keychain(&args, &env, &store).unwrap();
    assert_eq!(c.api_key.expose(), ENV_KEY);
    assert_eq!(c.source("api_key"), Some(&Source::Env("ANTHROPIC_API_KEY")));

    // the flag beats the environment
    let key_file = home.path().join("key.txt");
    std::fs::write(&key_file, format!("{FLAG_KEY}\n")).unwrap();
    let flagged = CommonArgs {
        api_key_file: Some(key_file),
        ..CommonArgs::default()
    };
    let c = Config::load_with_keychain(&flagged, &env, &store).unwrap();
    assert_eq!(c.api_key.expose(), FLAG_KEY);
    assert_eq!(c.source("api_key"), Some(&Source::Flag("--api-key-file")));
    let report = c.report();
    for key in [FLAG_KEY, ENV_KEY, KEYCHAIN_KEY, FILE_KEY] {
        assert!(!report.contains(key), "{report}");
    }
    assert!(report.contains("flag --api-key-file"), "{report}");

    // with no keychain entry the file's key is used
    store.delete(ProviderKind::Anthropic).unwrap();
    let c = Config::load_with_keychain(&args, &home.env(&[]), &store).unwrap();
    assert_eq!(c.api_key.expose(), FILE_KEY);
    assert!(matches!(c.source("api_key"), Some(Source::File { .. })));
}

#[test]
fn an_unreadable_keychain_is_a_note_not_an_error() {
    let home = Home::new();
    home.config_file(&format!(
        "provider = \"anthropic\"\napi_key = \"{FILE_KEY}\"\n"
    ));
    let mut store = FileKeyStore::new(home.path());
    store.broken = true;
    let c = Config::load_with_keychain(&CommonArgs::default(), &home.env(&[]), &store).unwrap();
    assert_eq!(c.api_key.expose(), FILE_KEY);
    let note = c.keychain_note.clone().unwrap();
    assert!(note.contains("locked"), "{note}");
    assert!(c.report().contains("locked"));
    // login says it could not store
    let e = keychain::login(&store, ProviderKind::Openai, || Ok("sk-1".into())).unwrap_err();
    assert!(e.to_string().contains("the test keychain"), "{e}");
}

#[test]
fn key_origins_name_each_provider_s_source_without_the_key() {
    let home = Home::new();
    let store = FileKeyStore::new(home.path());
    keychain::login(&store, ProviderKind::Openai, || {
        Ok("sk-openai-keychain".into())
    })
    .unwrap();
    let env = home.env(&[("ANTHROPIC_API_KEY", ENV_KEY)]);
    let c = Config::load_with_keychain(&CommonArgs::default(), &env, &store).unwrap();
    let lines: Vec<String> = c.key_origins().iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("anthropic") && lines[0].contains("env ANTHROPIC_API_KEY"));
    assert!(lines[0].contains("this run's provider"), "{lines:?}");
    assert!(
        lines[1].starts_with("openai") && lines[1].contains("keychain"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .all(|l| !l.contains(ENV_KEY) && !l.contains("sk-openai"))
    );

    // Resuming a run whose journal names the other provider keeps today's provider and
    // key: what a run may do and where its key goes never come from the journal
    // (`crate::resume_trust` asks the person or refuses instead).
    let mut original = c.run_settings();
    original.provider = "openai".into();
    let (resumed, _) = c.for_resume(&original);
    assert_eq!(resumed.provider, ProviderKind::Anthropic);
    assert_eq!(resumed.api_key.expose(), ENV_KEY);
    assert_eq!(
        resumed.source("api_key"),
        Some(&Source::Env("ANTHROPIC_API_KEY"))
    );
}

#[tokio::test]
async fn doctor_says_the_key_came_from_the_keychain() {
    let server = FakeLlm::start([Reply::new()
        .tool(
            "toolu_1",
            baton::doctor::PING_TOOL,
            serde_json::json!({"reply": "pong"}),
        )
        .usage(5, 1)
        .anthropic()])
    .await;
    let home = Home::new();
    let store = logged_in(&home);
    let env = home.env(&[("ANTHROPIC_BASE_URL", &server.url())]);
    let c = Config::load_with_keychain(&CommonArgs::default(), &env, &store).unwrap();
    let mut report = baton::doctor::run(&c.provider_settings(), &c.model).await;
    report.key_source = c.source("api_key").map(ToString::to_string);
    let text = report.to_string();
    assert!(
        text.contains(&format!(
            "{} (from keychain)",
            Secret::new(KEYCHAIN_KEY).fingerprint()
        )),
        "{text}"
    );
    assert!(!text.contains(KEYCHAIN_KEY));
    let sent = server.requests();
    assert_eq!(sent[0].header("x-api-key"), Some(KEYCHAIN_KEY));
}

#[test]
fn logout_removes_the_stored_key_names_it_and_says_when_there_was_none() {
    let home = Home::new();
    let store = logged_in(&home);
    let fingerprint = Secret::new(KEYCHAIN_KEY).fingerprint();

    let done = keychain::logout(&store, ProviderKind::Anthropic).unwrap();
    let said = done.to_string();
    assert_eq!(
        said,
        format!("removed the anthropic key ({fingerprint}) from the test keychain")
    );
    assert!(!said.contains(KEYCHAIN_KEY), "{said}");
    assert_eq!(store.get(ProviderKind::Anthropic).unwrap(), None);
    // A run no longer finds it.
    let c = Config::load_with_keychain(&CommonArgs::default(), &home.env(&[]), &store).unwrap();
    assert_ne!(c.source("api_key"), Some(&Source::Keychain));

    // Again, and for a provider never logged in: nothing stored, nothing removed.
    for provider in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let again = keychain::logout(&store, provider).unwrap();
        assert!(matches!(again, keychain::LoggedOut::NothingStored { .. }));
        let said = again.to_string();
        assert!(
            said.starts_with(&format!(
                "no {provider} key was stored in the test keychain"
            )),
            "{said}"
        );
    }

    // A keychain that cannot be reached is an error that says so.
    let broken = FileKeyStore {
        path: home.path().join("keychain.json"),
        broken: true,
    };
    let e = keychain::logout(&broken, ProviderKind::Openai).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot remove the key from the test keychain: the keychain is locked"
    );
}
