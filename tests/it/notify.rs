//! `--notify-command CMD`: the program runs directly (no shell), with its own arguments and
//! the sanitised message as one last argument; and not at all while the terminal has focus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
#[test]
fn the_notify_command_gets_the_message_as_one_argument_and_no_shell() {
    use std::os::unix::fs::PermissionsExt;

    use baton::notify::{Notifier, NotifyMode, TerminalKind, split_command};

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("args.txt");
    let marker = dir.path().join("pwned");
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done > '{}'\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut n = Notifier::new(
        NotifyMode::Off,
        split_command(&format!("{} --urgency normal", script.display())),
        TerminalKind::default(),
    );
    let message = format!(
        "run 1 needs you: approve #2 $(touch {}) `id`; echo hi\x1b[31m\x07",
        marker.display()
    );
    let status = n.command_for(&message).unwrap().status().unwrap();
    assert!(status.success());
    let args = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        args,
        format!(
            "[--urgency]\n[normal]\n[Baton: run 1 needs you: approve #2 $(touch {}) `id`; echo hi [31m]\n",
            marker.display()
        )
    );
    assert!(!marker.exists(), "nothing in the message ran");

    // While the person looks at the terminal, no command.
    n.set_focused(true);
    assert!(n.command_for(&message).is_none());
}
