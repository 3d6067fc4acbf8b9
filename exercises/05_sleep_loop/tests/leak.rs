//! The leak test of exercise 5 (the exercise and its solution run this same file).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use leak_probe::LeakCheck;

/// The heartbeat beats all the time the work runs (short or long) and stops with it, also
/// when the caller gives up half-way.
#[test]
fn the_heartbeat_stops_with_the_work() {
    let [done, gave_up] = LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let beats = Arc::new(AtomicU64::new(0));
            let count = || beats.load(Ordering::Relaxed);

            assert_eq!(exercise::with_heartbeat(50, Arc::clone(&beats)).await, 50);
            assert!(count() >= 2, "it beats while the work runs: {}", count());

            // Long work: beats all along (every 10 ms: about 40 in 400 ms).
            let before = count();
            assert_eq!(exercise::with_heartbeat(400, Arc::clone(&beats)).await, 400);
            let during = count() - before;
            assert!(
                during >= 20,
                "it beats for as long as the work runs: {during} beats in 400 ms"
            );
            // Done: no more beats (checked below, after the leak check).
            let after = count();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let done = count() - after;

            // A caller who gives up after 20 ms of a 1 s job.
            let gave_up = tokio::time::timeout(
                Duration::from_millis(20),
                exercise::with_heartbeat(1000, Arc::clone(&beats)),
            )
            .await;
            assert!(gave_up.is_err());
            let after = count();
            tokio::time::sleep(Duration::from_millis(50)).await;
            [done, count() - after]
        });
    // (A beat may be landing on another thread as the work ends; a heartbeat that goes on
    // adds five in 50 ms.)
    assert!(
        done <= 1,
        "the heartbeat stops when the work is done: {done} beats after"
    );
    assert!(
        gave_up <= 1,
        "the heartbeat stops when its caller gives up: {gave_up} beats after"
    );
}
