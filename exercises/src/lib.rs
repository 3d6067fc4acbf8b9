//! # The workshop checker
//!
//! Every exercise is a crate under `exercises/NN_slug/` whose leak test
//! (`tests/leak.rs`) fails until the learner fixes the leak; its solution, under
//! `exercises/solutions/NN_slug/`, compiles *the same test file* and passes it.
//! `info.toml` lists them in teaching order, with a hint each.
//!
//! The checker runs those tests through `cargo test -p <package> --test leak` and reads
//! the outcome: passed, failed **because of the leak** (every failing test's message is
//! the leak check's), or failed for another reason (a compile error, another panic). See
//! `exercises/README.md` for the learner's and instructor's guide.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

pub mod cheats;

/// The manifest, `exercises/info.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// In teaching order.
    pub exercises: Vec<Exercise>,
}

/// How an exercise is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The exercise's code leaks; its leak test fails until the code is fixed.
    FixTheLeak,
    /// The code is given (a leaky and a fixed version, chosen by the `leaky` feature);
    /// the learner writes the leak test. Solved when the test fails on the leaky version
    /// because of the leak, and passes on the fixed one.
    WriteTheTest,
}

/// One exercise.
#[derive(Debug, Clone, Deserialize)]
pub struct Exercise {
    /// Short name (`count_tasks`).
    pub name: String,
    /// Folder under `exercises/` (`01_count_tasks`); the solution is in
    /// `exercises/solutions/<dir>`.
    pub dir: String,
    /// How it is judged.
    pub mode: Mode,
    /// About how long it takes, in minutes.
    pub minutes: u32,
    /// What it teaches, in one line.
    pub teaches: String,
    /// A pointer to the docs that help, not the answer.
    pub hint: String,
    /// Override of the exercise's package name (tests of the checker itself).
    #[serde(default)]
    pub exercise_package: Option<String>,
    /// Override of the solution's package name (tests of the checker itself).
    #[serde(default)]
    pub solution_package: Option<String>,
    /// The fingerprint of what the learner must not change: the test (for a fix-the-leak
    /// exercise) and the `// SIMULATION` regions of its code. See [`fingerprint`].
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Where the exercise's crate is, if not `exercises/<dir>` (scratch copies).
    #[serde(skip)]
    pub crate_dir: Option<PathBuf>,
}

impl Exercise {
    /// The number in the folder name.
    pub fn number(&self) -> u32 {
        self.dir
            .split('_')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// The exercise's package: `01_count_tasks` -> `ex01-count-tasks`.
    pub fn package(&self) -> String {
        self.exercise_package
            .clone()
            .unwrap_or_else(|| format!("ex{}", self.dir.replace('_', "-")))
    }

    /// The exercise's crate folder in the workspace at `root`.
    pub fn crate_dir(&self, root: &Path) -> PathBuf {
        self.crate_dir
            .clone()
            .unwrap_or_else(|| root.join("exercises").join(&self.dir))
    }

    /// The solution's package: `sol01-count-tasks`.
    pub fn solution(&self) -> String {
        self.solution_package
            .clone()
            .unwrap_or_else(|| format!("sol{}", self.dir.replace('_', "-")))
    }
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| format!("{} is not valid: {e}", path.display()))?;
        if manifest.exercises.is_empty() {
            return Err(format!("{} lists no exercise", path.display()));
        }
        Ok(manifest)
    }

    /// The exercise numbered `n`.
    pub fn get(&self, n: u32) -> Result<&Exercise, String> {
        self.exercises
            .iter()
            .find(|e| e.number() == n)
            .ok_or_else(|| {
                format!(
                    "there is no exercise {n}; they are numbered {}..={} (see `list`)",
                    self.exercises
                        .iter()
                        .map(Exercise::number)
                        .min()
                        .unwrap_or(0),
                    self.exercises
                        .iter()
                        .map(Exercise::number)
                        .max()
                        .unwrap_or(0)
                )
            })
    }
}

