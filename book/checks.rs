//! Checks the book's sources for what mdBook lets pass: mdBook logs a missing include
//! file or a misspelled anchor and builds the page with an empty block, and does not
//! look at links at all. [`check_book`] fails on each of them, and on Rust code typed
//! into a chapter instead of included from a compiled file.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Every problem found in the book at `root` (the folder with `book.toml`), one line
/// each. Empty when the book is sound.
pub fn check_book(root: &Path) -> Vec<String> {
    let src = root.join("src");
    let mut problems = Vec::new();
    let chapters = match chapters(&src) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    for chapter in &chapters {
        let path = src.join(chapter);
        match fs::read_to_string(&path) {
            Ok(text) => problems.extend(check_chapter(&src, chapter, &text)),
            Err(e) => problems.push(format!("SUMMARY.md: {chapter}: cannot read: {e}")),
        }
    }
    problems
}

/// The chapter files named in `SUMMARY.md`, relative to `src`.
pub fn chapters(src: &Path) -> Result<Vec<String>, String> {
    let summary = fs::read_to_string(src.join("SUMMARY.md"))
        .map_err(|e| format!("SUMMARY.md: cannot read: {e}"))?;
    Ok(links(&summary)
        .into_iter()
        .filter(|l| l.ends_with(".md"))
        .collect())
}

/// The targets of `[text](target)` and `![alt](target)` links, in order.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) => {
                out.push(after[..end].trim().to_owned());
                rest = &after[end..];
            }
            None => break,
        }
    }
    out
}

fn check_chapter(src: &Path, chapter: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let dir = src
        .join(chapter)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| src.to_path_buf());
    let mut in_code: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = format!("{chapter}:{}", n + 1);
        let trimmed = line.trim_start();
        if let Some(fence) = trimmed.strip_prefix("```") {
            in_code = match in_code {
                Some(_) => None,
                None => Some(fence.trim().to_owned()),
            };
            continue;
        }
        // Includes (not escaped with a backslash).
        let mut rest = line;
        while let Some(start) = rest.find("{{#") {
            let escaped = start > 0 && rest.as_bytes()[start - 1] == b'\\';
            let Some(end) = rest[start..].find("}}") else {
                break;
            };
            let directive = &rest[start + 3..start + end];
            rest = &rest[start + end + 2..];
            if escaped {
                continue;
            }
            problems.extend(check_directive(&dir, &at, directive.trim()));
        }
        // Rust typed into a chapter instead of included.
        if let Some(lang) = &in_code {
            if lang.starts_with("rust") && !trimmed.is_empty() && !trimmed.starts_with("{{#include")
            {
                problems.push(format!(
                    "{at}: Rust code must be included from a compiled file, not typed: {trimmed:?}"
                ));
            }
            continue;
        }
        for target in links(line) {
            problems.extend(check_link(src, &dir, &at, &target));
        }
    }
    problems
}

fn check_directive(dir: &Path, at: &str, directive: &str) -> Vec<String> {
    let Some(arg) = directive
        .strip_prefix("include ")
        .or_else(|| directive.strip_prefix("rustdoc_include "))
    else {
        return vec![format!("{at}: unknown directive {{{{#{directive}}}}}")];
    };
    let arg = arg.trim();
    let (file, anchor) = match arg.split_once(':') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (arg, None),
    };
    let path = dir.join(file);
    let Ok(text) = fs::read_to_string(&path) else {
        return vec![format!("{at}: included file {file} does not exist")];
    };
    match anchor {
        None => Vec::new(),
        Some(anchor) if anchor.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
            vec![format!(
                "{at}: include {file}:{anchor} by line numbers breaks silently; use an ANCHOR"
            )]
        }
        Some(anchor) => {
            let starts = text
                .lines()
                .any(|l| l.trim().ends_with(&format!("ANCHOR: {anchor}")));
            let ends = text
                .lines()
                .any(|l| l.trim().ends_with(&format!("ANCHOR_END: {anchor}")));
            if starts && ends {
                Vec::new()
            } else {
                vec![format!(
                    "{at}: {file} has no anchor {anchor:?} (ANCHOR and ANCHOR_END)"
                )]
            }
        }
    }
}

fn check_link(src: &Path, dir: &Path, at: &str, target: &str) -> Vec<String> {
    if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
        return Vec::new();
    }
    let (file, fragment) = match target.split_once('#') {
        Some((f, frag)) => (f, Some(frag)),
        None => (target, None),
    };
    let path: PathBuf = if file.is_empty() {
        return Vec::new();
    } else {
        dir.join(file)
    };
    if !path.exists() {
        return vec![format!(
            "{at}: dead link {target} (no file {})",
            display(src, &path)
        )];
    }
    if let (Some(fragment), Some("md")) = (fragment, path.extension().and_then(|e| e.to_str())) {
        let headings: HashSet<String> = fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| slug(l.trim_start_matches('#')))
            .collect();
        if !headings.contains(fragment) {
            return vec![format!("{at}: dead link {target} (no such heading)")];
        }
    }
    Vec::new()
}

