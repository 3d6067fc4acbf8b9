//! # Exercise 9: a shutdown that waits for its tasks, within a deadline
//!
//! **Goal:** stop a service without losing work *and* without hanging.
//!
//! `Worker` runs submitted jobs in the background. `shutdown(deadline)` should let jobs
//! finish for at most `deadline`, then cancel the rest, wait for them to stop, and say
//! how many finished and how many were cancelled.
//!
//! Run `cargo run -p exercises -- check 9`: `shutdown` returns at once and the jobs run
//! on, detached. Make `shutdown` keep its promise (the TODOs). tokio-util has the two
//! pieces you need: one to *track* tasks, one to *cancel* them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
    // TODO: keep what you need to wait for the jobs, and to cancel them.
}

impl Worker {
    /// A worker with no jobs.
    pub fn new() -> Worker {
        Worker::default()
    }

    /// Starts a job that takes `ms` milliseconds.
    pub fn submit(&self, ms: u64) {
        let finished = Arc::clone(&self.finished);
        // TODO: nothing can wait for this task, or stop it.
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            finished.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// Lets jobs finish for at most `deadline`, cancels the rest, waits for them to stop.
    pub async fn shutdown(self, deadline: Duration) -> Report {
        // TODO: wait (up to `deadline`), then cancel and wait again.
        let _ = deadline;
        Report {
            finished: self.finished.load(Ordering::Relaxed),
            cancelled: 0,
        }
    }
}
