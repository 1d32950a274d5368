//! The config's dispatch and provider-pool tables: `[roles_dispatch]` (a role's dispatch
//! policy and concurrency cap), `max_concurrent` (the one endpoint's ceiling), `[pools.NAME]`
//! (several endpoints/keys with weights and per-endpoint concurrency), `pool` (the pool every
//! call uses) and `[roles_pools]` (a role's own pool).
//!
//! Keys of pool endpoints come from the environment variable each endpoint names
//! (`api_key_env`), never from another endpoint or the run's own key: a key only ever goes
//! to the endpoint it was configured for. Must not read files or decide precedence.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::file::FileText;
use super::{ConfigError, Env};
use crate::llm::pool::EndpointSettings;
use crate::llm::{ProviderSettings, Secret};
use crate::protocol::RoleDispatch;

/// One endpoint as the file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndpointFile {
    base_url: String,
    /// The environment variable holding this endpoint's key (none: no key is sent).
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default = "one")]
    weight: u32,
    #[serde(default)]
    max_concurrent: Option<u32>,
}

fn one() -> u32 {
    1
}

/// `[pools.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PoolFile {
    endpoints: Vec<EndpointFile>,
}

/// What the file says about dispatch and pools, checked.
#[derive(Debug, Clone, Default)]
pub(super) struct DispatchFile {
    pub(super) max_concurrent: Option<u32>,
    pub(super) pools: BTreeMap<String, Vec<EndpointFile>>,
    pub(super) pool: Option<String>,
    pub(super) roles_pools: BTreeMap<String, String>,
    pub(super) roles_dispatch: BTreeMap<String, RoleDispatch>,
}

/// Checks the tables against each other and the known role names.
pub(super) fn check(
    f: &FileText<'_>,
    pools: BTreeMap<String, Spanned<PoolFile>>,
    pool: Option<Spanned<String>>,
    roles_pools: BTreeMap<String, Spanned<String>>,
    roles_dispatch: BTreeMap<String, Spanned<RoleDispatch>>,
    max_concurrent: Option<Spanned<u32>>,
    role_known: impl Fn(&str) -> bool,
) -> Result<DispatchFile, ConfigError> {
    let mut out = DispatchFile::default();
    if let Some(m) = max_concurrent {
        if *m.get_ref() == 0 {
            return Err(f.error(m.span(), "max_concurrent must be at least 1"));
        }
        out.max_concurrent = Some(m.into_inner());
    }
    for (name, p) in pools {
        let span = p.span();
        let p = p.into_inner();
        if p.endpoints.is_empty() {
            return Err(f.error(span, format!("pool `{name}` has no endpoints")));
        }
        for e in &p.endpoints {
            if !super::resolve::is_http_url(&e.base_url) {
                return Err(f.error(
                    span.clone(),
                    format!(
                        "pool `{name}`: `{}` is not an http(s) URL",
                        crate::text::sanitize::one_line(&e.base_url, 200)
                    ),
                ));
            }
            if e.weight == 0 || e.max_concurrent == Some(0) {
                return Err(f.error(
                    span.clone(),
                    format!("pool `{name}`: weight and max_concurrent must be at least 1"),
                ));
            }
        }
        out.pools.insert(name, p.endpoints);
    }
    let known_pool = |name: &Spanned<String>, out: &DispatchFile| {
        if out.pools.contains_key(name.get_ref()) {
            Ok(())
        } else {
            Err(f.error(
                name.span(),
                format!(
                    "there is no pool `{}`; define it with [pools.{}]",
                    name.get_ref(),
                    name.get_ref()
                ),
            ))
        }
    };
    if let Some(p) = pool {
        known_pool(&p, &out)?;
        out.pool = Some(p.into_inner());
    }
    for (role, p) in roles_pools {
        known_pool(&p, &out)?;
        if !role_known(&role) {
            return Err(f.error(p.span(), format!("[roles_pools] names no role `{role}`")));
        }
        out.roles_pools.insert(role, p.into_inner());
    }
    for (role, d) in roles_dispatch {
        if !role_known(&role) {
            return Err(f.error(d.span(), format!("[roles_dispatch] names no role `{role}`")));
        }
        if d.get_ref().max_concurrent == Some(0) {
            return Err(f.error(
                d.span(),
                format!("[roles_dispatch] `{role}`: max_concurrent must be at least 1"),
            ));
        }
        out.roles_dispatch.insert(role, d.into_inner());
    }
    Ok(out)
}

