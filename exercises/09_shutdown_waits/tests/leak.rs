//! The leak test of exercise 9 (the exercise and its solution run this same file).

use std::time::{Duration, Instant};

use exercise::{Report, Worker};
use leak_probe::LeakCheck;

/// Short jobs finish, long ones are cancelled at the deadline, nothing is left running,
/// and shutdown keeps to its deadline (and does not wait for it when every job is done).
#[test]
fn shutdown_drains_then_cancels_and_leaves_nothing() {
    let (reports, took) = LeakCheck::new()
        .check_threads()
        // Short: cancelled jobs stop at once, they don't run on for a while.
        .settle(Duration::from_millis(200))
        .run(|| async {
            let mut reports = Vec::new();
            let mut took = Vec::new();

            // Three short jobs and two long ones, shut down at once.
            let worker = Worker::new();
            for _ in 0..3 {
                worker.submit(20);
            }
            for _ in 0..2 {
                worker.submit(60_000);
            }
            let started = Instant::now();
            reports.push(worker.shutdown(Duration::from_millis(200)).await);
            took.push(started.elapsed());

            // The short jobs end *before* the shutdown begins: they still count.
            let worker = Worker::new();
            for _ in 0..3 {
                worker.submit(10);
            }
            for _ in 0..2 {
                worker.submit(60_000);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let started = Instant::now();
            reports.push(worker.shutdown(Duration::from_millis(200)).await);
            took.push(started.elapsed());

            // Only jobs that finish before the deadline: shutdown returns when they are
            // done (and no sooner), not at the deadline.
            let worker = Worker::new();
            for _ in 0..3 {
                worker.submit(20);
            }
            worker.submit(600);
            let started = Instant::now();
            reports.push(worker.shutdown(Duration::from_secs(10)).await);
            took.push(started.elapsed());
            (reports, took)
        });
    let both = Report {
        finished: 3,
        cancelled: 2,
    };
    assert_eq!(reports[0], both, "shut down at once");
    assert_eq!(reports[1], both, "short jobs done before the shutdown");
    assert_eq!(
        reports[2],
        Report {
            finished: 4,
            cancelled: 0
        }
    );
    assert!(
        took[0] < Duration::from_secs(1),
        "shutdown took {:?}",
        took[0]
    );
    assert!(
        took[1] < Duration::from_secs(1),
        "shutdown took {:?}",
        took[1]
    );
    assert!(
        took[2] >= Duration::from_millis(600),
        "shutdown waits for a job that is still running within the deadline: {:?}",
        took[2]
    );
    assert!(
        took[2] < Duration::from_secs(3),
        "with every job done, shutdown does not wait for its deadline: {:?}",
        took[2]
    );
}
