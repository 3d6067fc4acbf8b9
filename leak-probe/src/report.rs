//! Task reports: live tasks grouped by spawn site and await trace, with counts and ages.
//!
//! This is tokio's answer to Go's `pprof.Lookup("goroutine").WriteTo(w, 1)`: instead of
//! 50 000 identical stacks, one line saying "50 000 tasks, spawned at `sum.rs:71`, 2–9 s
//! old, parked here". Two sources are joined by task id:
//!
//! * the [registry](crate::registry) (always cheap, never pauses the runtime): spawn site
//!   and spawn time of every live task;
//! * a tokio task dump (optional, needs `tokio_unstable` + Linux): what each task is
//!   awaiting. Capturing it **pauses every worker** until all idle tasks are traced, so it
//!   is bounded by a timeout, only one runs at a time, and the expensive part (turning
//!   traces into text) runs on the blocking pool, off the runtime's workers.
//!
//! [`TaskReport`] renders as text (`/_stack`, the leak check's panic message) and
//! serializes as JSON (`/_tasks`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::registry::{self, TaskInfo};

/// What a report should contain and how much of it.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Take a task dump for await traces (pauses the runtime while it captures).
    pub traces: bool,
    /// Also list every task on its own (`/_stack?debug=2`).
    pub list_tasks: bool,
    /// At most this many groups are shown; the rest are summed up in one line.
    pub max_groups: usize,
    /// At most this many tasks are listed one by one.
    pub max_tasks: usize,
    /// Give up on the dump after this long (it can hang while a worker is blocked).
    pub dump_timeout: Duration,
    /// Render the traces of at most this many tasks per spawn site (`None`: all).
    ///
    /// Turning a trace into text resolves its symbols, about 5 µs per task in a release
    /// build: 100k leaked tasks from one site would cost half a second for 100k copies of
    /// the same few traces. A sample per site shows every distinct await point that is
    /// not vanishingly rare, and the counts stay exact.
    pub traces_per_site: Option<usize>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            traces: true,
            list_tasks: false,
            max_groups: 100,
            max_tasks: 1000,
            dump_timeout: Duration::from_secs(5),
            traces_per_site: Some(DEFAULT_TRACES_PER_SITE),
        }
    }
}

/// Live tasks that share a spawn site and an await trace.
#[derive(Debug, Clone, Serialize)]
pub struct TaskGroup {
    /// How many live tasks are in this group.
    pub count: usize,
    /// `file:line:column` of the spawn, or `unknown` for tasks the registry never saw.
    pub spawned_at: String,
    /// Age of the youngest task in the group, in milliseconds.
    pub youngest_ms: u64,
    /// Age of the oldest task in the group, in milliseconds.
    pub oldest_ms: u64,
    /// What the tasks are awaiting (tokio's trace tree), when a dump was taken.
    pub trace: Option<String>,
    /// A few of the group's task ids (at most 10).
    pub task_ids: Vec<u64>,
}

/// One task of a `debug=2` listing.
#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    /// tokio's task id.
    pub id: u64,
    /// `file:line:column` of the spawn.
    pub spawned_at: String,
    /// Age in milliseconds.
    pub age_ms: u64,
    /// Await trace, when a dump was taken.
    pub trace: Option<String>,
}

/// The whole answer of `/_stack`, `/_tasks` and the leak check.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    /// Live tasks of the runtime (`/_count`) when the report started.
    pub live_tasks: usize,
    /// Tasks in this report.
    pub reported_tasks: usize,
    /// Whether await traces were captured; if not, [`TaskReport::traces_note`] says why.
    pub traces_captured: bool,
    /// Why there are no traces, or what was left out of them.
    pub traces_note: Option<String>,
    /// How long the runtime was paused for the dump, in milliseconds.
    pub capture_ms: Option<u64>,
    /// How long turning traces into text took (off the runtime), in milliseconds.
    pub render_ms: Option<u64>,
    /// Groups, most tasks first.
    pub groups: Vec<TaskGroup>,
    /// Groups left out by the cap, and how many tasks they hold.
    pub omitted_groups: usize,
    /// Tasks in the omitted groups.
    pub omitted_group_tasks: usize,
    /// Every task (only with `list_tasks`), capped.
    pub tasks: Option<Vec<TaskLine>>,
    /// Tasks left out of `tasks` by the cap.
    pub omitted_tasks: usize,
}

