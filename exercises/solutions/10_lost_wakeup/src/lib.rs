//! # Exercise 10: a lost wake-up — solution
//!
//! "Ready" is a state, so it is kept in something that has state: a `CancellationToken`
//! used as a latch. Once cancelled it stays cancelled, and `cancelled()` resolves at
//! once for anyone who asks later. (A `watch::Sender<bool>` with `wait_for` works too.)
//!
//! And no task: the wait for "ready" is bounded by the same timeout as the answer, in
//! the handler itself. A spawned task that waits for "ready" would wait for ever on a
//! service that never becomes ready: exercise 6's leak again.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long `handle` waits for an answer.
pub const TIMEOUT: Duration = Duration::from_millis(100);

/// A service that serves once it is ready.
#[derive(Debug, Default)]
pub struct Service {
    /// Cancelled once ready; stays so.
    ready: CancellationToken,
}

impl Service {
    /// A service, not ready yet.
    pub fn new() -> Arc<Service> {
        Arc::new(Service::default())
    }

    /// From now on, the service serves.
    pub fn mark_ready(&self) {
        self.ready.cancel();
    }

    /// Doubles `x` once the service is ready; `None` if no answer within [`TIMEOUT`].
    pub async fn handle(self: &Arc<Self>, x: u64) -> Option<u64> {
        tokio::time::timeout(TIMEOUT, self.ready.cancelled())
            .await
            .ok()?;
        Some(x * 2)
    }
}
