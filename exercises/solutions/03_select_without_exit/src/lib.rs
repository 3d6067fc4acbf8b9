//! # Exercise 3: a `select!` loop with no way out — solution
//!
//! In `select!`, a branch whose pattern does not match (`Some(..)` against `None`) is
//! *disabled* for that round, not an exit: the loop went on waiting on `scale.changed()`,
//! whose sender lives in the hub. The fix matches `None` and breaks: the worker ends when
//! the call drops its sender. (For a worker that must also stop mid-job, add a
//! `CancellationToken` branch; see fixed-server's `select.rs`.)

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

/// Answers jobs with the current scale applied, until the caller hangs up.
async fn worker(
    mut jobs: mpsc::Receiver<(u64, oneshot::Sender<u64>)>,
    mut scale: watch::Receiver<u64>,
) {
    let mut current = *scale.borrow_and_update();
    loop {
        tokio::select! {
            job = jobs.recv() => match job {
                Some((n, reply)) => {
                    let _ = reply.send(n * current);
                }
                // The caller dropped its sender: no more jobs, ever.
                None => break,
            },
            Ok(()) = scale.changed() => {
                current = *scale.borrow_and_update();
            }
        }
    }
}
