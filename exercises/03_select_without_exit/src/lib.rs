//! # Exercise 3: a `select!` loop with no way out
//!
//! **Goal:** fix the tokio version of the blog's "blocked on a for-select".
//!
//! A `Hub` scales numbers by a server-wide setting. Each `Session` (think: a client
//! connection) has a worker task that answers its numbers. The worker loops in
//! `tokio::select!` over two channels: the session's jobs, and the hub's `scale` setting,
//! so that a change of setting applies at once to sessions already open. `scaled_sum`
//! is a session for one list of numbers.
//!
//! Run `cargo run -p exercises -- check 3`. Where are the leaked workers parked? When a
//! session is dropped, its `jobs.recv()` returns `None`... and then what does `select!`
//! do with a branch whose pattern does not match? Fix the loop (the TODO). A session lives
//! as long as its owner keeps it, and follows every change of the scale.

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

    /// Changes the scale; open sessions pick it up.
    pub fn set_scale(&self, scale: u64) {
        self.scale.send_replace(scale);
    }

    /// Opens a session: a worker task that answers its numbers until it is dropped.
    pub fn session(&self) -> Session {
        let (jobs, rx) = mpsc::channel(8);
        tokio::spawn(worker(rx, self.scale.subscribe()));
        Session { jobs, total: 0 }
    }

    /// The sum of `nums`, each multiplied by the scale.
    pub async fn scaled_sum(&self, nums: &[u64]) -> u64 {
        let mut session = self.session();
        for &n in nums {
            session.scaled(n).await;
        }
        session.total()
    }
}

/// One client's numbers. Dropping it ends its worker.
pub struct Session {
    jobs: mpsc::Sender<(u64, oneshot::Sender<u64>)>,
    total: u64,
}

impl Session {
    /// `n` times the scale in force now.
    pub async fn scaled(&mut self, n: u64) -> u64 {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((n, reply))
            .await
            .expect("the worker runs while its session lives");
        let scaled = answer.await.expect("the worker answers");
        self.total += scaled;
        scaled
    }

    /// The sum of everything scaled so far.
    pub fn total(&self) -> u64 {
        self.total
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
