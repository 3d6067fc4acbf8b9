//! # Exercise 2: a send nobody receives
//!
//! **Goal:** find and fix the tokio version of the blog's first leak: tasks blocked
//! forever on a send.
//!
//! `Mirrors::fetch` asks every mirror for a file at once and answers with the first reply
//! ("first reply wins"). Each mirror task sends its reply on a channel; `fetch` reads
//! the first one. The other replies are kept for a stats page, so the receiver is stored.
//!
//! Run `cargo run -p exercises -- check 2` and read the leak report: which line spawned
//! the leaked tasks, and what are they waiting for? Then fix `fetch` (the TODO).
//!
//! Remember from the blog: in Go, the slower goroutines block on `c <- reply` because
//! nobody receives. In tokio, a send on a *closed* channel fails at once. So who keeps
//! this channel open, and why is it full?

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;

/// A set of mirrors, each answering after its own delay.
pub struct Mirrors {
    delays: Vec<Duration>,
    /// Receivers of the replies that came after the first, for a stats page.
    late: Mutex<Vec<mpsc::Receiver<usize>>>,
}

impl Mirrors {
    /// Mirrors answering after these many milliseconds.
    pub fn new(delays_ms: &[u64]) -> Mirrors {
        Mirrors {
            delays: delays_ms
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            late: Mutex::new(Vec::new()),
        }
    }

    /// Asks every mirror; answers the index of the first one to reply.
    pub async fn fetch(&self) -> usize {
        // TODO: with room for one reply, a mirror that replies later than the second one
        // waits on its `send` for as long as the receiver lives, which is for ever.
        let (replies, mut first) = mpsc::channel(1);
        for (mirror, delay) in self.delays.iter().copied().enumerate() {
            let replies = replies.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = replies.send(mirror).await;
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

    /// Fetches whose late replies the stats page still waits for.
    pub fn fetches_in_stats(&self) -> usize {
        self.late.lock().unwrap().len()
    }
}
