//! The report's section on naming the line a task waits at: three ways, measured in one
//! process, side by side.
//!
//! * **none**: the spawn site only (what the registry knows with no marks);
//! * **`.traced()`**: leak-probe's await points (a `#[track_caller]` location written to
//!   the task's registry entry when the await first waits, cleared when it is done);
//! * **`frame!`** of `async-backtrace` (tokio-rs): a logical frame per annotated future,
//!   linked into a global tree that `taskdump_tree` prints.
//!
//! Each way spawns N tasks that park on one await, wakes them all and joins them (the
//! cost a request pays, per task), and with N parked, takes the way's dump (the cost of
//! asking). Rounds interleave the ways; each figure is the median of its rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use leak_probe::TraceExt as _;
use tokio_util::sync::CancellationToken;

/// How a task's waiting line is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Not at all: spawn sites only.
    None,
    /// leak-probe's `.traced()`.
    Traced,
    /// async-backtrace's `frame!`.
    Framed,
}

impl Way {
    /// Every way, in the report's order.
    pub const ALL: [Way; 3] = [Way::None, Way::Traced, Way::Framed];

    /// The report's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Way::None => "spawn site only (no mark)",
            Way::Traced => "leak-probe `.traced()`",
            Way::Framed => "async-backtrace `frame!`",
        }
    }
}

/// One measurement of one way.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Spawn, park, wake and join, per task.
    pub per_task: Duration,
    /// The way's dump with N tasks parked (`None` for [`Way::None`]: nothing to dump
    /// beyond the spawn sites, which `.traced()`'s dump also has).
    pub dump: Option<Duration>,
    /// Whether the dump names a line of this file for every parked task (checked, not
    /// assumed): the await itself for `.traced()`, the framed block for `frame!`.
    pub names_user_code: bool,
}

/// Parks `n` tasks the way `way` marks them, takes its dump, wakes and joins them.
pub async fn measure(way: Way, n: usize) -> Measured {
    let token = CancellationToken::new();
    let parked = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let (token, parked) = (token.clone(), Arc::clone(&parked));
        handles.push(match way {
            Way::None => tokio::spawn(async move {
                parked.fetch_add(1, Ordering::Relaxed);
                token.cancelled().await;
            }),
            Way::Traced => tokio::spawn(async move {
                parked.fetch_add(1, Ordering::Relaxed);
                token.cancelled().traced().await;
            }),
            Way::Framed => tokio::spawn(async_backtrace::frame!(async move {
                parked.fetch_add(1, Ordering::Relaxed);
                token.cancelled().await;
            })),
        });
    }
    while parked.load(Ordering::Relaxed) < n {
        tokio::task::yield_now().await;
    }
    // Let the last ones reach their await.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let spawned = started.elapsed();
    let here = format!("{}:", file!());
    let (dump, names_user_code) = match way {
        Way::None => (None, false),
        Way::Traced => {
            let t = Instant::now();
            let report = leak_probe::report::current(&leak_probe::report::ReportOptions::default())
                .await
                .expect("one report at a time");
            let took = t.elapsed();
            let named = report
                .groups
                .iter()
                .any(|g| g.count >= n && g.waiting_at.first().is_some_and(|w| w.contains(&here)));
            (Some(took), named)
        }
        Way::Framed => {
            let t = Instant::now();
            let tree = tokio::task::spawn_blocking(|| async_backtrace::taskdump_tree(false))
                .await
                .expect("the dump does not panic");
            let took = t.elapsed();
            (Some(took), tree.matches(&here).count() >= n)
        }
    };
    let woken = Instant::now();
    token.cancel();
    for h in handles {
        h.await.expect("the task ends");
    }
    Measured {
        per_task: (spawned + woken.elapsed()) / u32::try_from(n).unwrap_or(u32::MAX),
        dump,
        names_user_code,
    }
}
