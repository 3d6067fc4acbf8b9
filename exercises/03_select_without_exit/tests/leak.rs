//! The leak test of exercise 3 (the exercise and its solution run this same file).

use std::time::Duration;

use leak_probe::LeakCheck;

/// Workers end with their session, while the hub (and its scale setting) lives on; a
/// session follows changes of the scale and lives as long as its owner keeps it.
#[test]
fn workers_end_with_their_session() {
    LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let hub = exercise::Hub::new(2);
            assert_eq!(hub.scaled_sum(&[1, 2, 3]).await, 12);

            let mut session = hub.session();
            assert_eq!(session.scaled(1).await, 2);
            // A change of scale reaches the open session (its worker is idle: give it a
            // moment to see the change).
            hub.set_scale(10);
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(session.scaled(2).await, 20, "the new scale applies at once");
            // A session kept open a while still works.
            tokio::time::sleep(Duration::from_millis(700)).await;
            assert_eq!(session.scaled(3).await, 30, "the session outlived a pause");
            assert_eq!(session.total(), 52);
            drop(session);

            for _ in 0..3 {
                assert_eq!(hub.scaled_sum(&[5]).await, 50);
            }
            hub // alive while the leak check looks
        });
}
