//! # Exercise 9: a shutdown that waits for its tasks, within a deadline — solution
//!
//! Every job is spawned through a `TaskTracker` and runs under a `CancellationToken`.
//! `shutdown` closes the tracker (no new jobs), waits for it to empty with a timeout,
//! and at the deadline cancels the token and waits again: cancelled jobs stop at their
//! next `.await`, so the second wait is short. Each job counts its own end, finished or
//! cancelled: counting "jobs running at the shutdown minus jobs finished" goes wrong as
//! soon as some jobs finished before the shutdown began.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What a shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Jobs that ran to the end.
    pub finished: usize,
    /// Jobs stopped at the deadline.
    pub cancelled: usize,
}

/// Runs jobs in the background.
#[derive(Debug, Default)]
pub struct Worker {
    finished: Arc<AtomicUsize>,
    /// Jobs stopped by the cancellation.
    cancelled: Arc<AtomicUsize>,
    /// Every job, so shutdown can wait for them.
    jobs: TaskTracker,
    /// Cancels every job at the deadline.
    cancel: CancellationToken,
}

impl Worker {
    /// A worker with no jobs.
    pub fn new() -> Worker {
        Worker::default()
    }

    /// Starts a job that takes `ms` milliseconds.
    pub fn submit(&self, ms: u64) {
        let (finished, cancelled) = (Arc::clone(&self.finished), Arc::clone(&self.cancelled));
        let cancel = self.cancel.clone();
        self.jobs.spawn(async move {
            let job = tokio::time::sleep(Duration::from_millis(ms));
            let ended = match cancel.run_until_cancelled(job).await {
                Some(()) => &finished,
                None => &cancelled,
            };
            ended.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// Lets jobs finish for at most `deadline`, cancels the rest, waits for them to stop.
    pub async fn shutdown(self, deadline: Duration) -> Report {
        self.jobs.close();
        if tokio::time::timeout(deadline, self.jobs.wait())
            .await
            .is_err()
        {
            self.cancel.cancel();
            self.jobs.wait().await;
        }
        Report {
            finished: self.finished.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
        }
    }
}
