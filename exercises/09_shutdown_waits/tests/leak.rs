//! The leak test of exercise 9 (the exercise and its solution run this same file).

use std::time::{Duration, Instant};

use leak_probe::LeakCheck;

/// Short jobs finish, long ones are cancelled at the deadline, nothing is left running,
/// and shutdown keeps to its deadline.
#[test]
fn shutdown_drains_then_cancels_and_leaves_nothing() {
    let (report, took) = LeakCheck::new()
        .settle(Duration::from_millis(300))
        .run(|| async {
            let worker = exercise::Worker::new();
            for _ in 0..3 {
                worker.submit(20);
            }
            for _ in 0..2 {
                worker.submit(60_000);
            }
            let started = Instant::now();
            let report = worker.shutdown(Duration::from_millis(200)).await;
            (report, started.elapsed())
        });
    assert_eq!(
        report,
        exercise::Report {
            finished: 3,
            cancelled: 2
        }
    );
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
}
