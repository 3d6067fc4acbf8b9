//! The leak test of exercise 6 (the exercise and its solution run this same file).

use std::time::Duration;

use exercise::{TimedOut, Upstream};
use leak_probe::LeakCheck;

/// A silent upstream costs a timeout, and leaves nothing behind.
#[test]
fn a_silent_upstream_leaves_nothing_behind() {
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            assert_eq!(exercise::price(Upstream::answering(), "tea").await, Ok(300));
            let silent = Upstream::silent();
            for _ in 0..3 {
                assert_eq!(exercise::price(silent.clone(), "tea").await, Err(TimedOut));
            }
        });
}
