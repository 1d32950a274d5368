//! The model table: prices (USD per million tokens), cost computation, and each model's
//! context window and maximum output (the default output cap of a call).
//!
//! Owns: the built-in table (`assets/pricing.toml`, embedded), user overrides, model-name
//! matching, the cost of a [`Usage`] and the output cap of a model. Must not: guess a price for an unknown model (it
//! shows tokens without a cost instead) or read config files (the config module calls `set`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Usage;

/// The built-in table, as shipped.
pub const BUILTIN_TOML: &str = include_str!("../../assets/pricing.toml");

/// Anthropic charges cache writes (5-minute cache) at this multiple of the input price.
pub const CACHE_WRITE_MULTIPLIER: f64 = 1.25;

/// Prices of one model, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    /// Price of cached input (cache reads); the input price when absent.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Price of cache writes; [`CACHE_WRITE_MULTIPLIER`] × input when absent.
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// The output cap of a call to a model the table does not know.
pub const DEFAULT_MAX_OUTPUT: u32 = 8_192;

/// Size limits of one model, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelLimits {
    /// The context window (prompt and answer).
    pub context: Option<u64>,
    /// The most output tokens one answer may have.
    pub max_output: Option<u32>,
}

/// One entry of the table file (or of `[pricing."model"]` in the config): prices and,
/// optionally, limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Price of cache writes (else 1.25 × input).
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Context window, tokens.
    #[serde(default)]
    pub context: Option<u64>,
    /// The most output tokens of one answer: the output cap of a call to this model.
    #[serde(default)]
    pub max_output: Option<u32>,
}

/// Per-model prices and limits: exact model ids or prefixes of them.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
    limits: BTreeMap<String, ModelLimits>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PriceTable {
    /// The table in `assets/pricing.toml`.
    pub fn builtin() -> Self {
        match Self::from_toml(BUILTIN_TOML) {
            Ok(table) => table,
            Err(e) => {
                // Covered by a unit test; a broken asset must not stop the program.
                tracing::error!("the built-in pricing table does not parse: {e}");
                Self::empty()
            }
        }
    }

    /// A table with no prices (every cost is unknown).
    pub fn empty() -> Self {
        Self {
            prices: BTreeMap::new(),
            limits: BTreeMap::new(),
        }
    }

    /// Parses a table of `["model"] input = .. output = .. cached_input = .. context = ..
    /// max_output = ..` entries.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        let entries: BTreeMap<String, ModelEntry> = toml::from_str(text)?;
        let mut table = Self::empty();
        for (model, e) in &entries {
            table.set_entry(model, e);
        }
        Ok(table)
    }

    /// Adds or replaces the price of a model id or prefix, and its limits when given.
    pub fn set_entry(&mut self, model: &str, e: &ModelEntry) {
        self.set(
            model,
            ModelPrice {
                input: e.input,
                output: e.output,
                cached_input: e.cached_input,
                cache_write: e.cache_write,
            },
        );
        if e.context.is_some() || e.max_output.is_some() {
            self.limits.insert(
                model.to_string(),
                ModelLimits {
                    context: e.context,
                    max_output: e.max_output,
                },
            );
        }
    }

    /// The limits of `model` (matched like prices), when the table knows them.
    pub fn limits(&self, model: &str) -> Option<&ModelLimits> {
        lookup(&self.limits, model).or_else(|| {
            let (_, bare) = model.rsplit_once('/')?;
            lookup(&self.limits, bare)
        })
    }

    /// The output cap of one call to `model`: its `max_output`, else [`DEFAULT_MAX_OUTPUT`].
    pub fn max_output(&self, model: &str) -> u32 {
        self.limits(model)
            .and_then(|l| l.max_output)
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_OUTPUT)
    }

    /// Adds or replaces the price of a model id or prefix.
    pub fn set(&mut self, model: &str, price: ModelPrice) {
        self.prices.insert(model.to_string(), price);
    }

    /// All entries, sorted by model.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.prices.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The price of `model`: its exact entry, else the longest entry that the name starts
    /// with (dated ids like `claude-sonnet-4-5-20250929`); names like `openai/gpt-4o` are
    /// also tried without the `vendor/` part.
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        lookup(&self.prices, model).or_else(|| {
            let (_, bare) = model.rsplit_once('/')?;
            lookup(&self.prices, bare)
        })
    }

    /// The cost in USD of `usage` on `model`, or `None` when the model has no price.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        let p = self.price(model)?;
        let per_token = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        Some(
            per_token(usage.input_tokens, p.input)
                + per_token(usage.output_tokens, p.output)
                + per_token(usage.cache_read_tokens, p.cached_input.unwrap_or(p.input))
                + per_token(
                    usage.cache_write_tokens,
                    p.cache_write.unwrap_or(p.input * CACHE_WRITE_MULTIPLIER),
                ),
        )
    }
}

