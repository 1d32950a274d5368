//! The plan graph (issue 11, capability 2): dependency layers, the critical path by the
//! durations observed per role, the time to finish, a damaged journal's cycle and a very
//! long chain (no hang, no stack overflow); the TUI's `P` view at 80x24 and 160x48 (and in
//! ascii), moving through it and into the details and back; `baton graph` as text, dot
//! and JSON on a real demo run.

use baton::protocol::*;
use baton::state::State;
use baton::state::graph::graph;
use baton::tui::app::Screen;
use chrono::Duration;
use crossterm::event::KeyCode;

use crate::support_cli;
use crate::tui_support::{self, *};

fn at(s: &mut Script, events: Vec<Event>) -> Vec<Envelope> {
    events.into_iter().map(|e| s.env(e)).collect()
}

fn done(id: u32, worker: u32, role: &str) -> Vec<Event> {
    vec![started(id, worker, role), report(id, "done", Vec::new())]
}

/// #1 research → (#2 code, #3 code) → #4 docs, and #5 docs on its own. Each event is 3 s
/// after the one before, so #1 took 3 s and #2 took 3 s.
fn diamond() -> (State, Script) {
    let mut s = Script::default();
    let a = Origin::Analysis;
    let mut ev = vec![Event::RunStarted {
        run_id: "r".into(),
        task: "t".into(),
        settings: settings(),
    }];
    ev.push(added(
        1,
        "Research",
        "researcher",
        Priority::Normal,
        &[],
        a.clone(),
        false,
    ));
    ev.push(added(
        2,
        "Code A",
        "developer",
        Priority::Normal,
        &[1],
        a.clone(),
        false,
    ));
    ev.push(added(
        3,
        "Code B",
        "developer",
        Priority::Normal,
        &[1],
        a.clone(),
        false,
    ));
    ev.push(added(
        4,
        "Docs",
        "writer",
        Priority::Normal,
        &[2, 3],
        a.clone(),
        false,
    ));
    ev.push(added(5, "Notes", "writer", Priority::Normal, &[], a, false));
    ev.extend(done(1, 1, "researcher"));
    ev.extend(done(2, 1, "developer"));
    ev.push(started(3, 2, "developer"));
    let envs = at(&mut s, ev);
    (State::fold(&envs), s)
}

#[test]
fn layers_follow_dependencies_and_the_critical_path_is_the_longest_remaining_chain() {
    let (state, s) = diamond();
    let g = graph(&state, s.at);
    let ids = |v: &[SubtaskId]| v.iter().map(|i| i.0).collect::<Vec<_>>();
    let layers: Vec<Vec<u32>> = g.layers.iter().map(|l| ids(l)).collect();
    assert_eq!(layers, vec![vec![1, 5], vec![2, 3], vec![4]]);
    // #3 is running (started at the last event, 0 s ago, developers take 3 s); #4 (writer:
    // no writer finished yet, so the mean of every role, 3 s) waits on it: 6 s. #5 alone: 3 s.
    assert_eq!(ids(&g.critical), vec![3, 4]);
    assert_eq!(g.critical_secs, Some(6.0));
    // Remaining work 3 + 3 + 3 = 9 s over 4 workers is less than the chain.
    assert_eq!(g.eta_secs, Some(6.0));
    assert_eq!(g.role_secs.get("developer"), Some(&3.0));
    // Two seconds later #3 has 1 s left.
    let g = graph(&state, s.at + Duration::seconds(2));
    assert_eq!(g.critical_secs, Some(4.0));
}

#[test]
fn before_anything_finishes_the_path_is_found_but_no_time_is_guessed() {
    let mut s = Script::default();
    let a = Origin::Analysis;
    let envs = at(
        &mut s,
        vec![
            added(
                1,
                "One",
                "developer",
                Priority::Normal,
                &[],
                a.clone(),
                false,
            ),
            added(
                2,
                "Two",
                "developer",
                Priority::Normal,
                &[1],
                a.clone(),
                false,
            ),
            added(3, "Three", "developer", Priority::Normal, &[], a, false),
        ],
    );
    let g = graph(&State::fold(&envs), s.at);
    assert_eq!(g.critical, vec![SubtaskId(1), SubtaskId(2)]);
    assert_eq!(g.eta_secs, None);
    let text = baton::export::graph::summary_line(&g);
    assert!(text.contains("no time estimate"), "{text}");
}

