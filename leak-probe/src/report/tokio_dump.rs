//! tokio's own task dump, taken only on a quiet runtime.
//!
//! `Handle::dump()` traces every idle task down to tokio's leaf futures, with no marks in
//! your code. It needs `--cfg tokio_unstable`, tokio's `taskdump` feature and Linux, and
//! it pauses every worker while it captures. Its hazards, and what this module does:
//!
//! | hazard | what leak-probe does |
//! |---|---|
//! | tokio 1.54 spins for ever in `Shared::steal_all` when the run queues hold more than about 128 tasks as the dump starts (no timeout can fire then) | dump only after the runtime was quiet for [`QUIET_SAMPLES`] samples in a row (few tasks queued, few polls), else refuse with a reason; servers allow it only with `--tokio-dump` |
//! | a dump re-schedules every task it traced, so the queues are long right after one | the same quiet check; one dump at a time |
//! | a worker blocked for more than 250 ms misses tokio's rendezvous and the dump never finishes | bounded by [`super::ReportOptions::dump_timeout`] |
//! | on a current-thread runtime a dump can panic (tokio#8391) | never dumped |
//! | rendering traces resolves symbols, ~5 µs per task | done on the blocking pool, a sample per spawn site |
//!
//! The quiet check lowers the odds of the spin; it cannot rule it out, because a burst can
//! arrive between the last sample and the dump (tokio offers no way to hold the queues
//! still). That is why the default report never dumps.

use std::collections::HashMap;
use std::time::Duration;

use super::ReportError;

/// A sample of the runtime's activity is taken this often before a dump.
pub const QUIET_SAMPLE: Duration = Duration::from_millis(5);
/// Samples in a row that must be quiet before a dump starts.
pub const QUIET_SAMPLES: u32 = 10;
/// How long to wait for quiet before refusing.
pub const QUIET_WAIT: Duration = Duration::from_secs(1);
/// At most this many tasks queued (all workers and the global queue) in a quiet sample.
pub const MAX_QUEUED: usize = 16;
/// At most this many task polls in one quiet sample.
pub const MAX_POLLS_PER_SAMPLE: u64 = 16;

/// The trace text of tasks whose trace was not rendered (beyond the sample of their site).
pub const NOT_RENDERED: &str = "(trace not rendered: only a sample of each spawn site's tasks is; \
ask /_stack?trace=tokio&all_traces=1 for every one)";

/// Longest trace kept per task; deeper trees end in a line saying how much was cut.
pub const MAX_TRACE_LINES: usize = 60;

/// tokio traces by task id, or the reason there are none.
#[derive(Debug, Default)]
pub struct Traces {
    pub(crate) by_id: HashMap<u64, String>,
    pub(crate) note: Option<String>,
    pub(crate) captured: bool,
    pub(crate) capture: Option<Duration>,
    pub(crate) render: Option<Duration>,
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
            note: Some(why.into()),
            ..Traces::default()
        }
    }

    /// No traces, and none were asked for.
    pub fn not_asked() -> Self {
        Traces::default()
    }
}

/// For tests: traces for the given ids, as if a dump had been taken.
#[doc(hidden)]
pub fn traces_for_tests(by_id: HashMap<u64, String>) -> Traces {
    Traces {
        by_id,
        captured: true,
        ..Traces::default()
    }
}

/// Captures tokio traces of every task on the current runtime, for the leak check.
///
/// A dump that is not possible or not safe right now (no task dumps in this build, a
/// current-thread runtime, a busy runtime, a timeout) is not an error: the returned
/// [`Traces`] say why instead. Only [`ReportError::Busy`] (another dump of this runtime
/// is running) is.
pub async fn capture_traces(timeout: Duration) -> Result<Traces, ReportError> {
    match capture_when_quiet(timeout, None).await {
        Err(ReportError::RuntimeBusy(why)) => Ok(Traces::none(format!("not captured: {why}"))),
        other => other,
    }
}

/// Captures tokio traces once the runtime is quiet, rendering at most `per_site` traces
/// per spawn site (the others get [`NOT_RENDERED`]).
///
/// [`ReportError::RuntimeBusy`] if it never got quiet within [`QUIET_WAIT`].
pub async fn capture_when_quiet(
    timeout: Duration,
    per_site: Option<usize>,
) -> Result<Traces, ReportError> {
    #[cfg(taskdump)]
    {
        imp::capture(timeout, per_site).await
    }
    #[cfg(not(taskdump))]
    {
        let _ = (timeout, per_site);
        Ok(Traces::none(format!(
            "not captured: this build has no tokio task dumps; {}",
            crate::runtime::HOW_TO_ENABLE
        )))
    }
}

#[cfg(taskdump)]
mod imp {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use tokio::runtime::{Handle, RuntimeFlavor};

