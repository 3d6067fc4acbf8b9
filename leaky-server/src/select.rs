//! `GET /select` — the blog's "blocked on a for-select".
//!
//! ```go
//! for {
//!     select {
//!     case <-c:
//!         // process here
//!     }
//! }
//! ```
//!
//! Each request starts a worker task that loops in `tokio::select!` over two channels:
//! the request's jobs, and the server's config (to pick up a reload while it works). The
//! handler sends one job, reads the answer, and returns.
//!
//! # How this one leaks: LEAK(L2)
//! When the handler returns, its job sender is dropped and `jobs.recv()` yields `None`.
//! But in `select!`, a branch whose pattern does not match (`Some(job)` vs `None`) is not
//! an exit: it is just *disabled* for that round, and `select!` keeps waiting on the other
//! branches. The other branch waits for a config change, and the config's sender lives in
//! the server's shared state for as long as the server runs. So the loop spins once more
//! and parks for good: blocked in a for-select, one task per request. (Its `else => break`
//! only runs once *every* branch is disabled, i.e. after the server is gone.)

use axum::extract::State;
use leak_probe::TraceExt as _;
use scenarios::Reject;
use scenarios::nums::{self, Nums};
use tokio::sync::{mpsc, oneshot, watch};

use crate::AppState;

/// One unit of work for a worker, with the channel for its answer.
struct Job {
    nums: Nums,
    reply: oneshot::Sender<i128>,
}

// ANCHOR: select_worker
/// The per-request worker: answers jobs, and notices config reloads.
async fn worker(
    mut jobs: mpsc::Receiver<Job>,
    mut config: watch::Receiver<u64>,
    // LEAK(L2): nothing that could tell this worker its request is over.
) {
    config.borrow_and_update();
    loop {
        tokio::select! {
            // LEAK(L2): no branch of this loop ever breaks out of it while the server runs.
            // Disabled (not ended) once the handler's sender is gone.
            Some(job) = jobs.recv() => {
                let _ = job.reply.send(nums::partial_sum(&job.nums.0));
            }
            // Pending for as long as the server's config sender lives: forever.
            Ok(()) = config.changed().traced() => {
                // A real worker would re-read its settings here.
                config.borrow_and_update();
            }
            // LEAK(L2): runs only when *both* branches are disabled: when the server
            // itself is gone. It looks like an exit, and it never comes while it runs.
            else => break,
        }
    }
}
// ANCHOR_END: select_worker

// ANCHOR: select_handler
/// `GET /select?nums=...`: answers the sum, computed by a per-request worker.
pub async fn handler(
    State(state): State<AppState>,
    // LEAK(L2): the request's end is not handed to the worker.
    nums: Nums,
) -> Result<String, Reject> {
    let (jobs, rx) = mpsc::channel(1);
    // LEAK(L2): the worker's loop has no exit; its handle is dropped right here.
    tokio::spawn(worker(rx, state.shared.config.subscribe()));

    let (reply, answer) = oneshot::channel();
    // The worker is alive while this request runs, so neither step can fail.
    let _ = jobs.send(Job { nums, reply }).await;
    let sum = answer.await.unwrap_or_default();
    Ok(nums::answer(sum)?.to_string())
}
// ANCHOR_END: select_handler