fn display(src: &Path, path: &Path) -> String {
    path.strip_prefix(src).unwrap_or(path).display().to_string()
}

/// mdBook's heading ids: lower case, spaces to dashes, punctuation dropped.
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Anchors named in a source file.
pub fn anchors(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("// ANCHOR: "))
        .map(|a| a.trim().to_owned())
        .collect()
}

/// Units that make a number a measured figure ("28 ms", "612 B", "0.19 ×").
const UNITS: &[&str] = &[
    "ms",
    "µs",
    "ns",
    "s",
    "KB",
    "kB",
    "MB",
    "GB",
    "B",
    "bytes",
    "%",
    "×",
    "req/s",
    "requests/s",
    "minutes",
];

/// The prose of a chapter: no fenced blocks, no include lines, no inline code, no links'
/// targets.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.contains("{{#include") {
            continue;
        }
        // Inline code spans and link targets are names, not figures.
        let mut kept = String::new();
        let mut in_code = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '`' {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            if c == ']' && chars.peek() == Some(&'(') {
                // Skip `(target)`.
                for t in chars.by_ref() {
                    if t == ')' {
                        break;
                    }
                }
                continue;
            }
            kept.push(c);
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// `(number, unit)` pairs in prose: a number (digits, with `.` or `,`) followed, after an
/// optional space, by one of [`UNITS`]. With `all_numbers`, every number of two or more
/// digits (or with a decimal point) counts, unit or not.
fn figures(prose: &str, all_numbers: bool) -> Vec<String> {
    let bytes: Vec<char> = prose.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && (i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len()
            && (bytes[j].is_ascii_digit()
                || ((bytes[j] == '.' || bytes[j] == ',')
                    && bytes.get(j + 1).is_some_and(char::is_ascii_digit)))
        {
            j += 1;
        }
        let number: String = bytes[i..j].iter().collect();
        // A number glued to letters is a name (L1, tokio-1.54, x86_64), not a figure.
        if bytes
            .get(j)
            .is_some_and(|c| c.is_alphabetic() || *c == '_' || *c == '-')
        {
            let rest: String = bytes[j..bytes.len().min(j + 12)].iter().collect();
            if !UNITS
                .iter()
                .any(|u| rest.starts_with(u) && !rest[u.len()..].starts_with(char::is_alphanumeric))
            {
                i = j;
                continue;
            }
        }
        let after: String = bytes[j..bytes.len().min(j + 14)].iter().collect();
        let after = after.trim_start();
        let unit = UNITS.iter().find(|u| {
            after.starts_with(**u) && !after[u.len()..].starts_with(|c: char| c.is_alphanumeric())
        });
        let long = number.len() >= 2 || number.contains('.');
        if unit.is_some() || (all_numbers && long) {
            out.push(number);
        }
        i = j;
    }
    out
}

/// Figures quoted in the book's prose that no generated file and no source file of the
/// workspace contains: numbers typed by hand. In `numbers.md` every number counts; in the
/// other chapters, numbers with a unit.
pub fn unsourced_figures(root: &Path) -> Vec<String> {
    let src = root.join("src");
    let workspace = root.parent().unwrap_or(root);
    let mut generated = String::new();
    if let Ok(entries) = std::fs::read_dir(src.join("generated")) {
        for e in entries.flatten() {
            generated.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    let mut code = Vec::new();
    collect(workspace, &mut code);
    let mut sources = generated.clone();
    for path in code {
        sources.push_str(&std::fs::read_to_string(path).unwrap_or_default());
    }
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(&src) else {
        return vec![format!("cannot read {}", src.display())];
    };
    let mut chapters: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    chapters.sort();
    for chapter in chapters {
        let name = chapter
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&chapter).unwrap_or_default();
        // The numbers chapter quotes measurements only: from generated files, not code.
        let numbers_chapter = name == "numbers.md";
        let allowed = if numbers_chapter {
            &generated
        } else {
            &sources
        };
        for number in figures(&prose(&text), numbers_chapter) {
            if !allowed.contains(&number) {
                problems.push(format!(
                    "{name}: the figure {number} is in no generated file and no source"
                ));
            }
        }
    }
    problems
}

/// Every `.rs` and `.toml` file of the workspace (not `target/`, not the book's own
/// chapters).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if name == "target" || name == ".git" || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs" || x == "toml") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod figure_tests {
    use super::{figures, prose};

    #[test]
    fn figures_are_numbers_with_units_not_names() {
        let text = "L1 leaks 612 B per task; `/_stack` takes 28 ms (Go: 2201 ms), tokio-1.54 \
                    on x86_64, 0.19 × of Go, and [a link](numbers.md#l2-50).\n```\n999 ms\n```";
        assert_eq!(figures(&prose(text), false), ["612", "28", "2201", "0.19"]);
        assert_eq!(
            figures(&prose("50 requests, 3 cores, 12.5 and 7"), true),
            ["50", "12.5"]
        );
    }
}
