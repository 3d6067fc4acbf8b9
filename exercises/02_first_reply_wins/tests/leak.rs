//! The leak test of exercise 2 (the exercise and its solution run this same file).

use std::time::Duration;

use leak_probe::LeakCheck;

/// Five fetches from three mirrors leave no mirror task behind.
#[test]
fn slower_mirrors_do_not_hang_around() {
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let mirrors = exercise::Mirrors::new(&[5, 20, 40]);
            for _ in 0..5 {
                assert_eq!(mirrors.fetch().await, 0, "the fastest mirror wins");
            }
            // Give the slower mirrors time to reply, and keep `mirrors` (with its stored
            // receivers) alive while the leak check looks.
            tokio::time::sleep(Duration::from_millis(60)).await;
            mirrors
        });
}
