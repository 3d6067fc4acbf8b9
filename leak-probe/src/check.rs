//! The test-time leak check: goleak for tokio.
//!
//! [`LeakCheck::run`] runs a test body on a fresh, instrumented runtime, then waits (up to a
//! settle window) for every task the body spawned to end. If some are still alive it
//! panics **at the test's line** with the leaked tasks grouped by spawn site, with counts,
//! ages and await traces:
//!
//! ```
//! use std::time::Duration;
//! use leak_probe::LeakCheck;
//!
//! // In a test file this is a `#[test] fn`.
//! fn worker_ends_with_its_channel() {
//!     LeakCheck::new().settle(Duration::from_millis(500)).run(|| async {
//!         let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
//!         tokio::spawn(async move { while rx.recv().await.is_some() {} });
//!         tx.send(1).await.unwrap();
//!         // `tx` is dropped here, `recv()` returns `None`, the worker ends: no leak.
//!     });
//! }
//! # worker_ends_with_its_channel();
//! ```
//!
//! And a leak, caught:
//!
//! ```
//! # use std::time::Duration;
//! # use leak_probe::LeakCheck;
//! let result = LeakCheck::new().settle(Duration::from_millis(200)).try_run(|| async {
//!     // leaktest's own example: a sleep loop nobody stops.
//!     tokio::spawn(async {
//!         loop {
//!             tokio::time::sleep(Duration::from_secs(1)).await;
//!         }
//!     });
//! });
//! let leak = result.unwrap_err();
//! assert_eq!(leak.leaked(), 1);
//! # #[cfg(tokio_unstable)]
//! assert!(leak.to_string().contains("1 task(s) [age"));
//! ```
//!
//! # Why it is safe in parallel tests
//!
//! Every check builds its own runtime, and both the live-task count and the spawn registry
//! are per runtime. Tests running side by side on cargo's thread pool never see each
//! other's tasks (goleak, being process-wide, cannot offer this).
//!
//! # Current-thread runtimes
//!
//! [`LeakCheck::current_thread`] checks on a current-thread runtime. Leaks are caught and
//! reported with spawn sites and ages, but without await traces: a task dump there can
//! panic (tokio#8391), so the check never takes one.
//!
//! # Work outside tasks
//!
//! The live-task count cannot see OS threads: work moved into `std::thread::spawn` or
//! `tokio::task::spawn_blocking` is invisible to it, and a runtime's shutdown does not stop
//! such a thread. [`LeakCheck::check_threads`] also fails when the process has more OS
//! threads after the settle window than before the body ran (Linux; read from
//! `/proc/self/task`). It counts the whole process, so use it in a test binary that runs
//! one test at a time; and a `spawn_blocking` thread idles in tokio's pool for 10 s after
//! its work, so code that uses it legitimately fails this check.
//!
//! # For checkers: the failure record
//!
//! When the environment variable `LEAK_PROBE_FAILURES` names a file, every failed check
//! appends one line to it (`leak check failed: N task(s) at SITE, SITE...`). A workshop
//! checker uses it to tell a test that failed *through the leak check* from one that
//! merely panicked with a similar message.
//!
//! # Without `--cfg tokio_unstable`
//!
//! The check still works from the live-task count, but cannot name spawn sites, take
//! traces, or apply ignore rules (it says so in its message).

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Builder;

use crate::registry::{self, Registry, TaskInfo};
use crate::report::{self, ReportOptions, TaskReport, TraceSource};

/// Which scheduler a check runs its body on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MultiThread { workers: usize },
    CurrentThread,
}

/// A leak check around one test body. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct LeakCheck {
    settle: Duration,
    poll: Duration,
    ignore: Vec<String>,
    flavor: Flavor,
    expected: usize,
    dump_timeout: Duration,
    threads: bool,
}

impl Default for LeakCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl LeakCheck {
    /// A check on a 2-worker multi-thread runtime with a 2 s settle window.
    pub fn new() -> Self {
        LeakCheck {
            settle: Duration::from_secs(2),
            poll: Duration::from_millis(10),
            ignore: Vec::new(),
            flavor: Flavor::MultiThread { workers: 2 },
            expected: 0,
            dump_timeout: Duration::from_secs(5),
            threads: false,
        }
    }

