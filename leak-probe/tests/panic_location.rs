//! A failed leak check panics at the line of the test that called it, not somewhere inside
//! leak-probe (leaktest's failures point into leaktest itself).
//!
//! Alone in its own test binary because it installs a panic hook, which is process-wide.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The panic's location is the `run` call in the test.
#[test]
fn a_failed_check_panics_at_the_callers_line() {
    let seen: Arc<Mutex<Option<(String, u32)>>> = Arc::default();
    let hook_seen = Arc::clone(&seen);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(location) = info.location() {
            *hook_seen.lock().unwrap() = Some((location.file().to_owned(), location.line()));
        }
    }));

    let expected_line = line!() + 4; // the `.run(` line below
    let result = std::panic::catch_unwind(|| {
        leak_probe::LeakCheck::new()
            .settle(Duration::from_millis(100))
            .run(|| async {
                tokio::spawn(std::future::pending::<()>());
            })
    });
    std::panic::set_hook(previous);

    assert!(result.is_err(), "the leak should make the check panic");
    let (file, line) = seen.lock().unwrap().clone().expect("a panic location");
    assert!(
        file.ends_with("tests/panic_location.rs"),
        "panicked in {file}"
    );
    assert_eq!(line, expected_line);
}
