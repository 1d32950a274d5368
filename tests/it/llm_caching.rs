//! Prompt caching over a whole run against a fake server that implements prefix caching (in
//! both wire formats): Anthropic `cache_control` breakpoints and the stable prefix order
//! make at least half of the input tokens of a 20-subtask run come from the cache, the
//! cache figures the server reports are parsed, journaled and priced (cache reads and
//! writes at their own prices), and counted per role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::engine_common;
use crate::support;

use std::sync::Arc;

use baton::engine::*;
use baton::llm::ProviderKind;
use baton::llm::pricing::{ModelPrice, PriceTable};
use baton::protocol::*;
use baton::session::build_provider;
use engine_common::{check_consistent, config, drive, settings};
use support::{FakeLlm, PrefixCache, plan, protocol_reply};

const KINDS: [ProviderKind; 2] = [ProviderKind::Anthropic, ProviderKind::Openai];

/// A 20-subtask run against a prefix-caching fake; the finished run.
async fn cached_run(kind: ProviderKind) -> engine_common::Finished {
    let subtasks = plan(
        20,
        &["code_developer", "code_analyzer", "documentation_writer"],
    );
    let cache = Arc::new(PrefixCache::default());
    let c = cache.clone();
    let server = FakeLlm::with_responder(move |r| {
        let (input, read, write) = c.account(r);
        protocol_reply(r, &subtasks)
            .usage(input, 20)
            .cache(read, write)
            .for_kind(kind)
    })
    .await;
    let provider = build_provider(&server.settings(kind)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 4));
    let mut prices = PriceTable::empty();
    // The fake server answers as `fake-model`.
    prices.set(
        "fake-model",
        ModelPrice {
            input: 3.0,
            output: 15.0,
            cached_input: Some(0.3),
            cache_write: Some(3.75),
        },
    );
    cfg.pricing = prices;
    let f = drive(
        cfg,
        provider,
        Start::New {
            run_id: "cache".into(),
            task: "Build the twenty parts of the thing, each on its own.".into(),
        },
        |_, _| vec![],
    )
    .await;
    check_consistent(&f);
    f
}

#[tokio::test(start_paused = true)]
async fn half_of_the_input_tokens_of_a_20_subtask_run_come_from_the_cache() {
    for kind in KINDS {
        let f = cached_run(kind).await;
        assert_eq!(f.outcome, RunOutcome::Completed, "{kind}");
        assert_eq!(f.state.subtasks.len(), 20);
        let u = f.state.usage;
        let prompt = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens;
        let share = u.cache_read_tokens as f64 / prompt as f64;
        println!(
            "{kind}: {} of {prompt} prompt tokens from the cache ({:.0} %), {} written",
            u.cache_read_tokens,
            share * 100.0,
            u.cache_write_tokens
        );
        assert!(
            share >= 0.5,
            "{kind}: only {:.1} % from the cache",
            share * 100.0
        );
        if kind == ProviderKind::Anthropic {
            assert!(u.cache_write_tokens > 0, "Anthropic reports cache writes");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn cache_tokens_are_priced_at_their_own_prices_and_counted_per_role() {
    for kind in KINDS {
        let f = cached_run(kind).await;
        // Every call's journaled cost is its usage at the table's prices.
        for e in f.of(|e| matches!(e, Event::LlmUsage { .. })) {
            let Event::LlmUsage {
                usage, cost_usd, ..
            } = e
            else {
                unreachable!()
            };
            let want = (usage.input_tokens as f64 * 3.0
                + usage.output_tokens as f64 * 15.0
                + usage.cache_read_tokens as f64 * 0.3
                + usage.cache_write_tokens as f64 * 3.75)
                / 1e6;
            assert!(
                (cost_usd.unwrap() - want).abs() < 1e-12,
                "{kind}: {usage:?}"
            );
        }
        let roles = f.state.usage_by_role();
        let names: Vec<&str> = roles.iter().map(|r| r.role.as_str()).collect();
        assert_eq!(
            names,
            [
                "orchestrator",
                "code_analyzer",
                "code_developer",
                "documentation_writer"
            ],
            "{kind}"
        );
        let mut sum = Usage::default();
        for r in &roles {
            sum.add(&r.usage);
            assert!(r.usage.cache_read_tokens > 0, "{kind}: {r:?}");
        }
        assert_eq!(sum, f.state.usage, "{kind}: the roles add up to the run");
    }
}

#[test]
fn a_first_message_in_two_blocks_gets_a_breakpoint_after_its_stable_block() {
    use baton::llm::{ChatRequest, Message, ToolChoice};
    use serde_json::json;
    let body = baton::llm::anthropic::request_body(&ChatRequest {
        messages: vec![Message::user_split("stable part. the rest", 13)],
        ..support::request("m", &["a", "b"], ToolChoice::Auto)
    });
    let mark = json!({"type": "ephemeral"});
    assert_eq!(
        body["messages"][0]["content"],
        json!([{"type": "text", "text": "stable part. ", "cache_control": mark},
               {"type": "text", "text": "the rest", "cache_control": mark}])
    );
    assert_eq!(body["tools"][1]["cache_control"], mark);
    assert!(body["tools"][0].get("cache_control").is_none());
    assert_eq!(body["system"][0]["cache_control"], mark);
    // No tools, no `tools` key (a missing key is never added as null).
    let bare = baton::llm::anthropic::request_body(&support::request("m", &[], ToolChoice::Auto));
    assert!(bare.get("tools").is_none());
    // A split at 0 or past the end is one block.
    assert_eq!(Message::user_split("abc", 0).content.len(), 1);
    assert_eq!(Message::user_split("abc", 9).content.len(), 1);
}