    /// How long tasks get to end after the body returns (HTTP connections close
    /// asynchronously, aborted tasks are dropped on the next scheduler tick). The check
    /// passes as soon as the count is back, so a long window only costs time on failure.
    pub fn settle(mut self, window: Duration) -> Self {
        self.settle = window;
        self
    }

    /// How often the count is read while settling (default 10 ms).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(1));
        self
    }

    /// Ignores live tasks spawned at a matching site: `"file.rs"`, `"src/file.rs:12"` or
    /// `"crate/src/file.rs:12:5"` (path segments match from the end). Use it for known
    /// background work that outlives the body by design.
    pub fn ignore_spawn_site(mut self, pattern: impl Into<String>) -> Self {
        self.ignore.push(pattern.into());
        self
    }

    /// Runs the body on a current-thread runtime (no await traces, see module docs).
    pub fn current_thread(mut self) -> Self {
        self.flavor = Flavor::CurrentThread;
        self
    }

    /// Runs the body on a multi-thread runtime with `n` workers (the default, with 2).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.flavor = Flavor::MultiThread { workers: n.max(1) };
        self
    }

    /// Expects exactly `n` tasks to outlive the body, instead of none.
    ///
    /// For demonstrations and for testing leaky code: the check fails if fewer *or more*
    /// tasks remain, so it proves a leak is exactly as big as claimed.
    pub fn expect_leaked(mut self, n: usize) -> Self {
        self.expected = n;
        self
    }

    /// Also fails if the body left OS threads running (see the module docs, "Work outside
    /// tasks"). No effect where the thread count cannot be read (not Linux).
    pub fn check_threads(mut self) -> Self {
        self.threads = true;
        self
    }

    /// Runs `body` and panics, at the caller's line, if it leaked tasks.
    ///
    /// Whatever `body` returns stays alive until the check is over: return a value (a
    /// server's state, a bus, a pool) to check that tasks end *while it lives*, rather
    /// than because it was dropped at the end of the body. It is handed back to the caller
    /// when the check passes.
    #[track_caller]
    pub fn run<F, Fut>(self, body: F) -> Fut::Output
    where
        F: FnOnce() -> Fut,
        Fut: Future,
    {
        match self.try_run(body) {
            Ok(output) => output,
            Err(leak) => panic!("{leak}"),
        }
    }

    /// Runs `body` and returns the leak instead of panicking.
    pub fn try_run<F, Fut>(self, body: F) -> Result<Fut::Output, Leak>
    where
        F: FnOnce() -> Fut,
        Fut: Future,
    {
        let builder = match self.flavor {
            Flavor::MultiThread { workers } => {
                let mut b = Builder::new_multi_thread();
                b.worker_threads(workers);
                b
            }
            Flavor::CurrentThread => Builder::new_current_thread(),
        };
        let runtime = crate::runtime::build(builder).expect("leak check: cannot build a runtime");
        let result = runtime.block_on(async {
            let threads_before = if self.threads { thread_count() } else { None };
            let baseline = Baseline::take();
            let output = body().await;
            baseline.settle(&self).await?;
            if let Some(before) = threads_before {
                settle_threads(&self, before, &baseline).await?;
            }
            Ok(output)
        });
        // Leaked tasks are dropped here. Don't wait long for blocking work to notice.
        runtime.shutdown_timeout(Duration::from_secs(1));
        if let Err(leak) = &result {
            record_failure(leak);
        }
        result
    }
}

/// OS threads of this process, where that can be read.
fn thread_count() -> Option<usize> {
    std::fs::read_dir("/proc/self/task")
        .ok()
        .map(|tasks| tasks.count())
}

