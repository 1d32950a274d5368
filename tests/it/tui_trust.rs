//! Resume trust in the TUI (issue 8): when a resumed run's journal names another provider,
//! base URL or workspace, the TUI asks in a dialog on its own screen before any engine
//! starts. Nothing reaches any provider until the person answers; a key typed before the
//! dialog appeared does not answer it; quitting refuses like headless, naming the flags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use baton::journal;
use baton::llm::ProviderKind;
use baton::protocol::Event;
use baton::resume_trust::{Mismatch, TrustRefusal};
use baton::tui::modals::trust::{TrustAnswer, TrustDialog};
use baton::tui::theme::Theme;

use crate::pty_e2e::{drive, spawn, wait_exit};
use crate::support::{FakeLlm, RecordedRequest, ScriptedResponse};

fn dialog() -> TrustDialog {
    TrustDialog::new(TrustRefusal {
        run_id: "20261126-093012-7f3a".into(),
        found: vec![
            Mismatch {
                key: "provider",
                flag: "--provider",
                journal: Some("anthropic".into()),
                today: Some("demo".into()),
            },
            Mismatch {
                key: "base_url",
                flag: "--base-url",
                journal: Some("http://attacker.example:8080/v1\u{1b}]0;owned\u{7}".into()),
                today: None,
            },
            Mismatch {
                key: "workspace",
                flag: "--workspace",
                journal: Some("/".into()),
                today: Some("/home/me/project".into()),
            },
        ],
    })
}

fn render(d: &TrustDialog, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| baton::tui::startup::draw(f, d, &Theme::default()))
        .unwrap();
    term.backend().to_string()
}

#[test]
fn the_dialog_lists_each_difference_with_journal_text_made_visible() {
    let d = dialog();
    let small = render(&d, 80, 24);
    let big = render(&d, 160, 48);
    for screen in [&small, &big] {
        assert!(!screen.contains('\u{1b}') && !screen.contains('\u{7}'));
        assert!(screen.contains("\\x1b]0;owned\\x07"), "{screen}");
        assert!(
            screen.contains("Nothing is sent to any provider"),
            "{screen}"
        );
        assert!(screen.contains("--workspace /"), "{screen}");
    }
    insta::assert_snapshot!("trust_dialog_80x24", small);
    insta::assert_snapshot!("trust_dialog_160x48", big);
}

#[test]
fn only_y_continues_and_a_stray_key_answers_nothing() {
    let d = dialog();
    let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
    assert_eq!(
        d.handle_key(&key(KeyCode::Char('y'))),
        Some(TrustAnswer::Today)
    );
    assert_eq!(
        d.handle_key(&key(KeyCode::Char('Y'))),
        Some(TrustAnswer::Today)
    );
    for quit in [KeyCode::Char('n'), KeyCode::Char('q'), KeyCode::Esc] {
        assert_eq!(d.handle_key(&key(quit)), Some(TrustAnswer::Quit));
    }
    assert_eq!(
        d.handle_key(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(TrustAnswer::Quit)
    );
    for stray in [KeyCode::Enter, KeyCode::Char(' '), KeyCode::Char('x')] {
        assert_eq!(d.handle_key(&key(stray)), None);
    }
}

fn refuse_everything(_: &RecordedRequest) -> ScriptedResponse {
    ScriptedResponse::anthropic_error(400, "invalid_request_error", "no")
}

/// A run planted in `home`'s data directory whose journal names the attacker's endpoint,
/// and today's configuration: the demo.
fn plant(home: &Path, attacker: &str) {
    crate::resume_trust::plant_forged_run(home, attacker);
    std::fs::write(
        home.join("config.toml"),
        "provider = \"demo\"\n[demo]\npace_ms = 0\n",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_typed_ahead_does_not_answer_and_quitting_refuses_with_the_flags() {
    let home = tempfile::tempdir().unwrap();
    let attacker = FakeLlm::with_responder(refuse_everything).await;
    let url = attacker.base_url(ProviderKind::Anthropic);
    plant(home.path(), &url);
    let (mut tty, mut child) = spawn(home.path(), &["resume", "latest"], "xterm-256color");
    // Typed before the dialog is on screen: must be ignored, not taken as "yes".
    tty.send(b"y");
    let deadline = Instant::now() + Duration::from_secs(60);
    drive(&mut tty, deadline, |screen, _| {
        screen.contains("Nothing is sent to any provider")
    });
    assert!(tty.screen().contains("Resume run 29991231-000000-forged?"));
    assert_eq!(attacker.request_count(), 0);
    tty.send(b"n");
    // After the screen is restored: the refusal, as headless prints it.
    drive(&mut tty, deadline, |screen, _| {
        screen.contains("Choose with flags and resume again")
    });
    assert_eq!(wait_exit(&mut child, deadline), 2);
    let text = tty.screen();
    assert!(text.contains(&format!("--base-url {url}")), "{text}");
    assert!(text.contains("--workspace /"), "{text}");
    assert_eq!(attacker.request_count(), 0);
    // Nothing was journaled: the run was not resumed.
    let j = journal::replay(
        &journal::runs_dir(&home.path().join("data"))
            .join("29991231-000000-forged")
            .join(journal::JOURNAL_FILE),
    )
    .unwrap();
    assert_eq!(j.events.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yes_continues_with_todays_provider_only() {
    let home = tempfile::tempdir().unwrap();
    let attacker = FakeLlm::with_responder(refuse_everything).await;
    plant(home.path(), &attacker.base_url(ProviderKind::Anthropic));
    let (mut tty, mut child) = spawn(home.path(), &["resume", "latest"], "xterm-256color");
    let deadline = Instant::now() + Duration::from_secs(60);
    drive(&mut tty, deadline, |screen, _| {
        screen.contains("Nothing is sent to any provider")
    });
    tty.send(b"y");
    // The run opens on today's provider (the demo) and journals the settings it runs with.
    let journal_path = journal::runs_dir(&home.path().join("data"))
        .join("29991231-000000-forged")
        .join(journal::JOURNAL_FILE);
    drive(&mut tty, deadline, |_, _| {
        journal::replay(&journal_path)
            .unwrap()
            .events
            .iter()
            .any(|e| matches!(e.event, Event::SettingsChanged { .. }))
    });
    child.kill().unwrap();
    let _ = wait_exit(&mut child, deadline);
    assert_eq!(attacker.request_count(), 0);
    let events = journal::replay(&journal_path).unwrap().events;
    let changed = events
        .iter()
        .find_map(|e| match &e.event {
            Event::SettingsChanged { settings, .. } => Some(settings.clone()),
            _ => None,
        })
        .expect("the settings it ran with are journaled");
    assert_eq!(changed.provider, "demo");
    assert_eq!(changed.workspace, None);
    assert!(!changed.allow_commands);
}
