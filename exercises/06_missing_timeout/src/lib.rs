//! # Exercise 6: a call with no timeout
//!
//! **Goal:** bound an upstream call the right way.
//!
//! `price` asks an upstream service and gives up after 100 ms. Some upstreams never
//! answer: they accepted the connection and went silent. (reqwest, like Go's
//! `http.Client`, has no timeout by default.)
//!
//! Run `cargo run -p exercises -- check 6`. The caller does give up after 100 ms: so what
//! is still waiting on the silent upstream? Put the timeout where it belongs (the TODO).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

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
    let (tx, rx) = oneshot::channel();
    let item = item.to_owned();
    // TODO: the timeout below bounds the *wait*, not the call.
    tokio::spawn(async move {
        let price = upstream.price(&item).await;
        let _ = tx.send(price);
    });
    match tokio::time::timeout(TIMEOUT, rx).await {
        Ok(Ok(price)) => Ok(price),
        _ => Err(TimedOut),
    }
}
