//! # Exercise 6: a call with no timeout — solution
//!
//! The timeout bounded the caller's wait, while the call ran on in a spawned task. Now the
//! timeout wraps the call itself: when it fires, `tokio::time::timeout` drops the call's
//! future, which cancels it. No task, nothing left waiting. (With a real HTTP client, set
//! its own timeout too: `reqwest::ClientBuilder::timeout`.)

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// How long `price` waits for the upstream.
pub const TIMEOUT: Duration = Duration::from_millis(100);

// SIMULATION (don't change it: the test relies on it)
/// An upstream price service (a simulation: don't change it). A silent one accepts every
/// call and never answers; a slow one answers after a delay.
#[derive(Debug, Default)]
pub struct Upstream {
    silent: bool,
    delay: Duration,
    answer: Notify,
}

impl Upstream {
    /// An upstream that answers at once.
    pub fn answering() -> Arc<Upstream> {
        Arc::new(Upstream::default())
    }

    /// An upstream that answers after `ms` milliseconds.
    pub fn answering_after(ms: u64) -> Arc<Upstream> {
        Arc::new(Upstream {
            delay: Duration::from_millis(ms),
            ..Upstream::default()
        })
    }

    /// An upstream that never answers.
    pub fn silent() -> Arc<Upstream> {
        Arc::new(Upstream {
            silent: true,
            ..Upstream::default()
        })
    }

    /// The price of `item` (never returns from a silent upstream).
    pub async fn price(&self, item: &str) -> u64 {
        if self.silent {
            self.answer.notified().await;
        }
        tokio::time::sleep(self.delay).await;
        item.len() as u64 * 100
    }
}
// END SIMULATION

/// Gave up waiting for the upstream.
#[derive(Debug, PartialEq, Eq)]
pub struct TimedOut;

/// The price of `item`, or `TimedOut` after [`TIMEOUT`].
pub async fn price(upstream: Arc<Upstream>, item: &str) -> Result<u64, TimedOut> {
    tokio::time::timeout(TIMEOUT, upstream.price(item))
        .await
        .map_err(|_| TimedOut)
}
