//! API keys in the operating system's keychain (macOS Keychain, Windows Credential Manager,
//! the Secret Service on Linux with the kernel keyring in front), behind the [`KeyStore`]
//! trait so tests use a file-backed double and never touch a real keychain.
//!
//! Owns: the entry names (service `baton`, account = provider name), reading, storing and
//! removing a key, `baton login PROVIDER` (read a key without echo, check it, store it) and
//! `baton logout PROVIDER` (remove it, naming its fingerprint).
//! Must not print a key or put one anywhere but the store: keys travel as [`Secret`]s.
//!
//! Decisions (see docs/keys.md): a keychain that cannot be reached (no Secret Service on a
//! headless Linux box, a locked keychain) is not an error for a run: the key is looked for
//! elsewhere and `baton config` / `baton doctor` say why the keychain gave nothing. Only
//! `baton login` fails on it.

use std::fmt;

use crate::llm::{ProviderKind, Secret};

/// The keychain service name of Baton's entries.
pub const SERVICE: &str = "baton";
/// A key longer than this is refused by `baton login` (no provider issues such keys).
pub const MAX_KEY_LEN: usize = 512;

/// Why the keychain could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyStoreError(pub String);

/// Where keys are kept between runs.
pub trait KeyStore {
    /// The key stored for `provider`, `None` when there is none.
    fn get(&self, provider: ProviderKind) -> Result<Option<Secret>, KeyStoreError>;
    /// Stores (or replaces) the key for `provider`.
    fn set(&self, provider: ProviderKind, key: &Secret) -> Result<(), KeyStoreError>;
    /// Removes the key for `provider`; `false` when there was none.
    fn delete(&self, provider: ProviderKind) -> Result<bool, KeyStoreError>;
    /// What this store is, for messages ("the OS keychain").
    fn name(&self) -> &'static str;
}

/// The operating system's keychain, through the `keyring` crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsKeychain;

impl OsKeychain {
    fn entry(provider: ProviderKind) -> Result<keyring::Entry, KeyStoreError> {
        keyring::Entry::new(SERVICE, &provider.to_string()).map_err(describe)
    }
}

fn describe(e: keyring::Error) -> KeyStoreError {
    KeyStoreError(match e {
        keyring::Error::NoStorageAccess(inner) => {
            format!("the keychain is not reachable ({inner})")
        }
        keyring::Error::PlatformFailure(inner) => format!("the keychain failed ({inner})"),
        other => other.to_string(),
    })
}

impl KeyStore for OsKeychain {
    fn get(&self, provider: ProviderKind) -> Result<Option<Secret>, KeyStoreError> {
        match Self::entry(provider)?.get_password() {
            Ok(key) if key.trim().is_empty() => Ok(None),
            Ok(key) => Ok(Some(Secret::new(key.trim()))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(describe(e)),
        }
    }

    fn set(&self, provider: ProviderKind, key: &Secret) -> Result<(), KeyStoreError> {
        Self::entry(provider)?
            .set_password(key.expose())
            .map_err(describe)
    }

    fn delete(&self, provider: ProviderKind) -> Result<bool, KeyStoreError> {
        match Self::entry(provider)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(describe(e)),
        }
    }

    fn name(&self) -> &'static str {
        "the OS keychain"
    }
}

/// No keychain at all (library callers and tests that want the environment only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeychain;

impl KeyStore for NoKeychain {
    fn get(&self, _: ProviderKind) -> Result<Option<Secret>, KeyStoreError> {
        Ok(None)
    }
    fn set(&self, _: ProviderKind, _: &Secret) -> Result<(), KeyStoreError> {
        Err(KeyStoreError("no keychain is in use".into()))
    }
    fn delete(&self, _: ProviderKind) -> Result<bool, KeyStoreError> {
        Ok(false)
    }
    fn name(&self) -> &'static str {
        "no keychain"
    }
}

/// Why `baton login` did not store a key.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the demo provider needs no key; log in to anthropic or openai")]
    NoKeyNeeded,
    #[error("cannot read the key: {0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("cannot remove the key from {store}: {error}")]
    Remove {
        store: &'static str,
        error: KeyStoreError,
    },
    #[error("cannot store the key in {store}: {error}")]
    Store {
        store: &'static str,
        error: KeyStoreError,
    },
}

