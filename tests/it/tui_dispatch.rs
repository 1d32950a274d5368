//! The TUI side of dispatch policies and throttling: `H` on the selected row sends the next
//! policy (auto → ask → hold → auto), the row shows a policy that is not `auto`, and the
//! header says when the provider layer is throttling an endpoint and why (snapshots at
//! 80x24 and 160x48).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::protocol::*;
use tui_support::*;

fn ui_with_policies() -> (baton::tui::Ui, Script) {
    let mut ui = new_ui();
    let mut s = Script::default();
    let mut settings = settings();
    settings.role_dispatch.insert(
        "code_developer".into(),
        RoleDispatch {
            policy: DispatchPolicy::Ask,
            max_concurrent: Some(2),
        },
    );
    feed(
        &mut ui,
        &mut s,
        vec![
            Event::RunStarted {
                run_id: "r".into(),
                task: "Build a URL shortener".into(),
                settings,
            },
            added(
                1,
                "Schema",
                "system_architect",
                Priority::Normal,
                &[],
                Origin::Analysis,
                false,
            ),
            added(
                2,
                "API handlers",
                "code_developer",
                Priority::Normal,
                &[],
                Origin::Analysis,
                false,
            ),
            added(
                3,
                "Docs",
                "documentation_writer",
                Priority::Low,
                &[],
                Origin::Analysis,
                false,
            ),
            Event::DispatchAsked { id: SubtaskId(2) },
            Event::DispatchPolicySet {
                id: SubtaskId(3),
                policy: DispatchPolicy::Hold,
                by: Actor::Person,
            },
            Event::ProviderThrottled {
                notice: ThrottleNotice {
                    endpoint: "api.anthropic.com".into(),
                    active: true,
                    limit: 2,
                    reason: "429 rate limited".into(),
                },
            },
        ],
    );
    (ui, s)
}

#[test]
fn p_cycles_the_selected_subtask_s_policy() {
    let (mut ui, _) = ui_with_policies();
    select_shown(&mut ui, 1);
    assert_eq!(
        sent(ch(&mut ui, 'H')),
        [Command::SetDispatch {
            id: SubtaskId(1),
            policy: DispatchPolicy::Ask
        }]
    );
    select_shown(&mut ui, 3);
    assert_eq!(
        sent(ch(&mut ui, 'H')),
        [Command::SetDispatch {
            id: SubtaskId(3),
            policy: DispatchPolicy::Auto
        }]
    );
}

#[test]
fn rows_show_their_policy_and_the_header_shows_throttling() {
    let (mut ui, mut s) = ui_with_policies();
    // At 80 columns the header keeps workers and progress; throttling shows from ~100.
    let small = render(&mut ui, 80, 24);
    assert!(
        small.contains("asks to start") && small.contains("hold"),
        "{small}"
    );
    insta::assert_snapshot!("policies_80x24", small);
    let big = render(&mut ui, 160, 48);
    assert!(
        big.contains("asks to start") && big.contains("hold"),
        "{big}"
    );
    assert!(big.contains("throttling api.anthropic.com: 2 at once (429 rate limited)"));
    insta::assert_snapshot!("policies_160x48", big);
    // The limit is back: the header no longer says so.
    feed(
        &mut ui,
        &mut s,
        vec![Event::ProviderThrottled {
            notice: ThrottleNotice {
                endpoint: "api.anthropic.com".into(),
                active: false,
                limit: 8,
                reason: "the limit is back".into(),
            },
        }],
    );
    assert!(!render(&mut ui, 160, 48).contains("throttling"));
}
