//! # Exercise 4: a receive loop whose sender lives on — solution
//!
//! The debug tap held a full `Sender`, so the latest consumer's `recv()` could never see
//! "all senders gone". A `WeakSender` (from `Sender::downgrade`) does not keep the
//! channel open: `inject` upgrades it while the sum runs, and gets `None` afterwards.

use std::sync::Mutex;

use tokio::sync::{mpsc, watch};

/// Sums numbers in a consumer task.
#[derive(Default)]
pub struct Pipeline {
    /// The feed of the most recent sum, for `inject`. Weak: it does not keep it open.
    debug_tap: Mutex<Option<mpsc::WeakSender<u64>>>,
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
        *self.debug_tap.lock().unwrap() = Some(feed.downgrade());

        for &x in nums {
            feed.send(x).await.expect("the consumer is running");
        }
        let done = seen.wait_for(|(count, _)| *count >= nums.len()).await;
        done.map(|p| p.1).unwrap_or(0)
    }

    /// Pushes `x` into the most recent sum, if it still runs. True if it was accepted.
    pub async fn inject(&self, x: u64) -> bool {
        let tap = self
            .debug_tap
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|weak| weak.upgrade());
        match tap {
            Some(feed) => feed.send(x).await.is_ok(),
            None => false,
        }
    }
}
