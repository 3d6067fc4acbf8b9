//! The leak test of exercise 12 (the exercise and its solution run this same file).

use std::time::Duration;

use exercise::{Order, Shop};
use leak_probe::LeakCheck;

/// Twenty checkouts leave no task behind, though five confirmation mails bounce (their
/// delivery is never confirmed); every order is charged and mailed.
#[test]
fn checkouts_leave_no_task_behind() {
    let shop = LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            let shop = Shop::new();
            for id in 1..=20 {
                let order = Order {
                    id,
                    cents: 1000 + id,
                    email: format!("customer{id}@example.com"),
                };
                let receipt = shop.checkout(order).await;
                assert_eq!(receipt, format!("order {id} charged {} cents", 1000 + id));
                if id % 4 != 0 {
                    shop.mail_delivered(id);
                }
            }
            shop
        });
    assert_eq!(shop.charged(), 20);
    assert_eq!(shop.mailed(), 20);
}
