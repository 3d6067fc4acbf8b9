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
