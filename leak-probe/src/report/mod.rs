//! Task reports: live tasks grouped by spawn site and await point, with counts and ages.
//!
//! This is tokio's answer to Go's `pprof.Lookup("goroutine").WriteTo(w, 1)`: instead of
//! 50 000 identical stacks, one group saying "50 000 tasks, spawned at `sum.rs:171`,
//! 2–9 s old, waiting at `sum.rs:142`". It is built in three steps, one file each:
//!
//! 1. **collect** (here): a copy of the [task registry](crate::registry), which knows every live
//!    task's spawn site, spawn time, parent and marked await points
//!    ([`crate::await_point`]). Copying it locks one shard at a time: **the runtime is
//!    never paused**, whatever its load.
//! 2. [`group`]: tasks that share a spawn site and await points (and tokio trace, if one
//!    was asked for) become one [`TaskGroup`], most tasks first, capped.
//! 3. [`render`]: the text of `/_stack` and of the leak check's message; `/_tasks` is the
//!    same [`TaskReport`] as JSON.
//!
//! # tokio's own task dump: only on request, only on a quiet runtime
//!
//! tokio can also trace what every task awaits, down to its own leaf futures, with no
//! marks in your code ([`tokio_dump`], `/_stack?trace=tokio`). It is not the default,
//! because it is not safe on a busy server: it stops every worker, and in tokio 1.54 it
//! can stop them **for good**. The dump first moves every queued task into one local queue
//! (`Shared::steal_all`), and that loop never ends when the workers' queues hold more than
//! about 128 tasks: the process then spins at 100 % CPU and answers nothing, `/_count`
//! included, and no timeout can fire because no worker runs timers any more. Under load
//! the queues refill between any check and the dump's start, so no check can rule it out.
//! leak-probe therefore runs tokio's dump only when the server allowed it
//! ([`crate::http::DebugConfig::tokio_dump`]) and the runtime has been quiet for a while
//! (see [`tokio_dump`]); everything else comes from the registry.

pub mod group;
pub mod pprof;
pub mod render;
pub mod tokio_dump;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::registry::{self, Registry};

pub use group::build;
pub use tokio_dump::{Traces, capture_traces};

/// Which sources a report reads besides the spawn registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceSource {
    /// Spawn sites and ages only (`/_stack?trace=0`).
    SitesOnly,
    /// Plus the await points marked with `.traced()` (the default). No pause.
    AwaitPoints,
    /// Plus tokio's task dump (`/_stack?trace=tokio`): every task's full await tree, at the
    /// price of pausing the runtime. Refused on a busy runtime; see the module docs.
    TokioDump,
}

/// What a report should contain and how much of it.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Where await information comes from.
    pub source: TraceSource,
    /// Also list every task on its own (`/_stack?debug=2`).
    pub list_tasks: bool,
    /// At most this many groups are shown; the rest are summed up in one line.
    pub max_groups: usize,
    /// At most this many tasks are listed one by one.
    pub max_tasks: usize,
    /// Give up on a tokio dump after this long.
    pub dump_timeout: Duration,
    /// Render the tokio traces of at most this many tasks per spawn site (`None`: all).
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
            source: TraceSource::AwaitPoints,
            list_tasks: false,
            max_groups: 100,
            max_tasks: 1000,
            dump_timeout: Duration::from_secs(2),
            traces_per_site: Some(DEFAULT_TRACES_PER_SITE),
        }
    }
}

/// Traces rendered per spawn site by default (see [`ReportOptions::traces_per_site`]).
pub const DEFAULT_TRACES_PER_SITE: usize = 100;

/// Live tasks that share a spawn site, await points and (if taken) tokio trace.
#[derive(Debug, Clone, Serialize)]
pub struct TaskGroup {
    /// How many live tasks are in this group.
    pub count: usize,
    /// `file:line:column` of the spawn, or `unknown` for tasks the registry never saw.
    pub spawned_at: String,
    /// The label the tasks carry (the request's route, for tasks a request spawned; see
    /// [`crate::labels`]).
    pub label: Option<String>,
    /// The marked await points the tasks are parked at, innermost first (empty: none).
    pub waiting_at: Vec<String>,
    /// Age of the youngest task in the group, in milliseconds.
    pub youngest_ms: u64,
    /// Age of the oldest task in the group, in milliseconds.
    pub oldest_ms: u64,
    /// What the tasks are awaiting according to tokio's dump (`?trace=tokio` only).
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
    /// Its label (see [`crate::labels`]).
    pub label: Option<String>,
    /// The task that spawned this one (Go's "created by ... in goroutine N").
    pub spawned_by: Option<u64>,
    /// Where that parent was spawned, if it is still alive.
    pub parent_spawned_at: Option<String>,
    /// Age in milliseconds.
    pub age_ms: u64,
    /// Marked await points, innermost first.
    pub waiting_at: Vec<String>,
    /// tokio's trace, when a dump was taken.
    pub trace: Option<String>,
}