/// Await traces by task id, or the reason there are none.
pub struct Traces {
    by_id: HashMap<u64, String>,
    note: Option<String>,
    captured: bool,
    capture: Option<Duration>,
    render: Option<Duration>,
}

impl Traces {
    /// Whether a dump was taken at all.
    pub fn is_captured(&self) -> bool {
        self.captured
    }

    /// Whether task `id` has a trace.
    pub fn has(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Adds the traces of `later` for tasks that have none yet (a task that was running
    /// during one dump is usually idle in the next).
    pub fn fill_from(&mut self, later: Traces) {
        if !later.captured {
            return;
        }
        if !self.captured {
            *self = later;
            return;
        }
        for (id, trace) in later.by_id {
            self.by_id.entry(id).or_insert(trace);
        }
    }

    /// No traces, for the reason given.
    pub fn none(why: impl Into<String>) -> Self {
        Traces {
            by_id: HashMap::new(),
            note: Some(why.into()),
            captured: false,
            capture: None,
            render: None,
        }
    }
}

/// Traces rendered per spawn site by default (see [`ReportOptions::traces_per_site`]).
pub const DEFAULT_TRACES_PER_SITE: usize = 100;

/// The trace text of tasks whose trace was not rendered (beyond the sample of their site).
pub const NOT_RENDERED: &str = "(trace not rendered: only a sample of each spawn site's tasks is; \
ask /_stack?all_traces=1 for every one)";

/// Longest trace kept per task; deeper trees end in a line saying how much was cut.
pub const MAX_TRACE_LINES: usize = 60;

#[cfg_attr(not(taskdump), allow(dead_code))]
fn cap_lines(text: String, max: usize) -> String {
    let total = text.lines().count();
    if total <= max {
        return text;
    }
    let mut kept: String = text.lines().take(max).flat_map(|l| [l, "\n"]).collect();
    kept.push_str(&format!("… {} more line(s) of this trace\n", total - max));
    kept
}

/// Set while a dump of a runtime without a registry runs. Instrumented runtimes have a
/// flag of their own, so dumps of different runtimes (parallel tests) never wait on each
/// other.
static DUMP_RUNNING: AtomicBool = AtomicBool::new(false);

/// The right to take a dump of the current runtime: dumps pause its workers, so one at a
/// time. The flag is cleared however the dump ends (finished, timed out, or the request
/// that asked for it went away).
#[cfg_attr(not(taskdump), allow(dead_code))]
struct DumpSlot(Option<std::sync::Arc<registry::Registry>>);

#[cfg_attr(not(taskdump), allow(dead_code))]
impl DumpSlot {
    fn take() -> Option<DumpSlot> {
        let registry = registry::for_current_runtime();
        let flag = registry.as_ref().map_or(&DUMP_RUNNING, |r| &r.dumping);
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(DumpSlot(registry))
    }
}

impl Drop for DumpSlot {
    fn drop(&mut self) {
        let flag = self.0.as_ref().map_or(&DUMP_RUNNING, |r| &r.dumping);
        flag.store(false, Ordering::Release);
    }
}

/// Why a dump could not be taken right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpError {
    /// Another dump is running (they pause the runtime; one at a time).
    Busy,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Busy => f.write_str("another task dump is running; try again shortly"),
        }
    }
}

impl std::error::Error for DumpError {}

/// Captures await traces of every task on the current runtime.
///
/// Returns [`DumpError::Busy`] if a dump is already running. A dump that is not possible
/// (no `tokio_unstable`, not Linux, a current-thread runtime) or that times out is not an
/// error: the returned [`Traces`] carry the reason instead.
pub async fn capture_traces(timeout: Duration) -> Result<Traces, DumpError> {
    capture_traces_sampled(timeout, None).await
}

