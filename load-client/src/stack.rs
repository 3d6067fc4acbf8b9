//! `--stack`: after the run, fetch `/_stack` and show where the tasks come from.
//!
//! Two formats are understood:
//!
//! * **leak-probe's** (`tokio task dump: ...`): already grouped by spawn site; the top
//!   groups are shown with count, site, age and the first frames of their trace.
//! * **Go's goroutine dump** (the blog's `/_stack`: `debug.Stack()` followed by
//!   `pprof.Lookup("goroutine").WriteTo(w, 2)`): one block per goroutine. Goroutines with
//!   an identical stack (arguments and `+0x..` offsets aside) are grouped and counted,
//!   like pprof's `debug=1`.

use std::collections::HashMap;

/// One group of tasks or goroutines with the same origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// How many.
    pub count: usize,
    /// Where they come from: a spawn site, or Go's `created by` line.
    pub origin: String,
    /// State or age: `age 120–980 ms`, `chan send`, ...
    pub state: String,
    /// The first frames, innermost first for Go, outermost first for tokio.
    pub frames: Vec<String>,
}

/// Groups a `/_stack` answer, most tasks first. Unknown text gives no groups.
pub fn summarize(text: &str) -> Vec<Group> {
    if text.starts_with("tokio task dump:") {
        tokio_groups(text)
    } else if text.lines().any(is_goroutine_header) {
        go_groups(text)
    } else {
        Vec::new()
    }
}

/// Renders the top `n` groups for a terminal.
pub fn render(groups: &[Group], n: usize, frames: usize) -> String {
    let mut out = String::new();
    for g in groups.iter().take(n) {
        out.push_str(&format!("{:>7} × {}  [{}]\n", g.count, g.origin, g.state));
        for frame in g.frames.iter().take(frames) {
            out.push_str(&format!("            {frame}\n"));
        }
    }
    if groups.len() > n {
        let rest: usize = groups[n..].iter().map(|g| g.count).sum();
        out.push_str(&format!(
            "        … {} more group(s), {rest} task(s)\n",
            groups.len() - n
        ));
    }
    out
}

fn tokio_groups(text: &str) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut current: Option<Group> = None;
    for line in text.lines() {
        if let Some(group) = parse_tokio_header(line) {
            groups.extend(current.replace(group));
        } else if line.starts_with("    ") {
            if let Some(group) = current.as_mut() {
                let frame = line
                    .trim_start_matches([' ', '│', '├', '└', '╼', '─'])
                    .trim();
                if !frame.is_empty() {
                    group.frames.push(frame.to_owned());
                }
            }
        } else if line.starts_with("every task") {
            break;
        }
    }
    groups.extend(current);
    groups
}

/// `50 task(s) [age 12–30 ms] spawned at leaky-server/src/sum.rs:114:5`
fn parse_tokio_header(line: &str) -> Option<Group> {
    let (count, rest) = line.split_once(" task(s) [")?;
    let count = count.trim().parse().ok()?;
    let (state, origin) = rest.split_once("] spawned at ")?;
    Some(Group {
        count,
        origin: origin.to_owned(),
        state: state.to_owned(),
        frames: Vec::new(),
    })
}

fn is_goroutine_header(line: &str) -> bool {
    line.strip_prefix("goroutine ")
        .and_then(|rest| rest.split_once(' '))
        .is_some_and(|(id, rest)| id.bytes().all(|b| b.is_ascii_digit()) && rest.starts_with('['))
}

fn go_groups(text: &str) -> Vec<Group> {
    // goroutine 149 [chan send]:              <- header with the state
    // main.sum(0xc420122e58, 0x3, ...)         <- function (argument values vary)
    // \t/path/file.go:39 +0x6c                  <- its location (the offset varies)
    // created by main.sumConcurrent             <- who started it
    // \t/path/file.go:51 +0x12b
    struct Block {
        state: String,
        frames: Vec<String>,
        created_by: String,
    }
    let mut blocks: Vec<Block> = Vec::new();
    for line in text.lines() {
        if is_goroutine_header(line) {
            let state = line
                .split_once('[')
                .and_then(|(_, s)| s.split_once(']'))
                .map(|(s, _)| s)
                .unwrap_or("");
            // "chan send, 5 minutes": the wait time differs between goroutines.
            let state = state.split(',').next().unwrap_or("").trim().to_owned();
            blocks.push(Block {
                state,
                frames: Vec::new(),
                created_by: String::new(),
            });
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(location) = line.strip_prefix('\t') {
            let location = strip_offset(location.trim());
            if !block.created_by.is_empty() && !block.created_by.contains(" at ") {
                block.created_by = format!("{} at {location}", block.created_by);
            } else if let Some(frame) = block.frames.last_mut() {
                *frame = format!("{frame} at {location}");
            }
        } else if let Some(creator) = line.strip_prefix("created by ") {
            // Go 1.21+ adds " in goroutine N": not part of the stack's identity.
            let creator = creator.split(" in goroutine ").next().unwrap_or(creator);
            block.created_by = format!("created by {}", strip_arguments(creator.trim()));
        } else {
            block.frames.push(strip_arguments(line.trim()));
        }
    }
    let mut by_stack: HashMap<(String, String, Vec<String>), usize> = HashMap::new();
    for b in blocks {
        *by_stack
            .entry((b.state, b.created_by, b.frames))
            .or_default() += 1;
    }
    let mut groups: Vec<Group> = by_stack
        .into_iter()
        .map(|((state, created_by, frames), count)| Group {
            count,
            origin: if created_by.is_empty() {
                frames.first().cloned().unwrap_or_default()
            } else {
                created_by
            },
            state,
            frames,
        })
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.origin.cmp(&b.origin)));
    groups
}

