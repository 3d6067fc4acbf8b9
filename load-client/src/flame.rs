//! `--flamegraph FILE.svg`: after the run, a flame graph of the server's live tasks.
//!
//! Each live task is one unit of width; its stack is its label (the route of the request
//! that spawned it, when it has one), where it was spawned, and the await points it is
//! parked at, outermost to innermost, so a leak is the widest
//! tower and its top names the line the tasks wait at. The stacks come from leak-probe's
//! `/_tasks` (grouped already: one folded line per group), or from a Go goroutine dump
//! (`/_stack`, grouped by [`crate::stack::summarize`]). [`inferno`] draws the SVG.

use crate::stack::Group;

/// Folded stacks (`root;child;leaf count`) of a leak-probe `/_tasks` report; `None` if
/// `json` is not one.
pub fn folded_from_tasks_json(json: &str) -> Option<Vec<String>> {
    let report: serde_json::Value = serde_json::from_str(json).ok()?;
    let groups = report.get("groups")?.as_array()?;
    let mut lines = Vec::with_capacity(groups.len() + 1);
    for g in groups {
        let count = g.get("count")?.as_u64()?;
        // The label (the route of the request that spawned the tasks) at the root, so a
        // route's tasks stand together.
        let mut frames: Vec<String> = g
            .get("label")
            .and_then(|l| l.as_str())
            .map(|l| format!("label {l}"))
            .into_iter()
            .collect();
        frames.push(format!("spawned at {}", g.get("spawned_at")?.as_str()?));
        // `waiting_at` is innermost first; a flame graph stacks outermost first.
        let waiting = g.get("waiting_at")?.as_array()?;
        frames.extend(
            waiting
                .iter()
                .rev()
                .filter_map(|w| Some(format!("waiting at {}", w.as_str()?))),
        );
        lines.push(format!("{} {count}", clean(&frames).join(";")));
    }
    if let Some(omitted) = report.get("omitted_group_tasks").and_then(|n| n.as_u64())
        && omitted > 0
    {
        lines.push(format!("(groups left out of the report) {omitted}"));
    }
    Some(lines)
}

/// Folded stacks of Go goroutine groups: `created by` as the root, then the frames from
/// the outermost to the one the goroutines are blocked in.
pub fn folded_from_go(groups: &[Group]) -> Vec<String> {
    groups
        .iter()
        .map(|g| {
            let mut frames = vec![g.origin.clone()];
            frames.extend(g.frames.iter().rev().cloned());
            if !g.state.is_empty() {
                frames.push(format!("[{}]", g.state));
            }
            format!("{} {}", clean(&frames).join(";"), g.count)
        })
        .collect()
}

/// Frames with the folded format's separators taken out.
fn clean(frames: &[String]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f.replace(';', ",").replace('\n', " "))
        .collect()
}

/// The SVG of `folded` lines, titled `title`.
pub fn svg(folded: &[String], title: &str) -> Result<Vec<u8>, String> {
    let mut options = inferno::flamegraph::Options::default();
    options.title = title.to_owned();
    options.count_name = "tasks".to_owned();
    options.name_type = "Frame:".to_owned();
    // One colour per kind of frame would need a palette file; hash-based colours keep the
    // same frame the same colour from one graph to the next.
    options.hash = true;
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut options, folded.iter().map(String::as_str), &mut out)
        .map_err(|e| format!("cannot draw the flame graph: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_become_folded_stacks_spawn_site_first() {
        let json = r#"{"groups":[
            {"count":100,"spawned_at":"leaky-server/src/sum.rs:99:5","label":"/checkout",
             "waiting_at":["leaky-server/src/sum.rs:81:32","leaky-server/src/sum.rs:120:9"]},
            {"count":1,"spawned_at":"axum-0.8.9/src/serve/mod.rs:276:9","waiting_at":[]}
        ],"omitted_group_tasks":0}"#;
        let folded = folded_from_tasks_json(json).unwrap();
        assert_eq!(
            folded,
            [
                "label /checkout;spawned at leaky-server/src/sum.rs:99:5;waiting at leaky-server/src/sum.rs:120:9;waiting at leaky-server/src/sum.rs:81:32 100",
                "spawned at axum-0.8.9/src/serve/mod.rs:276:9 1",
            ]
        );
        let svg = String::from_utf8(svg(&folded, "live tasks").unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"), "{svg}");
        assert!(svg.contains("leaky-server/src/sum.rs:81:32"));
        assert_eq!(folded_from_tasks_json("[]"), None);
    }

    #[test]
    fn go_groups_fold_created_by_first() {
        let groups = [Group {
            count: 50,
            origin: "main.sumConcurrent".into(),
            state: "chan send".into(),
            frames: vec!["main.sum".into(), "main.outer".into()],
        }];
        assert_eq!(
            folded_from_go(&groups),
            ["main.sumConcurrent;main.outer;main.sum;[chan send] 50"]
        );
    }
}