/// [`capture_traces`], rendering at most `per_site` traces per spawn site (the others get
/// [`NOT_RENDERED`] as their trace).
pub async fn capture_traces_sampled(
    timeout: Duration,
    per_site: Option<usize>,
) -> Result<Traces, DumpError> {
    #[cfg(taskdump)]
    {
        use tokio::runtime::{Handle, RuntimeFlavor};

        let handle = Handle::current();
        if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
            // tokio#8391: on the current-thread scheduler a dump can panic with "RefCell
            // already borrowed" when a traced task wakes itself. Never risk it.
            return Ok(Traces::none(
                "not captured: task dumps on a current-thread runtime can panic (tokio#8391); \
                 use a multi-thread runtime for traces",
            ));
        }
        let slot = DumpSlot::take().ok_or(DumpError::Busy)?;
        if let Err(queued) = wait_for_short_run_queues(&handle).await {
            return Ok(Traces::none(format!(
                "not captured: {queued} tasks were waiting in the workers' run queues for a \
                 second; tokio's dump can spin for ever while those queues are long, so it was \
                 not started. Try again, or use ?trace=0"
            )));
        }
        let started = Instant::now();
        let dump = match tokio::time::timeout(timeout, handle.dump()).await {
            Ok(dump) => dump,
            Err(_) => {
                return Ok(Traces::none(format!(
                    "not captured: the task dump did not finish within {timeout:?} \
                     (a worker thread may be blocked)"
                )));
            }
        };
        let capture = started.elapsed();
        // Formatting resolves symbols: by far the slowest step. Do it on the blocking pool
        // so the runtime's workers go on serving `/_count` meanwhile.
        let registry = registry::for_current_runtime();
        let rendered = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut per_site_seen: HashMap<Option<registry::Site>, usize> = HashMap::new();
            let by_id: HashMap<u64, String> = dump
                .tasks()
                .iter()
                .map(|t| {
                    let id = crate::runtime::task_id(t.id());
                    if let Some(limit) = per_site {
                        let site = registry.as_ref().and_then(|r| r.get(id)).map(|t| t.site);
                        let seen = per_site_seen.entry(site).or_default();
                        *seen += 1;
                        if *seen > limit {
                            return (id, NOT_RENDERED.to_owned());
                        }
                    }
                    let trace = registry::shorten_trace(&t.trace().to_string());
                    (id, cap_lines(trace, MAX_TRACE_LINES))
                })
                .collect();
            (by_id, started.elapsed())
        })
        .await;
        drop(slot);
        match rendered {
            Ok((by_id, render)) => Ok(Traces {
                by_id,
                note: None,
                captured: true,
                capture: Some(capture),
                render: Some(render),
            }),
            Err(e) => Ok(Traces::none(format!("not captured: rendering failed: {e}"))),
        }
    }
    #[cfg(not(taskdump))]
    {
        let _ = (timeout, per_site);
        Ok(Traces::none(format!(
            "not captured: this build has no task dumps; {}",
            crate::runtime::HOW_TO_ENABLE
        )))
    }
}

/// Most tasks the workers' local run queues may hold when a dump starts.
///
/// tokio 1.54's dump first moves every queued task into one local queue
/// (`Shared::steal_all`), and that loop never ends once the queue it fills is half full
/// while another worker's queue is not empty: the whole runtime then spins at 100 % CPU
/// and no timeout can fire. A dump also wakes every task it traced, so queues are long
/// right after one. Starting a dump only while the queues are short avoids the trap.
#[cfg(taskdump)]
const MAX_QUEUED_FOR_DUMP: usize = 64;