#[test]
fn a_cycle_from_a_damaged_journal_and_a_very_long_chain_still_lay_out() {
    let mut s = Script::default();
    let a = Origin::Analysis;
    // The planner never accepts a cycle, but a journal on disk can say anything.
    let envs = at(
        &mut s,
        vec![
            added(
                1,
                "A",
                "developer",
                Priority::Normal,
                &[2],
                a.clone(),
                false,
            ),
            added(
                2,
                "B",
                "developer",
                Priority::Normal,
                &[1],
                a.clone(),
                false,
            ),
            added(
                3,
                "C",
                "developer",
                Priority::Normal,
                &[3, 99],
                a.clone(),
                false,
            ),
        ],
    );
    let g = graph(&State::fold(&envs), s.at);
    let all: usize = g.layers.iter().map(Vec::len).sum();
    assert_eq!(all, 3, "{:?}", g.layers);
    // 20,000 subtasks in one chain: iterative, so no stack overflow.
    let mut events = Vec::new();
    for i in 1..=20_000u32 {
        let deps: Vec<u32> = if i > 1 { vec![i - 1] } else { vec![] };
        events.push(added(
            i,
            "step",
            "developer",
            Priority::Normal,
            &deps,
            a.clone(),
            false,
        ));
    }
    let envs = at(&mut Script::default(), events);
    let g = graph(&State::fold(&envs), s.at);
    assert_eq!(g.layers.len(), 20_000);
    assert_eq!(g.critical.len(), 20_000);
}

/// The run of UX.md mid-flight, on the graph view.
fn graph_screen(ascii: bool) -> baton::tui::Ui {
    let mut ui = new_ui();
    ui.theme.ascii = ascii;
    mid_run(&mut ui);
    key(&mut ui, KeyCode::Esc); // the escalation that opened by itself: later
    ch(&mut ui, 'P');
    assert_eq!(ui.screen, Screen::Graph);
    ui
}

#[test]
fn the_graph_view_shows_layers_the_path_and_moves_into_details_and_back() {
    let mut ui = graph_screen(false);
    tui_support::both!("plan_graph", &mut ui);
    let first = ui.selected_subtask();
    key(&mut ui, KeyCode::Right);
    let moved = ui.selected_subtask();
    assert_ne!(first, moved, "Right moves to the next layer");
    key(&mut ui, KeyCode::Enter);
    assert_eq!(ui.screen, Screen::Detail(moved.unwrap()));
    key(&mut ui, KeyCode::Esc);
    assert_eq!(
        ui.screen,
        Screen::Graph,
        "Esc from the details goes back to the graph"
    );
    key(&mut ui, KeyCode::Esc);
    assert_eq!(ui.screen, Screen::Main);
}

#[test]
fn the_graph_view_in_ascii_draws_only_ascii() {
    let mut ui = graph_screen(true);
    let screen = render(&mut ui, 80, 24);
    assert!(screen.is_ascii(), "{screen}");
    assert!(screen.contains("critical path"), "{screen}");
}

#[test]
fn baton_graph_prints_text_dot_and_json_for_a_real_run() {
    let home = tempfile::tempdir().unwrap();
    support_cli::completed_demo_run(home.path());
    let run = |format: &str| {
        let o = support_cli::baton(home.path())
            .args(["graph", "latest", "--format", format])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", support_cli::text(&o).1);
        support_cli::text(&o).0
    };
    let text = run("text");
    assert!(text.contains("layer 1"), "{text}");
    assert!(text.contains("nothing left to run"), "{text}");
    let dot = run("dot");
    assert!(dot.starts_with("digraph plan {"), "{dot}");
    assert!(dot.contains(" -> ") || !text.contains("<-"), "{dot}");
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    assert!(json["critical_path"].as_array().unwrap().is_empty());
    let o = support_cli::baton(home.path())
        .args(["graph", "no-such-run"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// A journal with a chain of 12,000 subtasks, the last one selected: the view's column
/// arithmetic is not in u16 (12,000 collapsed columns are 84,000 cells), so it neither
/// panics nor loses the selection.
#[test]
fn the_graph_view_of_a_very_long_chain_draws_at_80x24() {
    let a = Origin::Analysis;
    let mut events = vec![Event::RunStarted {
        run_id: "long".into(),
        task: "t".into(),
        settings: settings(),
    }];
    for i in 1..=12_000u32 {
        let deps: Vec<u32> = if i > 1 { vec![i - 1] } else { vec![] };
        events.push(added(
            i,
            "step",
            "developer",
            Priority::Normal,
            &deps,
            a.clone(),
            false,
        ));
    }
    let mut ui = new_ui();
    ui.state = State::fold(&at(&mut Script::default(), events));
    ui.selected = Some(baton::tui::app::Sel::Subtask(SubtaskId(12_000)));
    ui.screen = Screen::Graph;
    let screen = render(&mut ui, 80, 24);
    assert!(screen.contains("#12000"), "{screen}");
    assert!(screen.contains("of 12000"), "{screen}");
}
