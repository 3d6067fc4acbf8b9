//! The leak test of exercise 8 (the exercise and its solution run this same file).

use std::time::Duration;

use exercise::{Down, Host};
use leak_probe::LeakCheck;

/// Finding a host down stops the probes still running, silent hosts' included.
#[test]
fn an_early_answer_stops_the_other_probes() {
    LeakCheck::new()
        .settle(Duration::from_millis(500))
        .run(|| async {
            assert_eq!(exercise::all_up(&[Host::Up(5), Host::Up(1)]).await, Ok(2));
            let hosts = [Host::Up(1), Host::Down, Host::Silent, Host::Silent];
            assert_eq!(exercise::all_up(&hosts).await, Err(Down(1)));
        });
}
