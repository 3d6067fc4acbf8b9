//! The leak test of exercise 12 (the exercise and its solution run this same file).

use std::time::Duration;

use exercise::{Order, Shop};
use leak_probe::LeakCheck;

fn order(id: u64) -> Order {
    Order {
        id,
        cents: 1000 + id,
        email: format!("customer{id}@example.com"),
    }
}

/// Checkouts leave no task behind. What the shop promises holds meanwhile: every order
/// is charged, mailed and indexed; every delivery the mail server confirms is logged,
/// however late it comes; and the mail service's list of confirmations still to come
/// stays within its limit.
#[test]
fn checkouts_leave_no_task_behind() {
    let shop = LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let shop = Shop::new();
            for id in 1..=20 {
                let receipt = shop.checkout(order(id)).await;
                assert_eq!(receipt, format!("order {id} charged {} cents", 1000 + id));
                if id % 4 == 1 || id % 4 == 2 {
                    shop.mail_delivered(id);
                }
            }
            // Some confirmations come later.
            tokio::time::sleep(Duration::from_millis(700)).await;
            for id in (3..=20).step_by(4) {
                shop.mail_delivered(id);
            }
            shop
        });
    assert_eq!(shop.charged(), 20);
    assert_eq!(shop.mailed(), 20);
    assert_eq!(shop.indexed(), 20);
    let log = shop.delivery_log();
    assert_eq!(log.len(), 15, "every confirmed delivery is logged: {log:?}");
    for id in [1, 2, 3, 19] {
        let line = format!("mail to customer{id}@example.com delivered");
        assert!(log.contains(&line), "{line}: {log:?}");
    }
    assert_eq!(shop.awaiting_confirmation(), 5);

    // A busy day with no confirmation at all: the list stays within its limit.
    let busy = LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let shop = Shop::with_pending_mail_limit(8);
            for id in 1..=30 {
                shop.checkout(order(id)).await;
            }
            shop
        });
    assert_eq!(busy.mailed(), 30);
    assert_eq!(busy.awaiting_confirmation(), 8);
}
