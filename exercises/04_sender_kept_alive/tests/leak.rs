//! The leak test of exercise 4 (the exercise and its solution run this same file).

use std::time::Duration;

use leak_probe::LeakCheck;

/// Consumers end when their sum is done, though the pipeline lives on.
#[test]
fn consumers_end_when_their_sum_is_done() {
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let pipeline = exercise::Pipeline::new();
            assert_eq!(pipeline.sum(&[1, 2, 3]).await, 6);
            assert_eq!(pipeline.sum(&[10, 20]).await, 30);
            pipeline // alive while the leak check looks
        });
}
