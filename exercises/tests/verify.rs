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

fn catalogue() -> exercises::cheats::Catalogue {
    exercises::cheats::Catalogue::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cheats.toml"),
    )
    .unwrap()
}

/// Every known cheat is rejected (`verify` prints `cheats: K rejected, 0 accepted`), the
/// catalogue has at least one per exercise, and each edits what the learner edits.
#[test]
fn every_known_cheat_is_rejected() {
    let manifest = manifest();
    let catalogue = catalogue();
    assert!(catalogue.cheats.len() >= 12);
    assert_eq!(
        exercises::cheats::exercises_without_cheats(&manifest, &catalogue),
        Vec::<u32>::new(),
        "every exercise has a known cheat"
    );
    for cheat in &catalogue.cheats {
        assert!(
            exercises::cheats::edits_the_right_files(&manifest, cheat),
            "{}",
            cheat.name
        );
    }
    let cargo = cargo();
    let scratch = cargo.root.join("target/exercises-check/cheats");
    let verdicts = exercises::cheats::run(&cargo, &manifest, &catalogue, &scratch).unwrap();
    for v in &verdicts {
        println!("{:02} {}: {}", v.cheat.exercise, v.cheat.name, v.detail);
    }
    assert_eq!(
        exercises::cheats::summary(&verdicts),
        format!("cheats: {} rejected, 0 accepted", verdicts.len())
    );
    assert!(exercises::cheats::all_rejected(&verdicts));
}

/// A cheat the check lets through is reported as accepted, and fails `verify`. (The
/// "cheat" here is exercise 5's real fix: of course the check accepts it.) A cheat that no
/// longer applies is reported too.
#[test]
fn an_accepted_cheat_and_a_stale_one_are_reported() {
    let manifest = manifest();
    let catalogue: exercises::cheats::Catalogue = toml::from_str(
        r#"
[[cheats]]
exercise = 5
name = "the real fix, posing as a cheat"
breaks = "nothing"
[[cheats.edits]]
file = "src/lib.rs"
find = "    tokio::spawn(async move {"
replace = "    let _heartbeat = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {"
[[cheats.edits]]
file = "src/lib.rs"
find = """
            beats.fetch_add(1, Ordering::Relaxed);
        }
    });"""
replace = """
            beats.fetch_add(1, Ordering::Relaxed);
        }
    }));"""

[[cheats]]
exercise = 5
name = "an edit whose text is gone"
breaks = "nothing"
[[cheats.edits]]
file = "src/lib.rs"
find = "this text is not in the exercise"
replace = ""
"#,
    )
    .unwrap();
    let cargo = cargo();
    let scratch = cargo.root.join("target/exercises-check/cheats-accepted");
    let verdicts = exercises::cheats::run(&cargo, &manifest, &catalogue, &scratch).unwrap();
    assert!(verdicts[0].accepted, "{}", verdicts[0].detail);
    assert!(
        verdicts[1].detail.starts_with("could not be applied"),
        "{}",
        verdicts[1].detail
    );
    assert_eq!(
        exercises::cheats::summary(&verdicts),
        "cheats: 0 rejected, 1 accepted, 1 could not be applied"
    );
    assert!(!exercises::cheats::all_rejected(&verdicts));
}
