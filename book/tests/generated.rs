//! The generated outputs say what the chapters claim about them. `book/generate.sh`
//! captures them from release builds; these checks read what it wrote, so a claim that a
//! regeneration stops supporting fails here, not in a reader's hands.

use std::path::PathBuf;

fn generated(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/generated")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The five routes that leak one task per request, by their file in leaky-server/src.
const LEAKING: [&str; 5] = ["sum", "select", "range", "heartbeat", "upstream"];

/// "Every leaky group names its waiting line in leaky-server/src", in the release build's
/// dump (live-tools and reading-dumps chapters).
#[test]
fn every_leaked_group_of_the_release_dump_names_its_waiting_line() {
    let dump = generated("stack-leaky.txt");
    let mut groups = 0;
    for block in dump.split("\n\n").skip(1) {
        let mut lines = block.lines();
        let head = lines.next().unwrap_or_default();
        if !head.contains("spawned at leaky-server/src/") {
            continue;
        }
        groups += 1;
        let file = head
            .rsplit("spawned at ")
            .next()
            .and_then(|site| site.split(':').next())
            .unwrap();
        let waiting = lines
            .find(|l| l.trim_start().starts_with("waiting at "))
            .unwrap_or_else(|| panic!("no waiting line in:\n{block}"));
        assert!(
            waiting.contains(&format!("waiting at {file}:")),
            "{head}\n{waiting}"
        );
    }
    assert!(groups >= 6, "the dump has every route's group:\n{dump}");
}

/// `/_leaks` after two rounds on five routes: five suspects, the leaking sites, labelled.
#[test]
fn the_leaks_page_names_the_five_leaking_sites() {
    let text = generated("leaks.txt");
    assert!(text.starts_with("leak suspects: 5 "), "{text}");
    for route in LEAKING {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with("SUSPECT") && l.contains(&format!("leaky-server/src/{route}.rs:"))
            })
            .unwrap_or_else(|| panic!("no {route} suspect in:\n{text}"));
        assert!(line.contains("floor 0 -> 50 -> 100"), "{line}");
    }
    assert_eq!(text.matches("    label: /").count(), 5, "{text}");
}

/// load-client's verdicts name each route's own spawn site.
#[test]
fn the_verdicts_name_the_spawn_sites() {
    let text = generated("live-verdicts.txt");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for (line, route) in lines.iter().zip(LEAKING) {
        assert!(
            line.contains(&format!(
                "-> LEAK, 1.00 per request, at leaky-server/src/{route}.rs:"
            )),
            "{line}"
        );
    }
}

/// `go tool pprof -top` on the export: 100 tasks flat at each route's await.
#[test]
fn pprof_reads_the_export_with_the_waiting_lines() {
    let top = generated("pprof-top.txt");
    assert!(top.contains("Type: goroutine"), "{top}");
    for route in LEAKING {
        let row = top
            .lines()
            .find(|l| l.contains(&format!("await leaky-server/src/{route}.rs:")))
            .unwrap_or_else(|| panic!("no {route} frame in:\n{top}"));
        let flat: u64 = row.split_whitespace().next().unwrap().parse().unwrap();
        assert!(flat >= 100, "{row}");
    }
}

/// The flame graph and the screenshot exist and show the leak.
#[test]
fn the_flame_graph_and_the_screenshot_are_there() {
    let svg = generated("flame.svg");
    for route in LEAKING {
        assert!(svg.contains(&format!("waiting at leaky-server/src/{route}.rs:")));
    }
    let png = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/generated/ui.png"))
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "a real screenshot, not a blank page");
}

/// The comparison of ways to name the waiting line checked both marks name user code.
#[test]
fn both_marks_name_user_code() {
    let marks = generated("marks.md");
    assert!(marks.contains("| leak-probe `.traced()` |"), "{marks}");
    assert!(
        marks.contains("yes: the await's file:line:column"),
        "{marks}"
    );
    assert!(
        marks.contains("yes: the framed block's file:line:column"),
        "{marks}"
    );
    assert!(!marks.contains("NO (checked"), "{marks}");
}