/// The key as typed or piped: surrounding whitespace trimmed; empty, multi-word, control
/// characters and absurd lengths refused (a pasted key is one token).
pub fn check_key(raw: &str) -> Result<Secret, LoginError> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(LoginError::Invalid("no key given; nothing was stored"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(LoginError::Invalid(
            "that is too long to be an API key; nothing was stored",
        ));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(LoginError::Invalid(
            "an API key is one word without spaces or control characters; nothing was stored",
        ));
    }
    Ok(Secret::new(key))
}

/// What `baton login` did, for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    pub provider: ProviderKind,
    pub fingerprint: String,
    pub store: &'static str,
}

impl fmt::Display for LoggedIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stored the {} key ({}) in {}; runs use it when no --api-key-file or {} is set",
            self.provider,
            self.fingerprint,
            self.store,
            self.provider
                .key_env_var()
                .unwrap_or("environment variable"),
        )
    }
}

/// `baton login PROVIDER`: reads a key with `read_key` (no echo on a terminal), checks it
/// and stores it in `store`.
pub fn login(
    store: &dyn KeyStore,
    provider: ProviderKind,
    read_key: impl FnOnce() -> std::io::Result<String>,
) -> Result<LoggedIn, LoginError> {
    if provider == ProviderKind::Demo {
        return Err(LoginError::NoKeyNeeded);
    }
    let key = check_key(&read_key()?)?;
    store
        .set(provider, &key)
        .map_err(|error| LoginError::Store {
            store: store.name(),
            error,
        })?;
    Ok(LoggedIn {
        provider,
        fingerprint: key.fingerprint(),
        store: store.name(),
    })
}

/// What `baton logout` did, for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOut {
    /// The key with this fingerprint was removed.
    Removed {
        provider: ProviderKind,
        fingerprint: Option<String>,
        store: &'static str,
    },
    /// There was no key to remove.
    NothingStored {
        provider: ProviderKind,
        store: &'static str,
    },
}

impl fmt::Display for LoggedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoggedOut::Removed {
                provider,
                fingerprint: Some(fp),
                store,
            } => write!(f, "removed the {provider} key ({fp}) from {store}"),
            LoggedOut::Removed {
                provider,
                fingerprint: None,
                store,
            } => write!(f, "removed the {provider} key from {store}"),
            LoggedOut::NothingStored { provider, store } => write!(
                f,
                "no {provider} key was stored in {store}; nothing was removed (keys from {} or \
                 --api-key-file are not Baton's to remove)",
                provider.key_env_var().unwrap_or("the environment")
            ),
        }
    }
}

/// `baton logout PROVIDER`: removes the key `baton login` stored for `provider` and says
/// which (by fingerprint), or that there was none.
pub fn logout(store: &dyn KeyStore, provider: ProviderKind) -> Result<LoggedOut, LoginError> {
    if provider == ProviderKind::Demo {
        return Err(LoginError::NoKeyNeeded);
    }
    let failed = |error| LoginError::Remove {
        store: store.name(),
        error,
    };
    // The fingerprint says which key went; a key that cannot be read is still removed.
    let fingerprint = store.get(provider).ok().flatten().map(|k| k.fingerprint());
    if store.delete(provider).map_err(failed)? {
        Ok(LoggedOut::Removed {
            provider,
            fingerprint,
            store: store.name(),
        })
    } else {
        Ok(LoggedOut::NothingStored {
            provider,
            store: store.name(),
        })
    }
}

/// Reads a key for `baton login`: hidden input from the terminal, or the first line of
/// standard input when it is not a terminal (`baton login openai < key.txt`).
pub fn read_key_from_person(provider: ProviderKind) -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!(
            "Paste the {provider} API key (input is hidden), then Enter: "
        ))
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_before_they_are_stored() {
        assert_eq!(check_key("  sk-abc123\n").unwrap().expose(), "sk-abc123");
        assert!(check_key(" \n").is_err());
        assert!(check_key("sk-abc 123").is_err());
        assert!(check_key("sk-\x1b[2J").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn login_refuses_demo_and_reports_a_store_that_cannot_keep_keys() {
        let e = login(&NoKeychain, ProviderKind::Demo, || Ok("x".into())).unwrap_err();
        assert!(matches!(e, LoginError::NoKeyNeeded));
        let e = login(&NoKeychain, ProviderKind::Openai, || Ok("sk-1".into())).unwrap_err();
        assert!(e.to_string().contains("no keychain"), "{e}");
    }
}