/// Waits (within the settle window) for the thread count to be back to `before`.
async fn settle_threads(check: &LeakCheck, before: usize, baseline: &Baseline) -> Result<(), Leak> {
    let deadline = Instant::now() + check.settle;
    loop {
        let now = thread_count().unwrap_or(before);
        if now <= before {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let live = crate::live_tasks();
            return Err(Leak {
                leaked: 0,
                expected: 0,
                baseline: baseline.count,
                live,
                settle: check.settle,
                since_baseline: baseline.taken.elapsed(),
                ignore: Vec::new(),
                report: Box::new(report::report_without_registry(
                    live,
                    "the tasks are fine; the threads are not (a task report cannot show them)"
                        .into(),
                )),
                threads: Some((before, now)),
            });
        }
        tokio::time::sleep(check.poll).await;
    }
}

/// Appends one line about `leak` to the file named by `LEAK_PROBE_FAILURES`, if set.
fn record_failure(leak: &Leak) {
    let Some(path) = std::env::var_os("LEAK_PROBE_FAILURES") else {
        return;
    };
    let sites: Vec<String> = leak
        .report
        .groups
        .iter()
        .map(|g| g.spawned_at.clone())
        .collect();
    let line = match leak.threads {
        Some((before, now)) => format!(
            "leak check failed: {} OS thread(s) left running\n",
            now.saturating_sub(before)
        ),
        None => format!(
            "leak check failed: {} task(s) at {}\n",
            leak.leaked,
            sites.join(", ")
        ),
    };
    use std::io::Write as _;
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// The tasks alive at one moment, to compare a later moment against.
///
/// [`LeakCheck`] takes one before the body runs. Take one yourself to check a section of a
/// test that already has a runtime (without an instrumented runtime only the count is
/// compared):
///
/// ```
/// # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
/// # async fn main() {
/// use std::time::Duration;
/// let baseline = leak_probe::check::Baseline::take();
/// let handle = tokio::spawn(async { 1 + 1 });
/// assert_eq!(handle.await.unwrap(), 2);
/// baseline
///     .settle(&leak_probe::LeakCheck::new().settle(Duration::from_secs(1)))
///     .await
///     .unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Baseline {
    count: usize,
    registry: Option<Arc<Registry>>,
    ids: HashSet<u64>,
    taken: Instant,
}

impl Baseline {
    /// The current runtime's live tasks, now.
    pub fn take() -> Baseline {
        let registry = registry::for_current_runtime();
        let ids = registry
            .as_ref()
            .map(|r| r.snapshot().into_iter().map(|t| t.id).collect())
            .unwrap_or_default();
        Baseline {
            count: crate::live_tasks(),
            registry,
            ids,
            taken: Instant::now(),
        }
    }

    /// The live-task count when the baseline was taken.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Tasks spawned since the baseline and still alive, minus ignored ones, right now.
    ///
    /// With a registry these are the exact tasks; without one, only their number is known
    /// (the count above the baseline) and the list is empty.
    pub fn leaked_now(&self, ignore: &[String]) -> (usize, Vec<TaskInfo>) {
        match &self.registry {
            Some(registry) => {
                let leaked: Vec<TaskInfo> = registry
                    .snapshot()
                    .into_iter()
                    .filter(|t| !self.ids.contains(&t.id))
                    .filter(|t| {
                        let site = registry::site_string(t.site);
                        !ignore.iter().any(|p| site_matches(p, &site))
                    })
                    .collect();
                (leaked.len(), leaked)
            }
            None => (crate::live_tasks().saturating_sub(self.count), Vec::new()),
        }
    }

