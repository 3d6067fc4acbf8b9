//! The store behind `/save`: what was accepted, and what was written.
//!
//! A save is accepted by its request and written a moment later by a background task
//! (think: batched into one disk write). The two counters make lost work visible: after a
//! clean shutdown, `written == accepted`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a write waits to be batched with others before it is done.
pub const WRITE_DELAY: Duration = Duration::from_secs(1);

/// Saves accepted and written since the server started.
#[derive(Debug, Default)]
pub struct Saves {
    accepted: AtomicU64,
    written: AtomicU64,
}

impl Saves {
    /// Counts one accepted save.
    pub fn accept(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one written save.
    pub fn written(&self) {
        self.written.fetch_add(1, Ordering::Relaxed);
    }

    /// `(accepted, written)` so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.accepted.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }
}
