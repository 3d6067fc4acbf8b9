//! The workspace's shape, checked: the scenarios are listed once, and the two servers
//! differ only in their leaks and fixes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use scenarios::SCENARIOS;

/// The workspace root (the parent of this crate's folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("scenarios/ sits in the workspace")
        .to_path_buf()
}

/// Every file under `dir` whose name ends in `ext`, skipping build output and git.
fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "target" | ".git" | "node_modules") {
                files(&path, ext, out);
            }
        } else if name.ends_with(ext) {
            out.push(path);
        }
    }
}

/// Whether `text` names `route` as a route: `"/add"`, `GET /add?nums=`, `…:8001/add`, but
/// not a file path such as `src/add.rs` or a longer route such as `/address`.
fn names_route(text: &str, route: &str) -> bool {
    text.match_indices(route).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + route.len()..].chars().next();
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !before.is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && !after.is_some_and(|c| word(c) || c == '.')
    })
}

/// Adding a scenario means adding it to the table, not editing every file that loads a
/// route: each route's path is spelled out in at most four Rust files (the table, the
/// two servers' modules, and one more).
#[test]
fn each_route_is_named_in_at_most_four_rust_files() {
    let mut rust = Vec::new();
    files(&root(), ".rs", &mut rust);
    assert!(
        rust.len() > 50,
        "found the workspace's sources: {}",
        rust.len()
    );
    let texts: Vec<(PathBuf, String)> = rust
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap_or_default();
            (p, text)
        })
        .collect();
    let mut too_many = BTreeMap::new();
    for route in SCENARIOS.iter().filter_map(|s| s.route) {
        let naming: Vec<String> = texts
            .iter()
            .filter(|(_, text)| names_route(text, route))
            .map(|(p, _)| p.strip_prefix(root()).unwrap_or(p).display().to_string())
            .collect();
        assert!(!naming.is_empty(), "{route} is named nowhere?");
        if naming.len() > 4 {
            too_many.insert(route, naming);
        }
    }
    assert!(
        too_many.is_empty(),
        "routes named in more than 4 Rust files: {too_many:#?}"
    );
}

#[test]
fn route_names_are_told_from_file_names() {
    assert!(names_route("let x = \"/add\";", "/add"));
    assert!(names_route("GET /add?nums=1", "/add"));
    assert!(names_route("http://127.0.0.1:8001/add", "/add"));
    assert!(!names_route("leaky-server/src/add.rs:12", "/add"));
    assert!(!names_route("/address", "/add"));
    assert!(!names_route("/add.rs", "/add"));
}

/// The README's table of leaks is the table's own rendering, the book's copy too, and the
/// book's leaks chapter has a section for every tag: a scenario cannot be added (or
/// changed) without being told.
#[test]
fn the_readme_and_the_book_show_every_scenario() {
    let table = scenarios::markdown_table();
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let shown = readme
        .split_once("<!-- scenarios -->\n")
        .and_then(|(_, rest)| rest.split_once("<!-- /scenarios -->"))
        .map(|(shown, _)| shown);
    assert_eq!(
        shown,
        Some(table.as_str()),
        "README.md's table between <!-- scenarios --> markers is not `cargo run -p load-client -- scenarios`"
    );
    let generated = fs::read_to_string(root().join("book/src/generated/scenarios.md")).unwrap();
    assert_eq!(
        generated, table,
        "book/src/generated/scenarios.md is stale: run book/generate.sh (or `load-client scenarios`)"
    );
    let leaks = fs::read_to_string(root().join("book/src/leaks.md")).unwrap();
    for s in &SCENARIOS {
        assert!(
            leaks.contains(&format!("\n## {} — ", s.tag)),
            "book/src/leaks.md has no section `## {} — …` ({})",
            s.tag,
            s.title
        );
        assert!(table.contains(&format!("| {} |", s.tag)));
    }
}

/// The hunks of a diff of `old` and `new` (no context lines, as `diff` prints them), each
/// as the lines it removes and adds.
fn hunks(old: &str, new: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    let mut current: Option<(Vec<String>, Vec<String>)> = None;
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Equal => out.extend(current.take()),
            similar::ChangeTag::Delete => {
                current.get_or_insert_default().0.push(change.to_string())
            }
            similar::ChangeTag::Insert => {
                current.get_or_insert_default().1.push(change.to_string())
            }
        }
    }
    out.extend(current);
    out
}

fn tagged(line: &str) -> bool {
    line.contains("LEAK(L") || line.contains("FIX(L")
}

/// `diff -r leaky-server/src fixed-server/src` teaches: every hunk carries a `LEAK(Ln)` or
/// `FIX(Ln)` tag, and a file only one server has carries one too.
#[test]
fn every_hunk_of_the_servers_diff_is_tagged() {
    let (leaky, fixed) = (
        root().join("leaky-server/src"),
        root().join("fixed-server/src"),
    );
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let mut all = names(&leaky);
    all.extend(names(&fixed));
    all.sort();
    all.dedup();
    let mut untagged = Vec::new();
    let mut total = 0;
    for name in &all {
        let a = fs::read_to_string(leaky.join(name)).ok();
        let b = fs::read_to_string(fixed.join(name)).ok();
        match (a, b) {
            (Some(a), Some(b)) => {
                for (removed, added) in hunks(&a, &b) {
                    total += 1;
                    if !removed.iter().chain(&added).any(|l| tagged(l)) {
                        untagged.push(format!(
                            "{name}:\n- {}+ {}",
                            removed.join("- "),
                            added.join("+ ")
                        ));
                    }
                }
            }
            (Some(text), None) | (None, Some(text)) => {
                total += 1;
                if !tagged(&text) {
                    untagged.push(format!("{name}: only one server has it, and it has no tag"));
                }
            }
            (None, None) => {}
        }
    }
    assert!(total > 0);
    assert!(
        untagged.is_empty(),
        "{} of {total} hunks carry no LEAK(Ln)/FIX(Ln) tag:\n{}",
        untagged.len(),
        untagged.join("\n")
    );
}

/// The checker above finds an untagged hunk (so its silence means something).
#[test]
fn an_untagged_hunk_is_found() {
    let old = "a\nb\n// LEAK(L1): x\nc\n";
    let new = "a\nB\n// FIX(L1): y\nc\n";
    let found = hunks(old, new);
    assert_eq!(found.len(), 1, "{found:?}");
    let new = "a\nB\nsame\n// FIX(L1): y\nc\n";
    let old = "a\nb\nsame\n// LEAK(L1): x\nc\n";
    let found = hunks(old, new);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(!found[0].0.iter().chain(&found[0].1).any(|l| tagged(l)));
}
