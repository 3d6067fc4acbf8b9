//! The leak test of exercise 8 (the exercise and its solution run this same file).

use std::time::Duration;

use exercise::{Down, Host};
use leak_probe::LeakCheck;

/// Finding a host down stops the probes still running, silent hosts' included.
#[test]
fn an_early_answer_stops_the_other_probes() {
    LeakCheck::new()
        .check_threads()
        .settle(Duration::from_millis(500))
        .run(|| async {
            // Bounded: an `all_up` that waits for silent hosts would wait for ever.
            let within = |hosts: &'static [Host]| {
                tokio::time::timeout(Duration::from_secs(2), exercise::all_up(hosts))
            };
            assert_eq!(within(&[Host::Up(5), Host::Up(1)]).await, Ok(Ok(2)));
            assert_eq!(
                within(&[Host::Up(300), Host::Up(1), Host::Up(200)]).await,
                Ok(Ok(3)),
                "slow hosts that are up are waited for"
            );
            // A silent host is not up: with one first in line there is no answer (the
            // caller's timeout gives up, and must leave nothing behind).
            assert!(
                tokio::time::timeout(
                    Duration::from_secs(1),
                    exercise::all_up(&[Host::Silent, Host::Up(1)])
                )
                .await
                .is_err(),
                "no answer while the first host is silent"
            );
            let hosts = &[Host::Up(1), Host::Down, Host::Silent, Host::Silent];
            assert_eq!(
                within(hosts).await,
                Ok(Err(Down(1))),
                "the first host found down is the answer, at once"
            );
        });
}
