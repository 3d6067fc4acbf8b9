//! The leak test of exercise 3 (the exercise and its solution run this same file).

use std::time::Duration;

use leak_probe::LeakCheck;

/// Workers end with their call, while the hub (and its scale setting) lives on.
#[test]
fn workers_end_with_their_call() {
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let hub = exercise::Hub::new(2);
            assert_eq!(hub.scaled_sum(&[1, 2, 3]).await, 12);
            hub.set_scale(10);
            assert_eq!(hub.scaled_sum(&[1, 2, 3]).await, 60);
            for _ in 0..3 {
                hub.scaled_sum(&[5]).await;
            }
            hub // alive while the leak check looks
        });
}
