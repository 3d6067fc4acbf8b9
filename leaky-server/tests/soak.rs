//! The soak that passes on fixed-server fails here, and says why: it is a check that can
//! fail. A few seconds of the same mixed load leave thousands of tasks behind.

use std::time::Duration;

use load_client::soak::{self, SoakSpec};

const BIN: &str = env!("CARGO_BIN_EXE_leaky-server");

#[test]
fn the_soak_fails_on_leaky_server_and_says_why() {
    let spec = SoakSpec {
        command: vec![BIN.to_owned()],
        requests: None,
        duration: Some(Duration::from_secs(4)),
        concurrency: 32,
        slow_clients: 8,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(soak::run(&spec)).unwrap();
    println!("{}{}", report.details(), report.line());

    assert!(!report.ok());
    let line = report.line();
    assert!(line.contains(": FAILED ("), "{line}");
    assert!(
        line.contains("live tasks after the load settled"),
        "the leak is named: {line}"
    );
    // One task per request on most routes: far more than any slack.
    assert!(report.tasks_after > report.tasks_before + 1_000, "{line}");
}