/// The outcome of one test run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every test passed.
    Passed,
    /// Tests failed, every one of them with the leak check's message.
    Leaked,
    /// It did not compile, or a test failed for another reason.
    Broken(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Passed => f.write_str("passes"),
            Outcome::Leaked => f.write_str("fails with the leak check's report"),
            Outcome::Broken(why) => f.write_str(why),
        }
    }
}

/// Where and how to run cargo.
#[derive(Debug, Clone)]
pub struct Cargo {
    /// The workspace root.
    pub root: PathBuf,
    /// A target directory of its own, if set (needed when running inside `cargo test`,
    /// whose own target directory is locked).
    pub target_dir: Option<PathBuf>,
}

/// The workspace holding `start` (a folder): the nearest one at or above it with an
/// `exercises/info.toml`.
///
/// Found at run time, from where the checker is run, not baked in when it was built: a
/// checker binary (or `target/` folder) copied along with the workshop folder must check
/// the copy it runs in, not the folder it was built in.
pub fn find_workspace(start: &Path) -> Result<PathBuf, String> {
    start
        .ancestors()
        .find(|dir| dir.join("exercises").join("info.toml").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            format!(
                "no exercises/info.toml in {} or any folder above it: run the checker inside the workshop's folder (or give --workspace)",
                start.display()
            )
        })
}

impl Cargo {
    /// The workspace the checker is run in (see [`find_workspace`]).
    pub fn here() -> Result<Cargo, String> {
        let cwd =
            std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
        Ok(Cargo::at(find_workspace(&cwd)?))
    }

    /// The workspace at `root`.
    pub fn at(root: PathBuf) -> Cargo {
        Cargo {
            root,
            target_dir: std::env::var_os("EXERCISES_TARGET_DIR").map(PathBuf::from),
        }
    }

    /// Where the exercises' manifest is.
    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("exercises").join("info.toml")
    }

    fn command(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root);
        if let Some(dir) = &self.target_dir {
            cmd.env("CARGO_TARGET_DIR", dir);
        }
        // A learner's code compiles with warnings: `-D warnings` in the caller's RUSTFLAGS
        // (CI's pass without tokio_unstable) must not make an exercise or a cheat "not
        // compile". Lints stay warnings, whatever the flags say.
        if let Some(flags) = std::env::var_os("RUSTFLAGS") {
            let mut flags = flags;
            flags.push(" --cap-lints=warn");
            cmd.env("RUSTFLAGS", flags);
        }
        cmd
    }

    /// Builds the leak tests of `packages` in one go (later runs only run them).
    pub fn build(&self, packages: &[String]) -> Result<(), String> {
        let mut cmd = self.command();
        cmd.args(["test", "--no-run", "--quiet", "--test", "leak"]);
        for p in packages {
            cmd.args(["-p", p]);
        }
        let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs the leak test of `package` (with the `leaky` feature if asked); returns the
    /// outcome and everything it printed.
    pub fn leak_test(&self, package: &str, leaky: bool) -> (Outcome, String) {
        let (outcome, output, _) = self.leak_test_recorded(package, leaky);
        (outcome, output)
    }

    /// [`Cargo::leak_test`], with the lines every failed `LeakCheck` of the run recorded
    /// (leak-probe's `LEAK_PROBE_FAILURES`): proof that a test failed *through* the leak
    /// check, not with a panic that merely looks like its message.
    pub fn leak_test_recorded(&self, package: &str, leaky: bool) -> (Outcome, String, Vec<String>) {
        static RUN: AtomicU64 = AtomicU64::new(0);
        let record = std::env::temp_dir().join(format!(
            "exercises-leak-record-{}-{}",
            std::process::id(),
            RUN.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&record);
        let (outcome, output) = self.run_leak_test(package, leaky, &record);
        let lines = std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        let _ = std::fs::remove_file(&record);
        (outcome, output, lines)
    }

    fn run_leak_test(&self, package: &str, leaky: bool, record: &Path) -> (Outcome, String) {
        let mut cmd = self.command();
        cmd.env("LEAK_PROBE_FAILURES", record);
        cmd.args([
            "test", "--quiet", "--color", "never", "-p", package, "--test", "leak",
        ]);
        if leaky {
            cmd.args(["--features", "leaky"]);
        }
        // Backtraces would bury the leak report.
        cmd.env("RUST_BACKTRACE", "0");
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) => {
                return (
                    Outcome::Broken(format!("cannot run cargo: {e}")),
                    String::new(),
                );
            }
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let outcome = if out.status.success() {
            Outcome::Passed
        } else {
            judge_failure(&text)
        };
        (outcome, text)
    }
}

