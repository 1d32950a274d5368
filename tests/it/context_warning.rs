//! Issue 8 (unbounded input): a prompt that will not fit the model's context window (the
//! model table's `context`) is warned about before it is sent: a journaled notice (the TUI
//! flashes notices, headless prints them on stderr). The estimate is the prompt's bytes / 4.

use std::sync::{Arc, Mutex};

use baton::journal;
use baton::llm::pricing::{ModelEntry, PriceTable};
use baton::protocol::*;

use crate::engine_common::*;
use crate::support_cli;

fn with_context(model: &str, context: u64) -> PriceTable {
    let mut t = PriceTable::empty();
    t.set_entry(
        model,
        &ModelEntry {
            input: 1.0,
            output: 1.0,
            cached_input: None,
            cache_write: None,
            context: Some(context),
            max_output: None,
        },
    );
    t
}

fn notices(f: &Finished) -> Vec<(u64, String)> {
    f.journal
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Notice { message } if message.contains("context window") => {
                Some((e.seq, message.clone()))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_worker_prompt_over_the_context_window_is_journaled_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join(journal::JOURNAL_FILE);
    // What the journal held when the worker's request reached the provider.
    let at_send: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = at_send.clone();
    let fake = Fake::new(vec![st("only", "code_developer", &[])]).rule(move |c| {
        if c.brief.is_some() {
            record
                .lock()
                .unwrap()
                .push(std::fs::read_to_string(&journal_path).unwrap());
        }
        None
    });
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.pricing = with_context("work", 1_000);
    // 8000 bytes of task: about 2000 tokens in the worker's prompt (twice, with its block).
    let task = "Refactor the parser. ".repeat(400);
    let f = run_new(cfg, Arc::new(fake), &task).await;
    assert_eq!(f.outcome, RunOutcome::Completed);

    let found = notices(&f);
    assert_eq!(found.len(), 1, "once per attempt: {found:?}");
    let (_, message) = &found[0];
    assert!(message.contains("worker #1 (attempt 1)"), "{message}");
    assert!(message.contains("bytes / 4"), "{message}");
    assert!(message.contains("over the 1000 of work"), "{message}");
    let at_send = at_send.lock().unwrap();
    assert_eq!(at_send.len(), 1);
    assert!(
        at_send[0].contains("context window exceeded"),
        "the notice is journaled before the request is sent"
    );
    // The orchestrator's model has no known window: no warning for it.
    assert!(!message.contains("orchestrator"));
}

#[tokio::test(start_paused = true)]
async fn a_prompt_inside_the_window_gives_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), settings(ApprovalPolicy::Auto, 1));
    cfg.pricing = with_context("work", 200_000);
    let f = run_new(
        cfg,
        Arc::new(Fake::new(vec![st("only", "code_developer", &[])])),
        "small task",
    )
    .await;
    assert_eq!(f.outcome, RunOutcome::Completed);
    assert!(notices(&f).is_empty());
}

#[test]
fn headless_says_so_on_stderr() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[demo]\npace_ms = 0\n\n[pricing.\"demo-worker\"]\ninput = 1.0\noutput = 1.0\ncontext = 50\n",
    )
    .unwrap();
    let o = support_cli::baton_bare(home.path())
        .args(["run", "--headless", "--provider", "demo", support_cli::TASK])
        .output()
        .unwrap();
    let (_, err) = support_cli::text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("note: context window exceeded: the prompt for worker #1 (attempt 1)"),
        "{err}"
    );
}
