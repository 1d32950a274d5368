//! The export's token lines: the run's totals and each role's share (the orchestrator first),
//! cache reads and writes included. Numbers come from the journal's folded state.

use std::fmt::Write as _;

use crate::protocol::Usage;
use crate::state::State;

/// `- Tokens: ...` and `- Tokens per role:` with one line per role.
pub(super) fn write_tokens(o: &mut String, state: &State, tokens: &Usage) {
    let _ = writeln!(
        o,
        "- Tokens: {} ({} in, {} out, {} cached)",
        tokens.total(),
        tokens.input_tokens,
        tokens.output_tokens,
        tokens.cache_read_tokens
    );
    let roles = state.usage_by_role();
    if roles.is_empty() {
        return;
    }
    let _ = writeln!(o, "- Tokens per role:");
    for r in &roles {
        let u = &r.usage;
        let _ = writeln!(
            o,
            "  - {}: {} in, {} out, {} cache read, {} cache write, ${:.4}",
            r.role,
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_write_tokens,
            r.cost_usd
        );
    }
}
