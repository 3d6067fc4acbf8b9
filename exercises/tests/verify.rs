//! The checker's own tests: `verify` passes on the real exercises, and catches a broken
//! one. They run cargo, so they use a target directory of their own
//! (`target/exercises-check`): the outer `cargo test` holds a lock on `target/`.

use std::path::PathBuf;

use exercises::{Cargo, Manifest, Mode, summary, verify};

fn cargo() -> Cargo {
    let mut cargo = Cargo::at(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf(),
    );
    cargo.target_dir = Some(
        std::env::var_os("EXERCISES_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| cargo.root.join("target/exercises-check")),
    );
    cargo
}

fn manifest() -> Manifest {
    Manifest::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("info.toml")).unwrap()
}

/// Every exercise fails its leak test because of the leak, and every solution passes
/// the same test: `cargo run -p exercises -- verify`, in the workspace's test command.
#[test]
fn every_exercise_fails_because_of_its_leak_and_every_solution_passes() {
    let manifest = manifest();
    assert!(
        manifest.exercises.len() >= 10,
        "the workshop has at least 10 exercises"
    );
    let verdicts = verify(&cargo(), &manifest).unwrap();
    for v in &verdicts {
        println!(
            "{} {}: {}",
            if v.ok { "✓" } else { "✗" },
            v.exercise.dir,
            v.detail
        );
    }
    let line = summary(&verdicts);
    println!("{line}");
    assert_eq!(
        line,
        format!("exercises: {} passed, 0 failed", verdicts.len())
    );
}

/// `verify` reports a solution whose fix was removed, and an exercise that fails for
/// another reason than its leak.
#[test]
fn verify_reports_a_broken_solution_and_a_wrong_failure() {
    let five = manifest()
        .exercises
        .into_iter()
        .find(|e| e.dir == "05_sleep_loop")
        .unwrap();
    assert_eq!(five.mode, Mode::FixTheLeak);
    let mut broken_solution = five.clone();
    broken_solution.solution_package = Some("fixture-broken-solution".into());
    let mut wrong_failure = five.clone();
    wrong_failure.exercise_package = Some("fixture-wrong-failure".into());
    let manifest = Manifest {
        exercises: vec![five, broken_solution, wrong_failure],
    };
    let verdicts = verify(&cargo(), &manifest).unwrap();
    assert!(verdicts[0].ok, "{}", verdicts[0].detail);
    assert!(!verdicts[1].ok);
    assert_eq!(
        verdicts[1].detail,
        "exercise fails with the leak check's report; solution fails with the leak check's report"
    );
    assert!(!verdicts[2].ok);
    assert!(
        verdicts[2].detail.starts_with(
            "exercise fails for another reason than a leak: the_heartbeat_stops_with_the_work"
        ),
        "{}",
        verdicts[2].detail
    );
    assert_eq!(summary(&verdicts), "exercises: 1 passed, 2 failed");
}
