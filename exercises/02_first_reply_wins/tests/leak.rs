//! The leak test of exercise 2 (the exercise and its solution run this same file).

use std::time::Duration;

use leak_probe::LeakCheck;

/// Five fetches from three mirrors leave no mirror task (and no thread) behind, and
/// every late reply reaches the stats page.
#[test]
fn slower_mirrors_do_not_hang_around() {
    let mirrors = LeakCheck::new()
        // The lesson is about tasks: work moved into an OS thread (or onto another
        // runtime, which has threads of its own) fails too.
        .check_threads()
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
    // The stats page gets both late replies of every fetch, and then lets go.
    assert_eq!(
        mirrors.late_replies(),
        vec![1, 1, 1, 1, 1, 2, 2, 2, 2, 2],
        "every reply after the winner reaches the stats page"
    );
    assert_eq!(mirrors.late_replies(), Vec::<usize>::new());
    assert_eq!(
        mirrors.fetches_in_stats(),
        0,
        "a fetch whose replies were all read is not kept for ever"
    );
    assert_eq!(
        mirrors.requests_answered(),
        vec![5, 5, 5],
        "every fetch asks every mirror, and every mirror answers"
    );
}
