//! # Exercise 5: the sleep loop — solution
//!
//! The heartbeat's handle is now an `AbortOnDropHandle`: when `with_heartbeat` returns,
//! or its future is dropped by a caller who stopped waiting, the handle is dropped and
//! the task is aborted at its next `.await`. The loop itself needs no exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::task::AbortOnDropHandle;

/// Beats every 10 ms while `work_ms` of work runs; answers `work_ms`.
pub async fn with_heartbeat(work_ms: u64, beats: Arc<AtomicU64>) -> u64 {
    // Aborted when `_heartbeat` is dropped: at the end of this function, whatever ends it.
    let _heartbeat = AbortOnDropHandle::new(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            beats.fetch_add(1, Ordering::Relaxed);
        }
    }));

    tokio::time::sleep(Duration::from_millis(work_ms)).await;
    work_ms
}
