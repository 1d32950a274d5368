//! `baton config`: the effective configuration as text, each value with its source.
//! Keys appear only as fingerprints.

use super::*;

impl Config {
    /// `baton config`: every effective value and where it came from. Keys appear only as
    /// fingerprints.
    pub fn report(&self) -> String {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
        let unlimited = |v: Option<String>| v.unwrap_or_else(|| "unlimited".into());
        let key_text = if self.api_key.is_empty() {
            match key_env_var(self.provider) {
                Some(var) => format!("(none: set {var})"),
                None => "(not needed)".to_string(),
            }
        } else {
            self.api_key.fingerprint()
        };
        let rows: Vec<(&str, String)> = vec![
            ("provider", self.provider.to_string()),
            (
                "base_url",
                if self.base_url.is_empty() {
                    "(none)".into()
                } else {
                    self.base_url.clone()
                },
            ),
            ("api_key", key_text),
            ("model", self.model.clone()),
            ("worker_model", self.worker_model.clone()),
            (
                "tool_mode",
                match self.tool_mode {
                    ToolMode::Native => "native".into(),
                    ToolMode::JsonText => "json_text".into(),
                },
            ),
            ("max_workers", self.max_workers.to_string()),
            ("approve", format!("{:?}", self.approve).to_lowercase()),
            (
                "budget_usd",
                opt(self.budget_usd.map(|v| format!("{v:.2}"))),
            ),
            (
                "max_subtasks",
                unlimited(self.max_subtasks.map(|v| v.to_string())),
            ),
            (
                "max_cycles",
                unlimited(self.max_cycles.map(|v| v.to_string())),
            ),
            (
                "max_tokens",
                unlimited(self.max_tokens.map(|v| v.to_string())),
            ),
            (
                "max_wall_secs",
                unlimited(self.max_wall_secs.map(|v| v.to_string())),
            ),
            ("budget_stages", self.budget_stages.to_string()),
            (
                "complexity_threshold",
                self.complexity_threshold.to_string(),
            ),
            ("evaluate", self.evaluate.to_string()),
            ("evaluate_rounds", self.evaluate_rounds.to_string()),
            ("worker_timeout_secs", self.worker_timeout_secs.to_string()),
            (
                "workspace",
                opt(self.workspace.as_ref().map(|p| p.display().to_string())),
            ),
            ("read_only", self.read_only.to_string()),
            ("allow_commands", self.allow_commands.to_string()),
            (
                "allow",
                if self.allow.is_empty() {
                    "(none)".into()
                } else {
                    self.allow.join(", ")
                },
            ),
            (
                "command_env",
                if self.command_env.is_empty() {
                    "(none)".into()
                } else {
                    self.command_env.join(", ")
                },
            ),
            ("sandbox.mode", self.sandbox.mode.to_string()),
            ("sandbox.network", self.sandbox.network.to_string()),
            (
                "protected",
                if self.protected.is_empty() {
                    "(defaults only)".into()
                } else {
                    self.protected.join(", ")
                },
            ),
            ("limits.max_task_bytes", self.max_task_bytes.to_string()),
            ("log_level", self.log_filter.clone()),
            ("retry.max_retries", self.retry.max_retries.to_string()),
            (
                "retry.stream_retries",
                self.retry.stream_retries.to_string(),
            ),
            (
                "retry.rate_limit_retries",
                self.retry.rate_limit_retries.to_string(),
            ),
            (
                "retry.rate_limit_patience_ms",
                self.retry.rate_limit_patience_ms.to_string(),
            ),
            (
                "retry.max_retry_after_ms",
                self.retry.max_retry_after_ms.to_string(),
            ),
            (
                "retry.call_timeout_ms",
                self.retry.call_timeout_ms.to_string(),
            ),
            (
                "retry.max_response_bytes",
                self.retry.max_response_bytes.to_string(),
            ),
            (
                "retry.initial_backoff_ms",
                self.retry.initial_backoff_ms.to_string(),
            ),
            (
                "retry.max_backoff_ms",
                self.retry.max_backoff_ms.to_string(),
            ),
            (
                "retry.connect_timeout_ms",
                self.retry.connect_timeout_ms.to_string(),
            ),
            (
                "retry.first_byte_timeout_ms",
                self.retry.first_byte_timeout_ms.to_string(),
            ),
            (
                "retry.idle_timeout_ms",
                self.retry.idle_timeout_ms.to_string(),
            ),
            ("demo.pace_ms", self.demo.pace_ms.to_string()),
            ("demo.seed", self.demo.seed.to_string()),
            ("ui.bell", self.ui.bell.to_string()),
            ("ui.ascii", self.ui.ascii.to_string()),
            ("ui.mouse", self.ui.mouse.to_string()),
            ("ui.theme", self.ui.theme.to_string()),
            ("ui.notify", self.ui.notify.to_string()),
            (
                "ui.notify_command",
                opt(self.ui.notify_command.as_ref().map(|c| c.join(" "))),
            ),
            (
                "project_instructions",
                self.project_instructions.to_string(),
            ),
            ("isolation", self.isolation.to_string()),
            ("merge_conflicts", self.merge_conflicts.to_string()),
            (
                "on_replan_conflict",
                self.on_replan_conflict.name().to_string(),
            ),
        ];
        let key_w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let val_w = rows
            .iter()
            .map(|(_, v)| v.chars().count())
            .max()
            .unwrap_or(0)
            .min(48);
        let mut out = String::new();
        for warning in &self.warnings {
            out.push_str(&format!("warning: {warning}\n"));
        }
        out.push_str("Files\n");
        out.push_str(&format!(
            "  config file  {} ({})\n",
            self.paths.config_file.display(),
            if self.paths.config_found {
                "read"
            } else {
                "not found; defaults used"
            }
        ));
        out.push_str(&format!(
            "  data dir     {}\n",
            self.paths.data_dir.display()
        ));
        out.push_str(&format!(
            "  runs         {}\n",
            self.data_dir().join("runs").display()
        ));
        out.push_str(&format!("  log file     {}\n", self.log_file().display()));
        if let Some(note) = &self.provider_note {
            out.push_str(&format!("\nNote: {note}\n"));
        }
        out.push_str("\nSettings (highest precedence first: flag, env, keychain, file, default)\n");
        out.push_str(&format!("  {:key_w$}  {:val_w$}  source\n", "key", "value"));
        for (key, value) in rows {
            let mut source = self
                .sources
                .get(key)
                .map_or_else(|| "default".to_string(), ToString::to_string);
            if key == "approve" && self.sources.get(key) == Some(&Source::Default) {
                source.push_str(" (--headless runs use auto unless it is set)");
            }
            out.push_str(&format!("  {key:key_w$}  {value:val_w$}  {source}\n"));
        }
        out.push_str(
            "\nRoles (the defaults, [[roles]] from the config, models from [roles_models])\n",
        );
        let roles =
            crate::engine::roles::merge(crate::engine::roles::default_roles(), self.roles.clone());
        let name_w = roles.iter().map(|r| r.name.len()).max().unwrap_or(0);
        let model_w = roles
            .iter()
            .map(|r| self.model_for_role(&r.name).len())
            .max()
            .unwrap_or(0);
        for r in &roles {
            let origin = if self.roles.iter().any(|u| u.name == r.name) {
                "config"
            } else {
                "default"
            };
            let tools = if r.tools.is_empty() {
                "(none)".to_string()
            } else {
                r.tools.join(",")
            };
            out.push_str(&format!(
                "  {:name_w$}  {:model_w$}  {origin:7}  tools {tools}\n",
                r.name,
                self.model_for_role(&r.name),
            ));
        }
        out.push_str("\nPrice overrides (USD per million tokens)\n");
        if self.pricing.is_empty() {
            out.push_str("  (none; the built-in price table applies)\n");
        }
        for (model, p) in &self.pricing {
            out.push_str(&format!(
                "  {model:24} input {:.2}  output {:.2}  cached input {}\n",
                p.input,
                p.output,
                p.cached_input
                    .map_or("(as input)".to_string(), |c| format!("{c:.2}"))
            ));
            if let Some(n) = p.max_output {
                out.push_str(&format!("  {:24} output cap {n} tokens per call\n", ""));
            }
        }
        out.push_str("\nKeys (flag --api-key-file, then env, then keychain, then file)\n");
        for origin in self.key_origins() {
            out.push_str(&format!("  {origin}\n"));
        }
        if let Some(note) = &self.keychain_note {
            out.push_str(&format!("  note: {note}\n"));
        }
        out.push_str(&self.dispatch_report());
        out
    }
}
