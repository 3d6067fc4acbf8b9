//! The Prometheus alert rules in `leak-probe/prometheus/` are valid and do what their
//! unit tests say (`promtool test rules`): the leak alert fires for a leaking server and
//! stays silent for ordinary load. Without promtool these tests skip loudly; with
//! `REQUIRE_PROMTOOL=1` (CI sets it) a missing promtool fails them.

use std::path::PathBuf;
use std::process::Command;

fn promtool(args: &[&str]) -> Option<std::process::Output> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("prometheus");
    match Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
    {
        Ok(out) => Some(out),
        Err(e) => {
            let required = std::env::var_os("REQUIRE_PROMTOOL").is_some_and(|v| v == "1");
            assert!(!required, "REQUIRE_PROMTOOL=1 but promtool cannot run: {e}");
            eprintln!(
                "\n*** SKIPPED promtool {args:?}: promtool not found ({e}); apt-get install prometheus ***\n"
            );
            None
        }
    }
}

fn assert_success(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `promtool check rules` and `promtool check config` accept the files.
#[test]
fn rules_and_config_are_valid() {
    if let Some(out) = promtool(&["check", "rules", "rules.yml"]) {
        assert_success(out, "promtool check rules");
    }
    if let Some(out) = promtool(&["check", "config", "prometheus.yml"]) {
        assert_success(out, "promtool check config");
    }
}

/// The rule's unit tests pass: fires for a steady leak, silent for bursts and a load
/// step.
#[test]
fn the_leak_alert_fires_on_leaks_and_not_on_load() {
    if let Some(out) = promtool(&["test", "rules", "rules_test.yml"]) {
        assert_success(out, "promtool test rules");
    }
}
