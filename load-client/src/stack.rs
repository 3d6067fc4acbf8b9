//! `--stack`: after the run, show where the live tasks come from.
//!
//! Two sources are understood:
//!
//! * **leak-probe's `/_tasks`** (JSON): already grouped by spawn site and await point;
//!   the top groups are shown with count, spawn site, age and where they wait.
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

/// Groups of a leak-probe `/_tasks` report, most tasks first; `None` if `json` is not one.
pub fn from_tasks_json(json: &str) -> Option<Vec<Group>> {
    let report: serde_json::Value = serde_json::from_str(json).ok()?;
    let groups = report.get("groups")?.as_array()?;
    groups
        .iter()
        .map(|g| {
            let count = usize::try_from(g.get("count")?.as_u64()?).ok()?;
            let (young, old) = (
                g.get("youngest_ms")?.as_u64()?,
                g.get("oldest_ms")?.as_u64()?,
            );
            let state = if young == old {
                format!("age {old} ms")
            } else {
                format!("age {young}–{old} ms")
            };
            let mut frames: Vec<String> = g
                .get("waiting_at")?
                .as_array()?
                .iter()
                .filter_map(|w| Some(format!("waiting at {}", w.as_str()?)))
                .collect();
            if let Some(trace) = g.get("trace").and_then(|t| t.as_str()) {
                frames.extend(trace.lines().map(|l| {
                    l.trim_start_matches([' ', '│', '├', '└', '╼', '─'])
                        .trim()
                        .to_owned()
                }));
            }
            Some(Group {
                count,
                origin: g.get("spawned_at")?.as_str()?.to_owned(),
                state,
                frames,
            })
        })
        .collect()
}

/// Groups a Go goroutine dump (`/_stack` of the blog's server), most goroutines first.
/// Text that is not one gives no groups.
pub fn summarize(text: &str) -> Vec<Group> {
    if text.lines().any(is_goroutine_header) {
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
    fn groups_leak_probe_reports() {
        let json = r#"{"live_tasks": 53, "groups": [
            {"count": 50, "spawned_at": "leaky-server/src/sum.rs:114:5",
             "waiting_at": ["leaky-server/src/sum.rs:97:17"], "youngest_ms": 12, "oldest_ms": 30,
             "trace": null, "task_ids": [1]},
            {"count": 3, "spawned_at": "axum-0.8.9/src/serve/mod.rs:389:5",
             "waiting_at": [], "youngest_ms": 1, "oldest_ms": 1,
             "trace": "╼ a at x.rs:1:2\n  └╼ b at y.rs:3:4\n", "task_ids": [2]}]}"#;
        let groups = from_tasks_json(json).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].count, 50);
        assert_eq!(groups[0].origin, "leaky-server/src/sum.rs:114:5");
        assert_eq!(groups[0].state, "age 12–30 ms");
        assert_eq!(
            groups[0].frames,
            vec!["waiting at leaky-server/src/sum.rs:97:17"]
        );
        assert_eq!(groups[1].state, "age 1 ms");
        assert_eq!(groups[1].frames, vec!["a at x.rs:1:2", "b at y.rs:3:4"]);
        assert!(render(&groups, 1, 2).contains("… 1 more group(s), 3 task(s)"));
        assert!(from_tasks_json("not json").is_none());
        assert!(from_tasks_json("{\"count\": 1}").is_none());
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
