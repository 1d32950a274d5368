//! Keys: reading `--api-key-file`, reading the keychain while the configuration is
//! resolved, and [`KeyOrigin`], where each provider's key comes from (`baton config`,
//! `baton doctor`). Precedence: flag > environment > keychain > file (applied in
//! `resolve`). Must not show a key: only fingerprints leave this file.

use super::resolve::Builder;
use super::*;

/// Where one provider's key comes from (see [`Config::key_origins`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOrigin {
    pub provider: ProviderKind,
    /// This run's provider.
    pub in_use: bool,
    /// The source and the key's fingerprint, or `None` when there is no key.
    pub found: Option<(Source, String)>,
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.provider.to_string();
        match &self.found {
            Some((source, fingerprint)) => write!(f, "{kind:9}  {source} ({fingerprint})")?,
            None => write!(
                f,
                "{kind:9}  none (set {} or run `baton login {kind}`)",
                key_env_var(self.provider).unwrap_or("a key")
            )?,
        }
        if self.in_use {
            f.write_str("  <- this run's provider")?;
        }
        Ok(())
    }
}

/// The key in `--api-key-file F`: the file's text, trimmed; one word.
pub(super) fn read_key_file(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let key = text.trim();
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{} must hold the API key alone (one word, no spaces)",
            path.display()
        ));
    }
    Ok(Secret::new(key))
}

impl Builder {
    /// Reads the keychain's keys unless the provider is `demo` or both keys are in the
    /// environment already. A keychain that cannot be read leaves a note, not an error.
    pub(super) fn read_keychain(&mut self, env: &Env, keychain: &dyn KeyStore) {
        let explicit = self.provider.as_ref().map(|v| v.value);
        let wanted: Vec<ProviderKind> = [ProviderKind::Anthropic, ProviderKind::Openai]
            .into_iter()
            .filter(|_| explicit != Some(ProviderKind::Demo))
            .filter(|k| key_env_var(*k).is_some_and(|var| env.get(var).is_none()))
            .collect();
        for kind in wanted {
            match keychain.get(kind) {
                Ok(Some(key)) => {
                    let name = if kind == ProviderKind::Anthropic {
                        "anthropic"
                    } else {
                        "openai"
                    };
                    self.keychain_keys.insert(name, key);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!("keychain: {e}");
                    self.keychain_note =
                        Some(format!("{} could not be read: {e}", keychain.name()));
                    break;
                }
            }
        }
    }
}

impl Config {
    /// Where the key of each real provider would come from (this run's provider first):
    /// `--api-key-file`, its environment variable, the keychain or the config file, or
    /// nowhere. Never the key itself: a fingerprint.
    pub fn key_origins(&self) -> Vec<KeyOrigin> {
        let mut kinds = vec![ProviderKind::Anthropic, ProviderKind::Openai];
        kinds.sort_by_key(|k| *k != self.provider);
        kinds
            .into_iter()
            .map(|kind| {
                let found = if kind == self.provider {
                    (!self.api_key.is_empty()).then(|| {
                        (
                            self.sources
                                .get("api_key")
                                .cloned()
                                .unwrap_or(Source::Default),
                            self.api_key.fingerprint(),
                        )
                    })
                } else {
                    key_env_var(kind)
                        .and_then(|var| self.env_keys.get(var).map(|k| (Source::Env(var), k)))
                        .or_else(|| {
                            self.keychain_keys
                                .get(kind.to_string().as_str())
                                .map(|k| (Source::Keychain, k))
                        })
                        .or_else(|| {
                            self.file_api_key
                                .as_ref()
                                .map(|k| (Source::Derived("the config file's api_key".into()), k))
                        })
                        .map(|(source, key)| (source, key.fingerprint()))
                };
                KeyOrigin {
                    provider: kind,
                    in_use: kind == self.provider,
                    found,
                }
            })
            .collect()
    }
}
