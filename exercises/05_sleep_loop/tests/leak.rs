//! The leak test of exercise 5 (the exercise and its solution run this same file).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use leak_probe::LeakCheck;

/// The heartbeat beats while the work runs and stops with it, also when the caller gives
/// up half-way.
#[test]
fn the_heartbeat_stops_with_the_work() {
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let beats = Arc::new(AtomicU64::new(0));
            assert_eq!(exercise::with_heartbeat(50, Arc::clone(&beats)).await, 50);
            assert!(
                beats.load(Ordering::Relaxed) >= 2,
                "it beats while the work runs"
            );
            // A caller who gives up after 20 ms of a 1 s job.
            let gave_up = tokio::time::timeout(
                Duration::from_millis(20),
                exercise::with_heartbeat(1000, Arc::clone(&beats)),
            )
            .await;
            assert!(gave_up.is_err());
        });
}
