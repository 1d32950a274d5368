//! Workspace tools over files: confinement (escape attempts refused), list_dir, read_file
//! line ranges and caps, search respecting .gitignore, write_file, edit_file, read-only.
//!
//! Must not touch anything outside its temporary directories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::tools_support;

use serde_json::json;

use baton::protocol::Event;
use baton::tools::WorkerTools;
use tools_support::{FakeHost, Fixture, run, symlink};

fn all_tools() -> Vec<String> {
    baton::tools::schema::ALL_TOOLS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[tokio::test]
async fn escape_attempts_are_refused() {
    let fx = Fixture::new();
    fx.write("a/inner.txt", "inside\n");
    symlink(&fx.outside.join("secret.txt"), &fx.ws.join("link.txt"));
    symlink(&fx.outside, &fx.ws.join("linkdir"));
    symlink(&fx.tmp.path().join("missing"), &fx.ws.join("dangling"));
    let ws = fx.open();
    let host = FakeHost::default();
    let secret = fx.outside.join("secret.txt");
    let attempts = [
        "../outside/secret.txt".to_string(),
        "a/../../outside/secret.txt".to_string(),
        secret.display().to_string(),
        "/etc/passwd".to_string(),
        "link.txt".to_string(),
        "linkdir/secret.txt".to_string(),
        "linkdir/new.txt".to_string(),
        "dangling".to_string(),
    ];
    for path in &attempts {
        let out = run(&ws, &host, 1, "read_file", json!({ "path": path })).await;
        assert!(
            out.is_error,
            "read of {path} must be refused: {}",
            out.content
        );
        assert!(!out.content.contains("top secret"), "{}", out.content);
        assert!(
            out.content.contains("outside the workspace")
                || out.content.contains("symbolic link")
                || out.content.contains("cannot be resolved"),
            "{path}: {}",
            out.content
        );
        let out = run(
            &ws,
            &host,
            1,
            "write_file",
            json!({ "path": path, "content": "x" }),
        )
        .await;
        assert!(
            out.is_error,
            "write of {path} must be refused: {}",
            out.content
        );
    }
    // Nothing outside was touched or created.
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "top secret\n");
    assert!(!fx.outside.join("new.txt").exists());
    assert!(!fx.tmp.path().join("missing").exists());
    // Listing, searching and running from an outside directory are refused too.
    let out = run(&ws, &host, 1, "list_dir", json!({"path": "linkdir"})).await;
    assert!(out.is_error, "{}", out.content);
    let out = run(
        &ws,
        &host,
        1,
        "search",
        json!({"pattern": "secret", "path": ".."}),
    )
    .await;
    assert!(out.is_error, "{}", out.content);
    let out = run(
        &ws,
        &host,
        1,
        "run_command",
        json!({"command": "cat secret.txt", "cwd": "linkdir"}),
    )
    .await;
    assert!(out.is_error, "{}", out.content);
    assert!(
        host.asked().is_empty(),
        "no approval asked for a refused cwd"
    );
    // Searching the whole workspace does not follow the symlinks out.
    let out = run(&ws, &host, 1, "search", json!({"pattern": "top secret"})).await;
    assert!(!out.is_error);
    assert!(out.content.starts_with("no matches"), "{}", out.content);
    // No change was recorded.
    assert!(host.events().is_empty());
}

#[tokio::test]
async fn paths_inside_are_accepted_and_shown_relative() {
    let fx = Fixture::new();
    fx.write("a/b.txt", "hello\n");
    symlink(&fx.ws.join("a/b.txt"), &fx.ws.join("alias.txt"));
    let ws = fx.open();
    let host = FakeHost::default();
    let abs = fx.ws.join("a/b.txt").display().to_string();
    for path in [abs.as_str(), "a/b.txt", "./a/../a/b.txt", "alias.txt"] {
        let out = run(&ws, &host, 1, "read_file", json!({ "path": path })).await;
        assert!(!out.is_error, "{path}: {}", out.content);
        assert!(
            out.content.starts_with("a/b.txt (1 lines)\nhello\n"),
            "{}",
            out.content
        );
        assert_eq!(out.summary, "read_file a/b.txt (1 lines)");
        assert!(!out.content.contains(fx.tmp.path().to_str().unwrap()));
    }
}

