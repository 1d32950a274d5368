//! Resolution: values from the file, the environment and the flags collected in rising
//! precedence, then defaults, provider auto-detection and default models, each effective
//! value keeping its [`Source`].
//!
//! Must not parse the file (`file`) nor print anything.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

/// One value being resolved.
#[derive(Debug, Clone)]
pub(super) struct Val<T> {
    pub(super) value: T,
    pub(super) source: Source,
}

/// Collects values from each source in rising precedence (later calls win).
#[derive(Default)]
pub(super) struct Builder {
    pub(super) provider: Option<Val<ProviderKind>>,
    pub(super) base_url: Option<Val<String>>,
    pub(super) api_key: Option<Val<Secret>>,
    pub(super) model: Option<Val<String>>,
    pub(super) worker_model: Option<Val<String>>,
    pub(super) tool_mode: Option<Val<ToolMode>>,
    pub(super) max_workers: Option<Val<u32>>,
    pub(super) approve: Option<Val<ApprovalPolicy>>,
    pub(super) budget_usd: Option<Val<f64>>,
    pub(super) max_subtasks: Option<Val<u32>>,
    pub(super) max_cycles: Option<Val<u32>>,
    pub(super) max_tokens: Option<Val<u64>>,
    pub(super) max_wall_secs: Option<Val<u64>>,
    pub(super) budget_stages: Option<Val<crate::protocol::BudgetStages>>,
    pub(super) complexity_threshold: Option<Val<f64>>,
    pub(super) evaluate: Option<Val<bool>>,
    pub(super) evaluate_rounds: Option<Val<u32>>,
    pub(super) worker_timeout_secs: Option<Val<u64>>,
    pub(super) workspace: Option<Val<PathBuf>>,
    pub(super) read_only: Option<Val<bool>>,
    pub(super) allow_commands: Option<Val<bool>>,
    pub(super) allow: Option<Val<Vec<String>>>,
    pub(super) command_env: Option<Val<Vec<String>>>,
    pub(super) sandbox_mode: Option<Val<SandboxMode>>,
    pub(super) sandbox_network: Option<Val<bool>>,
    pub(super) protected: Option<Val<Vec<String>>>,
    pub(super) max_task_bytes: Option<Val<u64>>,
    pub(super) log_filter: Option<Val<String>>,
    pub(super) retry: BTreeMap<&'static str, Val<u64>>,
    pub(super) demo_pace_ms: Option<Val<u64>>,
    pub(super) demo_seed: Option<Val<u64>>,
    pub(super) ui_bell: Option<Val<bool>>,
    pub(super) ui_ascii: Option<Val<bool>>,
    pub(super) ui_mouse: Option<Val<bool>>,
    pub(super) ui_theme: Option<Val<super::UiTheme>>,
    pub(super) keys: BTreeMap<String, Vec<String>>,
    pub(super) pricing: BTreeMap<String, ModelEntry>,
    pub(super) roles: Vec<RoleSpec>,
    pub(super) roles_models: BTreeMap<String, String>,
    pub(super) mcp_servers: Vec<crate::tools::mcp::McpServerSpec>,
    /// `[pools]`, `pool`, `[roles_pools]`, `[roles_dispatch]`, `max_concurrent` (checked;
    /// keys are read from the environment after resolution).
    pub(super) pools: super::pools::DispatchFile,
    pub(super) file_api_key: Option<Secret>,
    pub(super) project_instructions: Option<Val<bool>>,
    pub(super) isolation: Option<Val<crate::isolation::Isolation>>,
    pub(super) merge_conflicts: Option<Val<crate::isolation::ConflictPolicy>>,
    pub(super) on_replan_conflict: Option<Val<crate::engine::policy::ReplanConflict>>,
    pub(super) ui_notify: Option<Val<NotifyMode>>,
    pub(super) notify_command: Option<Val<Vec<String>>>,
    /// Keys read from the keychain, by provider name, and why it could not be read.
    pub(super) keychain_keys: BTreeMap<&'static str, Secret>,
    pub(super) keychain_note: Option<String>,
}

pub(super) fn set<T>(slot: &mut Option<Val<T>>, value: T, source: Source) {
    *slot = Some(Val { value, source });
}

pub(super) fn is_http_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// A bare level (`debug`) becomes `warn,baton=debug`; directives pass through.
pub(super) fn log_filter_from(level: &str) -> String {
    let l = level.trim();
    match l.to_ascii_lowercase().as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => format!("warn,baton={l}"),
        "off" => "off".into(),
        _ => l.to_string(),
    }
}

pub(super) fn check_log_filter(filter: &str) -> Result<(), String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(filter)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "`{filter}` is not a log filter ({e}); use a level such as debug, or \
                 directives such as baton=debug,reqwest=info"
            )
        })
}