    /// Waits until exactly the expected number of tasks (usually zero) outlive the
    /// baseline, within `check`'s settle window.
    pub async fn settle(&self, check: &LeakCheck) -> Result<(), Leak> {
        let deadline = Instant::now() + check.settle;
        loop {
            let (leaked, _) = self.leaked_now(&check.ignore);
            if leaked == check.expected {
                if check.expected == 0 {
                    return Ok(());
                }
                // Expected leaks must stay: give tasks that are merely slow to end a
                // moment to do so, then look again.
                tokio::time::sleep(check.poll * 10).await;
                if self.leaked_now(&check.ignore).0 == check.expected {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(self.explain(check).await);
            }
            tokio::time::sleep(check.poll).await;
        }
    }

    async fn explain(&self, check: &LeakCheck) -> Leak {
        let (leaked, tasks) = self.leaked_now(&check.ignore);
        let live = crate::live_tasks();
        let report = match &self.registry {
            Some(_) => {
                // A task that happens to be running when the dump is taken has no trace in
                // it; try a couple more dumps for those (leaks are idle most of the time).
                let mut traces: Option<report::Traces> = None;
                for attempt in 0..3 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    let more = match report::capture_traces(check.dump_timeout).await {
                        Ok(more) => more,
                        Err(busy) => report::Traces::none(format!("not captured: {busy}")),
                    };
                    let traces = match traces.as_mut() {
                        Some(traces) => {
                            traces.fill_from(more);
                            traces
                        }
                        None => traces.insert(more),
                    };
                    if !traces.is_captured() || tasks.iter().all(|t| traces.has(t.id)) {
                        break;
                    }
                }
                let traces = traces.expect("at least one attempt");
                let opts = ReportOptions {
                    max_groups: 20,
                    source: TraceSource::TokioDump,
                    ..ReportOptions::default()
                };
                report::build(live, &tasks, traces, Instant::now(), &opts, false)
            }
            None => report::report_without_registry(
                live,
                format!(
                    "no spawn sites: {}",
                    if crate::runtime::HAS_REGISTRY {
                        "this runtime was not built with leak_probe::runtime::build".to_owned()
                    } else {
                        format!(
                            "this build has no tokio_unstable; {}",
                            crate::runtime::HOW_TO_ENABLE
                        )
                    }
                ),
            ),
        };
        Leak {
            leaked,
            expected: check.expected,
            baseline: self.count,
            live,
            settle: check.settle,
            since_baseline: self.taken.elapsed(),
            ignore: check.ignore.clone(),
            report: Box::new(report),
            threads: None,
        }
    }
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

/// A failed leak check: how many tasks outlived the body, and the report that names them.
#[derive(Debug, Clone)]
pub struct Leak {
    leaked: usize,
    expected: usize,
    baseline: usize,
    live: usize,
    settle: Duration,
    since_baseline: Duration,
    ignore: Vec<String>,
    report: Box<TaskReport>,
    /// OS threads `(before the body, after the settle window)`, when they are the leak.
    threads: Option<(usize, usize)>,
}

impl Leak {
    /// Tasks spawned by the body (and not ignored) still alive after the settle window.
    pub fn leaked(&self) -> usize {
        self.leaked
    }

    /// The grouped report of the leaked tasks.
    pub fn report(&self) -> &TaskReport {
        &self.report
    }
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((before, now)) = self.threads {
            return writeln!(
                f,
                "leak check failed: {} OS thread(s) started by the test body are still running {:?} after it returned \
                 ({before} threads before the body, {now} now).\n\
                 Work in std::thread::spawn or spawn_blocking is invisible to the task count and is not \
                 stopped with the runtime: it is the leak this check cannot name. Keep the work in tasks.",
                now.saturating_sub(before),
                self.settle
            );
        }
        if self.expected == 0 {
            writeln!(
                f,
                "leak check failed: {} task(s) spawned by the test body are still alive {:?} after it returned",
                self.leaked, self.settle
            )?;
        } else {
            writeln!(
                f,
                "leak check failed: expected exactly {} task(s) to outlive the test body, found {}",
                self.expected, self.leaked
            )?;
        }
        writeln!(
            f,
            "(live tasks: {} before the body, {} now; {} ms since the baseline; settle window set with LeakCheck::settle)",
            self.baseline,
            self.live,
            self.since_baseline.as_millis()
        )?;
        if !self.ignore.is_empty() {
            writeln!(f, "ignoring tasks spawned at: {}", self.ignore.join(", "))?;
        }
        writeln!(f)?;
        write!(f, "{}", self.report)?;
        writeln!(
            f,
            "\nto ignore known background work: LeakCheck::new().ignore_spawn_site(\"path/file.rs:line\")"
        )
    }
}

impl std::error::Error for Leak {}

#[cfg(test)]
mod tests {
    use super::site_matches;

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
