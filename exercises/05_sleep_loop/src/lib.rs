//! # Exercise 5: the sleep loop
//!
//! **Goal:** fix leaktest's own example, the one the blog quotes:
//!
//! ```go
//! go func() {
//!     for {
//!         time.Sleep(time.Second)
//!     }
//! }()
//! ```
//!
//! `with_heartbeat` runs a piece of work while a heartbeat task beats every 10 ms (think:
//! renewing a lease, so nobody else takes the job while it runs).
//!
//! Run `cargo run -p exercises -- check 5`. The heartbeat loop has no exit, and dropping
//! a tokio `JoinHandle` does not stop a task. Make the heartbeat stop when the work is
//! done, *also* if the caller stops waiting half-way (the TODO).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Beats every 10 ms while `work_ms` of work runs; answers `work_ms`.
pub async fn with_heartbeat(work_ms: u64, beats: Arc<AtomicU64>) -> u64 {
    // TODO: the handle is dropped at once; nothing can stop this loop.
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            beats.fetch_add(1, Ordering::Relaxed);
        }
    });

    tokio::time::sleep(Duration::from_millis(work_ms)).await;
    work_ms
}
