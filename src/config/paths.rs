//! Where configuration comes from outside the file: the environment variables Baton reads
//! ([`Env`], captured once) and the paths it uses ([`Paths`]: `BATON_HOME`, or the
//! platform's config and data directories, and `--config`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ConfigError, ENV_VARS};

// ------------------------------------------------------------------------------------------
// The environment
// ------------------------------------------------------------------------------------------

/// The environment variables Baton reads, captured once (tests build their own).
/// Empty values count as unset.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The process environment (only the variables in [`ENV_VARS`]).
    pub fn from_process() -> Self {
        let vars = ENV_VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_string(), v)))
            .collect();
        Self { vars }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn get(&self, var: &str) -> Option<&str> {
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

// ------------------------------------------------------------------------------------------
// Paths
// ------------------------------------------------------------------------------------------

/// Where Baton keeps its files.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    /// The config file read (or that would be read; it may not exist).
    pub config_file: PathBuf,
    /// Whether the config file exists (and was read).
    pub config_found: bool,
    /// Runs and logs live here.
    pub data_dir: PathBuf,
    /// `BATON_HOME`, when set.
    pub baton_home: Option<PathBuf>,
}

impl Paths {
    /// `BATON_HOME` (config `$BATON_HOME/config.toml`, data `$BATON_HOME/data`), else the
    /// platform directories of `dev.baton.baton`. `--config F` replaces the config file.
    pub fn resolve(env: &Env, config_flag: Option<&Path>) -> Result<Paths, ConfigError> {
        let (default_config, data_dir) = match env.get("BATON_HOME") {
            Some(home) => {
                let home = PathBuf::from(home);
                (home.join("config.toml"), home.join("data"))
            }
            None => {
                let dirs = directories::ProjectDirs::from("dev", "baton", "baton")
                    .ok_or(ConfigError::NoHome)?;
                (
                    dirs.config_dir().join("config.toml"),
                    dirs.data_dir().to_path_buf(),
                )
            }
        };
        let config_file = config_flag.map_or(default_config, Path::to_path_buf);
        let config_found = config_file.is_file();
        if config_flag.is_some() && !config_found {
            return Err(ConfigError::Flag {
                flag: "--config",
                message: format!("{} does not exist or is not a file", config_file.display()),
            });
        }
        Ok(Paths {
            config_file,
            config_found,
            data_dir,
            baton_home: env.get("BATON_HOME").map(PathBuf::from),
        })
    }
}
