//! The leak test of exercise 6 (the exercise and its solution run this same file).

use std::time::{Duration, Instant};

use exercise::{TIMEOUT, TimedOut, Upstream};
use leak_probe::LeakCheck;

/// An upstream that answers within the timeout is heard, even a slow one; a silent one
/// costs the full timeout, and leaves nothing behind.
#[test]
fn a_silent_upstream_leaves_nothing_behind() {
    LeakCheck::new()
        .check_threads()
        // Short: once `price` has answered, nothing may still be waiting on the upstream.
        .settle(Duration::from_millis(150))
        .run(|| async {
            assert_eq!(exercise::price(Upstream::answering(), "tea").await, Ok(300));
            assert_eq!(
                exercise::price(Upstream::answering_after(40), "coffee").await,
                Ok(600),
                "a slow upstream that answers within {TIMEOUT:?} is waited for"
            );
            let silent = Upstream::silent();
            for _ in 0..3 {
                let started = Instant::now();
                assert_eq!(exercise::price(silent.clone(), "tea").await, Err(TimedOut));
                let took = started.elapsed();
                assert!(
                    took >= TIMEOUT - Duration::from_millis(5) && took < TIMEOUT * 5,
                    "a silent upstream is given up on after {TIMEOUT:?}, not {took:?}"
                );
            }
        });
}