    use super::*;
    use crate::registry::{self, Registry};

    /// The right to dump one runtime: one dump at a time.
    struct DumpSlot(Arc<Registry>);

    impl Drop for DumpSlot {
        fn drop(&mut self) {
            self.0.dumping.store(false, Ordering::Release);
        }
    }

    pub(super) async fn capture(
        timeout: Duration,
        per_site: Option<usize>,
    ) -> Result<Traces, ReportError> {
        let handle = Handle::current();
        if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
            // tokio#8391: on the current-thread scheduler a dump can panic with "RefCell
            // already borrowed" when a traced task wakes itself. Never risk it.
            return Ok(Traces::none(
                "not captured: task dumps on a current-thread runtime can panic (tokio#8391); \
                 use a multi-thread runtime for traces",
            ));
        }
        let Some(registry) = registry::for_current_runtime() else {
            return Ok(Traces::none(format!(
                "not captured: {}",
                super::super::no_registry_reason()
            )));
        };
        registry
            .dumping
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| ReportError::Busy)?;
        let slot = DumpSlot(Arc::clone(&registry));
        wait_until_quiet(&handle).await?;

        let started = Instant::now();
        let Ok(dump) = tokio::time::timeout(timeout, handle.dump()).await else {
            return Ok(Traces::none(format!(
                "not captured: the task dump did not finish within {timeout:?} \
                 (a worker thread may be blocked)"
            )));
        };
        let capture = started.elapsed();
        // Formatting resolves symbols: by far the slowest step. Do it on the blocking pool
        // so the runtime's workers go on serving meanwhile.
        let rendered = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let sites: HashMap<u64, registry::Site> = registry
                .snapshot()
                .into_iter()
                .map(|t| (t.id, t.site))
                .collect();
            let mut per_site_seen: HashMap<Option<registry::Site>, usize> = HashMap::new();
            let by_id: HashMap<u64, String> = dump
                .tasks()
                .iter()
                .map(|t| {
                    let id = crate::runtime::task_id(t.id());
                    if let Some(limit) = per_site {
                        let site = sites.get(&id).copied();
                        let seen = per_site_seen.entry(site).or_default();
                        *seen += 1;
                        if *seen > limit {
                            return (id, NOT_RENDERED.to_owned());
                        }
                    }
                    let trace = super::super::render::clean_trace(&t.trace().to_string());
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

    /// Waits until [`QUIET_SAMPLES`] samples in a row saw at most [`MAX_QUEUED`] queued
    /// tasks and [`MAX_POLLS_PER_SAMPLE`] polls; refuses with the busiest figures seen if
    /// that does not happen within [`QUIET_WAIT`].
    async fn wait_until_quiet(handle: &Handle) -> Result<(), ReportError> {
        let metrics = handle.metrics();
        let polls = || {
            (0..metrics.num_workers())
                .map(|w| metrics.worker_poll_count(w))
                .sum::<u64>()
        };
        // The global queue counts too: workers refill their local queues from it.
        let queued = || {
            metrics.global_queue_depth()
                + (0..metrics.num_workers())
                    .map(|w| metrics.worker_local_queue_depth(w))
                    .sum::<usize>()
        };
        let deadline = Instant::now() + QUIET_WAIT;
        let (mut last, mut in_a_row) = (polls(), 0);
        let (mut most_queued, mut most_polls) = (0, 0);
        loop {
            tokio::time::sleep(QUIET_SAMPLE).await;
            let (now_polls, now_queued) = (polls(), queued());
            let polled = now_polls.saturating_sub(last);
            last = now_polls;
            if now_queued <= MAX_QUEUED && polled <= MAX_POLLS_PER_SAMPLE {
                in_a_row += 1;
                if in_a_row >= QUIET_SAMPLES {
                    return Ok(());
                }
            } else {
                in_a_row = 0;
                most_queued = most_queued.max(now_queued);
                most_polls = most_polls.max(polled);
            }
            if Instant::now() >= deadline {
                let per_sec = most_polls * (1000 / QUIET_SAMPLE.as_millis().max(1) as u64);
                return Err(ReportError::RuntimeBusy(format!(
                    "runtime busy: up to {most_queued} task(s) queued and {per_sec} polls/s \
                     in the last {QUIET_WAIT:?}; tokio's task dump can hang a busy runtime for \
                     good (tokio 1.54), so it only runs on a quiet one. /_stack without \
                     trace=tokio never pauses the runtime"
                )));
            }
        }
    }

    fn cap_lines(text: String, max: usize) -> String {
        let total = text.lines().count();
        if total <= max {
            return text;
        }
        let mut kept: String = text.lines().take(max).flat_map(|l| [l, "\n"]).collect();
        kept.push_str(&format!("… {} more line(s) of this trace\n", total - max));
        kept
    }
}
