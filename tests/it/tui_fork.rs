//! Forking the run from the TUI's detail view (issue 11, capability 6, the TUI part): the
//! detail view lists a subtask's decisions (numbered as `baton fork --at dN` numbers them),
//! `F` opens the picker, `Enter` forks through `baton fork`'s code path (an effect the
//! runtime carries out), and the result shows `baton resume NEW`, which `y` copies. The
//! forked journal is the parent's prefix before the decision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tui_support;

use baton::journal;
use baton::protocol::*;
use baton::tui::Effect;
use baton::tui::app::{Msg, Screen, update};
use crossterm::event::KeyCode;
use tui_support::*;

#[test]
fn f_in_the_detail_view_forks_the_run_at_the_selected_decision() {
    let data = tempfile::tempdir().unwrap();
    let run_id = "20260101-100000-fork";
    let run_dir = journal::runs_dir(data.path()).join(run_id);
    std::fs::create_dir_all(&run_dir).unwrap();
    let events = vec![
        Event::RunStarted {
            run_id: run_id.into(),
            task: "Build a URL shortener".into(),
            settings: settings(),
        },
        added(
            1,
            "Schema",
            "system_architect",
            Priority::Normal,
            &[],
            Origin::Analysis,
            true,
        ),
        added(
            2,
            "API",
            "code_developer",
            Priority::Normal,
            &[],
            Origin::Analysis,
            false,
        ),
        Event::SubtaskApproved {
            id: SubtaskId(1),
            by: Actor::Person,
        },
        started(2, 1, "code_developer"),
        Event::WorkerSteered {
            id: SubtaskId(2),
            attempt: 1,
            steer: Steer::Pause,
            by: Actor::Person,
        },
        Event::WorkerSteered {
            id: SubtaskId(2),
            attempt: 1,
            steer: Steer::Note {
                text: "use sqlite".into(),
            },
            by: Actor::Person,
        },
    ];
    // Written with the journal's own framing and fixed times (the snapshots show them).
    let mut script = Script::default();
    let envelopes: Vec<Envelope> = events.into_iter().map(|e| script.env(e)).collect();
    let mut text = String::new();
    for e in &envelopes {
        text.push_str(&journal::encode_line(e).unwrap());
        text.push('\n');
    }
    std::fs::write(run_dir.join(journal::JOURNAL_FILE), text).unwrap();

    let mut ui = new_ui();
    ui.info.run_dir = Some(run_dir.clone());
    for env in &envelopes {
        update(&mut ui, Msg::Event(Box::new(env.clone())));
    }
    ui.modal = None;
    ui.last_key_at = Some(ui.now);
    // Decisions as the export numbers them: the two additions, the approval, two steers.
    let exported = baton::export::provenance::decisions(&envelopes);
    assert_eq!(ui.decisions, exported);
    let steer_note = exported
        .iter()
        .find(|d| d.detail.contains("use sqlite"))
        .unwrap();

    select_shown(&mut ui, 2);
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.screen, Screen::Detail(SubtaskId(2)));
    let detail = render(&mut ui, 160, 48);
    assert!(detail.contains("F: fork the run at one"), "{detail}");
    assert!(
        detail.contains("steer: attempt 1: note: use sqlite"),
        "{detail}"
    );

    assert!(ch(&mut ui, 'F').is_empty());
    let picker = render(&mut ui, 80, 24);
    insta::assert_snapshot!("fork_picker_80x24", picker);
    // The picker starts at the subtask's latest decision: the note.
    let fx = key(&mut ui, KeyCode::Enter);
    assert!(
        matches!(fx.as_slice(), [Effect::Fork(n)] if *n == steer_note.n),
        "{fx:?}"
    );
    // The runtime's part of the effect.
    baton::tui::fork_view::run_fork(&mut ui, steer_note.n);
    let done = render(&mut ui, 160, 48);
    let runs = journal::list_runs(data.path()).unwrap();
    let fork = runs.iter().find(|r| r.id != run_id).expect("a new run");
    assert!(
        done.contains(&format!("baton resume {}", fork.id)),
        "{done}"
    );
    insta::assert_snapshot!(
        "fork_done_160x48",
        done.replace(&fork.id, &"N".repeat(fork.id.len()))
    );
    let fx = ch(&mut ui, 'y');
    assert!(
        matches!(fx.as_slice(), [Effect::Copy(t)] if *t == format!("baton resume {}", fork.id)),
        "{fx:?}"
    );

    // The forked journal: the parent's events before the note, then `run_forked`.
    let replay = journal::replay(
        &journal::runs_dir(data.path())
            .join(&fork.id)
            .join(journal::JOURNAL_FILE),
    )
    .unwrap();
    let cut = steer_note.seq - 1;
    let kept: Vec<&Envelope> = replay.events.iter().filter(|e| e.seq <= cut).collect();
    assert_eq!(kept.len() as u64, cut);
    for (a, b) in kept.iter().zip(&envelopes) {
        match (&a.event, &b.event) {
            (Event::RunStarted { run_id: new, .. }, Event::RunStarted { .. }) => {
                assert_eq!(new, &fork.id)
            }
            (x, y) => assert_eq!(x, y),
        }
    }
    assert_eq!(
        replay.events[cut as usize].event,
        Event::RunForked {
            parent_run: run_id.into(),
            parent_seq: cut
        }
    );
    // The parent is unchanged.
    assert_eq!(
        journal::replay(&run_dir.join(journal::JOURNAL_FILE))
            .unwrap()
            .events,
        envelopes
    );
}

#[test]
fn without_a_run_directory_f_is_not_offered() {
    let mut ui = new_ui();
    let _ = mid_run(&mut ui);
    ui.modal = None;
    ui.last_key_at = Some(ui.now);
    select_shown(&mut ui, 6);
    key(&mut ui, KeyCode::Enter);
    ch(&mut ui, 'F');
    assert!(ui.modal.is_none());
}
