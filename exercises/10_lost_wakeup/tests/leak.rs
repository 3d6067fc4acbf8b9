//! The leak test of exercise 10 (the exercise and its solution run this same file).

use std::time::Duration;

use exercise::Service;
use leak_probe::LeakCheck;

/// Nothing is served before "ready"; a request waiting when "ready" comes is served, and
/// so is every request after it; and requests that gave up leave nothing waiting, also on
/// a service that never becomes ready.
#[test]
fn nobody_misses_ready() {
    let answers = LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(300))
        .run(|| async {
            let service = Service::new();
            let mut answers = Vec::new();
            // Not ready: no answer within the timeout.
            answers.push(service.handle(1).await);
            // A request that waits while the service becomes ready.
            let (waiting, ()) = tokio::join!(service.handle(2), async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                service.mark_ready();
            });
            answers.push(waiting);
            // Requests that come after "ready".
            for x in 3..=5 {
                answers.push(service.handle(x).await);
            }
            // A service that never becomes ready.
            let never = Service::new();
            answers.push(never.handle(6).await);
            (answers, service, never) // alive while the leak check looks
        })
        .0;
    assert_eq!(
        answers,
        vec![None, Some(4), Some(6), Some(8), Some(10), None],
        "not before ready; the waiting one when ready comes; every one after"
    );
}