/// Why a test run failed: the leak (every failing test's output has the leak check's
/// message), or something else.
pub fn judge_failure(output: &str) -> Outcome {
    if output.contains("error[E") || output.contains("could not compile") {
        return Outcome::Broken("does not compile".into());
    }
    let mut failures = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in output.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|rest| rest.strip_suffix(" stdout ----"))
        {
            failures.extend(current.take());
            current = Some((name.to_owned(), String::new()));
        } else if line == "failures:" || line.starts_with("test result:") {
            failures.extend(current.take());
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    failures.extend(current);
    if failures.is_empty() {
        return Outcome::Broken("failed without a test failure (a crash or a build error?)".into());
    }
    let other: Vec<&str> = failures
        .iter()
        .filter(|(_, text)| !text.contains("leak check failed"))
        .map(|(name, _)| name.as_str())
        .collect();
    if other.is_empty() {
        Outcome::Leaked
    } else {
        Outcome::Broken(format!(
            "fails for another reason than a leak: {}",
            other.join(", ")
        ))
    }
}

/// A 64-bit FNV-1a hash of what a learner must leave as it is: for a fix-the-leak
/// exercise, `tests/leak.rs` and every `// SIMULATION` ... `// END SIMULATION` region of
/// `src/`; for a write-the-test exercise, all of `src/`. Not a defence against someone determined; a clear "you changed the test" for
/// someone in a hurry.
pub fn fingerprint(crate_dir: &Path, mode: Mode) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    if mode == Mode::FixTheLeak {
        feed(&std::fs::read(crate_dir.join("tests/leak.rs")).unwrap_or_default());
    }
    let mut sources: Vec<PathBuf> = std::fs::read_dir(crate_dir.join("src"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    sources.sort();
    for path in sources {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        // A write-the-test exercise's code is all given: every line counts.
        let mut inside = mode == Mode::WriteTheTest;
        for line in text.lines() {
            if line.trim_start().starts_with("// SIMULATION") {
                inside = true;
            }
            if inside {
                feed(line.trim_end().as_bytes());
                feed(b"\n");
            }
            if line.trim_start().starts_with("// END SIMULATION") {
                inside = false;
            }
        }
    }
    format!("{hash:016x}")
}

/// Whether the learner left the test and the simulations as they were.
fn untouched(cargo: &Cargo, exercise: &Exercise) -> Result<(), String> {
    let Some(expected) = &exercise.fingerprint else {
        return Ok(());
    };
    let dir = exercise.crate_dir(&cargo.root);
    if &fingerprint(&dir, exercise.mode) == expected {
        return Ok(());
    }
    Err(match exercise.mode {
        Mode::FixTheLeak => format!(
            "tests/leak.rs or a `// SIMULATION` region was changed: they are what the exercise is \
             judged against. Restore them (git diff {0}) and fix the code around them",
            dir.display()
        ),
        Mode::WriteTheTest => format!(
            "the bus (src/) was changed: write the test, not the code (git diff {})",
            dir.display()
        ),
    })
}

/// What a write-the-test exercise's test may not do: know which version it runs against,
/// or tell the leak check to look away.
fn test_rules(cargo: &Cargo, exercise: &Exercise) -> Result<(), String> {
    if exercise.mode != Mode::WriteTheTest {
        return Ok(());
    }
    let test = std::fs::read_to_string(exercise.crate_dir(&cargo.root).join("tests/leak.rs"))
        .unwrap_or_default();
    for (pattern, why) in [
        (
            "feature",
            "the test must not know which version it runs against (no `feature` in it)",
        ),
        (
            "ignore_spawn_site",
            "the test must not tell the leak check to ignore tasks",
        ),
        (
            "expect_leaked",
            "the test must expect no leak (no `expect_leaked`)",
        ),
    ] {
        if test.contains(pattern) {
            return Err(format!("{why}: `{pattern}` in tests/leak.rs"));
        }
    }
    Ok(())
}

/// A write-the-test run on the leaky version counts as caught by the leak check only if
/// `LeakCheck` itself recorded the failure, and (when it knows spawn sites) named the
/// leaky code's spawn in `src/leaky.rs`.
fn through_the_leak_check(outcome: Outcome, record: &[String]) -> Outcome {
    if outcome != Outcome::Leaked {
        return outcome;
    }
    if record.is_empty() {
        return Outcome::Broken(
            "fails with the leak check's words, but no LeakCheck failed: use \
             leak_probe::LeakCheck"
                .into(),
        );
    }
    let knows_sites = record.iter().any(|l| !l.trim_end().ends_with(" at"));
    if knows_sites && !record.iter().any(|l| l.contains("src/leaky.rs")) {
        return Outcome::Broken(format!(
            "fails through a leak check, but not on the leaky code's tasks: {}",
            record.join("; ")
        ));
    }
    Outcome::Leaked
}

/// Whether the learner's working copy of `exercise` is solved, with the test output.
pub fn check(cargo: &Cargo, exercise: &Exercise) -> (bool, Outcome, String) {
    if let Err(why) = untouched(cargo, exercise).and_then(|()| test_rules(cargo, exercise)) {
        return (false, Outcome::Broken(why), String::new());
    }
    match exercise.mode {
        Mode::FixTheLeak => {
            let (outcome, output) = cargo.leak_test(&exercise.package(), false);
            (outcome == Outcome::Passed, outcome, output)
        }
        Mode::WriteTheTest => {
            let (on_leaky, leaky_out, record) = cargo.leak_test_recorded(&exercise.package(), true);
            let on_leaky = through_the_leak_check(on_leaky, &record);
            if on_leaky != Outcome::Leaked {
                let why = match on_leaky {
                    Outcome::Passed => {
                        "your test passes on the leaky version: it does not catch the leak yet"
                            .to_owned()
                    }
                    other => format!("on the leaky version your test {other}"),
                };
                return (false, Outcome::Broken(why), leaky_out);
            }
            let (on_fixed, fixed_out) = cargo.leak_test(&exercise.package(), false);
            let output = format!("{leaky_out}\n--- on the fixed version ---\n{fixed_out}");
            if on_fixed == Outcome::Passed {
                (true, Outcome::Passed, output)
            } else {
                (
                    false,
                    Outcome::Broken(format!("on the fixed version your test {on_fixed}")),
                    output,
                )
            }
        }
    }
}

/// One line of `verify`.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The exercise.
    pub exercise: Exercise,
    /// Whether the exercise and its solution behave as they must.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

/// Checks every exercise fails *because of its leak* (or, for a write-the-test exercise,
/// that the starting test does not catch the leak) and every solution passes.
pub fn verify(cargo: &Cargo, manifest: &Manifest) -> Result<Vec<Verdict>, String> {
    let packages: Vec<String> = manifest
        .exercises
        .iter()
        .flat_map(|e| [e.package(), e.solution()])
        .collect();
    cargo.build(&packages)?;
    let mut verdicts = Vec::new();
    for exercise in &manifest.exercises {
        let now = fingerprint(&exercise.crate_dir(&cargo.root), exercise.mode);
        if exercise.fingerprint.as_deref() != Some(now.as_str()) {
            verdicts.push(Verdict {
                exercise: exercise.clone(),
                ok: false,
                detail: format!(
                    "its test or simulation changed: set `fingerprint = \"{now}\"` in info.toml \
                     (was {:?}) once the change is meant",
                    exercise.fingerprint
                ),
            });
            continue;
        }
        let (ok, detail) = match exercise.mode {
            Mode::FixTheLeak => {
                let (unsolved, _) = cargo.leak_test(&exercise.package(), false);
                let (solved, _) = cargo.leak_test(&exercise.solution(), false);
                (
                    unsolved == Outcome::Leaked && solved == Outcome::Passed,
                    format!("exercise {unsolved}; solution {solved}"),
                )
            }
            Mode::WriteTheTest => {
                let (unsolved, _) = cargo.leak_test(&exercise.package(), true);
                let (solved_leaky, _, record) =
                    cargo.leak_test_recorded(&exercise.solution(), true);
                let solved_leaky = through_the_leak_check(solved_leaky, &record);
                let (solved_fixed, _) = cargo.leak_test(&exercise.solution(), false);
                (
                    unsolved == Outcome::Passed
                        && solved_leaky == Outcome::Leaked
                        && solved_fixed == Outcome::Passed,
                    format!(
                        "starting test on the leaky version {unsolved} (misses the leak); \
                         solution's test on the leaky version {solved_leaky}, on the fixed one {solved_fixed}"
                    ),
                )
            }
        };
        verdicts.push(Verdict {
            exercise: exercise.clone(),
            ok,
            detail,
        });
    }
    Ok(verdicts)
}

/// `exercises: N passed, M failed`.
pub fn summary(verdicts: &[Verdict]) -> String {
    let passed = verdicts.iter().filter(|v| v.ok).count();
    format!(
        "exercises: {passed} passed, {} failed",
        verdicts.len() - passed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_follow_the_folders() {
        let e = Exercise {
            name: "count_tasks".into(),
            dir: "01_count_tasks".into(),
            mode: Mode::FixTheLeak,
            minutes: 10,
            teaches: String::new(),
            hint: String::new(),
            exercise_package: None,
            solution_package: None,
            fingerprint: None,
            crate_dir: None,
        };
        assert_eq!(e.number(), 1);
        assert_eq!(e.package(), "ex01-count-tasks");
        assert_eq!(e.solution(), "sol01-count-tasks");
    }

    #[test]
    fn a_failure_is_a_leak_only_if_every_failing_test_says_so() {
        let leak = "running 1 test\ntest t ... FAILED\n\nfailures:\n\n---- t stdout ----\n\nthread 't' panicked at tests/leak.rs:9:5:\nleak check failed: 1 task(s)\n\nfailures:\n    t\n\ntest result: FAILED. 0 passed; 1 failed";
        assert_eq!(judge_failure(leak), Outcome::Leaked);
        let other = leak.replace("leak check failed", "assertion `left == right` failed");
        assert_eq!(
            judge_failure(&other),
            Outcome::Broken("fails for another reason than a leak: t".into())
        );
        let build = "error[E0425]: cannot find value `x`\nerror: could not compile `ex01`";
        assert_eq!(
            judge_failure(build),
            Outcome::Broken("does not compile".into())
        );
    }

    /// The checker checks the folder it runs in: a copied workshop folder is found from
    /// inside it, whatever folder the checker was built in.
    #[test]
    fn the_workspace_is_found_from_where_the_checker_runs() {
        let base = std::env::temp_dir().join(format!("ex-find-{}", std::process::id()));
        let copy = base.join("copy");
        std::fs::create_dir_all(copy.join("exercises/05_sleep_loop/src")).unwrap();
        std::fs::write(copy.join("exercises/info.toml"), "").unwrap();
        assert_eq!(find_workspace(&copy).unwrap(), copy);
        assert_eq!(
            find_workspace(&copy.join("exercises/05_sleep_loop/src")).unwrap(),
            copy
        );
        let elsewhere = base.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let err = find_workspace(&elsewhere).unwrap_err();
        assert!(err.contains("no exercises/info.toml"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
