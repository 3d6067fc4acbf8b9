//! The leak test of exercise 4 (the exercise and its solution run this same file).

use std::cell::Cell;
use std::time::Duration;

use leak_probe::LeakCheck;

/// Consumers end when their sum is done (or its caller gives up), though the pipeline
/// lives on; `inject` reaches a sum while it runs, and nothing after.
#[test]
fn consumers_end_when_their_sum_is_done() {
    // One thread: the consumer runs only when the sum waits, so `inject` below is sure to
    // find the sum running.
    let (after_done, after_giving_up, _pipeline) = LeakCheck::new()
        .check_threads()
        .current_thread()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let pipeline = exercise::Pipeline::new();
            assert_eq!(pipeline.sum(&[1, 2, 3]).await, 6);
            assert_eq!(pipeline.sum(&[10, 20]).await, 30);

            // `inject` while a long sum runs. (A zero, so the total does not depend on
            // when it lands.)
            let nums: Vec<u64> = (1..=1000).chain([0]).collect();
            let (done, injected) = (Cell::new(false), Cell::new(false));
            let (total, ()) = tokio::join!(
                async {
                    let total = pipeline.sum(&nums).await;
                    done.set(true);
                    total
                },
                async {
                    while !done.get() {
                        if pipeline.inject(0).await {
                            injected.set(true);
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                },
            );
            assert_eq!(total, 500_500);
            assert!(injected.get(), "inject reaches a sum while it runs");
            let after_done = pipeline.inject(7).await;

            // A caller who gives up on a long sum: its consumer must end too.
            let gave_up =
                tokio::time::timeout(Duration::from_millis(5), pipeline.sum(&vec![1; 1_000_000]))
                    .await;
            assert!(gave_up.is_err());
            let after_giving_up = pipeline.inject(7).await;
            // `pipeline` is alive while the leak check looks.
            (after_done, after_giving_up, pipeline)
        });
    assert!(
        !after_done,
        "once a sum is done, there is nothing to inject into"
    );
    assert!(
        !after_giving_up,
        "a sum whose caller gave up takes nothing more"
    );
}
