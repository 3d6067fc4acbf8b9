//! # Exercise 4: a receive loop whose sender lives on
//!
//! **Goal:** fix the tokio version of the blog's "looping on a channel" (`for range ch`).
//!
//! `Pipeline::sum` adds up numbers in a consumer task: `while let Some(x) = rx.recv()`.
//! For debugging, the pipeline keeps a handle on the most recent feed so `inject` can
//! push an extra number into a running sum.
//!
//! Run `cargo run -p exercises -- check 4`. The leaked consumer is parked in `recv()`:
//! `recv()` returns `None` only when *every* sender is gone. Which one is still there?
//! Keep `inject` working, but stop it from keeping consumers alive (the TODO).

use std::sync::Mutex;

use tokio::sync::{mpsc, watch};

/// Sums numbers in a consumer task.
#[derive(Default)]
pub struct Pipeline {
    /// The feed of the most recent sum, for `inject`.
    debug_tap: Mutex<Option<mpsc::Sender<u64>>>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// The sum of `nums`, computed by a consumer task.
    pub async fn sum(&self, nums: &[u64]) -> u64 {
        let (feed, mut rx) = mpsc::channel(16);
        let (progress, mut seen) = watch::channel((0usize, 0u64));
        tokio::spawn(async move {
            let (mut count, mut total) = (0, 0);
            while let Some(x) = rx.recv().await {
                count += 1;
                total += x;
                progress.send_replace((count, total));
            }
        });
        // TODO: this clone keeps the consumer's `recv()` from ever seeing the end.
        *self.debug_tap.lock().unwrap() = Some(feed.clone());

        for &x in nums {
            feed.send(x).await.expect("the consumer is running");
        }
        let done = seen.wait_for(|(count, _)| *count >= nums.len()).await;
        done.map(|p| p.1).unwrap_or(0)
    }

    /// Pushes `x` into the most recent sum, if it still runs. True if it was accepted.
    pub async fn inject(&self, x: u64) -> bool {
        let tap = self.debug_tap.lock().unwrap().clone();
        match tap {
            Some(feed) => feed.send(x).await.is_ok(),
            None => false,
        }
    }
}
