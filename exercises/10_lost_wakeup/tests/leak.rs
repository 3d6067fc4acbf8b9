//! The leak test of exercise 10 (the exercise and its solution run this same file).

use std::time::Duration;

use leak_probe::LeakCheck;

/// Requests that come after "ready" are served, and leave nothing waiting.
#[test]
fn nobody_misses_ready() {
    let answers = LeakCheck::new()
        .settle(Duration::from_millis(300))
        .run(|| async {
            let service = exercise::Service::new();
            service.mark_ready();
            let mut answers = Vec::new();
            for x in 1..=3 {
                answers.push(service.handle(x).await);
            }
            answers
        });
    assert_eq!(answers, vec![Some(2), Some(4), Some(6)]);
}