/// Waits (up to a second) until the workers' local run queues hold few tasks; answers
/// how many were queued if they never did.
#[cfg(taskdump)]
async fn wait_for_short_run_queues(handle: &tokio::runtime::Handle) -> Result<(), usize> {
    let metrics = handle.metrics();
    // The global queue counts too: workers refill their local queues from it.
    let queued = || {
        metrics.global_queue_depth()
            + (0..metrics.num_workers())
                .map(|w| metrics.worker_local_queue_depth(w))
                .sum::<usize>()
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let now = queued();
        if now <= MAX_QUEUED_FOR_DUMP {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(now);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Builds a report of the current runtime's live tasks.
///
/// Without a registry (no `tokio_unstable`, or a runtime not built by
/// [`crate::runtime::build`]) the report holds the count and says what is missing.
pub async fn current(opts: &ReportOptions) -> Result<TaskReport, DumpError> {
    let live = crate::live_tasks();
    let Some(registry) = registry::for_current_runtime() else {
        let why = if crate::runtime::HAS_REGISTRY {
            "no spawn sites: this runtime was not built with leak_probe::runtime::build".into()
        } else {
            format!(
                "no spawn sites or traces: this build has no tokio_unstable; {}",
                crate::runtime::HOW_TO_ENABLE
            )
        };
        return Ok(report_without_registry(live, why));
    };
    let traces = if opts.traces {
        capture_traces_sampled(opts.dump_timeout, opts.traces_per_site).await?
    } else {
        Traces::none("not captured: registry view (no runtime pause); ask with ?trace=1 for traces")
    };
    let tasks = registry.snapshot();
    let opts = opts.clone();
    let build = move || build(live, &tasks, traces, Instant::now(), &opts, true);
    // Grouping 100k tasks is a few milliseconds; still, keep it off the workers.
    Ok(tokio::task::spawn_blocking(build)
        .await
        .expect("grouping tasks does not panic"))
}

/// A report that only knows the count.
pub fn report_without_registry(live: usize, why: String) -> TaskReport {
    TaskReport {
        live_tasks: live,
        reported_tasks: 0,
        traces_captured: false,
        traces_note: Some(why),
        capture_ms: None,
        render_ms: None,
        groups: Vec::new(),
        omitted_groups: 0,
        omitted_group_tasks: 0,
        tasks: None,
        omitted_tasks: 0,
    }
}

/// Groups `tasks` by spawn site and trace.
///
/// With `include_unregistered`, tasks that appear in the dump but not in `tasks` (tokio
/// tasks spawned before the registry was attached) are reported under `unknown`.
pub fn build(
    live: usize,
    tasks: &[TaskInfo],
    traces: Traces,
    now: Instant,
    opts: &ReportOptions,
    include_unregistered: bool,
) -> TaskReport {
    struct Acc {
        count: usize,
        youngest: Duration,
        oldest: Duration,
        ids: Vec<u64>,
    }
    #[derive(Default)]
    struct Grouper<'a> {
        groups: HashMap<(String, Option<&'a str>), Acc>,
        lines: Vec<(Duration, u64, String, Option<&'a str>)>,
    }
    impl<'a> Grouper<'a> {
        fn add(
            &mut self,
            list: bool,
            id: u64,
            site: String,
            age: Duration,
            trace: Option<&'a str>,
        ) {
            if list {
                self.lines.push((age, id, site.clone(), trace));
            }
            let acc = self.groups.entry((site, trace)).or_insert(Acc {
                count: 0,
                youngest: age,
                oldest: age,
                ids: Vec::new(),
            });
            acc.count += 1;
            acc.youngest = acc.youngest.min(age);
            acc.oldest = acc.oldest.max(age);
            if acc.ids.len() < 10 {
                acc.ids.push(id);
            }
        }
    }
    let mut grouper = Grouper::default();
    let list = opts.list_tasks;
    let mut note = traces.note.clone();
    let mut not_in_dump = 0;
    // Formatting a site is a few allocations; do it once per site, not once per task.
    let mut site_names: HashMap<registry::Site, String> = HashMap::new();
    for t in tasks {
        let trace = traces.by_id.get(&t.id).map(String::as_str);
        if traces.captured && trace.is_none() {
            not_in_dump += 1;
        }
        let site = site_names
            .entry(t.site)
            .or_insert_with(|| registry::site_string(t.site))
            .clone();
        grouper.add(list, t.id, site, t.age(now), trace);
    }
    if include_unregistered && traces.captured {
        let known: std::collections::HashSet<u64> = tasks.iter().map(|t| t.id).collect();
        for (id, trace) in &traces.by_id {
            if !known.contains(id) {
                grouper.add(list, *id, "unknown".into(), Duration::ZERO, Some(trace));
            }
        }
    }
    if not_in_dump > 0 {
        note = Some(format!(
            "{not_in_dump} task(s) have no trace: they were running (or not yet spawned) \
             while the dump was taken"
        ));
    }

    let Grouper { groups, mut lines } = grouper;
    let mut groups: Vec<TaskGroup> = groups
        .into_iter()
        .map(|((site, trace), acc)| TaskGroup {
            count: acc.count,
            spawned_at: site,
            youngest_ms: millis(acc.youngest),
            oldest_ms: millis(acc.oldest),
            trace: trace.map(str::to_owned),
            task_ids: acc.ids,
        })
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.spawned_at.cmp(&b.spawned_at))
            .then_with(|| a.trace.cmp(&b.trace))
    });
    let reported_tasks = groups.iter().map(|g| g.count).sum();
    let (omitted_groups, omitted_group_tasks) = if groups.len() > opts.max_groups {
        let rest = groups.split_off(opts.max_groups);
        (rest.len(), rest.iter().map(|g| g.count).sum())
    } else {
        (0, 0)
    };

    let (tasks, omitted_tasks) = if opts.list_tasks {
        // Oldest first: the longest-lived tasks are the likeliest leaks.
        lines.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let omitted = lines.len().saturating_sub(opts.max_tasks);
        let listed = lines
            .into_iter()
            .take(opts.max_tasks)
            .map(|(age, id, site, trace)| TaskLine {
                id,
                spawned_at: site,
                age_ms: millis(age),
                trace: trace.map(str::to_owned),
            })
            .collect();
        (Some(listed), omitted)
    } else {
        (None, 0)
    };

    TaskReport {
        live_tasks: live,
        reported_tasks,
        traces_captured: traces.captured,
        traces_note: note,
        capture_ms: traces.capture.map(millis),
        render_ms: traces.render.map(millis),
        groups,
        omitted_groups,
        omitted_group_tasks,
        tasks,
        omitted_tasks,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether an ignore rule matches a spawn site.
///
/// `sum.rs` matches every spawn in a file of that name, `src/sum.rs:71` one line, and
/// `leaky-server/src/sum.rs:71:5` one call. The file part matches whole path segments from
/// the end, so `um.rs` does not match `sum.rs`.
pub fn site_matches(pattern: &str, site: &str) -> bool {
    fn split(s: &str) -> (&str, Option<u32>, Option<u32>) {
        let mut file = s;
        let mut numbers = Vec::new();
        while numbers.len() < 2 {
            match file
                .rsplit_once(':')
                .map(|(rest, n)| (rest, n.parse::<u32>()))
            {
                Some((rest, Ok(n))) => {
                    numbers.insert(0, n);
                    file = rest;
                }
                _ => break,
            }
        }
        (file, numbers.first().copied(), numbers.get(1).copied())
    }
    let (pattern_file, pattern_line, pattern_col) = split(pattern);
    let (file, line, col) = split(site);
    let file_ok = file == pattern_file
        || (file.ends_with(pattern_file) && file[..file.len() - pattern_file.len()].ends_with('/'));
    file_ok
        && (pattern_line.is_none() || pattern_line == line)
        && (pattern_col.is_none() || pattern_col == col)
}

impl fmt::Display for TaskReport {
    /// The `/_stack` text: like Go's goroutine dump at `debug=1`, grouped, with ages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tokio task dump: {} live task(s), {} reported in {} group(s)",
            self.live_tasks,
            self.reported_tasks,
            self.groups.len() + self.omitted_groups
        )?;
        if let (Some(c), Some(r)) = (self.capture_ms, self.render_ms) {
            writeln!(
                f,
                "runtime paused {c} ms for the dump; traces rendered in {r} ms"
            )?;
        }
        if let Some(note) = &self.traces_note {
            writeln!(f, "traces: {note}")?;
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
            match &g.trace {
                Some(trace) if trace == NOT_RENDERED => writeln!(f, "    {trace}")?,
                Some(trace) if !trace.trim().is_empty() => write_indented(f, trace, "    ")?,
                Some(_) => writeln!(
                    f,
                    "    (empty trace: parked on a future tokio cannot trace, e.g. \
                     std::future::pending or a non-tokio channel)"
                )?,
                None => {}
            }
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
                writeln!(
                    f,
                    "\ntask {} [age {} ms] spawned at {}",
                    t.id, t.age_ms, t.spawned_at
                )?;
                if let Some(trace) = &t.trace {
                    write_indented(f, trace, "    ")?;
                }
            }
            if self.omitted_tasks > 0 {
                writeln!(f, "\n… {} more task(s) not listed", self.omitted_tasks)?;
            }
        }
        Ok(())
    }
}