/// The entry of `model` in `map`: exact, else the longest key the name starts with.
fn lookup<'a, V>(map: &'a BTreeMap<String, V>, model: &str) -> Option<&'a V> {
    if model.is_empty() {
        return None;
    }
    if let Some(v) = map.get(model) {
        return Some(v);
    }
    map.iter()
        .filter(|(key, _)| model.starts_with(key.as_str()))
        .max_by_key(|(key, _)| key.len())
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_has_the_families() {
        let t = PriceTable::from_toml(BUILTIN_TOML).unwrap();
        for m in [
            "claude-opus-4-1",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            "gpt-4.1",
            "gpt-4o",
            "gpt-4o-mini",
            "o3",
            "o4-mini",
            "demo-orchestrator",
        ] {
            assert!(t.price(m).is_some(), "{m}");
        }
        assert_eq!(PriceTable::default(), t);
    }

    #[test]
    fn longest_prefix_wins() {
        let t = PriceTable::builtin();
        assert_eq!(t.price("claude-sonnet-4-5-20250929").unwrap().input, 3.0);
        assert_eq!(t.price("claude-opus-4-1-20250805").unwrap().output, 75.0);
        assert_eq!(t.price("claude-opus-4-5-20251101").unwrap().output, 25.0);
        assert_eq!(t.price("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(t.price("gpt-4o-2024-08-06").unwrap().input, 2.5);
        assert_eq!(t.price("o3-mini-2025-01-31").unwrap().input, 1.1);
        assert_eq!(t.price("openai/gpt-4.1-mini").unwrap().input, 0.4);
    }

    #[test]
    fn unknown_model_has_no_cost() {
        let t = PriceTable::builtin();
        let u = Usage {
            input_tokens: 1000,
            output_tokens: 1000,
            ..Usage::default()
        };
        assert_eq!(t.cost("llama3.1:8b", &u), None);
        assert_eq!(t.cost("", &u), None);
        assert_eq!(t.cost("demo-worker", &u), Some(0.0));
    }

    #[test]
    fn cost_counts_every_kind_of_token() {
        let mut t = PriceTable::empty();
        t.set(
            "m",
            ModelPrice {
                input: 2.0,
                output: 10.0,
                cached_input: Some(0.5),
                cache_write: None,
            },
        );
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            cache_read_tokens: 2_000_000,
            cache_write_tokens: 400_000,
        };
        let cost = t.cost("m", &u).unwrap();
        assert!((cost - (2.0 + 1.0 + 1.0 + 1.0)).abs() < 1e-9, "{cost}");
        t.set(
            "m",
            ModelPrice {
                input: 1.0,
                output: 1.0,
                cached_input: None,
                cache_write: Some(2.0),
            },
        );
        let u = Usage {
            cache_read_tokens: 1_000_000,
            ..Usage::default()
        };
        assert!((t.cost("m", &u).unwrap() - 1.0).abs() < 1e-9);
        // A cache-write price in the table wins over 1.25 × input.
        let w = Usage {
            cache_write_tokens: 1_000_000,
            ..Usage::default()
        };
        assert!((t.cost("m", &w).unwrap() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_table_carries_context_and_output_caps() {
        let t = PriceTable::builtin();
        assert_eq!(t.max_output("claude-sonnet-4-5-20250929"), 64_000);
        assert_eq!(
            t.limits("claude-sonnet-4-5").unwrap().context,
            Some(200_000)
        );
        assert_eq!(t.max_output("openai/gpt-4.1-mini"), 32_768);
        assert_eq!(t.max_output("llama3.1:8b"), DEFAULT_MAX_OUTPUT);
        let custom =
            PriceTable::from_toml("[\"m\"]\ninput = 1.0\noutput = 2.0\nmax_output = 0\n").unwrap();
        assert_eq!(custom.max_output("m"), DEFAULT_MAX_OUTPUT);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err =
            PriceTable::from_toml("[\"m\"]\ninput = 1.0\noutput = 2.0\ncache = 3.0\n").unwrap_err();
        assert!(err.to_string().contains("cache"), "{err}");
    }
}