/// The pools with each endpoint's key read from its own variable. A variable that is named
/// but not set gives that endpoint no key (never another one) and a warning naming it; a
/// provider that needs a key then refuses to start.
pub(super) fn resolve(
    pools: &BTreeMap<String, Vec<EndpointFile>>,
    env: &Env,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Vec<EndpointSettings>> {
    let mut out = BTreeMap::new();
    for (name, endpoints) in pools {
        let mut list = Vec::with_capacity(endpoints.len());
        for e in endpoints {
            let api_key = match &e.api_key_env {
                None => Secret::default(),
                Some(var) => match env.get(var) {
                    Some(v) if !v.trim().is_empty() => Secret::new(v.trim()),
                    _ => {
                        warnings.push(format!(
                            "pool `{name}`: the endpoint {} takes its key from {var}, which is \
                             not set; it gets no key",
                            e.base_url
                        ));
                        Secret::default()
                    }
                },
            };
            list.push(EndpointSettings {
                base_url: e.base_url.clone(),
                api_key,
                weight: e.weight,
                max_concurrent: e.max_concurrent,
            });
        }
        out.insert(name.clone(), list);
    }
    out
}

impl super::Config {
    /// What the provider layer needs: `base_url` and the key, or the endpoints of `pool`.
    pub fn provider_settings(&self) -> ProviderSettings {
        ProviderSettings {
            kind: self.provider,
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            tool_mode: self.tool_mode,
            retry: self.retry.clone(),
            demo_pace_ms: self.demo.pace_ms,
            demo_seed: self.demo.seed,
            max_concurrent: self.max_concurrent,
            pool: self.pool_endpoints(self.pool.as_deref()),
            ..ProviderSettings::default()
        }
    }

    /// The provider settings of a role with its own pool (`[roles_pools]`), else `None`.
    pub fn role_provider_settings(&self, role: &str) -> Option<ProviderSettings> {
        let pool = self.roles_pools.get(role)?;
        Some(ProviderSettings {
            pool: self.pool_endpoints(Some(pool)),
            ..self.provider_settings()
        })
    }

    fn pool_endpoints(&self, name: Option<&str>) -> Vec<EndpointSettings> {
        name.and_then(|n| self.pools.get(n))
            .cloned()
            .unwrap_or_default()
    }

    /// The `baton config` section: role dispatch rules and pools (keys as fingerprints).
    pub(super) fn dispatch_report(&self) -> String {
        let mut out = String::from(
            "\nDispatch and pools ([roles_dispatch], max_concurrent, [pools], pool, [roles_pools])\n",
        );
        out.push_str(&format!(
            "  max_concurrent {} per endpoint\n",
            self.max_concurrent
                .unwrap_or(crate::llm::limiter::DEFAULT_MAX_CONCURRENT)
        ));
        for (role, d) in &self.roles_dispatch {
            let cap = d
                .max_concurrent
                .map_or("no cap".into(), |c| format!("at most {c} at once"));
            out.push_str(&format!("  role {role}: {}, {cap}\n", d.policy));
        }
        for (name, endpoints) in &self.pools {
            let users: Vec<&str> = self
                .roles_pools
                .iter()
                .filter(|(_, p)| *p == name)
                .map(|(r, _)| r.as_str())
                .chain((self.pool.as_deref() == Some(name)).then_some("every call"))
                .collect();
            out.push_str(&format!(
                "  pool {name} (used by: {})\n",
                if users.is_empty() {
                    "nothing".to_string()
                } else {
                    users.join(", ")
                }
            ));
            for e in endpoints {
                out.push_str(&format!(
                    "    {}  key {}  weight {}  max_concurrent {}\n",
                    e.base_url,
                    e.api_key.fingerprint(),
                    e.weight,
                    e.max_concurrent.map_or("default".into(), |c| c.to_string())
                ));
            }
        }
        out
    }
}
