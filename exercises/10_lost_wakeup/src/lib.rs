//! # Exercise 10: a lost wake-up
//!
//! **Goal:** signal "ready" so that nobody can miss it.
//!
//! A `Service` must not serve before it is ready (say, before its cache is loaded).
//! `handle` starts a task that waits for "ready", then does the work. `mark_ready` wakes
//! everyone waiting.
//!
//! Run `cargo run -p exercises -- check 10`. Tasks that start waiting *after*
//! `mark_ready` wait for ever: `Notify::notify_waiters` wakes the tasks waiting at that
//! moment and remembers nothing. Make "ready" a state rather than an event (the TODOs).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

/// How long `handle` waits for an answer.
pub const TIMEOUT: Duration = Duration::from_millis(100);

/// A service that serves once it is ready.
#[derive(Debug, Default)]
pub struct Service {
    // TODO: an event, not a state.
    ready: Notify,
}

impl Service {
    /// A service, not ready yet.
    pub fn new() -> Arc<Service> {
        Arc::new(Service::default())
    }

    /// From now on, the service serves.
    pub fn mark_ready(&self) {
        // TODO: wakes only the tasks waiting right now.
        self.ready.notify_waiters();
    }

    /// Doubles `x` once the service is ready; `None` if no answer within [`TIMEOUT`].
    pub async fn handle(self: &Arc<Self>, x: u64) -> Option<u64> {
        let (tx, rx) = oneshot::channel();
        let service = Arc::clone(self);
        // TODO: and does this wait need a task at all? A request that gets no answer (the
        // service never became ready) must leave nothing waiting.
        tokio::spawn(async move {
            service.ready.notified().await;
            let _ = tx.send(x * 2);
        });
        tokio::time::timeout(TIMEOUT, rx).await.ok()?.ok()
    }
}
