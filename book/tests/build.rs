//! The book is sound and builds: every include file and anchor exists, no Rust is typed
//! into a chapter, every internal link lands, leaky and fixed regions are paired, and
//! mdBook renders it.

use std::fs;
use std::path::{Path, PathBuf};

use book_checks::{anchors, check_book, slug};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// No missing include, anchor or link, and no inline Rust, in the real book.
#[test]
fn the_book_has_no_missing_include_anchor_or_link() {
    let problems = check_book(&root());
    assert!(
        problems.is_empty(),
        "the book has problems:\n{}",
        problems.join("\n")
    );
}

/// The book has at least the ten chapters the story needs.
#[test]
fn the_book_has_its_chapters() {
    let chapters = book_checks::chapters(&root().join("src")).unwrap();
    assert!(chapters.len() >= 10, "{chapters:?}");
}

/// mdBook itself renders the book (into a scratch folder).
#[test]
fn the_book_builds_with_mdbook() {
    let mut book = mdbook_driver::MDBook::load(root()).expect("the book loads");
    let out = std::env::temp_dir().join(format!("book-build-{}", std::process::id()));
    book.config.build.build_dir = out.clone();
    book.build().expect("the book builds");
    let html = fs::read_to_string(out.join("leaks.html")).expect("a rendered chapter");
    // An include that mdBook could not resolve would leave the directive or an empty block.
    assert!(
        html.contains("LEAK(L2)"),
        "the leaky select worker is in the page"
    );
    assert!(!html.contains("{{#include"));
    let _ = fs::remove_dir_all(out);
}

/// Every anchor in a leaky-server file has its twin in the fixed-server file of the same
/// name, and the other way round: leaky and fixed regions come in pairs.
#[test]
fn leaky_and_fixed_anchors_are_paired() {
    let workspace = root().parent().unwrap().to_path_buf();
    for entry in fs::read_dir(workspace.join("leaky-server/src")).unwrap() {
        let leaky = entry.unwrap().path();
        let fixed = workspace
            .join("fixed-server/src")
            .join(leaky.file_name().unwrap());
        if !fixed.exists() {
            continue;
        }
        let mut a = anchors(&fs::read_to_string(&leaky).unwrap());
        let mut b = anchors(&fs::read_to_string(&fixed).unwrap());
        a.sort();
        b.sort();
        assert_eq!(
            a,
            b,
            "anchors of {} and {}",
            leaky.display(),
            fixed.display()
        );
    }
}

/// The checker reports what mdBook lets pass: a missing file, a missing anchor, a
/// line-range include, Rust typed inline, a dead link and a dead heading link.
#[test]
fn the_checker_catches_what_mdbook_lets_pass() {
    let dir = std::env::temp_dir().join(format!("book-check-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(dir.join("book.toml"), "[book]\ntitle = \"t\"\n").unwrap();
    fs::write(
        src.join("SUMMARY.md"),
        "# Summary\n\n- [A](a.md)\n- [B](b.md)\n",
    )
    .unwrap();
    fs::write(
        src.join("code.rs"),
        "// ANCHOR: here\nfn f() {}\n// ANCHOR_END: here\n",
    )
    .unwrap();
    fs::write(
        src.join("a.md"),
        "# A\n\n```rust,ignore\n{{#include code.rs:here}}\n```\n\n\
         ```rust,ignore\n{{#include missing.rs}}\n```\n\n\
         ```rust,ignore\n{{#include code.rs:nowhere}}\n```\n\n\
         ```rust,ignore\n{{#include code.rs:1:2}}\n```\n\n\
         ```rust\nfn typed() {}\n```\n\n\
         [fine](b.md#the-b-part) [dead](c.md) [dead heading](b.md#nope) \\{{#include escaped.rs}}\n",
    )
    .unwrap();
    fs::write(src.join("b.md"), "# The B part\n").unwrap();
    let problems = check_book(&dir);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        has("included file missing.rs does not exist"),
        "{problems:#?}"
    );
    assert!(has("has no anchor \"nowhere\""), "{problems:#?}");
    assert!(has("by line numbers"), "{problems:#?}");
    assert!(has("fn typed() {}"), "{problems:#?}");
    assert!(has("dead link c.md"), "{problems:#?}");
    assert!(has("dead link b.md#nope"), "{problems:#?}");
    assert_eq!(problems.len(), 6, "{problems:#?}");
    let _ = fs::remove_dir_all(dir);
}

#[test]
fn slugs_follow_mdbook() {
    assert_eq!(
        slug(" Leak detection: `/_count` and load-client"),
        "leak-detection-_count-and-load-client"
    );
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("book.toml")
            .exists()
    );
}

/// Every figure the book quotes comes from generated output (or the code): none typed by
/// hand. In the numbers chapter, every number.
#[test]
fn every_figure_in_prose_comes_from_a_generated_file() {
    let problems = book_checks::unsourced_figures(&root());
    assert!(
        problems.is_empty(),
        "figures typed by hand:\n{}",
        problems.join("\n")
    );
}
