//! # Exercise 2: a send nobody receives — solution
//!
//! The channel had room for one reply, and its receiver was kept (for the stats page)
//! but never read: the third mirror's `send` waited for room for ever.
//!
//! Fix: give every mirror room for its reply (capacity = number of mirrors), so no send
//! ever waits. Dropping the receiver instead would fix the leak too (sends to a closed
//! channel fail at once), but would lose the late replies the stats page wants.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

// SIMULATION (don't change it: the test relies on it)
/// One mirror (a simulation: don't change it). It answers a request after its delay,
/// and counts the requests it answered.
#[derive(Debug)]
struct Mirror {
    delay: Duration,
    answered: AtomicU64,
}

impl Mirror {
    async fn request(&self) {
        tokio::time::sleep(self.delay).await;
        self.answered.fetch_add(1, Ordering::Relaxed);
    }
}
// END SIMULATION

/// A set of mirrors, each answering after its own delay.
pub struct Mirrors {
    mirrors: Vec<Arc<Mirror>>,
    /// Receivers of the replies that came after the first, for a stats page.
    late: Mutex<Vec<mpsc::Receiver<usize>>>,
}

impl Mirrors {
    /// Mirrors answering after these many milliseconds.
    pub fn new(delays_ms: &[u64]) -> Mirrors {
        Mirrors {
            mirrors: delays_ms
                .iter()
                .map(|&ms| {
                    Arc::new(Mirror {
                        delay: Duration::from_millis(ms),
                        answered: AtomicU64::new(0),
                    })
                })
                .collect(),
            late: Mutex::new(Vec::new()),
        }
    }

    /// Asks every mirror; answers the index of the first one to reply.
    pub async fn fetch(&self) -> usize {
        // Room for every reply: a mirror's send never waits, so every mirror task ends.
        let (replies, mut first) = mpsc::channel(self.mirrors.len().max(1));
        for (index, mirror) in self.mirrors.iter().cloned().enumerate() {
            let replies = replies.clone();
            tokio::spawn(async move {
                mirror.request().await;
                let _ = replies.send(index).await;
            });
        }
        drop(replies);
        let winner = first.recv().await.expect("there is at least one mirror");
        self.late.lock().unwrap().push(first);
        winner
    }

    /// The stats page: every reply that came after a fetch's winner, since the last
    /// call (sorted). Receivers whose mirrors have all replied are let go.
    pub fn late_replies(&self) -> Vec<usize> {
        let mut late = self.late.lock().unwrap();
        let mut replies = Vec::new();
        for receiver in late.iter_mut() {
            while let Ok(mirror) = receiver.try_recv() {
                replies.push(mirror);
            }
        }
        // Every sender gone and nothing left to read: that fetch is done with.
        late.retain(|receiver| !(receiver.is_closed() && receiver.is_empty()));
        replies.sort_unstable();
        replies
    }

    /// Requests each mirror answered so far.
    pub fn requests_answered(&self) -> Vec<u64> {
        self.mirrors
            .iter()
            .map(|m| m.answered.load(Ordering::Relaxed))
            .collect()
    }

    /// Fetches whose late replies the stats page still waits for.
    pub fn fetches_in_stats(&self) -> usize {
        self.late.lock().unwrap().len()
    }
}