/// `/path/file.go:39 +0x6c` -> `/path/file.go:39`.
fn strip_offset(location: &str) -> &str {
    location
        .rsplit_once(" +0x")
        .map_or(location, |(head, _)| head)
}

/// `main.sum(0xc420122e58, 0x3)` -> `main.sum(...)`, keeping receivers such as
/// `net/http.(*conn).serve(...)` intact: only the final argument list goes.
fn strip_arguments(function: &str) -> String {
    if !function.ends_with(')') {
        return function.to_owned();
    }
    let mut depth = 0;
    for (i, c) in function.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return format!("{}(...)", &function[..i]);
                }
            }
            _ => {}
        }
    }
    function.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_leak_probe_dumps() {
        let text = "tokio task dump: 53 live task(s), 53 reported in 2 group(s)\n\
                    \n\
                    50 task(s) [age 12–30 ms] spawned at leaky-server/src/sum.rs:114:5\n\
                    \x20   ╼ leaky_server::sum::sum at leaky-server/src/sum.rs:97:17\n\
                    \x20     └╼ leaky_server::sum::GoChan<T>::send at leaky-server/src/sum.rs:55:39\n\
                    \n\
                    3 task(s) [age 1 ms] spawned at axum-0.8.9/src/serve/mod.rs:389:5\n";
        let groups = summarize(text);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].count, 50);
        assert_eq!(groups[0].origin, "leaky-server/src/sum.rs:114:5");
        assert_eq!(groups[0].state, "age 12–30 ms");
        assert_eq!(
            groups[0].frames[1],
            "leaky_server::sum::GoChan<T>::send at leaky-server/src/sum.rs:55:39"
        );
        assert!(render(&groups, 1, 2).contains("… 1 more group(s), 3 task(s)"));
    }

    #[test]
    fn strips_what_varies_between_identical_go_stacks() {
        assert_eq!(
            strip_arguments("main.sum(0xc420122e58, 0x3, 0x3, 0xc420112240)"),
            "main.sum(...)"
        );
        assert_eq!(
            strip_arguments("internal/poll.(*pollDesc).wait(0xc0000b0000?, 0x0?, 0x0)"),
            "internal/poll.(*pollDesc).wait(...)"
        );
        assert_eq!(strip_arguments("main.sumConcurrent"), "main.sumConcurrent");
        assert_eq!(
            strip_offset("/home/k/count-instrument.go:39 +0x6c"),
            "/home/k/count-instrument.go:39"
        );
    }

    /// The blog's own output, as printed in the post.
    #[test]
    fn groups_the_blogs_dump() {
        let text = "goroutine 149 [chan send]:\n\
                    main.sum(0xc420122e58, 0x3, 0x3, 0xc420112240)\n\
                    \t/home/karthic/gophercon/count-instrument.go:39 +0x6c\n\
                    created by main.sumConcurrent\n\
                    \t/home/karthic/gophercon/count-instrument.go:51 +0x12b\n\
                    \n\
                    goroutine 243 [chan send, 2 minutes]:\n\
                    main.sum(0xc42021a0d8, 0x3, 0x3, 0xc4202760c0)\n\
                    \t/home/karthic/gophercon/count-instrument.go:39 +0x6c\n\
                    created by main.sumConcurrent\n\
                    \t/home/karthic/gophercon/count-instrument.go:51 +0x12b\n";
        let groups = summarize(text);
        assert_eq!(
            groups,
            vec![Group {
                count: 2,
                origin: "created by main.sumConcurrent at /home/karthic/gophercon/count-instrument.go:51".into(),
                state: "chan send".into(),
                frames: vec!["main.sum(...) at /home/karthic/gophercon/count-instrument.go:39".into()],
            }]
        );
    }
}