fn write_indented(f: &mut fmt::Formatter<'_>, text: &str, indent: &str) -> fmt::Result {
    for line in text.lines() {
        writeln!(f, "{indent}{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;

    #[test]
    fn groups_by_site_with_counts_and_ages() {
        let a = Location::caller();
        let b = Location::caller();
        let now = Instant::now();
        let t = |id, site, ms| TaskInfo {
            id,
            site,
            spawned_at: now - Duration::from_millis(ms),
        };
        let tasks = vec![t(1, a, 100), t(2, a, 300), t(3, b, 50)];
        let opts = ReportOptions {
            list_tasks: true,
            ..ReportOptions::default()
        };
        let report = build(3, &tasks, Traces::none("test"), now, &opts, true);
        assert_eq!(report.reported_tasks, 3);
        assert_eq!(report.groups[0].count, 2);
        assert_eq!(report.groups[0].youngest_ms, 100);
        assert_eq!(report.groups[0].oldest_ms, 300);
        assert_eq!(report.groups[1].count, 1);
        let listed = report.tasks.as_ref().unwrap();
        assert_eq!(listed[0].id, 2, "oldest first");
        let text = report.to_string();
        assert!(
            text.contains("2 task(s) [age 100–300 ms] spawned at "),
            "{text}"
        );
    }

    #[test]
    fn caps_groups_and_says_what_it_left_out() {
        let now = Instant::now();
        let tasks: Vec<_> = (0..5u64)
            .map(|i| TaskInfo {
                id: i,
                site: Location::caller(),
                spawned_at: now,
            })
            .collect();
        // Five distinct sites would need five call sites; use traces to split instead.
        let mut traces = Traces::none("x");
        traces.captured = true;
        traces.note = None;
        traces.by_id = (0..5u64).map(|i| (i, format!("trace {i}"))).collect();
        let opts = ReportOptions {
            max_groups: 2,
            ..ReportOptions::default()
        };
        let report = build(5, &tasks, traces, now, &opts, false);
        assert_eq!(report.groups.len(), 2);
        assert_eq!(report.omitted_groups, 3);
        assert_eq!(report.omitted_group_tasks, 3);
        assert!(
            report
                .to_string()
                .contains("3 more group(s) with 3 task(s)")
        );
    }

    #[test]
    fn ignore_patterns_match_files_lines_and_calls() {
        let site = "leaky-server/src/sum.rs:71:5";
        assert!(site_matches("sum.rs", site));
        assert!(site_matches("src/sum.rs", site));
        assert!(site_matches("leaky-server/src/sum.rs:71", site));
        assert!(site_matches("leaky-server/src/sum.rs:71:5", site));
        assert!(!site_matches("um.rs:7", site));
        assert!(!site_matches("range.rs", site));
    }
}
