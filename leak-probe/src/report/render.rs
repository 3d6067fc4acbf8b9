//! Rendering: the `/_stack` text, like Go's goroutine dump at `debug=1`, grouped, with ages.
//!
//! ```text
//! tokio task report: 103 live task(s), 103 reported in 3 group(s)
//! runtime not paused: spawn sites and await points from the registry
//!
//! 100 task(s) [age 812–1519 ms] spawned at leaky-server/src/sum.rs:171:5
//!     waiting at leaky-server/src/sum.rs:143:36
//! ```

use std::fmt;

use super::{TaskReport, tokio_dump::NOT_RENDERED};
use crate::registry;

impl fmt::Display for TaskReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tokio task report: {} live task(s), {} reported in {} group(s)",
            self.live_tasks,
            self.reported_tasks,
            self.groups.len() + self.omitted_groups
        )?;
        if self.traces_captured {
            writeln!(
                f,
                "runtime paused {} ms for tokio's task dump; traces rendered in {} ms",
                self.paused_ms,
                self.render_ms.unwrap_or(0)
            )?;
        } else if self.reported_tasks > 0 {
            writeln!(
                f,
                "runtime not paused: spawn sites and await points from the registry"
            )?;
        }
        if let Some(note) = &self.traces_note {
            writeln!(f, "note: {note}")?;
        }
        for g in &self.groups {
            writeln!(f)?;
            let age = if g.youngest_ms == g.oldest_ms {
                format!("{} ms", g.oldest_ms)
            } else {
                format!("{}–{} ms", g.youngest_ms, g.oldest_ms)
            };
            writeln!(
                f,
                "{} task(s) [age {}] spawned at {}",
                g.count, age, g.spawned_at
            )?;
            write_label(f, g.label.as_deref())?;
            write_awaits(f, &g.waiting_at)?;
            write_trace(f, g.trace.as_deref())?;
        }
        if self.omitted_groups > 0 {
            writeln!(
                f,
                "\n… {} more group(s) with {} task(s) not shown",
                self.omitted_groups, self.omitted_group_tasks
            )?;
        }
        if let Some(tasks) = &self.tasks {
            writeln!(f, "\nevery task, oldest first:")?;
            for t in tasks {
                write!(
                    f,
                    "\ntask {} [age {} ms] spawned at {}",
                    t.id, t.age_ms, t.spawned_at
                )?;
                match (t.spawned_by, &t.parent_spawned_at) {
                    (Some(parent), Some(site)) => {
                        writeln!(f, " by task {parent} (spawned at {site})")?
                    }
                    (Some(parent), None) => writeln!(f, " by task {parent} (ended)")?,
                    (None, _) => writeln!(f)?,
                }
                write_label(f, t.label.as_deref())?;
                write_awaits(f, &t.waiting_at)?;
                write_trace(f, t.trace.as_deref())?;
            }
            if self.omitted_tasks > 0 {
                writeln!(f, "\n… {} more task(s) not listed", self.omitted_tasks)?;
            }
        }
        Ok(())
    }
}

/// `label: /checkout`, like Go's `labels: {...}` line.
fn write_label(f: &mut fmt::Formatter<'_>, label: Option<&str>) -> fmt::Result {
    match label {
        Some(label) => writeln!(f, "    label: {label}"),
        None => Ok(()),
    }
}

/// `waiting at <innermost>` and its callers below it, like a stack.
fn write_awaits(f: &mut fmt::Formatter<'_>, awaits: &[String]) -> fmt::Result {
    for (i, at) in awaits.iter().enumerate() {
        let word = if i == 0 { "waiting at" } else { "        in" };
        writeln!(f, "    {word} {at}")?;
    }
    Ok(())
}

fn write_trace(f: &mut fmt::Formatter<'_>, trace: Option<&str>) -> fmt::Result {
    match trace {
        Some(trace) if trace == NOT_RENDERED => writeln!(f, "    {trace}"),
        Some(trace) if !trace.trim().is_empty() => {
            writeln!(f, "    tokio trace:")?;
            for line in trace.lines() {
                writeln!(f, "    {line}")?;
            }
            Ok(())
        }
        Some(_) => writeln!(
            f,
            "    (empty tokio trace: parked on a future tokio cannot trace, e.g. \
             std::future::pending or a non-tokio channel)"
        ),
        None => Ok(()),
    }
}

/// A tokio trace made readable: one frame per line and paths shortened by
/// [`registry::short_path`].
///
/// tokio prints a task with several trace roots (a `select!` with two live branches) as
/// lines that end in one root's last frame and go straight on with the next root's
/// `╼ …` frame: those are split onto lines of their own here.
pub fn clean_trace(trace: &str) -> String {
    let mut out = String::with_capacity(trace.len());
    for line in trace.lines() {
        // Every `╼` after the first on a line starts a glued-on root.
        let mut rest = line;
        let mut first = true;
        loop {
            let search_from = if first {
                rest.find('╼').map_or(rest.len(), |i| i + '╼'.len_utf8())
            } else {
                '╼'.len_utf8()
            };
            let next = rest[search_from..].find('╼').map(|i| i + search_from);
            let (frame, tail) = match next {
                Some(at) => (&rest[..at], Some(&rest[at..])),
                None => (rest, None),
            };
            push_frame(&mut out, frame);
            match tail {
                Some(tail) => {
                    rest = tail;
                    first = false;
                }
                None => break,
            }
        }
    }
    out
}

fn push_frame(out: &mut String, frame: &str) {
    match frame.rsplit_once(" at ") {
        Some((head, path)) => {
            out.push_str(head);
            out.push_str(" at ");
            out.push_str(registry::short_path(path));
        }
        None => out.push_str(frame),
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glued_roots_are_split_and_every_path_is_shortened() {
        let glued = "╼ a at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/x.rs:1:2\n   └╼ b at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/sync/notify.rs:1228:43╼ c at /rustc/abc/library/core/src/future/poll_fn.rs:151:9\n      └╼ d at y.rs:3:4";
        let clean = clean_trace(glued);
        assert_eq!(
            clean,
            "╼ a at tokio-1.54.1/src/x.rs:1:2\n   └╼ b at tokio-1.54.1/src/sync/notify.rs:1228:43\n╼ c at library/core/src/future/poll_fn.rs:151:9\n      └╼ d at y.rs:3:4\n"
        );
        assert!(!clean.contains("/root/"));
        for line in clean.lines() {
            assert_eq!(line.matches('╼').count(), 1, "{line}");
        }
    }
}
