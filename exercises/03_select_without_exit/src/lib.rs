//! # Exercise 3: a `select!` loop with no way out
//!
//! **Goal:** fix the tokio version of the blog's "blocked on a for-select".
//!
//! `Hub::scaled_sum` starts a worker task per call. The worker loops in `tokio::select!`
//! over two channels: the call's numbers, and the hub's `scale` setting (so a change of
//! setting applies at once). The call sends its numbers, one reply channel each, and
//! adds up the replies.
//!
//! Run `cargo run -p exercises -- check 3`. Where are the leaked workers parked? When the
//! call drops its sender, `jobs.recv()` returns `None`... and then what does `select!`
//! do with a branch whose pattern does not match? Fix the loop (the TODO).

use tokio::sync::{mpsc, oneshot, watch};

/// Numbers to scale, with the server-wide scale setting.
pub struct Hub {
    scale: watch::Sender<u64>,
}

impl Hub {
    /// A hub with scale `scale`.
    pub fn new(scale: u64) -> Hub {
        Hub {
            scale: watch::Sender::new(scale),
        }
    }

    /// Changes the scale; running workers pick it up.
    pub fn set_scale(&self, scale: u64) {
        self.scale.send_replace(scale);
    }

    /// The sum of `nums`, each multiplied by the scale.
    pub async fn scaled_sum(&self, nums: &[u64]) -> u64 {
        let (jobs, rx) = mpsc::channel(8);
        tokio::spawn(worker(rx, self.scale.subscribe()));
        let mut total = 0;
        for &n in nums {
            let (reply, answer) = oneshot::channel();
            jobs.send((n, reply)).await.expect("the worker is running");
            total += answer.await.expect("the worker answers");
        }
        total
    }
}

/// Answers jobs with the current scale applied.
async fn worker(
    mut jobs: mpsc::Receiver<(u64, oneshot::Sender<u64>)>,
    mut scale: watch::Receiver<u64>,
) {
    let mut current = *scale.borrow_and_update();
    loop {
        // TODO: nothing ever ends this loop.
        tokio::select! {
            Some((n, reply)) = jobs.recv() => {
                let _ = reply.send(n * current);
            }
            Ok(()) = scale.changed() => {
                current = *scale.borrow_and_update();
            }
            // Runs only once *both* branches are disabled.
            else => break,
        }
    }
}
