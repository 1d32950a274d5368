//! The environment and the command-line flags as configuration sources: each value they
//! set goes into the [`Builder`] with its [`Source`] (the file is `file`'s, precedence and
//! defaults are `resolve`'s). Split out of `resolve.rs` to keep files small.

use super::resolve::{Builder, check_log_filter, log_filter_from, set};
use super::*;

impl Builder {
    pub(super) fn apply_env(&mut self, env: &Env) -> Result<(), ConfigError> {
        if let Some(v) = env.get("BATON_PROVIDER") {
            let kind = <ProviderKind as clap::ValueEnum>::from_str(v, true).map_err(|_| {
                ConfigError::Env {
                    var: "BATON_PROVIDER",
                    message: format!("`{v}` is not a provider; use anthropic, openai or demo"),
                }
            })?;
            set(&mut self.provider, kind, Source::Env("BATON_PROVIDER"));
        }
        if let Some(v) = env.get("BATON_MODEL") {
            set(&mut self.model, v.to_string(), Source::Env("BATON_MODEL"));
        }
        if let Some(v) = env.get("BATON_LOG") {
            let filter = log_filter_from(v);
            check_log_filter(&filter).map_err(|message| ConfigError::Env {
                var: "BATON_LOG",
                message,
            })?;
            set(&mut self.log_filter, filter, Source::Env("BATON_LOG"));
        }
        // Keys and base URLs depend on the provider; see `provider_env`.
        Ok(())
    }

    pub(super) fn apply_flags(&mut self, a: &CommonArgs) -> Result<(), ConfigError> {
        let flag = |name: &'static str| Source::Flag(name);
        if let Some(v) = a.provider {
            set(&mut self.provider, v, flag("--provider"));
        }
        if let Some(v) = &a.model {
            set(&mut self.model, v.clone(), flag("--model"));
        }
        if let Some(v) = &a.worker_model {
            set(&mut self.worker_model, v.clone(), flag("--worker-model"));
        }
        if let Some(v) = &a.base_url {
            set(
                &mut self.base_url,
                v.trim_end_matches('/').to_string(),
                flag("--base-url"),
            );
        }
        if let Some(v) = a.max_workers {
            set(&mut self.max_workers, v, flag("--max-workers"));
        }
        if let Some(v) = a.approve {
            set(&mut self.approve, v, flag("--approve"));
        }
        if let Some(v) = a.budget_usd {
            set(&mut self.budget_usd, v, flag("--budget-usd"));
        }
        if let Some(v) = a.max_subtasks {
            set(&mut self.max_subtasks, v, flag("--max-subtasks"));
        }
        if let Some(v) = a.max_cycles {
            set(&mut self.max_cycles, v, flag("--max-cycles"));
        }
        if a.evaluate {
            set(&mut self.evaluate, true, flag("--evaluate"));
        }
        if let Some(v) = a.evaluate_rounds {
            set(&mut self.evaluate_rounds, v, flag("--evaluate-rounds"));
        }
        if let Some(v) = &a.workspace {
            set(&mut self.workspace, v.clone(), flag("--workspace"));
        }
        if a.read_only {
            set(&mut self.read_only, true, flag("--read-only"));
        }
        if a.allow_commands {
            set(&mut self.allow_commands, true, flag("--allow-commands"));
        }
        if a.allow_network {
            set(&mut self.sandbox_network, true, flag("--allow-network"));
        }
        if let Some(path) = &a.api_key_file {
            let key = super::keys::read_key_file(path).map_err(|message| ConfigError::Flag {
                flag: "--api-key-file",
                message,
            })?;
            set(&mut self.api_key, key, flag("--api-key-file"));
        }
        if let Some(v) = &a.isolation {
            let v = v.parse().map_err(|message| ConfigError::Flag {
                flag: "--isolation",
                message,
            })?;
            set(&mut self.isolation, v, flag("--isolation"));
        }
        if let Some(v) = &a.merge_conflicts {
            let v = v.parse().map_err(|message| ConfigError::Flag {
                flag: "--merge-conflicts",
                message,
            })?;
            set(&mut self.merge_conflicts, v, flag("--merge-conflicts"));
        }
        if a.no_project_instructions {
            set(
                &mut self.project_instructions,
                false,
                flag("--no-project-instructions"),
            );
        }
        if let Some(v) = &a.notify_command {
            let words = crate::notify::split_command(v).ok_or_else(|| ConfigError::Flag {
                flag: "--notify-command",
                message: "the command is empty; give a program, e.g. notify-send".into(),
            })?;
            set(&mut self.notify_command, words, flag("--notify-command"));
        }
        if let Some(v) = &a.log_level {
            let filter = log_filter_from(v);
            check_log_filter(&filter).map_err(|message| ConfigError::Flag {
                flag: "--log-level",
                message,
            })?;
            set(&mut self.log_filter, filter, flag("--log-level"));
        }
        Ok(())
    }
}
