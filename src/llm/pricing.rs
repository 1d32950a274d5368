//! Model prices (USD per million tokens) and cost computation.

/// Per-model prices.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {}
