//! Exercise 11, solved: a leak test for the bus.

use std::time::Duration;

use leak_probe::LeakCheck;

/// A subscription gets the messages for its prefix, and a dropped subscription leaves no
/// task behind while the bus lives on.
#[test]
fn a_dropped_subscription_leaves_no_task() {
    LeakCheck::new()
        .settle(Duration::from_millis(300))
        .run(|| async {
            let bus = exercise::Bus::new();
            let mut news = bus.subscribe("news:");
            bus.publish("weather: sunny");
            bus.publish("news: tokio 1.54 is out");
            assert_eq!(
                news.next().await.as_deref(),
                Some("news: tokio 1.54 is out")
            );
            // Several subscriptions come and go: none may leave its forwarder behind.
            for _ in 0..3 {
                let _brief = bus.subscribe("weather:");
            }
            drop(news);
            // The bus is returned, so it is alive while the leak check looks: its sender
            // must not be what ends the forwarders.
            bus
        });
}