/// The whole answer of `/_stack`, `/_tasks` and the leak check.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    /// Live tasks of the runtime (`/_count`) when the report started.
    pub live_tasks: usize,
    /// Tasks in this report.
    pub reported_tasks: usize,
    /// Whether a tokio task dump was taken; if one was asked for and not taken,
    /// [`TaskReport::traces_note`] says why.
    pub traces_captured: bool,
    /// Why there are no tokio traces, or what was left out of them.
    pub traces_note: Option<String>,
    /// How long the runtime was paused (0 without a tokio dump: the registry is read
    /// without any pause).
    pub paused_ms: u64,
    /// How long turning tokio traces into text took (off the runtime), in milliseconds.
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

/// Why a report could not be made right now. Each is answered with a status and this
/// one-line reason by the debug routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportError {
    /// Another report of this runtime is being built (`429`).
    Busy,
    /// tokio's dump was asked for on a runtime that is not quiet enough for it (`503`).
    RuntimeBusy(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::Busy => {
                f.write_str("another task report of this runtime is being built; try again shortly")
            }
            ReportError::RuntimeBusy(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ReportError {}

/// The right to build a report of one runtime; released however the report ends
/// (finished, failed, or the request that asked for it went away).
struct ReportSlot(Arc<Registry>);

impl ReportSlot {
    fn take(registry: &Arc<Registry>) -> Option<ReportSlot> {
        registry
            .reporting
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(ReportSlot(Arc::clone(registry)))
    }
}

impl Drop for ReportSlot {
    fn drop(&mut self) {
        self.0.reporting.store(false, Ordering::Release);
    }
}

/// Builds a report of the current runtime's live tasks.
///
/// Without a registry (no `tokio_unstable`, or a runtime not built by
/// [`crate::runtime::build`]) the report holds the count and says what is missing.
pub async fn current(opts: &ReportOptions) -> Result<TaskReport, ReportError> {
    let live = crate::live_tasks();
    let Some(registry) = registry::for_current_runtime() else {
        return Ok(report_without_registry(live, no_registry_reason()));
    };
    let _slot = ReportSlot::take(&registry).ok_or(ReportError::Busy)?;
    let traces = match opts.source {
        TraceSource::TokioDump => {
            tokio_dump::capture_when_quiet(opts.dump_timeout, opts.traces_per_site).await?
        }
        TraceSource::AwaitPoints | TraceSource::SitesOnly => Traces::not_asked(),
    };
    let tasks = registry.snapshot();
    let opts = opts.clone();
    let build = move || group::build(live, &tasks, traces, Instant::now(), &opts, true);
    // Grouping 100k tasks takes milliseconds; still, keep it off the workers.
    Ok(tokio::task::spawn_blocking(build)
        .await
        .expect("grouping tasks does not panic"))
}

/// Why a report has no spawn sites.
pub fn no_registry_reason() -> String {
    if crate::runtime::HAS_REGISTRY {
        "no spawn sites: this runtime was not built with leak_probe::runtime::build".into()
    } else {
        format!(
            "no spawn sites or await points: this build has no tokio_unstable; {}",
            crate::runtime::HOW_TO_ENABLE
        )
    }
}

/// A report that only knows the count.
pub fn report_without_registry(live: usize, why: String) -> TaskReport {
    TaskReport {
        live_tasks: live,
        reported_tasks: 0,
        traces_captured: false,
        traces_note: Some(why),
        paused_ms: 0,
        render_ms: None,
        groups: Vec::new(),
        omitted_groups: 0,
        omitted_group_tasks: 0,
        tasks: None,
        omitted_tasks: 0,
    }
}

/// `d` in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