#[tokio::test]
async fn list_dir_respects_gitignore_and_depth() {
    let fx = Fixture::new();
    fx.write(".gitignore", "target/\n*.log\n");
    fx.write("src/main.py", "print(1)\n");
    fx.write("src/deep/x.py", "x\n");
    fx.write("target/out.bin", "bin\n");
    fx.write("debug.log", "log\n");
    fx.write(".git/HEAD", "ref\n");
    let ws = fx.open();
    let host = FakeHost::default();
    let out = run(&ws, &host, 1, "list_dir", json!({})).await;
    assert!(!out.is_error, "{}", out.content);
    assert!(out.content.contains("src/\n"), "{}", out.content);
    assert!(out.content.contains(".gitignore"), "{}", out.content);
    assert!(
        !out.content.contains("src/main.py"),
        "depth 1: {}",
        out.content
    );
    assert!(!out.content.contains("target"), "{}", out.content);
    assert!(!out.content.contains("debug.log"), "{}", out.content);
    assert!(!out.content.contains(".git/"), "{}", out.content);
    let out = run(
        &ws,
        &host,
        1,
        "list_dir",
        json!({"path": "src", "depth": 3}),
    )
    .await;
    assert!(
        out.content.contains("src/main.py (9 bytes)"),
        "{}",
        out.content
    );
    assert!(out.content.contains("src/deep/x.py"), "{}", out.content);
    assert_eq!(out.summary, "list_dir src (3 entries)");
    let out = run(&ws, &host, 1, "list_dir", json!({"path": "src/main.py"})).await;
    assert!(
        out.is_error && out.content.contains("use read_file"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn read_file_line_ranges_and_cap() {
    let fx = Fixture::new();
    let text: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
    fx.write("big.txt", &text);
    let ws = fx.open_with(|o| o.read_cap = 1000);
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "read_file",
        json!({"path": "big.txt", "offset": 10, "limit": 3}),
    )
    .await;
    assert_eq!(
        out.content,
        "big.txt lines 10-12 of 1,000\nline 10\nline 11\nline 12\n"
    );
    assert_eq!(out.summary, "read_file big.txt lines 10-12 of 1,000");
    let out = run(&ws, &host, 1, "read_file", json!({"path": "big.txt"})).await;
    assert!(!out.is_error);
    assert!(out.content.len() < 1200, "capped: {}", out.content.len());
    assert!(out.content.contains("more lines cut"), "{}", out.content);
    assert!(out.content.contains("use offset="), "{}", out.content);
    assert!(out.summary.ends_with("(cut)"), "{}", out.summary);
    let out = run(
        &ws,
        &host,
        1,
        "read_file",
        json!({"path": "big.txt", "offset": 2000}),
    )
    .await;
    assert!(
        out.is_error && out.content.contains("1,000 lines"),
        "{}",
        out.content
    );
    let out = run(&ws, &host, 1, "read_file", json!({"path": "nope.txt"})).await;
    assert!(
        out.is_error && out.content.contains("does not exist"),
        "{}",
        out.content
    );
    let out = run(&ws, &host, 1, "read_file", json!({})).await;
    assert!(
        out.is_error && out.content.contains("invalid arguments for read_file"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn search_respects_gitignore_glob_and_caps() {
    let fx = Fixture::new();
    fx.write(".gitignore", "build/\n");
    fx.write(
        "src/a.py",
        "def shorten(url):\n    # TODO: validate\n    return url\n",
    );
    fx.write("src/b.rs", "// TODO: port\n");
    fx.write("build/gen.py", "# TODO: generated\n");
    let many: String = (0..300).map(|i| format!("TODO {i}\n")).collect();
    fx.write("notes/many.txt", &many);
    let ws = fx.open();
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "search",
        json!({"pattern": "TODO", "glob": "*.py"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert!(
        out.content.contains("src/a.py:2:     # TODO: validate"),
        "{}",
        out.content
    );
    assert!(!out.content.contains("build/gen.py"), "{}", out.content);
    assert!(!out.content.contains("src/b.rs"), "{}", out.content);
    assert_eq!(out.summary, "search \"TODO\" (1 matches in 1 files)");
    let out = run(
        &ws,
        &host,
        1,
        "search",
        json!({"pattern": "todo", "case_insensitive": true, "max_results": 5}),
    )
    .await;
    assert!(
        out.content.contains("302 matches in 3 files"),
        "{}",
        out.content
    );
    assert!(
        out.content.contains("297 more matches cut"),
        "{}",
        out.content
    );
    let out = run(&ws, &host, 1, "search", json!({"pattern": "(unclosed"})).await;
    assert!(
        out.is_error && out.content.contains("invalid regular expression"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn write_file_creates_dirs_and_requires_a_read_before_overwriting() {
    let fx = Fixture::new();
    fx.write("existing.txt", "old\n");
    let ws = fx.open();
    let host = FakeHost::default();
    let out = run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "new/deep/file.txt", "content": "a\nb\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(fx.read("new/deep/file.txt"), "a\nb\n");
    assert_eq!(
        out.summary,
        "write_file new/deep/file.txt (created, 2 lines)"
    );
    let out = run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "existing.txt", "content": "new\n"}),
    )
    .await;
    assert!(
        out.is_error && out.content.contains("read_file it first"),
        "{}",
        out.content
    );
    assert_eq!(fx.read("existing.txt"), "old\n");
    run(&ws, &host, 1, "read_file", json!({"path": "existing.txt"})).await;
    let out = run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "existing.txt", "content": "new\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(fx.read("existing.txt"), "new\n");
    // Its own write counts as seen: writing again needs no new read.
    let out = run(
        &ws,
        &host,
        1,
        "write_file",
        json!({"path": "existing.txt", "content": "newer\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    let changed: Vec<_> = host
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::FileChanged { .. }))
        .collect();
    assert_eq!(changed.len(), 3);
}

/// A file change the journal cannot record is not made: the worker sees an error and the
/// file keeps its bytes (write, edit, delete and create alike).
#[tokio::test]
async fn a_change_the_journal_cannot_record_is_not_made() {
    let fx = Fixture::new();
    fx.write("kept.txt", "old\n");
    let ws = fx.open();
    let reader = FakeHost::default();
    run(&ws, &reader, 1, "read_file", json!({"path": "kept.txt"})).await;
    let host = FakeHost {
        journal_error: Some("disk full".into()),
        ..FakeHost::default()
    };
    let calls = [
        (
            "write_file",
            json!({"path": "kept.txt", "content": "new\n"}),
        ),
        (
            "edit_file",
            json!({"path": "kept.txt", "old_string": "old", "new_string": "new"}),
        ),
        ("delete_file", json!({"path": "kept.txt"})),
        ("write_file", json!({"path": "fresh.txt", "content": "x\n"})),
    ];
    for (tool, args) in calls {
        let out = run(&ws, &host, 1, tool, args).await;
        assert!(
            out.is_error && out.content.contains("disk full") && out.content.contains("not"),
            "{tool}: {}",
            out.content
        );
        assert_eq!(fx.read("kept.txt"), "old\n", "{tool}");
        assert!(!fx.exists("fresh.txt"), "{tool}");
    }
}

#[tokio::test]
async fn edit_file_is_exact() {
    let fx = Fixture::new();
    fx.write("f.py", "x = 1\ny = 1\nz = 2\n");
    let ws = fx.open();
    let host = FakeHost::default();
    run(&ws, &host, 1, "read_file", json!({"path": "f.py"})).await;
    let out = run(
        &ws,
        &host,
        1,
        "edit_file",
        json!({"path": "f.py", "old_string": "w = 3", "new_string": "w = 4"}),
    )
    .await;
    assert!(
        out.is_error && out.content.contains("was not found"),
        "{}",
        out.content
    );
    let out = run(
        &ws,
        &host,
        1,
        "edit_file",
        json!({"path": "f.py", "old_string": " = 1", "new_string": " = 5"}),
    )
    .await;
    assert!(
        out.is_error && out.content.contains("occurs 2 times"),
        "{}",
        out.content
    );
    assert_eq!(fx.read("f.py"), "x = 1\ny = 1\nz = 2\n");
    let out = run(
        &ws,
        &host,
        1,
        "edit_file",
        json!({"path": "f.py", "old_string": "z = 2", "new_string": "z = 3"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(out.summary, "edit_file f.py (1 replacement)");
    let out = run(
        &ws,
        &host,
        1,
        "edit_file",
        json!({"path": "f.py", "old_string": " = 1", "new_string": " = 5", "replace_all": true}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(out.summary, "edit_file f.py (2 replacements)");
    assert_eq!(fx.read("f.py"), "x = 5\ny = 5\nz = 3\n");
    assert!(
        host.events()
            .iter()
            .all(|e| matches!(e, Event::FileChanged { .. }))
    );
    assert_eq!(host.events().len(), 2, "failed edits record nothing");
}

#[tokio::test]
async fn read_only_offers_only_reading_tools_and_refuses_writes() {
    let fx = Fixture::new();
    fx.write("f.txt", "x\n");
    let ws = fx.open_with(|o| {
        o.read_only = true;
        o.allow_commands = true;
    });
    let host = FakeHost::default();
    let names: Vec<String> = ws
        .definitions(&all_tools())
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, vec!["list_dir", "read_file", "search"]);
    run(&ws, &host, 1, "read_file", json!({"path": "f.txt"})).await;
    for (tool, args) in [
        ("write_file", json!({"path": "f.txt", "content": "y"})),
        (
            "edit_file",
            json!({"path": "f.txt", "old_string": "x", "new_string": "y"}),
        ),
        ("delete_file", json!({"path": "f.txt"})),
        ("run_command", json!({"command": "touch g.txt"})),
    ] {
        let out = run(&ws, &host, 1, tool, args).await;
        assert!(
            out.is_error && out.content.contains("read-only"),
            "{tool}: {}",
            out.content
        );
    }
    assert_eq!(fx.read("f.txt"), "x\n");
    assert!(!fx.exists("g.txt"));
}

#[tokio::test]
async fn definitions_follow_the_role_list() {
    let fx = Fixture::new();
    let ws = fx.open();
    let role = vec![
        "read_file".to_string(),
        "run_command".to_string(),
        "teleport".to_string(),
    ];
    let defs = ws.definitions(&role);
    let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, vec!["read_file", "run_command"]);
    for d in &defs {
        assert_eq!(d.input_schema["type"], "object");
    }
    assert!(ws.definitions(&[]).is_empty());
    assert_eq!(ws.definitions(&all_tools()).len(), 7);
    let host = FakeHost::default();
    let out = run(&ws, &host, 1, "teleport", json!({})).await;
    assert!(
        out.is_error && out.content.contains("not a workspace tool"),
        "{}",
        out.content
    );
}

/// Issue 8: a file over the old 2 MiB (search) and 16 MiB (read) limits is read in parts
/// and searched to its end; the advice given ("use offset", "search") works.
#[tokio::test]
async fn large_files_are_read_in_parts_and_searched_whole() {
    let fx = Fixture::new();
    let mut text = String::with_capacity(18 * 1024 * 1024);
    let mut n = 0u32;
    while text.len() < 17 * 1024 * 1024 {
        n += 1;
        text.push_str(&format!(
            "row {n:08} of filler text to make the file large\n"
        ));
    }
    text.push_str("the needle at the very end\n");
    let total = n + 1;
    fx.write("huge.log", &text);
    drop(text);
    let ws = fx.open();
    let host = FakeHost::default();

    let out = run(&ws, &host, 1, "read_file", json!({"path": "huge.log"})).await;
    assert!(!out.is_error, "{}", out.content);
    assert!(
        out.content.len() <= 256 * 1024 + 200,
        "capped: {}",
        out.content.len()
    );
    assert!(
        out.content.contains("use offset="),
        "{}",
        &out.content[out.content.len() - 200..]
    );

    let out = run(
        &ws,
        &host,
        1,
        "read_file",
        json!({"path": "huge.log", "offset": total, "limit": 5}),
    )
    .await;
    assert_eq!(
        out.content,
        format!(
            "huge.log lines {total}-{total} of {}\nthe needle at the very end\n",
            thousands(total)
        )
    );

    let out = run(&ws, &host, 1, "search", json!({"pattern": "needle"})).await;
    assert!(!out.is_error, "{}", out.content);
    assert!(
        out.content
            .contains(&format!("huge.log:{total}: the needle at the very end")),
        "{}",
        out.content
    );
    assert!(!out.content.contains("skipped"), "{}", out.content);
}

fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
