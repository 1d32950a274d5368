//! The layering of docs/architecture.md (DESIGN.md "Boundaries"), checked on the source:
//! every `crate::<module>` path in `src/` (in `use` lines and inline) is an edge between
//! top-level modules; the graph must have no cycle and no edge may point to a module on
//! the same or a higher layer. A new top-level module must be given a layer here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Layer of each top-level module: a module may import only modules on lower layers.
const LAYERS: &[(&str, u32)] = &[
    ("protocol", 0),
    ("text", 0),
    ("state", 1),
    ("journal", 2),
    ("tools", 2),
    ("llm", 2),
    ("logging", 2),
    ("instructions", 2),
    ("isolation", 2),
    ("notify", 2),
    ("demo", 3),
    ("engine", 3),
    ("export", 3),
    ("keychain", 3),
    ("cli", 4),
    ("config", 5),
    ("resume_trust", 6),
    ("session", 7),
    ("doctor", 8),
    ("headless", 8),
    ("tui", 8),
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None`: the crate root files).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// `crate::x` paths in code (comments skipped), including the items of a grouped
/// `use crate::{a::B, c}`.
fn imported_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let before = &rest[..at];
            let after = &rest[at + "crate::".len()..];
            // `baton::crate::` cannot happen; skip identifiers that merely end in `crate`.
            let is_path = before
                .chars()
                .last()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if is_path {
                if let Some(group) = after.strip_prefix('{') {
                    let inner = group.split('}').next().unwrap_or("");
                    for item in inner.split(',') {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            out.insert(name);
                        }
                    }
                } else {
                    let name: String = after
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            }
            rest = after;
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = fs::read_to_string(&file).unwrap();
        let targets = edges.entry(module.clone()).or_default();
        for target in imported_modules(&text) {
            if target != module {
                targets.insert(target);
            }
        }
    }
    edges
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(c) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn top_level_modules_import_without_cycles() {
    let edges = graph();
    assert!(edges.contains_key("engine") && edges.contains_key("protocol"));
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle between modules: {}", cycle.join(" -> "));
    }
}

#[test]
fn imports_point_down_the_layering() {
    let layers: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut wrong = Vec::new();
    for (module, targets) in graph() {
        let Some(&from) = layers.get(module.as_str()) else {
            wrong.push(format!("`{module}` has no layer in tests/it/layering.rs"));
            continue;
        };
        for target in targets {
            match layers.get(target.as_str()) {
                Some(&to) if to < from => {}
                Some(&to) => wrong.push(format!(
                    "`{module}` (layer {from}) imports `{target}` (layer {to})"
                )),
                None => wrong.push(format!("`{module}` imports unknown `{target}`")),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_grouped_inline_and_commented_paths() {
    let text =
        "use crate::{state::State, protocol};\nlet x = crate::journal::open();\n// crate::tui\n";
    let found = imported_modules(text);
    let expected: BTreeSet<String> = ["journal", "protocol", "state"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, expected);
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".to_string(), "b".to_string(), "a".to_string()])
    );
}
