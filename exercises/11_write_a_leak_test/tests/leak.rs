//! Exercise 11: your leak test. The checker runs it against the leaky bus (it must fail,
//! with the leak check's message) and the fixed one (it must pass).

/// A subscription gets the messages for its prefix.
///
/// TODO: this test checks what a subscription *does*, not what it *leaves behind*. Make
/// it fail if a dropped subscription leaves a task running, while the bus lives on.
///
/// Use `leak_probe::LeakCheck` (the checker reads its report: the test must fail through
/// it, naming the leaky spawn). `LeakCheck::run` builds its own runtime, so the test
/// becomes a plain `#[test]`: inside `#[tokio::test]` you would already be on a runtime,
/// and a runtime cannot be started from within another. Whatever the body returns stays
/// alive until the check is over.
#[tokio::test]
async fn subscriptions_get_their_messages() {
    let bus = exercise::Bus::new();
    let mut news = bus.subscribe("news:");
    bus.publish("weather: sunny");
    bus.publish("news: tokio 1.54 is out");
    assert_eq!(
        news.next().await.as_deref(),
        Some("news: tokio 1.54 is out")
    );
}
