//! # Exercise 3: a `select!` loop with no way out — solution
//!
//! In `select!`, a branch whose pattern does not match (`Some(..)` against `None`) is
//! *disabled* for that round, not an exit: the loop went on waiting on `scale.changed()`,
//! whose sender lives in the hub. The fix matches `None` and breaks: the worker ends when
//! its session is dropped. (For a worker that must also stop mid-job, add a
//! `CancellationToken` branch; see fixed-server's `select.rs`.)
//!
//! What else would pass, and why it is not the lesson: reading `*scale.borrow()` for each
//! job, with no `select!` at all, is correct too (and simpler); a worker that exits after
//! a timeout, or after one job, breaks a session that lives longer.

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

/// Answers jobs with the current scale applied, until the session hangs up.
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
                // The session dropped its sender: no more jobs, ever.
                None => break,
            },
            Ok(()) = scale.changed() => {
                current = *scale.borrow_and_update();
            }
        }
    }
}