fn or_default<T>(slot: Option<Val<T>>, default: T) -> Val<T> {
    slot.unwrap_or(Val {
        value: default,
        source: Source::Default,
    })
}

/// `0` in a limit means unlimited.
fn limit<T: PartialEq + Default>(v: Val<T>) -> Val<Option<T>> {
    Val {
        value: if v.value == T::default() {
            None
        } else {
            Some(v.value)
        },
        source: v.source,
    }
}

impl Config {
    pub(super) fn finish(mut b: Builder, env: &Env, paths: Paths) -> Config {
        let mut sources = BTreeMap::new();
        let mut provider_note = None;

        // Provider: configured, else detected from the environment, else demo.
        let provider = match b.provider.take() {
            Some(v) => v,
            None => {
                let (value, why) = if env.get("ANTHROPIC_API_KEY").is_some() {
                    (ProviderKind::Anthropic, "ANTHROPIC_API_KEY is set")
                } else if env.get("OPENAI_API_KEY").is_some() {
                    (ProviderKind::Openai, "OPENAI_API_KEY is set")
                } else if env.get("OPENAI_BASE_URL").is_some() {
                    (ProviderKind::Openai, "OPENAI_BASE_URL is set")
                } else if b.base_url.is_some() {
                    (ProviderKind::Openai, "a base URL is set without a provider")
                } else if b.keychain_keys.contains_key("anthropic") {
                    (
                        ProviderKind::Anthropic,
                        "an anthropic key is in the keychain",
                    )
                } else if b.keychain_keys.contains_key("openai") {
                    (ProviderKind::Openai, "an openai key is in the keychain")
                } else {
                    provider_note = Some(
                        "no provider configured and no API key in the environment: running on \
                         the built-in demo provider (set ANTHROPIC_API_KEY or OPENAI_API_KEY, \
                         or --provider)"
                            .to_string(),
                    );
                    (ProviderKind::Demo, "no API key in the environment")
                };
                if value != ProviderKind::Demo {
                    provider_note = Some(format!("provider {value} chosen because {why}"));
                }
                Val {
                    value,
                    source: Source::Derived(format!("auto: {why}")),
                }
            }
        };
        let kind = provider.value;
        sources.insert("provider", provider.source);

        // Base URL and key: flag/file values, with the provider's env vars above the file.
        if let Some(var) = base_url_env_var(kind)
            && let Some(v) = env.get(var)
            && !matches!(
                b.base_url,
                Some(Val {
                    source: Source::Flag(_),
                    ..
                })
            )
        {
            set(
                &mut b.base_url,
                v.trim_end_matches('/').to_string(),
                Source::Env(var),
            );
        }
        let key_flagged = matches!(
            b.api_key,
            Some(Val {
                source: Source::Flag(_),
                ..
            })
        );
        if let Some(var) = key_env_var(kind)
            && let Some(v) = env.get(var)
            && !key_flagged
        {
            set(&mut b.api_key, Secret::new(v), Source::Env(var));
        }
        let key_from_file_or_nowhere = matches!(
            b.api_key,
            None | Some(Val {
                source: Source::File { .. },
                ..
            })
        );
        if key_from_file_or_nowhere
            && let Some(key) = b.keychain_keys.get(kind.to_string().as_str())
        {
            set(&mut b.api_key, key.clone(), Source::Keychain);
        }
        let base_url = match b.base_url.take() {
            Some(v) if kind != ProviderKind::Demo => v,
            _ => Val {
                value: default_base_url(kind).to_string(),
                source: Source::Derived(format!("default for {kind}")),
            },
        };
        sources.insert("base_url", base_url.source);
        let api_key = match b.api_key.take() {
            Some(v) if kind != ProviderKind::Demo => v,
            _ => Val {
                value: Secret::default(),
                source: Source::Default,
            },
        };
        sources.insert("api_key", api_key.source);

        let (default_orch, default_worker) = default_models(kind);
        let model_configured = b.model.is_some();
        let model = b.model.take().unwrap_or(Val {
            value: default_orch.to_string(),
            source: Source::Derived(format!("default for {kind}")),
        });
        let worker_model = match b.worker_model.take() {
            Some(v) => v,
            None if model_configured => Val {
                value: model.value.clone(),
                source: Source::Derived("same as model".into()),
            },
            None => Val {
                value: default_worker.to_string(),
                source: Source::Derived(format!("default for {kind}")),
            },
        };
        sources.insert("model", model.source);
        sources.insert("worker_model", worker_model.source);

        macro_rules! take {
            ($key:literal, $val:expr) => {{
                let v = $val;
                sources.insert($key, v.source);
                v.value
            }};
        }
        let tool_mode = take!("tool_mode", or_default(b.tool_mode, ToolMode::Native));
        let max_workers = take!(
            "max_workers",
            or_default(b.max_workers, DEFAULT_MAX_WORKERS)
        );
        let approve = take!("approve", or_default(b.approve, ApprovalPolicy::Scope));
        let budget_usd = match b.budget_usd {
            Some(v) => take!(
                "budget_usd",
                Val {
                    value: Some(v.value),
                    source: v.source
                }
            ),
            None => take!(
                "budget_usd",
                Val {
                    value: None,
                    source: Source::Default
                }
            ),
        };
        let max_subtasks = take!(
            "max_subtasks",
            limit(or_default(b.max_subtasks, DEFAULT_MAX_SUBTASKS))
        );
        let max_cycles = take!(
            "max_cycles",
            limit(or_default(b.max_cycles, DEFAULT_MAX_CYCLES))
        );
        let max_tokens = take!("max_tokens", limit(or_default(b.max_tokens, 0)));
        let max_wall_secs = take!("max_wall_secs", limit(or_default(b.max_wall_secs, 0)));
        let budget_stages = take!(
            "budget_stages",
            or_default(b.budget_stages, Default::default())
        );
        let complexity_threshold = take!(
            "complexity_threshold",
            or_default(b.complexity_threshold, DEFAULT_COMPLEXITY_THRESHOLD)
        );
        let evaluate = take!("evaluate", or_default(b.evaluate, false));
        let evaluate_rounds = take!(
            "evaluate_rounds",
            or_default(b.evaluate_rounds, crate::protocol::DEFAULT_EVALUATE_ROUNDS)
        );
        let worker_timeout_secs = take!(
            "worker_timeout_secs",
            or_default(b.worker_timeout_secs, DEFAULT_WORKER_TIMEOUT_SECS)
        );
        let workspace = match b.workspace {
            Some(v) => take!(
                "workspace",
                Val {
                    value: Some(v.value),
                    source: v.source
                }
            ),
            None => take!(
                "workspace",
                Val {
                    value: None,
                    source: Source::Default
                }
            ),
        };
        let read_only = take!("read_only", or_default(b.read_only, false));
        let allow_commands = take!("allow_commands", or_default(b.allow_commands, false));
        let allow = take!("allow", or_default(b.allow, Vec::new()));
        let command_env = take!("command_env", or_default(b.command_env, Vec::new()));
        let sandbox = SandboxSettings {
            mode: take!("sandbox.mode", or_default(b.sandbox_mode, SandboxMode::On)),
            network: take!("sandbox.network", or_default(b.sandbox_network, false)),
        };
        let protected = take!("protected", or_default(b.protected, Vec::new()));
        let max_task_bytes = take!(
            "limits.max_task_bytes",
            or_default(b.max_task_bytes, DEFAULT_MAX_TASK_BYTES)
        );
        let project_instructions = take!(
            "project_instructions",
            or_default(b.project_instructions, true)
        );
        let isolation = take!("isolation", or_default(b.isolation, Default::default()));
        let merge_conflicts = take!(
            "merge_conflicts",
            or_default(b.merge_conflicts, Default::default())
        );
        let on_replan_conflict = take!(
            "on_replan_conflict",
            or_default(b.on_replan_conflict, Default::default())
        );
        let log_filter = take!(
            "log_level",
            or_default(b.log_filter, DEFAULT_LOG_FILTER.to_string())
        );

        let defaults = RetrySettings::default();
        let mut retry_val = |name: &'static str, key: &'static str, default: u64| {
            let v = b.retry.remove(name).unwrap_or(Val {
                value: default,
                source: Source::Default,
            });
            sources.insert(key, v.source);
            v.value
        };
        let retry = RetrySettings {
            max_retries: u32::try_from(retry_val(
                "max_retries",
                "retry.max_retries",
                u64::from(defaults.max_retries),
            ))
            .unwrap_or(u32::MAX),
            stream_retries: u32::try_from(retry_val(
                "stream_retries",
                "retry.stream_retries",
                u64::from(defaults.stream_retries),
            ))
            .unwrap_or(u32::MAX),
            rate_limit_retries: u32::try_from(retry_val(
                "rate_limit_retries",
                "retry.rate_limit_retries",
                u64::from(defaults.rate_limit_retries),
            ))
            .unwrap_or(u32::MAX),
            rate_limit_patience_ms: retry_val(
                "rate_limit_patience_ms",
                "retry.rate_limit_patience_ms",
                defaults.rate_limit_patience_ms,
            ),
            max_retry_after_ms: retry_val(
                "max_retry_after_ms",
                "retry.max_retry_after_ms",
                defaults.max_retry_after_ms,
            ),
            call_timeout_ms: retry_val(
                "call_timeout_ms",
                "retry.call_timeout_ms",
                defaults.call_timeout_ms,
            ),
            max_response_bytes: retry_val(
                "max_response_bytes",
                "retry.max_response_bytes",
                defaults.max_response_bytes,
            ),
            initial_backoff_ms: retry_val(
                "initial_backoff_ms",
                "retry.initial_backoff_ms",
                defaults.initial_backoff_ms,
            ),
            max_backoff_ms: retry_val(
                "max_backoff_ms",
                "retry.max_backoff_ms",
                defaults.max_backoff_ms,
            ),
            connect_timeout_ms: retry_val(
                "connect_timeout_ms",
                "retry.connect_timeout_ms",
                defaults.connect_timeout_ms,
            ),
            first_byte_timeout_ms: retry_val(
                "first_byte_timeout_ms",
                "retry.first_byte_timeout_ms",
                defaults.first_byte_timeout_ms,
            ),
            idle_timeout_ms: retry_val(
                "idle_timeout_ms",
                "retry.idle_timeout_ms",
                defaults.idle_timeout_ms,
            ),
        };
        let provider_defaults = ProviderSettings::default();
        let demo = DemoSettings {
            pace_ms: take!(
                "demo.pace_ms",
                or_default(b.demo_pace_ms, provider_defaults.demo_pace_ms)
            ),
            seed: take!(
                "demo.seed",
                or_default(b.demo_seed, provider_defaults.demo_seed)
            ),
        };
        let ui = UiSettings {
            bell: take!("ui.bell", or_default(b.ui_bell, true)),
            ascii: take!("ui.ascii", or_default(b.ui_ascii, false)),
            mouse: take!("ui.mouse", or_default(b.ui_mouse, true)),
            theme: take!("ui.theme", or_default(b.ui_theme, super::UiTheme::Dark)),
            keys: b.keys.clone(),
            notify: NotifyMode::Bell,
            notify_command: None,
        };
        // `ui.bell = false` (the older key) means `notify = "off"` unless notify is set.
        let notify_default = Val {
            value: if ui.bell {
                NotifyMode::Bell
            } else {
                NotifyMode::Off
            },
            source: sources
                .get("ui.bell")
                .cloned()
                .filter(|s| *s != Source::Default)
                .map_or(Source::Default, |_| Source::Derived("from ui.bell".into())),
        };
        let ui = UiSettings {
            notify: take!("ui.notify", b.ui_notify.unwrap_or(notify_default)),
            notify_command: take!(
                "ui.notify_command",
                match b.notify_command {
                    Some(v) => Val {
                        value: Some(v.value),
                        source: v.source,
                    },
                    None => Val {
                        value: None,
                        source: Source::Default,
                    },
                }
            ),
            ..ui
        };

        Config {
            provider: kind,
            base_url: base_url.value,
            api_key: api_key.value,
            model: model.value,
            worker_model: worker_model.value,
            tool_mode,
            max_workers,
            approve,
            budget_usd,
            max_subtasks,
            max_cycles,
            max_tokens,
            max_wall_secs,
            budget_stages,
            complexity_threshold,
            evaluate,
            evaluate_rounds,
            worker_timeout_secs,
            workspace,
            read_only,
            allow_commands,
            allow,
            command_env,
            sandbox,
            protected,
            max_task_bytes,
            warnings: Vec::new(),
            resume_confirmed: false,
            project_instructions,
            isolation,
            merge_conflicts,
            on_replan_conflict,
            retry,
            demo,
            ui,
            pricing: b.pricing,
            roles: b.roles,
            roles_models: b.roles_models,
            mcp_servers: b.mcp_servers,
            max_concurrent: None,
            pools: BTreeMap::new(),
            pool: None,
            roles_pools: BTreeMap::new(),
            roles_dispatch: BTreeMap::new(),
            log_filter,
            paths,
            provider_note,
            sources,
            env_keys: ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
                .into_iter()
                .filter_map(|var| env.get(var).map(|v| (var, Secret::new(v))))
                .collect(),
            file_api_key: b.file_api_key,
            keychain_keys: b.keychain_keys,
            keychain_note: b.keychain_note,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_levels_become_crate_scoped_filters() {
        assert_eq!(log_filter_from("debug"), "warn,baton=debug");
        assert_eq!(log_filter_from("baton=trace"), "baton=trace");
        assert!(check_log_filter("baton=notalevel").is_err());
    }

    #[test]
    fn zero_limits_mean_unlimited() {
        let v = limit(Val {
            value: 0u32,
            source: Source::Default,
        });
        assert_eq!(v.value, None);
    }
}
